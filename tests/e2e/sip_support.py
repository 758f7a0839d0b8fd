"""Support for the SIP end-to-end tests (test_sip*.py): a `weft serve` with SIP settings, the REST
calls that create SIP endpoints and rooms, `/metrics` readings, and a raw SIP client over UDP
and TCP (requests written by hand, responses parsed, digest MD5 challenges answered).

Everything here uses the standard library and `requests` only; waits poll a condition with a cap.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from sip_peers import LOOPBACK, wait_until
from weft_http import Api
from weft_process import WeftServer

DOMAIN = "weft.localhost"
SIP_ENDPOINTS = "/api/fabric/resources/sip_endpoints"
ROOMS = "/api/fabric/resources/conference_rooms"
RESPONSE_TIMEOUT_S = 5.0
METRICS_TIMEOUT_S = 15.0


# ----------------------------------------------------------------------------------------------
# The server


class SipWeftServer(WeftServer):
    """A `WeftServer` with trusted trunks (`trunk_cidrs`, in its bootstrap project) and any other
    `WEFT_*` settings in `extra_env`."""

    def __init__(
        self,
        binary: str,
        work_dir: Path,
        database_url: str | None,
        trunk_cidrs: tuple[str, ...] | list[str] = (),
        extra_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(binary, work_dir, database_url)
        self.trunk_cidrs = list(trunk_cidrs)
        self.extra_env = dict(extra_env or {})

    def env(self) -> dict[str, str]:
        env = super().env()
        if self.trunk_cidrs:
            trunk = {"name": "test-trunk", "cidrs": self.trunk_cidrs, "project_id": self.project_id}
            env["WEFT_SIP_TRUNKS"] = json.dumps([trunk])
        env.update(self.extra_env)
        return env

    @property
    def sip_target(self) -> str:
        """`host:port` of the SIP listener (UDP and TCP), for SIPp."""
        return f"{LOOPBACK}:{self.sip_port}"

    @property
    def sip_proxy(self) -> str:
        """The SIP listener as a URI, for baresip's `outbound`."""
        return f"sip:{LOOPBACK}:{self.sip_port}"

    def metrics_url(self) -> str:
        """`/metrics` of the current process (the metrics port changes with every start)."""

        def current() -> str | None:
            starts = self.log().split("===== weft serve (start at ")
            found = re.search(r"metrics=(127\.0\.0\.1:\d+)", starts[-1])
            return f"http://{found.group(1)}/metrics" if found else None

        return wait_until(current, 10.0, "the metrics address in the server log", self.log)

    def api(self) -> Api:
        """A REST client authenticated as the bootstrap project."""
        return Api(self.http_url, self.auth)


@pytest.fixture
def sip_weft(request, weft_bin, tmp_path_factory):
    """Starts `SipWeftServer`s: `sip_weft(database_url=None, trunk_cidrs=(), extra_env=None)`.
    Every server is stopped after the test, and its log printed if the test failed."""
    servers: list[SipWeftServer] = []

    def start(database_url=None, trunk_cidrs=(), extra_env=None) -> SipWeftServer:
        server = SipWeftServer(weft_bin, tmp_path_factory.mktemp("weft"), database_url, trunk_cidrs, extra_env)
        servers.append(server)
        server.start()
        return server

    yield start
    failed = any(
        getattr(getattr(request.node, f"report_{phase}", None), "failed", False) for phase in ("setup", "call")
    )
    for server in servers:
        code = server.stop()
        if failed:
            print(f"\n----- log of weft on {server.http_url} (exit {code}) -----\n{server.log()}")


def create_sip_endpoint(
    server: WeftServer, name: str, password: str, encryption: str = "default", codecs=("PCMU",)
) -> dict:
    """Creates the SIP endpoint `name` (its username and address `/public/<name>`)."""
    body = {"name": name, "username": name, "password": password, "encryption": encryption, "codecs": list(codecs)}
    return Api(server.http_url, server.auth).created(SIP_ENDPOINTS, body)


def create_room(server: WeftServer, name: str) -> dict:
    """Creates the video room `name` (address `/public/<name>`)."""
    return Api(server.http_url, server.auth).created(ROOMS, {"name": name})


def wait_for_log(server: WeftServer, pattern: str, timeout: float = 10.0, count: int = 1) -> list[str]:
    """The first `count` matches of the regex `pattern` in the server log, waiting for them."""
    regex = re.compile(pattern)

    def found():
        matches = regex.findall(server.log())
        return matches[:count] if len(matches) >= count else None

    return wait_until(found, timeout, f"{count} × /{pattern}/ in the server log", lambda: server.log()[-5000:])


