"""Acceptance 1 (and 5): the unmodified PyPI client `signalwire-sdk==3.7.5` against a running weft,
on SQLite and on PostgreSQL. Only methods the installed `signalwire.rest` package really has are used."""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from signalwire.rest import RestClient
from signalwire.rest._base import SignalWireRestError

from weft_http import jws_payload

SWML_DOC = {"version": "1.0.0", "sections": {"main": [{"answer": {}}, {"play": {"url": "say:Hello"}}, {"hangup": {}}]}}
SWML_YAML = """\
version: 1.0.0
sections:
  main:
    - answer: {}
    - play:
        url: "say:Hello from YAML"
    - hangup: {}
"""


@pytest.fixture
def client(weft) -> RestClient:
    return RestClient(weft.project_id, weft.api_token, host=weft.host)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def assert_envelope(item: dict, type_value: str, type_key: str) -> dict:
    """Checks the resource envelope of rest-api.md §A.2 and returns the nested type object."""
    for field in ("id", "project_id", "display_name", "type", "created_at", "updated_at", type_key):
        assert field in item, f"{field!r} missing from {item}"
    assert item["type"] == type_value, item
    uuid.UUID(item["id"])
    return item[type_key]


def create_subscribers(client: RestClient, count: int) -> dict[str, dict]:
    created = {}
    for i in range(count):
        email = f"{unique('user')}@example.com"
        sub = client.fabric.subscribers.create(
            email=email, password=f"Secret-{i}-pw", first_name=f"First{i}", display_name=f"User {i}"
        )
        nested = assert_envelope(sub, "subscriber", "subscriber")
        assert nested["email"] == email
        assert "password" not in nested, "the subscriber's password must never be echoed"
        created[sub["id"]] = sub
    return created


def test_subscribers_page_through_all_without_repeats(client):
    created = create_subscribers(client, 7)
    for page_size in (2, 3):
        seen: list[str] = []
        pages = 0
        params = {"page_size": page_size}
        while True:
            page = client.fabric.subscribers.list(**params)
            pages += 1
            assert len(page["data"]) <= page_size
            seen.extend(item["id"] for item in page["data"])
            links = page["links"]
            assert {"self", "first"} <= set(links), links
            if not links.get("next"):
                break
            assert pages < 50, "links.next never ends"
            params = {k: v[0] for k, v in parse_qs(urlsplit(links["next"]).query).items()}
        assert pages >= 3, f"page_size={page_size} gave {pages} pages"
        assert len(seen) == len(set(seen)), f"an item was listed twice with page_size={page_size}: {seen}"
        assert set(created) <= set(seen)
        # The client's own iterator follows the same links.
        via_paginate = [item["id"] for item in client.fabric.subscribers.paginate(page_size=page_size)]
        assert sorted(via_paginate) == sorted(seen)


def test_subscriber_get_update_delete(client):
    (sub_id, sub), *_ = create_subscribers(client, 1).items()
    got = client.fabric.subscribers.get(sub_id)
    assert got["id"] == sub_id
    assert got["subscriber"]["email"] == sub["subscriber"]["email"]

    new_email = f"{unique('renamed')}@example.com"
    updated = client.fabric.subscribers.update(
        sub_id, email=new_email, display_name="Renamed User", job_title="Tester", timezone="UTC"
    )
    nested = assert_envelope(updated, "subscriber", "subscriber")
    assert nested["email"] == new_email
    assert nested["display_name"] == "Renamed User"
    assert nested["job_title"] == "Tester"
    again = client.fabric.subscribers.get(sub_id)
    assert again["subscriber"]["email"] == new_email
    assert again["subscriber"]["job_title"] == "Tester"

    addresses = client.fabric.subscribers.list_addresses(sub_id)
    assert addresses["data"], "a subscriber has a default address"
    assert all(a["type"] == "subscriber" for a in addresses["data"])

    assert client.fabric.subscribers.delete(sub_id) == {}
    with pytest.raises(SignalWireRestError) as err:
        client.fabric.subscribers.get(sub_id)
    assert err.value.status_code == 404
    assert err.value.body == {"error": "Not Found"}
    assert sub_id not in [s["id"] for s in client.fabric.subscribers.paginate(page_size=50)]


