"""Acceptance 3 (and 5): hundreds of bad requests — missing or wrong credentials, another project's
resources, malformed JSON, wrong types, missing or oversized fields, duplicate names, bad paging,
bodies over 1 MiB — each answered with the documented status and body. Afterwards everything
stored reads back unchanged and the server still serves. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import http.client
import json
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import pytest
import requests

from weft_http import Api, assert_client_error, assert_error, assert_validation_error, describe

R = "/api/fabric/resources"
SUBSCRIBERS = f"{R}/subscribers"
SCRIPTS = f"{R}/swml_scripts"
ROOMS = f"{R}/conference_rooms"
SIP_ENDPOINTS = f"{R}/sip_endpoints"
TOKENS = "/api/fabric/subscribers/tokens"
REFRESH = f"{TOKENS}/refresh"
REVOKE = f"{TOKENS}/revoke"
GUESTS = "/api/fabric/guests/tokens"
COLLECTIONS = [SUBSCRIBERS, SCRIPTS, ROOMS, SIP_ENDPOINTS, f"{R}/ai_agents", f"{R}/swml_webhooks", R, "/api/fabric/addresses"]
BIG = "x" * 10_000
ONE_MIB = 1 << 20
SWML = json.dumps({"version": "1.0.0", "sections": {"main": [{"hangup": {}}]}})


@dataclass
class Project:
    """One project's client and the resources the test made in it."""

    api: Api
    ids: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


@dataclass
class Case:
    """One bad request and the check of its answer."""

    label: str
    send: Callable[[], requests.Response]
    check: Callable[[requests.Response], None]


def populate(project: Project, tag: str) -> None:
    """Creates one resource of each kind the barrage aims at."""
    api = project.api
    for key in ("sub", "sub2"):
        email = f"{key}-{tag}-{uuid.uuid4().hex[:6]}@example.com"
        project.ids[key] = api.created(SUBSCRIBERS, {"email": email, "password": "Bad-input-pw-1"})["id"]
        project.names[key] = email
    project.names["script"] = "dup-script"  # the same name in both projects: names are per project
    project.ids["script"] = api.created(SCRIPTS, {"name": "dup-script", "contents": SWML})["id"]
    project.names["room"] = f"room-{tag}"
    project.ids["room"] = api.created(ROOMS, {"name": project.names["room"], "enable_room_previews": False})["id"]
    project.names["sip"] = f"sipuser{tag}"
    project.ids["sip"] = api.created(
        SIP_ENDPOINTS, {"username": project.names["sip"], "password": "Sip-pw-1", "encryption": "optional"}
    )["id"]
    nested = api.created(f"{SUBSCRIBERS}/{project.ids['sub']}/sip_endpoints", {"username": f"nested{tag}", "password": "Nested-pw-1"})
    project.ids["nested_sip"] = nested["id"]
    addresses = api.get(f"{R}/{project.ids['room']}/addresses")
    assert addresses.status_code == 200, describe(addresses)
    project.ids["room_address"] = addresses.json()["data"][0]["id"]
    token = api.post(TOKENS, json={"reference": project.names["sub"], "password": "Bad-input-pw-1"})
    assert token.status_code == 200, describe(token)
    project.names["access_token"] = token.json()["token"]


def snapshot(project: Project) -> dict[str, Any]:
    """Everything stored in the project that the API shows."""
    api = project.api
    state: dict[str, Any] = {path: api.list_all(path) for path in COLLECTIONS}
    for item in state[R]:
        state[f"{R}/{item['id']}"] = api.get(f"{R}/{item['id']}").json()
        state[f"{R}/{item['id']}/addresses"] = api.list_all(f"{R}/{item['id']}/addresses")
    for item in state[SUBSCRIBERS]:
        state[f"{SUBSCRIBERS}/{item['id']}"] = api.get(f"{SUBSCRIBERS}/{item['id']}").json()
        state[f"{SUBSCRIBERS}/{item['id']}/sip_endpoints"] = api.list_all(f"{SUBSCRIBERS}/{item['id']}/sip_endpoints")
    return state


