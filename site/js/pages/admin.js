// The master's console: plugins (state, version, calls, errors, p50/p99;
// enable / disable / reload), users, tokens (revoke any), runtime config.

import { h, field, statusSlot, notice, errorText, table, timeEl, fmtNum, fmtMs, clear } from '../dom.js';
import { api } from '../api.js';

const TABS = [
  ['plugins', 'Plugins'],
  ['users', 'Users'],
  ['tokens', 'Tokens'],
  ['config', 'Runtime config'],
];

export async function render(el, ctx) {
  const tab = TABS.some(([k]) => k === ctx.route.sub) ? ctx.route.sub : 'plugins';
  el.append(
    h('h1', null, 'Admin'),
    h('nav', { 'aria-label': 'Admin sections' }, h('ul', { class: 'tabs' }, TABS.map(([k, label]) => {
      const a = h('a', { href: `#/admin/${k}` }, label);
      if (k === tab) a.setAttribute('aria-current', 'page');
      return h('li', null, a);
    }))),
  );
  const body = h('div', { id: `admin-${tab}` });
  el.append(body);
  await ({ plugins, users, tokens, config })[tab](body, ctx);
}

/** Items from a list answer: a bare array, or a page {items, next_cursor, has_more}. */
function itemsOf(data, key) {
  if (Array.isArray(data)) return { items: data, next: null };
  if (!data) return { items: [], next: null };
  return { items: data.items || data[key] || [], next: data.has_more ? data.next_cursor : null };
}

function missing(err, what) {
  if (err.status === 404 && err.code === 'not_found') {
    return notice('warn', `This server has no ${what} endpoint yet.`);
  }
  return notice('error', errorText(err));
}

// ---- plugins ------------------------------------------------------------------------

