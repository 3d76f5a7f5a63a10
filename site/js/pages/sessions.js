// Sessions: where the user is signed in; revoke one; log out everywhere.

import { h, notice, errorText, table, timeEl, statusSlot } from '../dom.js';
import * as session from '../api.js';
import { api } from '../api.js';
import { navigate, flash } from '../app.js';

export async function render(el, ctx) {
  const slot = statusSlot();
  const listHost = h('div', { id: 'session-list', 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Loading…'));
  const everywhere = h('button', { type: 'button', class: 'danger', id: 'logout-everywhere', onclick: async () => {
    everywhere.disabled = true;
    try {
      await session.logoutAll();
      flash('ok', 'Every session was ended, this one included.');
      navigate('#/login');
    } catch (err) {
      everywhere.disabled = false;
      slot.show('error', errorText(err));
    }
  } }, 'Log out everywhere');
  el.append(
    h('h1', null, 'Sessions'),
    h('p', { class: 'muted' }, 'Each browser or device you logged in from. Revoking one ends it at once.'),
    listHost,
    h('section', { class: 'card' }, h('h2', null, 'Log out everywhere'),
      h('p', null, 'Ends every session, including this one. API tokens keep working.'), everywhere, slot),
  );

  const load = async () => {
    try {
      const { sessions } = await api('GET', '/auth/sessions');
      if (!ctx.isCurrent()) return;
      listHost.replaceChildren(table([
        { label: 'Device', cell: (s) => [s.device || 'Unknown device', s.current ? [' ', h('span', { class: 'badge ok' }, 'this session')] : null] },
        { label: 'Signed in', cell: (s) => timeEl(s.created_at) },
        { label: 'Last active', cell: (s) => timeEl(s.last_used_at, true) },
        { label: 'Expires', cell: (s) => timeEl(s.expires_at) },
        { label: 'Actions', actions: true, cell: (s) => h('button', { type: 'button', class: 'small', dataset: { session: s.id }, onclick: async (e) => {
          e.target.disabled = true;
          try {
            await api('DELETE', `/auth/sessions/${encodeURIComponent(s.id)}`);
            if (s.current) {
              session.forget();
              flash('ok', 'This session was ended.');
              navigate('#/login');
              return;
            }
            await load();
          } catch (err) {
            e.target.disabled = false;
            slot.show('error', errorText(err));
          }
        } }, s.current ? 'Log out here' : 'Revoke') },
      ], sessions || [], { caption: 'Your sessions' }));
    } catch (err) {
      listHost.replaceChildren(notice('error', errorText(err)));
    }
  };
  await load();
}
