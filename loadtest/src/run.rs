//! One load-test run: provision rooms, start peers at the join rate, sample counters and the
//! server's metrics every second with a progress bar, stop, and collect everything.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::cli::Args;
use crate::http::HttpUrl;
use crate::media::{CounterSnapshot, MediaDriver, MediaPlan, PeerReport, is_peer_ip};
use crate::metrics::Scrape;
use crate::rest::Rest;
use crate::scrape::Source;
use crate::session::janus::{self, JanusTarget};
use crate::session::{Context, JoinRecord, PeerJob, run_peer};
use crate::udpstat;

/// Sampling period of the timeline.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How long to wait after the joins for ICE/DTLS of the last peers.
const CONNECT_GRACE: Duration = Duration::from_secs(5);
/// Longest wait for one `/metrics` scrape.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

/// One timeline sample.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Seconds since the run started.
    pub t: f64,
    /// Counters at that time.
    pub counters: CounterSnapshot,
    /// The server's metrics, if scraped.
    pub scrape: Option<Scrape>,
}

/// Everything a run produced.
pub struct Outcome {
    /// Per peer: its job and what its signaling did.
    pub peers: Vec<(PeerJob, JoinRecord)>,
    /// Per peer: what its media saw (by id).
    pub media: Vec<PeerReport>,
    /// The timeline.
    pub samples: Vec<Sample>,
    /// Seconds from the start to the end of the joins (the steady phase starts there).
    pub steady_from: f64,
    /// Seconds from the start to the stop.
    pub stopped_at: f64,
    /// Why metrics could not be read, if they could not.
    pub metrics_error: Option<String>,
    /// UDP datagrams the kernel dropped for full receive buffers during the run, host-wide.
    pub host_rcvbuf_drops: Option<u64>,
    /// Of those, drops on the peers' own sockets.
    pub peer_socket_drops: Option<u64>,
    /// Drops on the server's media sockets (by the ports of its candidates; same host only).
    pub server_socket_drops: Option<u64>,
}

/// The peers of the run: every room's publishers first, then the subscribers, rooms interleaved.
pub fn plan_peers(args: &Args, prefix: &str, addresses: &[String]) -> Vec<PeerJob> {
    let mut jobs = Vec::new();
    let plan = |id: usize, publish: bool| MediaPlan {
        id,
        audio: args.with_audio(),
        video: args.with_video(),
        publish,
        simulcast: args.simulcast,
        slots: args.slot_count(),
        video_interval: Duration::from_secs_f64(1.0 / f64::from(args.fps.max(1))),
        keyframe_interval: Duration::from_secs_f64(args.keyframe_interval.max(0.1)),
        paused_layers: Default::default(),
    };
    for (count, publish) in [(args.publishers, true), (args.subscribers, false)] {
        for i in 0..count {
            for (room, address) in addresses.iter().enumerate() {
                let id = jobs.len();
                let role = if publish { "pub" } else { "sub" };
                jobs.push(PeerJob {
                    room,
                    address: address.clone(),
                    reference: format!("{prefix}-r{room}-{role}{i}@loadtest.example.com"),
                    plan: plan(id, publish),
                });
            }
        }
    }
    jobs
}