async function plugins(el, ctx) {
  const slot = statusSlot();
  const host = h('div', { 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Loading…'));
  el.append(h('p', { class: 'muted' }, 'Changes apply at once, without a restart. A disabled plugin’s routes answer 404.'), slot, host);
  const load = async () => {
    let items;
    try {
      ({ items } = itemsOf(await api('GET', '/admin/plugins'), 'plugins'));
    } catch (err) {
      host.replaceChildren(notice('error', errorText(err)));
      return;
    }
    if (!ctx.isCurrent()) return;
    const act = (p, verb) => h('button', { type: 'button', class: 'small', dataset: { plugin: p.name, action: verb }, onclick: async (e) => {
      e.target.disabled = true;
      slot.clear();
      try {
        await api('POST', `/admin/plugins/${encodeURIComponent(p.name)}/${verb}`);
        slot.show('ok', `${p.name}: ${verb}d.`);
        await load();
      } catch (err) {
        e.target.disabled = false;
        slot.show('error', `${p.name}: ${errorText(err)}`);
      }
    } }, verb[0].toUpperCase() + verb.slice(1));
    host.replaceChildren(items.length ? table([
      { label: 'Plugin', cell: (p) => [h('strong', null, p.name), p.description ? h('div', { class: 'small muted' }, p.description) : null] },
      { label: 'State', cell: (p) => h('span', { class: ['badge', p.state === 'enabled' ? 'ok' : p.state === 'failed' ? 'bad' : 'warn'], dataset: { state: p.state } }, p.state || '?') },
      { label: 'Version', cell: (p) => [p.version || '—', p.tier ? h('div', { class: 'small muted' }, p.tier) : null] },
      { label: 'Calls', num: true, cell: (p) => fmtNum(p.calls ?? 0) },
      { label: 'Errors', num: true, cell: (p) => fmtNum(p.errors ?? 0) },
      { label: 'p50', num: true, cell: (p) => fmtMs(p.p50_ms) },
      { label: 'p99', num: true, cell: (p) => fmtMs(p.p99_ms) },
      { label: 'Loaded', cell: (p) => (p.error ? h('span', { class: 'small error-text' }, p.error) : timeEl(p.loaded_at, true)) },
      { label: 'Actions', actions: true, cell: (p) => (p.state === 'failed' ? null : h('div', { class: 'row' },
        p.state === 'enabled' ? act(p, 'disable') : act(p, 'enable'), act(p, 'reload'))) },
    ], items, { caption: 'Plugins' }) : h('p', { class: 'muted' }, 'No plugins are loaded.'));
  };
  await load();
}

// ---- users --------------------------------------------------------------------------

async function users(el, ctx) {
  const slot = statusSlot();
  const host = h('div', null, h('p', { class: 'loading' }, 'Loading…'));
  const detail = h('div', { id: 'admin-user-tokens', 'aria-live': 'polite' });
  el.append(slot, host, detail);
  let data;
  try {
    data = await api('GET', '/admin/users?limit=100');
  } catch (err) {
    host.replaceChildren(missing(err, 'user-list (GET /admin/users)'));
    return;
  }
  if (!ctx.isCurrent()) return;
  const { items } = itemsOf(data, 'users');
  host.replaceChildren(table([
    { label: 'User', cell: (u) => [h('strong', null, u.email), u.display_name ? h('div', { class: 'small muted' }, u.display_name) : null] },
    { label: 'Status', cell: (u) => [
      u.is_master ? h('span', { class: 'badge' }, 'master') : null, ' ',
      u.is_active === false ? h('span', { class: 'badge bad' }, 'inactive') : h('span', { class: 'badge ok' }, 'active'), ' ',
      u.is_verified ? null : h('span', { class: 'badge warn' }, 'unverified')] },
    { label: 'Created', cell: (u) => timeEl(u.created_at) },
    { label: 'Last login', cell: (u) => timeEl(u.last_login_at, true) },
    { label: 'Active tokens', num: true, cell: (u) => fmtNum(u.active_token_count) },
    { label: 'Tokens (all)', num: true, cell: (u) => fmtNum(u.token_count) },
    { label: 'Actions', actions: true, cell: (u) => h('button', { type: 'button', class: 'small', onclick: () => userTokens(detail, u, slot) }, 'Tokens…') },
  ], items, { caption: 'Users' }));
}

async function userTokens(host, u, slot) {
  clear(host).append(h('h2', { tabindex: '-1' }, `Tokens of ${u.email}`), h('p', { class: 'loading' }, 'Loading…'));
  host.querySelector('h2').focus();
  try {
    const { items } = itemsOf(await api('GET', `/admin/users/${encodeURIComponent(u.id)}/tokens`), 'tokens');
    const revokeAll = h('button', { type: 'button', class: 'danger small', onclick: async () => {
      try {
        const r = await api('DELETE', `/admin/users/${encodeURIComponent(u.id)}/tokens`);
        slot.show('ok', `Revoked ${r && r.revoked !== undefined ? r.revoked : 'all'} token(s) of ${u.email}.`);
        await userTokens(host, u, slot);
      } catch (err) {
        slot.show('error', errorText(err));
      }
    } }, 'Revoke all');
    clear(host).append(h('h2', null, `Tokens of ${u.email}`), tokenTable(items, slot, () => userTokens(host, u, slot)), h('div', { class: 'actions' }, revokeAll));
  } catch (err) {
    clear(host).append(h('h2', null, `Tokens of ${u.email}`), missing(err, 'per-user token (GET /admin/users/{id}/tokens)'));
  }
}

// ---- tokens -------------------------------------------------------------------------

function tokenTable(items, slot, reload) {
  if (!items.length) return h('p', { class: 'muted' }, 'No tokens.');
  return table([
    { label: 'Token', cell: (t) => [h('strong', null, t.name), h('br'), h('code', { class: 'small' }, `${t.prefix}…`)] },
    { label: 'Owner', cell: (t) => t.user_email || t.email || t.user_id || '—' },
    { label: 'Tenant', cell: (t) => t.tenant || t.tenant_slug || t.tenant_id || '—' },
    { label: 'Scopes', cell: (t) => (t.scopes || []).map((s) => h('code', { class: 'badge' }, s)) },
    { label: 'Status', cell: (t) => (t.revoked ? h('span', { class: 'badge bad', title: t.revoke_reason || '' }, 'revoked') : h('span', { class: 'badge ok' }, 'active')) },
    { label: 'Last used', cell: (t) => timeEl(t.last_used_at, true) },
    { label: 'Requests', num: true, cell: (t) => fmtNum(t.request_count) },
    { label: 'Actions', actions: true, cell: (t) => (t.revoked ? null : h('button', { type: 'button', class: 'danger small', dataset: { token: t.id }, onclick: async (e) => {
      e.target.disabled = true;
      try {
        await api('POST', `/admin/tokens/${encodeURIComponent(t.id)}/revoke`);
        slot.show('ok', `Revoked ${t.name}.`);
        await reload();
      } catch (err) {
        e.target.disabled = false;
        slot.show('error', errorText(err));
      }
    } }, 'Revoke')) },
  ], items, { caption: 'Tokens', rowClass: (t) => (t.revoked ? 'revoked' : null) });
}

async function tokens(el, ctx) {
  const slot = statusSlot();
  const q = h('input', { type: 'search', name: 'q', placeholder: 'user id, tenant slug…' });
  const host = h('div', { 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Loading…'));
  let cursor = null;
  let all = [];
  const more = h('button', { type: 'button', hidden: true, onclick: () => load(false) }, 'Load more');
  const load = async (reset = true) => {
    if (reset) { cursor = null; all = []; }
    const params = new URLSearchParams();
    if (cursor) params.set('cursor', cursor);
    const v = q.value.trim();
    if (v) params.set(v.startsWith('usr_') ? 'user_id' : 'tenant', v);
    try {
      const { items, next } = itemsOf(await api('GET', `/admin/tokens${params.size ? `?${params}` : ''}`), 'tokens');
      if (!ctx.isCurrent()) return;
      all = all.concat(items);
      cursor = next;
      more.hidden = !next;
      host.replaceChildren(tokenTable(all, slot, () => load(true)));
    } catch (err) {
      host.replaceChildren(missing(err, 'token-list (GET /admin/tokens)'), h('p', null, 'You can still revoke a user’s tokens from ', h('a', { href: '#/admin/users' }, 'Users'), '.'));
    }
  };
  const form = h('form', { class: 'row' }, field('Filter (user id or tenant slug)', q), h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (e) => { e.preventDefault(); load(true); });
  el.append(form, slot, host, more);
  await load(true);
}

// ---- runtime config -----------------------------------------------------------------

function configInput(item) {
  const id = `cfg-${item.key}`;
  if (item.type === 'bool') {
    return h('input', { type: 'checkbox', role: 'switch', class: 'switch', id, name: item.key, checked: Boolean(item.value) });
  }
  if (item.type === 'int' || item.type === 'float') {
    return h('input', { type: 'number', id, name: item.key, value: String(item.value ?? ''), min: item.min_value ?? null, max: item.max_value ?? null, step: item.type === 'int' ? '1' : 'any', inputmode: 'numeric' });
  }
  return h('input', { type: 'text', id, name: item.key, value: item.value === null || item.value === undefined ? '' : String(item.value) });
}

function readInput(item, input) {
  if (item.type === 'bool') return input.checked;
  if (item.type === 'int') return Number.parseInt(input.value, 10);
  if (item.type === 'float') return Number(input.value);
  if (item.type === 'json') return JSON.parse(input.value);
  return input.value;
}

async function config(el, ctx) {
  const host = h('div', null, h('p', { class: 'loading' }, 'Loading…'));
  el.append(h('p', { class: 'muted' }, 'Live tunables: a change reaches every instance within a second and is audited.'), host);
  let items;
  try {
    ({ items } = itemsOf(await api('GET', '/admin/config'), 'items'));
  } catch (err) {
    host.replaceChildren(notice('error', errorText(err)));
    return;
  }
  if (!ctx.isCurrent()) return;
  const groups = new Map();
  for (const it of items) {
    const c = it.category || 'general';
    if (!groups.has(c)) groups.set(c, []);
    groups.get(c).push(it);
  }
  clear(host);
  for (const [cat, list] of groups) {
    const sec = h('section', { class: 'card' }, h('h2', null, cat.replace(/_/g, ' ')));
    for (const it of list) sec.append(configRow(it));
    host.append(sec);
  }
}

function configRow(item) {
  const input = configInput(item);
  const slot = statusSlot();
  const defText = h('span', { class: 'small muted' });
  const paint = (it) => {
    defText.textContent = it.is_default ? `default (${JSON.stringify(it.default)})` : `changed · default ${JSON.stringify(it.default)}${it.updated_at ? ` · ${new Date(it.updated_at).toLocaleString()}` : ''}`;
  };
  paint(item);
  const form = h('form', { class: 'config-item', dataset: { key: item.key } },
    h('div', { class: 'field' },
      h('label', { for: input.id }, h('code', null, item.key)),
      item.description ? h('p', { class: 'hint' }, item.description) : null,
      h('div', { class: 'row' }, input,
        h('button', { type: 'submit', class: 'small primary' }, 'Save'),
        h('button', { type: 'button', class: 'small', onclick: async () => {
          try {
            const it = await api('DELETE', `/admin/config/${encodeURIComponent(item.key)}`);
            if (item.type === 'bool') input.checked = Boolean(it.value);
            else input.value = String(it.value ?? '');
            paint(it);
            slot.show('ok', 'Reset to the default.');
          } catch (err) {
            slot.show('error', errorText(err));
          }
        } }, 'Reset'),
        defText)),
    slot);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const it = await api('PUT', `/admin/config/${encodeURIComponent(item.key)}`, { body: { value: readInput(item, input) } });
      paint(it);
      slot.show('ok', 'Saved.');
    } catch (err) {
      slot.show('error', errorText(err));
    }
  });
  return form;
}
