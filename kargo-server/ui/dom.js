// Building DOM without a framework: h() makes an element from a tag, its
// properties and its children; views rebuild their part of the page from
// the store and keep focus where it was.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (key === 'text') el.textContent = value;
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value' || key === 'checked' || key === 'selected') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false || child === '') continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** An HTML element: h('a', {href: '/x', class: 'link'}, 'text', child, [more]). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  apply(el, props);
  append(el, children);
  return el;
}

/** An SVG element. */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, props);
  append(el, children);
  return el;
}

/**
 * Replaces the children of `el`, keeping the focus on the element with the
 * same `data-key` (and the same role) if there was one.
 */
export function fill(el, ...children) {
  const active = document.activeElement;
  const key = active && el.contains(active) ? active.dataset.key : undefined;
  el.replaceChildren();
  append(el, children);
  if (key !== undefined) {
    const again = el.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
}

/** Calls `fn` once per animation frame at most, however often it is asked. */
export function throttled(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
}

/** "3 min ago", "in 2 h", from an ISO time. */
export function ago(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const seconds = Math.round((Date.now() - t) / 1000);
  const abs = Math.abs(seconds);
  const [n, unit] = abs < 60 ? [abs, 's'] : abs < 3600 ? [Math.floor(abs / 60), 'min']
    : abs < 86400 ? [Math.floor(abs / 3600), 'h'] : [Math.floor(abs / 86400), 'd'];
  return seconds >= 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}

/** A <time> showing how long ago, the exact time in its title. */
export function when(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return h('span', {}, iso);
  const exact = new Date(t).toLocaleString();
  return h('time', { datetime: new Date(t).toISOString(), title: exact }, ago(iso));
}

/** How long from `start` to `end` (or now): "< 1 s", "12.0 s", "3 min 4 s". */
export function duration(start, end) {
  const a = Date.parse(start);
  if (Number.isNaN(a)) return '';
  const b = end ? Date.parse(end) : Date.now();
  if (Number.isNaN(b)) return '';
  const ms = Math.max(0, b - a);
  if (ms < 1000) return '< 1 s'; // the API's times are to the second
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60000);
  return m < 60 ? `${m} min ${Math.round((ms % 60000) / 1000)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * A pull request ({url, id, web} from model.pullRequest): a link to a
 * forge's page, opened in a new tab; other URLs (the local provider's)
 * as text, the URL in the title.
 */
export function pullRequestLink(pr, { full = false } = {}) {
  const label = `Pull request${pr.id ? ` #${pr.id}` : ''}`;
  if (pr.web) {
    return h('a', { class: 'pr', href: pr.url, target: '_blank', rel: 'noopener noreferrer', 'data-test': 'pull-request' },
      full ? pr.url : `${label} ↗`);
  }
  return h('span', { class: 'pr', title: pr.url, 'data-test': 'pull-request' },
    full ? [label, ' ', h('code', {}, pr.url)] : label);
}
