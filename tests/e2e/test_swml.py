"""SWML scripts run on calls, against a real `weft serve` with real SIP peers on loopback.

A baresip registered as a SIP endpoint calls script addresses (`sip:<script>@DOMAIN`); a local
HTTP server serves the tones scripts play, answers their `request`s and a webhook's SWML, and
records what it was sent. baresip records what it hears, which is measured here (FFT).

- Acceptance 2: a SIP call to a script that plays, records (`record_call` in the background
  and a voicemail-style `record` after a beep) and hangs up; the recordings hold the caller's
  tone, and the PyPI client lists, gets and deletes them while REST downloads them.
- Acceptance 3: `request` POSTs the call's variables, `save_variables` drives a `cond`; a
  `swml_webhooks` resource fetches SWML that plays a tone.
- Acceptance 4: `say:` through espeak-ng: the caller hears speech-band audio.
- Acceptance 5: a runaway `goto` hits the step limit and the call ends with a logged reason; a
  fetch from a refused host, a file over the size cap and a server slower than the timeout each
  take the failure path (the script goes on).

Needs the Debian packages baresip-core and espeak-ng (scripts/lib/apt.sh).
"""

from __future__ import annotations

import json
import math
import secrets
import shutil
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from signalwire.rest import RestClient

from sip_peers import Baresip, dominant_frequency, has_tone, read_wav, rms, tone_report, wait_until
from sip_support import (  # noqa: F401 (sip_weft is a fixture)
    DOMAIN,
    create_sip_endpoint,
    metric,
    sip_weft,
    wait_for_log,
    wait_for_metric,
)
from weft_http import Api

SCRIPTS = "/api/fabric/resources/swml_scripts"
WEBHOOKS = "/api/fabric/resources/swml_webhooks"
CALLER_HZ = 300
# The address 127.0.0.1 is allowed to scripts; 127.0.0.5 (loopback too) is not.
ALLOWED_HOST = "127.0.0.1"
REFUSED_HOST = "127.0.0.5"


def tone_wav(hz: int, seconds: float, rate: int = 16_000, amplitude: float = 0.4) -> bytes:
    """A mono 16-bit PCM WAV of a sine."""
    n = int(rate * seconds)
    data = b"".join(
        struct.pack("<h", int(amplitude * 32767 * math.sin(2 * math.pi * hz * i / rate))) for i in range(n)
    )
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(data)) + data


