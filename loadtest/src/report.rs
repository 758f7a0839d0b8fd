//! The results of a run: the JSON report, the terminal summary and the timeline panels for the
//! plot.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::Args;
use crate::media::PeerReport;
use crate::run::{Outcome, Sample};
use crate::session::{JoinRecord, PeerJob};
use crate::stats::{StreamStats, Summary};
use crate::svg::{Panel, Series};

/// One point of the timeline (rates over the second before `t`).
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// Seconds since the start.
    pub t: f64,
    /// Peers connected (ICE + DTLS).
    pub connected: u64,
    /// RTP packets/s received by all peers.
    pub received_pps: f64,
    /// Packets/s lost (by sequence number) on the received streams.
    pub lost_pps: f64,
    /// Loss in % of the packets expected in that second.
    pub loss_pct: f64,
    /// Forwarded packets/s from the server's counters, if it exports them.
    pub forwarded_pps: Option<f64>,
    /// Server CPU in % of one core, if `process_cpu_seconds_total` is exported.
    pub server_cpu_pct: Option<f64>,
    /// Server resident memory in MiB at `t`, if `process_resident_memory_bytes` is exported
    /// (or read from `/proc`).
    pub server_rss_mib: Option<f64>,
}

/// Bytes in a KiB.
const KIB: f64 = 1024.0;

/// Samples over which the server's forwarded-packet rate is averaged (servers publish their
/// counters every few seconds, not at every scrape).
const FORWARDED_WINDOW: usize = 5;

/// Rates between consecutive samples (the forwarded rate over up to [`FORWARDED_WINDOW`]).
pub fn timeline(samples: &[Sample]) -> Vec<Point> {
    (1..samples.len())
        .map(|i| {
            let (a, b) = (&samples[i - 1], &samples[i]);
            let dt = (b.t - a.t).max(1e-3);
            let rx = b.counters.rx_packets.saturating_sub(a.counters.rx_packets) as f64;
            let expected = b
                .counters
                .rx_expected
                .saturating_sub(a.counters.rx_expected) as f64;
            let lost = (expected - rx).max(0.0);
            let rate = |a: &Sample, f: fn(&crate::metrics::Scrape) -> Option<f64>| {
                let (x, y) = (
                    a.scrape.as_ref().and_then(f)?,
                    b.scrape.as_ref().and_then(f)?,
                );
                Some((y - x).max(0.0) / (b.t - a.t).max(1e-3))
            };
            let window = &samples[i.saturating_sub(FORWARDED_WINDOW)];
            Point {
                t: b.t,
                connected: b.counters.connected,
                received_pps: rx / dt,
                lost_pps: lost / dt,
                loss_pct: if expected > 0.0 {
                    100.0 * lost / expected
                } else {
                    0.0
                },
                forwarded_pps: rate(window, |s| s.forwarded_packets),
                server_cpu_pct: rate(a, |s| s.cpu_seconds).map(|c| c * 100.0),
                server_rss_mib: b
                    .scrape
                    .as_ref()
                    .and_then(|s| s.resident_bytes)
                    .map(|r| r / (KIB * KIB)),
            }
        })
        .collect()
}

/// The plot's panels: forwarded packets/s, loss, server CPU.
pub fn panels(points: &[Point]) -> Vec<Panel> {
    let series = |label: &str, color, f: &dyn Fn(&Point) -> Option<f64>| Series {
        label: label.into(),
        color,
        points: points
            .iter()
            .filter_map(|p| f(p).map(|v| (p.t, v)))
            .collect(),
    };
    vec![
        Panel {
            title: "Packets per second".into(),
            series: vec![
                series("forwarded (server)", "steelblue", &|p| p.forwarded_pps),
                series("received (peers)", "darkorange", &|p| Some(p.received_pps)),
            ],
        },
        Panel {
            title: "Loss (% of expected packets)".into(),
            series: vec![series("loss %", "crimson", &|p| Some(p.loss_pct))],
        },
        Panel {
            title: "Server CPU (% of one core)".into(),
            series: vec![series("process CPU", "seagreen", &|p| p.server_cpu_pct)],
        },
    ]
}

