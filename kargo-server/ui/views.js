// The pages. Each view takes the route's parameters and the <main>
// element, draws itself from a live store, and returns {title, crumbs,
// store, destroy}.

import { h, fill, when, duration, pullRequestLink } from './dom.js';
import { get, login, signIn, signOut, publicConfig, session } from './api.js';
import { acquire, release } from './store.js';
import {
  nameOf, condition, currentFreight, versions, verification, currentStep, failedStep, abortRequest,
  pullRequest, redact, newestFirst, freightNewestFirst, freightLabel, finished, upstreams, stageHealth, layout,
} from './model.js';
import { Graph } from './graph.js';
import * as actions from './actions.js';

const enc = encodeURIComponent;
const projectUrl = (p) => `/project/${enc(p)}`;
const stageUrl = (p, s) => `${projectUrl(p)}/stage/${enc(s)}`;
const freightUrl = (p, f) => `${projectUrl(p)}/freight/${enc(f)}`;
const promotionUrl = (p, id) => `${projectUrl(p)}/promotion/${enc(id)}`;
const warehouseUrl = (p, w) => `${projectUrl(p)}/warehouse/${enc(w)}`;

/** How many rows a table shows per page. */
const PAGE = 20;

function phaseBadge(phase, test) {
  const p = phase || 'Pending';
  return h('span', { class: ['badge', `phase-${p.toLowerCase()}`], 'data-test': test }, p);
}

function section(title, ...children) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