def expect_status(status: int, error: str | None = None) -> Callable[[requests.Response], None]:
    return partial(assert_error, status=status, error=error)


def expect_422(attribute: str | None = None) -> Callable[[requests.Response], None]:
    return partial(assert_validation_error, attribute=attribute)


def expect_one_of(*statuses: int) -> Callable[[requests.Response], None]:
    return partial(assert_client_error, allowed=set(statuses))


def raw_auth(value: str) -> dict[str, Any]:
    """Request options that send exactly `Authorization: value`."""
    return {"auth": None, "headers": {"Authorization": value}}


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def auth_cases(a: Project, b: Project, bearer: str) -> list[Case]:
    """No, wrong or malformed credentials on every kind of endpoint: 401 `{"error":"Unauthorized"}`."""
    project_id, token = a.api.auth
    other_id, _ = b.api.auth
    variants = {
        "no credentials": {"auth": None},
        "wrong token": {"auth": (project_id, "wrong-token")},
        "empty token": {"auth": (project_id, "")},
        "unknown project": {"auth": (str(uuid.uuid4()), token)},
        "token of another project": {"auth": (other_id, token)},
        "not a uuid": {"auth": ("not-a-uuid", token)},
        "basic not base64": raw_auth("Basic !!!not-base64!!!"),
        "basic without colon": raw_auth("Basic " + base64.b64encode(project_id.encode()).decode()),
        "bearer garbage": raw_auth("Bearer abc.def.ghi"),
        "subscriber token on a Basic endpoint": raw_auth(f"Bearer {bearer}"),
        "unknown scheme": raw_auth(f"Token {token}"),
        "token twice": raw_auth(basic_header(project_id, token + token)),
    }
    sub = a.ids["sub"]
    targets = [("GET", path, None) for path in COLLECTIONS if path != "/api/fabric/addresses"]
    targets += [
        ("GET", "/api/fabric/addresses", None),
        ("POST", SUBSCRIBERS, {"email": "intruder@example.com", "password": "x-pw-1234"}),
        ("POST", SCRIPTS, {"name": "intruder-script", "contents": SWML}),
        ("POST", TOKENS, {"reference": "intruder@example.com"}),
        ("POST", GUESTS, {"allowed_addresses": [a.ids["room_address"]]}),
        ("PUT", f"{SUBSCRIBERS}/{sub}", {"email": "intruder@example.com"}),
        ("DELETE", f"{SUBSCRIBERS}/{sub}", None),
        ("DELETE", f"{R}/{a.ids['script']}", None),
    ]
    cases = []
    for method, path, body in targets:
        for name, options in variants.items():
            if path == "/api/fabric/addresses" and name == "subscriber token on a Basic endpoint":
                continue  # a subscriber token is valid there
            cases.append(
                Case(f"{name}: {method} {path}", partial(a.api.request, method, path, json=body, **options),
                     expect_status(401, "Unauthorized"))
            )
    info = "/api/fabric/subscriber/info"
    cases.append(Case(f"Basic on {info}", partial(a.api.get, info), expect_status(401, "Unauthorized")))
    cases.append(Case(f"nothing on {info}", partial(a.api.get, info, auth=None), expect_status(401, "Unauthorized")))
    return cases