/// How many streams of each kind a peer should receive, and whether its audio is the mix.
fn expected_streams(args: &Args, job: &PeerJob) -> (usize, bool) {
    let others = args.publishers - usize::from(job.plan.publish);
    let members = args.publishers + args.subscribers;
    let mixed = job.plan.slots == 1 && members >= 3;
    (others.min(job.plan.slots), mixed)
}

/// Whether a peer received what it should: from every publisher it has slots for, per kind
/// (with mixed audio, any audio at all).
fn complete(args: &Args, job: &PeerJob, streams: &[StreamStats]) -> bool {
    let (want, mixed) = expected_streams(args, job);
    let origins = |video: bool| {
        let mut o: Vec<u32> = streams
            .iter()
            .filter(|s| s.video == video && s.packets > 0)
            .flat_map(|s| s.origins.iter().copied())
            .collect();
        o.sort_unstable();
        o.dedup();
        o.len()
    };
    let audio_ok = !args.with_audio()
        || if mixed {
            want == 0 || streams.iter().any(|s| !s.video && s.packets > 0)
        } else {
            origins(false) >= want
        };
    let video_ok = !args.with_video() || origins(true) >= want;
    audio_ok && video_ok
}

/// Builds the JSON report.
pub fn build(args: &Args, outcome: &mut Outcome) -> Value {
    let media: HashMap<usize, &PeerReport> = outcome.media.iter().map(|m| (m.id, m)).collect();
    let empty = Vec::new();
    for (job, record) in &mut outcome.peers {
        let (want, _) = expected_streams(args, job);
        record.finish(want > 0 && (args.with_audio() || args.with_video()));
    }
    let attempted = outcome.peers.len();
    let succeeded = outcome.peers.iter().filter(|(_, r)| r.succeeded()).count();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    for (_, r) in &outcome.peers {
        if let Some(e) = &r.error {
            *errors.entry(e.chars().take(160).collect()).or_default() += 1;
        }
    }
    let phase = |f: fn(&JoinRecord) -> Option<f64>| {
        let v: Vec<f64> = outcome.peers.iter().filter_map(|(_, r)| f(r)).collect();
        Summary::of(&v)
    };
    let phases = json!({
        "token": phase(|r| r.phases.token),
        "connect": phase(|r| r.phases.connect),
        "invite_to_answer": phase(|r| r.phases.invite_to_answer),
        "invite_to_joined": phase(|r| r.phases.invite_to_joined),
        "ice_connected": phase(|r| r.phases.ice),
        "ice_dtls_connected": phase(|r| r.phases.ice_dtls),
        "first_media": phase(|r| r.phases.first_media),
        "total": phase(|r| r.phases.total),
    });

    let mut streams_all: Vec<&StreamStats> = Vec::new();
    let mut peers_json = Vec::new();
    let (mut receivers, mut receivers_complete) = (0, 0);
    let (mut nacks, mut plis, mut firs) = (0, 0, 0);
    let (mut nacks_in, mut plis_in, mut firs_in, mut keyframes_on_request) = (0, 0, 0, 0);
    for (job, record) in &outcome.peers {
        let report = media.get(&job.plan.id);
        let streams = report.map_or(&empty, |m| &m.streams);
        streams_all.extend(streams.iter());
        if let Some(m) = report {
            nacks += m.sent_feedback.0;
            plis += m.sent_feedback.1;
            firs += m.sent_feedback.2;
            nacks_in += m.received_feedback.0;
            plis_in += m.received_feedback.1;
            firs_in += m.received_feedback.2;
            keyframes_on_request += m.keyframe_requests;
        }
        let (want, _) = expected_streams(args, job);
        let ok = complete(args, job, streams);
        if want > 0 {
            receivers += 1;
            receivers_complete += usize::from(ok && record.succeeded());
        }
        peers_json.push(json!({
            "id": job.plan.id,
            "room": job.room,
            "publisher": job.plan.publish,
            "call_id": record.call_id,
            "joined": record.succeeded(),
            "received_all": ok,
            "error": record.error,
            "server_bye": record.server_bye,
            "phases_ms": record.phases,
            "events": record.events,
            "sent_packets": report.map_or(0, |m| m.sent_packets),
            "streams": streams.iter().map(stream_json).collect::<Vec<_>>(),
        }));
    }
    let packets: u64 = streams_all.iter().map(|s| s.packets).sum();
    let bytes: u64 = streams_all.iter().map(|s| s.bytes).sum();
    let expected: u64 = streams_all.iter().map(|s| s.expected()).sum();
    let lost: u64 = streams_all.iter().map(|s| s.lost()).sum();
    let by_kind = |video: bool, f: fn(&StreamStats) -> f64| {
        let v: Vec<f64> = streams_all
            .iter()
            .filter(|s| s.video == video)
            .map(|s| f(s))
            .collect();
        Summary::of(&v)
    };
    let loss_ratio = |s: &StreamStats| {
        if s.expected() == 0 {
            0.0
        } else {
            s.lost() as f64 / s.expected() as f64 * 100.0
        }
    };
    let video: Vec<&&StreamStats> = streams_all.iter().filter(|s| s.video).collect();
    let freezes: u64 = video.iter().map(|s| s.freezes).sum();
    let freeze_ms: f64 = video
        .iter()
        .map(|s| s.freeze_time.as_secs_f64() * 1000.0)
        .sum();

    let points = timeline(&outcome.samples);
    let last = outcome
        .samples
        .last()
        .map(|s| s.counters)
        .unwrap_or_default();
    let server = server_json(outcome, &points, &streams_all);

    json!({
        "tool": "weft-loadtest",
        "version": env!("CARGO_PKG_VERSION"),
        "shape": args,
        "slots": args.slot_count(),
        "machine": machine(),
        "run": {
            "steady_from_s": outcome.steady_from,
            "stopped_at_s": outcome.stopped_at,
            "steady_seconds": outcome.stopped_at - outcome.steady_from,
        },
        "join": {
            "attempted": attempted,
            "succeeded": succeeded,
            "success_rate": if attempted == 0 { 0.0 } else { succeeded as f64 / attempted as f64 },
            "errors": errors,
            "phases_ms": phases,
        },
        "media": {
            "receivers": receivers,
            "receivers_complete": receivers_complete,
            "streams": streams_all.len(),
            "received_packets": packets,
            "received_bytes": bytes,
            "expected_packets": expected,
            "lost_packets": lost,
            "loss_pct": if expected == 0 { 0.0 } else { lost as f64 / expected as f64 * 100.0 },
            "bitrate_bps": {"audio": by_kind(false, StreamStats::bitrate), "video": by_kind(true, StreamStats::bitrate)},
            "loss_pct_per_stream": {"audio": by_kind(false, loss_ratio), "video": by_kind(true, loss_ratio)},
            "jitter_ms": {"audio": by_kind(false, StreamStats::jitter_ms), "video": by_kind(true, StreamStats::jitter_ms)},
            "freezes": {"count": freezes, "total_ms": freeze_ms,
                        "streams_with_freezes": video.iter().filter(|s| s.freezes > 0).count()},
            "feedback_sent_by_receivers": {"nacks": nacks, "plis": plis, "firs": firs},
            "feedback_received_by_publishers": {"nacks": nacks_in, "plis": plis_in, "firs": firs_in,
                                                "keyframes_on_request": keyframes_on_request},
            "sent_packets": outcome.media.iter().map(|m| m.sent_packets).sum::<u64>(),
            "driver": {
                "send_errors": last.send_errors,
                "peer_panics": last.panics,
                "dtls_before_ice_connected": last.early_dtls,
                "udp_rcvbuf_drops_host": outcome.host_rcvbuf_drops,
                "udp_rcvbuf_drops_peer_sockets": outcome.peer_socket_drops,
                "udp_drops_server_media_sockets": outcome.server_socket_drops,
            },
        },
        "server": server,
        "timeline": points,
        "peers": peers_json,
    })
}