function dl(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function versionList(freight) {
  const lines = versions(freight);
  if (!lines.length) return h('span', { class: 'muted' }, 'no artifacts');
  return h('ul', { class: 'versions' }, lines.map((l) => h('li', { title: l.full }, h('span', { class: 'kind' }, l.kind), ' ', `${l.repo}:${l.version}`)));
}

/** A store-driven view: draws now and after every change. */
function live(project, main, draw, kinds) {
  const store = acquire(project, kinds);
  const redraw = () => draw(store);
  const unsubscribe = store.subscribe(redraw);
  redraw();
  return {
    store,
    destroy() {
      unsubscribe();
      release(store);
    },
  };
}

/** What a store shows while it loads or when it failed. */
function notReady(store, kinds) {
  const error = kinds.map((k) => store.errors[k]).find(Boolean);
  if (error && error.status) return h('p', { class: 'error', role: 'alert' }, error.message);
  if (!kinds.every((k) => store.loaded[k])) return h('p', { class: 'loading' }, 'Loading…');
  return null;
}

/** A pager over `items`: returns [the page's items, its controls]. */
function paged(items, state, redraw, label) {
  const pages = Math.max(1, Math.ceil(items.length / PAGE));
  state.page = Math.min(state.page || 0, pages - 1);
  const slice = items.slice(state.page * PAGE, (state.page + 1) * PAGE);
  const controls = pages > 1 ? h('nav', { class: 'pager', 'aria-label': `${label} pages` },
    h('button', { type: 'button', disabled: state.page === 0, onclick: () => { state.page -= 1; redraw(); } }, '← Newer'),
    h('span', {}, `Page ${state.page + 1} of ${pages}`),
    h('button', { type: 'button', disabled: state.page >= pages - 1, onclick: () => { state.page += 1; redraw(); } }, 'Older →')) : null;
  return [slice, controls];
}

// ---------------------------------------------------------------- login

export function loginView(params, main, app) {
  const next = new URLSearchParams(location.search).get('next') || '/';
  const safeNext = next.startsWith('/') && !next.startsWith('//') ? next : '/';
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const done = (token) => {
    signIn(token);
    app.navigate(safeNext, { replace: true });
  };
  const tryToken = async (token) => {
    // A token is good when the API answers it.
    signIn(token);
    try {
      await get('/projects');
      done(token);
    } catch (e) {
      signOut();
      throw e;
    }
  };
  const form = (id, label, type, submit, run) => {
    const input = h('input', { id, name: id, type, required: true, autocomplete: type === 'password' ? 'current-password' : 'off', spellcheck: 'false' });
    return h('form', {
      class: 'login-form',
      onsubmit: async (e) => {
        e.preventDefault();
        error.hidden = true;
        try {
          await run(input.value);
        } catch (err) {
          error.textContent = err.status === 401 || err.status === 403 ? `${label} refused: ${err.message}` : err.message;
          error.hidden = false;
        }
      },
    }, h('label', { for: id }, label), input, h('button', { type: 'submit', class: 'primary' }, submit));
  };
  fill(main, h('div', { class: 'login' }, h('h1', {}, 'Sign in to Kargo'), h('p', { class: 'loading' }, 'Loading…')));
  publicConfig().then((config) => {
    if (config.skipAuth) {
      app.navigate(safeNext, { replace: true });
      return;
    }
    fill(main, h('div', { class: 'login' },
      h('h1', {}, 'Sign in to Kargo'),
      session.notice ? h('p', { class: 'notice', role: 'status', 'data-test': 'signed-out' }, session.notice) : null,
      config.adminAccountEnabled ? form('password', 'Admin password', 'password', 'Sign in as admin', async (pw) => done(await login(pw))) : null,
      config.adminAccountEnabled ? h('p', { class: 'or' }, 'or') : null,
      form('token', 'API token', 'password', 'Sign in with token', tryToken),
      error));
    main.querySelector('input')?.focus();
  }).catch((e) => fill(main, h('p', { class: 'error', role: 'alert' }, `The server does not answer: ${e.message}`)));
  return { title: 'Sign in', crumbs: [] };
}

// ------------------------------------------------------------- projects

/** How many projects are followed live on the list. */
const LIVE_PROJECTS = 4;

export function projectsView(params, main) {
  const filter = h('input', { id: 'project-filter', type: 'search', placeholder: 'name contains…' });
  const body = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
  fill(main, h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Projects'),
      h('div', { class: 'toolbar' }, h('label', { for: 'project-filter' }, 'Filter'), filter)),
    body));
  const stores = new Map();
  const unsubscribe = [];
  let projects = [];
  const draw = () => {
    const text = filter.value.trim().toLowerCase();
    const shown = projects.filter((p) => nameOf(p).toLowerCase().includes(text));
    if (!shown.length) {
      fill(body, h('p', { class: 'muted' }, projects.length ? 'No project matches.' : 'No project is served, or none is open to you.'));
      return;
    }
    fill(body, h('table', { class: 'table' },
      h('caption', { class: 'sr-only' }, 'Projects with their Stages and promotions'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Project'), h('th', { scope: 'col' }, 'Stages'),
        h('th', { scope: 'col' }, 'Promoting'), h('th', { scope: 'col' }, 'Failing'))),
      h('tbody', {}, shown.map((p) => {
        const name = nameOf(p);
        const store = stores.get(name);
        const stats = p.status?.stats?.stages || {};
        let count = stats.count ?? '';
        let promoting = '—';
        let failing = stats.health ? stats.health.unhealthy : '—';
        if (store?.loaded.stages) {
          const stages = [...store.map('stages').values()];
          count = stages.length;
          promoting = stages.filter((s) => s.status?.currentPromotion).length;
          failing = stages.filter((s) => stageHealth(s) === 'failed').length;
        }
        return h('tr', { 'data-test': `project-${name}` },
          h('th', { scope: 'row' }, h('a', { href: projectUrl(name), 'data-key': `project/${name}` }, name)),
          h('td', {}, String(count)),
          h('td', {}, h('span', { class: promoting > 0 ? 'badge phase-running' : '' }, String(promoting))),
          h('td', {}, h('span', { class: failing > 0 ? 'badge phase-failed' : '' }, String(failing))));
      }))));
  };
  filter.addEventListener('input', draw);
  get('/projects').then((body) => {
    projects = body.items || [];
    for (const p of projects.slice(0, LIVE_PROJECTS)) {
      const store = acquire(nameOf(p), ['stages']);
      unsubscribe.push(store.subscribe(draw));
      stores.set(nameOf(p), store);
    }
    draw();
  }).catch((e) => fill(body, h('p', { class: 'error', role: 'alert' }, e.message)));
  return {
    title: 'Projects',
    crumbs: [],
    destroy() {
      for (const stop of unsubscribe) stop();
      for (const store of stores.values()) release(store);
    },
  };
}

