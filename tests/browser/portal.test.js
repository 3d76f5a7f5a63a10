// End-to-end flows of the developer portal in real headless Chromium, against
// a real server started by run.sh. The tests run in order and share state
// (the user, their tokens, the tenant). Any console error or CSP violation
// fails the test it happens in.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, ADMIN_EMAIL, ADMIN_PASSWORD, DESKTOP, PHONE,
  launch, openPage, knownGap, assertClean, ready, go, shot, call, eventually, login, mintToken,
} from './lib.js';

const RUN = Date.now().toString(36);
// A long address on purpose: the phone-width check must hold for unbreakable text too.
const USER = { email: `ann-${RUN}-with-a-rather-long-address@example.com`, password: 'correct horse battery staple', name: 'Ann Tester' };
const HELLO = '/v1/hello/greet/ann';
const TENANT = `acme-${RUN}`;

let browser;
let user; // the user's page (desktop)
let admin; // the master's page (desktop)
let userToken; // minted in the default tenant, revoked in test 2
let adminToken; // the master's token in the default tenant (hello:read)

before(async () => {
  const health = await call('GET', '/health');
  assert.equal(health.status, 200, `server not up at ${BASE}`);
  browser = await launch();
  user = await openPage(browser, { permissions: ['clipboard-read', 'clipboard-write'] });
  admin = await openPage(browser);
});

after(async () => {
  if (browser) await browser.close();
});

test('home page, skip link and keyboard focus', async () => {
  const { page } = user;
  await page.goto('/');
  await ready(page);
  await page.getByRole('heading', { level: 1, name: /one API key/ }).waitFor();
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement.textContent.trim());
  assert.equal(first, 'Skip to content');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
  // Focus is visible: the outline comes from :focus-visible.
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none');
  await shot(page, 'desktop-home');
  assertClean(user, 'home');
});