def foreign_cases(me: Project, other: Project) -> list[Case]:
    """`me`'s credentials on `other`'s resources, and on ids that do not exist: 404 `{"error":"Not Found"}`."""
    api = me.api
    cases = []
    for ids, whose in ((other.ids, "another project's"), ({k: str(uuid.uuid4()) for k in other.ids}, "an unknown")):
        sub, script, room, sip = ids["sub"], ids["script"], ids["room"], ids["sip"]
        targets = [
            ("GET", f"{SUBSCRIBERS}/{sub}", None),
            ("PUT", f"{SUBSCRIBERS}/{sub}", {"email": "hijack@example.com"}),
            ("DELETE", f"{SUBSCRIBERS}/{sub}", None),
            ("GET", f"{SUBSCRIBERS}/{sub}/addresses", None),
            ("GET", f"{SUBSCRIBERS}/{sub}/sip_endpoints", None),
            ("POST", f"{SUBSCRIBERS}/{sub}/sip_endpoints", {"username": "hijack", "password": "Hijack-pw-1"}),
            ("GET", f"{SUBSCRIBERS}/{me.ids['sub']}/sip_endpoints/{ids['nested_sip']}", None),
            ("PATCH", f"{SUBSCRIBERS}/{me.ids['sub']}/sip_endpoints/{ids['nested_sip']}", {"caller_id": "+15550000000"}),
            ("DELETE", f"{SUBSCRIBERS}/{me.ids['sub']}/sip_endpoints/{ids['nested_sip']}", None),
            ("GET", f"{R}/{sub}", None),
            ("DELETE", f"{R}/{script}", None),
            ("GET", f"{R}/{room}/addresses", None),
            ("GET", f"{SCRIPTS}/{script}", None),
            ("PUT", f"{SCRIPTS}/{script}", {"display_name": "hijacked"}),
            ("DELETE", f"{SCRIPTS}/{script}", None),
            ("GET", f"{ROOMS}/{room}", None),
            ("PUT", f"{ROOMS}/{room}", {"display_name": "hijacked"}),
            ("DELETE", f"{ROOMS}/{room}", None),
            ("GET", f"{SIP_ENDPOINTS}/{sip}", None),
            ("DELETE", f"{SIP_ENDPOINTS}/{sip}", None),
            ("GET", f"/api/fabric/addresses/{ids['room_address']}", None),
        ]
        for method, path, body in targets:
            cases.append(Case(f"{whose}: {method} {path}", partial(api.request, method, path, json=body),
                              expect_status(404, "Not Found")))
        cases.append(Case(f"guest token for {whose} address",
                          partial(api.post, GUESTS, json={"allowed_addresses": [ids["room_address"]]}),
                          expect_one_of(404, 422)))
    return cases


def write_targets(p: Project) -> list[tuple[str, str]]:
    """Every endpoint that takes a JSON body."""
    return [
        ("POST", SUBSCRIBERS),
        ("POST", SCRIPTS),
        ("POST", ROOMS),
        ("POST", SIP_ENDPOINTS),
        ("POST", f"{R}/ai_agents"),
        ("POST", f"{R}/swml_webhooks"),
        ("POST", TOKENS),
        ("POST", REFRESH),
        ("POST", REVOKE),
        ("POST", GUESTS),
        ("POST", f"{SUBSCRIBERS}/{p.ids['sub']}/sip_endpoints"),
        ("PUT", f"{SUBSCRIBERS}/{p.ids['sub']}"),
        ("PUT", f"{SCRIPTS}/{p.ids['script']}"),
        ("PUT", f"{ROOMS}/{p.ids['room']}"),
        ("PUT", f"{SIP_ENDPOINTS}/{p.ids['sip']}"),
    ]


def malformed_json_cases(p: Project) -> list[Case]:
    """Bodies that are not JSON at all: 400 `{"error": ...}`; JSON that is not an object: 400 or 422."""
    bodies = [b"{", b'{"email": ', b"not json", b'{"email":"x@example.com",}', b"\xff\xfe\xfd", b'{"email":"a@example.com"} trailing']
    not_objects = [b"[]", b'"a string"', b"42", b"null"]
    cases = []
    for method, path in write_targets(p):
        for body in bodies:
            cases.append(Case(f"malformed {body[:12]!r}: {method} {path}",
                              partial(p.api.request, method, path, data=body, headers={"Content-Type": "application/json"}),
                              expect_status(400)))
        for body in not_objects:
            cases.append(Case(f"not an object {body!r}: {method} {path}",
                              partial(p.api.request, method, path, data=body, headers={"Content-Type": "application/json"}),
                              expect_one_of(400, 422)))
    return cases


