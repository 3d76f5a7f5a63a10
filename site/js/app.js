// The portal shell: hash router (#/tokens …; paths like /tokens belong to the
// API, so the portal never uses them), navigation, tenant and theme pickers,
// flash messages. Pages live in ./pages/*.js and are loaded on demand.

import * as session from './api.js';
import { locker, applyTheme } from './locker.js';
import { h, clear, notice, errorText } from './dom.js';

const ROUTES = {
  '/': { page: 'home' },
  '/signup': { page: 'auth', view: 'signup', guest: true },
  '/login': { page: 'auth', view: 'login', guest: true },
  '/check-email': { page: 'auth', view: 'checkEmail' },
  '/forgot': { page: 'auth', view: 'forgot' },
  '/reset': { page: 'auth', view: 'reset' },
  '/verify': { page: 'auth', view: 'verify' },
  '/tokens': { page: 'tokens', auth: true },
  '/usage': { page: 'usage', auth: true },
  '/sessions': { page: 'sessions', auth: true },
  '/account': { page: 'account', auth: true },
  '/tenant': { page: 'tenant', auth: true },
  '/admin': { page: 'admin', auth: true, master: true },
  '/reference': { page: 'reference' },
};

const NAV_IN = [
  ['#/tokens', 'Tokens'],
  ['#/usage', 'Usage'],
  ['#/tenant', 'Tenant'],
  ['#/sessions', 'Sessions'],
  ['#/account', 'Account'],
  ['#/reference', 'API reference'],
];
const NAV_OUT = [
  ['#/login', 'Log in'],
  ['#/signup', 'Sign up'],
  ['#/reference', 'API reference'],
];

const main = document.getElementById('main');
const flashBox = document.getElementById('flash');
let renderSeq = 0;
let firstRender = true;

/** Parses location.hash into {path, params, sub}. "#/admin/users?x=1" → path "/admin", sub "users". */
function currentRoute() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [pathPart, query = ''] = raw.split('?');
  const segs = pathPart.split('/').filter(Boolean);
  const path = `/${segs[0] || ''}`;
  return { path, sub: segs.slice(1).join('/'), params: new URLSearchParams(query), full: raw };
}

export function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

/** A message shown above the page until the next navigation (or `sticky`). */
let flashKeep = false;
export function flash(kind, text) {
  clear(flashBox);
  flashKeep = Boolean(text);
  if (text) flashBox.append(notice(kind, text));
}

/** The tenant the portal acts in (X-Kiwi-Tenant): last chosen, if still a member. */
export function currentTenant() {
  const me = session.me();
  const tenants = (me && me.tenants) || [];
  const saved = locker.get('tenant');
  if (saved && (tenants.some((t) => t.slug === saved) || (me && me.is_master))) return saved;
  if (tenants.length) return tenants[0].slug;
  return 'default';
}

export function setTenant(slug) {
  locker.set('tenant', slug);
  renderTenantPicker();
}

/** The signed-in user's role in the current tenant (master counts as owner). */
export function tenantRole(slug = currentTenant()) {
  const me = session.me();
  if (!me) return null;
  const t = (me.tenants || []).find((x) => x.slug === slug);
  if (t) return t.role;
  return me.is_master ? 'master' : null;
}

function renderNav() {
  const ul = document.getElementById('nav-links');
  clear(ul);
  const me = session.me();
  const items = me ? [...NAV_IN] : [...NAV_OUT];
  if (me && me.is_master) items.splice(5, 0, ['#/admin', 'Admin']);
  const { path } = currentRoute();
  for (const [href, label] of items) {
    const a = h('a', { href }, label);
    if (href.slice(1) === path) a.setAttribute('aria-current', 'page');
    ul.append(h('li', null, a));
  }
  if (me) {
    ul.append(h('li', null, h('button', {
      type: 'button',
      class: 'link',
      id: 'logout-button',
      onclick: async () => {
        try {
          await session.logout();
        } catch { /* the local session is gone either way */ }
        flash('ok', 'You are logged out.');
        navigate('#/login');
      },
    }, 'Log out')));
  }
}

