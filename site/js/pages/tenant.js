// Tenant admin: the user's tenants (switch, create), the current tenant's
// members and roles, and its plugins with on/off switches (its feature set).

import { h, field, statusSlot, busy, notice, errorText, table, timeEl, clear } from '../dom.js';
import * as session from '../api.js';
import { api } from '../api.js';
import { currentTenant, setTenant, tenantRole, refreshPage } from '../app.js';

const ROLES = ['member', 'admin', 'owner'];

export async function render(el, ctx) {
  const slug = currentTenant();
  const role = tenantRole(slug);
  const me = session.me();
  const isAdmin = role === 'owner' || role === 'admin' || role === 'master';

  el.append(h('h1', null, 'Tenant'));
  let info = null;
  try {
    info = await api('GET', `/tenants/${encodeURIComponent(slug)}`);
  } catch (err) {
    el.append(notice('error', errorText(err)));
  }
  if (!ctx.isCurrent()) return;
  if (info) {
    el.append(h('section', { class: 'card' },
      h('h2', null, info.name || info.slug),
      h('dl', null,
        h('dt', null, 'Slug'), h('dd', null, h('code', null, info.slug)),
        h('dt', null, 'Plan'), h('dd', null, info.plan || '—'),
        h('dt', null, 'Your role'), h('dd', null, h('span', { class: 'badge' }, role === 'master' ? 'platform administrator' : role || '—')),
        h('dt', null, 'Rate limit'), h('dd', null, info.rate_limit_per_min ? `${info.rate_limit_per_min} requests / min per token` : 'platform default')),
      isAdmin ? h('p', null, h('a', { href: '#/usage?view=tenant' }, 'Tenant usage →')) : null));
  }

  const pluginsHost = h('section', { class: 'card', id: 'tenant-plugins' }, h('h2', null, 'Plugins'), h('p', { class: 'loading' }, 'Loading…'));
  const membersHost = h('section', { class: 'card', id: 'tenant-members' }, h('h2', null, 'Members'), h('p', { class: 'loading' }, 'Loading…'));
  if (isAdmin) {
    el.append(pluginsHost, membersHost);
    await Promise.all([renderPlugins(pluginsHost, slug, ctx), renderMembers(membersHost, slug, role, me, ctx)]);
  } else {
    el.append(notice('info', 'Members and plugins of this tenant are managed by its owners and admins.'));
  }
  el.append(createTenantForm());
}

// ---- plugins (feature set) ------------------------------------------------------------

function pluginList(data) {
  if (Array.isArray(data)) return data;
  return (data && (data.items || data.plugins)) || [];
}

async function renderPlugins(host, slug, ctx) {
  const slot = statusSlot();
  let items;
  try {
    items = pluginList(await api('GET', `/tenants/${encodeURIComponent(slug)}/plugins`));
  } catch (err) {
    if (!ctx.isCurrent()) return;
    host.replaceChildren(h('h2', null, 'Plugins'), notice(err.status === 404 ? 'warn' : 'error',
      err.status === 404 ? 'This server does not offer per-tenant plugin settings yet.' : errorText(err)));
    return;
  }
  if (!ctx.isCurrent()) return;
  const list = h('ul', { class: 'plugin-switches', role: 'list' });
  if (!items.length) list.append(h('li', { class: 'muted' }, 'No plugins are installed.'));
  for (const p of items) {
    const id = `plugin-switch-${p.name}`;
    const platformOff = p.platform_enabled === false || p.state === 'disabled';
    const sw = h('input', { type: 'checkbox', role: 'switch', class: 'switch', id, checked: Boolean(p.enabled), disabled: platformOff, dataset: { plugin: p.name } });
    const stateText = h('span', { class: 'small muted', id: `${id}-state` }, p.enabled ? 'on' : 'off');
    sw.setAttribute('aria-describedby', `${id}-state`);
    sw.addEventListener('change', async () => {
      const want = sw.checked;
      sw.disabled = true;
      slot.clear();
      try {
        const r = await api('PUT', `/tenants/${encodeURIComponent(slug)}/plugins/${encodeURIComponent(p.name)}`, { body: { enabled: want } });
        const now = r && typeof r.enabled === 'boolean' ? r.enabled : want;
        sw.checked = now;
        stateText.textContent = now ? 'on' : 'off';
        slot.show('ok', `${p.name} is now ${now ? 'on' : 'off'} for ${slug}.`);
      } catch (err) {
        sw.checked = !want;
        slot.show('error', errorText(err));
      } finally {
        sw.disabled = false;
      }
    });
    list.append(h('li', { class: 'row spread', dataset: { plugin: p.name } },
      h('div', null,
        h('label', { for: id }, h('strong', null, p.name), p.version ? h('span', { class: 'muted small' }, ` v${p.version}`) : null),
        p.description ? h('div', { class: 'small muted' }, p.description) : null,
        platformOff ? h('div', { class: 'small' }, h('span', { class: 'badge warn' }, 'disabled platform-wide')) : null),
      h('div', { class: 'row' }, stateText, sw)));
  }
  host.replaceChildren(h('h2', null, 'Plugins'),
    h('p', { class: 'muted' }, 'Switch a plugin off and its routes answer 404 for this tenant’s tokens only.'),
    list, slot);
}

