// Acceptance 3 of issue 3 and the rest of the OAuth surface, over plain HTTP against a real weft:
// wrong password, PKCE, reused and expired codes, unregistered redirect URIs and unknown clients
// (RFC 6749 §4.1.2.1 and §5.2), refresh rotation and family revocation, CSRF, failed-login
// limits, discovery, JWKS, userinfo, sign-out and the clients REST API.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { Weft } from './lib/weft.js';
import {
  pkcePair, requestParams, openLoginPage, submitLogin, obtainCode, tokenRequest, verifyJws,
} from './lib/oauth.js';

const ORIGIN = 'http://localhost:3000';
const REDIRECT = `${ORIGIN}/cb`;
const ALICE = { email: 'alice@example.com', password: 'alice-password-1', first_name: 'Alice' };
const BOB = { email: 'bob@example.com', password: 'bob-password-1', first_name: 'Bob' };

function assertJsonError(res, status, error) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error, error, JSON.stringify(res.body));
  assert.equal(typeof res.body.error_description, 'string');
  assert.match(res.headers.get('content-type'), /^application\/json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
}

describe('OAuth against a running weft (client registered over REST)', () => {
  let weft;
  let base;

  before(async () => {
    weft = new Weft();
    await weft.start();
    base = weft.httpUrl;
    const created = await weft.api('POST', '/api/weft/oauth_clients', {
      client_id: 'spa',
      name: 'Example SPA',
      redirect_uris: [REDIRECT],
      allowed_origins: [ORIGIN],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await weft.createSubscriber(ALICE);
    await weft.createSubscriber(BOB);
  });

  after(async () => {
    await weft?.stop();
    weft?.cleanup();
  });

  async function codeFor(who = ALICE, extra = {}) {
    const pkce = pkcePair();
    const params = requestParams('spa', REDIRECT, pkce.challenge, extra);
    const got = await obtainCode(base, params, who);
    assert.equal(got.state, params.state, 'state is echoed exactly');
    assert.equal(got.url.origin + got.url.pathname, REDIRECT);
    return { ...got, pkce, params };
  }

  async function exchange(code, verifier) {
    return tokenRequest(base, {
      grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: 'spa', code_verifier: verifier,
    }, { Origin: ORIGIN });
  }

  async function info(accessToken) {
    const res = await fetch(`${base}/api/fabric/subscriber/info`, { headers: { Authorization: `Bearer ${accessToken}` } });
    return res.status;
  }

  test('a wrong password shows an error on the page and issues no code', async () => {
    const page = await openLoginPage(base, requestParams('spa', REDIRECT, pkcePair().challenge));
    const done = await submitLogin(base, page.hidden, { email: ALICE.email, password: 'wrong', cookie: page.cookie });
    assert.equal(done.res.status, 401);
    assert.equal(done.location, null);
    assert.match(done.html, /role="alert"/);
    assert.match(done.html, /The email or password is incorrect\./);
    assert.match(done.html, /value="alice@example.com"/);
    assert.doesNotMatch(done.html, /code=/);
  });

  test('an unknown client gets an error page, never a redirect', async () => {
    const page = await openLoginPage(base, requestParams('no-such-client', REDIRECT, pkcePair().challenge));
    assert.equal(page.res.status, 400);
    assert.equal(page.res.headers.get('location'), null);
    assert.match(page.html, /Unknown application/);
  });

  test('an unregistered redirect_uri gets an error page, never a redirect', async () => {
    for (const uri of ['http://evil.example/cb', `${REDIRECT}/`, `${REDIRECT}?x=1`]) {
      const page = await openLoginPage(base, requestParams('spa', uri, pkcePair().challenge));
      assert.equal(page.res.status, 400, uri);
      assert.equal(page.res.headers.get('location'), null, uri);
      assert.match(page.html, /not registered for this application/);
    }
  });

  test('other bad requests redirect back with error and the exact state (§4.1.2.1)', async () => {
    const { challenge } = pkcePair();
    const cases = [
      [{ code_challenge: undefined }, 'invalid_request'],
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ prompt: 'none' }, 'login_required'],
    ];
    for (const [change, error] of cases) {
      const params = requestParams('spa', REDIRECT, challenge, change);
      for (const [k, v] of Object.entries(params)) if (v === undefined) delete params[k];
      const page = await openLoginPage(base, params);
      assert.equal(page.res.status, 303, JSON.stringify(change));
      const to = new URL(page.res.headers.get('location'));
      assert.equal(to.origin + to.pathname, REDIRECT);
      assert.equal(to.searchParams.get('error'), error);
      assert.equal(to.searchParams.get('state'), params.state);
      assert.equal(to.searchParams.get('code'), null);
    }
  });

  test('a wrong PKCE verifier is invalid_grant and spends the code', async () => {
    const { code, pkce } = await codeFor();
    assertJsonError(await exchange(code, pkcePair().verifier), 400, 'invalid_grant');
    assertJsonError(await exchange(code, pkce.verifier), 400, 'invalid_grant');
  });

  test('a reused code is invalid_grant and revokes the tokens it gave', async () => {
    const { code, pkce } = await codeFor();
    const first = await exchange(code, pkce.verifier);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.headers.get('access-control-allow-origin'), ORIGIN);
    assert.equal(await info(first.body.access_token), 200);
    assertJsonError(await exchange(code, pkce.verifier), 400, 'invalid_grant');
    assert.equal(await info(first.body.access_token), 401, 'the access token is revoked');
    const refresh = await tokenRequest(base, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token, client_id: 'spa' });
    assertJsonError(refresh, 400, 'invalid_grant');
  });

  test('the token response has the SAT, a rotating refresh token and a signed id_token', async () => {
    const { code, pkce, params } = await codeFor();
    const res = await exchange(code, pkce.verifier);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const body = res.body;
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'openid');
    assert.ok(body.expires_in > 0 && body.expires_in <= 7200);
    const jwks = await (await fetch(`${base}/.well-known/jwks.json`)).json();
    const sat = verifyJws(body.access_token, jwks);
    const id = verifyJws(body.id_token, jwks);
    const discovery = await (await fetch(`${base}/.well-known/openid-configuration`)).json();
    assert.equal(id.iss, discovery.issuer);
    assert.equal(id.iss, weft.issuer);
    assert.equal(id.aud, 'spa');
    assert.equal(id.sub, sat.sub);
    assert.equal(id.nonce, params.nonce);
    assert.equal(id.email, ALICE.email);
    assert.equal(id.name, ALICE.first_name);
    assert.ok(id.exp > id.iat);
    const userinfo = await fetch(`${base}/oauth/userinfo`, { headers: { Authorization: `Bearer ${body.access_token}` } });
    assert.equal(userinfo.status, 200);
    assert.equal((await userinfo.json()).email, ALICE.email);
    assert.equal((await fetch(`${base}/oauth/userinfo`)).status, 401);
  });

  test('refresh rotates; reusing an old refresh token revokes the family', async () => {
    const { code, pkce } = await codeFor();
    const first = (await exchange(code, pkce.verifier)).body;
    const second = await tokenRequest(base, { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: 'spa' }, { Origin: ORIGIN });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.notEqual(second.body.refresh_token, first.refresh_token);
    assert.equal(second.headers.get('access-control-allow-origin'), ORIGIN);
    const jwks = await (await fetch(`${base}/.well-known/jwks.json`)).json();
    assert.equal(verifyJws(second.body.id_token, jwks).sub, verifyJws(first.id_token, jwks).sub);
    const other = await tokenRequest(base, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token, client_id: 'someone-else' });
    assertJsonError(other, 401, 'invalid_client');
    const reuse = await tokenRequest(base, { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: 'spa' });
    assertJsonError(reuse, 400, 'invalid_grant');
    const newest = await tokenRequest(base, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token, client_id: 'spa' });
    assertJsonError(newest, 400, 'invalid_grant');
  });

  test('token endpoint errors follow RFC 6749 §5.2', async () => {
    assertJsonError(await tokenRequest(base, { grant_type: 'authorization_code', code: 'x', client_id: 'nobody', redirect_uri: REDIRECT, code_verifier: 'v' }), 401, 'invalid_client');
    assertJsonError(await tokenRequest(base, { client_id: 'spa' }), 400, 'invalid_request');
    assertJsonError(await tokenRequest(base, { grant_type: 'password', client_id: 'spa' }), 400, 'unsupported_grant_type');
    assertJsonError(await tokenRequest(base, { grant_type: 'authorization_code', client_id: 'spa' }), 400, 'invalid_request');
    assertJsonError(await tokenRequest(base, { grant_type: 'authorization_code', client_id: 'spa', code: 'AC-made-up', redirect_uri: REDIRECT, code_verifier: pkcePair().verifier }), 400, 'invalid_grant');
    const json = await fetch(`${base}/oauth/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"grant_type":"refresh_token"}' });
    assert.equal(json.status, 400);
    assert.equal((await json.json()).error, 'invalid_request');
    const repeated = await fetch(`${base}/oauth/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'grant_type=refresh_token&client_id=spa&client_id=spa' });
    assert.equal((await repeated.json()).error, 'invalid_request');
    const nul = await fetch(`${base}/oauth/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'grant_type=authorization_code&client_id=spa&code=a%00b' });
    assert.equal(nul.status, 400);
    assert.equal((await nul.json()).error, 'invalid_request');
    const huge = await fetch(`${base}/oauth/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `grant_type=refresh_token&client_id=spa&pad=${'x'.repeat(20_000)}` });
    assert.equal(huge.status, 400);
    assert.equal((await huge.json()).error, 'invalid_request');
  });

  test('CSRF: a form without its cookie, or with a forged token, is refused', async () => {
    const page = await openLoginPage(base, requestParams('spa', REDIRECT, pkcePair().challenge));
    const noCookie = await submitLogin(base, page.hidden, { ...BOB, cookie: null });
    assert.equal(noCookie.res.status, 403);
    assert.equal(noCookie.location, null);
    assert.match(noCookie.html, /expired/);
    const forged = await submitLogin(base, { ...page.hidden, csrf_token: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, { ...BOB, cookie: page.cookie });
    assert.equal(forged.res.status, 403);
    const otherState = await submitLogin(base, { ...page.hidden, state: 'changed' }, { ...BOB, cookie: page.cookie });
    assert.equal(otherState.res.status, 403, 'the token is bound to the authorization request');
  });

  test('failed logins are limited per account (429 with a clear message)', async () => {
    const params = requestParams('spa', REDIRECT, pkcePair().challenge);
    const page = await openLoginPage(base, params);
    for (let i = 0; i < 5; i += 1) {
      const wrong = await submitLogin(base, page.hidden, { email: BOB.email, password: `wrong-${i}`, cookie: page.cookie });
      assert.equal(wrong.res.status, 401);
    }
    const locked = await submitLogin(base, page.hidden, { ...BOB, cookie: page.cookie });
    assert.equal(locked.res.status, 429);
    assert.equal(locked.location, null);
    assert.ok(Number(locked.res.headers.get('retry-after')) > 0);
    assert.match(locked.html, /Too many failed sign-in attempts/);
    // Another account from the same address is not locked.
    const alice = await submitLogin(base, page.hidden, { ...ALICE, cookie: page.cookie });
    assert.equal(alice.res.status, 303);
  });

  test('discovery and the token endpoint answer CORS for registered origins only', async () => {
    const discovery = await fetch(`${base}/.well-known/openid-configuration`, { headers: { Origin: ORIGIN } });
    assert.equal(discovery.headers.get('access-control-allow-origin'), ORIGIN);
    assert.match(discovery.headers.get('content-type'), /^application\/json/);
    const meta = await discovery.json();
    assert.equal(meta.authorization_endpoint, `${weft.issuer}/login/oauth/authorize`);
    assert.equal(meta.token_endpoint, `${weft.issuer}/oauth/token`);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    assert.ok(meta.end_session_endpoint);
    const preflight = await fetch(`${base}/oauth/token`, {
      method: 'OPTIONS',
      headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,dpop' },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
    assert.match(preflight.headers.get('access-control-allow-methods'), /POST/);
    const stranger = await fetch(`${base}/.well-known/openid-configuration`, { headers: { Origin: 'http://evil.example' } });
    assert.equal(stranger.headers.get('access-control-allow-origin'), null);
  });

  test('sign-out returns only to registered addresses', async () => {
    const back = await fetch(`${base}/oauth/logout?client_id=spa&post_logout_redirect_uri=${encodeURIComponent(REDIRECT)}&state=s1`, { redirect: 'manual' });
    assert.equal(back.status, 303);
    assert.equal(back.headers.get('location'), `${REDIRECT}?state=s1`);
    const evil = await fetch(`${base}/oauth/logout?client_id=spa&post_logout_redirect_uri=${encodeURIComponent('http://evil.example/')}`, { redirect: 'manual' });
    assert.equal(evil.status, 400);
    assert.equal(evil.headers.get('location'), null);
    const plain = await fetch(`${base}/oauth/logout`);
    assert.equal(plain.status, 200);
    assert.match(await plain.text(), /You are signed out/);
  });

  test('the clients REST API lists, validates, shows and deletes clients', async () => {
    assert.equal((await fetch(`${base}/api/weft/oauth_clients`)).status, 401);
    const list = await weft.api('GET', '/api/weft/oauth_clients');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.data.map((c) => c.client_id), ['spa']);
    const bad = await weft.api('POST', '/api/weft/oauth_clients', { client_id: 'bad', redirect_uris: ['http://example.com/cb'] });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.errors[0].attribute, 'redirect_uris');
    const taken = await weft.api('POST', '/api/weft/oauth_clients', { client_id: 'spa', redirect_uris: [REDIRECT] });
    assert.equal(taken.status, 422);
    const temp = await weft.api('POST', '/api/weft/oauth_clients', { redirect_uris: ['https://app.example.com/cb'] });
    assert.equal(temp.status, 201);
    const id = temp.body.client_id;
    assert.equal((await weft.api('GET', `/api/weft/oauth_clients/${id}`)).status, 200);
    assert.equal((await weft.api('DELETE', `/api/weft/oauth_clients/${id}`)).status, 204);
    assert.equal((await weft.api('GET', `/api/weft/oauth_clients/${id}`)).status, 404);
  });
});

