//! End to end on loopback: engine shards plus synthetic str0m peers.
//!
//! Each room has P publishers (VP8 at a configurable packet rate, plus 50 pps audio) and K
//! subscribers with a slot per publisher. Most scenarios have one room per shard; "one room"
//! puts a single room over all shards (its first P + K members on shard 0, the next K on shard 1,
//! ...), so every publisher packet crosses to the other shards once; "meetings" puts many small
//! rooms on one shard at about half its capacity (the latency target's setting). Subscribers are real str0m
//! peers until they connect (ICE, DTLS); then their threads stop and one sink thread sweeps all
//! their sockets every 0.5 ms, so the shard's loopback sends do not pay for waking a thread per
//! subscriber (a real NIC has no such cost). The sink replays each subscriber's last ICE check once
//! a second, so the server keeps every subscriber for the whole run. Publishers are quiet while
//! subscribers join.
//! The generator (publisher, sink, this thread) runs on the last core; shard `i` is pinned to
//! core `i`, so with one shard it has a core of its own. The "sampled sink" scenarios (8
//! publishers per room) read one subscriber socket in 16 and let the kernel drop the rest at the
//! full receive queues, which keeps the generator small enough for two shards on two cores.
//!
//! Reports the subscriber-packets forwarded per second, per shard CPU-second (thread CPU of the
//! shard threads, from /proc), what the sink received, and the shards' wake-to-sent latency.
//!
//! Run: `cargo bench -p weft-benches --bench e2e` (or `-- <scenario name substring>`)

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use weft_media::testkit::{PeerSpec, TestPeer, wait_until};
use weft_media::{
    LatencyHistogram, MediaConfig, MediaEngine, MemberId, MemberOptions, RoomId, RoomOptions,
    WAKEUP_REASONS, WakeupReasons,
};

/// The measurement window; `WEFT_BENCH_MEASURE_SECS` lengthens it (for profiling).
fn measure_window() -> Duration {
    let secs = std::env::var("WEFT_BENCH_MEASURE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    Duration::from_secs(secs)
}
/// The sink's pause between two sweeps over the subscribers' sockets.
const SWEEP_PAUSE: Duration = Duration::from_micros(500);
/// With `sink_reads_all` off, the sink reads one subscriber socket in this many.
const SAMPLE_EVERY: usize = 16;
/// How often the sink replays a stopped subscriber's binding request.
const KEEPALIVE: Duration = Duration::from_secs(1);

#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    bwe: bool,
    shards: usize,
    /// One room spanning every shard (else `rooms_per_shard` rooms per shard).
    one_room: bool,
    rooms_per_shard: usize,
    publishers_per_room: usize,
    subscribers_per_room: usize,
    video_interval: Duration,
    /// The sink reads every subscriber socket; else it reads one in [`SAMPLE_EVERY`] and the
    /// kernel drops what the other sockets' full queues cannot take (the shard's sends cost the
    /// same), so the generator takes little of the shards' cores (the scaling scenarios).
    sink_reads_all: bool,
}

