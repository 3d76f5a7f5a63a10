// The API reference view, shared by the portal (#/reference) and the host's
// /docs page: renders an OpenAPI document grouped by tag, with a "try it" box
// that calls the API with a token the user pastes (kept in memory only).

import { h, field, notice, errorText, clear } from './dom.js';
import { tryCall } from './api.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const ACCESS_TEXT = {
  none: 'public',
  session: 'logged-in user (session JWT)',
  token: 'API token',
  any: 'session or API token',
  master: 'platform administrator',
};

/** Loads `url` and renders it into `el`. */
export async function renderReference(el, { url = '/openapi.json', intro = null, headingLevel = 1 } = {}) {
  const status = h('p', { class: 'loading' }, 'Loading ', h('code', null, url), '…');
  el.append(status);
  let spec;
  try {
    const res = await fetch(url, { headers: { Accept: 'application/json' }, credentials: 'omit' });
    if (!res.ok) throw new Error(`HTTP ${res.status} loading ${url}`);
    spec = await res.json();
  } catch (err) {
    status.replaceWith(notice('error', `Couldn’t load the API description: ${errorText(err)}`));
    return;
  }
  status.remove();
  const Hx = `h${headingLevel}`;
  const try_ = tryBox(spec);
  const ops = operations(spec);
  const filter = h('input', { type: 'search', id: 'ref-filter', placeholder: 'Filter routes (path, summary, tag)' });
  const list = h('div', { class: 'ref-ops' });
  const groups = new Map();
  for (const op of ops) {
    const tag = op.tags[0] || 'other';
    if (!groups.has(tag)) groups.set(tag, []);
    groups.get(tag).push(op);
  }
  const order = [...groups.keys()].sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
  for (const tag of order) {
    const sec = h('section', { class: 'tag-group', dataset: { tag } }, h(`h${headingLevel + 1}`, { id: `tag-${tag}` }, tag));
    for (const op of groups.get(tag)) sec.append(opView(op, try_, headingLevel + 2));
    list.append(sec);
  }
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    for (const sec of list.querySelectorAll('.tag-group')) {
      let shown = 0;
      for (const d of sec.querySelectorAll('details.op')) {
        const hit = !q || d.dataset.search.includes(q);
        d.hidden = !hit;
        if (hit) shown += 1;
      }
      sec.hidden = shown === 0;
    }
  });
  const info = spec.info || {};
  el.append(
    h(Hx, null, `${info.title || 'API'} reference`),
    h('p', { class: 'muted' }, info.description || '', info.version ? ` Version ${info.version}.` : ''),
    intro,
    errorCodes(spec),
    h('div', { class: 'ref-layout' },
      h('div', null, h('div', { class: 'field' }, h('label', { for: 'ref-filter' }, 'Filter'), filter), list),
      h('aside', { class: 'ref-try', 'aria-label': 'Try it' }, try_.el)),
  );
}

function sortKey(tag) {
  // Plugins (v1) first: that's what API users call; platform groups after.
  const platform = ['meta', 'auth', 'tokens', 'tenants', 'platform', 'admin'];
  const i = platform.indexOf(tag);
  return i === -1 ? `0${tag}` : `1${i}`;
}

function operations(spec) {
  const out = [];
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const m of METHODS) {
      const op = item[m];
      if (!op) continue;
      out.push({ path, method: m.toUpperCase(), tags: op.tags || [], op });
    }
  }
  out.sort((a, b) => a.path.localeCompare(b.path) || METHODS.indexOf(a.method.toLowerCase()) - METHODS.indexOf(b.method.toLowerCase()));
  return out;
}

function accessOf(op) {
  const a = op['x-kiwi-access'];
  if (a) return a;
  const sec = op.security;
  if (Array.isArray(sec) && sec.length === 0) return 'none';
  return null;
}

function json(v) {
  return JSON.stringify(v, null, 2);
}

