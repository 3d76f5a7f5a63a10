// API reference in the portal: the current tenant's /openapi.json (only the
// plugins it has enabled) with the "try it" box.

import { h } from '../dom.js';
import * as session from '../api.js';
import { currentTenant } from '../app.js';
import { renderReference } from '../reference-view.js';

export async function render(el) {
  const signedIn = Boolean(session.me());
  const tenant = signedIn ? currentTenant() : null;
  const url = tenant ? `/openapi.json?tenant=${encodeURIComponent(tenant)}` : '/openapi.json';
  const intro = h('p', { class: 'small muted' },
    tenant ? ['Showing what tenant ', h('strong', null, tenant), ' can call. '] : 'Showing every route. ',
    'Machine-readable: ', h('a', { href: url }, url), '.');
  await renderReference(el, { url, intro });
}
