//! What one WebRTC join costs the server, on one core: building the server-side `Rtc` from
//! Weft's configuration (`hotpath::server_config`: one certificate made at start and one dimpl
//! DTLS configuration shared by every peer, i.e. the DTLS configuration cached), accepting an SDK-shaped offer (one sendrecv audio and one sendrecv
//! video m-line) and writing the answer; then the whole join, with ICE and DTLS completed against
//! an in-memory str0m client.
//!
//! Everything runs in this thread on a simulated clock; datagrams pass between the two `Rtc`s in
//! memory. Each call into the server's `Rtc` and each into the client's is timed on its own with
//! the thread's CPU clock, so the server's share is separate from the client's (the cost of
//! reading the clock, measured at start, is subtracted per call). Signaling (REST, WebSocket,
//! JSON-RPC) is not included. Part (c) keeps the connected server `Rtc`s and reports the heap
//! each holds before any media flows (a lower bound of a peer's memory in the server).
//!
//! Run: `cargo bench -p weft-benches --bench join [-- JOINS]`

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::config::DtlsCert;
use str0m::media::{Direction, MediaKind};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use weft_benches::thread_cpu_time;
use weft_media::egress::{EgressKeys, build_with_key_capture};
use weft_media::hotpath::server_config;
use weft_media::testkit::{PeerSpec, TestPeer};

/// Joins per measured run unless given on the command line.
const JOINS: usize = 300;
const REPEATS: usize = 3;
/// Most exchange rounds for ICE and DTLS to connect.
const MAX_ROUNDS: usize = 1_000;
/// Simulated one-way delay of a datagram.
const HOP: Duration = Duration::from_micros(100);
/// Empty intervals timed to find what reading the CPU clock costs.
const CLOCK_SAMPLES: u32 = 20_000;

fn main() {
    let joins = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(JOINS)
        .max(1);
    if let Err(e) = run(joins) {
        println!("join bench failed: {e}");
        std::process::exit(1);
    }
}

fn run(joins: usize) -> Result<(), String> {
    let cert = str0m::crypto::from_feature_flags()
        .dtls_provider
        .generate_certificate()
        .ok_or("no certificate")?;
    let clock = clock_cost();
    let (_pending, sdk_offer) = TestPeer::offer(PeerSpec::sdk(1))?;
    println!(
        "join cost, one thread, server CPU per join (thread CPU clock, {:.0} ns per reading subtracted), \
         {joins} joins per run, best of {REPEATS}",
        clock.as_nanos()
    );
    println!();
    println!("(a) Rtc build + accept_offer (SDK-shaped offer, 2 m-lines) + answer SDP");
    println!(
        "{:<28} {:>10} {:>10} {:>12} {:>11} {:>10} {:>16}",
        "server egress",
        "build µs",
        "accept µs",
        "answer µs",
        "total µs",
        "drop µs",
        "joins/CPU-second"
    );
    for (label, owned) in [
        ("owned (DTLS key capture)", true),
        ("str0m's (no key capture)", false),
    ] {
        let best = best_of(|| accept_only(&cert, &sdk_offer, owned, joins, clock))?;
        println!(
            "{:<28} {:>10.1} {:>10.1} {:>12.1} {:>11.1} {:>10.1} {:>16.0}",
            label,
            best.build_us,
            best.accept_us,
            best.answer_us,
            best.total_us(),
            best.drop_us,
            1e6 / best.total_us()
        );
    }
    println!();
    println!(
        "(b) whole join: (a) + ICE + DTLS to Event::Connected (+ SRTP keys taken, owned egress)"
    );
    println!(
        "{:<28} {:>11} {:>17} {:>16} {:>11} {:>19} {:>13}",
        "server egress",
        "server µs",
        "of which ICE+DTLS",
        "joins/CPU-second",
        "client µs",
        "datagrams s→c/c→s",
        "simulated ms"
    );
    for (label, owned) in [
        ("owned (DTLS key capture)", true),
        ("str0m's (no key capture)", false),
    ] {
        let best = best_of(|| handshakes(&cert, owned, joins, clock))?;
        println!(
            "{:<28} {:>11.1} {:>17.1} {:>16.0} {:>11.1} {:>19} {:>13.1}",
            label,
            best.server_us,
            best.server_handshake_us,
            1e6 / best.server_us,
            best.client_us,
            format!("{:.1}/{:.1}", best.to_client, best.to_server),
            best.simulated_ms
        );
    }
    println!();
    println!(
        "(c) heap held per connected server Rtc, no media yet ({joins} kept at once; glibc mallinfo2)"
    );
    for (label, owned) in [
        ("owned (DTLS key capture)", true),
        ("str0m's (no key capture)", false),
    ] {
        let bytes = heap_per_peer(&cert, owned, joins, clock)?;
        println!("{label:<28} {:>10.1} KiB", bytes / 1024.0);
    }
    Ok(())
}