function opView(o, try_, level) {
  const { op } = o;
  const access = accessOf(op);
  const body = h('div', { class: 'body' });
  if (op.description && op.description !== op.summary) body.append(h('p', null, op.description));
  body.append(h('p', { class: 'small' }, h('strong', null, 'Access: '), ACCESS_TEXT[access] || access || 'see security',
    op['x-kiwi-scope'] ? [' · scope ', h('code', null, op['x-kiwi-scope'])] : null));
  const params = (op.parameters || []).filter((p) => p && p.name);
  if (params.length) {
    body.append(h(`h${level}`, null, 'Parameters'), h('ul', null, params.map((p) => h('li', null, h('code', null, p.name), ` (${p.in}${p.required ? ', required' : ''})`, p.description ? ` — ${p.description}` : ''))));
  }
  const reqEx = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
  if (reqEx && (reqEx.example !== undefined || reqEx.schema)) {
    body.append(h(`h${level}`, null, 'Request body'), h('pre', null, json(reqEx.example !== undefined ? reqEx.example : reqEx.schema)));
  }
  const responses = op.responses || {};
  const codes = Object.keys(responses).sort();
  if (codes.length) {
    const items = h('ul', { class: 'small' });
    for (const code of codes) {
      const r = responses[code] || {};
      items.append(h('li', null, h('span', { class: 'status-line' }, code), ' ', r.description || ''));
      const ex = r.content && r.content['application/json'] && r.content['application/json'].example;
      if (ex !== undefined && code.startsWith('2')) body.append(h(`h${level}`, null, `Example ${code} response`), h('pre', null, json(ex)));
    }
    body.append(h(`h${level}`, null, 'Responses'), items);
  }
  body.append(h('button', { type: 'button', class: 'small primary', onclick: () => try_.load(o) }, 'Try it'));
  const search = `${o.method} ${o.path} ${op.summary || ''} ${o.tags.join(' ')}`.toLowerCase();
  return h('details', { class: 'op', dataset: { search, path: o.path, method: o.method } },
    h('summary', null, h('span', { class: ['method', o.method.toLowerCase()] }, o.method), h('span', { class: 'path' }, o.path), h('span', { class: 'muted small' }, op.summary || '')),
    body);
}

function errorCodes(spec) {
  const codes = spec['x-error-codes'];
  if (!Array.isArray(codes) || !codes.length) return null;
  return h('details', { class: 'card' }, h('summary', null, 'Error envelope and codes'),
    h('p', null, 'Every error is ', h('code', null, '{"error": {"code", "message", "details", "request_id"}}'), '.'),
    h('ul', { class: 'small' }, codes.map((c) => h('li', null, h('code', null, c.code), ` ${c.status} — ${c.meaning || ''}`))));
}

// ---- try it -------------------------------------------------------------------------

