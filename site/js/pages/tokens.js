// API tokens in the current tenant: create (scope picker from GET /scopes, IP
// allowlist, expiry), the secret shown once with a copy button, rotate (with
// an optional grace period), revoke with a reason, edit name / allowlist.

import { h, field, statusSlot, busy, errorText, notice, table, timeEl, fmtNum, setFieldError, copyText, clear } from '../dom.js';
import { api } from '../api.js';
import { currentTenant } from '../app.js';

// ---- IP allowlist validation (mirrors the server: addresses or CIDR ranges) ------------

const V4_OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function isV4(s) {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => V4_OCTET.test(p));
}

function isV6(s) {
  if (!s.includes(':') || !/^[0-9a-fA-F:.]+$/.test(s)) return false;
  try {
    // The URL parser implements the full IPv6 grammar.
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

/** null if `entry` is an IP or CIDR range, else the reason. */
export function ipEntryError(entry) {
  const [addr, prefix, extra] = entry.split('/');
  if (extra !== undefined) return 'has more than one "/"';
  const v4 = isV4(addr);
  const v6 = !v4 && isV6(addr);
  if (!v4 && !v6) return 'is not an IPv4 or IPv6 address';
  if (prefix !== undefined) {
    if (!/^\d{1,3}$/.test(prefix)) return 'has a bad prefix length';
    const n = Number(prefix);
    if (n > (v4 ? 32 : 128)) return `prefix length must be at most ${v4 ? 32 : 128}`;
  }
  return null;
}

/** Splits the textarea into entries; returns {entries, error}. */
export function parseAllowlist(text) {
  const entries = text.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
  if (entries.length > 100) return { entries, error: 'At most 100 entries.' };
  for (const e of entries) {
    const why = ipEntryError(e);
    if (why) return { entries, error: `“${e.slice(0, 64)}” ${why}.` };
  }
  return { entries, error: null };
}

function allowlistField(initial = []) {
  const ta = h('textarea', { name: 'allowed_ips', rows: '3', spellcheck: 'false', autocomplete: 'off', placeholder: '203.0.113.7\n10.0.0.0/8\n2001:db8::/32' });
  ta.value = initial.join('\n');
  const check = () => {
    const { error } = parseAllowlist(ta.value);
    setFieldError(ta, error);
    return !error;
  };
  ta.addEventListener('blur', check);
  ta.addEventListener('input', () => { if (ta.getAttribute('aria-invalid')) check(); });
  const wrap = field('IP allowlist (optional)', ta, 'One address or CIDR range per line. Empty: any IP may use the token.');
  return { wrap, ta, check };
}

// ---- the once-only secret ---------------------------------------------------------------

function secretPanel(host, title, token, onDone) {
  clear(host);
  const input = h('input', { type: 'text', readonly: true, value: token.token, 'aria-label': 'Token secret', class: 'mono', id: 'new-token-secret', spellcheck: 'false', autocomplete: 'off' });
  const said = h('span', { class: 'small', 'aria-live': 'polite' });
  const copyBtn = h('button', { type: 'button', class: 'primary', id: 'copy-secret', onclick: async () => {
    const ok = await copyText(input.value, input);
    said.textContent = ok ? 'Copied to the clipboard.' : 'Press Ctrl+C (⌘C) to copy the selected secret.';
    copyBtn.textContent = ok ? 'Copied' : 'Copy';
  } }, 'Copy');
  const panel = h('section', { class: 'card secret', 'aria-labelledby': 'secret-title' },
    h('h2', { id: 'secret-title', tabindex: '-1' }, title),
    h('p', null, h('strong', null, 'Copy it now: '), 'this is the only time the secret is shown. Kiwi stores only a hash.'),
    h('div', { class: 'secret-value' }, input, copyBtn),
    said,
    h('p', { class: 'small muted' }, 'Send it as ', h('code', null, 'Authorization: Bearer <token>'), ' or ', h('code', null, 'X-API-Key: <token>'), '.'),
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => { input.value = ''; clear(host); onDone && onDone(); } }, 'Done, I saved it')),
  );
  host.append(panel);
  panel.querySelector('h2').focus();
}

// ---- page ---------------------------------------------------------------------------

