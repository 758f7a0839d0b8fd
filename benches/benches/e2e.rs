//! End to end on loopback: engine shards plus synthetic str0m peers.
//!
//! Each room has one publisher (VP8 at a configurable packet rate, plus 50 pps audio) and K
//! subscribers that count and drop media unread, so the load generator stays light. Reports the
//! subscriber-packets forwarded per second, per shard CPU-second (thread CPU of the shard threads,
//! from /proc), and the shards' wake-to-sent latency histogram.
//!
//! Run: `cargo bench -p weft-benches --bench e2e`

use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use weft_media::testkit::{PeerSpec, TestPeer, wait_until};
use weft_media::{
    LatencyHistogram, MediaConfig, MediaEngine, MemberId, MemberOptions, RoomId, RoomOptions,
};

const MEASURE: Duration = Duration::from_secs(5);

struct Scenario {
    name: &'static str,
    bwe: bool,
    shards: usize,
    subscribers_per_room: usize,
    video_interval: Duration,
}

fn main() {
    let scenarios = [
        Scenario {
            name: "1 shard, high, no BWE",
            bwe: false,
            shards: 1,
            subscribers_per_room: 150,
            video_interval: Duration::from_millis(1),
        },
        Scenario {
            name: "1 shard, high load",
            bwe: true,
            shards: 1,
            subscribers_per_room: 150,
            video_interval: Duration::from_millis(1),
        },
        Scenario {
            name: "2 shards, high load",
            bwe: true,
            shards: 2,
            subscribers_per_room: 150,
            video_interval: Duration::from_millis(1),
        },
        Scenario {
            name: "1 shard, half load",
            bwe: true,
            shards: 1,
            subscribers_per_room: 75,
            video_interval: Duration::from_millis(1),
        },
    ];
    println!(
        "end to end on loopback, VP8 900-byte packets + 50 pps Opus-sized audio, AES-GCM SRTP"
    );
    println!(
        "{:<22} {:>12} {:>12} {:>14} {:>16} {:>10} {:>10} {:>10}",
        "scenario",
        "fwd pkt/s",
        "out dgram/s",
        "shard CPU",
        "pkt/s per core",
        "p50 µs",
        "p99 µs",
        "p99.9 µs"
    );
    for s in &scenarios {
        match run(s) {
            Ok(r) => println!(
                "{:<22} {:>12.0} {:>12.0} {:>13.2}c {:>16.0} {:>10} {:>10} {:>10}",
                s.name,
                r.forwarded_per_s,
                r.datagrams_per_s,
                r.shard_cores,
                r.forwarded_per_s / r.shard_cores,
                bound(r.latency.quantile_us(0.5)),
                bound(r.latency.quantile_us(0.99)),
                bound(r.latency.quantile_us(0.999))
            ),
            Err(e) => println!("{:<22} failed: {e}", s.name),
        }
    }
}

/// A latency bucket bound for display (the last bucket is open-ended).
fn bound(us: u64) -> String {
    if us == u64::MAX {
        "> 5000".to_string()
    } else {
        format!("< {us}")
    }
}

struct Outcome {
    forwarded_per_s: f64,
    datagrams_per_s: f64,
    shard_cores: f64,
    latency: LatencyHistogram,
}

fn run(s: &Scenario) -> Result<Outcome, String> {
    let rt = Runtime::new().map_err(|e| e.to_string())?;
    let config = MediaConfig {
        bandwidth_estimation: s.bwe,
        ..MediaConfig::loopback(s.shards)
    };
    let engine = MediaEngine::start(config).map_err(|e| e.to_string())?;
    let mut peers = Vec::new();
    for room_index in 0..s.shards {
        let room = RoomId::from(format!("room-{room_index}"));
        let big = RoomOptions {
            max_members: Some(1000),
        };
        rt.block_on(engine.create_room(&room, big))
            .map_err(|e| e.to_string())?;
        let publisher = PeerSpec {
            extra_audio_slots: 0,
            extra_video_slots: 0,
            video_interval: s.video_interval,
            discard_media: true,
            ..PeerSpec::sdk(1000 * room_index as u32)
        };
        peers.push(join(&rt, &engine, &room, publisher)?);
        for k in 0..s.subscribers_per_room {
            let subscriber = PeerSpec {
                audio: false,
                video: false,
                discard_media: true,
                ..PeerSpec::multi(1000 * room_index as u32 + 1 + k as u32, 1)
            };
            peers.push(join(&rt, &engine, &room, subscriber)?);
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    let before = rt
        .block_on(engine.shard_counters())
        .map_err(|e| e.to_string())?;
    let cpu_before = shard_cpu();
    let start = Instant::now();
    std::thread::sleep(MEASURE);
    let after = rt
        .block_on(engine.shard_counters())
        .map_err(|e| e.to_string())?;
    let cpu = shard_cpu() - cpu_before;
    let elapsed = start.elapsed().as_secs_f64();
    let forwarded: u64 = after.iter().map(|c| c.rtp_forwarded).sum::<u64>()
        - before.iter().map(|c| c.rtp_forwarded).sum::<u64>();
    let datagrams: u64 = after.iter().map(|c| c.datagrams_out).sum::<u64>()
        - before.iter().map(|c| c.datagrams_out).sum::<u64>();
    let mut latency = LatencyHistogram::default();
    for (a, b) in after.iter().zip(&before) {
        for i in 0..latency.counts.len() {
            latency.counts[i] += a.latency.counts[i] - b.latency.counts[i];
        }
    }
    let received: u64 = peers.iter().map(TestPeer::discarded_media).sum();
    if received == 0 {
        return Err("subscribers received nothing".into());
    }
    drop(peers);
    engine.shutdown();
    Ok(Outcome {
        forwarded_per_s: forwarded as f64 / elapsed,
        datagrams_per_s: datagrams as f64 / elapsed,
        shard_cores: cpu / elapsed,
        latency,
    })
}

fn join(
    rt: &Runtime,
    engine: &MediaEngine,
    room: &RoomId,
    spec: PeerSpec,
) -> Result<TestPeer, String> {
    let member = MemberId::from(format!("m{}", spec.tag));
    let (pending, offer) = TestPeer::offer(spec)?;
    let answer = rt
        .block_on(engine.join(room, &member, &offer, MemberOptions::default()))
        .map_err(|e| e.to_string())?;
    let peer = pending.connect(&answer)?;
    if !wait_until(Duration::from_secs(20), || peer.is_connected()) {
        return Err(format!("{member} did not connect"));
    }
    Ok(peer)
}

/// CPU seconds used so far by this process's shard threads (user + system, from /proc).
fn shard_cpu() -> f64 {
    let ticks = 100.0; // USER_HZ on Linux
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut total = 0u64;
    for task in tasks.flatten() {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.starts_with("weft-media-shar") {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0);
        let stime: u64 = fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0);
        total += utime + stime;
    }
    total as f64 / ticks
}
