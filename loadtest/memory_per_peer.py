#!/usr/bin/env python3
"""Memory per connected peer: a fresh `weft serve` (release build, embedded defaults, rooms of up to
500 members) under `weft-loadtest`, which samples the server's resident size from /proc while its
peers join and exchange media, and reports what the server grew by per connected peer.

    python3 loadtest/memory_per_peer.py --rooms 3 --subscribers 200 --duration 20

Like `compare_janus.py`, it runs Weft without the sender-side bandwidth estimator, so subscribers
with two receive slots get Weft's own egress. Everything started here is stopped by PID.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_janus import BenchError, die_with_parent, free_port, wait_http, weft_env  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rooms", type=int, default=2)
    ap.add_argument("--publishers", type=int, default=1)
    ap.add_argument("--subscribers", type=int, default=100, help="per room")
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--ramp", type=float, default=20)
    ap.add_argument("--owned-egress", choices=("true", "false"), default="true")
    ap.add_argument("--weft", type=Path, default=ROOT / "target/release/weft")
    ap.add_argument("--loadtest", type=Path, default=ROOT / "target/release/weft-loadtest")
    ap.add_argument("--json", type=Path, help="write the load tester's report here")
    args = ap.parse_args()
    for binary in (args.weft, args.loadtest):
        if not binary.exists():
            print(f"{binary} is missing: cargo build --release -p weft-server -p weft-loadtest", file=sys.stderr)
            return 2

    with tempfile.TemporaryDirectory(prefix="weft-memory-") as tmp:
        work = Path(tmp)
        (work / "weft.toml").write_text("[media]\nmax_members_per_room = 500\n")
        project_id, api_token = str(uuid.uuid4()), secrets.token_urlsafe(24)
        http = f"127.0.0.1:{free_port()}"
        env = weft_env(http, project_id, api_token, WEFT_MEDIA_OWNED_EGRESS=args.owned_egress)
        log = work / "weft.log"
        with open(log, "wb") as out:
            weft = subprocess.Popen(
                [str(args.weft), "serve", "--config", str(work / "weft.toml"), "--data-dir", str(work / "data")],
                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent,
            )
        try:
            wait_http(f"http://{http}/healthz", weft, log)
            idle = resident_kib(weft.pid)
            report_path = args.json or work / "report.json"
            cmd = [
                str(args.loadtest), "--http", f"http://{http}", "--metrics", f"proc:{weft.pid}",
                "--rooms", str(args.rooms), "--publishers", str(args.publishers),
                "--subscribers", str(args.subscribers), "--ramp", str(args.ramp),
                "--duration", str(args.duration), "--report", str(report_path),
            ]
            started = time.monotonic()
            done = subprocess.run(
                cmd, env=dict(env, WEFT_PROJECT_ID=project_id, WEFT_API_TOKEN=api_token),
                capture_output=True, text=True, preexec_fn=die_with_parent,
            )
            if done.returncode != 0 or not report_path.exists():
                raise BenchError(f"weft-loadtest exited with {done.returncode}:\n{done.stderr[-3000:]}")
            report = json.loads(report_path.read_text())
        finally:
            weft.terminate()
            weft.wait(timeout=30)
    memory, join, media = report["server"]["memory"], report["join"], report["media"]
    print(json.dumps({
        "peers": args.rooms * (args.publishers + args.subscribers),
        "joined": join.get("succeeded"),
        "loss_pct": media.get("loss_pct"),
        "freezes": media.get("freezes"),
        "receivers_complete": media.get("receivers_complete"),
        "idle_rss_mib": round(idle / 1024, 1),
        "steady_rss_mib": round(memory["rss_bytes_steady_mean"] / 2**20, 1),
        "peers_connected": memory["peers_connected_steady_end"],
        "kib_per_peer": round(memory["rss_kib_per_connected_peer"], 1),
        "seconds": round(time.monotonic() - started, 1),
    }, indent=1))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(e, file=sys.stderr)
        sys.exit(1)
