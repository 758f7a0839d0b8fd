"""Acceptance 2: subscriber access tokens work where the browser SDK uses them — the protected
header it reads (`typ`, `ch`), Bearer calls over HTTPS to `fabric.<domain>` verified against the
development certificate — and expired, tampered, forged and revoked tokens get 401."""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import time
import uuid

import pytest
import urllib3

from weft_http import Api, b64url_decode, b64url_encode, jose_header, jws_payload

DOMAIN = "weft.localhost"
FABRIC_HOST = f"fabric.{DOMAIN}"
RELAY_HOST = f"relay.{DOMAIN}"
UNAUTHORIZED = {"error": "Unauthorized"}
BROWSER_ORIGIN = "http://localhost:5173"


class FabricHttps:
    """HTTPS to `fabric.weft.localhost` as a browser would reach it: connects to 127.0.0.1:TLS-port
    with SNI and Host `fabric.weft.localhost`, trusting only the server's development certificate."""

    def __init__(self, weft) -> None:
        self.host_header = f"{FABRIC_HOST}:{weft.tls_port}"
        self.pool = urllib3.HTTPSConnectionPool(
            "127.0.0.1",
            weft.tls_port,
            server_hostname=FABRIC_HOST,
            assert_hostname=FABRIC_HOST,
            cert_reqs="CERT_REQUIRED",
            ca_certs=str(weft.cert_path),
            retries=False,
            timeout=15.0,
        )

    def request(self, method: str, path: str, token: str | None = None, headers: dict | None = None):
        all_headers = {"Host": self.host_header, **(headers or {})}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        return self.pool.request(method, path, headers=all_headers)

    def get(self, path: str, token: str | None = None):
        return self.request("GET", path, token)


def describe(resp) -> str:
    return f"{resp.status} {resp.data[:300]!r}"


def assert_unauthorized(resp) -> None:
    assert resp.status == 401, describe(resp)
    assert json.loads(resp.data) == UNAUTHORIZED, describe(resp)


def assert_token_accepted(https: FabricHttps, token: str) -> dict:
    info = https.get("/api/fabric/subscriber/info", token)
    assert info.status == 200, describe(info)
    addresses = https.get("/api/fabric/addresses", token)
    assert addresses.status == 200, describe(addresses)
    return json.loads(info.data)


def assert_token_rejected(https: FabricHttps, token: str) -> None:
    assert_unauthorized(https.get("/api/fabric/subscriber/info", token))
    assert_unauthorized(https.get("/api/fabric/addresses", token))


@pytest.fixture
def https(weft) -> FabricHttps:
    return FabricHttps(weft)


def new_subscriber(api: Api) -> tuple[dict, str]:
    """A subscriber created over REST with a password; returns (resource, email)."""
    email = f"sat-{uuid.uuid4().hex[:8]}@example.com"
    sub = api.created("/api/fabric/resources/subscribers", {"email": email, "password": "Sat-pw-1", "first_name": "Sat"})
    return sub, email


def subscriber_token(api: Api, email: str, **extra) -> dict:
    resp = api.post("/api/fabric/subscribers/tokens", json={"reference": email, "password": "Sat-pw-1", **extra})
    assert resp.status_code == 200, f"{resp.status_code} {resp.text}"
    return resp.json()


def test_header_and_payload(weft, api):
    _, email = new_subscriber(api)
    before = int(time.time())
    token = subscriber_token(api, email)["token"]
    header = jose_header(token)
    assert header["typ"] == "SAT", header
    assert header["ch"] == f"{RELAY_HOST}:{weft.tls_port}", header
    assert header.get("alg") not in (None, "none"), header
    payload = jws_payload(token)
    for claim in ("sub", "project_id", "scope", "exp", "iat", "jti", "r"):
        assert claim in payload, f"{claim!r} missing from {payload}"
    assert payload["r"] == "SAT"
    assert payload["project_id"] == weft.project_id
    assert isinstance(payload["sub"], str) and payload["sub"]
    assert isinstance(payload["jti"], str) and payload["jti"]
    assert before - 5 <= payload["iat"] <= time.time() + 5
    assert abs(payload["exp"] - payload["iat"] - 2 * 3600) <= 60, "default lifetime is two hours"

    expire_at = int(time.time()) + 600
    custom = subscriber_token(api, email, expire_at=expire_at)["token"]
    assert jws_payload(custom)["exp"] == expire_at
    assert jws_payload(custom)["jti"] != payload["jti"]