export async function render(el, ctx) {
  const tenant = currentTenant();
  const secretHost = h('div', { id: 'secret-host' });
  const listHost = h('div', { id: 'token-list', 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Loading tokens…'));
  el.append(
    h('h1', null, 'API tokens'),
    h('p', { class: 'muted' }, 'Tokens in tenant ', h('strong', null, tenant), '. A token only carries the scopes you pick.'),
    secretHost,
  );

  let scopes = [];
  try {
    scopes = await api('GET', '/scopes', { anonymous: true });
  } catch (err) {
    el.append(notice('error', `Couldn’t load the scope registry: ${errorText(err)}`));
  }
  if (!ctx.isCurrent()) return;

  const reload = async () => {
    try {
      const list = await api('GET', '/tokens', { tenant });
      renderList(listHost, list, { tenant, secretHost, reload });
    } catch (err) {
      listHost.replaceChildren(notice('error', errorText(err)));
    }
  };

  el.append(createForm(scopes, { tenant, secretHost, reload }), h('h2', null, 'Your tokens'), listHost);
  await reload();
}

function scopePicker(scopes) {
  const groups = new Map();
  for (const s of scopes) {
    const key = s.plugin ? `Plugin: ${s.plugin}` : 'Platform scopes';
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(s);
  }
  const filter = h('input', { type: 'search', placeholder: 'Filter scopes', 'aria-label': 'Filter scopes', class: 'scope-filter' });
  const box = h('div', { class: 'scope-groups' });
  for (const [label, list] of [...groups.entries()].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))) {
    box.append(h('fieldset', { class: ['scope-group', list.length > 6 ? 'wide' : ''] }, h('legend', null, label),
      list.map((s) => {
        const id = `scope-${s.name.replace(/[^a-z0-9_-]/gi, '_')}`;
        return h('div', { class: 'check', dataset: { scope: s.name } },
          h('input', { type: 'checkbox', name: 'scopes', value: s.name, id }),
          h('label', { for: id }, h('code', null, s.name), s.description ? h('span', { class: 'muted small' }, ` — ${s.description}`) : null));
      })));
  }
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    for (const row of box.querySelectorAll('[data-scope]')) {
      row.hidden = Boolean(q) && !row.textContent.toLowerCase().includes(q);
    }
  });
  const err = h('p', { class: 'error-text', id: 'scopes-err', hidden: true });
  const fs = h('fieldset', { 'aria-describedby': 'scopes-err' }, h('legend', null, 'Scopes'),
    scopes.length > 8 ? h('div', { class: 'field' }, filter) : null,
    scopes.length ? box : h('p', { class: 'muted' }, 'No scopes are registered yet.'),
    err);
  fs.showError = (msg) => { err.textContent = msg || ''; err.hidden = !msg; };
  return fs;
}

function createForm(scopes, env) {
  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: '80', autocomplete: 'off', placeholder: 'CI pipeline' });
  const picker = scopePicker(scopes);
  const ips = allowlistField();
  const expiry = h('select', { name: 'expires_in_days' },
    h('option', { value: '30', selected: true }, '30 days'),
    h('option', { value: '60' }, '60 days'),
    h('option', { value: '90' }, '90 days'),
    h('option', { value: 'never' }, 'Never'));
  const slot = statusSlot();
  const form = h('form', { class: 'card', id: 'create-token' },
    h('h2', null, 'Create a token'),
    field('Name', name),
    picker,
    ips.wrap,
    field('Expires after', expiry),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create token')),
    slot,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    picker.showError(null);
    const chosen = [...form.querySelectorAll('input[name="scopes"]:checked')].map((c) => c.value);
    if (!chosen.length) {
      picker.showError('Pick at least one scope.');
      form.querySelector('input[name="scopes"]')?.focus();
      return;
    }
    if (!ips.check()) {
      ips.ta.focus();
      return;
    }
    busy(form, slot, async () => {
      const body = {
        name: name.value.trim(),
        scopes: chosen,
        allowed_ips: parseAllowlist(ips.ta.value).entries,
        expires_in_days: expiry.value === 'never' ? null : Number(expiry.value),
      };
      const created = await api('POST', '/tokens', { body, tenant: env.tenant });
      form.reset();
      secretPanel(env.secretHost, `Your new token “${created.name}”`, created);
      await env.reload();
    });
  });
  return form;
}

function statusBadge(t) {
  if (t.revoked) return h('span', { class: 'badge bad', title: t.revoke_reason || '' }, 'revoked');
  if (t.expires_at && t.expires_at < Date.now()) return h('span', { class: 'badge warn' }, 'expired');
  if (t.grace_until && t.grace_until > Date.now()) return h('span', { class: 'badge warn' }, 'rotating');
  return h('span', { class: 'badge ok' }, 'active');
}

