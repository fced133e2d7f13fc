// The /v1beta1 API as any client calls it: a bearer token, JSON, and the
// watch streams read with fetch() (EventSource cannot send a token).

// The token lives in sessionStorage: it survives a reload and the app's
// own navigation, but not the tab, so a shared or forgotten browser does
// not stay signed in; other tabs sign in for themselves. (Any storage a
// script can read is open to a script injected into the page: the strict
// Content-Security-Policy is what keeps such scripts out.)
const TOKEN_KEY = 'kargo-rs.token';
const ROLES = ['viewer', 'promoter', 'admin'];

// Earlier versions kept the token in localStorage, where it outlived the
// tab: forget it.
try {
  localStorage.removeItem(TOKEN_KEY);
} catch {
  // Storage disabled: nothing was kept.
}

function stored() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

function store(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage disabled: the token lasts as long as the page.
  }
}

/** Who is signed in, and what the server told us about them. */
export const session = {
  token: stored(),
  /** Why the person was signed out (shown on the login page), if they were. */
  notice: '',
  /** The server's public configuration: skipAuth, adminAccountEnabled. */
  config: null,
  /** From the x-kargo-subject and x-kargo-role headers of the last answer. */
  subject: '',
  role: '',
  listeners: new Set(),
};

function changed() {
  for (const listener of session.listeners) listener();
}

/** Remembers `token` for the next calls (and visits). */
export function signIn(token) {
  session.token = token;
  session.notice = '';
  store(token);
  changed();
}

/** Forgets the token; `notice` says why, on the login page. */
export function signOut(notice = '') {
  session.token = '';
  session.subject = '';
  session.role = '';
  session.notice = notice;
  store('');
  changed();
}

/** Whether the signed-in role may do what `least` (a role) may. */
export function allows(least) {
  return ROLES.indexOf(session.role) >= ROLES.indexOf(least);
}

/** An answer that was not a success: its status and the API's message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Called with the API's message when a token is refused (set by the app). */
let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

function headers(extra) {
  const all = { Accept: 'application/json', ...extra };
  if (session.token) all.Authorization = `Bearer ${session.token}`;
  return all;
}

function noteCaller(response) {
  const subject = response.headers.get('x-kargo-subject');
  const role = response.headers.get('x-kargo-role');
  if (role && (role !== session.role || subject !== session.subject)) {
    session.role = role;
    session.subject = subject || '';
    changed();
  }
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    message = body.error || body.message || message;
  } catch {
    // Not JSON: keep the status line.
  }
  if (response.status === 401) onUnauthorized(message);
  return new ApiError(response.status, message);
}

/**
 * Calls the API: `method` on `/v1beta1` + `path`, with a JSON `body`.
 * Returns the JSON answer (null when empty); throws ApiError.
 */
export async function call(method, path, body, init = {}) {
  const response = await fetch(`/v1beta1${path}`, {
    method,
    headers: headers(body === undefined ? init.headers : { 'Content-Type': 'application/json', ...init.headers }),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: init.signal,
  });
  noteCaller(response);
  if (!response.ok) throw await failure(response);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** GET `path`. */
export const get = (path, init) => call('GET', path, undefined, init);

/** The server's public configuration (no token needed). */
export async function publicConfig() {
  if (!session.config) session.config = await get('/system/public-server-config');
  return session.config;
}

/** Logs the admin in with `password`; returns the login token. */
export async function login(password) {
  const response = await fetch('/v1beta1/login', {
    method: 'POST',
    headers: { Accept: 'application/json', Authorization: `Bearer ${password}` },
  });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      message = body.error || body.message || message;
    } catch {
      // Keep the status line.
    }
    throw new ApiError(response.status, message);
  }
  const body = await response.json();
  return body.idToken;
}

/**
 * Follows `path?watch=true`: calls `onEvent({type, object})` for each
 * server-sent event until the stream ends (resolves) or `signal` aborts.
 * Throws ApiError when the server refuses the stream.
 */
export async function watch(path, onEvent, signal) {
  const separator = path.includes('?') ? '&' : '?';
  const response = await fetch(`/v1beta1${path}${separator}watch=true`, {
    headers: headers({ Accept: 'text/event-stream' }),
    signal,
    cache: 'no-store',
  });
  noteCaller(response);
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
        .join('\n');
      if (!data) continue; // a comment (keep-alive)
      try {
        onEvent(JSON.parse(data));
      } catch (e) {
        console.warn('kargo: unreadable watch event', e);
      }
    }
  }
}

/** The path of a project's resource collection. */
export const projectPath = (project, rest = '') => `/projects/${encodeURIComponent(project)}${rest}`;
