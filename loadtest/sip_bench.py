#!/usr/bin/env python3
"""SIP benchmarks against a real `weft serve`, driven by SIPp (Debian `sip-tester`) and a small
Python UAC, on loopback.

Every measurement (one rate, one call count) gets a fresh `weft serve`: its own data dir,
bootstrap project and loopback ports, a trusted trunk for 127.0.0.0/8 in `WEFT_SIP_TRUNKS`, no
per-account call cap (`[sip] max_calls_per_account` in a config file), the RTP leg ports
`--media-ports`, `WEFT_LOG_LEVEL=warn` (and for the SWML modes `WEFT_SWML_FETCH_ALLOW=127.0.0.0/8`,
so that scripts may fetch from loopback). Then:

- `setup`: the call setup rate. A SIPp UAC calling from the trunk runs
  `loadtest/sipp/bench_uac.xml` (INVITE → 200 → ACK → hold → BYE → 200, no RTP) at `--rates`
  for `--seconds` into `/public/benchroom` (`--target room`: a video room; each call joins it
  as an audio member) or to a SIP endpoint (`--target endpoint`: Weft rings the endpoint's
  registered contact, a SIPp UAS running tests/e2e/sipp/uas_answer.xml). Reported: calls that
  succeeded and failed, retransmissions (SIPp's own, and those it received from Weft), setup
  time (INVITE to 200: mean, and the p50/p99 bucket), Weft's CPU (utime + stime of the whole
  process from /proc/<pid>/stat, from the UAC's start to its exit, and per thread) and the
  calls per Weft CPU-second.
- `legs`: concurrent bridged G.711 legs. `--calls` N calls from the trunk to SIP endpoints
  (`--endpoints`, taken in turn) whose registered contacts are SIPp UASes echoing RTP
  (`-rtp_echo`); each call is two PCMU legs relayed by Weft without transcoding. The UAC
  (`loadtest/sipp/bench_uac_rtp.xml`) streams µ-law in 20 ms packets (50 packets/s) with SIPp's
  `rtp_stream`. Once all calls are up, Weft's CPU, `weft_received_packets_total` and
  `weft_forwarded_packets_total` are sampled over `--steady` seconds (aligned to the server's
  once-a-second counter refresh): CPU per leg, µs per forwarded packet, received/forwarded
  against the 2 × 50 × N packets/s the calls should produce, the rate the UAC streamed, UDP
  receive drops on Weft's sockets and the UASes' (/proc/net/udp), the RTP reaching the UAC
  (its socket is never read, so what arrives is dropped and counted), and the SIPp processes'
  CPU.
- `scripts`: concurrent SWML scripted calls. A local HTTP server (a thread of this script, on
  127.0.0.1) serves a `--wav-seconds` 16-bit WAV (8 kHz, 440 Hz); the script `benchivr` answers,
  then `prompt`s for one digit (`initial_timeout` 120 s) while playing it. `--calls` N calls
  from the trunk to `sip:benchivr@DOMAIN` at `--ramp` calls/s (`loadtest/sipp/
  bench_uac_script.xml`: INVITE offering PCMU and telephone-event → 200 → ACK → hold → BYE; no
  RTP from the caller). Their SDP points Weft's audio at a socket this script reads in a
  thread, counting packets per stream (Weft's source port and SSRC). Once all calls are up,
  over `--steady` seconds: Weft's CPU → calls per core, the packets/s the callers received
  against 50 × N, every call's own rate (calls under 45 packets/s are reported), payload types,
  receive drops (the reader's socket and Weft's), the reader's and SIPp's CPU. With
  `--caller-rtp`, callers also stream µ-law (`bench_uac_script_rtp.xml`, SIPp's `rtp_stream`);
  Weft then latches onto SIPp's socket, which is never read, so the audio callers get is
  counted from its receive drops, in total only.
- `first-audio`: the time from sending an INVITE to the first RTP packet from Weft (and to the
  first one carrying the tone, and to the 200), taken with the kernel's receive timestamps by a
  UAC written here (raw SIP over UDP from 127.0.0.1, inside the trunk: INVITE with a PCMU SDP
  offer and an RTP socket of its own, 200 → ACK, first RTP, BYE). Scripts answer and `play`
  a WAV. `--cold` calls each go to a script whose sound nobody has played (the WAV is fetched,
  decoded and encoded), then `--calls` calls one after another and `--calls` calls started at
  `--rate`/s, each phase to a script of a new sound (its first call is cold too). Reported:
  min/p50/p90/p99/max for cold calls and for warm ones, per phase.

The endpoints' registration: Weft sends a binding's calls to the address its REGISTER came
from, so one SIPp registers (`loadtest/sipp/bench_register.xml`, digest auth) and exits, and the
UAS is then started on the same IP and port.

After every run the script waits (up to 40 s, past SIP's 32 s timer H) for `weft_sip_calls`,
`weft_calls`, `weft_members`, `weft_rooms` and `weft_swml_calls` to fall back to 0 and reports
what is left; the SWML modes also print Weft's WARN/ERROR log lines, grouped.

    cargo build --release -p weft-server
    python3 loadtest/sip_bench.py setup --target room --rates 200,400,800 --seconds 10
    python3 loadtest/sip_bench.py setup --target endpoint --rates 100,200,400 --seconds 10
    python3 loadtest/sip_bench.py legs --calls 250,500,1000 --ramp 100 --steady 20 --endpoints 4
    python3 loadtest/sip_bench.py scripts --calls 250,500,1000 --ramp 100 --steady 20
    python3 loadtest/sip_bench.py first-audio --calls 100 --rate 20 --cold 20
    (--perf records `perf` of Weft during each measurement; --json FILE writes the results;
    --work-dir keeps every log; --weft picks the binary, default target/release/weft)

Needs `sipp` 3.6.1 built with RTP streaming (Debian 12's `sip-tester`), and `perf` for --perf.
Python 3.11 standard library plus tests/e2e/sip_peers.py (which imports `requests`).
"""

from __future__ import annotations

import argparse
import array
import csv
import json
import math
import os
import re
import secrets
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from base64 import b64encode
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from sip_peers import (  # noqa: E402
    LOOPBACK,
    free_sip_port,
    free_udp_ports,
    linear_to_ulaw,
    port_is_bound,
    stop_process,
    ulaw_to_linear,
    wait_until,
)
from weft_process import free_port  # noqa: E402

SCENARIOS = ROOT / "loadtest" / "sipp"
UAS_SCENARIO = ROOT / "tests" / "e2e" / "sipp" / "uas_answer.xml"
CLK_TCK = os.sysconf("SC_CLK_TCK")
DOMAIN = "weft.localhost"
READY_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 40.0
PACKETS_PER_SECOND = 50
TONE_FILE = "pcmu_tone.ulaw"


class BenchError(RuntimeError):
    """Weft or a SIPp run did not behave as the benchmark needs."""


# ----------------------------------------------------------------------------------------------
# /proc


def process_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of a process, keyed `name/tid`."""
    threads: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        threads[f"{name}/{task.name}"] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return threads


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


@dataclass
class UdpDrops:
    """Datagrams dropped on receive by UDP sockets on 127.0.0.1: by local port, and by socket
    inode for the sockets a process owns."""

    by_port: dict[int, int]
    by_inode: dict[int, int]


def udp_drops(owner: int) -> UdpDrops:
    """The receive drops of every UDP socket on 127.0.0.1 (by port), and of those `owner` has
    open (by inode)."""
    owned = set()
    for fd in Path(f"/proc/{owner}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            owned.add(int(target[8:-1]))
    by_port: dict[int, int] = {}
    by_inode: dict[int, int] = {}
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        address, port = fields[1].split(":")
        if address != "0100007F":
            continue
        port, inode, drops = int(port, 16), int(fields[9]), int(fields[-1])
        by_port[port] = by_port.get(port, 0) + drops
        if inode in owned:
            by_inode[inode] = drops
    return UdpDrops(by_port, by_inode)


# ----------------------------------------------------------------------------------------------
# Weft


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """The samples of an OpenMetrics text: (name, labels, value)."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        found = re.match(r"^([A-Za-z_:][\w:]*)(\{.*\})?\s+(\S+)", line)
        if not found:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', found.group(2) or ""))
        try:
            samples.append((found.group(1), labels, float(found.group(3))))
        except ValueError:
            continue
    return samples


