"""Small HTTP helpers for the end-to-end tests: an authenticated client, the error-body checks the
REST spec documents, list paging, and decoding of compact JOSE tokens."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

TIMEOUT_S = 15.0
MAX_PAGE_SIZE = 1000


class Api:
    """A requests session bound to one server's base URL, with default Basic credentials."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None) -> None:
        self.base_url = base_url
        self.auth = auth
        self.session = requests.Session()

    def request(self, method: str, path: str, *, auth: Any = "default", **kwargs: Any) -> requests.Response:
        """Sends one request; `auth=None` sends no credentials, a tuple other Basic credentials."""
        kwargs.setdefault("timeout", TIMEOUT_S)
        return self.session.request(
            method, self.base_url + path, auth=self.auth if auth == "default" else auth, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def created(self, path: str, body: dict, **kwargs: Any) -> dict:
        """POSTs `body` and returns the JSON of a 2xx answer (fails the test otherwise)."""
        resp = self.post(path, json=body, **kwargs)
        assert resp.ok, f"POST {path} -> {resp.status_code} {resp.text}"
        return resp.json()

    def list_all(self, path: str, **kwargs: Any) -> list[dict]:
        """Every item of a list endpoint, following `links.next` as the PyPI client does."""
        params: dict[str, Any] = {"page_size": MAX_PAGE_SIZE}
        items: list[dict] = []
        seen_next: set[str] = set()
        while True:
            resp = self.get(path, params=params, **kwargs)
            assert resp.status_code == 200, f"GET {path} -> {resp.status_code} {resp.text}"
            page = resp.json()
            items.extend(page["data"])
            next_link = (page.get("links") or {}).get("next")
            if not next_link:
                return items
            assert next_link not in seen_next, f"links.next repeats on {path}: {next_link}"
            seen_next.add(next_link)
            params = {k: v[0] for k, v in parse_qs(urlsplit(next_link).query).items()}


def describe(resp: requests.Response) -> str:
    """`METHOD URL -> STATUS BODY` (body cut short), for assertion messages."""
    return f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.text[:300]!r}"


def json_body(resp: requests.Response) -> Any:
    assert resp.headers.get("content-type", "").startswith("application/json"), (
        f"not JSON: {describe(resp)} (content-type {resp.headers.get('content-type')!r})"
    )
    return resp.json()


def assert_error(resp: requests.Response, status: int, error: str | None = None) -> None:
    """`status` with the spec's `{"error": "..."}` body (exactly `error` when given)."""
    assert resp.status_code == status, describe(resp)
    body = json_body(resp)
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], describe(resp)
    if error is not None:
        assert body == {"error": error}, describe(resp)


def assert_validation_error(resp: requests.Response, attribute: str | None = None) -> None:
    """422 with `{"errors":[{"type":"validation_error","code","message","attribute"}]}`; when
    `attribute` is given, one of the errors names it."""
    assert resp.status_code == 422, describe(resp)
    body = json_body(resp)
    assert isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"], describe(resp)
    for err in body["errors"]:
        assert err.get("type") == "validation_error", describe(resp)
        assert isinstance(err.get("code"), str) and err["code"], describe(resp)
        assert isinstance(err.get("message"), str) and err["message"], describe(resp)
        assert "attribute" in err, describe(resp)
    if attribute is not None:
        assert attribute in [err["attribute"] for err in body["errors"]], (
            f"no error names {attribute!r}: {describe(resp)}"
        )


def assert_client_error(resp: requests.Response, allowed: set[int]) -> None:
    """One of the `allowed` 4xx statuses, with the body the spec documents for it."""
    assert resp.status_code in allowed, f"expected one of {sorted(allowed)}: {describe(resp)}"
    if resp.status_code == 422:
        assert_validation_error(resp)
    else:
        assert_error(resp, resp.status_code)


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jose_header(token: str) -> dict:
    """The protected header of a compact JWS/JWE, as the browser SDK decodes it."""
    return json.loads(b64url_decode(token.split(".")[0]))


def jws_payload(token: str) -> dict:
    """The payload of a compact JWS."""
    parts = token.split(".")
    assert len(parts) == 3, f"not a compact JWS: {len(parts)} parts"
    return json.loads(b64url_decode(parts[1]))