fn main() {
    // BWE stays off: the sink does not send the TWCC feedback str0m's estimator and pacer need, so
    // with it on the pacer would hold every subscriber to the initial estimate (the load tester,
    // whose subscribers are live str0m peers, measures with BWE on).
    let full = Scenario {
        name: "1 shard, full",
        bwe: false,
        shards: 1,
        one_room: false,
        rooms_per_shard: 1,
        publishers_per_room: 4,
        subscribers_per_room: 200,
        video_interval: Duration::from_millis(1),
        sink_reads_all: true,
    };
    let sampled = Scenario {
        name: "1 shard, full, sampled sink",
        publishers_per_room: 8,
        sink_reads_all: false,
        ..full
    };
    let scenarios = [
        full,
        Scenario {
            name: "1 shard, half",
            subscribers_per_room: 100,
            video_interval: Duration::from_millis(2),
            ..full
        },
        Scenario {
            // Twelve meetings of 4 + 8, each publisher at 100 video + 50 audio pps: ≈ 58k
            // forwarded packets per second, about half of what a shard forwards at full load.
            name: "1 shard, meetings",
            rooms_per_shard: 6,
            subscribers_per_room: 8,
            video_interval: Duration::from_millis(10),
            ..full
        },
        Scenario {
            name: "2 shards, full",
            shards: 2,
            ..full
        },
        Scenario {
            name: "2 shards, one room",
            shards: 2,
            one_room: true,
            ..full
        },
        sampled,
        Scenario {
            name: "2 shards, full, sampled sink",
            shards: 2,
            ..sampled
        },
    ];
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "end to end on loopback, VP8 900-byte packets + 50 pps Opus-sized audio, AES-GCM SRTP; \
         shard i pinned to core i, generator on core {}",
        cores - 1
    );
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>9} {:>13} {:>8} {:>8} {:>9}",
        "scenario",
        "fwd pkt/s",
        "sink pkt/s",
        "dgram/s",
        "shard CPU",
        "pkt/s per core",
        "p50 µs",
        "p99 µs",
        "p99.9 µs"
    );
    for s in scenarios
        .iter()
        .filter(|s| filter.as_deref().is_none_or(|f| s.name.contains(f)))
    {
        match run(s, cores) {
            Ok(r) => println!(
                "{:<22} {:>10.0} {:>10.0} {:>10.0} {:>8.2}c {:>13.0} {:>8} {:>8} {:>9}",
                s.name,
                r.forwarded_per_s,
                r.sunk_per_s,
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
        "> max".to_string()
    } else {
        format!("< {us}")
    }
}

struct Outcome {
    forwarded_per_s: f64,
    sunk_per_s: f64,
    datagrams_per_s: f64,
    shard_cores: f64,
    latency: LatencyHistogram,
}

/// Drains subscriber sockets on one thread and keeps their ICE alive; counts media datagrams.
struct Sink {
    add: std::sync::mpsc::Sender<SinkPeer>,
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A stopped subscriber: its socket, and the STUN binding request that keeps it alive.
type SinkPeer = (UdpSocket, Option<(SocketAddr, Vec<u8>)>);

impl Sink {
    /// Drains the sockets and, once a second, replays each peer's last binding request: the
    /// server's ICE-lite agent drops a remote that stops checking (after a few seconds), which
    /// would shrink the room during the measurement. Peers come in through [`Sink::add`].
    fn start(reads_all: bool) -> Self {
        let (add, added) = std::sync::mpsc::channel::<SinkPeer>();
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, halt) = (received.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let mut next_keepalive = Instant::now();
            let mut peers = Vec::new();
            while !halt.load(Ordering::Relaxed) {
                peers.extend(added.try_iter());
                if Instant::now() >= next_keepalive {
                    for (s, keepalive) in &peers {
                        if let Some((server, request)) = keepalive {
                            let _ = s.send_to(request, *server);
                        }
                    }
                    next_keepalive += KEEPALIVE;
                }
                let mut got = 0u64;
                let step = if reads_all { 1 } else { SAMPLE_EVERY };
                for (s, _) in peers.iter().step_by(step) {
                    while let Ok(len) = s.recv(&mut buf) {
                        // STUN (first byte 0 or 1) is the keepalive's answer, not media.
                        if len > 0 && buf[0] > 1 {
                            got += 1;
                        }
                    }
                }
                count.fetch_add(got, Ordering::Relaxed);
                // A pause between sweeps: the sockets buffer far more than arrives meanwhile, and
                // a spinning sink would starve the publishers on the generator's core.
                std::thread::sleep(SWEEP_PAUSE);
            }
        });
        Self {
            add,
            received,
            stop,
            thread: Some(thread),
        }
    }

    /// Hands a stopped subscriber (non-blocking socket) to the sink.
    fn add(&self, peer: SinkPeer) {
        let _ = self.add.send(peer);
    }

    fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(s: &Scenario, cores: usize) -> Result<Outcome, String> {
    // A shard takes a whole room (publishers and K subscribers) before the room spreads.
    let room_members_per_shard = s.publishers_per_room + s.subscribers_per_room;
    let config = MediaConfig {
        bandwidth_estimation: s.bwe,
        pin_shards: true,
        room_members_per_shard,
        // `WEFT_BENCH_OWNED_EGRESS=0` measures str0m's egress instead of Weft's.
        owned_egress: std::env::var("WEFT_BENCH_OWNED_EGRESS").map_or(true, |v| v != "0"),
        ..MediaConfig::loopback(s.shards)
    };
    // The engine pins its shards to the cores this thread may use: all of them. Then the
    // generator (this thread and every thread it starts: runtime, peers, sink) moves to the
    // last core, off the cores of the first shards.
    allow_every_core(cores);
    let engine = MediaEngine::start(config).map_err(|e| e.to_string())?;
    if cores >= 2 {
        core_affinity::set_for_current(core_affinity::CoreId { id: cores - 1 });
    }
    let rt = Runtime::new().map_err(|e| e.to_string())?;
    let mut publishers = Vec::new();
    let sink = Sink::start(s.sink_reads_all);
    let (rooms, subscribers) = if s.one_room {
        (1, s.subscribers_per_room * s.shards)
    } else {
        (s.shards * s.rooms_per_shard, s.subscribers_per_room)
    };
    for room_index in 0..rooms {
        let room = RoomId::from(format!("room-{room_index}"));
        let big = RoomOptions {
            max_members: Some(1000),
        };
        rt.block_on(engine.create_room(&room, big))
            .map_err(|e| e.to_string())?;
        let base = 1000 * room_index as u32;
        for p in 0..s.publishers_per_room {
            let publisher = PeerSpec {
                extra_audio_slots: 0,
                extra_video_slots: 0,
                video_interval: s.video_interval,
                discard_media: true,
                ..PeerSpec::sdk(base + p as u32)
            };
            let publisher = join(&rt, &engine, &room, publisher)?;
            // Quiet while subscribers join: a saturated shard would delay their handshakes.
            publisher.set_sending(false);
            publishers.push(publisher);
        }
        for k in 0..subscribers {
            // A slot per publisher: every subscriber receives every publisher's streams.
            let subscriber = PeerSpec {
                audio: false,
                video: false,
                discard_media: true,
                ..PeerSpec::multi(
                    base + (s.publishers_per_room + k) as u32,
                    s.publishers_per_room,
                )
            };
            let peer = join(&rt, &engine, &room, subscriber)?;
            let keepalive = peer.last_binding_request();
            let socket = peer.into_socket().ok_or("no socket")?;
            socket.set_nonblocking(true).map_err(|e| e.to_string())?;
            sink.add((socket, keepalive));
        }
    }
    for publisher in &publishers {
        publisher.set_sending(true);
    }
    std::thread::sleep(Duration::from_secs(2));
    let before = rt
        .block_on(engine.shard_counters())
        .map_err(|e| e.to_string())?;
    let cpu_before = shard_cpu();
    let sunk_before = sink.received();
    let start = Instant::now();
    let window = measure_window();
    eprintln!("measuring {}: {} s", s.name, window.as_secs());
    std::thread::sleep(window);
    let after = rt
        .block_on(engine.shard_counters())
        .map_err(|e| e.to_string())?;
    let cpu = shard_cpu() - cpu_before;
    // Sampled: an estimate from one subscriber socket in SAMPLE_EVERY.
    let sampling = if s.sink_reads_all {
        1
    } else {
        SAMPLE_EVERY as u64
    };
    let sunk = (sink.received() - sunk_before) * sampling;
    let elapsed = start.elapsed().as_secs_f64();
    let forwarded: u64 = after.iter().map(|c| c.rtp_forwarded).sum::<u64>()
        - before.iter().map(|c| c.rtp_forwarded).sum::<u64>();
    let datagrams: u64 = after.iter().map(|c| c.datagrams_out).sum::<u64>()
        - before.iter().map(|c| c.datagrams_out).sum::<u64>();
    let delta = |f: fn(&weft_media::ShardCounters) -> u64| -> u64 {
        after.iter().map(f).sum::<u64>() - before.iter().map(f).sum::<u64>()
    };
    println!(
        "  ({}: datagrams in {:.0}/s, send calls {:.0}/s, send errors {}, publisher RTP in {:.0}/s, \
         per kind in {:?} out {:?}, PLI out {}, relayed {:.0}/s in {:.0} batches/s, \
         peers {:?} → {:?})",
        s.name,
        delta(|c| c.datagrams_in) as f64 / elapsed,
        delta(|c| c.send_calls) as f64 / elapsed,
        delta(|c| c.send_errors),
        delta(|c| c.rtp_in) as f64 / elapsed,
        [delta(|c| c.received[0]), delta(|c| c.received[1])],
        [delta(|c| c.forwarded[0]), delta(|c| c.forwarded[1])],
        delta(|c| c.rtcp_out[1]),
        delta(|c| c.relayed_out) as f64 / elapsed,
        delta(|c| c.relay_batches) as f64 / elapsed,
        before.iter().map(|c| c.peers).collect::<Vec<_>>(),
        after.iter().map(|c| c.peers).collect::<Vec<_>>(),
    );
    let (mut wakeups_after, mut wakeups_before) =
        (WakeupReasons::default(), WakeupReasons::default());
    for (a, b) in after.iter().zip(&before) {
        wakeups_after.add(&a.wakeups);
        wakeups_before.add(&b.wakeups);
    }
    let peers = after.iter().map(|c| c.peers).sum::<usize>().max(1) as f64;
    let per_peer_second: Vec<String> = wakeups_after
        .counts
        .iter()
        .zip(wakeups_before.counts)
        .zip(WAKEUP_REASONS)
        .filter(|((a, b), _)| **a > *b)
        .map(|((a, b), name)| format!("{name} {:.1}", (a - b) as f64 / elapsed / peers))
        .collect();
    println!(
        "  ({}: timer wake-ups per peer-second by reason: {})",
        s.name,
        per_peer_second.join(", ")
    );
    let mut latency = LatencyHistogram::default();
    for (a, b) in after.iter().zip(&before) {
        for i in 0..latency.counts.len() {
            latency.counts[i] += a.latency.counts[i] - b.latency.counts[i];
        }
    }
    if sunk == 0 {
        return Err("subscribers received nothing".into());
    }
    drop(sink);
    drop(publishers);
    engine.shutdown();
    Ok(Outcome {
        forwarded_per_s: forwarded as f64 / elapsed,
        sunk_per_s: sunk as f64 / elapsed,
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
/// Lets the calling thread run on cores `0..cores` again.
fn allow_every_core(cores: usize) {
    // SAFETY: `set` is a plain bit set, initialised before use; the call reads it only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for core in 0..cores {
            libc::CPU_SET(core, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

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