def tone_seconds(path, hz: float, window_s: float = 0.1) -> float:
    """Seconds of `path` (in `window_s` windows) that are loud and mostly the tone `hz`: a
    Goertzel filter's power holds more than half the window's energy. Tells apart tones that
    follow each other without a gap, which `has_tone` (the longest loud run) cannot."""
    samples, rate = read_wav(path)
    n = int(rate * window_s)
    coeff = 2 * math.cos(2 * math.pi * hz / rate)
    seconds = 0.0
    for start in range(0, len(samples) - n + 1, n):
        block = samples[start : start + n]
        energy = sum(s * s for s in block)
        if energy / n < 300**2:
            continue
        s1 = s2 = 0.0
        for x in block:
            s1, s2 = x + coeff * s1 - s2, s1
        power = (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2 / n
        if power > 0.5 * energy:
            seconds += window_s
    return seconds


class ScriptServer:
    """The scripts' web server: tones at `/tone-<hz>.wav`, a slow one at `/slow.wav`, a large one
    at `/large.wav`, JSON answers at `/decide`, SWML at `/swml-<hz>`; every request kept."""

    def __init__(self, host: str = ALLOWED_HOST) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.large = tone_wav(500, 40.0)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def answer(self, body: bytes, content_type: str) -> None:
                self.send_response(200)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def handle_any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append((self.command, self.path, body))
                if self.path.startswith("/tone-"):
                    hz = int(self.path.removeprefix("/tone-").removesuffix(".wav"))
                    return self.answer(tone_wav(hz, 2.0), "audio/wav")
                if self.path == "/slow.wav":
                    time.sleep(6)
                    return self.answer(tone_wav(800, 1.0), "audio/wav")
                if self.path == "/large.wav":
                    return self.answer(outer.large, "audio/wav")
                if self.path == "/decide":
                    return self.answer(json.dumps({"route": "high", "queue": "sales"}).encode(), "application/json")
                if self.path.startswith("/swml-"):
                    hz = int(self.path.removeprefix("/swml-"))
                    swml = {"version": "1.0.0", "sections": {"main": [
                        {"answer": {}},
                        {"play": {"url": f"{outer.base}/tone-{hz}.wav"}},
                        {"hangup": {}},
                    ]}}
                    return self.answer(json.dumps(swml).encode(), "application/json")
                self.send_error(404)

            do_GET = handle_any
            do_POST = handle_any

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://{host}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def bodies(self, path: str) -> list[bytes]:
        return [body for _, p, body in self.requests if p == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module", autouse=True)
def peers_installed() -> None:
    missing = [binary for binary in ("baresip", "espeak-ng") if shutil.which(binary) is None]
    if missing:
        pytest.fail(f"{missing} not installed: install the Debian packages baresip-core and espeak-ng")


@pytest.fixture
def site():
    allowed, refused = ScriptServer(ALLOWED_HOST), ScriptServer(REFUSED_HOST)
    yield allowed, refused
    allowed.close()
    refused.close()


@pytest.fixture
def swml_weft(sip_weft):
    env = {
        "WEFT_SWML_FETCH_ALLOW": f"{ALLOWED_HOST}/32",
        "WEFT_SWML_FETCH_TIMEOUT_SECS": "3",
        "WEFT_SWML_FETCH_MAX_BYTES": "400000",
        "WEFT_SWML_MAX_STEPS": "200",
    }
    return sip_weft(extra_env=env)


def script(weft, name: str, main: list) -> dict:
    """Creates the SWML script `name` (address `/public/<name>`)."""
    contents = {"version": "1.0.0", "sections": {"main": main}}
    return Api(weft.http_url, weft.auth).created(SCRIPTS, {"name": name, "contents": contents})


def call(weft, desk: Baresip, name: str, timeout: float = 20.0):
    """`desk` calls `sip:<name>@DOMAIN` and waits for the script to hang up; what it heard."""
    start = len(desk.events())
    known = set(desk.recordings())
    desk.dial(f"sip:{name}@{DOMAIN}")
    desk.wait_for_event("CALL_ESTABLISHED", timeout=10, start=start)
    closed = desk.wait_for_event("CALL_CLOSED", timeout=timeout, start=start)
    new = [r for r in desk.recordings() if r not in known]
    assert new, "baresip recorded nothing"
    return new[-1], closed


@pytest.fixture
def desk(tmp_path, swml_weft):
    secret = secrets.token_urlsafe(12)
    create_sip_endpoint(swml_weft, "desk", secret)
    with Baresip(
        tmp_path, user="desk", password=secret, domain=DOMAIN, registrar=swml_weft.sip_proxy,
        regint=3600, tone_hz=CALLER_HZ,
    ) as ua:
        ua.wait_registered()
        yield ua


def test_a_sip_call_to_a_script_is_played_to_recorded_and_hung_up(swml_weft, desk, site, tmp_path):
    web, _ = site
    script(swml_weft, "voicemail", [
        {"answer": {}},
        {"record_call": {"control_id": "whole-call"}},
        {"play": {"url": f"{web.base}/tone-700.wav"}},
        {"record": {"beep": True, "max_length": 3, "initial_timeout": 5, "end_silence_timeout": 5}},
        {"stop_record_call": {"control_id": "whole-call"}},
        {"hangup": {}},
    ])
    heard, _ = call(swml_weft, desk, "voicemail", timeout=30)
    assert has_tone(heard, 700), f"the caller heard the script's play: {tone_report(heard)}"

    client = RestClient(swml_weft.project_id, swml_weft.api_token, host=swml_weft.host)

    def completed():
        data = client.recordings.list()["data"]
        return data if len(data) == 2 and all(r["status"] == "completed" for r in data) else None

    recordings = wait_until(completed, 10.0, "two completed recordings", lambda: client.recordings.list())
    by_length = sorted(recordings, key=lambda r: r["duration_in_seconds"])
    voicemail, whole = by_length
    assert 2 <= voicemail["duration_in_seconds"] <= 4, voicemail
    assert whole["duration_in_seconds"] >= 4, f"record_call covers the play and the voicemail: {whole}"
    for rec in recordings:
        assert rec["format"] == "wav" and rec["track"] == "caller", rec
        assert rec["call_id"] and rec["byte_size"] > 0, rec
        assert client.recordings.get(rec["id"])["id"] == rec["id"]
        path = "/api/relay/rest/recordings/" + rec["id"] + "/download"
        assert rec["url"].endswith(path), rec
        resp = requests.get(swml_weft.http_url + path, auth=swml_weft.auth, timeout=10)
        assert resp.status_code == 200 and resp.headers["content-type"] == "audio/wav", resp.headers
        wav = tmp_path / f"{rec['id']}.wav"
        wav.write_bytes(resp.content)
        assert has_tone(wav, CALLER_HZ, min_seconds=1.5), f"the recording holds the caller's tone: {tone_report(wav)}"
    client.recordings.delete(voicemail["id"])
    assert [r["id"] for r in client.recordings.list()["data"]] == [whole["id"]]


def test_a_script_connects_its_caller_to_a_sip_endpoint_or_takes_the_failure_path(tmp_path, swml_weft, desk, site):
    web, _ = site
    secret = secrets.token_urlsafe(12)
    create_sip_endpoint(swml_weft, "agent", secret)
    create_sip_endpoint(swml_weft, "away", secrets.token_urlsafe(12))  # never registers
    script(swml_weft, "sales", [
        {"answer": {}},
        {"connect": {"to": "/public/away", "timeout": 10}},
        {"cond": [
            {"when": "connect_result == 'failed'", "then": [{"play": {"url": f"{web.base}/tone-600.wav"}}]},
        ]},
        {"connect": {"serial": [{"to": "/public/agent"}], "timeout": 10}},
        {"play": {"url": f"{web.base}/tone-900.wav"}},
        {"hangup": {}},
    ])
    with Baresip(
        tmp_path, user="agent", password=secret, domain=DOMAIN, registrar=swml_weft.sip_proxy,
        regint=3600, tone_hz=1000, auto_answer=True,
    ) as agent:
        agent.wait_registered()
        start = len(desk.events())
        known = set(desk.recordings())
        desk.dial(f"sip:sales@{DOMAIN}")
        desk.wait_for_event("CALL_ESTABLISHED", timeout=10, start=start)
        agent.wait_for_event("CALL_ESTABLISHED", timeout=15)
        agent.wait_for_recording(3.0, timeout=15)
        desk.hangup()
        desk.wait_for_event("CALL_CLOSED", timeout=10, start=start)
        agent.wait_for_event("CALL_CLOSED", timeout=10)
        heard = [r for r in desk.recordings() if r not in known][-1]
        assert tone_seconds(heard, 600) >= 1.0, f"the failed connect took the failure path: {tone_report(heard)}"
        assert tone_seconds(heard, 1000) >= 1.0, f"the caller was put through to the agent: {tone_report(heard)}"
        assert tone_seconds(heard, 900) == 0, "the script's part ended when the agent answered"
        assert has_tone(agent.recordings()[-1], CALLER_HZ), tone_report(agent.recordings()[-1])


def test_request_posts_the_calls_variables_and_its_saved_answer_drives_a_cond(swml_weft, desk, site):
    web, _ = site
    script(swml_weft, "router", [
        {"answer": {}},
        {"request": {
            "url": f"{web.base}/decide",
            "method": "POST",
            "body": {"caller": "%{call.from}", "call_id": "%{call.call_id}"},
            "save_variables": True,
        }},
        {"cond": [
            {"when": "request_response.route == 'high'", "then": [{"play": {"url": f"{web.base}/tone-1000.wav"}}]},
            {"else": [{"play": {"url": f"{web.base}/tone-440.wav"}}]},
        ]},
        {"hangup": {}},
    ])
    heard, _ = call(swml_weft, desk, "router")
    posted = [json.loads(b) for b in web.bodies("/decide")]
    assert len(posted) == 1, web.requests
    assert "desk" in posted[0]["caller"], posted
    assert posted[0]["call_id"], posted
    assert has_tone(heard, 1000), f"the saved answer chose the 1000 Hz branch: {tone_report(heard)}"
    assert not has_tone(heard, 440), tone_report(heard)


def test_a_webhook_resource_fetches_the_swml_it_runs(swml_weft, desk, site):
    web, _ = site
    Api(swml_weft.http_url, swml_weft.auth).created(
        WEBHOOKS, {"name": "hook", "primary_request_url": f"{web.base}/swml-600"}
    )
    heard, _ = call(swml_weft, desk, "hook")
    posted = [json.loads(b) for b in web.bodies("/swml-600")]
    assert len(posted) == 1, web.requests
    assert set(posted[0]) >= {"call", "vars", "envs", "params"}, posted
    assert posted[0]["call"]["to"] == "/public/hook", posted
    assert has_tone(heard, 600), tone_report(heard)


def test_say_speaks_through_espeak_ng(swml_weft, desk):
    script(swml_weft, "greeting", [
        {"play": {"url": "say:Welcome to Weft. Please hold while we connect your call."}},
        {"hangup": {}},
    ])
    heard, _ = call(swml_weft, desk, "greeting")
    samples, rate = read_wav(heard)
    frame = rate // 50
    voiced = [
        samples[i : i + frame]
        for i in range(0, len(samples) - frame, frame)
        if rms(samples[i : i + frame]) > 300
    ]
    assert len(voiced) >= 50, f"at least a second of speech: {len(voiced)} loud frames, {tone_report(heard, 300)}"
    pitch = dominant_frequency([s for f in voiced for s in f], rate, min_hz=60)
    assert 60 <= pitch <= 3400, f"speech-band energy, dominant at {pitch:.0f} Hz"
    assert not has_tone(heard, CALLER_HZ, min_rms=300), "the caller does not hear itself"


def test_bad_input_takes_the_failure_paths_and_nothing_crashes(swml_weft, desk, site):
    web, refused = site
    # A fetch from a refused host, an oversized file and a slow server each fail the play; the
    # script goes on to the next one, which plays.
    script(swml_weft, "faults", [
        {"answer": {}},
        {"play": {"url": f"{refused.base}/tone-900.wav"}},
        {"play": {"url": f"{web.base}/large.wav"}},
        {"play": {"url": f"{web.base}/slow.wav"}},
        {"play": {"url": f"{web.base}/tone-700.wav"}},
        {"hangup": {}},
    ])
    heard, _ = call(swml_weft, desk, "faults", timeout=30)
    assert has_tone(heard, 700), tone_report(heard)
    assert not has_tone(heard, 900) and not has_tone(heard, 800) and not has_tone(heard, 500), tone_report(heard)
    assert refused.requests == [], "a refused host is never contacted"
    wait_for_log(swml_weft, rf"play failed.*{REFUSED_HOST}")
    wait_for_log(swml_weft, r"play failed.*large\.wav")
    wait_for_log(swml_weft, r"play failed.*slow\.wav")

    # A runaway goto ends at the step limit, and the call ends with the reason in the log.
    script(swml_weft, "runaway", [
        {"answer": {}},
        {"label": "again"},
        {"set": {"n": 1}},
        {"goto": {"label": "again"}},
    ])
    _, closed = call(swml_weft, desk, "runaway")
    wait_for_log(swml_weft, r"script stopped.*more than 200 methods")
    assert swml_weft.process.poll() is None, "the server is still running"

    # The metrics say so too, and no script call is left running.
    url = swml_weft.metrics_url()
    wait_for_metric(url, "weft_swml_calls", lambda v: v == 0, "== 0")
    assert metric(url, "weft_swml_errors_total", reason="step_limit") == 1
    assert metric(url, "weft_swml_errors_total", reason="play_failed") == 3
    assert metric(url, "weft_swml_steps_total", method="goto") >= 60
    assert metric(url, "weft_swml_steps_total", method="play") == 4