def metric(samples: list, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(
        value
        for sample_name, sample_labels, value in samples
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items())
    )


@dataclass
class Sample:
    """Weft's state at one moment."""

    at: float
    cpu: float
    threads: dict[str, float]
    metrics: list
    drops: UdpDrops
    busy: tuple[float, float]


class Weft:
    """One `weft serve` with its own data dir and free loopback ports."""

    def __init__(self, binary: Path, work: Path, media_ports: tuple[int, int], log_level: str = "warn",
                 room_max_members: int | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.binary = binary
        self.extra_env = extra_env or {}
        self.log_level = log_level
        self.room_max_members = room_max_members
        self.work = work
        self.project_id = str(uuid.uuid4())
        self.api_token = secrets.token_urlsafe(32)
        self.http_port = free_port()
        self.tls_port = free_port()
        self.metrics_port = free_port()
        self.sip_port = free_sip_port()
        self.media_ports = media_ports
        self.log_path = work / "weft.log"
        self.process: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WEFT_")}
        trunk = {"name": "bench", "cidrs": ["127.0.0.0/8"], "project_id": self.project_id, "max_calls": 100_000}
        env.update(
            WEFT_HTTP_LISTEN=f"{LOOPBACK}:{self.http_port}",
            WEFT_TLS_LISTEN=f"{LOOPBACK}:{self.tls_port}",
            WEFT_METRICS_LISTEN=f"{LOOPBACK}:{self.metrics_port}",
            WEFT_SIP_LISTEN=f"{LOOPBACK}:{self.sip_port}",
            WEFT_SIP_TRUNKS=json.dumps([trunk]),
            WEFT_BOOTSTRAP_PROJECT_ID=self.project_id,
            WEFT_BOOTSTRAP_API_TOKEN=self.api_token,
            WEFT_DOMAIN=DOMAIN,
            WEFT_LOG_LEVEL=self.log_level,
            WEFT_MEDIA_UDP_PORT_MIN=str(self.media_ports[0]),
            WEFT_MEDIA_UDP_PORT_MAX=str(self.media_ports[1]),
        )
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        config = self.work / "weft.toml"
        # The endpoint takes every call of the benchmark (the default cap is 16 at once).
        text = "[sip]\nmax_calls_per_account = 100000\n"
        if self.room_max_members:
            text += f"[media]\nmax_members_per_room = {self.room_max_members}\n"
        config.write_text(text)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "serve", "--config", str(config), "--data-dir", str(self.work / "data")],
                cwd=self.work,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def ready() -> bool:
            if self.process.poll() is not None:
                raise BenchError(f"weft exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://{LOOPBACK}:{self.http_port}/healthz", timeout=1) as r:
                    return r.status == 200 and port_is_bound(self.sip_port, "udp")
            except OSError:
                return False

        wait_until(ready, READY_TIMEOUT_S, "weft to answer /healthz", self.log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no log)"

    def rest(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://{LOOPBACK}:{self.http_port}{path}", data=data, method=method)
        request.add_header("Authorization", "Basic " + b64encode(f"{self.project_id}:{self.api_token}".encode()).decode())
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise BenchError(f"{method} {path}: {error.code} {error.read()[:500]!r}") from None

    def metrics(self) -> list:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{self.metrics_port}/metrics", timeout=5) as r:
            return parse_metrics(r.read().decode())

    def sample(self, aligned: bool = False, counter: str = "weft_received_packets_total") -> Sample:
        """Weft's CPU, threads, metrics and socket drops now; with `aligned`, just after the
        server's next refresh of its media counters (it sums the shards' counters once a
        second; `counter` is the one watched, it must be moving), so that counter deltas
        between two aligned samples match their time span."""
        metrics = self.metrics()
        if aligned:
            mark = metric(metrics, counter)
            deadline = time.monotonic() + 2.5
            while metric(metrics, counter) == mark and time.monotonic() < deadline:
                time.sleep(0.01)
                metrics = self.metrics()
        return Sample(time.monotonic(), process_cpu(self.pid), thread_cpu(self.pid), metrics, udp_drops(self.pid), machine_busy())

    def live(self) -> dict[str, float]:
        """The gauges that must fall back to 0 when no call is up."""
        m = self.metrics()
        return {
            "weft_sip_calls": metric(m, "weft_sip_calls"),
            "weft_calls": metric(m, "weft_calls"),
            "weft_members": metric(m, "weft_members"),
            "weft_rooms": metric(m, "weft_rooms"),
            "weft_swml_calls": metric(m, "weft_swml_calls"),
        }

    def drained(self, rooms_expected: int) -> dict[str, float]:
        """Waits up to DRAIN_TIMEOUT_S (longer than a transaction's 32 s timer H) for the call
        gauges to reach 0 (rooms: `rooms_expected`); returns the last values."""
        start = time.monotonic()
        while True:
            live = self.live()
            done = live["weft_sip_calls"] == live["weft_calls"] == live["weft_members"] == live["weft_swml_calls"] == 0
            if (done and live["weft_rooms"] <= rooms_expected) or time.monotonic() > start + DRAIN_TIMEOUT_S:
                live["waited_s"] = round(time.monotonic() - start, 1)
                return live
            time.sleep(0.5)

    def stop(self) -> None:
        stop_process(self.process)


# ----------------------------------------------------------------------------------------------
# SIPp


class SippRun:
    """One SIPp process in a directory of its own: statistics every second (`stats.csv`), the
    final screen (`screen.log`), unexpected messages (`errors.log`); no message trace."""

    def __init__(self, work: Path, label: str, scenario: Path, target: str | None = None, *,
                 port: int | None = None, args: list[str] | tuple[str, ...] = ()) -> None:
        self.dir = work / f"sipp-{label}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_sip_port()
        self.media_port = free_udp_ports(4)
        self.args = ["sipp", "-sf", str(scenario), *([target] if target else []),
                     "-i", LOOPBACK, "-p", str(self.port), "-mi", LOOPBACK, "-mp", str(self.media_port),
                     "-t", "u1", "-nostdin",
                     "-trace_stat", "-stf", "stats.csv", "-fd", "1",
                     "-trace_screen", "-screen_file", "screen.log",
                     "-trace_err", "-error_file", "errors.log",
                     *map(str, args)]
        self.process: subprocess.Popen | None = None

    def start(self) -> SippRun:
        (self.dir / "stdout.log").write_text("$ " + " ".join(self.args) + "\n")
        with open(self.dir / "stdout.log", "ab") as out:
            self.process = subprocess.Popen(self.args, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: self.process.poll() is not None or port_is_bound(self.port, "udp"), 10,
                   f"sipp to bind {self.port}", self.tail)
        if self.process.poll() not in (None, 0):
            raise BenchError(f"sipp exited with {self.process.returncode}:\n{self.tail()}")
        return self

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            stop_process(self.process)
            raise BenchError(f"sipp did not finish within {timeout} s:\n{self.tail()}") from None

    def finish(self) -> int | None:
        """Soft exit (SIGUSR1: no new calls, the running ones finish), then SIGTERM if needed."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                pass
        return stop_process(self.process)

    def cpu(self) -> float:
        return process_cpu(self.process.pid) if self.process and self.process.poll() is None else 0.0

    def stats(self) -> dict[str, str]:
        """The last row of SIPp's statistics file (cumulative columns end in `(C)`)."""
        files = sorted(self.dir.glob("*.csv"))
        if not files:
            return {}
        rows = list(csv.DictReader(files[-1].open(errors="replace"), delimiter=";"))
        return rows[-1] if rows else {}

    def screen(self) -> str:
        path = self.dir / "screen.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def tail(self) -> str:
        return (self.dir / "stdout.log").read_text(errors="replace")[-3000:]

    def received_retransmissions(self) -> int:
        """Retransmissions SIPp received, from the `Retrans` column of the last scenario screen:
        received messages are `---> NAME` in a UAS and `NAME <---` in a UAC."""
        screen = self.screen()
        if "Messages  Retrans" not in screen:
            return 0
        total = 0
        for line in screen.rsplit("Messages  Retrans", 1)[1].splitlines():
            found = re.match(r"^\s*(?:-+>\s+\S+|\S+\s+<-+)\s+(?:[BE]-RTD\d+\s+)?(\d+)\s+(\d+)", line)
            if found:
                total += int(found.group(2))
        return total


def stat(stats: dict[str, str], name: str) -> int:
    try:
        return int(float(stats.get(name, "0") or 0))
    except ValueError:
        return 0


def repartition_percentile(stats: dict[str, str], prefix: str, share: float) -> str:
    """The repartition bucket (e.g. `<5` ms) holding the `share` quantile of SIPp's cumulative
    response-time repartition columns `prefix<5`, `prefix<10`, ..., `prefix>=1000`."""
    buckets = [(name[len(prefix):], stat(stats, name)) for name in stats if name.startswith(prefix)]
    total = sum(count for _, count in buckets)
    seen = 0
    for bound, count in buckets:
        seen += count
        if total and seen >= share * total:
            return bound
    return "-"


def seconds_of(value: str) -> float:
    """A SIPp time column (`HH:MM:SS:microseconds` or `HH:MM:SS:ms`) in seconds."""
    parts = (value or "").split(":")
    if len(parts) != 4:
        return math.nan
    h, m, s, frac = parts
    return int(h) * 3600 + int(m) * 60 + int(s) + int(frac) / 10 ** len(frac)


# ----------------------------------------------------------------------------------------------
# The SIP endpoint and its UAS


def make_endpoint(weft: Weft, work: Path, name: str, *, echo: bool) -> SippRun:
    """Creates the SIP endpoint `name`, registers it from a SIPp that then exits, and starts the
    UAS answering its calls on the registered IP and port (echoing RTP with `echo`)."""
    password = secrets.token_urlsafe(12)
    weft.rest("POST", "/api/fabric/resources/sip_endpoints", {"username": name, "password": password})
    register = SippRun(work, f"register-{name}", SCENARIOS / "bench_register.xml", f"{LOOPBACK}:{weft.sip_port}",
                       args=["-s", name, "-au", name, "-ap", password, "-key", "domain", DOMAIN,
                             "-key", "expires", "3600", "-m", "1", "-recv_timeout", "5000"])
    code = register.start().wait(30)
    if code != 0:
        raise BenchError(f"registration failed (sipp exit {code}):\n{register.tail()}\n{register.screen()}")
    uas_args = ["-aa", "-m", "100000000"] + (["-rtp_echo"] if echo else [])
    uas = SippRun(work, f"uas-{name}", UAS_SCENARIO, port=register.port, args=uas_args)
    wait_until(lambda: not port_is_bound(register.port, "udp"), 5, "the registering SIPp to free its port")
    return uas.start()


def called_file(directory: Path, users: list[str]) -> Path:
    """The UAC's -inf file: the called users, taken in turn by successive calls."""
    path = directory / "called.csv"
    path.write_text("SEQUENTIAL\n" + "".join(f"{user};\n" for user in users))
    return path


# ----------------------------------------------------------------------------------------------
# setup


@dataclass
class SetupResult:
    target: str
    rate: int
    hold_ms: int
    calls: int
    successful: int
    failed: int
    uac_retransmissions: int
    uac_received_retransmissions: int
    uas_retransmissions: int | None
    uas_received_retransmissions: int | None
    setup_ms_mean: float
    setup_ms_p50: str
    setup_ms_p99: str
    wall_s: float
    calls_per_s: float
    weft_cpu_s: float
    weft_cores: float
    calls_per_weft_cpu_s: float
    sipp_uac_cpu_s: float
    machine_busy_cores: float
    threads: dict[str, float]
    left_after: dict[str, float]
    sip_requests: dict[str, float] = field(default_factory=dict)
    perf_top: list[str] = field(default_factory=list)


def threads_delta(before: Sample, after: Sample) -> dict[str, float]:
    """CPU seconds each thread used between two samples, busiest first (threads under 0.01 s
    left out)."""
    used = {name: after.threads[name] - before.threads.get(name, 0.0) for name in after.threads}
    return {name: round(cpu, 2) for name, cpu in sorted(used.items(), key=lambda kv: -kv[1]) if cpu >= 0.01}


def sip_requests(samples: list) -> dict[str, float]:
    return {
        f"{labels.get('method')} {labels.get('status')}": value
        for name, labels, value in samples
        if name.startswith("weft_sip_requests")
    }


def run_setup(weft: Weft, work: Path, args: argparse.Namespace, rate: int) -> SetupResult:
    """One call-setup measurement at `rate` calls/s on a fresh Weft."""
    uas = None
    if args.target == "room":
        weft.rest("POST", "/api/fabric/resources/conference_rooms", {"name": "benchroom"})
        service = "benchroom"
    else:
        service = "bench1"
        uas = make_endpoint(weft, work, service, echo=False)
    try:
        calls = int(rate * args.seconds)
        limit = max(200, int(rate * (args.hold_ms / 1000 + 1) * 2))
        uac = SippRun(work, f"setup-{args.target}-{rate}", SCENARIOS / "bench_uac.xml", f"{LOOPBACK}:{weft.sip_port}",
                      args=["-inf", called_file(work, [service]), "-key", "domain", DOMAIN, "-key", "from_user", "trunk",
                            "-r", rate, "-rp", "1000", "-m", calls, "-l", limit, "-d", args.hold_ms,
                            "-recv_timeout", "10000", "-timeout", f"{int(args.seconds * 4 + 30)}s",
                            "-default_behaviors", "all,-bye"])
        uas_before = (stat(uas.stats(), "Retransmissions(C)"), uas.received_retransmissions()) if uas else None
        before = weft.sample()
        uac.start()
        perf = perf_record(weft.pid, args.seconds, work / "perf-setup.data", args.perf_call_graph) if args.perf else None
        uac_cpu = 0.0
        while uac.process.poll() is None:
            uac_cpu = max(uac_cpu, uac.cpu())
            time.sleep(0.2)
        after = weft.sample()
        if perf:
            perf.wait()
        code = uac.wait(5)
        stats = uac.stats()
        left = weft.drained(rooms_expected=0)
        successful = stat(stats, "SuccessfulCall(C)")
        cpu = after.cpu - before.cpu
        wall = after.at - before.at
        uas_retrans = uas_received = None
        if uas:
            uas.process.send_signal(signal.SIGUSR2)
            time.sleep(1.2)
            uas_retrans = stat(uas.stats(), "Retransmissions(C)") - uas_before[0]
            uas_received = uas.received_retransmissions() - uas_before[1]
        result = SetupResult(
            target=args.target,
            rate=rate,
            hold_ms=args.hold_ms,
            calls=calls,
            successful=successful,
            failed=stat(stats, "FailedCall(C)"),
            uac_retransmissions=stat(stats, "Retransmissions(C)"),
            uac_received_retransmissions=uac.received_retransmissions(),
            uas_retransmissions=uas_retrans,
            uas_received_retransmissions=uas_received,
            setup_ms_mean=round(1000 * seconds_of(stats.get("ResponseTimesetup(C)", "")), 2),
            setup_ms_p50=repartition_percentile(stats, "ResponseTimeRepartitionsetup_", 0.50),
            setup_ms_p99=repartition_percentile(stats, "ResponseTimeRepartitionsetup_", 0.99),
            wall_s=round(wall, 2),
            calls_per_s=round(successful / wall, 1),
            weft_cpu_s=round(cpu, 2),
            weft_cores=round(cpu / wall, 3),
            calls_per_weft_cpu_s=round(successful / cpu, 1) if cpu > 0 else math.inf,
            sipp_uac_cpu_s=round(uac_cpu, 2),
            machine_busy_cores=round((after.busy[0] - before.busy[0]) / wall, 2),
            threads=threads_delta(before, after),
            left_after=left,
            sip_requests=sip_requests(after.metrics),
        )
        if perf:
            result.perf_top = perf_top(work / "perf-setup.data", work / "perf-setup.txt")
        print(f"setup {args.target} rate {rate}/s: exit {code}, {result.successful}/{calls} ok, "
              f"{result.failed} failed, retrans uac {result.uac_retransmissions} (received "
              f"{result.uac_received_retransmissions}), uas {uas_retrans} (received {uas_received}); "
              f"{result.calls_per_s} calls/s in {result.wall_s} s; setup mean {result.setup_ms_mean} ms, p50 "
              f"{result.setup_ms_p50} ms, p99 {result.setup_ms_p99} ms; "
              f"weft {result.weft_cpu_s} CPU-s = {result.weft_cores} cores → "
              f"{result.calls_per_weft_cpu_s} calls per weft CPU-second; sipp uac {result.sipp_uac_cpu_s} s; "
              f"machine {result.machine_busy_cores} cores busy; left after: {left}", flush=True)
        print(f"    weft threads (CPU-s): {result.threads}", flush=True)
        for line in result.perf_top[:15]:
            print(f"    perf: {line}", flush=True)
        if code != 0:
            print(f"    sipp errors: {(uac.dir / 'errors.log')}", flush=True)
        return result
    finally:
        if uas:
            uas.finish()


# ----------------------------------------------------------------------------------------------
# legs


@dataclass
class LegsResult:
    calls: int
    endpoints: int
    legs: int
    ramp_per_s: int
    steady_s: float
    sip_calls_active: float
    successful: int
    failed: int
    uac_retransmissions: int
    expected_pps: int
    received_pps: float
    forwarded_pps: float
    forwarded_per_received: float
    weft_cores: float
    weft_percent_core_per_leg: float
    legs_per_weft_core: float
    us_per_forwarded_packet: float
    weft_socket_drops: int
    uas_socket_drops: int
    uac_rtp_received_pps: float
    sipp_uac_cores: float
    sipp_uas_cores: float
    machine_busy_cores: float
    threads: dict[str, float]
    uac_sent_pps: int | None
    left_after: dict[str, float]
    perf_top: list[str] = field(default_factory=list)


def write_tone(path: Path, seconds: float = 10.0, freq: float = 440.0) -> None:
    """Raw µ-law at 8 kHz: a tone, for SIPp's rtp_stream."""
    samples = int(seconds * 8000)
    path.write_bytes(bytes(linear_to_ulaw(round(8000 * math.sin(2 * math.pi * freq * n / 8000))) for n in range(samples)))


def perf_record(pid: int, seconds: float, out: Path, call_graph: str) -> subprocess.Popen:
    """`perf record` of `pid` for `seconds` (call graphs by `call_graph`: fp or dwarf)."""
    return subprocess.Popen(["perf", "record", "-F", "499", "--call-graph", call_graph, "-p", str(pid), "-o", str(out),
                             "--", "sleep", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def perf_top(data: Path, out: Path) -> list[str]:
    report = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--percent-limit", "1",
                             "--stdio", "--sort", "comm,dso,symbol", "-g", "none"],
                            capture_output=True, text=True)
    out.write_text(report.stdout)
    return [line.strip() for line in report.stdout.splitlines() if re.match(r"^\s+\d+\.\d+%", line)][:25]


def run_legs(weft: Weft, work: Path, args: argparse.Namespace, calls: int) -> LegsResult:
    """One bridged-legs measurement with `calls` concurrent calls on a fresh Weft."""
    users = [f"bench{i}" for i in range(1, args.endpoints + 1)]
    uases = [make_endpoint(weft, work, user, echo=True) for user in users]
    try:
        ramp_s = calls / args.ramp
        hold_ms = int((ramp_s + args.settle + args.steady + 3) * 1000)
        uac = SippRun(work, f"legs-{calls}", SCENARIOS / "bench_uac_rtp.xml", f"{LOOPBACK}:{weft.sip_port}",
                      args=["-inf", called_file(work, users), "-key", "domain", DOMAIN, "-key", "from_user", "trunk",
                            *held_calls(calls, args.ramp, hold_ms)])
        write_tone(uac.dir / TONE_FILE)
        uac.start()
        started = time.monotonic()
        time.sleep(max(0.0, started + ramp_s + args.settle - time.monotonic()))
        active = metric(weft.metrics(), "weft_sip_calls", state="active")
        sent0 = uac_streamed(uac)
        before = weft.sample(aligned=True)
        uac_cpu0, uas_cpu0 = uac.cpu(), sum(u.cpu() for u in uases)
        perf = perf_record(weft.pid, args.steady, work / f"perf-legs-{calls}.data", args.perf_call_graph) if args.perf else None
        time.sleep(args.steady)
        sent1 = uac_streamed(uac)
        after = weft.sample(aligned=True)
        uac_cpu1, uas_cpu1 = uac.cpu(), sum(u.cpu() for u in uases)
        if perf:
            perf.wait()
        code = uac.wait(hold_ms / 1000 + ramp_s + 90)
        stats = uac.stats()
        left = weft.drained(rooms_expected=0)
        dt = after.at - before.at
        cpu = after.cpu - before.cpu
        received = metric(after.metrics, "weft_received_packets_total", kind="audio") - metric(before.metrics, "weft_received_packets_total", kind="audio")
        forwarded = metric(after.metrics, "weft_forwarded_packets_total", kind="audio") - metric(before.metrics, "weft_forwarded_packets_total", kind="audio")
        port_drops = {p: n - before.drops.by_port.get(p, 0) for p, n in after.drops.by_port.items()}
        weft_drops = sum(n - before.drops.by_inode.get(i, 0) for i, n in after.drops.by_inode.items())
        result = LegsResult(
            calls=calls,
            endpoints=args.endpoints,
            legs=2 * calls,
            ramp_per_s=args.ramp,
            steady_s=round(dt, 1),
            sip_calls_active=active,
            successful=stat(stats, "SuccessfulCall(C)"),
            failed=stat(stats, "FailedCall(C)"),
            uac_retransmissions=stat(stats, "Retransmissions(C)"),
            expected_pps=2 * PACKETS_PER_SECOND * calls,
            received_pps=round(received / dt),
            forwarded_pps=round(forwarded / dt),
            forwarded_per_received=round(forwarded / received, 4) if received else math.nan,
            weft_cores=round(cpu / dt, 3),
            weft_percent_core_per_leg=round(100 * cpu / dt / (2 * calls), 4),
            legs_per_weft_core=round(2 * calls * dt / cpu) if cpu else math.inf,
            us_per_forwarded_packet=round(1e6 * cpu / forwarded, 2) if forwarded else math.nan,
            weft_socket_drops=weft_drops,
            uas_socket_drops=sum(port_drops.get(u.media_port, 0) for u in uases),
            uac_rtp_received_pps=round(port_drops.get(uac.media_port, 0) / dt),
            sipp_uac_cores=round((uac_cpu1 - uac_cpu0) / dt, 3),
            sipp_uas_cores=round((uas_cpu1 - uas_cpu0) / dt, 3),
            machine_busy_cores=round((after.busy[0] - before.busy[0]) / dt, 2),
            threads={k: round(v / dt, 3) for k, v in threads_delta(before, after).items()},
            uac_sent_pps=round((sent1[1] - sent0[1]) / (sent1[0] - sent0[0])) if None not in (sent0[1], sent1[1]) else None,
            left_after=left,
        )
        if perf:
            result.perf_top = perf_top(work / f"perf-legs-{calls}.data", work / f"perf-legs-{calls}.txt")
        print(f"legs: {calls} calls ({2 * calls} legs), sipp exit {code}, {result.successful} ok, "
              f"{result.failed} failed, {result.uac_retransmissions} retrans; active SIP dialogs "
              f"{active:.0f}; weft received {result.received_pps}/s, forwarded {result.forwarded_pps}/s "
              f"(expected {result.expected_pps}/s, ratio {result.forwarded_per_received}); weft "
              f"{result.weft_cores} cores = {result.weft_percent_core_per_leg}% per leg = "
              f"{result.legs_per_weft_core} legs per core, {result.us_per_forwarded_packet} µs per "
              f"forwarded packet; drops: weft sockets {result.weft_socket_drops}, uas "
              f"{result.uas_socket_drops}; uac got {result.uac_rtp_received_pps}/s (dropped unread); sipp: "
              f"uac streamed {result.uac_sent_pps}/s; "
              f"sipp uac {result.sipp_uac_cores}, uas {result.sipp_uas_cores} cores; machine "
              f"{result.machine_busy_cores} cores busy; left after: {left}", flush=True)
        print(f"    weft threads (cores): {result.threads}", flush=True)
        for line in result.perf_top[:15]:
            print(f"    perf: {line}", flush=True)
        return result
    finally:
        for uas in uases:
            uas.finish()


def uac_streamed(uac: SippRun) -> tuple[float, int | None]:
    """(when, RTP packets the UAC has streamed so far), from the screen SIPp dumps on SIGUSR2
    (it prints the count only while its playback threads run)."""
    at = time.monotonic()
    uac.process.send_signal(signal.SIGUSR2)
    time.sleep(0.3)
    return at, uac_sent_packets(uac)


def uac_sent_packets(uac: SippRun) -> int | None:
    found = re.findall(r"(\d+) Total RTP pckts sent", uac.screen())
    return int(found[-1]) if found else None


# ----------------------------------------------------------------------------------------------
# SWML scripts: the sounds they play, the audio their callers receive


SCRIPTS_PATH = "/api/fabric/resources/swml_scripts"
SCRIPT_NAME = "benchivr"
SOUND_RATE = 8000


def tone_wav(seconds: float, hz: float = 440.0, rate: int = SOUND_RATE, amplitude: float = 0.4) -> bytes:
    """A mono 16-bit PCM WAV of a sine."""
    samples = array.array("h", (round(amplitude * 32767 * math.sin(2 * math.pi * hz * n / rate))
                                for n in range(int(seconds * rate))))
    if sys.byteorder != "little":
        samples.byteswap()
    data = samples.tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(data)) + data


