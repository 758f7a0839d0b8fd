// Acceptance 1, 2 and 4 of issue 3: the Call Fabric SDK document's example page logs a subscriber
// in through Weft (OAuth2 authorization code + PKCE, OIDC) in Debian's headless Chromium.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Weft } from './lib/weft.js';
import { startStaticServer, PAGE_ORIGIN } from './lib/static-server.js';
import { launchBrowser } from './lib/browser.js';

const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '../artifacts');
const CLIENT_ID = 'fabric-example-page';
const SUBSCRIBER = {
  email: 'ada.lovelace@example.com',
  password: 'analytical-engine-1843',
  first_name: 'Ada',
  last_name: 'Lovelace',
};

let weft;
let site;
let browser;

before(async () => {
  weft = new Weft();
  await weft.start();
  // Registered with the admin CLI while the server runs, as an operator would.
  await weft.admin(
    'oauth-client', 'create',
    '--client-id', CLIENT_ID,
    '--name', 'Call Fabric Example',
    '--redirect-uri', PAGE_ORIGIN,
    '--redirect-uri', `${PAGE_ORIGIN}/discovery.html`,
    '--origin', PAGE_ORIGIN,
  );
  await weft.createSubscriber(SUBSCRIBER);
  site = await startStaticServer({ issuer: weft.issuer, clientId: CLIENT_ID });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await weft?.stop();
  weft?.cleanup();
});

/**
 * Runs the example page's flow: Log In, Weft's form, back to the page. Returns what the page
 * stored and showed.
 */
async function logIn(path, { screenshot = null, wrongPasswordFirst = false } = {}) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const tokenRequests = [];
  const infoRequests = [];
  page.on('request', (r) => {
    if (r.url().startsWith(`${weft.issuer}/oauth/token`)) tokenRequests.push(r);
    if (r.url() === `${weft.issuer}/api/fabric/subscriber/info` && r.method() === 'GET') infoRequests.push(r);
  });
  try {
    await page.goto(`${PAGE_ORIGIN}${path}`);
    await page.getByRole('button', { name: 'Log In' }).click();

    await page.waitForURL((u) => u.href.startsWith(`${weft.issuer}/login/oauth/authorize?`));
    await assert.doesNotReject(page.getByRole('heading', { name: 'Sign in' }).waitFor());
    if (screenshot) {
      mkdirSync(dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot, fullPage: true });
    }
    if (wrongPasswordFirst) {
      await page.getByLabel('Email').fill(SUBSCRIBER.email);
      await page.getByLabel('Password').fill('not-the-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').waitFor();
      assert.match(await page.getByRole('alert').innerText(), /email or password is incorrect/i);
      assert.ok(page.url().startsWith(`${weft.issuer}/login/oauth/authorize`), 'stays on the login page');
      assert.ok(!page.url().includes('code='), 'no code was issued');
      if (screenshot) {
        await page.screenshot({ path: screenshot.replace(/\.png$/, '-error.png'), fullPage: true });
      }
    }
    await page.getByLabel('Email').fill(SUBSCRIBER.email);
    await page.getByLabel('Password').fill(SUBSCRIBER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.waitForURL((u) => u.origin === PAGE_ORIGIN && u.searchParams.has('code'));
    // signinRedirectCallback() exchanges the code and stores the user in localStorage.
    const user = await page.waitForFunction(() => {
      const key = Object.keys(localStorage).find((k) => k.startsWith('oidc.user:'));
      return key ? JSON.parse(localStorage.getItem(key)) : null;
    }, null, { timeout: 15_000 }).then((h) => h.jsonValue());
    assert.equal(tokenRequests.length, 1, 'one token request from the page');
    assert.equal((await tokenRequests[0].allHeaders()).origin, PAGE_ORIGIN);
    // SignalWire({token}) connects to relay.<domain> (the token's `ch`), then getSubscriberInfo()
    // calls https://fabric.<domain>/api/fabric/subscriber/info; the page greets the subscriber.
    await page.locator('#container', { hasText: `Hello, ${SUBSCRIBER.first_name}` }).waitFor({ timeout: 30_000 });
    const greeting = await page.locator('#container').innerText();
    assert.ok(infoRequests.length >= 1, 'the SDK called subscriber/info on fabric.<domain> over HTTPS');
    assert.match((await infoRequests[0].allHeaders()).authorization, /^Bearer /);
    if (screenshot) {
      await page.screenshot({ path: screenshot.replace(/login-page\.png$/, 'example-page-greeting.png') });
    }
    // What the SDK's getSubscriberInfo requests, made from the page's origin over HTTPS.
    const info = await page.evaluate(async ([base, token]) => {
      const res = await fetch(`${base}/api/fabric/subscriber/info`, { headers: { Authorization: `Bearer ${token}` } });
      return { status: res.status, body: await res.json() };
    }, [weft.issuer, user.access_token]);
    return { user, greeting, info, errors };
  } finally {
    await page.close();
  }
}

function decodeJwt(token) {
  const [header, payload] = token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url')));
  return { header, payload };
}

function checkLogin(result) {
  const { user, info } = result;
  assert.equal(user.token_type, 'Bearer');
  assert.ok(user.refresh_token, 'a refresh token');
  assert.equal(user.scope, 'openid');
  const sat = decodeJwt(user.access_token);
  assert.equal(sat.header.typ, 'SAT');
  assert.equal(sat.header.ch, `relay.${weft.domain}:${weft.tlsPort}`);
  const id = decodeJwt(user.id_token);
  assert.equal(id.header.alg, 'ES256');
  assert.equal(id.payload.iss, weft.issuer);
  assert.equal(id.payload.aud, CLIENT_ID);
  assert.equal(id.payload.email, SUBSCRIBER.email);
  assert.equal(id.payload.sub, sat.payload.sub);
  assert.equal(user.profile.sub, sat.payload.sub);
  assert.equal(info.status, 200);
  assert.equal(info.body.first_name, SUBSCRIBER.first_name);
}

test('1: the example page logs in with explicit metadata and greets the subscriber', async () => {
  const screenshot = join(ARTIFACTS, 'login-page.png');
  const result = await logIn('/', { screenshot, wrongPasswordFirst: true });
  checkLogin(result);
  assert.deepEqual(result.errors, []);
  assert.equal(result.greeting, `Hello, ${SUBSCRIBER.first_name}`);
});

test('2: the example page logs in with authority discovery', async () => {
  const result = await logIn('/discovery.html');
  checkLogin(result);
  assert.deepEqual(result.errors, []);
  assert.equal(result.greeting, `Hello, ${SUBSCRIBER.first_name}`);
});