/// The run with the least server CPU per join of [`REPEATS`].
fn best_of<T: Cost>(mut run: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let mut best: Option<T> = None;
    for _ in 0..REPEATS {
        let r = run()?;
        if best.as_ref().is_none_or(|b| r.server_us() < b.server_us()) {
            best = Some(r);
        }
    }
    best.ok_or_else(|| "no run".into())
}

/// Server CPU per join, to pick the best run.
trait Cost {
    fn server_us(&self) -> f64;
}

/// Mean server CPU per join of part (a).
struct AcceptCost {
    build_us: f64,
    accept_us: f64,
    answer_us: f64,
    drop_us: f64,
}

impl AcceptCost {
    fn total_us(&self) -> f64 {
        self.build_us + self.accept_us + self.answer_us
    }
}

impl Cost for AcceptCost {
    fn server_us(&self) -> f64 {
        self.total_us()
    }
}

/// Mean cost per join of part (b).
struct HandshakeCost {
    server_us: f64,
    server_handshake_us: f64,
    client_us: f64,
    to_client: f64,
    to_server: f64,
    simulated_ms: f64,
}

impl Cost for HandshakeCost {
    fn server_us(&self) -> f64 {
        self.server_us
    }
}

/// CPU time of `f`, less what reading the clock adds to an interval.
fn timed<R>(acc: &mut Duration, clock: Duration, f: impl FnOnce() -> R) -> R {
    let t0 = thread_cpu_time();
    let r = f();
    *acc += (thread_cpu_time() - t0).saturating_sub(clock);
    r
}

/// Mean CPU time of an empty timed interval.
fn clock_cost() -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..CLOCK_SAMPLES {
        let t0 = thread_cpu_time();
        total += thread_cpu_time() - t0;
    }
    total / CLOCK_SAMPLES
}

fn addr(host: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)), port)
}

/// A server-side `Rtc` as the engine builds one for a peer without bandwidth estimation
/// (`negotiate::RtcFactory`): Weft's configuration, key capture when Weft owns egress, one UDP
/// host candidate.
fn server_rtc(
    cert: &DtlsCert,
    owned: bool,
    local: SocketAddr,
    now: Instant,
) -> Result<(Rtc, Option<EgressKeys>), String> {
    let config = server_config(cert);
    let (mut rtc, keys) = if owned {
        let (rtc, keys) = build_with_key_capture(config, now);
        (rtc, Some(keys))
    } else {
        (config.build(now), None)
    };
    rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| e.to_string())?);
    Ok((rtc, keys))
}