class SoundServer:
    """An HTTP server on 127.0.0.1 (a thread of this process) serving WAV files at
    `/<name>.wav`, counting the requests for each path (each is a fetch by Weft: a cache miss)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.fetches: dict[str, int] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                body = outer.files.get(self.path)
                outer.fetches[self.path] = outer.fetches.get(self.path, 0) + 1
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("content-type", "audio/wav")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def add(self, name: str, body: bytes) -> str:
        """Serves `body` at `/<name>.wav`; its URL."""
        self.files[f"/{name}.wav"] = body
        return f"http://{LOOPBACK}:{self.httpd.server_address[1]}/{name}.wav"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def swml_env() -> dict[str, str]:
    """Lets Weft's scripts fetch from loopback (the sound server)."""
    return {"WEFT_SWML_FETCH_ALLOW": "127.0.0.0/8"}


def create_script(weft: Weft, name: str, main: list) -> None:
    """The SWML script `name` (address `sip:<name>@DOMAIN`) running the section `main`."""
    weft.rest("POST", SCRIPTS_PATH, {"name": name, "contents": {"version": "1.0.0", "sections": {"main": main}}})


def prompt_script(url: str) -> list:
    """Answer, then wait up to 120 s for one digit while `url` plays; then hang up."""
    return [{"answer": {}}, {"prompt": {"play": url, "max_digits": 1, "initial_timeout": 120}}, {"hangup": {}}]


