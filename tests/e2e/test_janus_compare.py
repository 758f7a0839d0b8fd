"""The side-by-side benchmark script `loadtest/compare_janus.py` in a small shape: one publisher and
three subscribers for 5 s against Weft and against Janus's VideoRoom (in a network namespace the
script makes). Both servers must forward every subscriber's media and the JSON output must carry a
CPU cost per packet for each; the numbers themselves are not judged (a 2-core shared machine).

Skipped, with the reason, when this host cannot run it: not root, no network namespaces, or no
`janus` (Debian package) and apt-get cannot install it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "loadtest" / "compare_janus.py"
SUBSCRIBERS = 3
DURATION_S = 5
RUN_TIMEOUT_S = 240


def netns_unavailable() -> str | None:
    """Why network namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    if not shutil.which("ip"):
        return "no `ip` (iproute2)"
    probe = f"weft-janus-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@pytest.fixture(scope="module")
def janus_ready() -> None:
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import compare_janus

        compare_janus.ensure_janus()
    except Exception as e:  # noqa: BLE001 - any failure to install means "cannot run here"
        pytest.skip(f"janus is not available: {e}")
    finally:
        sys.path.remove(str(SCRIPT.parent))


def test_both_servers_forward_and_report_cpu_per_packet(janus_ready, weft_bin, loadtest_bin, tmp_path):
    loadtest = loadtest_bin
    out = tmp_path / "compare.json"
    command = [
        sys.executable, str(SCRIPT), "--subscribers", str(SUBSCRIBERS), "--duration", str(DURATION_S),
        "--weft", weft_bin, "--loadtest", loadtest, "--work-dir", str(tmp_path / "work"), "--json", str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)
    print(done.stdout)
    assert done.returncode == 0, f"compare_janus.py failed:\n{done.stdout}\n{done.stderr}"

    result = json.loads(out.read_text())
    assert [r["subscribers"] for r in result["results"]] == [SUBSCRIBERS]
    row = result["results"][0]
    for server in ("weft", "janus"):
        s = row[server]
        assert s["joined"] == s["attempted"] == SUBSCRIBERS + 1, (server, s)
        assert s["receivers_complete"] == SUBSCRIBERS, (server, s)
        # One publisher's audio (50 pkt/s) and video (30 pkt/s) to every subscriber.
        assert s["received_pps"] > 0.5 * SUBSCRIBERS * 80, (server, s)
        assert s["cpu_us_per_packet"] > 0, (server, s)
    assert row["janus_over_weft"] > 0
    # The script removed its namespace.
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    assert result["netns"] not in namespaces