function renderTenantPicker() {
  const wrap = document.getElementById('tenant-pick');
  const sel = document.getElementById('tenant-select');
  const me = session.me();
  clear(sel);
  if (!me) {
    wrap.hidden = true;
    return;
  }
  const cur = currentTenant();
  const tenants = [...(me.tenants || [])];
  if (!tenants.some((t) => t.slug === cur)) tenants.push({ slug: cur, name: cur, role: 'master' });
  for (const t of tenants) {
    sel.append(h('option', { value: t.slug, selected: t.slug === cur }, `Tenant: ${t.name || t.slug}`));
  }
  wrap.hidden = false;
}

function setupChrome() {
  const themeSel = document.getElementById('theme-select');
  themeSel.value = locker.get('theme') || 'auto';
  themeSel.addEventListener('change', () => {
    locker.set('theme', themeSel.value);
    applyTheme(themeSel.value);
  });
  document.getElementById('tenant-select').addEventListener('change', (e) => {
    setTenant(e.target.value);
    render();
  });
  // The skip link must not change the hash (the router owns it).
  document.querySelector('.skip-link').addEventListener('click', (e) => {
    e.preventDefault();
    main.focus();
    main.scrollIntoView();
  });
  const toggle = document.getElementById('nav-toggle');
  const nav = document.getElementById('site-nav');
  toggle.addEventListener('click', () => {
    const open = !nav.classList.contains('open');
    nav.classList.toggle('open', open);
    toggle.setAttribute('aria-expanded', String(open));
  });
  nav.addEventListener('click', (e) => {
    if (e.target.closest('a')) {
      nav.classList.remove('open');
      toggle.setAttribute('aria-expanded', 'false');
    }
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && nav.classList.contains('open')) {
      nav.classList.remove('open');
      toggle.setAttribute('aria-expanded', 'false');
      toggle.focus();
    }
  });
}

const pageCache = {};
function loadPage(name) {
  if (!pageCache[name]) pageCache[name] = import(`./pages/${name}.js`);
  return pageCache[name];
}

async function render() {
  const seq = ++renderSeq;
  const route = currentRoute();
  const def = ROUTES[route.path];
  renderNav();
  if (flashKeep) flashKeep = false;
  else clear(flashBox);
  if (!def) {
    clear(main).append(h('h1', { tabindex: '-1' }, 'Not found'), h('p', null, 'There is no such page. ', h('a', { href: '#/' }, 'Go home')));
    return focusHeading();
  }
  const me = session.me();
  if (def.auth && !me) {
    const next = encodeURIComponent(location.hash || '#/');
    location.replace(`#/login?next=${next}`);
    return undefined;
  }
  if (def.guest && me) {
    location.replace('#/tokens');
    return undefined;
  }
  if (def.master && !me.is_master) {
    clear(main).append(h('h1', { tabindex: '-1' }, 'Forbidden'), h('p', null, 'This page is for the platform administrator.'));
    return focusHeading();
  }
  document.title = 'Kiwi developer portal';
  try {
    const mod = await loadPage(def.page);
    if (seq !== renderSeq) return undefined;
    const container = h('div', { class: 'page' });
    const ctx = { route, view: def.view, isCurrent: () => seq === renderSeq };
    clear(main).append(container);
    await mod.render(container, ctx);
  } catch (err) {
    if (seq !== renderSeq) return undefined;
    clear(main).append(h('h1', { tabindex: '-1' }, 'Something went wrong'), notice('error', errorText(err)));
  }
  if (seq === renderSeq) focusHeading();
  return undefined;
}

function focusHeading() {
  if (firstRender) {
    firstRender = false;
    return;
  }
  const h1 = main.querySelector('h1');
  if (h1) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: false });
  } else {
    main.focus();
  }
  window.scrollTo(0, 0);
}

/** Re-renders the current page (after a change that affects the shell). */
export function refreshPage() {
  render();
}

async function start() {
  setupChrome();
  session.onSession((me) => {
    renderNav();
    renderTenantPicker();
    const def = ROUTES[currentRoute().path];
    if (!me && def && def.auth) {
      flash('warn', 'Your session has ended. Please log in again.');
      location.replace(`#/login?next=${encodeURIComponent(location.hash)}`);
    }
  });
  await session.restore();
  renderTenantPicker();
  window.addEventListener('hashchange', () => {
    // Only "#/…" is a route; plain fragments are in-page anchors.
    if (location.hash === '' || location.hash.startsWith('#/')) render();
  });
  await render();
  document.documentElement.dataset.ready = 'true';
}

start();
