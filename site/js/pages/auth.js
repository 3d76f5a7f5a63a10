// Sign up, the verify-email notice, log in, forgot / reset password, verify.

import { h, field, statusSlot, busy, errorText, notice } from '../dom.js';
import * as session from '../api.js';
import { api } from '../api.js';
import { navigate, flash } from '../app.js';

const VIEWS = { signup, login, checkEmail, forgot, reset, verify };

export async function render(el, ctx) {
  el.classList.add('narrow');
  await VIEWS[ctx.view](el, ctx);
}

function emailInput(value) {
  return h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true, maxlength: '254', value: value || '' });
}

function passwordInput(name, autocomplete) {
  return h('input', { type: 'password', name, autocomplete, required: true, minlength: '8', maxlength: '256' });
}

function signup(el) {
  const email = emailInput();
  const name = h('input', { type: 'text', name: 'display_name', autocomplete: 'nickname', maxlength: '80' });
  const pw = passwordInput('password', 'new-password');
  const slot = statusSlot();
  const form = h('form', { class: 'card', novalidate: false },
    field('Email', email),
    field('Display name (optional)', name),
    field('Password', pw, '8 to 256 characters. A long passphrase is best.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create account')),
    slot,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, slot, async () => {
      const body = { email: email.value.trim(), password: pw.value };
      if (name.value.trim()) body.display_name = name.value.trim();
      await api('POST', '/auth/signup', { body, anonymous: true });
      navigate(`#/check-email?email=${encodeURIComponent(body.email)}&new=1`);
    });
  });
  el.append(
    h('h1', null, 'Create your Kiwi account'),
    form,
    h('p', null, 'Already have an account? ', h('a', { href: '#/login' }, 'Log in')),
  );
}

function checkEmail(el, ctx) {
  const addr = ctx.route.params.get('email') || (session.me() && session.me().email) || '';
  const isNew = ctx.route.params.get('new') === '1';
  const email = emailInput(addr);
  const slot = statusSlot();
  const form = h('form', { class: 'card' },
    h('h2', null, 'Didn’t get it?'),
    field('Email', email),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Send a new link')),
    slot,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, slot, async () => {
      const r = await api('POST', '/auth/resend-verification', { body: { email: email.value.trim() }, anonymous: true });
      slot.show('ok', (r && r.message) || 'If that account exists and isn’t verified, a new link is on its way.');
    });
  });
  el.append(
    h('h1', null, 'Check your email'),
    isNew ? notice('ok', h('p', null, 'Your account is ready.')) : null,
    h('p', null, 'We sent a verification link', addr ? [' to ', h('strong', null, addr)] : null,
      '. Open it to verify your address. You can log in and create tokens meanwhile.'),
    h('p', null, h('a', { class: 'button primary', href: '#/login' }, 'Log in')),
    form,
  );
}

function login(el, ctx) {
  const email = emailInput();
  const pw = passwordInput('password', 'current-password');
  pw.removeAttribute('minlength');
  const slot = statusSlot();
  const form = h('form', { class: 'card' },
    field('Email', email),
    field('Password', pw),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Log in')),
    slot,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, slot, async () => {
      try {
        await session.login(email.value.trim(), pw.value);
      } catch (err) {
        if (err.code === 'account_locked') {
          throw Object.assign(err, { message: `Too many failed attempts: this account is locked for a while${err.retryAfter ? ` (${Math.ceil(err.retryAfter / 60)} min)` : ''}.` });
        }
        if (err.status === 401) throw Object.assign(err, { message: 'Wrong email or password.' });
        throw err;
      }
      pw.value = '';
      const next = ctx.route.params.get('next');
      navigate(next && next.startsWith('#/') && !next.startsWith('#/login') ? next : '#/tokens');
    });
  });
  el.append(
    h('h1', null, 'Log in to Kiwi'),
    form,
    h('p', null, h('a', { href: '#/forgot' }, 'Forgot your password?')),
    h('p', null, 'New here? ', h('a', { href: '#/signup' }, 'Create an account')),
  );
}

function forgot(el) {
  const email = emailInput();
  const slot = statusSlot();
  const form = h('form', { class: 'card' },
    field('Email', email, 'We’ll mail a link that lets you choose a new password (valid for 1 hour).'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Send reset link')),
    slot,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, slot, async () => {
      const r = await api('POST', '/auth/forgot-password', { body: { email: email.value.trim() }, anonymous: true });
      slot.show('ok', (r && r.message) || 'If that email is registered, a reset link is on its way.');
    });
  });
  el.append(h('h1', null, 'Reset your password'), form, h('p', null, h('a', { href: '#/login' }, 'Back to log in')));
}

function reset(el, ctx) {
  const token = ctx.route.params.get('token') || '';
  const tokenInput = h('input', { type: 'text', name: 'token', required: true, value: token, autocomplete: 'off', spellcheck: 'false' });
  const pw = passwordInput('new_password', 'new-password');
  const pw2 = passwordInput('confirm', 'new-password');
  const slot = statusSlot();
  const form = h('form', { class: 'card' },
    token ? null : field('Reset code from the email', tokenInput),
    field('New password', pw, '8 to 256 characters.'),
    field('Repeat the new password', pw2),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Set password')),
    slot,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, slot, async () => {
      if (pw.value !== pw2.value) throw new Error('The two passwords differ.');
      await api('POST', '/auth/reset-password', { body: { token: tokenInput.value.trim(), new_password: pw.value }, anonymous: true });
      session.forget();
      flash('ok', 'Your password has been reset. You can now log in.');
      navigate('#/login');
    });
  });
  el.append(h('h1', null, 'Choose a new password'), form);
}

async function verify(el, ctx) {
  const token = ctx.route.params.get('token') || '';
  el.append(h('h1', null, 'Verify your email'));
  if (!token) {
    el.append(notice('error', 'This link has no token. Open the link from the email again.'));
    return;
  }
  const slot = h('div', { 'aria-live': 'polite' }, h('p', { class: 'loading' }, 'Verifying…'));
  el.append(slot);
  try {
    await api('POST', '/auth/verify-email', { body: { token }, anonymous: true });
    slot.replaceChildren(notice('ok', 'Your email address is verified.'), h('p', null, h('a', { class: 'button primary', href: session.me() ? '#/tokens' : '#/login' }, 'Continue')));
    if (session.me()) session.reloadMe().catch(() => {});
  } catch (err) {
    slot.replaceChildren(notice('error', `This link didn’t work: ${errorText(err)}`), h('p', null, h('a', { href: '#/check-email' }, 'Send a new link')));
  }
}