// -------------------------------------------------------------- project

/** A Freight on the freightline: where it is, was verified, is approved. */
function freightCard(project, f, rank) {
  const st = f.status || {};
  const ordered = (map) => Object.keys(map || {}).sort((a, b) => (rank.get(a) ?? 1e9) - (rank.get(b) ?? 1e9) || a.localeCompare(b));
  const marks = [];
  for (const s of ordered(st.currentlyIn)) marks.push(h('li', { class: 'mark in', title: `In ${s}` }, s));
  for (const s of ordered(st.verifiedIn)) {
    if (!(st.currentlyIn || {})[s]) marks.push(h('li', { class: 'mark verified', title: `Verified in ${s}` }, `✓ ${s}`));
  }
  for (const s of ordered(st.approvedFor)) marks.push(h('li', { class: 'mark approved', title: `Approved for ${s}` }, `★ ${s}`));
  const name = nameOf(f);
  return h('li', { class: 'freight-card', 'data-test': `freight-${f.alias || name}` },
    h('a', { href: freightUrl(project, name), 'data-key': `freight/${name}`, class: 'alias' }, freightLabel(f)),
    h('div', { class: 'origin muted' }, f.origin?.name ? `from ${f.origin.name}` : '', ' · ', when(f.discoveredAt)),
    versionList(f),
    marks.length ? h('ul', { class: 'marks', 'aria-label': 'Stages' }, marks.slice(0, 6), marks.length > 6 ? h('li', { class: 'mark' }, `+${marks.length - 6}`) : null) : null);
}

export function projectView(params, main, app) {
  const project = params.project;
  const finder = h('input', { id: 'stage-finder', type: 'search', placeholder: 'name contains…', 'aria-describedby': 'finder-help' });
  const count = h('span', { class: 'muted', 'data-test': 'stage-count' });
  const freightline = h('ol', { class: 'freightline', 'aria-label': 'Freight, newest first', 'data-test': 'freightline' });
  const pager = h('div', { class: 'freight-pager' });
  const message = h('div', {});
  const head = h('div', { class: 'page-head' },
    h('h1', {}, project),
    h('div', { class: 'toolbar' },
      count,
      h('label', { for: 'stage-finder' }, 'Find stage'), finder,
      h('span', { id: 'finder-help', class: 'sr-only' }, 'Enter moves to the first match; then arrow keys move between nodes.')));
  const state = { page: 0 };
  let graph = null;
  finder.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && graph) {
      e.preventDefault();
      if (!graph.find(finder.value)) actions.toast(`No Stage named like “${finder.value}”.`);
    }
  });
  finder.addEventListener('input', () => graph && (graph.highlight = finder.value.trim().toLowerCase(), graph.draw()));
  fill(main, h('div', { class: 'page project-page' }, head, message,
    h('section', { class: 'freightline-wrap', 'aria-label': 'Freightline' },
      h('h2', { class: 'sr-only' }, 'Freightline'), freightline, pager)));
  const view = live(project, main, (store) => {
    const problem = notReady(store, ['stages', 'warehouses']);
    fill(message, problem);
    if (problem) return;
    if (!graph) {
      graph = new Graph(project, store);
      main.querySelector('.project-page').appendChild(graph.el);
    }
    graph.update();
    count.textContent = `${graph.count()} stages`;
    const freight = freightNewestFirst([...store.map('freight').values()]);
    const redraw = () => view.redraw();
    const [page, controls] = paged(freight, state, redraw, 'Freight');
    const rank = new Map(graph.order().map((name, i) => [name, i]));
    fill(freightline, page.length ? page.map((f) => freightCard(project, f, rank)) : h('li', { class: 'muted empty' }, store.loaded.freight ? 'No Freight yet: the Warehouses have found nothing.' : 'Loading Freight…'));
    fill(pager, controls);
    if (!performance.getEntriesByName('kargo:graph').length && store.ready()) performance.mark('kargo:graph');
  });
  view.redraw = () => {
    for (const fn of view.store.listeners) fn(view.store);
  };
  // A promote link (/project/P/promote/freight/F/stage/S) opens the dialog.
  if (params.freight && params.stage) {
    const once = async () => {
      const f = view.store.map('freight').get(params.freight) || [...view.store.map('freight').values()].find((x) => x.alias === params.freight) || { metadata: { name: params.freight } };
      const dialog = await actions.promote(project, params.stage, f);
      dialog?.addEventListener('close', () => app.navigate(projectUrl(project), { replace: true }));
    };
    const wait = view.store.subscribe(() => {
      if (view.store.loaded.freight) {
        wait();
        once();
      }
    });
  }
  return {
    title: project,
    crumbs: [[projectUrl(project), project]],
    store: view.store,
    destroy() {
      graph?.destroy();
      view.destroy();
    },
  };
}