def validation_cases(p: Project) -> list[Case]:
    """Wrong types, missing or oversized fields, values outside the documented sets, duplicate names:
    422 with the `errors[]` body naming the attribute."""
    sub, sub2 = p.ids["sub"], p.ids["sub2"]
    nested = f"{SUBSCRIBERS}/{sub}/sip_endpoints"
    # Fresh names in every row, so that a bad request wrongly accepted cannot turn a later row into a
    # duplicate-name error.
    def fresh(prefix: str) -> str:
        return f"{prefix}{uuid.uuid4().hex[:10]}"

    def room(extra: dict) -> dict:
        return {"name": fresh("room-"), "enable_room_previews": False, **extra}

    def sip(extra: dict) -> dict:
        return {"username": fresh("sipuser"), "password": "Sip-pw-2", **extra}

    def script(extra: dict) -> dict:
        return {"name": fresh("script-"), "contents": SWML, **extra}

    email = "new-user@example.com"
    rows: list[tuple[str, str, dict, str]] = [
        # wrong types
        ("POST", SUBSCRIBERS, {"email": 123}, "email"),
        ("POST", SUBSCRIBERS, {"email": [email]}, "email"),
        ("POST", SUBSCRIBERS, {"email": {"address": email}}, "email"),
        ("POST", SUBSCRIBERS, {"email": True}, "email"),
        ("POST", SUBSCRIBERS, {"email": fresh("u-") + "@example.com", "display_name": 5}, "display_name"),
        ("POST", SUBSCRIBERS, {"email": fresh("u-") + "@example.com", "first_name": ["a"]}, "first_name"),
        ("POST", SUBSCRIBERS, {"email": fresh("u-") + "@example.com", "password": 12345678}, "password"),
        ("PUT", f"{SUBSCRIBERS}/{sub}", {"email": 5}, "email"),
        ("PUT", f"{SUBSCRIBERS}/{sub}", {"email": p.names["sub"], "last_name": {"x": 1}}, "last_name"),
        ("POST", SCRIPTS, {"name": 5, "contents": SWML}, "name"),
        ("POST", SCRIPTS, {"name": ["n"], "contents": SWML}, "name"),
        ("POST", SCRIPTS, {"name": "typed-script", "contents": 42}, "contents"),
        ("POST", SCRIPTS, {"name": "typed-script", "contents": True}, "contents"),
        ("PUT", f"{SCRIPTS}/{p.ids['script']}", {"display_name": 7}, "display_name"),
        ("POST", ROOMS, room({"name": 5}), "name"),
        ("POST", ROOMS, room({"max_members": "ten"}), "max_members"),
        ("POST", ROOMS, room({"enable_room_previews": "yes"}), "enable_room_previews"),
        ("POST", ROOMS, room({"quality": 720}), "quality"),
        ("PUT", f"{ROOMS}/{p.ids['room']}", {"max_members": [3]}, "max_members"),
        ("POST", SIP_ENDPOINTS, sip({"username": 5}), "username"),
        ("POST", SIP_ENDPOINTS, sip({"codecs": "OPUS"}), "codecs"),
        ("POST", SIP_ENDPOINTS, sip({"codecs": [1]}), "codecs"),
        ("POST", SIP_ENDPOINTS, sip({"ciphers": "AEAD_AES_256_GCM_8"}), "ciphers"),
        ("POST", SIP_ENDPOINTS, sip({"encryption": 5}), "encryption"),
        ("POST", nested, sip({"username": 5}), "username"),
        ("POST", nested, sip({"password": 6}), "password"),
        ("POST", TOKENS, {"reference": 5}, "reference"),
        ("POST", TOKENS, {"reference": p.names["sub"], "expire_at": "soon"}, "expire_at"),
        ("POST", TOKENS, {"reference": p.names["sub"], "password": 5}, "password"),
        ("POST", GUESTS, {"allowed_addresses": p.ids["room_address"]}, "allowed_addresses"),
        ("POST", GUESTS, {"allowed_addresses": [5]}, "allowed_addresses"),
        ("POST", GUESTS, {"allowed_addresses": [p.ids["room_address"]], "expire_at": "later"}, "expire_at"),
        ("POST", REFRESH, {"refresh_token": 5}, "refresh_token"),
        ("POST", REVOKE, {"token": 5}, "token"),
        # missing required fields
        ("POST", SUBSCRIBERS, {}, "email"),
        ("POST", SUBSCRIBERS, {"password": "Only-pw-1", "first_name": "No"}, "email"),
        ("POST", SCRIPTS, {"contents": SWML}, "name"),
        ("POST", SCRIPTS, {"name": "no-contents"}, "contents"),
        ("POST", ROOMS, {"display_name": "No name", "enable_room_previews": False}, "name"),
        ("POST", SIP_ENDPOINTS, {"password": "Sip-pw-3"}, "username"),
        ("POST", nested, {"password": "Sip-pw-3"}, "username"),
        ("POST", nested, {"username": "nopassword"}, "password"),
        ("POST", TOKENS, {}, "reference"),
        ("POST", TOKENS, {"password": "x"}, "reference"),
        ("POST", GUESTS, {}, "allowed_addresses"),
        ("POST", REFRESH, {}, "refresh_token"),
        ("POST", REVOKE, {}, "token"),
        # oversized fields
        ("POST", SUBSCRIBERS, {"email": BIG + "@example.com"}, "email"),
        ("POST", SUBSCRIBERS, {"email": fresh("u-") + "@example.com", "display_name": BIG}, "display_name"),
        ("POST", SUBSCRIBERS, {"email": fresh("u-") + "@example.com", "first_name": BIG}, "first_name"),
        ("POST", SUBSCRIBERS, {"email": fresh("u-") + "@example.com", "last_name": BIG}, "last_name"),
        ("POST", SUBSCRIBERS, {"email": fresh("u-") + "@example.com", "company_name": BIG}, "company_name"),
        ("POST", SUBSCRIBERS, {"email": fresh("u-") + "@example.com", "password": BIG}, "password"),
        ("PUT", f"{SUBSCRIBERS}/{sub}", {"email": p.names["sub"], "display_name": BIG}, "display_name"),
        ("POST", SCRIPTS, {"name": BIG, "contents": SWML}, "name"),
        ("PUT", f"{SCRIPTS}/{p.ids['script']}", {"display_name": BIG}, "display_name"),
        ("POST", ROOMS, room({"name": BIG}), "name"),
        ("POST", ROOMS, room({"display_name": BIG}), "display_name"),
        ("PUT", f"{ROOMS}/{p.ids['room']}", {"display_name": BIG}, "display_name"),
        ("POST", SIP_ENDPOINTS, sip({"username": BIG}), "username"),
        ("POST", SIP_ENDPOINTS, sip({"caller_id": BIG}), "caller_id"),
        ("POST", nested, sip({"username": BIG}), "username"),
        ("POST", TOKENS, {"reference": BIG}, "reference"),
        ("POST", TOKENS, {"reference": p.names["sub"], "password": "Bad-input-pw-1", "first_name": BIG}, "first_name"),
        # values outside the documented sets
        ("POST", SIP_ENDPOINTS, sip({"encryption": "maybe"}), "encryption"),
        ("POST", SIP_ENDPOINTS, sip({"codecs": ["NOT-A-CODEC"]}), "codecs"),
        ("POST", SIP_ENDPOINTS, sip({"ciphers": ["ROT13"]}), "ciphers"),
        ("POST", ROOMS, room({"quality": "4k"}), "quality"),
        ("POST", SCRIPTS, script({"script_type": "fax"}), "script_type"),
        ("POST", GUESTS, {"allowed_addresses": [p.ids["room_address"]] * 6 + [str(uuid.uuid4()) for _ in range(5)]},
         "allowed_addresses"),
        ("POST", GUESTS, {"allowed_addresses": ["not-a-uuid"]}, "allowed_addresses"),
        # names already taken in the project
        ("POST", SCRIPTS, {"name": p.names["script"], "contents": SWML}, "name"),
        ("POST", SCRIPTS, {"name": p.names["room"], "contents": SWML}, "name"),
        ("POST", ROOMS, room({"name": p.names["room"]}), "name"),
        ("POST", ROOMS, room({"name": p.names["script"]}), "name"),
        ("POST", SUBSCRIBERS, {"email": p.names["sub"], "password": "Another-pw-1"}, "email"),
        ("PUT", f"{SUBSCRIBERS}/{sub2}", {"email": p.names["sub"]}, "email"),
        ("POST", SIP_ENDPOINTS, sip({"username": p.names["sip"]}), "username"),
    ]
    return [
        Case(f"422 {attribute}: {method} {path} {json.dumps(body)[:60]}", partial(p.api.request, method, path, json=body),
             expect_422(attribute))
        for method, path, body, attribute in rows
    ]


