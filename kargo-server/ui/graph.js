// The pipeline graph: Warehouses and Stages left to right along their
// Freight's sources. Only the nodes and edges in view are in the page, so a
// project of thousands of Stages scrolls as one of three. Arrow keys move
// between nodes: left and right along the edges, up and down in a column.

import { h, s, fill, when, pullRequestLink } from './dom.js';
import {
  NODE, layout, shapeOf, condition, currentFreight, versions, verification,
  currentStep, failedStep, pullRequest, stageHealth, failedPhase, freightLabel, abortRequest, verificationFailed,
} from './model.js';
import * as actions from './actions.js';

/** How far beyond the visible area nodes are drawn, in pixels. */
const MARGIN = 400;

const enc = encodeURIComponent;

export class Graph {
  constructor(project, store) {
    this.project = project;
    this.store = store;
    this.shape = '';
    this.layout = null;
    this.highlight = '';
    this.edges = s('svg', { class: 'edges', 'aria-hidden': 'true' });
    this.nodes = h('div', { class: 'nodes' });
    this.canvas = h('div', { class: 'canvas' }, this.edges, this.nodes);
    this.el = h('div', {
      class: 'graph', role: 'region', 'aria-label': 'Pipeline graph: arrow keys move between nodes',
      'data-test': 'graph',
    }, this.canvas);
    let queued = false;
    this.el.addEventListener('scroll', () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        this.draw();
      });
    }, { passive: true });
    this.el.addEventListener('keydown', (e) => this.onKey(e));
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(this.el);
  }

  /** Called when the store changed. */
  update() {
    const stages = [...this.store.map('stages').values()];
    const warehouses = [...this.store.map('warehouses').values()];
    const shape = shapeOf(stages, warehouses);
    if (shape !== this.shape) {
      this.shape = shape;
      this.layout = layout(stages, warehouses);
      this.canvas.style.width = `${this.layout.width}px`;
      this.canvas.style.height = `${this.layout.height}px`;
      this.edges.setAttribute('width', this.layout.width);
      this.edges.setAttribute('height', this.layout.height);
    }
    this.draw();
  }

  /** Stage names in the graph's order (column, then row). */
  order() {
    if (!this.layout) return [];
    return [...this.layout.nodes.values()].filter((n) => n.kind === 'Stage')
      .sort((a, b) => a.col - b.col || a.row - b.row).map((n) => n.name);
  }

  /** The number of Stages. */
  count() {
    return this.layout ? [...this.layout.nodes.values()].filter((n) => n.kind === 'Stage').length : 0;
  }

  /** Draws the nodes and edges in view. */
  draw() {
    if (!this.layout) return;
    const view = {
      left: this.el.scrollLeft - MARGIN,
      top: this.el.scrollTop - MARGIN,
      right: this.el.scrollLeft + this.el.clientWidth + MARGIN,
      bottom: this.el.scrollTop + this.el.clientHeight + MARGIN,
    };
    const visible = (x1, y1, x2, y2) => x2 >= view.left && x1 <= view.right && y2 >= view.top && y1 <= view.bottom;
    const shown = [];
    for (const node of this.layout.nodes.values()) {
      if (visible(node.x, node.y, node.x + NODE.width, node.y + NODE.height)) shown.push(node);
    }
    const paths = [];
    for (const { from, to } of this.layout.edges) {
      const x1 = from.x + NODE.width;
      const y1 = from.y + NODE.height / 2;
      const x2 = to.x;
      const y2 = to.y + NODE.height / 2;
      if (!visible(Math.min(x1, x2), Math.min(y1, y2), Math.max(x1, x2), Math.max(y1, y2))) continue;
      const mid = (x1 + x2) / 2;
      const running = to.kind === 'Stage' && this.store.map('stages').get(to.name)?.status?.currentPromotion;
      paths.push(s('path', { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, class: running ? 'edge running' : 'edge' }));
    }
    this.edges.replaceChildren(...paths);
    fill(this.nodes, shown.map((node) => this.card(node)));
  }

  card(node) {
    const style = { left: `${node.x}px`, top: `${node.y}px`, width: `${NODE.width}px`, height: `${NODE.height}px` };
    const matched = this.highlight && node.name.toLowerCase().includes(this.highlight);
    if (node.kind === 'Warehouse') {
      const w = this.store.map('warehouses').get(node.name);
      return warehouseCard(this.project, w, node, style, matched);
    }
    const stage = this.store.map('stages').get(node.name);
    return stageCard(this.project, stage, node, style, matched, this.store);
  }

  /** Scrolls `node` into view and focuses it. */
  focus(node) {
    const el = this.el;
    if (node.x < el.scrollLeft || node.x + NODE.width > el.scrollLeft + el.clientWidth) {
      el.scrollLeft = Math.max(0, node.x - (el.clientWidth - NODE.width) / 2);
    }
    if (node.y < el.scrollTop || node.y + NODE.height > el.scrollTop + el.clientHeight) {
      el.scrollTop = Math.max(0, node.y - (el.clientHeight - NODE.height) / 2);
    }
    this.draw();
    this.nodes.querySelector(`[data-key="${CSS.escape(node.key)}"]`)?.focus();
  }

  /** Highlights the Stages whose name contains `text`; focuses the first. */
  find(text) {
    this.highlight = text.trim().toLowerCase();
    if (!this.layout) return false;
    const first = this.highlight && [...this.layout.nodes.values()]
      .filter((n) => n.name.toLowerCase().includes(this.highlight))
      .sort((a, b) => a.col - b.col || a.row - b.row)[0];
    if (first) this.focus(first);
    else this.draw();
    return Boolean(first);
  }

  onKey(e) {
    const key = e.target.closest?.('[data-key]')?.dataset.key;
    const node = key && this.layout?.nodes.get(key);
    if (!node) return;
    const column = this.layout.columns[node.col];
    const next = {
      ArrowRight: node.downs[0],
      ArrowLeft: node.ups[0],
      ArrowDown: column[node.row + 1],
      ArrowUp: column[node.row - 1],
    }[e.key];
    if (!next) return;
    e.preventDefault();
    this.focus(next);
  }

  destroy() {
    this.resize.disconnect();
  }
}

