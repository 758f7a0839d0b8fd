"""Subscriber login over OAuth2 + PKCE against a real weft, on SQLite and PostgreSQL (issue 3):
the code flow with the login form's CSRF cookie, single-use codes, refresh rotation with family
revocation on reuse, the id_token, userinfo, and clients registered with the admin CLI while the
server runs. (The browser runs are in tests/browser/.)"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from urllib.parse import parse_qs, urlparse

import requests

from weft_http import jws_payload

REDIRECT = "http://localhost:3000/cb"
ORIGIN = "http://localhost:3000"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def log_in(base: str, client_id: str, email: str, password: str, challenge: str, state: str) -> requests.Response:
    """Opens the login form, then submits it (redirects not followed)."""
    browser = requests.Session()
    params = {
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid profile",
        "state": state,
        "nonce": "nonce-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = browser.get(f"{base}/login/oauth/authorize", params=params, allow_redirects=False)
    assert page.status_code == 200, page.text
    form = {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text)
    }
    form.update(email=email, password=password)
    return browser.post(f"{base}/login/oauth/authorize", data=form, allow_redirects=False)


def token(base: str, **fields: str) -> requests.Response:
    return requests.post(f"{base}/oauth/token", data=fields, headers={"Origin": ORIGIN}, timeout=10)


def test_code_flow_refresh_rotation_and_reuse(weft, api):
    client = weft.admin(
        "oauth-client", "create", "--client-id", "e2e-app", "--redirect-uri", REDIRECT, "--origin", ORIGIN
    )
    assert '"client_id":"e2e-app"' in client.replace(" ", "")
    api.created(
        "/api/fabric/resources/subscribers",
        {"email": "grace@example.com", "password": "cobol-1959", "first_name": "Grace"},
    )
    base = weft.http_url
    verifier, challenge = pkce_pair()

    wrong = log_in(base, "e2e-app", "grace@example.com", "nope", challenge, "s1")
    assert wrong.status_code == 401
    assert "location" not in wrong.headers

    state = "st;url_state=1"
    done = log_in(base, "e2e-app", "Grace@Example.com", "cobol-1959", challenge, state)
    assert done.status_code == 303, done.text
    redirect = urlparse(done.headers["location"])
    query = parse_qs(redirect.query)
    assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == REDIRECT
    assert query["state"] == [state]
    code = query["code"][0]

    exchange = dict(grant_type="authorization_code", code=code, redirect_uri=REDIRECT, client_id="e2e-app")
    bad = token(base, **exchange, code_verifier=pkce_pair()[0])
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"

    done = log_in(base, "e2e-app", "grace@example.com", "cobol-1959", challenge, state)
    code = parse_qs(urlparse(done.headers["location"]).query)["code"][0]
    exchange["code"] = code
    first = token(base, **exchange, code_verifier=verifier)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("application/json")
    assert first.headers["access-control-allow-origin"] == ORIGIN
    body = first.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "openid profile"
    claims = jws_payload(body["id_token"])
    assert claims["aud"] == "e2e-app" and claims["nonce"] == "nonce-1"
    assert claims["email"] == "grace@example.com" and claims["sub"] == jws_payload(body["access_token"])["sub"]
    info = requests.get(
        f"{base}/api/fabric/subscriber/info", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10
    )
    assert info.status_code == 200 and info.json()["first_name"] == "Grace"
    userinfo = requests.get(
        f"{base}/oauth/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10
    )
    assert userinfo.json()["given_name"] == "Grace"

    again = token(base, **exchange, code_verifier=verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    # A fresh login for the refresh checks (the reused code revoked the first pair).
    done = log_in(base, "e2e-app", "grace@example.com", "cobol-1959", challenge, state)
    exchange["code"] = parse_qs(urlparse(done.headers["location"]).query)["code"][0]
    pair = token(base, **exchange, code_verifier=verifier).json()
    rotated = token(base, grant_type="refresh_token", refresh_token=pair["refresh_token"], client_id="e2e-app")
    assert rotated.status_code == 200, rotated.text
    newest = rotated.json()["refresh_token"]
    reuse = token(base, grant_type="refresh_token", refresh_token=pair["refresh_token"], client_id="e2e-app")
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    after = token(base, grant_type="refresh_token", refresh_token=newest, client_id="e2e-app")
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"


def test_clients_api_round_trip(weft, api):
    created = api.created(
        "/api/weft/oauth_clients",
        {"client_id": "rest-app", "redirect_uris": [REDIRECT], "allowed_origins": [ORIGIN]},
    )
    assert created["client_id"] == "rest-app" and created["source"] == "api"
    listed = api.get("/api/weft/oauth_clients").json()["data"]
    assert [c["client_id"] for c in listed] == ["rest-app"]
    assert api.delete("/api/weft/oauth_clients/rest-app").status_code == 204
    assert api.get("/api/weft/oauth_clients/rest-app").status_code == 404


def test_nul_characters_are_refused_cleanly(weft, api):
    """NUL cannot be stored by PostgreSQL: it must be refused before it reaches the database."""
    api.created("/api/weft/oauth_clients", {"client_id": "nul-app", "redirect_uris": [REDIRECT]})
    _, challenge = pkce_pair()
    query = (
        f"client_id=nul-app&redirect_uri={REDIRECT}&response_type=code&code_challenge={challenge}"
        "&code_challenge_method=S256&state=a%00b"
    )
    page = requests.get(f"{weft.http_url}/login/oauth/authorize?{query}", allow_redirects=False, timeout=10)
    assert page.status_code == 400 and "location" not in page.headers
    unknown = requests.get(f"{weft.http_url}/login/oauth/authorize?client_id=x%00y", allow_redirects=False, timeout=10)
    assert unknown.status_code == 400
    refused = token(weft.http_url, grant_type="refresh_token", client_id="nul-app", refresh_token="a\x00b")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    assert api.get("/api/weft/oauth_clients/nul%00app").status_code in (400, 404)
    assert api.get("/api/weft/oauth_clients/nul-app").status_code == 200