// ---- members ------------------------------------------------------------------------

async function renderMembers(host, slug, role, me, ctx) {
  const slot = statusSlot();
  let members;
  try {
    ({ members } = await api('GET', `/tenants/${encodeURIComponent(slug)}/members`));
  } catch (err) {
    if (!ctx.isCurrent()) return;
    host.replaceChildren(h('h2', null, 'Members'), notice('error', errorText(err)));
    return;
  }
  if (!ctx.isCurrent()) return;
  const reload = () => renderMembers(host, slug, role, me, ctx);
  const mayGrant = (r) => role === 'master' || role === 'owner' || r !== 'owner';

  const rows = table([
    { label: 'Member', cell: (m) => [m.display_name ? h('strong', null, m.display_name) : null, m.display_name ? h('br') : null, m.email, m.user_id === me.id ? [' ', h('span', { class: 'badge' }, 'you')] : null] },
    { label: 'Role', cell: (m) => {
      const sel = h('select', { 'aria-label': `Role of ${m.email}`, dataset: { member: m.user_id }, disabled: !mayGrant(m.role) },
        ROLES.map((r) => h('option', { value: r, selected: r === m.role, disabled: !mayGrant(r) }, r)));
      sel.addEventListener('change', async () => {
        sel.disabled = true;
        try {
          await api('PATCH', `/tenants/${encodeURIComponent(slug)}/members/${encodeURIComponent(m.user_id)}`, { body: { role: sel.value } });
          slot.show('ok', `${m.email} is now ${sel.value}.`);
          if (m.user_id === me.id) { await session.reloadMe(); refreshPage(); return; }
        } catch (err) {
          sel.value = m.role;
          slot.show('error', errorText(err));
        }
        sel.disabled = false;
      });
      return sel;
    } },
    { label: 'Joined', cell: (m) => timeEl(m.joined_at) },
    { label: 'Actions', actions: true, cell: (m) => h('button', { type: 'button', class: 'small', disabled: !mayGrant(m.role), onclick: async (e) => {
      e.target.disabled = true;
      try {
        await api('DELETE', `/tenants/${encodeURIComponent(slug)}/members/${encodeURIComponent(m.user_id)}`);
        if (m.user_id === me.id) { await session.reloadMe(); setTenant(null); refreshPage(); return; }
        await reload();
      } catch (err) {
        e.target.disabled = false;
        slot.show('error', errorText(err));
      }
    } }, m.user_id === me.id ? 'Leave' : 'Remove') },
  ], members || [], { caption: `Members of ${slug}` });

  const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'off' });
  const newRole = h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r, disabled: !mayGrant(r) }, r)));
  const addSlot = statusSlot();
  const add = h('form', { class: 'row', id: 'add-member' },
    field('Email of an existing user', email), field('Role', newRole),
    h('button', { type: 'submit', class: 'primary' }, 'Add member'));
  add.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(add, addSlot, async () => {
      await api('POST', `/tenants/${encodeURIComponent(slug)}/members`, { body: { email: email.value.trim(), role: newRole.value } });
      await reload();
    });
  });
  clear(host).append(h('h2', null, 'Members'), rows, slot, h('h3', null, 'Add a member'), add, addSlot);
}

// ---- create -------------------------------------------------------------------------

function createTenantForm() {
  const slug = h('input', { type: 'text', name: 'slug', required: true, minlength: '3', maxlength: '40', pattern: '[a-z0-9]([a-z0-9\\-]*[a-z0-9])?', autocomplete: 'off', spellcheck: 'false' });
  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: '80', autocomplete: 'organization' });
  const slot = statusSlot();
  const form = h('form', { class: 'card', id: 'create-tenant' },
    h('h2', null, 'Create a tenant'),
    h('p', { class: 'muted' }, 'You become its owner. Tokens are minted per tenant.'),
    field('Slug', slug, 'Lowercase letters, digits and dashes; 3 to 40 characters.'),
    field('Name', name),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create tenant')),
    slot);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, slot, async () => {
      const t = await api('POST', '/tenants', { body: { slug: slug.value.trim(), name: name.value.trim() } });
      await session.reloadMe();
      setTenant(t.slug);
      refreshPage();
    });
  });
  return form;
}