def test_bearer_calls_over_https_with_the_development_certificate(weft, api, https):
    _, email = new_subscriber(api)
    tokens = subscriber_token(api, email)
    info = assert_token_accepted(https, tokens["token"])
    assert info["email"] == email
    assert info["first_name"] == "Sat"
    assert isinstance(info["fabric_addresses"], list) and info["fabric_addresses"], info
    assert all(a["type"] == "subscriber" for a in info["fabric_addresses"]), info
    listed = json.loads(https.get("/api/fabric/addresses", tokens["token"]).data)
    assert isinstance(listed["data"], list) and "links" in listed, listed
    one = https.get(f"/api/fabric/addresses/{info['fabric_addresses'][0]['id']}", tokens["token"])
    assert one.status == 200, describe(one)

    # A refreshed token works there too.
    refreshed = api.post("/api/fabric/subscribers/tokens/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 201, refreshed.text
    assert assert_token_accepted(https, refreshed.json()["token"])["email"] == email

    # The same listener presents a certificate valid for relay.<domain> (the WebSocket host).
    context = ssl.create_default_context(cafile=str(weft.cert_path))
    with socket.create_connection(("127.0.0.1", weft.tls_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=RELAY_HOST) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_missing_and_garbage_bearer_tokens(https):
    assert_unauthorized(https.get("/api/fabric/subscriber/info"))
    assert_unauthorized(https.get("/api/fabric/addresses"))
    for garbage in ("", "abc", "a.b.c", "...", "eyJ0eXAiOiJTQVQifQ.e30.", secrets.token_urlsafe(300)):
        assert_unauthorized(https.get("/api/fabric/subscriber/info", garbage))


def test_expired_token_is_rejected(api, https):
    _, email = new_subscriber(api)
    expire_at = int(time.time()) + 2
    token = subscriber_token(api, email, expire_at=expire_at)["token"]
    assert jws_payload(token)["exp"] == expire_at
    if time.time() < expire_at - 0.5:
        assert_token_accepted(https, token)
    time.sleep(max(0.0, expire_at + 1.5 - time.time()))
    assert_token_rejected(https, token)


def resign(token: str, header: dict | None = None, payload: dict | None = None, signature: str | None = None) -> str:
    """`token` with its header, payload or signature segment replaced."""
    h, p, s = token.split(".")
    if header is not None:
        h = b64url_encode(json.dumps(header).encode())
    if payload is not None:
        p = b64url_encode(json.dumps(payload).encode())
    return ".".join([h, p, s if signature is None else signature])


def flip_char(segment: str, index: int) -> str:
    replacement = "A" if segment[index] != "A" else "B"
    return segment[:index] + replacement + segment[index + 1 :]


def test_tampered_and_forged_tokens_are_rejected(weft, weft_factory, api, https):
    _, email = new_subscriber(api)
    token = subscriber_token(api, email)["token"]
    assert_token_accepted(https, token)
    h, p, s = token.split(".")
    header, payload = jose_header(token), jws_payload(token)
    raw_signature = b64url_decode(s)

    tampered = [
        ".".join([h, flip_char(p, len(p) // 2), s]),  # one payload character changed
        ".".join([h, flip_char(p, 5), s]),
        resign(token, payload={**payload, "exp": payload["exp"] + 86400}),  # lifetime extended
        resign(token, payload={**payload, "sub": str(uuid.uuid4())}),  # someone else
        resign(token, payload={**payload, "project_id": str(uuid.uuid4())}),
        resign(token, signature=b64url_encode(secrets.token_bytes(len(raw_signature)))),  # forged signature
        resign(token, signature=b64url_encode(bytes(b ^ 1 for b in raw_signature))),
        resign(token, signature=""),  # signature stripped
        resign(token, header={**header, "alg": "none"}, signature=""),  # unsigned
        resign(token, header={**header, "alg": "HS256"}),  # algorithm switched
        token + "x",
        token[:-2],
    ]
    for bad in tampered:
        assert bad != token
        assert_token_rejected(https, bad)

    # A genuine token signed by another weft (its own key) is a forgery here.
    other = weft_factory(None)
    other_api = Api(other.http_url, other.auth)
    other_api.created("/api/fabric/resources/subscribers", {"email": email, "password": "Sat-pw-1"})
    foreign = subscriber_token(other_api, email)["token"]
    assert_token_rejected(https, foreign)
    assert_token_rejected(https, resign(foreign, payload={**jws_payload(foreign), "project_id": weft.project_id}))

    assert_token_accepted(https, token)


def test_revoked_token_is_rejected(api, https):
    _, email = new_subscriber(api)
    token = subscriber_token(api, email)["token"]
    assert_token_accepted(https, token)
    unauthenticated = api.post("/api/fabric/subscribers/tokens/revoke", json={"token": token}, auth=None)
    assert unauthenticated.status_code == 401, unauthenticated.text
    assert_token_accepted(https, token)
    revoked = api.post("/api/fabric/subscribers/tokens/revoke", json={"token": token})
    assert revoked.status_code == 204, f"{revoked.status_code} {revoked.text}"
    assert_token_rejected(https, token)


def test_deleting_the_subscriber_invalidates_its_tokens(api, https):
    sub, email = new_subscriber(api)
    first = subscriber_token(api, email)["token"]
    second = subscriber_token(api, email)["token"]
    assert_token_accepted(https, first)
    deleted = api.delete(f"/api/fabric/resources/subscribers/{sub['id']}")
    assert deleted.status_code == 204, deleted.text
    assert_token_rejected(https, first)
    assert_token_rejected(https, second)


def test_cors_preflight_allows_authorization_and_content_type(https):
    for path in ("/api/fabric/addresses", "/api/fabric/subscriber/info"):
        resp = https.request(
            "OPTIONS",
            path,
            headers={
                "Origin": BROWSER_ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert 200 <= resp.status < 300, describe(resp)
        assert resp.headers.get("Access-Control-Allow-Origin") in ("*", BROWSER_ORIGIN), dict(resp.headers)
        allowed_headers = {h.strip().lower() for h in resp.headers.get("Access-Control-Allow-Headers", "").split(",")}
        assert "authorization" in allowed_headers, dict(resp.headers)  # `*` does not cover Authorization
        assert {"content-type", "*"} & allowed_headers, dict(resp.headers)
        allowed_methods = resp.headers.get("Access-Control-Allow-Methods", "")
        assert "GET" in allowed_methods or allowed_methods.strip() == "*", dict(resp.headers)

    # The actual request carries the allow-origin header too, even when it is refused.
    resp = https.request("GET", "/api/fabric/addresses", headers={"Origin": BROWSER_ORIGIN})
    assert resp.status == 401
    assert resp.headers.get("Access-Control-Allow-Origin") in ("*", BROWSER_ORIGIN), dict(resp.headers)


def test_guest_token_sees_only_its_allowed_addresses(api, https):
    rooms = [api.created("/api/fabric/resources/conference_rooms", {"name": f"guest-room-{i}-{uuid.uuid4().hex[:6]}",
                                                                     "enable_room_previews": False}) for i in range(3)]
    address_ids = [api.get(f"/api/fabric/resources/{room['id']}/addresses").json()["data"][0]["id"] for room in rooms]
    resp = api.post("/api/fabric/guests/tokens", json={"allowed_addresses": address_ids[:2]})
    assert resp.status_code == 201, f"{resp.status_code} {resp.text}"
    guest = resp.json()["token"]
    header = jose_header(guest)
    assert header["typ"] == "SAT" and header["ch"].startswith(RELAY_HOST), header
    listed = https.get("/api/fabric/addresses", guest)
    assert listed.status == 200, describe(listed)
    assert sorted(a["id"] for a in json.loads(listed.data)["data"]) == sorted(address_ids[:2])
    hidden = https.get(f"/api/fabric/addresses/{address_ids[2]}", guest)
    assert hidden.status in (403, 404), describe(hidden)
