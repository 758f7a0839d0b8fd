"""SIP acceptance 5 against a real `weft serve`: while two baresip phones are in a call through
Weft, hundreds of malformed, truncated and oversized SIP messages arrive over UDP and TCP, and a
stranger sends RTP to the call's media port. The server stays up and keeps serving, the call keeps
its audio both ways, and the stranger is never latched (it gets nothing back and nobody hears it).

The flood comes from the trusted trunk's address (127.0.0.2): trunks are exempt from the
per-source rate limit, so every message reaches the parser, and INVITEs reach SDP negotiation
without a digest challenge.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import secrets
import shutil
import socket
import struct
import threading
import time

import pytest
import requests

from sip_peers import Baresip, Sipp, has_tone, linear_to_ulaw, tone_report
from sip_support import (
    DOMAIN,
    NoResponse,
    UdpSip,
    build_request,
    create_room,
    create_sip_endpoint,
    metric,
    new_id,
    sip_weft,  # noqa: F401 (a fixture)
    tcp_exchange,
    wait_for_metric,
)

TRUNK_IP = "127.0.0.2"
STRANGER_IP = "127.0.0.6"
CALLER_HZ, CALLEE_HZ, STRANGER_HZ = 440, 1000, 2500
AFTER_FLOOD_S = 2.5
MIN_MESSAGES = 200


@pytest.fixture(scope="module", autouse=True)
def sip_peer_binaries() -> None:
    missing = [binary for binary in ("baresip", "sipp") if shutil.which(binary) is None]
    if missing:
        pytest.fail(f"{missing} not installed: install the Debian packages baresip-core and sip-tester")


# ----------------------------------------------------------------------------------------------
# The flood


def sdp(body: str) -> bytes:
    return body.replace("\n", "\r\n").encode()


GOOD_SDP = (
    "v=0\no=- 1 1 IN IP4 127.0.0.2\ns=-\nc=IN IP4 127.0.0.2\nt=0 0\nm=audio 4000 RTP/AVP 0\n"
    "a=rtpmap:0 PCMU/8000\n"
)
SRTP_SDP = GOOD_SDP.replace("RTP/AVP", "RTP/SAVP")
BAD_SDPS = [
    b"garbage",
    b"",
    b"\x00\xff\xfe" * 100,
    sdp("v=0\n"),
    sdp("v=0\no=- 1 1 IN IP4 127.0.0.2\ns=-\nt=0 0\n"),  # no media
    sdp(GOOD_SDP.replace("m=audio 4000 RTP/AVP 0", "m=audio 99999 RTP/AVP 0")),
    sdp(GOOD_SDP.replace("m=audio 4000 RTP/AVP 0", "m=audio abc RTP/AVP 0")),
    sdp(GOOD_SDP.replace("m=audio 4000 RTP/AVP 0", "m=audio 4000 RTP/AVP")),
    sdp(GOOD_SDP.replace("RTP/AVP 0", "RTP/AVP 18").replace("0 PCMU", "18 G729")),  # no common codec
    sdp(GOOD_SDP.replace("m=audio", "m=video").replace("PCMU/8000", "VP8/90000")),
    sdp(GOOD_SDP.replace("c=IN IP4 127.0.0.2", "c=IN IP4 999.1.2.3")),
    sdp(GOOD_SDP.replace("c=IN IP4 127.0.0.2", "c=IN IP6 zz::zz")),
    sdp(SRTP_SDP + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:!!!notbase64\n"),
    sdp(SRTP_SDP + "a=crypto:x\n"),
    sdp(SRTP_SDP),  # SRTP without keys
    sdp(GOOD_SDP.replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU/0")),
    sdp(GOOD_SDP.replace("m=audio 4000 RTP/AVP 0", "m=audio 4000 RTP/AVP " + " ".join(["300"] * 500))),
    sdp("\n".join(GOOD_SDP.splitlines()[:-2])),  # no m-line, cut
    "v=0\no=é\ns=ü\n".encode("latin-1"),
    sdp(GOOD_SDP + "m=audio 0 RTP/AVP 0\n" * 300),
]


def flood_messages(rng: random.Random, via: str, active_call_id: str) -> list[tuple[str, bytes]]:
    """(kind, datagram) pairs: everything Weft must survive (the answers Weft documents for the
    well-formed ones are checked in test_bad_requests_get_their_documented_answers)."""
    uri = f"sip:nobody@{DOMAIN}"
    messages: list[tuple[str, bytes]] = []

    def request(method: str, **kwargs) -> bytes:
        return build_request(method, kwargs.pop("uri", uri), via=via, **kwargs)

    contact = ("Contact", f"<sip:x@{via}>")
    for size in [1, 2, 3, 4, 7, 12, 100, 512, 1400, 1500] + [rng.randint(1, 1500) for _ in range(20)]:
        messages.append(("garbage", rng.randbytes(size)))
    for _ in range(10):
        alphabet = "INVITE SIP/2.0:;<>@\r\n \t\"=,abcxyz0123456789"
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(5, 400)))
        messages.append(("printable garbage", text.encode()))
    templates = [
        request(
            "INVITE", uri=f"sip:lobby@{DOMAIN}", headers=[contact, ("Content-Type", "application/sdp")],
            body=sdp(GOOD_SDP),
        ),
        request("REGISTER", uri=f"sip:{DOMAIN}", headers=[contact, ("Expires", "600")]),
        request("OPTIONS"),
    ]
    for template in templates:
        for _ in range(8):
            messages.append(("truncated", template[: rng.randint(1, len(template) - 1)]))
    for declared in ["5", "1000", "65000"]:
        messages.append(("long Content-Length", request("OPTIONS", body=b"abc", content_length=declared)))
    for declared in ["2", "0", "abc", "-5", "99999999999999999999999", "1e3", " ", "4 4"]:
        messages.append(("wrong Content-Length", request("OPTIONS", body=b"abcd", content_length=declared)))
    for size in [8_000, 30_000, 60_000]:
        messages.append(("huge header", request("OPTIONS", headers=[("X-Huge", "a" * size)])))
        # The Request-URI is in the To header too.
        messages.append(("huge Request-URI", request("OPTIONS", uri=f"sip:{'u' * (size // 2 - 100)}@{DOMAIN}")))
    messages.append(("many headers", request("OPTIONS", headers=[(f"X-H{i}", "v") for i in range(3000)])))
    vias = [("Via", f"SIP/2.0/UDP 10.0.0.{i % 250}:5060;branch=z9hG4bK{i}") for i in range(1000)]
    messages.append(("many Vias", request("OPTIONS", headers=vias)))
    for _ in range(3):
        messages.append(("60 KB garbage", rng.randbytes(60_000)))
    messages.append(("60 KB printable", b"OPTIONS " + b"x" * 60_000))
    text_type = ("Content-Type", "text/plain")
    messages.append(("body over 16 KiB", request("OPTIONS", headers=[text_type], body=b"b" * 20_000)))
    messages.append(("60 KB body", request("MESSAGE", headers=[text_type], body=b"b" * 60_000)))
    for body in BAD_SDPS:
        for content_type in ["application/sdp", "application/SDP; charset=x"]:
            headers = [contact, ("Content-Type", content_type)]
            messages.append(("bad SDP", request("INVITE", uri=f"sip:lobby@{DOMAIN}", headers=headers, body=body)))
    html = [contact, ("Content-Type", "text/html")]
    messages.append(("bad SDP type", request("INVITE", uri=f"sip:lobby@{DOMAIN}", headers=html, body=b"<html>")))
    for method in ["FOO", "BREW", "X" * 200, "SUBSCRIBE", "PUBLISH", "REFER", "NOTIFY", "MESSAGE", "PRACK"]:
        messages.append(("unknown method", request(method)))
    for method in ["INVITE", "BYE", "ACK", "CANCEL", "REGISTER", "OPTIONS", "INFO", "UPDATE"]:
        good = request(method, headers=[contact])
        lines = good.split(b"\r\n")
        for drop in ("Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards"):
            kept = [line for line in lines if not line.startswith(drop.encode() + b":")]
            messages.append((f"no {drop}", b"\r\n".join(kept)))
        messages.append(("LF only", good.replace(b"\r\n", b"\n")))
        messages.append(("NUL in headers", good.replace(b"Max-Forwards: 70", b"Max-Forwards: 7\x000")))
        messages.append(("bad CSeq", good.replace(b"CSeq: 1", b"CSeq: -1")))
        messages.append(("CSeq method mismatch", good.replace(f"CSeq: 1 {method}".encode(), b"CSeq: 1 FOO")))
        messages.append(("bad version", good.replace(b"SIP/2.0\r\n", b"SIP/9.9\r\n", 1)))
    for method in ["BYE", "INFO", "UPDATE", "INVITE"]:
        # In-dialog requests with tags nobody issued, one set on the call in progress: the call
        # must go on.
        for call_id in (active_call_id, new_id()):
            stray = request(method, call_id=call_id, cseq=999, to_tag=new_id(), headers=[contact])
            messages.append(("stray in-dialog", stray))
    messages.append(("CANCEL of nothing", request("CANCEL")))
    response = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
    messages.append(("unsolicited response", response + b"Content-Length: 0\r\n\r\n"))
    messages.append(("response garbage", b"SIP/2.0 999999999999 \r\n\r\n"))
    assert all(len(datagram) <= 65_507 for _, datagram in messages)
    return messages


def tcp_flood(port: int, messages: list[bytes]) -> int:
    """Sends each message over a connection of its own from the trunk's address (some cut
    off mid-message, some without waiting), then pipelines 20 OPTIONS on one connection;
    returns how many of those 20 were answered 200."""
    for data in messages:
        with socket.socket() as sock:
            sock.bind((TRUNK_IP, 0))
            sock.settimeout(5)
            sock.connect(("127.0.0.1", port))
            try:
                sock.sendall(data)
            except OSError:
                pass  # Weft may close a connection that sends garbage
    with socket.socket() as sock:
        sock.bind((TRUNK_IP, 0))
        sock.settimeout(5)
        sock.connect(("127.0.0.1", port))
        via = f"{TRUNK_IP}:{sock.getsockname()[1]}"
        sock.sendall(b"".join(build_request("OPTIONS", f"sip:{DOMAIN}", via=via, transport="TCP") for _ in range(20)))
        received = b""
        deadline = time.monotonic() + 5
        while received.count(b"SIP/2.0 200 ") < 20 and time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
        return received.count(b"SIP/2.0 200 ")


# ----------------------------------------------------------------------------------------------
# The stranger


class RtpStranger(threading.Thread):
    """Sends PCMU RTP (a STRANGER_HZ tone, 20 ms packets) and a few junk datagrams from
    STRANGER_IP to `target` until stopped, and records every datagram that comes back."""

    def __init__(self, target: tuple[str, int]) -> None:
        super().__init__(daemon=True)
        self.target = target
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((STRANGER_IP, 0))
        self.sock.setblocking(False)
        self.stopped = threading.Event()
        self.sent = 0
        self.received: list[tuple[bytes, tuple]] = []

    def run(self) -> None:
        junk = [b"", b"\x80", b"\x80\x00" * 6, b"\xff" * 1500, b"\x81\xc8" + b"\x00" * 60, b"x" * 60_000]
        for number in itertools.count():
            if self.stopped.wait(0.02):
                break
            first = number * 160
            payload = bytes(
                linear_to_ulaw(round(8000 * math.sin(2 * math.pi * STRANGER_HZ * (first + i) / 8000)))
                for i in range(160)
            )
            packet = struct.pack("!BBHII", 0x80, 0, number & 0xFFFF, first & 0xFFFFFFFF, 0x57A6E) + payload
            for datagram in [packet, *(junk if number % 10 == 0 else [])]:
                try:
                    self.sock.sendto(datagram, self.target)
                    self.sent += 1
                except OSError:
                    pass
            self.drain()
        self.drain()

    def drain(self) -> None:
        while True:
            try:
                self.received.append(self.sock.recvfrom(65535))
            except (BlockingIOError, ConnectionRefusedError):
                return

    def stop(self) -> None:
        self.stopped.set()
        self.join(10)
        self.sock.close()


# ----------------------------------------------------------------------------------------------
# The test


def test_call_survives_a_flood_of_malformed_sip_and_stranger_rtp(tmp_path, sip_weft):
    weft = sip_weft(trunk_cidrs=[f"{TRUNK_IP}/32"])
    url = weft.metrics_url()
    caller_secret, callee_secret = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    create_sip_endpoint(weft, "alice", caller_secret)
    create_sip_endpoint(weft, "bob", callee_secret)
    create_room(weft, "lobby")
    common = {"domain": DOMAIN, "registrar": weft.sip_proxy}
    with (
        Baresip(
            tmp_path, user="bob", password=callee_secret, regint=3600, auto_answer=True, tone_hz=CALLEE_HZ, **common
        ) as bob,
        Baresip(tmp_path, user="alice", password=caller_secret, tone_hz=CALLER_HZ, sip_trace=True, **common) as alice,
    ):
        bob.wait_registered()
        alice.dial(f"sip:bob@{DOMAIN}")
        alice.wait_for_event("CALL_ESTABLISHED", timeout=15)
        bob.wait_for_event("CALL_ESTABLISHED")
        alice.wait_for_recording(1.0)
        bob.wait_for_recording(1.0)
        wait_for_metric(url, "weft_sip_calls", lambda v: v == 2, "== 2 (both legs)", state="active")
        leg_address = alice.received_audio_address()
        call_id = next(
            re.search(r"^Call-ID: (\S+)", text, re.MULTILINE).group(1)
            for source, _, text in alice.sip_messages()
            if text.startswith("INVITE ") and source == f"127.0.0.1:{alice.sip_port}"
        )

        stranger = RtpStranger(leg_address)
        stranger.start()
        rng = random.Random(20261207)
        with UdpSip(weft.sip_port, local_ip=TRUNK_IP) as flooder:
            udp = flood_messages(rng, flooder.via, call_id)
            for _, datagram in udp:
                try:
                    flooder.send(datagram)
                except OSError as error:
                    pytest.fail(f"could not send a {len(datagram)}-byte datagram: {error}")
            tcp = [datagram for _, datagram in flood_messages(rng, f"{TRUNK_IP}:5060", call_id)][::2]
            unfinished = f"INVITE sip:lobby@{DOMAIN} SIP/2.0\r\nContent-Length: 100000\r\n\r\npartial".encode()
            tcp += [unfinished, b"x" * 200_000]
            pipelined_ok = tcp_flood(weft.sip_port, tcp)
            answers = flooder.receive(timeout=1.0)
        print(f"flood: {len(udp)} UDP datagrams, {len(tcp) + 20} TCP messages; {len(answers)} UDP answers")
        assert len(udp) + len(tcp) >= MIN_MESSAGES
        caller_mark, callee_mark = alice.recorded_seconds(), bob.recorded_seconds()

        # The server is up and serving: health, OPTIONS over both transports, a new call.
        assert requests.get(f"{weft.http_url}/healthz", timeout=5).status_code == 200
        assert requests.get(url.replace("/metrics", "/healthz"), timeout=5).status_code == 200
        with UdpSip(weft.sip_port) as probe:
            assert probe.request("OPTIONS", f"sip:{DOMAIN}").status == 200
        assert pipelined_ok == 20, f"{pipelined_ok} of 20 pipelined OPTIONS over TCP answered 200"
        options = build_request("OPTIONS", f"sip:{DOMAIN}", via=f"{TRUNK_IP}:5060", transport="TCP")
        assert tcp_exchange(weft.sip_port, options, local_ip=TRUNK_IP).status == 200
        new_call = Sipp(
            tmp_path, "invite_pcap", weft.sip_target, service="lobby", local_ip=TRUNK_IP, keys={"domain": DOMAIN}
        ).run(timeout=40)
        assert new_call.ok, f"a new call after the flood failed\n{new_call.summary()}"

        # The call in progress goes on, both ways.
        alice.wait_for_recording(caller_mark + AFTER_FLOOD_S)
        bob.wait_for_recording(callee_mark + AFTER_FLOOD_S)
        stranger.stop()
        wait_for_metric(url, "weft_sip_calls", lambda v: v == 2, "== 2 (only the call in progress)")
        assert not [e for e in alice.events() + bob.events() if e.get("type") == "CALL_CLOSED"]
        alice.hangup()
        bob.wait_for_event("CALL_CLOSED")

    assert stranger.sent > 50
    assert not stranger.received, f"the stranger got {len(stranger.received)} datagrams back: latched to it"
    caller_heard, callee_heard = alice.recordings()[-1], bob.recordings()[-1]
    for heard, tone, mark in [(caller_heard, CALLEE_HZ, caller_mark), (callee_heard, CALLER_HZ, callee_mark)]:
        report = tone_report(heard, start_seconds=mark)
        assert has_tone(heard, tone, start_seconds=mark), f"{heard.name} after the flood: {report}"
    for heard in (caller_heard, callee_heard):
        assert not has_tone(heard, STRANGER_HZ), f"the stranger was heard: {tone_report(heard)}"
    wait_for_metric(url, "weft_sip_calls", lambda v: v == 0, "back to 0")
    wait_for_metric(url, "weft_members", lambda v: v == 0, "back to 0")


def test_bad_requests_get_their_documented_answers(sip_weft):
    """The answers README's "Limits and bad input" and RFC 3261 give to requests that are
    well-formed enough to answer, over UDP and TCP, from the trusted trunk (so that INVITEs reach
    SDP negotiation)."""
    weft = sip_weft(trunk_cidrs=[f"{TRUNK_IP}/32"])
    create_room(weft, "lobby")
    contact = ("Contact", f"<sip:trunk@{TRUNK_IP}:5060>")
    both = ["UDP", "TCP"]

    def offer(body: bytes) -> dict:
        return {"uri": f"sip:lobby@{DOMAIN}", "headers": [contact, ("Content-Type", "application/sdp")], "body": body}

    keyed = SRTP_SDP + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\n"
    text = ("Content-Type", "text/plain")
    cases = [
        # (what, method, build_request arguments, the statuses expected, transports)
        ("Content-Length beyond the body (a cut datagram)", "OPTIONS",
         {"body": b"abc", "content_length": "1000"}, {400}, ["UDP"]),
        ("a 10 KB body (under the 16 KiB limit)", "OPTIONS",
         {"headers": [text], "body": b"b" * 10_000}, {200}, ["TCP"]),
        ("a 12 KB header", "OPTIONS", {"headers": [("X-Pad", "p" * 12_000)]}, {200}, ["TCP"]),
        ("a body over 16 KiB", "OPTIONS", {"headers": [text], "body": b"b" * 20_000}, {413}, ["TCP"]),
        # The SIP stack reads UDP datagrams up to 8 KiB (README, "Limits and bad input"): a longer
        # one is cut, so with a body its Content-Length no longer matches (400), and cut inside its
        # headers it does not parse and is dropped.
        ("a 10 KB body over UDP (cut at 8 KiB)", "OPTIONS",
         {"headers": [text], "body": b"b" * 10_000}, {400}, ["UDP"]),
        ("a 20 KB body over UDP (cut at 8 KiB)", "OPTIONS",
         {"headers": [text], "body": b"b" * 20_000}, {400}, ["UDP"]),
        ("a 12 KB header over UDP (cut at 8 KiB)", "OPTIONS",
         {"headers": [("X-Pad", "p" * 12_000)]}, {None}, ["UDP"]),
        ("a delayed offer (INVITE without SDP)", "INVITE", {**offer(b""), "headers": [contact]}, {488}, both),
        ("an offer with no codec in common", "INVITE", offer(BAD_SDPS[8]), {488}, both),
        ("an SDP that does not parse", "INVITE", offer(b"garbage"), {400, 488}, both),
        ("an SDES key that is not base64", "INVITE", offer(sdp(keyed.format("!!!notbase64"))), {488}, both),
        ("an SDES key of the wrong length", "INVITE", offer(sdp(keyed.format("QUJD"))), {488}, both),
        ("BYE outside any dialog", "BYE", {"to_tag": new_id()}, {481}, both),
        *((f"{method} (not supported)", method, {}, {405}, both)
          for method in ["SUBSCRIBE", "NOTIFY", "PUBLISH", "MESSAGE", "REFER", "PRACK"]),
    ]
    wrong = []
    with UdpSip(weft.sip_port, local_ip=TRUNK_IP) as client:
        for what, method, arguments, expected, transports in cases:
            arguments = {"uri": f"sip:nobody@{DOMAIN}", **arguments}
            uri = arguments.pop("uri")
            for transport in transports:
                try:
                    if transport == "UDP":
                        answer = client.request(method, uri, timeout=2.0, **arguments)
                    else:
                        request = build_request(method, uri, via=f"{TRUNK_IP}:5060", transport="TCP", **arguments)
                        answer = tcp_exchange(weft.sip_port, request, timeout=2.0, local_ip=TRUNK_IP)
                    got = answer.status
                except NoResponse:
                    got = None
                if got not in expected:
                    wrong.append(f"{what} over {transport}: expected {sorted(expected)}, got {got}")
    assert not wrong, "\n".join(wrong)
    assert metric(weft.metrics_url(), "weft_sip_calls") == 0