function button(label, onclick, test) {
  return h('button', { type: 'button', class: 'small', onclick, 'data-test': test }, label);
}

function warehouseCard(project, w, node, style, matched) {
  const ready = condition(w, 'Ready');
  const failed = ready && ready.status === 'False' && ready.reason !== 'Pending';
  const subs = (w?.spec?.subscriptions || []).map((sub) => {
    // A subscription's kind is its one key besides `name`; a generic
    // one (`oci`, custom kinds) keeps its repository under `config`.
    const [kind, spec] = Object.entries(sub).find(([key]) => key !== 'name') || [];
    const url = spec?.repoURL || spec?.config?.repoURL || '';
    return h('li', { title: url }, h('span', { class: 'kind' }, kind), ' ', url.replace(/^.*\//, ''));
  });
  return h('article', {
    class: ['node', 'warehouse', failed ? 'health-failed' : 'health-ok', matched && 'matched'], style,
    'data-node': node.key, 'data-test': `node-${node.key}`,
  },
  h('header', {}, h('span', { class: 'tag' }, 'Warehouse'),
    h('a', { href: `/project/${enc(project)}/warehouse/${enc(node.name)}`, 'data-key': node.key, class: 'title' }, node.name)),
  h('ul', { class: 'subs' }, subs.slice(0, 3)),
  h('p', { class: failed ? 'failure' : 'muted' }, failed ? ready.message : (w?.status?.discoveredArtifacts?.discoveredAt ? ['Discovered ', when(w.status.discoveredArtifacts.discoveredAt)] : ready?.message || '')),
  actions.mayAct() ? h('div', { class: 'actions' }, button('Refresh', () => actions.refreshWarehouse(project, node.name), 'refresh')) : null);
}

function stageCard(project, stage, node, style, matched, store) {
  const promotions = store.map('promotions');
  const health = stageHealth(stage, promotions);
  const freight = currentFreight(stage);
  const running = stage?.status?.currentPromotion;
  const last = stage?.status?.lastPromotion;
  const runningObject = running && promotions.get(running.name);
  const lastObject = last && promotions.get(last.name);
  const v = verification(stage);
  const freightLine = freight.length
    ? freight.map((f) => {
      const full = store.map('freight').get(f.name);
      const lines = versions(f);
      return h('div', { class: 'freight' },
        h('a', { href: `/project/${enc(project)}/freight/${enc(f.name)}`, class: 'alias', 'data-test': 'freight' }, freightLabel(full || f)),
        ' ', lines.slice(0, 2).map((l) => h('span', { class: 'version', title: `${l.kind} ${l.full}` }, `${l.repo}:${l.version}`)),
        lines.length > 2 ? h('span', { class: 'muted' }, ` +${lines.length - 2}`) : null);
    })
    : h('div', { class: 'freight muted' }, 'No Freight yet');
  let promotionLine = null;
  if (running) {
    const phase = runningObject?.status?.phase || 'Running';
    const step = currentStep(runningObject);
    const target = store.map('freight').get(running.freight?.name) || running.freight;
    promotionLine = h('div', { class: 'promotion running', 'data-test': 'promotion' },
      h('span', { class: 'spinner', 'aria-hidden': 'true' }),
      h('a', { href: `/project/${enc(project)}/promotion/${enc(running.name)}` }, phase),
      target ? ` ${freightLabel(target)}` : '',
      step.count ? ` · step ${step.index + 1}/${step.count} ${step.alias}` : '',
      abortRequest(runningObject) ? h('span', { class: 'aborting', 'data-test': 'aborting' }, ' · aborting') : null);
  } else if (last) {
    const phase = last.status?.phase || lastObject?.status?.phase || '';
    promotionLine = h('div', { class: ['promotion', `phase-${phase.toLowerCase()}`], 'data-test': 'promotion' },
      h('a', { href: `/project/${enc(project)}/promotion/${enc(last.name)}` }, phase || 'Promotion'),
      ' ', when(last.finishedAt || lastObject?.status?.finishedAt));
  }
  const verified = v ? h('div', { class: ['verification', `verify-${String(v.phase).toLowerCase()}`], 'data-test': 'verification' },
    'Verification ', h('strong', {}, v.phase)) : null;
  const pr = pullRequest(runningObject);
  // A failed promotion's step, or else a failed verification, says why.
  const failure = (!running && failedPhase(last?.status?.phase) ? failedStep(lastObject) || { message: last.status?.message } : null)
    || (!running && verificationFailed(v) && v.message ? { alias: 'verification', message: v.message } : null);
  const downstream = node.downs.filter((d) => d.kind === 'Stage').map((d) => d.name);
  const acts = [];
  if (actions.mayAct() && stage) {
    acts.push(button('Promote', () => actions.promote(project, node.name), 'promote'));
    if (freight.length && downstream.length) {
      const f = store.map('freight').get(freight[0].name) || freight[0];
      acts.push(button('Downstream', () => actions.promoteDownstream(project, node.name, f, downstream), 'downstream'));
    }
    if (freight.length && stage.spec?.verification) {
      acts.push(button('Reverify', () => actions.reverify(project, node.name), 'reverify'));
    }
  }
  return h('article', {
    class: ['node', 'stage', `health-${health}`, matched && 'matched'], style,
    'data-node': node.key, 'data-test': `node-${node.key}`,
  },
  h('header', {},
    h('a', { href: `/project/${enc(project)}/stage/${enc(node.name)}`, 'data-key': node.key, class: 'title' }, node.name),
    stage?.status?.autoPromotionEnabled ? h('span', { class: 'tag', title: 'Auto-promotion on' }, 'auto') : null),
  freightLine,
  promotionLine,
  verified,
  pr ? pullRequestLink(pr) : null,
  failure?.message ? h('p', { class: 'failure', title: failure.message, 'data-test': 'failure' }, failure.alias ? `${failure.alias}: ` : '', failure.message) : null,
  acts.length ? h('div', { class: 'actions' }, acts) : null);
}