// ---------------------------------------------------------------- steps

/** Which steps' outputs a person opened (promotion/alias), kept across redraws. */
const openOutputs = new Set();

/** The steps of a promotion: status, message, duration and outputs. */
export function stepsTable(promotion) {
  const steps = promotion.spec?.steps || [];
  const meta = promotion.status?.stepExecutionMetadata || [];
  const outputs = promotion.status?.state || {};
  const running = !finished(promotion.status?.phase);
  const current = promotion.status?.currentStep ?? 0;
  const rows = [];
  for (let i = 0; i < Math.max(steps.length, meta.length); i += 1) {
    const step = steps[i] || {};
    const m = meta[i] || {};
    const alias = m.alias || step.as || `step-${i + 1}`;
    let status = m.status || (running && i === current && promotion.status?.phase === 'Running' ? 'Running' : running ? 'Pending' : 'Skipped');
    if (!m.status && m.startedAt && !m.finishedAt) status = 'Running';
    const output = outputs[alias];
    rows.push(h('tr', { 'data-test': `step-${alias}`, 'data-status': status },
      h('td', {}, String(i + 1)),
      h('th', { scope: 'row' }, alias),
      h('td', {}, h('code', {}, step.uses || (step.task ? `task: ${step.task.name}` : ''))),
      h('td', {}, phaseBadge(status, 'step-status')),
      h('td', { class: 'message' }, m.message || ''),
      h('td', {}, m.startedAt ? duration(m.startedAt, m.finishedAt) : ''),
      h('td', {}, output !== undefined && output !== null && Object.keys(output).length
        ? outputsDetails(`${nameOf(promotion)}/${alias}`, output) : '')));
  }
  return h('table', { class: 'table steps', 'data-test': 'steps' },
    h('caption', { class: 'sr-only' }, `Steps of promotion ${nameOf(promotion)}`),
    h('thead', {}, h('tr', {}, ['#', 'Step', 'Uses', 'Status', 'Message', 'Duration', 'Outputs'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows));
}

function outputsDetails(key, output) {
  const details = h('details', { open: openOutputs.has(key) },
    h('summary', {}, 'outputs'), h('pre', {}, JSON.stringify(redact(output), null, 2)));
  details.addEventListener('toggle', () => (details.open ? openOutputs.add(key) : openOutputs.delete(key)));
  return details;
}

function freightLink(project, store, name) {
  const f = store.map('freight').get(name);
  return h('a', { href: freightUrl(project, name) }, f ? freightLabel(f) : name.slice(0, 7));
}

// ---------------------------------------------------------------- stage

export function stageView(params, main) {
  const { project, stage: name } = params;
  const state = { page: 0, open: new Set() };
  const view = live(project, main, (store) => {
    const problem = notReady(store, ['stages']);
    if (problem) return fill(main, problem);
    const stage = store.map('stages').get(name);
    if (!stage) return fill(main, h('p', { class: 'error', role: 'alert' }, `Stage ${name} not found in project ${project}.`));
    const freight = currentFreight(stage);
    const up = upstreams(stage);
    const downstream = [...store.map('stages').values()].filter((s) => upstreams(s).stages.includes(name)).map(nameOf);
    const acts = [];
    if (actions.mayAct()) {
      acts.push(h('button', { type: 'button', onclick: () => actions.promote(project, name), 'data-test': 'promote' }, 'Promote…'));
      if (freight.length && downstream.length) {
        const f = store.map('freight').get(freight[0].name) || freight[0];
        acts.push(h('button', { type: 'button', onclick: () => actions.promoteDownstream(project, name, f, downstream) }, 'Promote downstream'));
      }
      if (freight.length && stage.spec?.verification) acts.push(h('button', { type: 'button', onclick: () => actions.reverify(project, name) }, 'Reverify'));
    }
    const promotions = newestFirst([...store.map('promotions').values()].filter((p) => p.spec?.stage === name));
    const redraw = () => view.store.listeners.forEach((fn) => fn(view.store));
    const [page, controls] = paged(promotions, state, redraw, 'Promotions');
    // The newest promotion starts open, with its steps.
    if (!state.opened && promotions.length) {
      state.opened = true;
      state.open.add(nameOf(promotions[0]));
    }
    const history = stage.status?.freightHistory || [];
    const verifications = history.flatMap((c) => (c.verificationHistory || []).map((v) => ({ ...v, collection: c })));
    const ready = condition(stage, 'Ready');
    fill(main, h('div', { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', {}, h('span', { class: 'muted' }, 'Stage '), name), acts.length ? h('div', { class: 'toolbar' }, acts) : null),
      dl([
        ['Health', h('span', { class: ['badge', `health-${stageHealth(stage, store.map('promotions'))}`] }, ready?.status === 'True' ? 'Ready' : (ready?.reason || 'Unknown'))],
        ['Takes Freight from', [...up.warehouses.map((w) => h('a', { href: warehouseUrl(project, w) }, w)), ...up.stages.map((s) => h('a', { href: stageUrl(project, s) }, s))].flatMap((a, i) => (i ? [', ', a] : [a]))],
        ['Downstream', downstream.length ? downstream.map((s) => h('a', { href: stageUrl(project, s) }, s)).flatMap((a, i) => (i ? [', ', a] : [a])) : null],
        ['Auto-promotion', stage.status?.autoPromotionEnabled ? 'on' : 'off'],
        ['Problem', ready?.status === 'False' && ready.message ? ready.message : null],
      ]),
      section('Current Freight', freight.length ? freight.map((f) => h('div', { class: 'current' },
        h('a', { href: freightUrl(project, f.name), class: 'alias' }, freightLabel(store.map('freight').get(f.name) || f)),
        h('span', { class: 'muted' }, ` from ${f.originKey}`), versionList(f))) : h('p', { class: 'muted' }, 'No Freight yet.')),
      section('Verification', verifications.length ? h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['Freight', 'Result', 'Message', 'Started', 'Took'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, verifications.slice(0, PAGE).map((v) => h('tr', {},
          h('td', {}, Object.values(v.collection.items || {}).map((r) => freightLink(project, store, r.name))),
          h('td', {}, phaseBadge(v.phase)),
          h('td', { class: 'message' }, v.message || ''),
          h('td', {}, when(v.startTime || v.startedAt)),
          h('td', {}, duration(v.startTime || v.startedAt, v.finishTime || v.finishedAt)))))) : h('p', { class: 'muted' }, stage.spec?.verification ? 'Not verified yet.' : 'This Stage has no verification.')),
      section('Promotions', page.length ? h('ol', { class: 'promotions' }, page.map((p) => {
        const pname = nameOf(p);
        const details = h('details', { open: state.open.has(pname) || !finished(p.status?.phase) },
          h('summary', {}, phaseBadge(p.status?.phase), ' ',
            h('a', { href: promotionUrl(project, pname) }, pname), ' ',
            h('span', { class: 'muted' }, 'Freight '), freightLink(project, store, p.spec?.freight || ''), ' ',
            h('span', { class: 'muted' }, when(p.metadata?.creationTimestamp), ' by ', p.metadata?.annotations?.['kargo.akuity.io/create-actor'] || 'the controller'),
            p.status?.startedAt ? h('span', { class: 'muted' }, ` · ${duration(p.status.startedAt, p.status.finishedAt)}`) : null),
          stepsTable(p));
        details.addEventListener('toggle', () => (details.open ? state.open.add(pname) : state.open.delete(pname)));
        return h('li', {}, details);
      })) : h('p', { class: 'muted' }, 'No promotion yet.'), controls),
      section('Freight history', history.length ? h('ol', { class: 'history' }, history.slice(0, PAGE).map((c) => h('li', {},
        Object.entries(c.items || {}).map(([origin, r]) => [freightLink(project, store, r.name), h('span', { class: 'muted' }, ` ${origin} `), versions(r).map((l) => h('span', { class: 'version' }, `${l.repo}:${l.version}`))])))) : h('p', { class: 'muted' }, 'None.'))));
    return undefined;
  });
  return { title: name, crumbs: [[projectUrl(project), project], [stageUrl(project, name), name]], store: view.store, destroy: view.destroy };
}

// ------------------------------------------------------------ promotion

export function promotionView(params, main) {
  const { project, promotion: name } = params;
  const view = live(project, main, (store) => {
    const problem = notReady(store, ['promotions']);
    if (problem) return fill(main, problem);
    const p = store.map('promotions').get(name);
    if (!p) return fill(main, h('p', { class: 'error', role: 'alert' }, `Promotion ${name} not found in project ${project}.`));
    const phase = p.status?.phase || 'Pending';
    const step = currentStep(p);
    const pr = pullRequest(p);
    const failure = ['Failed', 'Errored'].includes(phase) ? failedStep(p) : null;
    const freightRef = p.status?.freight || { name: p.spec?.freight };
    const aborting = abortRequest(p);
    const acts = [];
    if (actions.mayAct() && !finished(phase) && !aborting) {
      acts.push(h('button', { type: 'button', class: 'danger', onclick: () => actions.abort(project, p), 'data-test': 'abort' }, 'Abort'));
    }
    fill(main, h('div', { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', {}, h('span', { class: 'muted' }, 'Promotion '), name), acts.length ? h('div', { class: 'toolbar' }, acts) : null),
      aborting ? h('p', { class: 'note', role: 'status', 'data-test': 'aborting' },
        `Abort asked${aborting.actor ? ` by ${aborting.actor}` : ''}: the promotion stops once its running step ends.`) : null,
      dl([
        ['Phase', [phaseBadge(phase, 'phase'), phase === 'Running' && step.count ? h('span', { class: 'muted' }, ` step ${step.index + 1} of ${step.count}: ${step.alias}`) : null]],
        ['Stage', h('a', { href: stageUrl(project, p.spec?.stage) }, p.spec?.stage)],
        ['Freight', [freightLink(project, store, freightRef.name || ''), ' ', versions(freightRef).map((l) => h('span', { class: 'version' }, `${l.repo}:${l.version}`))]],
        ['Created', [when(p.metadata?.creationTimestamp), ' by ', p.metadata?.annotations?.['kargo.akuity.io/create-actor'] || 'the controller']],
        ['Started', when(p.status?.startedAt)],
        ['Took', p.status?.startedAt ? duration(p.status.startedAt, p.status.finishedAt) : null],
        ['Pull request', pr ? pullRequestLink(pr, { full: true }) : null],
        ['Message', failure ? h('span', { class: 'failure', 'data-test': 'failure' }, failure.alias ? `${failure.alias}: ` : '', failure.message) : p.status?.message],
      ]),
      section('Steps', stepsTable(p))));
    return undefined;
  });
  return { title: name, crumbs: [[projectUrl(project), project], [promotionUrl(project, name), name]], store: view.store, destroy: view.destroy };
}

// -------------------------------------------------------------- freight

function artifactTables(f) {
  const table = (title, cols, rows) => (rows.length ? [h('h3', {}, title), h('table', { class: 'table' },
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c ?? ''))))))] : []);
  return [
    ...table('Images', ['Repository', 'Tag', 'Digest'], (f.images || []).map((i) => [i.repoURL, i.tag, h('code', {}, i.digest || '')])),
    ...table('Commits', ['Repository', 'Commit', 'Tag', 'Branch', 'Message', 'Author'], (f.commits || []).map((c) => [c.repoURL, h('code', {}, (c.id || '').slice(0, 12)), c.tag, c.branch, c.message, c.author])),
    ...table('Charts', ['Repository', 'Name', 'Version'], (f.charts || []).map((c) => [c.repoURL, c.name, c.version])),
    ...table('Artifacts', ['Subscription', 'Type', 'Version'], (f.artifacts || []).map((a) => [a.subscriptionName, a.type, a.version])),
  ];
}