/// Runs the load test described by `args`.
pub async fn run(args: &Args) -> Result<Outcome> {
    let base = HttpUrl::parse(&args.http)?;
    let rest = Rest::new(base.clone(), &args.project_id, &args.api_token);
    let prefix = args
        .name_prefix
        .clone()
        .unwrap_or_else(|| format!("lt{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    let janus = args
        .janus_url
        .as_deref()
        .map(|url| JanusTarget::new(url, args.publishers).map(Arc::new))
        .transpose()?;
    let mut addresses = Vec::new();
    for room in 0..args.rooms {
        let name = format!("{prefix}-room{room}");
        let address = match &janus {
            Some(janus) => janus.create_room(&name).await,
            None => rest.create_room(&name).await,
        }
        .context("creating a video room")?;
        addresses.push(address);
    }
    let jobs = plan_peers(args, &prefix, &addresses);
    let total = jobs.len();

    let driver = Arc::new(MediaDriver::start(args.workers)?);
    let rcvbuf_before = udpstat::host_rcvbuf_errors();
    let (stop_tx, stop_rx) = watch::channel(false);
    let epoch = Instant::now();
    let ctx = Arc::new(Context {
        rest,
        ws_url: format!("ws://{}/", base.authority),
        driver: driver.clone(),
        epoch,
        join_timeout: Duration::from_secs_f64(args.join_timeout),
        stop: stop_rx.clone(),
        settled: Default::default(),
        failed: Default::default(),
        events: Default::default(),
        pause_layers: !args.keep_unwanted_layers,
        server_ports: Default::default(),
    });

    let metrics_url = Source::parse(&args.metrics)?;
    let sampler = tokio::spawn(sample(
        ctx.clone(),
        metrics_url,
        progress_bar(total),
        stop_rx,
        total,
    ));

    let mut tasks = JoinSet::new();
    let interval = Duration::from_secs_f64(1.0 / args.ramp.max(0.01));
    let mut next = tokio::time::Instant::now();
    for job in jobs {
        tokio::time::sleep_until(next).await;
        next += interval;
        let ctx = ctx.clone();
        let janus = janus.clone();
        tasks.spawn(async move {
            let record = match janus {
                Some(janus) => janus::run_peer(ctx, janus, job.clone()).await,
                None => run_peer(ctx, job.clone()).await,
            };
            (job, record)
        });
    }
    // Every join settles within its timeout; then give the last ICE/DTLS handshakes a moment.
    let settle_by = Instant::now() + ctx.join_timeout + CONNECT_GRACE;
    while ctx.settled.load(Ordering::Relaxed) < total && Instant::now() < settle_by {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let joined = total - ctx.failed.load(Ordering::Relaxed);
    let grace = Instant::now() + CONNECT_GRACE;
    while (driver.counters().snapshot().connected as usize) < joined && Instant::now() < grace {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let steady_from = epoch.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    let stopped_at = epoch.elapsed().as_secs_f64();
    let peer_socket_drops = udpstat::open_socket_drops(|ip, _| is_peer_ip(ip));
    let host_rcvbuf_drops = udpstat::host_rcvbuf_errors()
        .zip(rcvbuf_before)
        .map(|(after, before)| after.saturating_sub(before));
    let server_socket_drops = ctx.server_socket_drops();
    let _ = stop_tx.send(true);

    let mut peers = Vec::with_capacity(total);
    while let Some(done) = tasks.join_next().await {
        if let Ok(pair) = done {
            peers.push(pair);
        }
    }
    peers.sort_by_key(|(job, _)| job.plan.id);
    let (samples, metrics_error) = sampler.await.unwrap_or_default();
    drop(ctx);
    let driver =
        Arc::try_unwrap(driver).map_err(|_| anyhow::anyhow!("media driver still shared"))?;
    let media = tokio::task::spawn_blocking(move || driver.stop()).await?;
    Ok(Outcome {
        peers,
        media,
        samples,
        steady_from,
        stopped_at,
        metrics_error,
        host_rcvbuf_drops,
        peer_socket_drops,
        server_socket_drops,
    })
}

/// A progress bar on a terminal, hidden otherwise.
fn progress_bar(total: usize) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    if !std::io::stdout().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} joined {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Samples counters and metrics every second until the stop, driving the progress bar.
async fn sample(
    ctx: Arc<Context>,
    metrics_url: Option<Source>,
    bar: ProgressBar,
    mut stop: watch::Receiver<bool>,
    total: usize,
) -> (Vec<Sample>, Option<String>) {
    let mut samples: Vec<Sample> = Vec::new();
    let mut metrics_error = None;
    let mut ticker = tokio::time::interval(SAMPLE_EVERY);
    loop {
        let stopping = tokio::select! {
            _ = ticker.tick() => false,
            _ = stop.changed() => true,
        };
        let scrape = match &metrics_url {
            Some(source) => match tokio::time::timeout(SCRAPE_TIMEOUT, source.scrape()).await {
                Ok(Ok(scrape)) => Some(scrape),
                Ok(Err(e)) => {
                    metrics_error = Some(e);
                    None
                }
                Err(_) => {
                    metrics_error = Some(format!("no reading within {SCRAPE_TIMEOUT:?}"));
                    None
                }
            },
            None => None,
        };
        let s = Sample {
            t: ctx.epoch.elapsed().as_secs_f64(),
            counters: ctx.driver.counters().snapshot(),
            scrape,
        };
        if let Some(prev) = samples.last() {
            let dt = (s.t - prev.t).max(1e-3);
            let rx = (s.counters.rx_packets - prev.counters.rx_packets) as f64 / dt;
            bar.set_message(format!(
                "| {} connected, {} failed | rx {:.0} pkt/s",
                s.counters.connected,
                ctx.failed.load(Ordering::Relaxed),
                rx
            ));
        }
        bar.set_position(
            (ctx.settled.load(Ordering::Relaxed) - ctx.failed.load(Ordering::Relaxed)).min(total)
                as u64,
        );
        samples.push(s);
        if stopping || *stop.borrow() {
            break;
        }
    }
    bar.finish_and_clear();
    (samples, metrics_error)
}
