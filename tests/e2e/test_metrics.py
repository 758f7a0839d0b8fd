"""`/metrics` of a real `weft serve`: every series the README documents is exported, REST and
signaling traffic moves the counters and gauges it should, `promtool check metrics` accepts the
scrape, and a real Prometheus scraping Weft during a small load test sees forwarded packets rise."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from websockets.sync.client import connect

from weft_process import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
# The hub reports sessions and calls once a second, the media shards are polled once a second.
PUBLISH_WAIT_S = 5.0
# Label values may hold braces (route patterns such as `/resources/{id}`).
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class Scrape:
    """One parsed scrape: the text, the declared families and their types, and the samples."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.types: dict[str, str] = {}
        self.samples: list[tuple[str, dict[str, str], float]] = []
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                self.types[name] = kind
            elif line and not line.startswith("#"):
                found = SAMPLE.match(line)
                assert found, f"unparsable sample line: {line!r}"
                labels = dict(LABEL.findall(found.group(2) or ""))
                self.samples.append((found.group(1), labels, float(found.group(3))))

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
        return sum(
            v for n, ls, v in self.samples if n == name and all(ls.get(k) == want for k, want in labels.items())
        )

    def documented_names(self) -> set[str]:
        """Each family as the README names it: counters with `_total`, others as declared."""
        return {
            f"{family}_total" if kind == "counter" and not family.endswith("_total") else family
            for family, kind in self.types.items()
        }


OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


def scrape(url: str, openmetrics: bool = False) -> Scrape:
    """A scrape in the classic Prometheus text format, or in OpenMetrics as Prometheus asks."""
    headers = {"Accept": OPENMETRICS} if openmetrics else {}
    resp = requests.get(url, headers=headers, timeout=10)
    assert resp.status_code == 200, resp.text
    wanted = "application/openmetrics-text" if openmetrics else "text/plain; version=0.0.4"
    assert resp.headers["content-type"].startswith(wanted), resp.headers
    assert resp.text.endswith("# EOF\n") == openmetrics
    return Scrape(resp.text)


def wait_for(url: str, check, what: str) -> Scrape:
    """Scrapes until `check(scrape)` is true, for at most PUBLISH_WAIT_S."""
    deadline = time.monotonic() + PUBLISH_WAIT_S
    while True:
        s = scrape(url)
        if check(s):
            return s
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not seen within {PUBLISH_WAIT_S} s; last scrape:\n{s.text}")
        time.sleep(0.2)


def readme_series() -> set[str]:
    """The series named in the README's Metrics table (first column)."""
    section = README.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M))


def promtool_check(text: str, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: scripts/test-all installs Debian's prometheus package")
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"promtool check metrics failed:\n{done.stdout}\n{done.stderr}"


def subscriber_token(server, reference: str) -> str:
    resp = requests.post(
        f"{server.http_url}/api/fabric/subscribers/tokens",
        json={"reference": reference},
        auth=server.auth,
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["token"]


def rpc(ws, id_: str, method: str, params: dict) -> dict:
    """Sends a request and returns its reply, acknowledging the events that arrive meanwhile."""
    ws.send(json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv(timeout=10))
        if msg.get("id") == id_ and "method" not in msg:
            return msg
        if msg.get("method") in ("signalwire.event", "signalwire.ping"):
            ws.send(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {}}))
    pytest.fail(f"no reply to {method}")