fn stream_json(s: &StreamStats) -> Value {
    json!({
        "kind": if s.video { "video" } else { "audio" },
        "packets": s.packets,
        "lost": s.lost(),
        "bitrate_bps": s.bitrate().round(),
        "jitter_ms": (s.jitter_ms() * 100.0).round() / 100.0,
        "freezes": s.freezes,
        "origins": s.origins,
    })
}

/// Server-side figures over the steady phase.
fn server_json(outcome: &Outcome, points: &[Point], streams: &[&StreamStats]) -> Value {
    let steady: Vec<&Sample> = outcome
        .samples
        .iter()
        .filter(|s| s.t >= outcome.steady_from && s.scrape.is_some())
        .collect();
    let mut notes = Vec::new();
    let names = outcome
        .samples
        .iter()
        .rev()
        .find_map(|s| s.scrape.as_ref().map(|m| m.names.clone()));
    if names.is_none() {
        notes.push(format!(
            "no /metrics scrape succeeded{}",
            outcome
                .metrics_error
                .as_ref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ));
    }
    let (first, last) = (steady.first(), steady.last());
    let span = match (first, last) {
        (Some(a), Some(b)) if b.t > a.t => Some((a, b, b.t - a.t)),
        _ => None,
    };
    let delta = |f: fn(&crate::metrics::Scrape) -> Option<f64>| {
        let (a, b, _) = span?;
        Some(f(b.scrape.as_ref()?)? - f(a.scrape.as_ref()?)?)
    };
    let cpu = delta(|s| s.cpu_seconds);
    let forwarded = delta(|s| s.forwarded_packets);
    let seconds = span.map(|(_, _, d)| d);
    let rx = span.map(|(a, b, _)| b.counters.rx_packets.saturating_sub(a.counters.rx_packets));
    if names.is_some() && cpu.is_none() {
        notes.push("process_cpu_seconds_total is not exported (or the steady phase was shorter than two scrapes)".into());
    }
    if names.is_some() && forwarded.is_none() {
        notes.push(
            "no *forwarded_packets* counter is exported: CPU per packet uses the packets the peers received".into(),
        );
    }
    // Subscriber-streams active in the steady phase: received streams with packets after it began.
    let active = streams
        .iter()
        .filter(|s| s.packets > 0 && s.bitrate() > 0.0)
        .count();
    let cores = match (cpu, seconds) {
        (Some(c), Some(d)) => Some(c / d),
        _ => None,
    };
    let packets = forwarded.or(rx.map(|r| r as f64));
    json!({
        "series_found": names.unwrap_or_default(),
        "forwarded_series": outcome.samples.iter().rev().find_map(|s| s.scrape.as_ref().map(|m| m.forwarded_series.clone())).unwrap_or_default(),
        "steady_seconds_scraped": seconds,
        "cpu_seconds": cpu,
        "cpu_cores": cores,
        "forwarded_packets": forwarded,
        "forwarded_pps": forwarded.zip(seconds).map(|(f, d)| f / d),
        "received_pps_steady": rx.zip(seconds).map(|(r, d)| r as f64 / d),
        "subscriber_streams": active,
        "cpu_pct_per_subscriber_stream": cores.filter(|_| active > 0).map(|c| c * 100.0 / active as f64),
        "cpu_us_per_packet": cpu.zip(packets).filter(|(_, p)| *p > 0.0).map(|(c, p)| c * 1e6 / p),
        "cpu_us_per_packet_basis": if forwarded.is_some() { "server forwarded packets" } else { "packets received by the peers" },
        "peak_cpu_pct": points.iter().filter_map(|p| p.server_cpu_pct).fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v)))),
        "memory": memory_json(&outcome.samples, outcome.steady_from),
        "notes": notes,
    })
}