# ----------------------------------------------------------------------------------------------
# Metrics

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metric(url: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0.0 if none)."""
    text = requests.get(url, timeout=5).text
    total = 0.0
    for line in text.splitlines():
        sample = SAMPLE.match(line)
        if not sample or sample.group(1) != name:
            continue
        found = dict(LABEL.findall(sample.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(sample.group(3))
    return total


def wait_for_metric(url: str, name: str, check, what: str, timeout: float = METRICS_TIMEOUT_S, **labels) -> float:
    """Waits until `check(value)` holds for `metric(url, name, **labels)`; returns the value."""
    seen: list[float] = []

    def holds():
        value = metric(url, name, **labels)
        seen.append(value)
        return (value,) if check(value) else None

    return wait_until(holds, timeout, f"{name}{labels or ''} {what}", lambda: f"values seen: {seen[-10:]}")[0]


# ----------------------------------------------------------------------------------------------
# Raw SIP


def new_id() -> str:
    return secrets.token_hex(8)


@dataclass
class SipMessage:
    """A parsed SIP response (or request): the start line, headers in order, body."""

    start: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    @property
    def status(self) -> int:
        """The status code of a response (0 for a request)."""
        parts = self.start.split(" ", 2)
        return int(parts[1]) if parts[0] == "SIP/2.0" and len(parts) > 1 and parts[1].isdigit() else 0

    def all(self, name: str) -> list[str]:
        """Every value of header `name` (case-insensitive)."""
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def header(self, name: str) -> str | None:
        """The first value of header `name`, if any."""
        values = self.all(name)
        return values[0] if values else None

    def __str__(self) -> str:
        lines = [self.start, *(f"{k}: {v}" for k, v in self.headers)]
        return "\n".join(lines) + ("\n\n" + self.body.decode(errors="replace") if self.body else "")


def parse_message(data: bytes) -> SipMessage | None:
    """Parses one SIP message (None if it is not one)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode(errors="replace").split("\r\n")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.strip(), value.strip()))
    return SipMessage(lines[0], headers, body)