export function freightView(params, main) {
  const { project, freight: key } = params;
  const view = live(project, main, (store) => {
    const problem = notReady(store, ['freight', 'stages']);
    if (problem) return fill(main, problem);
    const f = store.map('freight').get(key) || [...store.map('freight').values()].find((x) => x.alias === key);
    if (!f) return fill(main, h('p', { class: 'error', role: 'alert' }, `Freight ${key} not found in project ${project}.`));
    const name = nameOf(f);
    const st = f.status || {};
    // The Stages in the pipeline's order, as the graph draws them.
    const stages = [...layout([...store.map('stages').values()], [...store.map('warehouses').values()]).nodes.values()]
      .filter((n) => n.kind === 'Stage').sort((a, b) => a.col - b.col || a.row - b.row).map((n) => n.name);
    const promotions = newestFirst([...store.map('promotions').values()].filter((p) => p.spec?.freight === name));
    const acts = [];
    if (actions.mayAct()) {
      const approvable = stages.filter((s) => !(st.approvedFor || {})[s] && !(st.currentlyIn || {})[s]);
      if (approvable.length) acts.push(h('button', { type: 'button', onclick: () => actions.approve(project, f, approvable), 'data-test': 'approve' }, 'Approve for…'));
      const choose = h('select', { id: 'promote-to', 'aria-label': 'Stage to promote to' }, stages.map((s) => h('option', { value: s }, s)));
      acts.push(h('span', { class: 'inline-form' }, h('label', { for: 'promote-to' }, 'Promote to '), choose,
        h('button', { type: 'button', onclick: () => actions.promote(project, choose.value, f), 'data-test': 'promote-freight' }, 'Promote…')));
    }
    fill(main, h('div', { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', {}, h('span', { class: 'muted' }, 'Freight '), freightLabel(f)), acts.length ? h('div', { class: 'toolbar' }, acts) : null),
      dl([
        ['ID', h('code', {}, name)],
        ['Alias', f.alias],
        ['Origin', f.origin?.name ? h('a', { href: warehouseUrl(project, f.origin.name) }, `${f.origin.kind || 'Warehouse'} ${f.origin.name}`) : null],
        ['Discovered', when(f.discoveredAt)],
      ]),
      section('Artifacts', artifactTables(f)),
      section('Where it has been', h('table', { class: 'table', 'data-test': 'whereabouts' },
        h('thead', {}, h('tr', {}, ['Stage', 'In since', 'Verified', 'Approved', 'Promotions'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, stages.map((s) => {
          const mine = promotions.filter((p) => p.spec?.stage === s);
          const inSince = (st.currentlyIn || {})[s];
          const verified = (st.verifiedIn || {})[s];
          const approved = (st.approvedFor || {})[s];
          return h('tr', { 'data-test': `where-${s}` },
            h('th', { scope: 'row' }, h('a', { href: stageUrl(project, s) }, s)),
            h('td', {}, inSince ? ['✔ ', when(inSince.since) || 'yes'] : ''),
            h('td', {}, verified ? ['✔ ', when(verified.verifiedAt || verified.at) || 'yes'] : ''),
            h('td', {}, approved ? ['★ ', when(approved.approvedAt || approved.at) || 'yes'] : ''),
            h('td', {}, mine.slice(0, 3).map((p) => h('a', { href: promotionUrl(project, nameOf(p)), class: 'inline' }, phaseBadge(p.status?.phase)))));
        })))),
      Object.keys(st.metadata || {}).length ? section('Metadata', h('pre', {}, JSON.stringify(redact(st.metadata), null, 2))) : null));
    return undefined;
  });
  return { title: key, crumbs: [[projectUrl(project), project], [freightUrl(project, key), key]], store: view.store, destroy: view.destroy };
}

// ------------------------------------------------------------ warehouse

export function warehouseView(params, main) {
  const { project, warehouse: name } = params;
  const view = live(project, main, (store) => {
    const problem = notReady(store, ['warehouses']);
    if (problem) return fill(main, problem);
    const w = store.map('warehouses').get(name);
    if (!w) return fill(main, h('p', { class: 'error', role: 'alert' }, `Warehouse ${name} not found in project ${project}.`));
    const ready = condition(w, 'Ready');
    const freight = freightNewestFirst([...store.map('freight').values()].filter((f) => f.origin?.name === name));
    fill(main, h('div', { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', {}, h('span', { class: 'muted' }, 'Warehouse '), name),
        actions.mayAct() ? h('div', { class: 'toolbar' }, h('button', { type: 'button', onclick: () => actions.refreshWarehouse(project, name), 'data-test': 'refresh' }, 'Refresh')) : null),
      dl([
        ['Status', ready ? (ready.status === 'True' ? 'Ready' : `${ready.reason}${ready.message ? `: ${ready.message}` : ''}`) : null],
        ['Last discovery', when(w.status?.discoveredArtifacts?.discoveredAt)],
        ['Interval', w.spec?.interval],
      ]),
      section('Subscriptions', h('ul', {}, (w.spec?.subscriptions || []).map((sub) => {
        const [kind, spec] = Object.entries(sub)[0] || [];
        return h('li', {}, h('span', { class: 'kind' }, kind), ' ', h('code', {}, spec?.repoURL || ''));
      }))),
      section('Freight', freight.length ? h('ul', { class: 'plain' }, freight.slice(0, PAGE).map((f) => h('li', {},
        h('a', { href: freightUrl(project, nameOf(f)) }, freightLabel(f)), ' ', when(f.discoveredAt), ' ',
        versions(f).map((l) => h('span', { class: 'version' }, `${l.repo}:${l.version}`))))) : h('p', { class: 'muted' }, 'No Freight yet.'))));
    return undefined;
  });
  return { title: name, crumbs: [[projectUrl(project), project], [warehouseUrl(project, name), name]], store: view.store, destroy: view.destroy };
}

/** The page for an unknown path. */
export function notFoundView(params, main) {
  fill(main, h('div', { class: 'page' }, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '/' }, 'Projects'))));
  return { title: 'Not found', crumbs: [] };
}

