// Shared helpers of the browser tests: Debian's Chromium through playwright-core, the stack's
// base URL, logging in (demo accounts), API calls from Node, screenshots.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const BASE = (process.env.WHISTLE_BASE_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
export const CHROMIUM = process.env.WHISTLE_CHROMIUM ?? '/usr/bin/chromium';
const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '../../..');
export const SHOTS = process.env.WHISTLE_SCREENSHOTS ?? join(REPO, 'artifacts/screenshots');

// The demo pair: 解放碑街道 raises CQ-ENV-001, which 渝中区生态环境局 holds.
export const TOWN = '500103001';
export const ITEM = 'CQ-ENV-001';
export const DEPT = '500103-EE';
export const TOWN_ITEM = 'CQ-FIRE-001'; // the town holds this one itself

// Demo accounts of the dev stack (intake's WHISTLE_DEMO_PASSWORD, default whistle-demo).
export const PASSWORD = process.env.WHISTLE_DEMO_PASSWORD ?? 'whistle-demo';
export const TOWN_USER = `town-${TOWN}`;
export const DEPT_USER = `dept-${DEPT}`;
export const CC_USER = 'dept-500103-CC';
export const MANAGER = 'manager';
export const ADMIN = 'admin';

export async function launch() {
  // playwright-core gives every launch a fresh temporary profile of its own (it refuses an
  // explicit --user-data-dir with launch()); HOME is pointed at a temp dir so Chromium leaves
  // nothing in the real one.
  const home = mkdtempSync(join(tmpdir(), 'whistle-chromium-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
    env: { ...process.env, HOME: home },
  });
  const close = async () => {
    await browser.close().catch(() => {});
    rmSync(home, { recursive: true, force: true });
  };
  return { browser, close };
}

/** A fresh page (own context: own localStorage) with the language preset. */
export async function newPage(browser, { lang = 'zh', viewport = { width: 1280, height: 860 } } = {}) {
  const context = await browser.newContext({ viewport, locale: lang === 'zh' ? 'zh-CN' : 'en-GB', baseURL: BASE });
  await context.addInitScript((l) => {
    if (!localStorage.getItem('whistle.lang')) localStorage.setItem('whistle.lang', l);
  }, lang);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  // Whatever the ingress's Content-Security-Policy blocks is an error too (Chromium reports each
  // refusal on the console): the tests that check `errors` check the policy against every page.
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) errors.push(new Error(`CSP: ${m.text()}`));
  });
  page.errors = errors;
  return page;
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Poll `fn` until it returns a truthy value (returned) or time runs out (throws with `what`). */
export async function until(fn, what, timeout = 15_000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** The live channels' state as the page sees them (test hook in src/ws.ts). */
export function channels(page) {
  return page.evaluate(() => window.__whistle.channels());
}

export async function waitLive(page, timeout = 15_000) {
  await page.locator('#conn[data-state="live"]').waitFor({ timeout });
}

const tokens = new Map();

/** A bearer token for a demo account (logged in once per test run). */
export async function tokenFor(user) {
  let tok = tokens.get(user);
  if (tok && Date.parse(tok.expires_at) > Date.now() + 60_000) return tok.token;
  const res = await fetch(`${BASE}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user, password: PASSWORD }),
  });
  if (res.status !== 200) throw new Error(`login as ${user} failed: ${res.status} ${await res.text()}`);
  tok = await res.json();
  tokens.set(user, tok);
  return tok.token;
}

/** An API call from Node as a demo account (`as`; the city manager reads every whistle). */
export async function apiJson(method, path, body, { as = MANAGER, headers = {} } = {}) {
  const res = await fetch(BASE + path, {
    method,
    headers: { authorization: `Bearer ${await tokenFor(as)}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/**
 * Log in through the login page (the page must be on it, or be sent there by the route guard)
 * and wait until the console has left it.
 */
export async function signIn(page, user, password = PASSWORD) {
  await page.locator('#login-form').waitFor();
  await page.fill('#login-user', user);
  await page.fill('#login-pass', password);
  await page.click('#login-submit');
  await page.locator('#login-form').waitFor({ state: 'detached' });
  await page.locator('#account-user', { hasText: user }).waitFor();
}

/** A fresh page logged in as `user`, opened at `path` (the login returns there). */
export async function openAs(browser, user, path = '/', opts = {}) {
  const page = await newPage(browser, opts);
  await opts.before?.(page);
  await page.goto(path);
  await signIn(page, user, opts.password);
  return page;
}

/** Raise a whistle through the API (as another town officer would). */
export async function raiseViaApi(description, { town = TOWN, item = ITEM } = {}) {
  const r = await apiJson('POST', '/api/v1/whistles', {
    town,
    item,
    description,
    location: { lat: 29.5575, lon: 106.5772, address: '渝中区解放碑步行街' },
  }, { as: `town-${town}`, headers: { 'idempotency-key': crypto.randomUUID() } });
  if (r.status !== 202) throw new Error(`raise failed: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.id;
}

/** A unique marker so each test finds its own whistle among others on the shared stack. */
export function marker(label) {
  return `${label} ${new Date().toISOString().slice(11, 19)} #${Math.random().toString(36).slice(2, 8)}`;
}