def play_script(url: str) -> list:
    """Answer, play `url`, hang up."""
    return [{"answer": {}}, {"play": {"url": url}}, {"hangup": {}}]


class RtpCounter:
    """A UDP socket on 127.0.0.1 that a thread reads, counting RTP packets per stream (Weft's
    source port and SSRC), by payload type, and those with the marker bit (Weft sets it on the
    first frame after a gap: a frame its producer did not queue in time); the thread's own CPU
    time is kept."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind((LOOPBACK, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.streams: dict[tuple[int, bytes], int] = {}
        self.payload_types: dict[int, int] = {}
        self.markers = 0
        self.cpu = 0.0
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        buffer = bytearray(2048)
        view = memoryview(buffer)
        streams, types = self.streams, self.payload_types
        while self.running:
            try:
                size, (_, port) = self.sock.recvfrom_into(buffer)
            except TimeoutError:
                self.cpu = time.thread_time()
                continue
            if size < 12:
                continue
            key = (port, bytes(view[8:12]))
            streams[key] = streams.get(key, 0) + 1
            pt = buffer[1] & 0x7F
            types[pt] = types.get(pt, 0) + 1
            if buffer[1] & 0x80:
                self.markers += 1
            if not streams[key] & 0xFF:
                self.cpu = time.thread_time()

    def snapshot(self) -> tuple[float, dict[tuple[int, bytes], int], float, int]:
        """(when, packets per stream so far, this thread's CPU seconds so far, marked packets)."""
        return time.monotonic(), dict(self.streams), self.cpu, self.markers

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


def warnings_in(log: str) -> list[str]:
    """The log's WARN and ERROR lines."""
    return [line for line in log.splitlines() if re.search(r"\b(WARN|ERROR)\b", line)]


def log_summary(log: str, limit: int = 6) -> dict[str, int]:
    """Weft's WARN/ERROR lines grouped by message (timestamps and ids cut), most frequent first."""
    counts: dict[str, int] = {}
    for line in warnings_in(log):
        text = re.sub(r"\x1b\[[0-9;]*m", "", line)
        text = re.sub(r"^\S+\s+", "", text)
        text = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|\d+", "#", text)
        counts[text[:220]] = counts.get(text[:220], 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:limit])