def paging_cases(p: Project) -> list[Case]:
    """`page_size` outside 1..1000 or not a number: 422 naming `page_size`; a forged `page_token`: 4xx."""
    lists = COLLECTIONS + [f"{SUBSCRIBERS}/{p.ids['sub']}/sip_endpoints", f"{R}/{p.ids['room']}/addresses"]
    cases = []
    for path in lists:
        for size in ("0", "5000", "1001", "-1", "abc", "2.5"):
            cases.append(Case(f"page_size={size}: GET {path}", partial(p.api.get, path, params={"page_size": size}),
                              expect_422("page_size")))
        cases.append(Case(f"forged page_token: GET {path}", partial(p.api.get, path, params={"page_token": "PA-forged!!"}),
                          expect_one_of(400, 422)))
    return cases


def oversized_body_cases(p: Project) -> list[Case]:
    """Bodies over 1 MiB, with Content-Length and chunked: 413 `{"error": ...}`."""
    def json_of_size(size: int) -> bytes:
        prefix = b'{"email":"big@example.com","display_name":"'
        return prefix + b"x" * (size - len(prefix) - 2) + b'"}'

    body = json_of_size(ONE_MIB + 1)
    huge = json_of_size(8 * ONE_MIB)
    headers = {"Content-Type": "application/json"}
    cases = []
    for method, path in write_targets(p):
        cases.append(Case(f"1 MiB + 1: {method} {path}", partial(p.api.request, method, path, data=body, headers=headers),
                          expect_status(413)))
    for method, path in write_targets(p)[:4]:
        chunks = lambda: (huge[i : i + 65536] for i in range(0, len(huge), 65536))  # noqa: E731
        cases.append(Case(f"8 MiB chunked: {method} {path}",
                          lambda method=method, path=path, chunks=chunks: p.api.request(method, path, data=chunks(), headers=headers),
                          expect_status(413)))
    return cases