test('sign up → verify-email notice → log in → reload restores the session', async () => {
  const { page } = user;
  await go(page, '#/signup', 'Create your Kiwi account');
  await page.getByLabel('Email').fill(USER.email);
  await page.getByLabel('Display name (optional)').fill(USER.name);
  await page.getByLabel('Password').fill(USER.password);
  await shot(page, 'desktop-signup');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { level: 1, name: 'Check your email' }).waitFor();
  assert.match(await page.locator('main').textContent(), new RegExp(USER.email.replace(/[.]/g, '\\.')));
  await shot(page, 'desktop-check-email');

  await page.locator('main').getByRole('link', { name: 'Log in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Log in to Kiwi' }).waitFor();
  await page.getByLabel('Email').fill(USER.email);
  await page.getByLabel('Password').fill(USER.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { level: 1, name: 'API tokens' }).waitFor();

  // Nothing secret in script-visible storage; the refresh cookie is HttpOnly.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
  assert.doesNotMatch(stored, /eyJ|kiwi_refresh|kiwi_[A-Za-z0-9]{8}/);
  const cookies = await user.context.cookies();
  const refresh = cookies.find((c) => c.name === 'kiwi_refresh');
  assert.ok(refresh, 'refresh cookie set');
  assert.equal(refresh.httpOnly, true);
  assert.equal(refresh.sameSite, 'Strict');

  await page.reload();
  await ready(page);
  await page.getByRole('heading', { level: 1, name: 'API tokens' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Log out' }).count(), 1);
  assertClean(user, 'signup/login');
});

test('mint a token (scopes, allowlist, expiry, copy) → call the plugin with it', async () => {
  const { page } = user;
  await go(page, '#/tokens', 'API tokens');
  const form = page.locator('#create-token');
  // The scope picker is fed by GET /scopes.
  await form.locator('input[name="scopes"][value="hello:read"]').waitFor();
  // Client-side allowlist validation.
  await form.getByLabel('Name').fill('portal test');
  await form.locator('input[name="scopes"][value="hello:read"]').check();
  const ips = form.getByLabel('IP allowlist (optional)');
  await ips.fill('300.1.2.3');
  await form.getByRole('button', { name: 'Create token' }).click();
  assert.equal(await ips.getAttribute('aria-invalid'), 'true');
  assert.match(await form.locator('.error-text:not([hidden])').first().textContent(), /300\.1\.2\.3/);
  await ips.fill('127.0.0.0/8\n::1');
  await form.getByLabel('Expires after').selectOption('30');
  await form.getByRole('button', { name: 'Create token' }).click();
  const secretBox = page.locator('#new-token-secret');
  await secretBox.waitFor();
  userToken = await secretBox.inputValue();
  assert.match(userToken, /^kiwi_/);
  await page.getByRole('button', { name: 'Copy' }).click();
  await page.getByRole('button', { name: 'Copied' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), userToken);
  await shot(page, 'desktop-tokens-secret');
  await page.getByRole('button', { name: 'Done, I saved it' }).click();
  assert.equal(await page.locator('#new-token-secret').count(), 0);
  await page.locator('#token-list').getByText('portal test').waitFor();

  // Call the plugin through the reference page's "try it" box.
  await go(page, '#/reference', /reference/);
  const op = page.locator('details.op[data-path="/v1/hello/greet/{name}"]');
  await op.locator('summary').click();
  await op.getByRole('button', { name: 'Try it' }).click();
  await page.getByLabel('API token').fill(userToken);
  await page.getByLabel('Path parameter name').fill('ann');
  assert.equal(await page.locator('#try-path').inputValue(), HELLO);
  await page.locator('#try-form').getByRole('button', { name: 'Send' }).click();
  await page.locator('#try-status[data-status="200"]').waitFor();
  assert.match(await page.locator('#try-response').textContent(), /hello, ann/);
  await shot(page, 'desktop-reference');

  // The token list shows last use and the request count.
  await go(page, '#/tokens', 'API tokens');
  const row = page.locator('#token-list tr', { hasText: 'portal test' });
  await eventually(async () => {
    await page.goto('/#/');
    await go(page, '#/tokens', 'API tokens');
    return !(await row.locator('td[data-label="Last used"]').textContent()).includes('never');
  });
  assert.equal((await row.locator('td[data-label="Requests"]').textContent()).trim(), '1');
  assertClean(user, 'mint and call');
});

test('the call shows up in the usage charts (me, per token)', async () => {
  const { page } = user;
  // Usage events are flushed about every second.
  await eventually(async () => {
    await page.goto('/#/');
    await page.goto('/#/usage?view=me&days=7');
    await page.getByRole('heading', { level: 1, name: 'Usage' }).waitFor();
    await page.locator('#usage-out .stats').waitFor();
    return (await page.locator('#usage-routes').textContent()).includes('/v1/hello/greet');
  }, 15000, 500, 'the hello call never showed up in GET /tokens/activity (are plugin calls recorded as usage events?)');
  const total = await page.locator('#usage-out .stat').first().locator('.v').textContent();
  assert.ok(Number(total.replace(/\D/g, '')) >= 1, `total requests ${total}`);
  assert.ok(await page.locator('#usage-out svg.chart rect.bar').count() >= 2, 'day and status bars drawn');
  await shot(page, 'desktop-usage');
  // Per-token view.
  const tokenOption = await page.locator('#usage-what option', { hasText: 'portal test' }).getAttribute('value');
  await page.locator('#usage-what').selectOption(tokenOption);
  await page.waitForURL(/token=/);
  await page.locator('#usage-routes [title*="/v1/hello/greet"]').first().waitFor();
  assertClean(user, 'usage');
});

test('revoke the token with a reason → the call fails', async () => {
  const { page } = user;
  await go(page, '#/tokens', 'API tokens');
  const row = page.locator('#token-list tr', { hasText: 'portal test' });
  // Revoke with a reason.
  await row.getByText('Revoke…').click();
  await row.getByLabel('Reason (kept with the token)').fill('browser test done');
  await row.getByRole('button', { name: 'Revoke token' }).click();
  await page.locator('#token-list tr.revoked', { hasText: 'portal test' }).waitFor();
  assert.match(await page.locator('#token-list tr.revoked', { hasText: 'portal test' }).textContent(), /browser test done/);
  await shot(page, 'desktop-tokens');

  // The same call now fails (expected: the browser logs the failed load).
  user.expectError(/status of 401/);
  await go(page, '#/reference', /reference/);
  const op = page.locator('details.op[data-path="/v1/hello/greet/{name}"]');
  await op.locator('summary').click();
  await op.getByRole('button', { name: 'Try it' }).click();
  await page.getByLabel('API token').fill(userToken);
  await page.getByLabel('Path parameter name').fill('ann');
  await page.locator('#try-form').getByRole('button', { name: 'Send' }).click();
  await page.locator('#try-status[data-status="401"]').waitFor();
  assert.match(await page.locator('#try-response').textContent(), /token_revoked/);
  user.clearExpected();
  assert.equal((await call('GET', HELLO, { token: userToken })).status, 401);
  assertClean(user, 'tokens flow');
});

test('master disables a plugin → its endpoint answers 404 → re-enable → 200', async () => {
  const { page } = admin;
  await login(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  adminToken = await mintToken(page, 'admin check', ['hello:read']);
  await page.getByRole('button', { name: 'Done, I saved it' }).click();
  assert.equal((await call('GET', HELLO, { token: adminToken })).status, 200);

  await go(page, '#/admin/plugins', 'Admin');
  const row = page.locator('#admin-plugins tr', { has: page.locator('strong', { hasText: /^hello$/ }) });
  await row.locator('[data-state="enabled"]').waitFor();
  await shot(page, 'desktop-admin-plugins');
  await row.getByRole('button', { name: 'Disable' }).click();
  await row.locator('[data-state="disabled"]').waitFor();
  const off = await call('GET', HELLO, { token: adminToken });
  assert.equal(off.status, 404, off.text);
  assert.equal(off.json.error.code, 'not_found');

  await row.getByRole('button', { name: 'Enable' }).click();
  await row.locator('[data-state="enabled"]').waitFor();
  const on = await call('GET', HELLO, { token: adminToken });
  assert.equal(on.status, 200, on.text);
  assert.ok(Number((await row.locator('td[data-label="Calls"]').textContent()).replace(/\D/g, '')) >= 1);

  // The other console sections render. (Admin endpoints still being written
  // answer 404; the page says so, and the gap is in the report.)
  admin.expectError(/status of 404.*\/admin\/(users|tokens)/);
  await go(page, '#/admin/config', 'Admin');
  await page.locator('#admin-config .config-item').first().waitFor();
  await shot(page, 'desktop-admin-config');
  for (const tab of ['users', 'tokens']) {
    await go(page, `#/admin/${tab}`, 'Admin');
    await page.locator(`#admin-${tab} table, #admin-${tab} .notice`).first().waitFor();
    await shot(page, `desktop-admin-${tab}`);
  }
  assertClean(admin, 'admin');
  admin.clearExpected();
});

test('tenant admin turns a plugin off for their tenant only', async (t) => {
  const { page } = user;
  // Until GET /tenants/{slug}/plugins exists the page's call to it fails (see below).
  user.expectError(/status of 404.*\/tenants\/[^/]+\/plugins/);
  await go(page, '#/tenant', 'Tenant');
  const create = page.locator('#create-tenant');
  await create.getByLabel('Slug').fill(TENANT);
  await create.getByLabel('Name').fill('Acme Test');
  await create.getByRole('button', { name: 'Create tenant' }).click();
  await page.locator('#tenant-select').locator(`option[value="${TENANT}"]`).waitFor({ state: 'attached' });
  assert.equal(await page.locator('#tenant-select').inputValue(), TENANT);
  await page.locator('#tenant-members').getByText(USER.email).waitFor();

  const tenantToken = await mintToken(page, 'acme token', ['hello:read']);
  await page.getByRole('button', { name: 'Done, I saved it' }).click();
  const first = await call('GET', HELLO, { token: tenantToken });
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.tenant, TENANT);

  await go(page, '#/tenant', 'Tenant');
  await page.locator('#tenant-plugins .loading').waitFor({ state: 'detached' });
  const probe = (await call('GET', `/tenants/${TENANT}/plugins`)).status; // 401 if the route exists
  const sw = page.locator('#tenant-plugins input[role="switch"][data-plugin="hello"]');
  if (!(await sw.count())) {
    // GET /tenants/{slug}/plugins isn't served by this build yet.
    await shot(page, 'desktop-tenant');
    knownGap(/status of 404.*\/tenants\/[^/]+\/plugins/);
    assertClean(user, 'tenant');
    user.clearExpected();
    t.skip(`tenant feature-set endpoints missing (probe status ${probe})`);
    return;
  }
  assert.equal(await sw.isChecked(), true);
  await sw.uncheck();
  await page.locator('#tenant-plugins').getByText(`hello is now off for ${TENANT}`).waitFor();
  const off = await call('GET', HELLO, { token: tenantToken });
  assert.equal(off.status, 404, off.text);
  const elsewhere = await call('GET', HELLO, { token: adminToken });
  assert.equal(elsewhere.status, 200, 'other tenants keep the plugin');
  await shot(page, 'desktop-tenant');
  await sw.check();
  await page.locator('#tenant-plugins').getByText(`hello is now on for ${TENANT}`).waitFor();
  assert.equal((await call('GET', HELLO, { token: tenantToken })).status, 200);
  user.clearExpected();
  assertClean(user, 'tenant');
});

test('theme locker: dark theme persists across reloads', async () => {
  const { page } = user;
  await page.locator('#theme-select').selectOption('dark');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  await page.reload();
  await ready(page);
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  const locker = await page.evaluate(() => JSON.parse(localStorage.getItem('kiwi.locker')));
  assert.equal(locker.theme, 'dark');
  assert.equal(locker.tenant, TENANT);
  await go(page, '#/usage?view=tenant&days=7', 'Usage');
  await page.locator('#usage-out .stats').waitFor();
  await shot(page, 'desktop-usage-tenant-dark');
  await page.locator('#theme-select').selectOption('auto');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), undefined);
  assertClean(user, 'theme');
});