# ----------------------------------------------------------------------------------------------
# scripts


@dataclass
class ScriptsResult:
    calls: int
    caller_rtp: bool
    ramp_per_s: int
    steady_s: float
    wav_seconds: float
    sip_calls_active: float
    swml_calls: float | None
    successful: int
    failed: int
    uac_retransmissions: int
    setup_ms_mean: float
    setup_ms_p99: str
    expected_pps: int
    received_pps: float
    received_per_expected: float
    streams: int | None
    streams_under_45_pps: int | None
    stream_pps_min: float | None
    stream_pps_p50: float | None
    stream_pps_max: float | None
    payload_types: dict[int, int]
    marked_pps: float | None
    weft_received_pps: float
    forwarded_pps: float
    weft_cores: float
    calls_per_weft_core: float
    us_per_sent_packet: float
    receiver_socket_drops: int
    weft_socket_drops: int
    receiver_cores: float
    sipp_uac_cores: float
    machine_busy_cores: float
    load_average: str
    sound_fetches: int
    threads: dict[str, float]
    swml_errors: dict[str, float]
    left_after: dict[str, float]
    log_warnings: dict[str, int]
    perf_top: list[str] = field(default_factory=list)


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))] if ordered else math.nan


def held_calls(calls: int, ramp: int, hold_ms: int) -> list:
    """SIPp arguments for `calls` concurrent calls placed at `ramp` calls/s, each held `hold_ms`
    and then hung up by the scenario (SIPp's own BYE handling off)."""
    ramp_s = calls / ramp
    return ["-r", ramp, "-rp", "1000", "-m", calls, "-l", calls, "-d", hold_ms,
            "-recv_timeout", "10000", "-timeout", f"{int(hold_ms / 1000 + ramp_s + 60)}s",
            "-default_behaviors", "all,-bye"]


