#!/usr/bin/env python3
"""Side-by-side benchmark: the same one-publisher → N-subscriber fan-out against Weft and against
Janus's VideoRoom (Debian package `janus`), driven by the same `weft-loadtest` peers, in one run.

For each N it runs Weft, then Janus, and reports each server's CPU microseconds per forwarded
packet: the server process's CPU time from /proc over the steady phase ÷ the RTP packets the
subscribers received in it (`weft-loadtest --metrics proc:<pid>`), and the ratio Janus ÷ Weft.

Weft runs on loopback (its ICE offers loopback candidates). Janus runs in a network namespace
created here (libnice never offers loopback candidates) with a veth pair: 10.77.x.1 inside, where
Janus's HTTP API listens and its only ICE interface is, 10.77.x.2 on this side, where the peers
bind. Needs root (netns) and `janus` (installed with apt-get if missing). Everything started here
is stopped by PID and the namespace is deleted at the end; namespaces left by interrupted runs
(their owner PID is gone) are removed first, with what still runs in them.

    python3 loadtest/compare_janus.py --subscribers 10,25,50 --duration 20 --json out.json
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NETNS_PREFIX = "weft-janus-"
JANUS_PORT = 8088
JANUS_LIBS = Path("/usr/lib/x86_64-linux-gnu/janus")
READY_TIMEOUT_S = 30.0


class BenchError(RuntimeError):
    """A server or the environment is not usable for the benchmark."""


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} exited with {done.returncode}: {done.stderr.strip()}")
    return done


def die_with_parent() -> None:
    """In a child before exec: SIGTERM when this script dies, even by SIGKILL (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_janus() -> str:
    """The `janus` binary, installed from the Debian package if missing."""
    found = shutil.which("janus")
    if found:
        return found
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "janus"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        subprocess.run(install, env=env, capture_output=True)
    found = shutil.which("janus")
    if not found:
        raise BenchError("janus is not installed and apt-get could not install it")
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Netns:
    """A network namespace for Janus with a veth pair to it, named after the process that made it
    (concurrent runs do not collide): `janus_ip` inside, `host_ip` on this side, a 10.77.x.0/24
    that no interface here uses yet."""

    def __init__(self, owner: int) -> None:
        self.name, self.veth_host, self.veth_ns = self.names(owner)
        used = run("ip", "-4", "-o", "addr", "show").stdout
        third = next(x for x in range(1, 255) if f" 10.77.{x}." not in used)
        self.host_ip, self.janus_ip = f"10.77.{third}.2", f"10.77.{third}.1"

    @staticmethod
    def names(owner: int) -> tuple[str, str, str]:
        """The namespace and the host-side and namespace-side veth of the run of PID `owner`."""
        return f"{NETNS_PREFIX}{owner}", f"wj{owner}h", f"wj{owner}n"

    @property
    def janus_url(self) -> str:
        return f"http://{self.janus_ip}:{JANUS_PORT}/janus"

    def up(self) -> None:
        run("ip", "netns", "add", self.name)
        run("ip", "link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_ns)
        run("ip", "link", "set", self.veth_ns, "netns", self.name)
        run("ip", "addr", "add", f"{self.host_ip}/24", "dev", self.veth_host)
        run("ip", "link", "set", self.veth_host, "up")
        for args in (
            ("addr", "add", f"{self.janus_ip}/24", "dev", self.veth_ns),
            ("link", "set", self.veth_ns, "up"),
            ("link", "set", "lo", "up"),
        ):
            run("ip", "netns", "exec", self.name, "ip", *args)

    def down(self) -> None:
        run("ip", "link", "del", self.veth_host, check=False)
        run("ip", "netns", "del", self.name, check=False)


def remove_leftovers() -> None:
    """Namespaces (and the Janus in them) of earlier runs of this script that did not clean up."""
    for line in run("ip", "netns", "list", check=False).stdout.splitlines():
        name = (line.split() or [""])[0]
        owner = name.removeprefix(NETNS_PREFIX)
        if name.startswith(NETNS_PREFIX) and owner.isdigit() and not alive(int(owner)):
            _, veth_host, _ = Netns.names(int(owner))
            for pid in run("ip", "netns", "pids", name, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            run("ip", "link", "del", veth_host, check=False)
            run("ip", "netns", "del", name, check=False)


def janus_config(folder: Path, netns: Netns, event_loops: int) -> None:
    """A minimal Janus configuration: VideoRoom only, HTTP only, ICE on the namespace's veth;
    `event_loops` > 0 replaces Janus's default thread per handle with that many shared loops."""
    plugins = sorted(p.name for p in (JANUS_LIBS / "plugins").glob("libjanus_*.so"))
    transports = sorted(p.name for p in (JANUS_LIBS / "transports").glob("libjanus_*.so"))
    skip = lambda names, keep: ",".join(n for n in names if n != keep)  # noqa: E731
    (folder / "janus.jcfg").write_text(
        f"""general: {{
    configs_folder = "{folder}"
    plugins_folder = "{JANUS_LIBS}/plugins"
    transports_folder = "{JANUS_LIBS}/transports"
    events_folder = "{JANUS_LIBS}/events"
    loggers_folder = "{JANUS_LIBS}/loggers"
    debug_level = 3
    {f"event_loops = {event_loops}" if event_loops > 0 else ""}
    admin_secret = "{secrets.token_hex(8)}"
}}
media: {{
}}
nat: {{
    ice_enforce_list = "{netns.veth_ns}"
}}
plugins: {{
    disable = "{skip(plugins, "libjanus_videoroom.so")}"
}}
transports: {{
    disable = "{skip(transports, "libjanus_http.so")}"
}}
loggers: {{
    disable = "libjanus_jsonlog.so"
}}
events: {{
    broadcast = false
}}
"""
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{
    base_path = "/janus"
    http = true
    port = {JANUS_PORT}
    ip = "{netns.janus_ip}"
    https = false
}}
admin: {{
    admin_http = false
}}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")


def wait_http(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{proc.args[0]} exited with {proc.returncode}; log:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError(f"{url} did not answer within {READY_TIMEOUT_S} s")


def weft_env(http: str, project_id: str, api_token: str, **extra: str) -> dict:
    """The environment of a benchmarked `weft serve`: this one's without its `WEFT_*` variables, then
    loopback listeners, no SIP, the bootstrap project, and no sender-side bandwidth estimator
    (Janus's VideoRoom runs none; str0m's would pad every multi-slot subscriber to 50 kbit/s)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEFT_")}
    env.update(
        WEFT_HTTP_LISTEN=http,
        WEFT_TLS_LISTEN=f"127.0.0.1:{free_port()}",
        WEFT_METRICS_LISTEN="127.0.0.1:0",
        WEFT_SIP_ENABLED="false",
        WEFT_BOOTSTRAP_PROJECT_ID=project_id,
        WEFT_BOOTSTRAP_API_TOKEN=api_token,
        WEFT_MEDIA_BANDWIDTH_ESTIMATION="false",
        **extra,
    )
    return env


class Servers:
    """Weft on loopback and Janus in the namespace, started and stopped by PID."""

    def __init__(self, work: Path, weft_bin: Path) -> None:
        self.work = work
        self.weft_bin = weft_bin
        self.procs: list[subprocess.Popen] = []
        self.project_id = str(uuid.uuid4())
        self.api_token = secrets.token_urlsafe(24)
        self.weft_http = f"127.0.0.1:{free_port()}"
        self.weft: subprocess.Popen | None = None
        self.janus: subprocess.Popen | None = None
        self.netns = Netns(os.getpid())

    def spawn(self, cmd: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.work, start_new_session=True, preexec_fn=die_with_parent,
            )
        self.procs.append(proc)
        return proc

    def start(self, janus_bin: str, event_loops: int) -> None:
        env = weft_env(self.weft_http, self.project_id, self.api_token)
        log = self.work / "weft.log"
        # A fresh data dir: the bootstrap project is created only in an empty one.
        shutil.rmtree(self.work / "weft-data", ignore_errors=True)
        self.weft = self.spawn(
            [str(self.weft_bin), "serve", "--data-dir", str(self.work / "weft-data")], log, env
        )
        wait_http(f"http://{self.weft_http}/healthz", self.weft, log)

        remove_leftovers()
        self.netns.up()
        config = self.work / "janus-config"
        config.mkdir(exist_ok=True)
        janus_config(config, self.netns, event_loops)
        log = self.work / "janus.log"
        # `ip netns exec` execs janus: the PID we get is Janus's own.
        self.janus = self.spawn(
            ["ip", "netns", "exec", self.netns.name, janus_bin, "-F", str(config), "-C", str(config / "janus.jcfg")],
            log,
        )
        wait_http(f"{self.netns.janus_url}/info", self.janus, log)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.netns.down()


def loadtest(
    loadtest_bin: Path, target_args: list[str], env: dict, subscribers: int, duration: float, report: Path
) -> dict:
    cmd = [
        str(loadtest_bin), *target_args,
        "--rooms", "1", "--publishers", "1", "--subscribers", str(subscribers),
        "--duration", str(duration), "--ramp", "25", "--name-prefix", report.stem,
        "--report", str(report),
    ]
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=duration + 180, preexec_fn=die_with_parent
    )
    (report.with_suffix(".log")).write_text(done.stdout + done.stderr)
    if done.returncode != 0 or not report.exists():
        raise BenchError(f"{' '.join(cmd)} exited with {done.returncode}:\n{done.stderr[-3000:]}")
    return json.loads(report.read_text())


def summarize(report: dict) -> dict:
    server, join, media = report["server"], report["join"], report["media"]
    return {
        "joined": join.get("succeeded"),
        "attempted": join.get("attempted"),
        "cpu_cores": server.get("cpu_cores"),
        "received_pps": server.get("received_pps_steady"),
        "cpu_us_per_packet": server.get("cpu_us_per_packet"),
        "loss_pct": media.get("loss_pct"),
        "receivers_complete": media.get("receivers_complete"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subscribers", default="10,25,50", help="comma-separated N values")
    ap.add_argument("--duration", type=float, default=20.0, help="steady seconds per run")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument(
        "--janus-event-loops", type=int, default=0,
        help="Janus event_loops (default 0: Janus's default, a thread per handle)",
    )
    ap.add_argument("--work-dir", type=Path, help="keep logs and reports here (default: a temp dir)")
    ap.add_argument("--weft", type=Path, default=ROOT / "target/release/weft")
    ap.add_argument("--loadtest", type=Path, default=ROOT / "target/release/weft-loadtest")
    args = ap.parse_args()
    counts = [int(n) for n in args.subscribers.split(",") if n.strip()]
    args.weft, args.loadtest = args.weft.resolve(), args.loadtest.resolve()
    for binary in (args.weft, args.loadtest):
        if not binary.exists():
            print(f"{binary} is missing: cargo build --release -p weft -p weft-loadtest", file=sys.stderr)
            return 2
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    try:
        janus_bin = ensure_janus()
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="weft-vs-janus-"))
    work.mkdir(parents=True, exist_ok=True)
    servers = Servers(work, args.weft)
    results = []
    try:
        servers.start(janus_bin, args.janus_event_loops)
        weft = (
            ["--http", f"http://{servers.weft_http}", "--metrics", f"proc:{servers.weft.pid}"],
            dict(os.environ, WEFT_PROJECT_ID=servers.project_id, WEFT_API_TOKEN=servers.api_token),
        )
        # Janus: publishers offer one audio and one video m-line (no extra receive slots).
        janus = (
            ["--janus-url", servers.netns.janus_url, "--metrics", f"proc:{servers.janus.pid}", "--slots", "1"],
            dict(os.environ, WEFT_PROJECT_ID="unused", WEFT_API_TOKEN="unused"),
        )
        for n in counts:
            row = {"subscribers": n}
            for name, (target, env) in (("weft", weft), ("janus", janus)):
                report = loadtest(args.loadtest, target, env, n, args.duration, work / f"{name}-{n}.json")
                row[name] = summarize(report)
                print(f"N={n:>4} {name:>5}: {json.dumps(row[name])}", flush=True)
            w, j = row["weft"]["cpu_us_per_packet"], row["janus"]["cpu_us_per_packet"]
            row["janus_over_weft"] = j / w if w and j else None
            results.append(row)
    except BenchError as e:
        print(f"error: {e}\nlogs and reports: {work}", file=sys.stderr)
        return 1
    finally:
        servers.stop()
    janus_version = (run(janus_bin, "--version", check=False).stdout.strip().splitlines() or ["?"])[0]
    out = {
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "janus": janus_version},
        "duration_s": args.duration,
        "janus_event_loops": args.janus_event_loops,
        "weft_network": "loopback",
        "netns": servers.netns.name,
        "janus_network": f"a network namespace, veth {servers.netns.host_ip} <-> {servers.netns.janus_ip}",
        "work_dir": str(work),
        "results": results,
    }
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    print(table(results))
    return 0


def table(results: list[dict]) -> str:
    """The results as a Markdown table."""

    def fmt(v: float | None, digits: int) -> str:
        return "–" if v is None else f"{v:.{digits}f}"

    lines = [
        "\n| N | Weft µs/pkt | Janus µs/pkt | Janus ÷ Weft | Weft pkt/s | Janus pkt/s |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        w, j = r["weft"], r["janus"]
        lines.append(
            f"| {r['subscribers']} | {fmt(w['cpu_us_per_packet'], 2)} | {fmt(j['cpu_us_per_packet'], 2)} "
            f"| {fmt(r['janus_over_weft'], 1)} | {fmt(w['received_pps'], 0)} | {fmt(j['received_pps'], 0)} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
