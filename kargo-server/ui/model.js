// What the views show, read from Kargo-shaped objects: a Stage's Freight,
// promotion and verification; the graph's layout; Freight's whereabouts.

export const nameOf = (o) => o?.metadata?.name || '';

/** The conditions of `object` by type. */
export function condition(object, type) {
  return (object?.status?.conditions || []).find((c) => c.type === type);
}

/** The Stages and Warehouses a Stage takes Freight from. */
export function upstreams(stage) {
  const stages = new Set();
  const warehouses = new Set();
  for (const request of stage?.spec?.requestedFreight || []) {
    const origin = request.origin?.name;
    if (request.sources?.direct && origin) warehouses.add(origin);
    for (const s of request.sources?.stages || []) stages.add(s);
  }
  return { stages: [...stages], warehouses: [...warehouses] };
}

/** Short forms of an artifact's repository: its last two path segments. */
export function shortRepo(url) {
  const bare = String(url || '').replace(/^[a-z+-]+:\/\//, '').replace(/\.git$/, '').replace(/\/$/, '');
  const parts = bare.split('/');
  return parts.length > 2 ? parts.slice(-2).join('/') : bare;
}

/** One line per artifact of a Freight (or a Freight reference). */
export function versions(freight) {
  const lines = [];
  for (const i of freight?.images || []) {
    lines.push({ kind: 'image', repo: shortRepo(i.repoURL), version: i.tag || (i.digest || '').slice(0, 19), full: i.repoURL });
  }
  for (const c of freight?.commits || []) {
    lines.push({ kind: 'commit', repo: shortRepo(c.repoURL), version: c.tag || (c.id || '').slice(0, 7), full: c.repoURL });
  }
  for (const c of freight?.charts || []) {
    lines.push({ kind: 'chart', repo: c.name || shortRepo(c.repoURL), version: c.version, full: c.repoURL });
  }
  for (const a of freight?.artifacts || []) {
    lines.push({ kind: 'artifact', repo: a.subscriptionName || a.type || 'artifact', version: a.version, full: a.subscriptionName });
  }
  return lines;
}

/** The Freight references a Stage holds now (one per origin). */
export function currentFreight(stage) {
  const items = stage?.status?.freightHistory?.[0]?.items || {};
  return Object.entries(items).map(([key, ref]) => ({ originKey: key, ...ref }));
}

/** The newest verification of the Stage's current Freight. */
export function verification(stage) {
  return stage?.status?.freightHistory?.[0]?.verificationHistory?.[0] || null;
}

/** Whether a promotion phase is final. */
export const finished = (phase) => ['Succeeded', 'Failed', 'Errored', 'Aborted'].includes(phase);
export const failedPhase = (phase) => ['Failed', 'Errored', 'Aborted'].includes(phase);

/** The step a promotion is at: {index, count, alias, uses}. */
export function currentStep(promotion) {
  const steps = promotion?.spec?.steps || [];
  const meta = promotion?.status?.stepExecutionMetadata || [];
  const index = Math.min(promotion?.status?.currentStep ?? 0, Math.max(steps.length - 1, 0));
  return {
    index,
    count: steps.length,
    alias: meta[index]?.alias || steps[index]?.as || `step-${index + 1}`,
    uses: steps[index]?.uses || (steps[index]?.task ? `task ${steps[index].task.name}` : ''),
  };
}

/**
 * Who asked a running promotion to abort ({actor}), from Kargo's
 * annotation `kargo.akuity.io/abort`; null when nobody did (or it has
 * stopped).
 */
export function abortRequest(promotion) {
  const text = promotion?.metadata?.annotations?.['kargo.akuity.io/abort'];
  if (!text || finished(promotion?.status?.phase)) return null;
  try {
    const request = JSON.parse(text);
    return { actor: request.actor || '' };
  } catch {
    return { actor: '' };
  }
}

/** The first failed step of a promotion: {alias, message}. */
export function failedStep(promotion) {
  const meta = promotion?.status?.stepExecutionMetadata || [];
  const step = meta.find((s) => ['Failed', 'Errored'].includes(s.status));
  if (step) return { alias: step.alias, message: step.message || promotion.status?.message || '' };
  return promotion?.status?.message ? { alias: '', message: promotion.status.message } : null;
}

/**
 * The pull request a promotion opened or waits for (the output `pr` of
 * git-open-pr and git-wait-for-pr, the newest first): {url, id, web}.
 * `web` tells a forge's page a browser can open (http or https) from
 * another URL, such as the local provider's (the repository's URL with
 * `#pull/N`), which is shown but not linked.
 */
export function pullRequest(promotion) {
  const state = promotion?.status?.state || {};
  for (const output of Object.values(state).reverse()) {
    const url = output?.pr?.url;
    if (typeof url === 'string' && url) {
      const id = output.pr.id ?? (/(\d+)\/?$/.exec(url) || [])[1];
      return { url, id: id === undefined ? '' : String(id), web: /^https?:\/\//i.test(url) };
    }
  }
  return null;
}

const SECRET = /pass(word)?|secret|token|credential|private.?key|api.?key/i;

/** A copy of step outputs with secret-looking values hidden. */
export function redact(value, key = '') {
  if (SECRET.test(key) && value !== null && typeof value !== 'object') return '••••••';
  if (Array.isArray(value)) return value.map((v) => redact(v, key));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  }
  return value;
}

/** Promotions newest first. */
export function newestFirst(promotions) {
  return [...promotions].sort((a, b) => {
    const ta = a.metadata?.creationTimestamp || '';
    const tb = b.metadata?.creationTimestamp || '';
    return tb.localeCompare(ta) || nameOf(b).localeCompare(nameOf(a));
  });
}

/** Freight newest first (by discovery). */
export function freightNewestFirst(freight) {
  const seen = (f) => f.discoveredAt || f.metadata?.creationTimestamp || '';
  return [...freight].sort((a, b) => seen(b).localeCompare(seen(a)) || nameOf(b).localeCompare(nameOf(a)));
}

/** The label of a Freight: its alias, or the start of its ID. */
export const freightLabel = (f) => f?.alias || nameOf(f).slice(0, 7) || f?.name?.slice(0, 7) || '';

/** Whether a verification (from `verification()`) did not pass. */
export const verificationFailed = (v) => Boolean(v) && ['Failed', 'Error', 'Errored', 'Inconclusive'].includes(v.phase);

/** A Stage's health, one word for colours: ok, failed, running, unknown. */
export function stageHealth(stage, promotions) {
  if (stage?.status?.currentPromotion) return 'running';
  const last = stage?.status?.lastPromotion;
  const phase = last?.status?.phase || promotions?.get(last?.name)?.status?.phase;
  if (failedPhase(phase)) return 'failed';
  const v = verification(stage);
  if (verificationFailed(v)) return 'failed';
  if (currentFreight(stage).length) return 'ok';
  return 'unknown';
}

/** Node sizes and gaps of the graph, in CSS pixels. */
export const NODE = { width: 264, height: 170, gapX: 64, gapY: 20, pad: 16 };

/**
 * Lays Warehouses and Stages out left to right along their Freight's
 * sources: a Stage's column is one more than its furthest upstream's;
 * within a column, nodes follow the mean row of their upstreams.
 * Returns {nodes: Map(key -> node), edges, width, height}; a node is
 * {key, kind, name, col, row, x, y, ups, downs}.
 */
export function layout(stages, warehouses) {
  const nodes = new Map();
  const key = (kind, name) => `${kind}/${name}`;
  for (const w of warehouses) nodes.set(key('Warehouse', nameOf(w)), { key: key('Warehouse', nameOf(w)), kind: 'Warehouse', name: nameOf(w), ups: [], downs: [] });
  for (const s of stages) nodes.set(key('Stage', nameOf(s)), { key: key('Stage', nameOf(s)), kind: 'Stage', name: nameOf(s), ups: [], downs: [] });
  const edges = [];
  for (const s of stages) {
    const to = nodes.get(key('Stage', nameOf(s)));
    const { stages: ups, warehouses: whs } = upstreams(s);
    for (const [kind, names] of [['Warehouse', whs], ['Stage', ups]]) {
      for (const n of names) {
        const from = nodes.get(key(kind, n));
        if (!from || from === to) continue;
        from.downs.push(to);
        to.ups.push(from);
        edges.push({ from, to });
      }
    }
  }
  // Columns: the longest path from a source (cycles cut where found).
  const state = new Map();
  const column = (node) => {
    const seen = state.get(node);
    if (seen === 'busy') return 0;
    if (typeof seen === 'number') return seen;
    state.set(node, 'busy');
    let col = node.kind === 'Warehouse' ? 0 : 1;
    for (const up of node.ups) col = Math.max(col, column(up) + 1);
    state.set(node, col);
    return col;
  };
  const columns = [];
  for (const node of nodes.values()) {
    node.col = column(node);
    (columns[node.col] ||= []).push(node);
  }
  let rows = 0;
  for (const nodesOfColumn of columns) {
    if (!nodesOfColumn) continue;
    for (const node of nodesOfColumn) {
      const placed = node.ups.filter((u) => u.row !== undefined);
      node.order = placed.length ? placed.reduce((sum, u) => sum + u.row, 0) / placed.length : -1;
    }
    nodesOfColumn.sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
    nodesOfColumn.forEach((node, row) => {
      node.row = row;
      node.x = NODE.pad + node.col * (NODE.width + NODE.gapX);
      node.y = NODE.pad + row * (NODE.height + NODE.gapY);
    });
    rows = Math.max(rows, nodesOfColumn.length);
  }
  const cols = columns.length;
  return {
    nodes,
    edges,
    columns: columns.map((c) => c || []),
    width: NODE.pad * 2 + cols * NODE.width + Math.max(cols - 1, 0) * NODE.gapX,
    height: NODE.pad * 2 + rows * NODE.height + Math.max(rows - 1, 0) * NODE.gapY,
  };
}

/** What a layout depends on: names and sources (not status). */
export function shapeOf(stages, warehouses) {
  const parts = warehouses.map((w) => `W:${nameOf(w)}`);
  for (const s of stages) {
    const { stages: ups, warehouses: whs } = upstreams(s);
    parts.push(`S:${nameOf(s)}<${whs.join(',')}|${ups.join(',')}`);
  }
  return parts.sort().join(';');
}