def test_every_documented_series_is_exported_and_moves_with_traffic(weft_factory, tmp_path):
    server = weft_factory()
    url = server.metrics_url()
    first = scrape(url)

    for kind in ("audio", "video"):
        assert first.value("weft_forwarded_packets_total", kind=kind) == 0
    buckets = [ls["le"] for n, ls, _ in first.samples if n == "weft_forwarding_latency_seconds_bucket"]
    assert buckets[0] == "5e-05" or float(buckets[0]) == 0.00005, buckets
    assert float(buckets[-2]) == 0.02 and buckets[-1] == "+Inf", buckets

    # REST: three listed, one refused.
    route = "/api/fabric/resources"
    for _ in range(3):
        assert requests.get(server.http_url + route, auth=server.auth, timeout=10).status_code == 200
    assert requests.get(server.http_url + route, timeout=10).status_code == 401
    missing = f"{route}/00000000-0000-4000-8000-000000000000"
    assert requests.get(server.http_url + missing, auth=server.auth, timeout=10).status_code == 404
    after_rest = scrape(url)
    # Counted under the route pattern, never the raw path.
    assert after_rest.value("weft_http_requests_total", route=route + "/{id}", status="404") == 1
    ok = dict(route=route, method="GET", status="200")
    assert after_rest.value("weft_http_requests_total", **ok) - first.value("weft_http_requests_total", **ok) == 3
    assert after_rest.value("weft_http_requests_total", route=route, status="401") >= 1
    assert after_rest.value("weft_http_request_duration_seconds_count", route=route) >= 4

    # Signaling: a subscriber connects over a raw WebSocket, sends a request Weft does not know.
    token = subscriber_token(server, "metrics@example.com")
    ws_url = f"ws://127.0.0.1:{server.http_port}/"
    with connect(ws_url, open_timeout=10) as ws:
        reply = rpc(
            ws,
            "c1",
            "signalwire.connect",
            {
                "version": {"major": 4, "minor": 0, "revision": 0},
                "event_acks": True,
                "agent": "weft-e2e",
                "authentication": {"jwt_token": token},
            },
        )
        assert "result" in reply, reply
        assert "error" in rpc(ws, "x1", "no.such.method", {})
        during = wait_for(
            url,
            lambda s: s.value("weft_signaling_sessions", state="connected") == 1,
            "one connected signaling session",
        )
        assert during.value("weft_ws_requests_total", method="signalwire.connect", result="ok") == 1
        assert during.value("weft_ws_requests_total", method="unknown", result="error") == 1
    wait_for(
        url,
        lambda s: s.value("weft_signaling_sessions", state="connected") == 0
        and s.value("weft_signaling_sessions", state="detached") == 1,
        "the session detached after the socket closed",
    )

    # A SIP OPTIONS (a keep-alive) is answered and counted.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sip:
        sip.bind(("127.0.0.1", 0))
        sip.settimeout(10)
        local = "127.0.0.1:%d" % sip.getsockname()[1]
        options = (
            f"OPTIONS sip:{server.sip_port}@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {local};branch=z9hG4bKmetrics1;rport\r\n"
            f"From: <sip:probe@{local}>;tag=metrics\r\nTo: <sip:weft@127.0.0.1>\r\n"
            "Call-ID: metrics-options\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        sip.sendto(options.encode(), ("127.0.0.1", server.sip_port))
        assert sip.recv(65536).startswith(b"SIP/2.0 200 "), "OPTIONS was not answered 200"
    wait_for(
        url,
        lambda s: s.value("weft_sip_requests_total", method="OPTIONS", status="200") == 1,
        "the answered OPTIONS counted",
    )

    # Families without samples yet (no request of a kind seen) are left out of a scrape; after
    # this traffic every one has some.
    last = scrape(url)
    documented = readme_series()
    assert len(documented) >= 15, documented
    exported = last.documented_names()
    assert documented - exported == set(), "documented in the README but not exported"
    assert exported - documented == set(), "exported but not documented in the README"
    for family, kind in {
        "weft_http_requests_total": "counter",
        "weft_ws_requests_total": "counter",
        "weft_forwarded_packets_total": "counter",
        "weft_forwarding_latency_seconds": "histogram",
        "weft_join_duration_seconds": "histogram",
        "weft_calls": "gauge",
        "weft_rooms": "gauge",
    }.items():
        assert last.types.get(family) == kind, family
    assert last.value("weft_calls") == 0
    assert scrape(url, openmetrics=True).documented_names() == exported
    assert last.value("process_cpu_seconds_total") > 0
    assert last.value("process_resident_memory_bytes") > 1_000_000
    promtool_check(last.text, tmp_path)


def prometheus_query(base: str, query: str) -> list[dict]:
    resp = requests.get(f"{base}/api/v1/query", params={"query": query}, timeout=10)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_prometheus_sees_forwarded_packets_rise_during_a_load_test(weft_factory, loadtest_bin, tmp_path):
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.fail("prometheus is missing: scripts/test-all installs Debian's prometheus package")
    server = weft_factory()
    url = server.metrics_url()
    target = url.removeprefix("http://").removesuffix("/metrics")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        f"scrape_configs:\n  - job_name: weft\n    static_configs:\n      - targets: ['{target}']\n"
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "prometheus.log", "wb")
    prom = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not _ready(base):
            assert prom.poll() is None, (tmp_path / "prometheus.log").read_text()
            assert time.monotonic() < deadline, "prometheus did not become ready"
            time.sleep(0.2)

        env = {k: v for k, v in os.environ.items() if not k.startswith("WEFT_")}
        env.update(WEFT_PROJECT_ID=server.project_id, WEFT_API_TOKEN=server.api_token)
        done = subprocess.run(
            [
                loadtest_bin,
                "--http", server.http_url,
                "--metrics", url,
                "--rooms", "1",
                "--publishers", "1",
                "--subscribers", "2",
                "--duration", "8",
                "--report", str(tmp_path / "report.json"),
                "--plot", str(tmp_path / "plot.svg"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, f"weft-loadtest failed:\n{done.stdout}\n{done.stderr}"
        time.sleep(2)  # one more scrape after the last packets

        up = prometheus_query(base, 'up{job="weft"}')
        assert up and up[0]["value"][1] == "1", up
        for kind in ("audio", "video"):
            rising = prometheus_query(base, f'increase(weft_forwarded_packets_total{{kind="{kind}"}}[1m])')
            assert rising and float(rising[0]["value"][1]) > 100, (kind, rising)
        received = prometheus_query(base, "sum(increase(weft_received_packets_total[1m]))")
        assert received and float(received[0]["value"][1]) > 100, received
        joins = prometheus_query(base, "weft_join_duration_seconds_count")
        assert joins and float(joins[0]["value"][1]) == 3, joins
        latency = prometheus_query(base, "weft_forwarding_latency_seconds_count")
        assert latency and float(latency[0]["value"][1]) > 0, latency
        feedback = prometheus_query(base, "weft_rtcp_feedback_total")
        counts = {(r["metric"]["type"], r["metric"]["direction"]): float(r["value"][1]) for r in feedback}
        assert len(counts) == 6, counts
        # New subscribers need a keyframe: Weft asks the publisher (str0m's stats count the PLI).
        assert counts["pli", "out"] >= 1, counts
        # The synthetic peers came through the real signaling path: a connect and an invite each.
        for method in ("signalwire.connect", "verto.invite"):
            seen = prometheus_query(base, f'weft_ws_requests_total{{method="{method}",result="ok"}}')
            assert seen and float(seen[0]["value"][1]) == 3, (method, seen)
    finally:
        prom.terminate()
        try:
            prom.wait(10)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()


def _ready(base: str) -> bool:
    try:
        return requests.get(f"{base}/-/ready", timeout=2).status_code == 200
    except requests.RequestException:
        return False