test('phone-width screenshots of the main pages', async () => {
  const phone = await openPage(browser, { viewport: PHONE });
  const { page } = phone;
  await login(page, USER.email, USER.password);
  const pages = [
    ['#/', /Welcome back/, 'phone-home'],
    ['#/tokens', 'API tokens', 'phone-tokens'],
    ['#/usage?view=me&days=7', 'Usage', 'phone-usage'],
    ['#/tenant', 'Tenant', 'phone-tenant'],
    ['#/sessions', 'Sessions', 'phone-sessions'],
    ['#/account', 'Account', 'phone-account'],
    ['#/reference', /reference/, 'phone-reference'],
  ];
  for (const [hash, heading, name] of pages) {
    await go(page, hash, heading);
    await page.waitForLoadState('networkidle');
    // Nothing wider than the screen (no sideways scrolling).
    const { overflow, culprit } = await page.evaluate(() => {
      const w = window.innerWidth;
      const wide = [...document.querySelectorAll('body *')].find((e) => e.getBoundingClientRect().right > w + 1);
      const name = (e) => e && `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className ? '.' + String(e.className).split(' ').join('.') : ''}`;
      return { overflow: document.documentElement.scrollWidth - w, culprit: wide && `${name(wide.parentElement)} > ${name(wide)}` };
    });
    assert.ok(overflow <= 1, `${hash} overflows by ${overflow}px (first too-wide element: ${culprit})`);
    await shot(page, name);
  }
  // The collapsed menu opens and closes by keyboard.
  const toggle = page.getByRole('button', { name: 'Menu' });
  await toggle.focus();
  await page.keyboard.press('Enter');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  await shot(page, 'phone-menu-open');
  await page.keyboard.press('Escape');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assertClean(phone, 'phone');
  await phone.context.close();
});