/// Part (a): build, accept the offer, write the answer; the `Rtc` is then dropped (timed apart).
fn accept_only(
    cert: &DtlsCert,
    offer_sdp: &str,
    owned: bool,
    joins: usize,
    clock: Duration,
) -> Result<AcceptCost, String> {
    let now = Instant::now();
    let (mut build, mut accept, mut answer, mut drop) = Default::default();
    for _ in 0..joins {
        let (mut rtc, keys) = timed(&mut build, clock, || {
            server_rtc(cert, owned, addr(1, 5000), now)
        })?;
        let sdp = timed(&mut accept, clock, || {
            let offer = SdpOffer::from_sdp_string(offer_sdp).map_err(|e| e.to_string())?;
            rtc.sdp_api().accept_offer(offer).map_err(|e| e.to_string())
        })?;
        let text = timed(&mut answer, clock, || sdp.to_sdp_string());
        if !text.contains("m=video") {
            return Err("answer without video".into());
        }
        timed(&mut drop, clock, move || std::mem::drop((rtc, keys)));
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / joins as f64;
    Ok(AcceptCost {
        build_us: per(build),
        accept_us: per(accept),
        answer_us: per(answer),
        drop_us: per(drop),
    })
}

/// One side of an in-memory join.
struct Side {
    rtc: Rtc,
    addr: SocketAddr,
    next: Instant,
    connected: bool,
    cpu: Duration,
}

impl Side {
    /// Hands the `Rtc` a datagram from `from`.
    fn receive(
        &mut self,
        from: SocketAddr,
        datagram: &[u8],
        now: Instant,
        clock: Duration,
    ) -> Result<(), String> {
        let (rtc, to) = (&mut self.rtc, self.addr);
        timed(&mut self.cpu, clock, || {
            let contents = DatagramRecv::try_from(datagram).map_err(|e| e.to_string())?;
            rtc.handle_input(Input::Receive(
                now,
                Receive {
                    proto: Protocol::Udp,
                    source: from,
                    destination: to,
                    contents,
                },
            ))
            .map_err(|e| e.to_string())
        })
    }

    /// Serves the `Rtc`'s timeout if it is due.
    fn wake(&mut self, now: Instant, clock: Duration) -> Result<(), String> {
        if self.next > now {
            return Ok(());
        }
        let rtc = &mut self.rtc;
        timed(&mut self.cpu, clock, || {
            rtc.handle_input(Input::Timeout(now))
                .map_err(|e| e.to_string())
        })
    }

    /// Drains the `Rtc`: its datagrams into `out`, its next timeout, `Connected`.
    fn drain(&mut self, out: &mut Vec<Vec<u8>>, clock: Duration) -> Result<(), String> {
        let (rtc, next, connected) = (&mut self.rtc, &mut self.next, &mut self.connected);
        timed(&mut self.cpu, clock, || {
            loop {
                match rtc.poll_output().map_err(|e| e.to_string())? {
                    Output::Timeout(t) => {
                        *next = t;
                        return Ok(());
                    }
                    Output::Transmit(t) => out.push(t.contents.to_vec()),
                    Output::Event(Event::Connected) => *connected = true,
                    Output::Event(_) => {}
                }
            }
        })
    }
}

/// One join's result: the server's connected `Rtc` and what the join cost.
struct Joined {
    server: Rtc,
    keys: Option<EgressKeys>,
    /// Server CPU: build, accept, ICE, DTLS and the SRTP keys.
    server_cpu: Duration,
    /// Of which ICE, DTLS and the keys.
    server_handshake_cpu: Duration,
    /// Client CPU: build, offer, answer, ICE, DTLS.
    client_cpu: Duration,
    to_client: usize,
    to_server: usize,
    simulated: Duration,
}

/// One join: a fresh client offers, the server builds and answers, and both run ICE and DTLS
/// until each reports `Connected`; the server's CPU is counted apart from the client's. The
/// client is dropped, the server returned.
fn join(cert: &DtlsCert, owned: bool, i: usize, clock: Duration) -> Result<Joined, String> {
    let start = Instant::now();
    let server_addr = addr(1, 5000);
    let client_addr = addr(2 + (i / 50_000) as u8, 10_000 + (i % 50_000) as u16);
    let mut client_cpu = Duration::ZERO;
    let (client, offer_sdp, pending) = timed(&mut client_cpu, clock, || {
        let mut rtc = RtcConfig::new()
            .enable_opus(true, false)
            .set_rtp_mode(true)
            .build(start);
        rtc.add_local_candidate(Candidate::host(client_addr, "udp").map_err(|e| e.to_string())?);
        let mut api = rtc.sdp_api();
        api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        api.add_media(MediaKind::Video, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().ok_or("nothing to offer")?;
        Ok::<_, String>((rtc, offer.to_sdp_string(), pending))
    })?;
    let mut server_cpu = Duration::ZERO;
    let (server, keys, answer_sdp) = timed(&mut server_cpu, clock, || {
        let (mut rtc, keys) = server_rtc(cert, owned, server_addr, start)?;
        let offer = SdpOffer::from_sdp_string(&offer_sdp).map_err(|e| e.to_string())?;
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((rtc, keys, answer.to_sdp_string()))
    })?;
    let setup = server_cpu;
    let mut c = Side {
        rtc: client,
        addr: client_addr,
        next: start,
        connected: false,
        cpu: client_cpu,
    };
    timed(&mut c.cpu, clock, || {
        let answer = SdpAnswer::from_sdp_string(&answer_sdp).map_err(|e| e.to_string())?;
        c.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| e.to_string())
    })?;
    let mut s = Side {
        rtc: server,
        addr: server_addr,
        next: start,
        connected: false,
        cpu: server_cpu,
    };
    let mut now = start;
    let (mut for_server, mut for_client) = (Vec::new(), Vec::new());
    let (mut to_client, mut to_server) = (0, 0);
    let mut rounds = 0;
    loop {
        c.drain(&mut for_server, clock)?;
        s.drain(&mut for_client, clock)?;
        if s.connected && c.connected {
            break;
        }
        rounds += 1;
        if rounds > MAX_ROUNDS {
            return Err(format!("join {i}: ICE and DTLS did not connect"));
        }
        now = if for_server.is_empty() && for_client.is_empty() {
            s.next.min(c.next).max(now)
        } else {
            now + HOP
        };
        to_server += for_server.len();
        to_client += for_client.len();
        for d in for_server.drain(..) {
            s.receive(client_addr, &d, now, clock)?;
        }
        for d in for_client.drain(..) {
            c.receive(server_addr, &d, now, clock)?;
        }
        s.wake(now, clock)?;
        c.wake(now, clock)?;
    }
    if let Some(keys) = &keys {
        timed(&mut s.cpu, clock, || keys.keys())
            .ok_or_else(|| format!("join {i}: no SRTP keys captured"))?;
    }
    Ok(Joined {
        server: s.rtc,
        keys,
        server_cpu: s.cpu,
        server_handshake_cpu: s.cpu - setup,
        client_cpu: c.cpu,
        to_client,
        to_server,
        simulated: now - start,
    })
}

/// Part (b): [`join`] `joins` times; dropping the `Rtc`s is not counted (part (a) reports it).
fn handshakes(
    cert: &DtlsCert,
    owned: bool,
    joins: usize,
    clock: Duration,
) -> Result<HandshakeCost, String> {
    let (mut server, mut handshake, mut client) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut to_client, mut to_server) = (0, 0);
    let mut simulated = Duration::ZERO;
    for i in 0..joins {
        let j = join(cert, owned, i, clock)?;
        server += j.server_cpu;
        handshake += j.server_handshake_cpu;
        client += j.client_cpu;
        to_client += j.to_client;
        to_server += j.to_server;
        simulated += j.simulated;
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / joins as f64;
    Ok(HandshakeCost {
        server_us: per(server),
        server_handshake_us: per(handshake),
        client_us: per(client),
        to_client: to_client as f64 / joins as f64,
        to_server: to_server as f64 / joins as f64,
        simulated_ms: simulated.as_secs_f64() * 1e3 / joins as f64,
    })
}

/// Bytes the allocator has handed out and not had back (glibc's `mallinfo2`).
fn heap_in_use() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    unsafe { libc::mallinfo2() }.uordblks
}

/// Part (c): heap held per connected server `Rtc` (and its key capture) with no media yet,
/// over `joins` kept alive at once.
fn heap_per_peer(
    cert: &DtlsCert,
    owned: bool,
    joins: usize,
    clock: Duration,
) -> Result<f64, String> {
    let before = heap_in_use();
    let mut kept = Vec::with_capacity(joins);
    for i in 0..joins {
        let j = join(cert, owned, i, clock)?;
        kept.push((j.server, j.keys));
    }
    let held = heap_in_use().saturating_sub(before);
    drop(kept);
    Ok(held as f64 / joins as f64)
}