def run_scripts(weft: Weft, work: Path, args: argparse.Namespace, calls: int) -> ScriptsResult:
    """One scripted-calls measurement: `calls` concurrent calls to a script that answers and
    plays a WAV while it waits for a digit, on a fresh Weft."""
    sounds = SoundServer()
    receiver = RtpCounter()
    try:
        url = sounds.add("long", tone_wav(args.wav_seconds))
        create_script(weft, SCRIPT_NAME, prompt_script(url))
        ramp_s = calls / args.ramp
        hold_ms = int((ramp_s + args.settle + args.steady + 5) * 1000)
        if ramp_s + args.settle + args.steady + 3 > args.wav_seconds:
            raise BenchError(f"the first call's WAV ({args.wav_seconds} s) ends before the measurement does "
                             f"(ramp {ramp_s:.0f} s + settle + steady): raise --wav-seconds or --ramp")
        scenario = "bench_uac_script_rtp.xml" if args.caller_rtp else "bench_uac_script.xml"
        uac = SippRun(work, f"scripts-{calls}", SCENARIOS / scenario, f"{LOOPBACK}:{weft.sip_port}",
                      args=["-inf", called_file(work, [SCRIPT_NAME]), "-key", "domain", DOMAIN,
                            "-key", "from_user", "trunk", "-key", "rtp_port", receiver.port,
                            *held_calls(calls, args.ramp, hold_ms)])
        write_tone(uac.dir / TONE_FILE)
        uac.start()
        started = time.monotonic()
        time.sleep(max(0.0, started + ramp_s + args.settle - time.monotonic()))
        m = weft.metrics()
        active = metric(m, "weft_sip_calls", state="active")
        swml_calls = metric(m, "weft_swml_calls") if any(name == "weft_swml_calls" for name, _, _ in m) else None
        # Only the caller's audio moves Weft's packet counters (a script's own frames are not in them).
        before = weft.sample(aligned=args.caller_rtp)
        heard0 = receiver.snapshot()
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        uac_cpu0 = uac.cpu()
        perf = (perf_record(weft.pid, args.steady, work / f"perf-scripts-{calls}.data", args.perf_call_graph)
                if args.perf else None)
        time.sleep(args.steady)
        after = weft.sample(aligned=args.caller_rtp)
        heard1 = receiver.snapshot()
        uac_cpu1 = uac.cpu()
        if perf:
            perf.wait()
        code = uac.wait(hold_ms / 1000 + ramp_s + 90)
        stats = uac.stats()
        left = weft.drained(rooms_expected=0)
        dt = after.at - before.at
        heard_dt = heard1[0] - heard0[0]
        cpu = after.cpu - before.cpu
        per_stream = [(n - heard0[1].get(key, 0)) / heard_dt for key, n in heard1[1].items()]
        per_stream = [pps for pps in per_stream if pps > 0]
        forwarded = (metric(after.metrics, "weft_forwarded_packets_total", kind="audio")
                     - metric(before.metrics, "weft_forwarded_packets_total", kind="audio"))
        weft_received = (metric(after.metrics, "weft_received_packets_total", kind="audio")
                         - metric(before.metrics, "weft_received_packets_total", kind="audio"))
        port_drops = {p: n - before.drops.by_port.get(p, 0) for p, n in after.drops.by_port.items()}
        # With the caller's audio, Weft's comes back to SIPp's unread socket: its drops count it.
        received = port_drops.get(uac.media_port, 0) / dt if args.caller_rtp else sum(per_stream)
        counted = not args.caller_rtp
        weft_drops = sum(n - before.drops.by_inode.get(i, 0) for i, n in after.drops.by_inode.items())
        expected = PACKETS_PER_SECOND * calls
        sent_pps = forwarded / dt if forwarded else received
        result = ScriptsResult(
            calls=calls,
            caller_rtp=args.caller_rtp,
            ramp_per_s=args.ramp,
            steady_s=round(dt, 1),
            wav_seconds=args.wav_seconds,
            sip_calls_active=active,
            swml_calls=swml_calls,
            successful=stat(stats, "SuccessfulCall(C)"),
            failed=stat(stats, "FailedCall(C)"),
            uac_retransmissions=stat(stats, "Retransmissions(C)"),
            setup_ms_mean=round(1000 * seconds_of(stats.get("ResponseTimesetup(C)", "")), 2),
            setup_ms_p99=repartition_percentile(stats, "ResponseTimeRepartitionsetup_", 0.99),
            expected_pps=expected,
            received_pps=round(received),
            received_per_expected=round(received / expected, 4),
            streams=len(per_stream) if counted else None,
            streams_under_45_pps=(sum(1 for pps in per_stream if pps < 45) + max(0, calls - len(per_stream))
                                  if counted else None),
            stream_pps_min=round(min(per_stream, default=0), 1) if counted else None,
            stream_pps_p50=round(percentile(per_stream, 0.5), 1) if counted else None,
            stream_pps_max=round(max(per_stream, default=0), 1) if counted else None,
            payload_types=dict(receiver.payload_types),
            marked_pps=round((heard1[3] - heard0[3]) / heard_dt, 1) if counted else None,
            weft_received_pps=round(weft_received / dt),
            forwarded_pps=round(forwarded / dt),
            weft_cores=round(cpu / dt, 3),
            calls_per_weft_core=round(calls * dt / cpu) if cpu else math.inf,
            us_per_sent_packet=round(1e6 * cpu / (sent_pps * dt), 2) if sent_pps else math.nan,
            receiver_socket_drops=port_drops.get(receiver.port, 0),
            weft_socket_drops=weft_drops,
            receiver_cores=round((heard1[2] - heard0[2]) / heard_dt, 3),
            sipp_uac_cores=round((uac_cpu1 - uac_cpu0) / dt, 3),
            machine_busy_cores=round((after.busy[0] - before.busy[0]) / dt, 2),
            load_average=load,
            sound_fetches=sum(sounds.fetches.values()),
            threads={k: round(v / dt, 3) for k, v in threads_delta(before, after).items()},
            swml_errors={labels.get("reason", ""): value for name, labels, value in weft.metrics()
                         if name == "weft_swml_errors_total"},
            left_after=left,
            log_warnings=log_summary(weft.log()),
        )
        if perf:
            result.perf_top = perf_top(work / f"perf-scripts-{calls}.data", work / f"perf-scripts-{calls}.txt")
        mode = " with caller RTP" if args.caller_rtp else ""
        print(f"scripts: {calls} calls at {args.ramp}/s{mode}, sipp exit {code}, {result.successful} ok, "
              f"{result.failed} failed, {result.uac_retransmissions} retrans, setup mean {result.setup_ms_mean} ms "
              f"(p99 {result.setup_ms_p99}); active SIP dialogs {active:.0f}, swml calls {swml_calls}; "
              f"callers received {result.received_pps}/s of {expected}/s ({result.received_per_expected}) in "
              f"{result.streams} streams (per stream min {result.stream_pps_min}, p50 {result.stream_pps_p50}, "
              f"max {result.stream_pps_max}/s; {result.streams_under_45_pps} calls under 45/s; marker bit "
              f"{result.marked_pps}/s), payload types "
              f"{result.payload_types}; weft received {result.weft_received_pps}/s, forwarded "
              f"{result.forwarded_pps}/s; weft {result.weft_cores} cores → "
              f"{result.calls_per_weft_core} calls per core, {result.us_per_sent_packet} µs per packet sent; "
              f"drops: receiver {result.receiver_socket_drops}, weft sockets {result.weft_socket_drops}; "
              f"receiver {result.receiver_cores} cores, sipp uac {result.sipp_uac_cores}; machine "
              f"{result.machine_busy_cores} cores busy, load {load}; WAV fetched {result.sound_fetches}×; "
              f"swml errors {result.swml_errors}; left after: {left}", flush=True)
        print(f"    weft threads (cores): {result.threads}", flush=True)
        for line, count in result.log_warnings.items():
            print(f"    weft log ×{count}: {line}", flush=True)
        for line in result.perf_top[:15]:
            print(f"    perf: {line}", flush=True)
        return result
    finally:
        receiver.close()
        sounds.close()


