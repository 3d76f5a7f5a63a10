// Shared helpers for the portal browser tests: launch Debian's Chromium through
// playwright-core (never a downloaded browser), open pages that record every
// console error, page error and CSP violation, take screenshots, call the API.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const BASE = process.env.KIWI_URL || 'http://127.0.0.1:18080';
export const ADMIN_EMAIL = process.env.KIWI_ADMIN_EMAIL || 'admin@example.com';
export const ADMIN_PASSWORD = process.env.KIWI_ADMIN_PASSWORD || 'correct-horse-battery';
export const ARTIFACTS = process.env.KIWI_ARTIFACTS || path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

export const DESKTOP = { width: 1280, height: 860 };
export const PHONE = { width: 390, height: 844 };

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A new context + page that records problems. `p.problems` lists every console
 * error, uncaught page error and CSP violation, except the ones the test said it
 * expects with `p.expectError(regex)` (each expectation absorbs matching lines
 * until cleared: deliberate failing API calls log "Failed to load resource").
 */
const knownGaps = [];
/** Tolerate a console line on every page from now on (a server gap the report names). */
export function knownGap(re) {
  knownGaps.push(re);
}

export async function openPage(browser, { viewport = DESKTOP, permissions = [] } = {}) {
  const context = await browser.newContext({ viewport, baseURL: BASE, acceptDownloads: true });
  if (permissions.length) await context.grantPermissions(permissions, { origin: BASE });
  const page = await context.newPage();
  const p = { context, page, problems: [], expected: [] };
  const record = (kind, text) => {
    if (p.expected.some((re) => re.test(text)) || knownGaps.some((re) => re.test(text))) return;
    p.problems.push(`${kind}: ${text}`);
  };
  page.on('console', (m) => {
    if (m.type() === 'error') record('console.error', `${m.text()} ${m.location().url || ''}`);
    if (m.type() === 'warning' && /Content.Security.Policy/i.test(m.text())) record('csp', m.text());
  });
  page.on('pageerror', (e) => record('pageerror', e.message));
  // Belt and braces: the DOM's own CSP violation event.
  await context.exposeBinding('__kiwiCsp', (_src, text) => record('csp', text));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__kiwiCsp(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  p.expectError = (re) => p.expected.push(re);
  p.clearExpected = () => { p.expected = []; };
  return p;
}

export function assertClean(p, what = 'page') {
  if (p.problems.length) {
    const list = p.problems.join('\n  ');
    p.problems = [];
    throw new Error(`${what}: console errors / CSP violations:\n  ${list}`);
  }
}

export async function ready(page) {
  await page.waitForSelector('html[data-ready="true"]');
}

/** Navigates the portal to a hash route and waits for the page heading. */
export async function go(page, hash, heading) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  if (heading) await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** A direct API call from the test (not the browser). */
export async function call(method, urlPath, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(BASE + urlPath, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

/** Polls `fn` until it returns truthy (or throws the last error after `ms`). */
export async function eventually(fn, ms = 15000, step = 500, message = 'timed out waiting for a condition') {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, step));
  }
  if (last) throw new Error(`${message}: ${last.message}`);
  throw new Error(message);
}

/** Logs in through the portal's form. */
export async function login(page, email, password) {
  await page.goto('/#/login');
  await ready(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { level: 1, name: 'API tokens' }).waitFor();
}

/** Mints a token through the Tokens page; returns its secret. */
export async function mintToken(page, name, scopes, { ips = '', expiry = '30' } = {}) {
  await go(page, '#/tokens', 'API tokens');
  const form = page.locator('#create-token');
  await form.getByLabel('Name').fill(name);
  for (const s of scopes) await form.locator(`input[name="scopes"][value="${s}"]`).check();
  await form.getByLabel('IP allowlist (optional)').fill(ips);
  await form.getByLabel('Expires after').selectOption(expiry);
  await form.getByRole('button', { name: 'Create token' }).click();
  const secret = page.locator('#new-token-secret');
  await secret.waitFor();
  return secret.inputValue();
}