def test_swml_scripts_from_json_and_yaml_strings(client):
    json_name = unique("json-script")
    as_json = client.fabric.swml_scripts.create(name=json_name, contents=json.dumps(SWML_DOC))
    nested = assert_envelope(as_json, "swml_script", "swml_script")
    contents = nested["contents"]
    parsed = yaml.safe_load(contents) if isinstance(contents, str) else contents
    assert parsed == SWML_DOC

    as_yaml = client.fabric.swml_scripts.create(name=unique("yaml-script"), contents=SWML_YAML)
    nested = assert_envelope(as_yaml, "swml_script", "swml_script")
    contents = nested["contents"]
    parsed = yaml.safe_load(contents) if isinstance(contents, str) else contents
    assert parsed == yaml.safe_load(SWML_YAML)

    updated = client.fabric.swml_scripts.update(as_yaml["id"], display_name="Updated script")
    assert updated["display_name"] == "Updated script"
    assert client.fabric.swml_scripts.get(as_json["id"])["id"] == as_json["id"]
    listed = [item["id"] for item in client.fabric.swml_scripts.paginate()]
    assert {as_json["id"], as_yaml["id"]} <= set(listed)
    addresses = client.fabric.swml_scripts.list_addresses(as_json["id"])["data"]
    assert [a["name"] for a in addresses] == [json_name], "the default address is named after the resource"


def test_invalid_swml_scripts_are_refused_with_the_json_path(client):
    """Issue 13, acceptance 5: an invalid script is a 422 whose error names where it is wrong,
    on create and on update, as JSON or YAML text; nothing is stored."""
    bad_play = json.dumps({"version": "1.0.0", "sections": {"main": [{"answer": {}}, {"play": {"volume": 3}}]}})
    bad_yaml = "sections:\n  main:\n    - cond:\n        - when: x == 1\n          then:\n            - hangup: {reason: bye}\n"
    name = unique("bad-script")
    cases = [(bad_play, "sections.main[1].play"), (bad_yaml, "sections.main[0].cond[0].then[0].hangup.reason")]
    for contents, path in cases:
        with pytest.raises(SignalWireRestError) as err:
            client.fabric.swml_scripts.create(name=name, contents=contents)
        assert err.value.status_code == 422, err.value
        [error] = err.value.body["errors"]
        assert error["attribute"] == "contents"
        assert path in error["message"], error["message"]
    assert name not in [s["display_name"] for s in client.fabric.swml_scripts.paginate()]

    script = client.fabric.swml_scripts.create(name=unique("good-script"), contents=json.dumps(SWML_DOC))
    with pytest.raises(SignalWireRestError) as err:
        client.fabric.swml_scripts.update(script["id"], contents=bad_play)
    assert err.value.status_code == 422, err.value
    stored = client.fabric.swml_scripts.get(script["id"])["swml_script"]["contents"]
    assert (yaml.safe_load(stored) if isinstance(stored, str) else stored) == SWML_DOC


def test_conference_room_and_room_addresses(client):
    name = unique("standup")
    room = client.fabric.conference_rooms.create(
        name=name, display_name="Daily standup", enable_room_previews=False, max_members=10, quality="720p"
    )
    nested = assert_envelope(room, "video_room", "conference_room")
    assert nested["name"] == name
    assert nested["display_name"] == "Daily standup"
    assert client.fabric.conference_rooms.get(room["id"])["conference_room"]["name"] == name
    # A second resource of another type must not show up under type=room.
    client.fabric.swml_scripts.create(name=unique("not-a-room"), contents=json.dumps(SWML_DOC))

    rooms = client.fabric.addresses.list(type="room")
    assert rooms["data"], "the conference room's address is listed"
    assert all(a["type"] == "room" for a in rooms["data"]), rooms["data"]
    address = next(a for a in rooms["data"] if a["name"] == name)
    for field in ("id", "name", "display_name", "locked", "channels", "created_at", "type"):
        assert field in address, f"{field!r} missing from {address}"
    for channel in ("audio", "video"):
        assert address["channels"][channel].endswith(f"?channel={channel}"), address["channels"]
        assert f"/{name}?" in address["channels"][channel], address["channels"]
    by_resource = client.fabric.conference_rooms.list_addresses(room["id"])["data"]
    assert address["id"] in [a["id"] for a in by_resource]
    assert room["id"] in [r["id"] for r in client.fabric.resources.list(page_size=100)["data"]]


