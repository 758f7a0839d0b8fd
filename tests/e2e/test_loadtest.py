"""The load tester `weft-loadtest` against a real `weft serve`: a small shape joins through REST
tokens and Fabric signaling, every subscriber receives its publisher's audio and video with low
loss, and the JSON report and the SVG plot are written."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

# The shape issue 6 names for CI: 2 rooms × 2 publishers × 4 subscribers for 20 s.
ROOMS, PUBLISHERS, SUBSCRIBERS = 2, 2, 4
DURATION_S = 20
RUN_TIMEOUT_S = 180


def run_loadtest(binary: str, server, tmp_path: Path, *args: str) -> dict:
    """Runs weft-loadtest against `server` with `args`; returns the parsed JSON report."""
    report_path = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEFT_")}
    env.update(WEFT_PROJECT_ID=server.project_id, WEFT_API_TOKEN=server.api_token)
    command = [binary, "--http", server.http_url, "--ramp", "20", "--report", str(report_path), *args]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, f"weft-loadtest failed:\n{done.stdout}\n{done.stderr}"
    print(done.stdout)
    return json.loads(report_path.read_text())


def test_small_load_test_joins_everyone_and_delivers_media(weft_factory, loadtest_bin, tmp_path):
    server = weft_factory()
    plot_path = tmp_path / "plot.svg"
    report = run_loadtest(
        loadtest_bin,
        server,
        tmp_path,
        "--metrics", server.metrics_url(),
        "--rooms", str(ROOMS),
        "--publishers", str(PUBLISHERS),
        "--subscribers", str(SUBSCRIBERS),
        "--duration", str(DURATION_S),
        "--plot", str(plot_path),
    )
    total = ROOMS * (PUBLISHERS + SUBSCRIBERS)
    join = report["join"]
    assert (join["attempted"], join["succeeded"]) == (total, total), join
    assert join["success_rate"] == 1.0
    for phase in ("token", "connect", "invite_to_answer", "invite_to_joined", "ice_dtls_connected", "total"):
        assert join["phases_ms"][phase]["count"] == total, phase
    assert join["phases_ms"]["first_media"]["count"] >= ROOMS * SUBSCRIBERS

    peers = report["peers"]
    publishers: dict = {}
    for p in peers:
        if p["publisher"]:
            publishers.setdefault(p["room"], set()).add(p["id"])
    assert len(publishers) == ROOMS and all(len(ids) == PUBLISHERS for ids in publishers.values())
    for peer in peers:
        assert peer["joined"] and peer["error"] is None, peer
        assert peer["server_bye"] is None, peer
        if peer["publisher"]:
            assert peer["sent_packets"] > DURATION_S * 50, peer
            continue
        assert peer["received_all"], peer
        streams = [s for s in peer["streams"] if s["packets"] > 0]
        for kind in ("audio", "video"):
            # Every publisher of its own room, one per stream, identified by the tag in every payload.
            origins = [s["origins"] for s in streams if s["kind"] == kind]
            assert sorted(o for os_ in origins for o in os_) == sorted(publishers[peer["room"]]), peer
            assert all(len(o) == 1 for o in origins), peer
        for stream in streams:
            assert stream["packets"] > DURATION_S * 20, peer
            assert stream["lost"] <= 0.01 * stream["packets"], peer

    media = report["media"]
    # Every receiver got all it expected (publishers too: each receives the other publisher).
    assert media["receivers_complete"] == media["receivers"] >= ROOMS * SUBSCRIBERS, media
    assert media["loss_pct"] < 1.0, media
    assert media["received_packets"] > 0
    server_side = report["server"]
    assert "process_cpu_seconds_total" in server_side["series_found"], server_side
    assert server_side["cpu_seconds"] is not None and server_side["cpu_seconds"] >= 0
    assert server_side["cpu_pct_per_subscriber_stream"] is not None
    assert len(report["timeline"]) >= DURATION_S - 1

    svg = ET.parse(plot_path).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(svg.findall(".//{http://www.w3.org/2000/svg}polyline")) >= 2


def test_sdk_shaped_peers_get_the_mix_and_the_speaker(weft_factory, loadtest_bin, tmp_path):
    """`--slots 1`: one audio and one video m-line, as the browser SDK offers. In a room of four, each
    subscriber hears the server's mix (audio without a publisher's tag) and sees a publisher's video."""
    server = weft_factory()
    report = run_loadtest(
        loadtest_bin, server, tmp_path,
        "--metrics", "", "--rooms", "1", "--publishers", "2", "--subscribers", "2",
        "--slots", "1", "--duration", "5",
    )
    assert report["join"]["succeeded"] == 4, report["join"]
    publishers = {p["id"] for p in report["peers"] if p["publisher"]}
    for peer in report["peers"]:
        if peer["publisher"]:
            continue
        assert peer["received_all"], peer
        streams = {s["kind"]: s for s in peer["streams"]}
        assert set(streams) == {"audio", "video"}, peer
        assert streams["audio"]["origins"] == [], peer  # the mix carries no publisher's tag
        assert streams["audio"]["packets"] > 100, peer
        assert set(streams["video"]["origins"]) <= publishers and streams["video"]["origins"], peer
        assert streams["video"]["packets"] > 50, peer
    assert report["media"]["loss_pct"] < 1.0, report["media"]