function configuredClient(codeTtl) {
  return `
[oauth]
code_ttl_secs = ${codeTtl}

[[oauth.clients]]
client_id = "configured"
name = "Configured App"
redirect_uris = ["${REDIRECT}"]
allowed_origins = ["${ORIGIN}"]
`;
}

async function exchangeConfigured(weft, code, verifier) {
  return tokenRequest(weft.httpUrl, {
    grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: 'configured', code_verifier: verifier,
  });
}

describe('OAuth with a client from the configuration file', () => {
  let weft;

  before(async () => {
    weft = new Weft({ configToml: configuredClient(60) });
    await weft.start();
    await weft.createSubscriber(ALICE);
  });

  after(async () => {
    await weft?.stop();
    weft?.cleanup();
  });

  test('a configured client logs in, is listed as such and cannot be deleted over REST', async () => {
    const pkce = pkcePair();
    const { code } = await obtainCode(weft.httpUrl, requestParams('configured', REDIRECT, pkce.challenge), ALICE);
    const res = await exchangeConfigured(weft, code, pkce.verifier);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const list = await weft.api('GET', '/api/weft/oauth_clients');
    assert.equal(list.body.data[0].source, 'config');
    assert.equal((await weft.api('DELETE', '/api/weft/oauth_clients/configured')).status, 422);
  });
});

describe('OAuth with 1-second codes', () => {
  let weft;

  before(async () => {
    weft = new Weft({ configToml: configuredClient(1) });
    await weft.start();
    await weft.createSubscriber(ALICE);
  });

  after(async () => {
    await weft?.stop();
    weft?.cleanup();
  });

  test('an expired code is invalid_grant', async () => {
    const pkce = pkcePair();
    const { code } = await obtainCode(weft.httpUrl, requestParams('configured', REDIRECT, pkce.challenge), ALICE);
    await new Promise((r) => setTimeout(r, 1500));
    const res = await exchangeConfigured(weft, code, pkce.verifier);
    assertJsonError(res, 400, 'invalid_grant');
    assert.match(res.body.error_description, /expired/);
  });
});
