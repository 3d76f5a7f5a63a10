// Home: what Kiwi is, and for a signed-in user, where to go next.

import { h } from '../dom.js';
import * as session from '../api.js';
import { currentTenant } from '../app.js';

export async function render(el) {
  const me = session.me();
  if (me) {
    el.append(
      h('h1', null, `Welcome back${me.display_name ? `, ${me.display_name}` : ''}`),
      me.is_verified ? null : h('div', { class: 'notice warn' },
        h('p', null, 'Your email address is not verified yet. ', h('a', { href: '#/check-email' }, 'Resend the link'))),
      h('p', { class: 'muted' }, `Signed in as ${me.email} · tenant `, h('strong', null, currentTenant())),
      h('div', { class: 'grid' },
        card('API tokens', 'Create tokens with just the scopes they need, limit them to your IPs, rotate and revoke them.', '#/tokens', 'Manage tokens'),
        card('Usage', 'Requests per day, per route and per status class, for you, each token and your tenant.', '#/usage', 'See usage'),
        card('API reference', 'Every route your tenant can call, with a "try it" box for your token.', '#/reference', 'Open the reference'),
        card('Tenant', 'Members and roles, and which plugins your tenant uses.', '#/tenant', 'Tenant settings'),
        me.is_master ? card('Admin', 'Plugins, users, tokens and runtime configuration for the whole platform.', '#/admin', 'Open the console') : null,
      ),
    );
    return;
  }
  el.append(
    h('section', { class: 'hero' },
      h('h1', null, 'Kiwi: one API key, many APIs'),
      h('p', null, 'Kiwi is a multi-tenant developer API. Sign up, mint a scoped token, and call any plugin under ', h('code', null, '/v1'), '.'),
      h('div', { class: 'actions' },
        h('a', { class: 'button primary', href: '#/signup' }, 'Create an account'),
        h('a', { class: 'button', href: '#/login' }, 'Log in'),
        h('a', { class: 'button', href: '#/reference' }, 'Browse the API'),
      ),
    ),
    h('div', { class: 'grid' },
      info('Scoped tokens', 'Each token carries only the scopes you pick, an optional IP allowlist and an expiry. Secrets are shown once.'),
      info('Usage you can see', 'Per-day, per-route and per-status charts for every token, drawn right in the page.'),
      info('Try it live', 'The reference is generated from the running server, so it always matches what you can call.'),
    ),
  );
}

function card(title, text, href, cta) {
  return h('section', { class: 'card' }, h('h2', null, title), h('p', null, text), h('a', { class: 'button', href }, cta));
}

function info(title, text) {
  return h('section', { class: 'card' }, h('h2', null, title), h('p', null, text));
}