def test_sip_endpoints(client):
    username = unique("desk").replace("-", "")
    endpoint = client.fabric.sip_endpoints.create(
        username=username,
        caller_id="+15551230000",
        send_as="+15551230000",
        ciphers=["AEAD_AES_256_GCM_8"],
        codecs=["OPUS", "PCMU"],
        encryption="optional",
        call_handler="default",
        calling_handler_resource_id=None,
        extras={"password": "Sip-Secret-1"},
    )
    nested = assert_envelope(endpoint, "sip_endpoint", "sip_endpoint")
    assert nested["username"] == username
    assert nested["codecs"] == ["OPUS", "PCMU"]
    updated = client.fabric.sip_endpoints.update(endpoint["id"], caller_id="+15559990000")
    assert updated["sip_endpoint"]["caller_id"] == "+15559990000"
    assert client.fabric.sip_endpoints.get(endpoint["id"])["sip_endpoint"]["caller_id"] == "+15559990000"

    # The subscriber-nested variant.
    (sub_id, _), *_ = create_subscribers(client, 1).items()
    nested_ep = client.fabric.subscribers.create_sip_endpoint(
        sub_id, username=unique("sub").replace("-", ""), password="Nested-Secret-1", encryption="default"
    )
    uuid.UUID(nested_ep["id"])
    listed = client.fabric.subscribers.list_sip_endpoints(sub_id)["data"]
    assert nested_ep["id"] in [e["id"] for e in listed]
    assert client.fabric.subscribers.get_sip_endpoint(sub_id, nested_ep["id"])["id"] == nested_ep["id"]
    patched = client.fabric.subscribers.update_sip_endpoint(sub_id, nested_ep["id"], caller_id="+15550001111")
    assert patched["caller_id"] == "+15550001111"
    assert client.fabric.subscribers.delete_sip_endpoint(sub_id, nested_ep["id"]) == {}
    assert client.fabric.subscribers.list_sip_endpoints(sub_id)["data"] == []

    assert client.fabric.sip_endpoints.delete(endpoint["id"]) == {}


def assert_token_pair(resp: dict) -> None:
    """An access token (a compact JWS the SDK decodes) and a refresh token (opaque to clients)."""
    assert isinstance(resp.get("token"), str) and resp["token"].count(".") == 2, resp
    assert isinstance(resp.get("refresh_token"), str) and len(resp["refresh_token"]) >= 16, resp


def test_subscriber_tokens_with_and_without_password(client):
    # A new reference with a password creates the subscriber; the password is then checked.
    reference = f"{unique('alice')}@example.com"
    first = client.fabric.tokens.create_subscriber_token(reference=reference, password="Alice-pw-1")
    assert_token_pair(first)
    uuid.UUID(first["subscriber_id"])
    emails = [s["subscriber"]["email"] for s in client.fabric.subscribers.paginate(page_size=100)]
    assert reference in emails, "the token call created the subscriber"
    again = client.fabric.tokens.create_subscriber_token(reference=reference, password="Alice-pw-1")
    assert again["subscriber_id"] == first["subscriber_id"]
    assert again["token"] != first["token"]
    with pytest.raises(SignalWireRestError) as err:
        client.fabric.tokens.create_subscriber_token(reference=reference, password="wrong password")
    assert err.value.status_code in (401, 422), err.value

    # A subscriber made through the REST API with a password.
    created = client.fabric.subscribers.create(email=f"{unique('bob')}@example.com", password="Bob-pw-1")
    bob_email = created["subscriber"]["email"]
    bob = client.fabric.tokens.create_subscriber_token(reference=bob_email, password="Bob-pw-1")
    assert_token_pair(bob)
    assert bob["subscriber_id"] in (created["id"], created["subscriber"]["id"])
    with pytest.raises(SignalWireRestError) as err:
        client.fabric.tokens.create_subscriber_token(reference=bob_email, password="Bob-pw-2")
    assert err.value.status_code in (401, 422), err.value

    # No password at all: the server trusts the project's API credentials.
    carol = client.fabric.tokens.create_subscriber_token(
        reference=f"{unique('carol')}@example.com", first_name="Carol", display_name="Carol C"
    )
    assert_token_pair(carol)
    payload = jws_payload(carol["token"])
    assert payload["r"] == "SAT"


def test_guest_token_with_allowed_addresses(client):
    room = client.fabric.conference_rooms.create(name=unique("lobby"), enable_room_previews=False)
    address_id = client.fabric.conference_rooms.list_addresses(room["id"])["data"][0]["id"]
    guest = client.fabric.tokens.create_guest_token(allowed_addresses=[address_id])
    assert_token_pair(guest)
    assert address_id in json.dumps(jws_payload(guest["token"])), "a guest token carries its allowed addresses"


def test_refresh_rotates_and_the_old_refresh_token_fails(client):
    first = client.fabric.tokens.create_subscriber_token(reference=f"{unique('dave')}@example.com")
    refreshed = client.fabric.tokens.refresh_subscriber_token(refresh_token=first["refresh_token"])
    assert_token_pair(refreshed)
    assert refreshed["token"] != first["token"]
    assert refreshed["refresh_token"] != first["refresh_token"]
    assert jws_payload(refreshed["token"])["sub"] == jws_payload(first["token"])["sub"]
    # The rotated refresh token works in turn.
    third = client.fabric.tokens.refresh_subscriber_token(refresh_token=refreshed["refresh_token"])
    assert_token_pair(third)
    # Used refresh tokens are single-use.
    for used in (first["refresh_token"], refreshed["refresh_token"]):
        with pytest.raises(SignalWireRestError) as err:
            client.fabric.tokens.refresh_subscriber_token(refresh_token=used)
        assert 400 <= err.value.status_code < 500, err.value