function renderList(host, list, env) {
  if (!list.length) {
    host.replaceChildren(h('p', { class: 'muted' }, 'No tokens yet. Create one above.'));
    return;
  }
  const sorted = [...list].sort((a, b) => Number(a.revoked) - Number(b.revoked) || b.created_at - a.created_at);
  host.replaceChildren(table([
    { label: 'Name', cell: (t) => [h('strong', null, t.name), h('br'), h('code', { class: 'small' }, `${t.prefix}…`)] },
    { label: 'Scopes', cell: (t) => (t.scopes || []).map((s) => h('code', { class: 'badge' }, s)) },
    { label: 'Status', cell: (t) => [statusBadge(t), t.revoked && t.revoke_reason ? h('div', { class: 'small muted' }, t.revoke_reason) : null] },
    { label: 'Last used', cell: (t) => timeEl(t.last_used_at, true) },
    { label: 'Requests', num: true, cell: (t) => fmtNum(t.request_count) },
    { label: 'Expires', cell: (t) => (t.expires_at ? timeEl(t.expires_at) : 'never') },
    { label: 'IPs', num: true, cell: (t) => (t.allowed_ip_count ? String(t.allowed_ip_count) : 'any') },
    { label: 'Actions', actions: true, cell: (t) => actions(t, env) },
  ], sorted, { caption: 'Your API tokens', rowClass: (t) => (t.revoked ? 'revoked' : null) }));
}

function actions(t, env) {
  const wrap = h('div', { class: 'row', dataset: { token: t.id } });
  wrap.append(h('a', { class: 'button small', href: `#/usage?token=${encodeURIComponent(t.id)}` }, 'Usage'));
  if (t.revoked) return wrap;

  // Rotate.
  const grace = h('select', { name: 'grace_seconds' },
    h('option', { value: '0' }, 'No grace: the old secret stops now'),
    h('option', { value: '300' }, '5 minutes'),
    h('option', { value: '3600' }, '1 hour'),
    h('option', { value: '86400' }, '24 hours'));
  const rotSlot = statusSlot();
  const rotForm = h('form', { class: 'popover' }, field('Keep the old secret working for', grace),
    h('button', { type: 'submit', class: 'primary small' }, 'Rotate now'), rotSlot);
  rotForm.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(rotForm, rotSlot, async () => {
      const g = Number(grace.value);
      const rotated = await api('POST', `/tokens/${encodeURIComponent(t.id)}/rotate`, { body: g ? { grace_seconds: g } : {}, tenant: env.tenant });
      secretPanel(env.secretHost, `New secret for “${rotated.name}”`, rotated);
      await env.reload();
    });
  });
  wrap.append(h('details', { class: 'inline' }, h('summary', { class: 'button small' }, 'Rotate…'), rotForm));

  // Edit name / allowlist.
  const nm = h('input', { type: 'text', name: 'name', required: true, maxlength: '80', value: t.name });
  const ips = allowlistField(t.allowed_ips || []);
  const editSlot = statusSlot();
  const editForm = h('form', { class: 'popover' }, field('Name', nm), ips.wrap,
    h('button', { type: 'submit', class: 'small' }, 'Save'), editSlot);
  editForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!ips.check()) return;
    busy(editForm, editSlot, async () => {
      await api('PATCH', `/tokens/${encodeURIComponent(t.id)}`, { body: { name: nm.value.trim(), allowed_ips: parseAllowlist(ips.ta.value).entries }, tenant: env.tenant });
      await env.reload();
    });
  });
  wrap.append(h('details', { class: 'inline' }, h('summary', { class: 'button small' }, 'Edit…'), editForm));

  // Revoke.
  const reason = h('input', { type: 'text', name: 'reason', required: true, maxlength: '200', placeholder: 'No longer used' });
  const revSlot = statusSlot();
  const revForm = h('form', { class: 'popover' }, field('Reason (kept with the token)', reason),
    h('button', { type: 'submit', class: 'danger small' }, 'Revoke token'), revSlot);
  revForm.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(revForm, revSlot, async () => {
      await api('POST', `/tokens/${encodeURIComponent(t.id)}/revoke`, { body: { reason: reason.value.trim() }, tenant: env.tenant });
      await env.reload();
    });
  });
  wrap.append(h('details', { class: 'inline' }, h('summary', { class: 'button small' }, 'Revoke…'), revForm));
  return wrap;
}