/// The server's resident memory: at the first sample (before the joins), over the steady phase,
/// at its peak, and what it grew by per peer connected at the end of the steady phase.
fn memory_json(samples: &[Sample], steady_from: f64) -> Value {
    let rss = |s: &Sample| s.scrape.as_ref().and_then(|m| m.resident_bytes);
    let start = samples.iter().find_map(rss);
    let steady: Vec<(f64, u64)> = samples
        .iter()
        .filter(|s| s.t >= steady_from)
        .filter_map(|s| Some((rss(s)?, s.counters.connected)))
        .collect();
    let steady_mean = (!steady.is_empty())
        .then(|| steady.iter().map(|(r, _)| r).sum::<f64>() / steady.len() as f64);
    let connected = steady.last().map(|(_, c)| *c);
    let per_peer = match (start, steady_mean, connected) {
        (Some(a), Some(b), Some(n)) if n > 0 => Some((b - a) / KIB / n as f64),
        _ => None,
    };
    json!({
        "rss_bytes_start": start,
        "rss_bytes_steady_mean": steady_mean,
        "rss_bytes_steady_end": steady.last().map(|(r, _)| *r),
        "rss_bytes_peak": samples.iter().filter_map(rss).reduce(f64::max),
        "peers_connected_steady_end": connected,
        "rss_kib_per_connected_peer": per_peer,
    })
}