test('sessions and account: profile, password, export, log out everywhere', async () => {
  const { page } = user;
  await go(page, '#/account', 'Account');
  await page.getByLabel('Display name').fill('Ann Renamed');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await page.locator('#profile-form').getByText('Saved.').waitFor();

  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download my data (JSON)' }).click();
  const file = await download;
  assert.equal(file.suggestedFilename(), 'kiwi-export.json');

  const pw = page.locator('#password-form');
  await pw.getByLabel('Current password').fill(USER.password);
  await pw.getByLabel('New password', { exact: true }).fill(`${USER.password}!`);
  await pw.getByLabel('Repeat the new password').fill(`${USER.password}!`);
  await pw.getByRole('button', { name: 'Change password' }).click();
  await pw.getByText(/password changed/i).waitFor();
  USER.password = `${USER.password}!`;
  await shot(page, 'desktop-account');

  await go(page, '#/sessions', 'Sessions');
  await page.locator('#session-list').getByText('this session').waitFor();
  await shot(page, 'desktop-sessions');
  await page.getByRole('button', { name: 'Log out everywhere' }).click();
  await page.getByRole('heading', { level: 1, name: 'Log in to Kiwi' }).waitFor();
  // The session is gone server-side: a reload stays logged out.
  await page.reload();
  await ready(page);
  await page.getByRole('heading', { level: 1, name: 'Log in to Kiwi' }).waitFor();
  assertClean(user, 'account/sessions');

  // Password reset request (the mail goes to the server log here).
  await go(page, '#/forgot', 'Reset your password');
  await page.getByLabel('Email').fill(USER.email);
  await page.getByRole('button', { name: 'Send reset link' }).click();
  await page.getByText(/reset link is on its way/).waitFor();
  assertClean(user, 'forgot password');
});

test('the host /docs page renders the reference with the site’s docs.css/docs.js', async () => {
  const docs = await openPage(browser);
  const { page } = docs;
  await page.goto('/docs');
  await page.getByRole('heading', { level: 1, name: /reference/ }).waitFor();
  await page.locator('details.op').first().waitFor();
  assert.ok(await page.locator('details.op').count() > 10);
  await shot(page, 'desktop-docs');
  assertClean(docs, '/docs');
  await docs.context.close();
});