# ----------------------------------------------------------------------------------------------
# first-audio: a small UAC timing INVITE → first RTP packet

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
FIRST_AUDIO_TIMEOUT_S = 10.0
# µ-law codes of samples louder than ±2000 (the tone is ±13,000; silence and comfort noise are not).
LOUD_ULAW = frozenset(code for code in range(256) if abs(ulaw_to_linear(code)) > 2000)


def sip_message(data: bytes) -> tuple[str, dict[str, str]]:
    """The start line and headers (first value of each, names in lower case) of a SIP message."""
    head = data.partition(b"\r\n\r\n")[0].decode(errors="replace").split("\r\n")
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return head[0], headers


def sip_status(start: str) -> int:
    parts = start.split(" ", 2)
    return int(parts[1]) if parts[0] == "SIP/2.0" and len(parts) > 1 and parts[1].isdigit() else 0


def kernel_time(ancillary: list) -> float | None:
    """The kernel's receive time (CLOCK_REALTIME, seconds) from SO_TIMESTAMPNS ancillary data."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            return seconds + nanoseconds / 1e9
    return None


@dataclass
class FirstAudio:
    """One call's timings, in ms from sending the INVITE (wall clock: the receive times are the
    kernel's timestamps)."""

    phase: str
    index: int
    cold: bool
    ok: bool
    answered_ms: float = math.nan
    first_rtp_ms: float = math.nan
    first_tone_ms: float = math.nan
    payload_type: int = -1
    error: str = ""


