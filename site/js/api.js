// The API client and the browser session.
//
// - The refresh token lives only in the HttpOnly `kiwi_refresh` cookie
//   (login with `"cookie": true`); JavaScript never sees it.
// - The access JWT lives only in this module's memory; a reload restores it
//   through POST /auth/refresh, which reads the cookie.
// - Refresh tokens are single use (a replay revokes the session), so refreshes
//   are serialised: one in flight per tab, and across tabs with a Web Lock.

import { locker } from './locker.js';

export class ApiError extends Error {
  constructor(status, body, headers) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = e.code || (status === 0 ? 'network_error' : 'http_error');
    this.details = e.details ?? null;
    this.requestId = e.request_id || (headers && headers.get('x-request-id')) || null;
    this.retryAfter = headers ? headers.get('retry-after') : null;
  }
}

const state = {
  access: null,
  expiresAt: 0,
  sessionId: null,
  me: null,
};
const listeners = new Set();

/** Subscribe to sign-in / sign-out (fn(me|null)). */
export function onSession(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit() {
  for (const fn of listeners) fn(state.me);
}

export function me() {
  return state.me;
}

export function isSignedIn() {
  return Boolean(state.access && state.me);
}

export function sessionId() {
  return state.sessionId;
}

async function parse(res) {
  if (res.status === 204) return null;
  const ct = res.headers.get('content-type') || '';
  if (ct.includes('application/json')) {
    try {
      return await res.json();
    } catch {
      return null;
    }
  }
  return res.text();
}

/** One HTTP call; throws ApiError for non-2xx. */
async function send(method, path, { body, headers = {}, bearer, tenant, signal } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (bearer) h.Authorization = `Bearer ${bearer}`;
  if (tenant) h['X-Kiwi-Tenant'] = tenant;
  let payload;
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body: payload, credentials: 'same-origin', cache: 'no-store', signal });
  } catch (err) {
    const e = new ApiError(0, { error: { message: `network error: ${err.message}` } });
    throw e;
  }
  const data = await parse(res);
  if (!res.ok) throw new ApiError(res.status, data, res.headers);
  return data;
}

function adopt(tokens) {
  state.access = tokens.access_token;
  state.expiresAt = Date.now() + (Number(tokens.expires_in) || 900) * 1000;
  state.sessionId = tokens.session_id || null;
}

function dropSession() {
  const had = state.me !== null;
  state.access = null;
  state.expiresAt = 0;
  state.sessionId = null;
  state.me = null;
  locker.set('signedIn', false);
  if (had) emit();
}

let refreshing = null;

/** Exchanges the cookie for a new access token (single flight, cross-tab lock). */
export function refresh() {
  if (!refreshing) {
    const run = async () => {
      const tokens = await send('POST', '/auth/refresh');
      adopt(tokens);
      return tokens;
    };
    const locked = navigator.locks && navigator.locks.request ? navigator.locks.request('kiwi-refresh', run) : run();
    refreshing = locked.finally(() => { refreshing = null; });
  }
  return refreshing;
}

async function loadMe() {
  state.me = await send('GET', '/auth/me', { bearer: state.access });
  locker.set('signedIn', true);
  emit();
  return state.me;
}

/** On page load: restores the session from the cookie, if there may be one. */
export async function restore() {
  if (!locker.get('signedIn')) return null;
  try {
    await refresh();
    return await loadMe();
  } catch {
    dropSession();
    return null;
  }
}

export async function login(email, password) {
  const tokens = await send('POST', '/auth/login', { body: { email, password, cookie: true } });
  adopt(tokens);
  return loadMe();
}

export async function reloadMe() {
  return loadMe();
}

/** Ends this session (server side too) and forgets the access token. */
export async function logout() {
  try {
    await send('POST', '/auth/logout', { bearer: state.access });
  } finally {
    dropSession();
  }
}

/** Ends every session of the user. */
export async function logoutAll() {
  try {
    await api('POST', '/auth/logout-all');
  } finally {
    dropSession();
  }
}

/** Forget the local session (after account deletion, or when the server says it's gone). */
export function forget() {
  dropSession();
}

/**
 * An authenticated call with the session's access token. Refreshes ahead of
 * expiry, and once more on a 401 (then gives up and signs out locally).
 * opts: {body, tenant, headers, anonymous}
 */
export async function api(method, path, opts = {}) {
  if (opts.anonymous) return send(method, path, opts);
  if (!state.access) {
    await refresh().catch(() => {});
    if (!state.access) {
      dropSession();
      throw new ApiError(401, { error: { code: 'not_authenticated', message: 'Please log in.' } });
    }
  }
  if (Date.now() > state.expiresAt - 30_000) {
    await refresh().catch(() => {});
  }
  try {
    return await send(method, path, { ...opts, bearer: state.access });
  } catch (err) {
    if (err.status !== 401) throw err;
    try {
      await refresh();
    } catch {
      dropSession();
      throw err;
    }
    try {
      return await send(method, path, { ...opts, bearer: state.access });
    } catch (err2) {
      if (err2.status === 401) dropSession();
      throw err2;
    }
  }
}

/** Fetches with the session and returns the raw Response (downloads). */
export async function apiRaw(path) {
  if (Date.now() > state.expiresAt - 30_000) await refresh().catch(() => {});
  const res = await fetch(path, { headers: { Authorization: `Bearer ${state.access}` }, credentials: 'same-origin', cache: 'no-store' });
  if (!res.ok) throw new ApiError(res.status, await parse(res), res.headers);
  return res;
}

/**
 * A call with a pasted API token, for "try it": no cookies, no session.
 * Returns {status, statusText, headers, body, ms} and never throws on HTTP errors.
 */
export async function tryCall(method, path, { token, body, headers = {} } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined && body !== '') {
    h['Content-Type'] = 'application/json';
    payload = body;
  }
  const t0 = performance.now();
  const res = await fetch(path, { method, headers: h, body: payload, credentials: 'omit', cache: 'no-store' });
  const text = await res.text();
  const ms = performance.now() - t0;
  let parsed = text;
  try {
    parsed = JSON.stringify(JSON.parse(text), null, 2);
  } catch { /* not JSON: show as is */ }
  return { status: res.status, statusText: res.statusText, headers: res.headers, body: parsed, ms };
}