def bad_path_cases(p: Project) -> list[Case]:
    """Ids that are not UUIDs: 4xx with a documented body, never 500."""
    paths = [f"{SUBSCRIBERS}/not-a-uuid", f"{R}/123", f"{SCRIPTS}/%00", f"{ROOMS}/' OR 1=1 --", "/api/fabric/addresses/zzz",
             f"{SUBSCRIBERS}/{p.ids['sub']}/sip_endpoints/not-a-uuid"]
    # Addresses cannot be deleted (they go with their resource), so DELETE there is 405.
    return [Case(f"bad id: {method} {path}", partial(p.api.request, method, path),
                 expect_one_of(400, 404, 405, 422) if path.startswith("/api/fabric/addresses/") and method == "DELETE"
                 else expect_one_of(400, 404, 422))
            for path in paths for method in ("GET", "DELETE")]


def test_bad_input_changes_nothing(weft):
    a = Project(Api(weft.http_url, weft.auth))
    other_id, other_token = weft.create_project()
    b = Project(Api(weft.http_url, (other_id, other_token)))
    assert other_id != weft.project_id
    populate(a, "a")
    populate(b, "b")
    before = {"a": snapshot(a), "b": snapshot(b)}
    assert before["a"][SCRIPTS][0]["id"] != before["b"][SCRIPTS][0]["id"]

    cases = (
        auth_cases(a, b, a.names["access_token"])
        + foreign_cases(a, b)
        + foreign_cases(b, a)
        + malformed_json_cases(a)
        + validation_cases(a)
        + validation_cases(b)
        + paging_cases(a)
        + oversized_body_cases(a)
        + bad_path_cases(a)
    )
    assert len(cases) >= 200
    failures = []
    for case in cases:
        # Each bad request on a new connection, so that its answer is judged on its own (how the
        # server treats a connection after a refused request is test_connection_after_a_refused_request).
        a.api.session.close()
        b.api.session.close()
        try:
            case.check(case.send())
        except (AssertionError, requests.RequestException) as err:
            failures.append(f"{case.label}\n    {type(err).__name__}: {err}")
    print(f"sent {len(cases)} bad requests, {len(failures)} answered wrongly")

    assert weft.running(), "the server died during the barrage"
    health = requests.get(f"{weft.http_url}/healthz", timeout=10)
    assert health.status_code == 200
    after = {"a": snapshot(a), "b": snapshot(b)}
    changed = [key for side in ("a", "b") for key in before[side] if before[side][key] != after[side].get(key)]
    changed += [key for side in ("a", "b") for key in after[side] if key not in before[side]]
    assert not failures and not changed, (
        f"stored data changed: {changed}\n"
        f"{len(failures)} of {len(cases)} bad requests were answered wrongly:\n" + "\n".join(failures[:60])
    )

    # Still serving: the stored passwords still work and new writes succeed.
    token = a.api.post(TOKENS, json={"reference": a.names["sub"], "password": "Bad-input-pw-1"})
    assert token.status_code == 200, describe(token)
    a.api.created(SUBSCRIBERS, {"email": "after-barrage@example.com"})


