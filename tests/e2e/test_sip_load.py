"""SIP acceptance 6 against a real `weft serve`: a trusted trunk (SIPp) places 50 concurrent calls
into one video room, each playing a PCMU tone for 30 s. Every call completes, all 50 are in the
room at once, each caller is sent the room's audio (the others' tone) all along, and afterwards no
call or member is left."""

from __future__ import annotations

import re
import select
import shutil
import socket
import threading
import wave

import pytest

from sip_peers import Sipp, has_tone, tone_report, ulaw_to_linear
from sip_support import DOMAIN, create_room, metric, sip_weft, wait_for_metric  # noqa: F401 (sip_weft: a fixture)

TRUNK_IP = "127.0.0.2"
CALLS = 50
HOLD_S = 30
TONE_HZ = 700
PACKETS_PER_S = 50


@pytest.fixture(scope="module", autouse=True)
def sipp_binary() -> None:
    if shutil.which("sipp") is None:
        pytest.fail("sipp not installed: install the Debian package sip-tester")


class RtpSink(threading.Thread):
    """Receives what Weft sends to the callers' media ports and counts it per port; keeps the
    PCMU payloads sent to the first one.

    SIPp plays pcaps through a raw socket from `[auto_media_port]` (its `-mp` + 4 per call) and
    binds only `-mp` and `-mp`+2 itself: the ports of calls 2..N are free to listen on.
    """

    def __init__(self, ip: str, ports: list[int]) -> None:
        super().__init__(daemon=True)
        self.sockets = {}
        for port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((ip, port))
            self.sockets[sock] = port
        self.counts = dict.fromkeys(ports, 0)
        self.first = ports[0]
        self.payloads: list[bytes] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            ready, _, _ = select.select(list(self.sockets), [], [], 0.1)
            for sock in ready:
                packet = sock.recv(2048)
                port = self.sockets[sock]
                self.counts[port] += 1
                if port == self.first and len(packet) > 12 and packet[1] & 0x7F == 0:
                    self.payloads.append(packet[12 + 4 * (packet[0] & 0x0F) :])

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)
        for sock in self.sockets:
            sock.close()

    def write_wav(self, path) -> None:
        """The first port's audio as an 8 kHz mono WAV file."""
        codes = b"".join(self.payloads)
        samples = b"".join(ulaw_to_linear(code).to_bytes(2, "little", signed=True) for code in codes)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(samples)


def test_fifty_trunk_calls_share_one_room_for_thirty_seconds(tmp_path, sip_weft):
    weft = sip_weft(trunk_cidrs=[f"{TRUNK_IP}/32"])
    create_room(weft, "hall")
    url = weft.metrics_url()
    received_before = metric(url, "weft_received_packets_total", kind="audio")
    callers = Sipp(
        tmp_path, "invite_hold_pcap", weft.sip_target, service="hall", calls=CALLS, rate=25,
        local_ip=TRUNK_IP, keys={"domain": DOMAIN}, tone_hz=TONE_HZ, tone_seconds=HOLD_S,
        media_port_count=4 * CALLS, timeout_s=HOLD_S + 60, extra_args=["-l", str(CALLS), "-d", str(HOLD_S * 1000)],
    )
    sink = RtpSink(TRUNK_IP, [callers.media_port + 4 * call for call in range(1, CALLS)])
    sink.start()
    try:
        callers.start()
        all_in = {"check": lambda v: v == CALLS, "what": f"== {CALLS}", "timeout": HOLD_S / 2}
        wait_for_metric(url, "weft_sip_calls", state="active", **all_in)
        wait_for_metric(url, "weft_members", **all_in)
        result = callers.wait(timeout=HOLD_S + 60)
    finally:
        callers.stop()
        sink.stop()
    assert result.ok, result.summary()
    successful = re.search(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", result.text("screen"))
    assert successful and int(successful.group(1)) == CALLS, result.summary()

    wait_for_metric(url, "weft_sip_calls", lambda v: v == 0, "back to 0")
    wait_for_metric(url, "weft_members", lambda v: v == 0, "back to 0")

    # Weft took in the callers' audio and sent each caller the room's for most of the 30 s.
    received = metric(url, "weft_received_packets_total", kind="audio") - received_before
    expected = PACKETS_PER_S * HOLD_S * 0.8
    print(f"{CALLS} calls × {HOLD_S} s: {received:.0f} audio packets in; to callers: {sorted(sink.counts.values())}")
    assert received >= CALLS * expected, received
    starved = {port: count for port, count in sink.counts.items() if count < expected}
    assert not starved, f"callers sent less than {expected:.0f} packets of room audio: {starved}"
    heard = tmp_path / "caller-2-heard.wav"
    sink.write_wav(heard)
    assert has_tone(heard, TONE_HZ, min_seconds=HOLD_S / 2), f"caller 2 heard: {tone_report(heard)}"
