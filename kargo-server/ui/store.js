// A project's objects, kept current by the API's watch streams: each kind
// is listed once, then followed; a stream that ends is listed and followed
// again. Streams pause while the tab is hidden (browsers allow few
// connections per server) and resume when it shows.

import { get, watch, projectPath, ApiError } from './api.js';

/** The kinds a project page follows, and how each is listed. */
const KINDS = {
  stages: { path: '/stages', items: (body) => body.items || [] },
  warehouses: { path: '/warehouses', items: (body) => body.items || [] },
  freight: {
    path: '/freight',
    items: (body) => Object.values(body.groups || {}).flatMap((group) => group.items || []),
  },
  promotions: { path: '/promotions', items: (body) => body.items || [] },
};

const nameOf = (object) => object?.metadata?.name;

/** One project's objects of `kinds`, live. */
export class ProjectStore {
  constructor(project, kinds = Object.keys(KINDS)) {
    this.project = project;
    this.kinds = kinds;
    /** kind -> Map(name -> object) */
    this.objects = Object.fromEntries(kinds.map((k) => [k, new Map()]));
    /** kind -> true once listed. */
    this.loaded = {};
    /** The last error of each kind (an ApiError), if any. */
    this.errors = {};
    /** 'connecting' | 'live' | 'reconnecting' | 'paused' */
    this.status = 'connecting';
    /** performance.now() of the last event applied (for the benchmark). */
    this.lastEventAt = 0;
    this.version = 0;
    this.listeners = new Set();
    this.users = 0;
    this.controller = null;
    this.onVisibility = () => (document.hidden ? this.pause() : this.resume());
  }

  map(kind) {
    return this.objects[kind];
  }

  /** Calls `fn` after changes (at most once per frame); returns the unsubscription. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  notify() {
    this.version += 1;
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      for (const fn of this.listeners) fn(this);
    });
  }

  start() {
    document.addEventListener('visibilitychange', this.onVisibility);
    this.resume();
  }

  stop() {
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.pause();
  }

  pause() {
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.status = 'paused';
    this.notify();
  }

  resume() {
    if (this.controller) return;
    this.controller = new AbortController();
    for (const kind of this.kinds) this.follow(kind, this.controller.signal);
  }

  /** Lists `kind`, then follows its stream; again after a pause when it ends. */
  async follow(kind, signal) {
    const { path, items } = KINDS[kind];
    const full = projectPath(this.project, path);
    let delay = 500;
    while (!signal.aborted) {
      try {
        const body = await get(full, { signal });
        const fresh = new Map(items(body).map((o) => [nameOf(o), o]));
        this.objects[kind] = fresh;
        this.loaded[kind] = true;
        delete this.errors[kind];
        this.updateStatus();
        this.notify();
        await watch(full, (event) => this.apply(kind, event), signal);
        delay = 500;
      } catch (e) {
        if (signal.aborted) return;
        this.errors[kind] = e instanceof ApiError ? e : new ApiError(0, String(e.message || e));
        this.loaded[kind] = true;
        this.notify();
        // Access refused or no such project: following again will not help.
        if (e instanceof ApiError && [401, 403, 404].includes(e.status)) return;
      }
      if (signal.aborted) return;
      this.status = 'reconnecting';
      this.notify();
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10000);
    }
  }

  updateStatus() {
    if (this.kinds.every((k) => this.loaded[k])) this.status = 'live';
  }

  apply(kind, event) {
    const name = nameOf(event.object);
    if (!name) return;
    const map = this.objects[kind];
    if (event.type === 'DELETED') map.delete(name);
    else map.set(name, event.object);
    this.lastEventAt = performance.now();
    this.notify();
  }

  /** Whether every kind has been listed once. */
  ready() {
    return this.kinds.every((k) => this.loaded[k]);
  }
}

const stores = new Map();

/** The shared store of `project` (started on first use). */
export function acquire(project, kinds) {
  const key = `${project}\n${(kinds || Object.keys(KINDS)).join(',')}`;
  let store = stores.get(key);
  if (!store) {
    store = new ProjectStore(project, kinds);
    store.key = key;
    stores.set(key, store);
    store.start();
  }
  store.users += 1;
  return store;
}

/** Gives `store` back; stopped once nobody uses it. */
export function release(store) {
  store.users -= 1;
  if (store.users <= 0) {
    // Kept a moment: the next page of the same project reuses it.
    setTimeout(() => {
      if (store.users <= 0 && stores.get(store.key) === store) {
        store.stop();
        stores.delete(store.key);
      }
    }, 2000);
  }
}

/** Stops every store (signing out). */
export function releaseAll() {
  for (const store of stores.values()) store.stop();
  stores.clear();
}

/** Exposed for tests and the benchmark: the live stores. */
window.kargoStores = stores;