/// The machine the run used: CPUs and model.
fn machine() -> Value {
    let model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|m| m.trim().to_owned())
    });
    json!({
        "cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "cpu_model": model,
        "os": std::env::consts::OS,
    })
}

/// The terminal summary of a report.
pub fn summary(report: &Value) -> String {
    let mut out = String::new();
    let j = &report["join"];
    let m = &report["media"];
    let s = &report["server"];
    let p = |v: &Value| {
        format!(
            "p50 {:>7.1}  p95 {:>7.1}  p99 {:>7.1}",
            v["p50"].as_f64().unwrap_or(0.0),
            v["p95"].as_f64().unwrap_or(0.0),
            v["p99"].as_f64().unwrap_or(0.0)
        )
    };
    let _ = writeln!(
        out,
        "joins: {}/{} succeeded ({:.1}%)",
        j["succeeded"],
        j["attempted"],
        j["success_rate"].as_f64().unwrap_or(0.0) * 100.0
    );
    if let Some(errors) = j["errors"].as_object() {
        for (e, n) in errors {
            let _ = writeln!(out, "  {n} × {e}");
        }
    }
    let _ = writeln!(out, "join phases (ms):");
    for phase in [
        "token",
        "connect",
        "invite_to_answer",
        "invite_to_joined",
        "ice_connected",
        "ice_dtls_connected",
        "first_media",
        "total",
    ] {
        let _ = writeln!(out, "  {phase:<20} {}", p(&j["phases_ms"][phase]));
    }
    let _ = writeln!(
        out,
        "media: {} streams, {} packets received, loss {:.3}% ({} lost), {}/{} receivers got every expected stream",
        m["streams"],
        m["received_packets"],
        m["loss_pct"].as_f64().unwrap_or(0.0),
        m["lost_packets"],
        m["receivers_complete"],
        m["receivers"]
    );
    for kind in ["audio", "video"] {
        let _ = writeln!(
            out,
            "  {kind}: bitrate p50 {:.0} bit/s, jitter ms {}",
            m["bitrate_bps"][kind]["p50"].as_f64().unwrap_or(0.0),
            p(&m["jitter_ms"][kind])
        );
    }
    let _ = writeln!(
        out,
        "  freezes (>500 ms) {} in {} streams; receivers sent {} NACKs, {} PLIs; publishers got {} NACKs, {} PLIs",
        m["freezes"]["count"],
        m["freezes"]["streams_with_freezes"],
        m["feedback_sent_by_receivers"]["nacks"],
        m["feedback_sent_by_receivers"]["plis"],
        m["feedback_received_by_publishers"]["nacks"],
        m["feedback_received_by_publishers"]["plis"]
    );
    let f = |v: &Value, d: usize| v.as_f64().map_or("n/a".to_owned(), |x| format!("{x:.d$}"));
    let _ = writeln!(
        out,
        "server (steady phase): CPU {} cores, forwarded {} pkt/s, peers received {} pkt/s, {} µs CPU per packet ({}), {}% of a core per subscriber-stream ({} streams)",
        f(&s["cpu_cores"], 3),
        f(&s["forwarded_pps"], 0),
        f(&s["received_pps_steady"], 0),
        f(&s["cpu_us_per_packet"], 2),
        s["cpu_us_per_packet_basis"].as_str().unwrap_or(""),
        f(&s["cpu_pct_per_subscriber_stream"], 4),
        s["subscriber_streams"]
    );
    let d = &m["driver"];
    let _ = writeln!(
        out,
        "  UDP receive-buffer drops during the run: {} on this host; {} on the peers' sockets, {} on the server's media sockets",
        d["udp_rcvbuf_drops_host"],
        d["udp_rcvbuf_drops_peer_sockets"],
        d["udp_drops_server_media_sockets"]
    );
    let mem = &s["memory"];
    let mib = |v: &Value| f(&Value::from(v.as_f64().map(|b| b / (KIB * KIB))), 1);
    let _ = writeln!(
        out,
        "  server resident memory: {} MiB at the start, {} MiB steady (mean), {} MiB peak; {} KiB per connected peer ({} peers)",
        mib(&mem["rss_bytes_start"]),
        mib(&mem["rss_bytes_steady_mean"]),
        mib(&mem["rss_bytes_peak"]),
        f(&mem["rss_kib_per_connected_peer"], 1),
        mem["peers_connected_steady_end"]
    );
    if let Some(notes) = s["notes"].as_array() {
        for n in notes {
            let _ = writeln!(out, "  note: {}", n.as_str().unwrap_or_default());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::CounterSnapshot;
    use crate::metrics::Scrape;

    fn sample(t: f64, rx: u64, expected: u64, cpu: Option<f64>) -> Sample {
        Sample {
            t,
            counters: CounterSnapshot {
                rx_packets: rx,
                rx_expected: expected,
                ..CounterSnapshot::default()
            },
            scrape: cpu.map(|c| Scrape {
                cpu_seconds: Some(c),
                ..Scrape::default()
            }),
        }
    }

    fn memory_sample(t: f64, connected: u64, rss_mib: Option<f64>) -> Sample {
        Sample {
            t,
            counters: CounterSnapshot {
                connected,
                ..CounterSnapshot::default()
            },
            scrape: Some(Scrape {
                resident_bytes: rss_mib.map(|m| m * KIB * KIB),
                ..Scrape::default()
            }),
        }
    }

    #[test]
    fn memory_per_connected_peer() {
        let samples = vec![
            memory_sample(0.0, 0, Some(16.0)),
            memory_sample(1.0, 50, Some(30.0)),
            memory_sample(2.0, 99, None),
            memory_sample(3.0, 100, Some(26.0)),
            memory_sample(4.0, 100, Some(28.0)),
        ];
        let m = memory_json(&samples, 2.0);
        assert_eq!(m["rss_bytes_start"], json!(16.0 * KIB * KIB));
        assert_eq!(m["rss_bytes_steady_mean"], json!(27.0 * KIB * KIB));
        assert_eq!(m["rss_bytes_steady_end"], json!(28.0 * KIB * KIB));
        assert_eq!(m["rss_bytes_peak"], json!(30.0 * KIB * KIB));
        assert_eq!(m["peers_connected_steady_end"], json!(100));
        // (27 − 16) MiB over 100 peers.
        assert_eq!(m["rss_kib_per_connected_peer"], json!(11.0 * KIB / 100.0));
        assert_eq!(timeline(&samples)[0].server_rss_mib, Some(30.0));
        let none = memory_json(&[memory_sample(0.0, 0, None)], 0.0);
        assert!(none["rss_kib_per_connected_peer"].is_null());
        assert!(none["rss_bytes_peak"].is_null());
    }

    #[test]
    fn timeline_rates_loss_and_cpu() {
        let s = vec![
            sample(0.0, 0, 0, Some(1.0)),
            sample(1.0, 1000, 1010, Some(1.5)),
            sample(2.0, 1900, 1910, None),
        ];
        let t = timeline(&s);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].received_pps, 1000.0);
        assert!((t[0].loss_pct - 100.0 * 10.0 / 1010.0).abs() < 1e-9);
        assert_eq!(t[0].server_cpu_pct, Some(50.0));
        assert_eq!(t[0].forwarded_pps, None);
        assert_eq!(t[1].loss_pct, 0.0);
        assert_eq!(t[1].server_cpu_pct, None);
        let p = panels(&t);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].series[1].points.len(), 2);
        assert_eq!(p[2].series[0].points, vec![(1.0, 50.0)]);
    }
}
