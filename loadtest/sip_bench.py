#!/usr/bin/env python3
"""SIP benchmarks against a real `weft serve`, driven by SIPp (Debian `sip-tester`), on loopback.

Every measurement (one rate, one call count) gets a fresh `weft serve`: its own data dir,
bootstrap project and loopback ports, a trusted trunk for 127.0.0.0/8 in `WEFT_SIP_TRUNKS`, no
per-account call cap (`[sip] max_calls_per_account` in a config file), the RTP leg ports
`--media-ports`, `WEFT_LOG_LEVEL=warn`. Then:

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

The endpoints' registration: Weft sends a binding's calls to the address its REGISTER came
from, so one SIPp registers (`loadtest/sipp/bench_register.xml`, digest auth) and exits, and the
UAS is then started on the same IP and port.

After every run the script waits (up to 40 s, past SIP's 32 s timer H) for `weft_sip_calls`,
`weft_calls`, `weft_members` and `weft_rooms` to fall back to 0 and reports what is left.

    cargo build --release -p weft-server
    python3 loadtest/sip_bench.py setup --target room --rates 200,400,800 --seconds 10
    python3 loadtest/sip_bench.py setup --target endpoint --rates 100,200,400 --seconds 10
    python3 loadtest/sip_bench.py legs --calls 250,500,1000 --ramp 100 --steady 20 --endpoints 4
    (--perf records `perf` of Weft during each measurement; --json FILE writes the results;
    --work-dir keeps every log; --weft picks the binary, default target/release/weft)

Needs `sipp` 3.6.1 built with RTP streaming (Debian 12's `sip-tester`), and `perf` for --perf.
Python 3.11 standard library plus tests/e2e/sip_peers.py (which imports `requests`).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from base64 import b64encode
from dataclasses import asdict, dataclass, field
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
                 room_max_members: int | None = None) -> None:
        self.binary = binary
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

    def sample(self, aligned: bool = False) -> Sample:
        """Weft's CPU, threads, metrics and socket drops now; with `aligned`, just after the
        server's next refresh of its media counters (it sums the shards' counters once a
        second), so that counter deltas between two aligned samples match their time span."""
        metrics = self.metrics()
        if aligned:
            mark = metric(metrics, "weft_received_packets_total")
            deadline = time.monotonic() + 2.5
            while metric(metrics, "weft_received_packets_total") == mark and time.monotonic() < deadline:
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
        }

    def drained(self, rooms_expected: int) -> dict[str, float]:
        """Waits up to DRAIN_TIMEOUT_S (longer than a transaction's 32 s timer H) for the call
        gauges to reach 0 (rooms: `rooms_expected`); returns the last values."""
        start = time.monotonic()
        while True:
            live = self.live()
            done = live["weft_sip_calls"] == live["weft_calls"] == live["weft_members"] == 0
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
                            "-r", args.ramp, "-rp", "1000", "-m", calls, "-l", calls, "-d", hold_ms,
                            "-recv_timeout", "10000", "-timeout", f"{int(hold_ms / 1000 + ramp_s + 60)}s",
                            "-default_behaviors", "all,-bye"])
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
    args = parser.parse_args()
    if not args.weft.exists():
        raise BenchError(f"no weft binary at {args.weft} (cargo build --release -p weft-server, or --weft)")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="weft-sip-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    low, high = ints(args.media_ports.replace("-", ","))
    print(f"work dir {work}; weft {args.weft}", flush=True)
    results = []
    steps = args.rates if args.bench == "setup" else args.calls
    for step in steps:
        # A fresh Weft for every step: independent runs (and the leg ports of one never run out).
        step_dir = work / f"{args.bench}-{getattr(args, 'target', 'endpoint')}-{step}"
        step_dir.mkdir(parents=True, exist_ok=True)
        weft = Weft(args.weft, step_dir, (low, high), args.log_level, args.room_max_members)
        weft.start()
        try:
            if args.bench == "setup":
                results.append(run_setup(weft, step_dir, args, step))
            else:
                results.append(run_legs(weft, step_dir, args, step))
        finally:
            weft.stop()
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