class ScriptCaller:
    """A UAC on 127.0.0.1 (inside the trusted trunk, so without credentials) with a SIP socket
    and an RTP socket of its own: INVITE offering PCMU, 200 → ACK, the first RTP packet, BYE."""

    def __init__(self, sip_port: int) -> None:
        self.server = (LOOPBACK, sip_port)
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind((LOOPBACK, 0))
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.rtp.bind((LOOPBACK, 0))
        self.sip.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.local = f"{LOOPBACK}:{self.sip.getsockname()[1]}"

    def close(self) -> None:
        self.sip.close()
        self.rtp.close()

    def request(self, method: str, uri: str, call_id: str, cseq: int, from_tag: str, to: str,
                body: bytes = b"", extra: tuple[str, ...] = ()) -> bytes:
        lines = [f"{method} {uri} SIP/2.0",
                 f"Via: SIP/2.0/UDP {self.local};branch=z9hG4bK{secrets.token_hex(8)};rport",
                 "Max-Forwards: 70",
                 f"From: <sip:trunk@{DOMAIN}>;tag={from_tag}",
                 f"To: {to}",
                 f"Call-ID: {call_id}",
                 f"CSeq: {cseq} {method}",
                 f"Contact: <sip:trunk@{self.local}>",
                 *extra,
                 f"Content-Length: {len(body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def call(self, script: str, phase: str, index: int, cold: bool) -> FirstAudio:
        result = FirstAudio(phase, index, cold, False)
        uri = f"sip:{script}@{DOMAIN}"
        call_id, tag = secrets.token_hex(8), secrets.token_hex(4)
        rtp_port = self.rtp.getsockname()[1]
        sdp = ("v=0\r\no=bench 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               f"m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
               "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n").encode()
        invite = self.request("INVITE", uri, call_id, 1, tag, f"<{uri}>", sdp, ("Content-Type: application/sdp",))
        sent = time.time()
        self.sip.sendto(invite, self.server)
        resend = time.monotonic() + 0.5
        deadline = time.monotonic() + FIRST_AUDIO_TIMEOUT_S
        to = remote = None
        while to is None or math.isnan(result.first_tone_ms):
            now = time.monotonic()
            if now > deadline:
                result.error = ("no 200" if to is None else "no RTP" if math.isnan(result.first_rtp_ms)
                                else "no tone")
                break
            if to is None and now > resend:
                self.sip.sendto(invite, self.server)
                resend = now + 0.5
            ready, _, _ = select.select([self.sip, self.rtp], [], [], max(0.0, min(resend, deadline) - now))
            for sock in ready:
                data, ancillary, _, _ = sock.recvmsg(4096, 64)
                at = kernel_time(ancillary) or time.time()
                if sock is self.rtp:
                    if math.isnan(result.first_rtp_ms) and len(data) >= 12:
                        result.first_rtp_ms = round(1000 * (at - sent), 2)
                        result.payload_type = data[1] & 0x7F
                    loud = data[1] & 0x7F == 0 and any(b in LOUD_ULAW for b in data[12:])
                    if loud and math.isnan(result.first_tone_ms):
                        result.first_tone_ms = round(1000 * (at - sent), 2)
                    continue
                start, headers = sip_message(data)
                status = sip_status(start)
                if not status or headers.get("call-id") != call_id or not headers.get("cseq", "").endswith("INVITE"):
                    continue
                if 200 <= status < 300:
                    if to is None:
                        result.answered_ms = round(1000 * (at - sent), 2)
                    to = headers.get("to", f"<{uri}>")
                    contact = re.search(r"<([^>]+)>", headers.get("contact", ""))
                    remote = contact.group(1) if contact else uri
                    self.sip.sendto(self.request("ACK", remote, call_id, 1, tag, to), self.server)
                elif status >= 300:
                    ack = self.request("ACK", uri, call_id, 1, tag, headers.get("to", f"<{uri}>"))
                    self.sip.sendto(ack, self.server)
                    result.error = f"INVITE {status}"
                    return result
        if to is not None:
            result.ok = not result.error
            self.bye(remote, call_id, tag, to)
        return result

    def bye(self, remote: str, call_id: str, tag: str, to: str) -> None:
        """BYE, resent every 0.5 s until its 200 (or 5 s), answering any re-sent 200 to the INVITE."""
        bye = self.request("BYE", remote, call_id, 2, tag, to)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            self.sip.sendto(bye, self.server)
            resend = time.monotonic() + 0.5
            while (left := resend - time.monotonic()) > 0:
                ready, _, _ = select.select([self.sip, self.rtp], [], [], left)
                if self.rtp in ready:
                    self.rtp.recv(4096)
                if self.sip in ready:
                    start, headers = sip_message(self.sip.recv(4096))
                    ours = headers.get("call-id") == call_id and headers.get("cseq", "").endswith("BYE")
                    if ours and sip_status(start) >= 200:
                        self.drain_rtp()
                        return

    def drain_rtp(self) -> None:
        """Reads what is left on the RTP socket (packets sent before the BYE took effect)."""
        self.rtp.setblocking(False)
        try:
            while True:
                self.rtp.recv(4096)
        except BlockingIOError:
            pass
        finally:
            self.rtp.setblocking(True)


def first_audio_calls(weft: Weft, script: str, phase: str, count: int, rate: float | None,
                      cold_first: bool) -> list[FirstAudio]:
    """`count` calls to `script`: one after another (`rate` None), or started at `rate` per
    second, each on a caller of its own; the first is cold when `cold_first`."""
    results: list[FirstAudio | None] = [None] * count

    def one(index: int) -> None:
        caller = ScriptCaller(weft.sip_port)
        try:
            results[index] = caller.call(script, phase, index, cold_first and index == 0)
        finally:
            caller.close()

    if rate is None:
        for index in range(count):
            one(index)
        return results
    threads = []
    start = time.monotonic()
    for index in range(count):
        time.sleep(max(0.0, start + index / rate - time.monotonic()))
        thread = threading.Thread(target=one, args=(index,))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(FIRST_AUDIO_TIMEOUT_S + 10)
    return results


@dataclass
class FirstAudioResult:
    calls: int
    rate: float
    wav_seconds: float
    wav_rate: int
    load_average: str
    distributions: dict[str, dict[str, float]]
    failed: list[str]
    sound_fetches: dict[str, int]
    left_after: dict[str, float]
    log_warnings: dict[str, int]
    calls_detail: list[dict] = field(default_factory=list)


def distribution(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "min": round(min(values), 1), "p50": round(percentile(values, 0.5), 1),
            "p90": round(percentile(values, 0.9), 1), "p99": round(percentile(values, 0.99), 1),
            "max": round(max(values), 1)}


def run_first_audio(weft: Weft, work: Path, args: argparse.Namespace, calls: int) -> FirstAudioResult:
    """Dial-to-first-audio: `--cold` calls to scripts whose sounds nobody has played yet, then
    `calls` sequential calls and `calls` calls at `--rate`/s (each to a script of its own sound,
    whose first call is cold)."""
    sounds = SoundServer()
    try:
        wav = tone_wav(args.wav_seconds, rate=args.wav_rate)
        load0 = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        done: list[FirstAudio] = []
        for k in range(args.cold):
            create_script(weft, f"cold{k}", play_script(sounds.add(f"cold{k}", wav)))
            done += first_audio_calls(weft, f"cold{k}", "cold", 1, None, True)
        create_script(weft, "sequential", play_script(sounds.add("sequential", wav)))
        done += first_audio_calls(weft, "sequential", "sequential", calls, None, True)
        create_script(weft, "rated", play_script(sounds.add("rated", wav)))
        done += first_audio_calls(weft, "rated", f"{args.rate:g}/s", calls, args.rate, True)
        load1 = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        left = weft.drained(rooms_expected=0)
        ok = [r for r in done if r and r.ok]
        groups = {
            "cold (first call of a sound)": [r for r in ok if r.cold],
            "warm, sequential": [r for r in ok if not r.cold and r.phase == "sequential"],
            f"warm, {args.rate:g}/s": [r for r in ok if not r.cold and r.phase.endswith("/s")],
        }
        dists = {}
        for name, group in groups.items():
            dists[f"{name}: INVITE → first RTP"] = distribution([r.first_rtp_ms for r in group])
            dists[f"{name}: INVITE → first RTP with the tone"] = distribution([r.first_tone_ms for r in group])
            dists[f"{name}: INVITE → 200"] = distribution([r.answered_ms for r in group])
        result = FirstAudioResult(
            calls=calls,
            rate=args.rate,
            wav_seconds=args.wav_seconds,
            wav_rate=args.wav_rate,
            load_average=f"{load0} → {load1}",
            distributions=dists,
            failed=[f"{r.phase}#{r.index}: {r.error}" for r in done if r and not r.ok],
            sound_fetches=dict(sounds.fetches),
            left_after=left,
            log_warnings=log_summary(weft.log()),
            calls_detail=[asdict(r) for r in done if r],
        )
        print(f"first-audio: {len(done)} calls ({args.cold} cold + {calls} sequential + {calls} at {args.rate:g}/s), "
              f"{len(result.failed)} failed {result.failed[:5]}; payload types "
              f"{sorted({r.payload_type for r in ok})}; WAV {args.wav_seconds} s at {args.wav_rate} Hz fetched "
              f"{result.sound_fetches}; "
              f"load {result.load_average}; left after: {left}", flush=True)
        for name, d in dists.items():
            print(f"    {name}: {d} ms", flush=True)
        for line, count in result.log_warnings.items():
            print(f"    weft log ×{count}: {line}", flush=True)
        return result
    finally:
        sounds.close()


# ----------------------------------------------------------------------------------------------


def ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weft", type=Path, default=Path(os.environ.get("WEFT_BIN", ROOT / "target" / "release" / "weft")))
    parser.add_argument("--work-dir", type=Path, help="keep logs here (default: a temp dir, kept)")
    parser.add_argument("--media-ports", default="20000-59999", help="Weft's RTP port range")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--perf", action="store_true", help="perf record Weft during each measurement")
    parser.add_argument("--perf-call-graph", default="fp", help="perf's --call-graph: fp (cheap) or dwarf")
    parser.add_argument("--log-level", default="warn", help="WEFT_LOG_LEVEL (the log is in the work dir)")
    parser.add_argument("--room-max-members", type=int, help="[media] max_members_per_room (Weft's default: 100)")
    sub = parser.add_subparsers(dest="bench", required=True)
    setup = sub.add_parser("setup", help="call setup rate")
    setup.add_argument("--target", choices=["room", "endpoint"], default="room")
    setup.add_argument("--rates", type=ints, default=[100, 200, 400])
    setup.add_argument("--seconds", type=float, default=15)
    setup.add_argument("--hold-ms", type=int, default=0)
    legs = sub.add_parser("legs", help="concurrent bridged G.711 legs")
    legs.add_argument("--calls", type=ints, default=[100, 250, 500])
    legs.add_argument("--ramp", type=int, default=100, help="calls started per second")
    legs.add_argument("--settle", type=float, default=4)
    legs.add_argument("--steady", type=float, default=20)
    legs.add_argument("--endpoints", type=int, default=1,
                      help="SIP endpoints (each registered by its own echoing SIPp UAS) the calls go to in turn")
    scripts = sub.add_parser("scripts", help="concurrent SWML scripted calls playing a WAV while waiting for a digit")
    scripts.add_argument("--calls", type=ints, default=[250, 500, 1000])
    scripts.add_argument("--ramp", type=int, default=100, help="calls started per second")
    scripts.add_argument("--settle", type=float, default=4)
    scripts.add_argument("--steady", type=float, default=20)
    scripts.add_argument("--wav-seconds", type=float, default=60, help="length of the WAV played (8 kHz, 440 Hz)")
    scripts.add_argument("--caller-rtp", action="store_true",
                         help="callers stream µ-law too (bench_uac_script_rtp.xml); Weft's audio is then counted as "
                              "receive drops of SIPp's socket, in total only")
    first = sub.add_parser("first-audio", help="time from INVITE to the first RTP packet of a script's play")
    first.add_argument("--calls", type=int, default=50, help="calls in each of the sequential and the rated phase")
    first.add_argument("--rate", type=float, default=20, help="calls started per second in the rated phase")
    first.add_argument("--cold", type=int, default=10, help="extra calls, each the first of a sound of its own")
    first.add_argument("--wav-seconds", type=float, default=60, help="length of the WAV played (440 Hz)")
    first.add_argument("--wav-rate", type=int, default=SOUND_RATE, help="sample rate of the WAV played")
    args = parser.parse_args()
    if not args.weft.exists():
        raise BenchError(f"no weft binary at {args.weft} (cargo build --release -p weft-server, or --weft)")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="weft-sip-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    low, high = ints(args.media_ports.replace("-", ","))
    print(f"work dir {work}; weft {args.weft}", flush=True)
    results = []
    steps = args.rates if args.bench == "setup" else [args.calls] if args.bench == "first-audio" else args.calls
    runs = {"setup": run_setup, "legs": run_legs, "scripts": run_scripts, "first-audio": run_first_audio}
    for step in steps:
        # A fresh Weft for every step: independent runs (and the leg ports of one never run out).
        step_dir = work / f"{args.bench}-{getattr(args, 'target', 'endpoint')}-{step}"
        step_dir.mkdir(parents=True, exist_ok=True)
        extra_env = swml_env() if args.bench in ("scripts", "first-audio") else None
        weft = Weft(args.weft, step_dir, (low, high), args.log_level, args.room_max_members, extra_env)
        weft.start()
        try:
            results.append(runs[args.bench](weft, step_dir, args, step))
        finally:
            weft.stop()
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