function tryBox(spec) {
  const token = h('input', { type: 'password', id: 'try-token', autocomplete: 'off', spellcheck: 'false', placeholder: 'kiwi_…' });
  const show = h('input', { type: 'checkbox', id: 'try-token-show' });
  show.addEventListener('change', () => { token.type = show.checked ? 'text' : 'password'; });
  const method = h('select', { id: 'try-method' }, METHODS.map((m) => h('option', { value: m.toUpperCase() }, m.toUpperCase())));
  const path = h('input', { type: 'text', id: 'try-path', value: '/v1/whoami', spellcheck: 'false', autocomplete: 'off' });
  const paramsBox = h('div', { id: 'try-params' });
  const body = h('textarea', { id: 'try-body', rows: '4', spellcheck: 'false', placeholder: '{ }' });
  const bodyField = field('JSON body', body);
  const out = h('div', { id: 'try-result', 'aria-live': 'polite' });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send');
  let template = null;

  const fillPath = () => {
    if (!template) return;
    let p = template;
    const q = new URLSearchParams();
    for (const input of paramsBox.querySelectorAll('input')) {
      if (!input.value) continue;
      if (input.dataset.in === 'query') q.set(input.name, input.value);
      else p = p.replace(`{${input.name}}`, encodeURIComponent(input.value));
    }
    path.value = q.size ? `${p}?${q}` : p;
  };
  const syncBody = () => { bodyField.hidden = method.value === 'GET' || method.value === 'DELETE'; };
  method.addEventListener('change', syncBody);
  syncBody();

  const form = h('form', { class: 'card', id: 'try-form' },
    h('h2', null, 'Try it'),
    field('API token', token, 'Paste a token from the Tokens page. It stays in this page’s memory only and is sent as a Bearer token.'),
    h('div', { class: 'check' }, show, h('label', { for: 'try-token-show' }, 'Show token')),
    h('div', { class: 'row' }, h('div', { class: 'field' }, h('label', { for: 'try-method' }, 'Method'), method),
      h('div', { class: 'field grow' }, h('label', { for: 'try-path' }, 'Path'), path)),
    paramsBox,
    bodyField,
    h('div', { class: 'actions' }, send),
    out);
  path.addEventListener('input', () => { template = null; clear(paramsBox); });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const p = path.value.trim();
    if (!p.startsWith('/')) {
      out.replaceChildren(notice('error', 'The path must start with /.'));
      return;
    }
    if (/\{[^}]*\}/.test(p)) {
      out.replaceChildren(notice('error', 'Fill in every {parameter} of the path.'));
      paramsBox.querySelector('input')?.focus();
      return;
    }
    let payload;
    if (!bodyField.hidden && body.value.trim()) {
      try {
        payload = JSON.stringify(JSON.parse(body.value));
      } catch (err) {
        out.replaceChildren(notice('error', `The body is not valid JSON: ${err.message}`));
        return;
      }
    }
    send.disabled = true;
    out.replaceChildren(h('p', { class: 'loading' }, 'Sending…'));
    try {
      const r = await tryCall(method.value, p, { token: token.value.trim() || undefined, body: payload });
      const hdrs = ['x-request-id', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after']
        .filter((k) => r.headers.get(k)).map((k) => `${k}: ${r.headers.get(k)}`);
      out.replaceChildren(
        h('p', { class: 'status-line', id: 'try-status', dataset: { status: String(r.status) } },
          h('span', { class: ['badge', r.status < 300 ? 'ok' : r.status < 500 ? 'warn' : 'bad'] }, `${r.status} ${r.statusText}`),
          h('span', { class: 'muted small' }, ` ${r.ms.toFixed(0)} ms`)),
        hdrs.length ? h('pre', { class: 'small' }, hdrs.join('\n')) : null,
        h('pre', { id: 'try-response' }, r.body || '(empty body)'));
    } catch (err) {
      out.replaceChildren(notice('error', errorText(err)));
    } finally {
      send.disabled = false;
    }
  });

  return {
    el: form,
    load(o) {
      method.value = o.method;
      syncBody();
      template = o.path;
      path.value = o.path;
      clear(paramsBox);
      const names = [...o.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const n of names) {
        const input = h('input', { type: 'text', name: n, id: `try-param-${n}`, autocomplete: 'off', spellcheck: 'false', required: true, dataset: { in: 'path' } });
        input.addEventListener('input', fillPath);
        paramsBox.append(field(`Path parameter ${n}`, input));
      }
      for (const prm of (o.op.parameters || []).filter((x) => x && x.in === 'query' && x.name)) {
        const input = h('input', { type: 'text', name: prm.name, id: `try-query-${prm.name}`, autocomplete: 'off', spellcheck: 'false', dataset: { in: 'query' } });
        input.addEventListener('input', fillPath);
        paramsBox.append(field(`Query ${prm.name} (optional)`, input));
      }
      const reqEx = o.op.requestBody && o.op.requestBody.content && o.op.requestBody.content['application/json'];
      body.value = reqEx && reqEx.example !== undefined ? json(reqEx.example) : '';
      (paramsBox.querySelector('input') || (token.value ? send : token)).focus();
      form.scrollIntoView({ block: 'nearest' });
    },
  };
}

export { tryBox };
