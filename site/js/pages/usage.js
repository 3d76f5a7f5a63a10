// Usage charts: per day, per route and per status class, for the user (all
// tokens), one token, the current tenant (owners/admins) or, for the master,
// the whole platform.

import { h, field, notice, errorText } from '../dom.js';
import { api, me } from '../api.js';
import { currentTenant, tenantRole, navigate } from '../app.js';
import { dayChart, routeBars, statusChart, statTiles } from '../charts.js';

const DAY_CHOICES = [1, 7, 30, 90];

export async function render(el, ctx) {
  const params = ctx.route.params;
  const tenant = currentTenant();
  const role = tenantRole(tenant);
  const canTenant = role === 'owner' || role === 'admin' || role === 'master' || (me() && me().is_master);
  const days = DAY_CHOICES.includes(Number(params.get('days'))) ? Number(params.get('days')) : 7;
  const tokenId = params.get('token');
  let view = params.get('view') || (tokenId ? 'token' : 'me');
  if (view === 'tenant' && !canTenant) view = 'me';

  el.append(h('h1', null, 'Usage'));

  let tokens = [];
  try {
    tokens = await api('GET', '/tokens', { tenant });
  } catch (err) {
    el.append(notice('error', `Couldn’t load your tokens: ${errorText(err)}`));
  }
  if (!ctx.isCurrent()) return;

  // Controls: a plain form; changing it updates the hash (so views are linkable).
  const what = h('select', { name: 'what', id: 'usage-what' },
    h('option', { value: 'me', selected: view === 'me' }, 'All my tokens'),
    tokens.map((t) => h('option', { value: `token:${t.id}`, selected: view === 'token' && tokenId === t.id }, `Token: ${t.name} (${t.prefix}…)${t.revoked ? ' — revoked' : ''}`)),
    canTenant ? h('option', { value: 'tenant', selected: view === 'tenant' }, `Tenant: ${tenant}`) : null,
    me() && me().is_master ? h('option', { value: 'global', selected: view === 'global' }, 'Whole platform') : null);
  const daySel = h('select', { name: 'days', id: 'usage-days' }, DAY_CHOICES.map((d) => h('option', { value: String(d), selected: d === days }, d === 1 ? 'Last 24 hours' : `Last ${d} days`)));
  const form = h('form', { class: 'card row', id: 'usage-controls' },
    field('Show', what), field('Window', daySel),
    h('button', { type: 'submit' }, 'Refresh'));
  const go = (e) => {
    if (e) e.preventDefault();
    const v = what.value;
    const q = new URLSearchParams({ days: daySel.value });
    if (v.startsWith('token:')) q.set('token', v.slice(6));
    else q.set('view', v);
    navigate(`#/usage?${q}`);
  };
  form.addEventListener('submit', go);
  what.addEventListener('change', go);
  daySel.addEventListener('change', go);
  el.append(form);

  let path;
  let label;
  if (view === 'token' && tokenId) {
    path = `/tokens/${encodeURIComponent(tokenId)}/activity`;
    const t = tokens.find((x) => x.id === tokenId);
    label = t ? `token “${t.name}”` : 'this token';
  } else if (view === 'tenant') {
    path = `/tenants/${encodeURIComponent(tenant)}/usage`;
    label = `tenant ${tenant}`;
  } else if (view === 'global') {
    path = '/admin/usage';
    label = 'the whole platform';
  } else {
    path = '/tokens/activity';
    label = 'all your tokens';
  }

  const out = h('div', { id: 'usage-out', 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Loading…'));
  el.append(out);
  try {
    const sum = await api('GET', `${path}?days=${days}`, { tenant });
    if (!ctx.isCurrent()) return;
    out.replaceChildren(
      h('p', { class: 'muted' }, `Usage of ${label}, last ${days === 1 ? '24 hours' : `${days} days`}. Only API-token calls are counted.`),
      statTiles(sum),
      h('div', { class: 'grid' },
        h('section', { class: 'card' }, h('h2', null, 'Per day'), dayChart(sum.by_day, days)),
        h('section', { class: 'card' }, h('h2', null, 'Per status class'), statusChart(sum.by_status_class))),
      h('section', { class: 'card', id: 'usage-routes' }, h('h2', null, 'Per route'), routeBars(sum.by_route)),
    );
  } catch (err) {
    out.replaceChildren(notice('error', errorText(err)));
  }
}
