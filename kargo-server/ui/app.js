// The application: routes (Kargo's UI paths, through the history API),
// the top bar, and signing in and out.

import { h, fill } from './dom.js';
import { session, signOut, publicConfig, whenUnauthorized, get } from './api.js';
import { releaseAll } from './store.js';
import * as views from './views.js';

/** Kargo's UI paths and the view of each. */
const ROUTES = [
  ['/login', views.loginView, { open: true }],
  ['/', views.projectsView],
  ['/project/:project', views.projectView],
  ['/project/:project/stage/:stage', views.stageView],
  ['/project/:project/freight/:freight', views.freightView],
  ['/project/:project/promotion/:promotion', views.promotionView],
  ['/project/:project/warehouse/:warehouse', views.warehouseView],
  ['/project/:project/warehouse/:warehouse/:tab', views.warehouseView],
  ['/project/:project/promote/freight/:freight/stage/:stage', views.projectView],
].map(([pattern, view, options]) => {
  const names = [];
  const source = pattern.replace(/:([a-z]+)/g, (_, name) => {
    names.push(name);
    return '([^/]+)';
  });
  return { regex: new RegExp(`^${source}/?$`), names, view, options: options || {} };
});

function match(path) {
  for (const route of ROUTES) {
    const m = route.regex.exec(path);
    if (m) {
      const params = {};
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1]);
      });
      return { route, params };
    }
  }
  return { route: { view: views.notFoundView, options: {} }, params: {} };
}

const bar = document.getElementById('bar');
const main = document.getElementById('main');
let current = null;

const app = {
  /** Goes to `path` in the app (no reload). */
  navigate(path, { replace = false } = {}) {
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
    render();
  },
};

function drawBar() {
  const crumbs = current?.crumbs || [];
  const store = current?.store;
  const status = store ? h('span', { class: ['live', `live-${store.status}`], 'data-test': 'live', title: 'Updates from the API\'s watch streams' },
    store.status === 'live' ? 'Live' : store.status === 'paused' ? 'Paused' : store.status === 'reconnecting' ? 'Reconnecting…' : 'Connecting…') : null;
  const open = session.config?.skipAuth;
  fill(bar,
    h('a', { class: 'brand', href: '/', 'aria-label': 'Kargo: projects' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'Kargo'),
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumbs' }, h('ol', {},
      h('li', {}, h('a', { href: '/' }, 'Projects')),
      crumbs.map(([href, text], i) => h('li', {}, h('a', { href, 'aria-current': i === crumbs.length - 1 ? 'page' : undefined }, text))))),
    h('div', { class: 'who' },
      status,
      open ? h('span', { class: 'badge open', 'data-test': 'open-server', title: 'The server runs without --auth: every local caller is admin' }, 'Open server · no sign-in') : null,
      session.role && !open ? h('span', { class: 'subject', 'data-test': 'subject' }, `${session.subject} · ${session.role}`) : null,
      !open && session.token ? h('button', { type: 'button', class: 'small', onclick: () => { signOut(); releaseAll(); app.navigate('/login'); } }, 'Sign out') : null));
}

async function render() {
  const path = location.pathname;
  const { route, params } = match(path);
  let config;
  try {
    config = await publicConfig();
  } catch (e) {
    fill(main, h('p', { class: 'error', role: 'alert' }, `The server does not answer: ${e.message}`));
    return;
  }
  if (!route.options.open && !config.skipAuth && !session.token) {
    app.navigate(`/login?next=${encodeURIComponent(path + location.search)}`, { replace: true });
    return;
  }
  // A dialog belongs to the page it was opened on.
  for (const dialog of document.querySelectorAll('dialog')) dialog.remove();
  if (current?.store) current.store.listeners.delete(drawBar);
  if (current?.destroy) current.destroy();
  current = null;
  current = route.view(params, main, app) || {};
  if (current.store) current.store.subscribe(drawBar);
  document.title = current.title ? `${current.title} · Kargo` : 'Kargo';
  drawBar();
  main.focus({ preventScroll: true });
}

// Links inside the app navigate without a reload.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest('a[href]');
  if (!a || a.target || a.origin !== location.origin || a.hasAttribute('download')) return;
  if (a.pathname.startsWith('/v1beta1') || a.pathname.startsWith('/ui/')) return;
  event.preventDefault();
  if (a.pathname + a.search !== location.pathname + location.search) app.navigate(a.pathname + a.search);
});
window.addEventListener('popstate', render);

// A refused token (expired, or revoked by a new signing key or auth
// file) sends the person to sign in again, saying why, then back here.
whenUnauthorized((message) => {
  if (location.pathname === '/login') return;
  signOut(`You were signed out: the server refused your token (${message}). Sign in again to go on.`);
  releaseAll();
  app.navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
});
// The role decides which actions are drawn: draw again when it is known.
session.listeners.add(() => {
  drawBar();
  current?.store?.notify();
});

// Learn the role of a remembered token before drawing actions.
if (session.token) get('/projects').catch(() => {});
render();
window.kargoApp = app;