def build_request(
    method: str,
    uri: str,
    *,
    via: str,
    transport: str = "UDP",
    call_id: str | None = None,
    cseq: int = 1,
    from_uri: str = f"sip:tester@{DOMAIN}",
    to_uri: str | None = None,
    to_tag: str | None = None,
    headers: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
    body: bytes = b"",
    content_length: str | None = None,
    branch: str | None = None,
) -> bytes:
    """A request: Via (`via` is host:port), From with a tag, To (with `to_tag` in a dialog),
    Call-ID, CSeq, Max-Forwards, the extra `headers`, and Content-Length (`content_length`
    overrides the true length)."""
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{transport} {via};branch=z9hG4bK{branch or new_id()};rport",
        "Max-Forwards: 70",
        f"From: <{from_uri}>;tag={new_id()}",
        f"To: <{to_uri or uri}>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id or new_id()}",
        f"CSeq: {cseq} {method}",
        *(f"{name}: {value}" for name, value in headers),
        f"Content-Length: {len(body) if content_length is None else content_length}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def parse_challenge(value: str) -> dict[str, str]:
    """The parameters of a `Digest ...` challenge."""
    return {k.lower(): v1 or v2 for k, v1, v2 in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', value)}


def digest_authorization(challenge: str, method: str, uri: str, user: str, password: str) -> str:
    """An RFC 2617 `Digest` answer (MD5, qop=auth) to `challenge`."""
    params = parse_challenge(challenge)
    assert params.get("algorithm", "MD5").upper() == "MD5", f"not an MD5 challenge: {challenge}"

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5(f"{user}:{params['realm']}:{password}")
    ha2 = md5(f"{method}:{uri}")
    nc, cnonce = "00000001", new_id()
    answer = md5(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    return (
        f'Digest username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", uri="{uri}", '
        f'response="{answer}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"'
    )


class NoResponse(AssertionError):
    """The server did not answer a request in time."""


@dataclass
class UdpSip:
    """A UDP SIP client bound to `local_ip`:`local_port` (a free port unless given), talking to
    the server at 127.0.0.1:`server_port`. Use it as a context manager or `close()` it."""

    server_port: int
    local_ip: str = LOOPBACK
    local_port: int = 0
    sock: socket.socket = field(init=False)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.local_ip, self.local_port))
        self.local_port = self.sock.getsockname()[1]

    @property
    def via(self) -> str:
        return f"{self.local_ip}:{self.local_port}"

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, (LOOPBACK, self.server_port))

    def receive(self, timeout: float) -> list[SipMessage]:
        """Every message that arrives within `timeout` seconds (until it goes quiet)."""
        messages = []
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                break
            message = parse_message(data)
            if message is not None:
                messages.append(message)
        return messages

    def transact(self, request: bytes, timeout: float = RESPONSE_TIMEOUT_S) -> SipMessage:
        """Sends `request` (again every 0.5 s, as RFC 3261 timer A does) and returns its final
        response, matched by Call-ID and CSeq; raises NoResponse if none arrives in time."""
        sent = parse_message(request)
        key = (sent.header("Call-ID"), sent.header("CSeq"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.send(request)
            resend = min(deadline, time.monotonic() + 0.5)
            while (remaining := resend - time.monotonic()) > 0:
                self.sock.settimeout(remaining)
                try:
                    data = self.sock.recv(65535)
                except TimeoutError:
                    break
                message = parse_message(data)
                if message and (message.header("Call-ID"), message.header("CSeq")) == key and message.status >= 200:
                    return message
        raise NoResponse(f"no final response within {timeout} s to:\n{request.decode(errors='replace')}")

    def request(self, method: str, uri: str, timeout: float = RESPONSE_TIMEOUT_S, **kwargs) -> SipMessage:
        """Builds a request (see `build_request`) from this client and returns its final response."""
        return self.transact(build_request(method, uri, via=self.via, **kwargs), timeout)

    def register(
        self,
        user: str,
        password: str,
        expires: int,
        contact: str | None = None,
        call_id: str | None = None,
        cseq: int = 1,
        timeout: float = RESPONSE_TIMEOUT_S,
    ) -> SipMessage:
        """REGISTER `sip:user@DOMAIN` with `Contact: <contact>` (default: this socket) and
        `Expires: expires`, answering a 401 challenge once; returns the final response."""
        aor = f"sip:{user}@{DOMAIN}"
        call_id = call_id or new_id()
        contact = contact or f"sip:{user}@{self.via}"
        base = {"from_uri": aor, "to_uri": aor, "call_id": call_id}
        headers = [("Contact", f"<{contact}>"), ("Expires", str(expires))]
        first = self.request("REGISTER", f"sip:{DOMAIN}", cseq=cseq, headers=headers, timeout=timeout, **base)
        if first.status != 401:
            return first
        challenge = first.header("WWW-Authenticate")
        authorization = digest_authorization(challenge, "REGISTER", f"sip:{DOMAIN}", user, password)
        return self.request(
            "REGISTER", f"sip:{DOMAIN}", cseq=cseq + 1, headers=[*headers, ("Authorization", authorization)],
            timeout=timeout, **base,
        )

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> UdpSip:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def register_contact(server: WeftServer, user: str, password: str, port: int, expires: int = 3600) -> SipMessage:
    """Registers `sip:user@127.0.0.1:port` for `user`, sending from that port (Weft sends calls to
    where a REGISTER came from): afterwards a SIPp UAS can bind the port and take the calls."""
    with UdpSip(server.sip_port, local_port=port) as client:
        response = client.register(user, password, expires)
    assert response.status == 200, f"REGISTER of {user} from port {port}:\n{response}"
    return response


def tcp_exchange(port: int, data: bytes, timeout: float = RESPONSE_TIMEOUT_S, local_ip: str = LOOPBACK) -> SipMessage:
    """Sends `data` over a new TCP connection from `local_ip` to the SIP port and returns the
    first final response (or request) that comes back, framing messages by their
    Content-Length; raises NoResponse if none comes in time."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout, source_address=(local_ip, 0)) as sock:
        sock.sendall(data)
        buffer = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            head, sep, rest = buffer.partition(b"\r\n\r\n")
            if sep:
                message = parse_message(buffer)
                length = int(message.header("Content-Length") or message.header("l") or 0)
                if len(rest) >= length:
                    message.body = rest[:length]
                    if not 100 <= message.status < 200:
                        return message
                    buffer = rest[length:]
                    continue
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            buffer += chunk
    raise NoResponse(f"no final SIP response over TCP to:\n{data[:2000].decode(errors='replace')}")
