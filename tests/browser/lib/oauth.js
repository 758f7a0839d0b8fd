// A minimal OAuth2 + PKCE client over plain HTTP, acting as the browser would (form, cookie,
// redirects not followed), for the checks that need no page.

import { createHash, randomBytes, createPublicKey, verify } from 'node:crypto';

/** A PKCE verifier and its S256 challenge. */
export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/** The authorize URL for a request. */
export function authorizeUrl(base, params) {
  return `${base}/login/oauth/authorize?${new URLSearchParams(params)}`;
}

/** Default authorization-request parameters for a client. */
export function requestParams(clientId, redirectUri, challenge, extra = {}) {
  return {
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid',
    state: `st-${randomBytes(6).toString('hex')};url_state`,
    nonce: `n-${randomBytes(6).toString('hex')}`,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
}

/** GET the login page: its status, HTML, the form's hidden fields and the binding cookie. */
export async function openLoginPage(base, params) {
  const res = await fetch(authorizeUrl(base, params), { redirect: 'manual' });
  const html = await res.text();
  const hidden = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    hidden[m[1]] = unescapeHtml(m[2]);
  }
  const cookie = (res.headers.get('set-cookie') || '').split(';')[0];
  return { res, html, hidden, cookie };
}

function unescapeHtml(text) {
  return text
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

/** POST the login form; returns the response (redirects not followed) and its body. */
export async function submitLogin(base, form, { email, password, cookie }) {
  const res = await fetch(`${base}/login/oauth/authorize`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...(cookie ? { Cookie: cookie } : {}) },
    body: new URLSearchParams({ ...form, email, password }),
  });
  return { res, html: await res.text(), location: res.headers.get('location') };
}

/** Logs in and returns the redirect's code and state. */
export async function obtainCode(base, params, credentials) {
  const page = await openLoginPage(base, params);
  if (page.res.status !== 200) throw new Error(`login page: ${page.res.status}`);
  const done = await submitLogin(base, page.hidden, { ...credentials, cookie: page.cookie });
  if (done.res.status !== 303) throw new Error(`login: ${done.res.status} ${done.html.slice(0, 200)}`);
  const url = new URL(done.location);
  return { code: url.searchParams.get('code'), state: url.searchParams.get('state'), url };
}

/** POST /oauth/token with form fields; returns status, headers and JSON body. */
export async function tokenRequest(base, fields, headers = {}) {
  const res = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', ...headers },
    body: new URLSearchParams(fields),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** Verifies a compact ES256 JWS against a JWKS; returns its payload. */
export function verifyJws(token, jwks) {
  const [h, p, s] = token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no key ${header.kid} in the JWKS`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
  if (!ok) throw new Error('bad signature');
  return JSON.parse(Buffer.from(p, 'base64url'));
}