@pytest.mark.parametrize("limit", ["0", "5000"])
def test_page_size_limits_with_the_pypi_client(weft, limit):
    from signalwire.rest import RestClient
    from signalwire.rest._base import SignalWireRestError

    client = RestClient(weft.project_id, weft.api_token, host=weft.host)
    with pytest.raises(SignalWireRestError) as err:
        client.fabric.subscribers.list(page_size=int(limit))
    assert err.value.status_code == 422
    assert err.value.body["errors"][0]["type"] == "validation_error"


@pytest.mark.parametrize("refusal", ["401 before the body is read", "400 malformed JSON"])
def test_connection_after_a_refused_request(weft, refusal):
    """After refusing a request with a body, the server either keeps the keep-alive connection usable
    or says `Connection: close`; closing it silently makes a client's next request on it fail
    (requests' and signalwire-sdk's sessions reuse connections)."""
    if refusal.startswith("401"):
        body, headers = json.dumps({"email": "keepalive@example.com", "password": "x" * 20}).encode(), {}
    else:
        body, headers = b'{"email": ', {"Authorization": basic_header(*weft.auth)}
    headers = {**headers, "Content-Type": "application/json"}
    broken = []
    for attempt in range(50):
        conn = http.client.HTTPConnection("127.0.0.1", weft.http_port, timeout=10)
        conn.request("POST", SUBSCRIBERS, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == int(refusal[:3]), resp.status
        if (resp.getheader("Connection") or "").lower() == "close":
            conn.close()
            continue
        try:
            conn.request("GET", "/healthz")
            assert conn.getresponse().status == 200
        except (OSError, http.client.HTTPException) as err:
            broken.append(f"attempt {attempt}: {type(err).__name__}: {err}")
        conn.close()
    assert not broken, f"{len(broken)} of 50 keep-alive connections were closed without `Connection: close`: {broken[:5]}"
