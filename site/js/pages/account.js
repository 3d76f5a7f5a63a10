// Account: profile (display name, verification), change password, export
// everything as JSON, delete the account.

import { h, field, statusSlot, busy, timeEl, errorText } from '../dom.js';
import * as session from '../api.js';
import { api, apiRaw } from '../api.js';
import { navigate, flash } from '../app.js';

export async function render(el) {
  const me = await session.reloadMe();
  el.append(h('h1', null, 'Account'));

  // Profile.
  const name = h('input', { type: 'text', name: 'display_name', maxlength: '80', value: me.display_name || '', autocomplete: 'nickname' });
  const pSlot = statusSlot();
  const profile = h('form', { class: 'card', id: 'profile-form' },
    h('h2', null, 'Profile'),
    h('dl', null,
      h('dt', null, 'Email'), h('dd', null, me.email, ' ', me.is_verified ? h('span', { class: 'badge ok' }, 'verified') : [h('span', { class: 'badge warn' }, 'not verified'), ' ', h('a', { href: `#/check-email?email=${encodeURIComponent(me.email)}` }, 'Resend link')]),
      h('dt', null, 'Member since'), h('dd', null, timeEl(me.created_at)),
      me.is_master ? [h('dt', null, 'Role'), h('dd', null, h('span', { class: 'badge' }, 'platform administrator'))] : null),
    field('Display name', name, 'Up to 80 characters; leave empty to clear.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save profile')),
    pSlot);
  profile.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(profile, pSlot, async () => {
      const v = name.value.trim();
      await api('PATCH', '/auth/me', { body: { display_name: v || null } });
      await session.reloadMe();
      pSlot.show('ok', 'Saved.');
    });
  });

  // Password.
  const cur = h('input', { type: 'password', name: 'current_password', required: true, autocomplete: 'current-password' });
  const nw = h('input', { type: 'password', name: 'new_password', required: true, minlength: '8', maxlength: '256', autocomplete: 'new-password' });
  const nw2 = h('input', { type: 'password', name: 'confirm', required: true, minlength: '8', maxlength: '256', autocomplete: 'new-password' });
  const pwSlot = statusSlot();
  const pw = h('form', { class: 'card', id: 'password-form' },
    h('h2', null, 'Change password'),
    field('Current password', cur), field('New password', nw, '8 to 256 characters. Your other sessions will be signed out.'), field('Repeat the new password', nw2),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Change password')),
    pwSlot);
  pw.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(pw, pwSlot, async () => {
      if (nw.value !== nw2.value) throw new Error('The two new passwords differ.');
      try {
        const r = await api('POST', '/auth/password', { body: { current_password: cur.value, new_password: nw.value } });
        pw.reset();
        pwSlot.show('ok', (r && r.message) || 'Password changed.');
      } catch (err) {
        if (err.status === 403) throw Object.assign(err, { message: 'The current password is wrong.' });
        throw err;
      }
    });
  });

  // Export.
  const exSlot = statusSlot();
  const exBtn = h('button', { type: 'button', id: 'export-button', onclick: async () => {
    exBtn.disabled = true;
    try {
      const res = await apiRaw('/auth/export');
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: 'kiwi-export.json' }, 'kiwi-export.json');
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      exSlot.show('ok', 'Your export was downloaded as kiwi-export.json.');
    } catch (err) {
      exSlot.show('error', errorText(err));
    } finally {
      exBtn.disabled = false;
    }
  } }, 'Download my data (JSON)');
  const exportCard = h('section', { class: 'card' }, h('h2', null, 'Export'),
    h('p', null, 'Everything Kiwi stores about you: account, memberships, sessions and tokens (never secrets).'), exBtn, exSlot);

  // Delete.
  const delPw = h('input', { type: 'password', name: 'password', required: true, autocomplete: 'current-password' });
  const sure = h('input', { type: 'checkbox', name: 'confirm', id: 'delete-confirm', required: true });
  const delSlot = statusSlot();
  const del = h('form', { class: 'popover' },
    h('p', null, 'This deletes your account, sessions, API tokens and memberships. It can’t be undone.'),
    field('Your password', delPw),
    h('div', { class: 'check' }, sure, h('label', { for: 'delete-confirm' }, 'I understand; delete my account.')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'danger' }, 'Delete my account')),
    delSlot);
  del.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(del, delSlot, async () => {
      try {
        await api('DELETE', '/auth/me', { body: { password: delPw.value } });
      } catch (err) {
        if (err.status === 403) throw Object.assign(err, { message: 'Wrong password.' });
        throw err;
      }
      session.forget();
      flash('ok', 'Your account was deleted.');
      navigate('#/');
    });
  });
  const danger = h('section', { class: 'card' }, h('h2', null, 'Delete account'),
    h('details', null, h('summary', null, 'Delete my account…'), del));

  el.append(h('div', { class: 'grid' }, profile, pw), h('div', { class: 'grid' }, exportCard, danger));
}
