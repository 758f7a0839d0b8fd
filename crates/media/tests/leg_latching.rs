//! Plain-RTP legs take media only from their source: the phone that latched within the learning
//! window, or the address of its SDP. A stranger sending RTP to a leg's port cannot take the
//! call's audio ("RTP bleed"), and a flood on the port does not starve the shard.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Harness, SETTLE, origins, packets_from};
use weft_media::testkit::{PeerSpec, audio_payload, tag_of, wait_until};
use weft_media::{
    MediaConfig, MediaEvent, MemberId, MemberOptions, RoomId, RoomOptions, RtpCodec, RtpLegOptions,
};

const OPUS_PT: u8 = 111;
const PCMU_PT: u8 = 0;
/// The tag of the WebRTC member's audio.
const MEMBER: u32 = 1;
const PHONE: u32 = 9;
const STRANGER: u32 = 66;
/// Longest an endpoint thread runs, whatever the test does.
const ENDPOINT_LIFETIME: Duration = Duration::from_secs(60);

/// What an endpoint thread shares with the test.
#[derive(Default)]
struct EndpointState {
    stop: AtomicBool,
    /// Where to send tagged Opus-shaped RTP every 20 ms; `None`: silent.
    target: Mutex<Option<SocketAddr>>,
    /// Packets received, and those carrying the WebRTC member's tag.
    received: AtomicU64,
    from_member: AtomicU64,
}

/// A UDP endpoint on a loopback address: a SIP phone's media, or a stranger's.
struct Endpoint {
    state: Arc<EndpointState>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl Endpoint {
    fn new(ip: &str, tag: u32, ssrc: u32) -> Self {
        let socket = UdpSocket::bind((ip, 0)).expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(2)))
            .expect("timeout");
        let addr = socket.local_addr().expect("addr");
        let state = Arc::new(EndpointState::default());
        let shared = state.clone();
        let thread = std::thread::spawn(move || run_endpoint(&shared, &socket, tag, ssrc));
        Self {
            state,
            addr,
            thread: Some(thread),
        }
    }

    fn send_to(&self, leg: SocketAddr) {
        *self.state.target.lock().expect("target") = Some(leg);
    }

    fn received(&self) -> u64 {
        self.state.received.load(Ordering::Relaxed)
    }

    fn heard_member(&self) -> u64 {
        self.state.from_member.load(Ordering::Relaxed)
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run_endpoint(state: &EndpointState, socket: &UdpSocket, tag: u32, ssrc: u32) {
    let started = Instant::now();
    let payload = audio_payload(tag, 60);
    let (mut seq, mut ts) = (1_000u16, 0u32);
    let mut next_send = Instant::now();
    let mut buf = [0u8; 1500];
    while !state.stop.load(Ordering::Relaxed) && started.elapsed() < ENDPOINT_LIFETIME {
        let target = *state.target.lock().expect("target");
        if let Some(leg) = target
            && Instant::now() >= next_send
        {
            next_send += Duration::from_millis(20);
            let _ = socket.send_to(&rtp(OPUS_PT, seq, ts, ssrc, &payload), leg);
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(960);
        }
        if let Ok(n) = socket.recv(&mut buf) {
            state.received.fetch_add(1, Ordering::Relaxed);
            if n > 12 && tag_of(&buf[12..n], false) == Some(MEMBER) {
                state.from_member.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut d = vec![0x80, pt];
    d.extend_from_slice(&seq.to_be_bytes());
    d.extend_from_slice(&ts.to_be_bytes());
    d.extend_from_slice(&ssrc.to_be_bytes());
    d.extend_from_slice(payload);
    d
}

fn add_leg(h: &Harness, room: &RoomId, member: &MemberId, sdp: Option<SocketAddr>) -> SocketAddr {
    add_leg_with(h, room, member, sdp, (RtpCodec::Opus, OPUS_PT))
}

fn add_leg_with(
    h: &Harness,
    room: &RoomId,
    member: &MemberId,
    sdp: Option<SocketAddr>,
    (codec, payload_type): (RtpCodec, u8),
) -> SocketAddr {
    h.rt.block_on(h.engine.add_rtp_leg(
        room,
        member,
        RtpLegOptions {
            codec,
            payload_type,
            remote: sdp,
            telephone_event: None,
            srtp: None,
            member: MemberOptions::default(),
        },
    ))
    .expect("leg")
}

/// Datagrams the engine's legs dropped as foreign.
fn foreign(h: &Harness) -> u64 {
    h.rt.block_on(h.engine.shard_counters())
        .expect("counters")
        .iter()
        .map(|c| c.leg_foreign_dropped)
        .sum()
}

fn config(latch_window_ms: u64) -> MediaConfig {
    MediaConfig {
        rtp_latch_window_ms: latch_window_ms,
        ..MediaConfig::loopback(1)
    }
}

#[test]
fn within_the_window_the_first_sender_wins_and_a_stranger_cannot_take_the_leg() {
    // A window long enough that the stranger surely comes within it: the lock alone stops it.
    let h = Harness::with_config(config(30_000));
    let webrtc = h.join(PeerSpec::multi(MEMBER, 0));
    let mut events = h.engine.events();
    // The phone is behind NAT: its SDP names an address it never sends from.
    let sdp = Endpoint::new("127.0.0.1", 0, 0);
    let leg = MemberId::from("sip-leg");
    let leg_addr = add_leg(&h, &h.room, &leg, Some(sdp.addr));
    let phone = Endpoint::new("127.0.0.1", PHONE, 0x1111_1111);
    phone.send_to(leg_addr);
    assert!(
        wait_until(SETTLE, || phone.heard_member() >= 50
            && packets_from(&webrtc, PHONE, false) >= 50),
        "symmetric RTP: the phone hears {} packets, the member {}",
        phone.heard_member(),
        packets_from(&webrtc, PHONE, false)
    );

    // Right payload type, another SSRC, another loopback address.
    let stranger = Endpoint::new("127.0.0.2", STRANGER, 0x2222_2222);
    stranger.send_to(leg_addr);
    assert!(
        wait_until(SETTLE, || foreign(&h) >= 50),
        "foreign: {}",
        foreign(&h)
    );
    let (phone_before, member_before) = (phone.heard_member(), packets_from(&webrtc, PHONE, false));
    assert!(
        wait_until(SETTLE, || phone.heard_member() >= phone_before + 50
            && packets_from(&webrtc, PHONE, false) >= member_before + 50),
        "the call goes on"
    );
    assert_eq!(stranger.received(), 0, "the stranger gets nothing");
    assert_eq!(
        origins(&webrtc, false),
        vec![PHONE],
        "the member hears the phone only"
    );
    assert_eq!(webrtc.received(false)[0].missing(), 0);

    // The leg's own stats count what it dropped.
    let dropped = h.rt.block_on(async {
        tokio::time::timeout(SETTLE, async {
            loop {
                match events.recv().await {
                    Some(MediaEvent::Stats { member, stats, .. })
                        if member == leg && stats.foreign_dropped > 0 =>
                    {
                        break stats.foreign_dropped;
                    }
                    Some(_) => continue,
                    None => panic!("events closed"),
                }
            }
        })
        .await
        .expect("stats of the leg")
    });
    assert!(dropped > 0);
}

#[test]
fn after_the_learning_window_a_stranger_cannot_take_a_silent_leg() {
    const WINDOW_MS: u64 = 300;
    let h = Harness::with_config(config(WINDOW_MS));
    let webrtc = h.join(PeerSpec::multi(MEMBER, 0));
    let phone = Endpoint::new("127.0.0.1", PHONE, 0x1111_1111);
    let leg = MemberId::from("sip-leg");
    let created = Instant::now();
    let leg_addr = add_leg(&h, &h.room, &leg, Some(phone.addr));
    assert!(
        wait_until(SETTLE, || phone.heard_member() >= 10),
        "the leg sends to its SDP address"
    );
    // Nothing has reached the leg; let its learning window pass.
    let window_end = created + Duration::from_millis(WINDOW_MS + 200);
    std::thread::sleep(window_end.saturating_duration_since(Instant::now()));

    let stranger = Endpoint::new("127.0.0.2", STRANGER, 0x2222_2222);
    stranger.send_to(leg_addr);
    assert!(
        wait_until(SETTLE, || foreign(&h) >= 50),
        "foreign: {}",
        foreign(&h)
    );
    let before = phone.heard_member();
    assert!(wait_until(SETTLE, || phone.heard_member() >= before + 50));
    assert_eq!(stranger.received(), 0, "the stranger gets nothing");
    assert_eq!(packets_from(&webrtc, STRANGER, false), 0);

    // The phone at its SDP address is still the leg's source.
    phone.send_to(leg_addr);
    assert!(wait_until(SETTLE, || packets_from(&webrtc, PHONE, false) >= 50));
    assert_eq!(origins(&webrtc, false), vec![PHONE]);
    assert_eq!(stranger.received(), 0);
}

/// Sends up to `limit` small RTP datagrams to `target` as fast as it can, for at most `lifetime`:
/// 64 at a time with UDP GSO where the kernel offers it, so that it outpaces any reader.
struct Flood {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

/// Datagrams per GSO send.
const BATCH: usize = 64;

impl Flood {
    fn start(target: SocketAddr, limit: u64, lifetime: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (s, n) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            let socket = UdpSocket::bind("127.0.0.3:0").expect("bind");
            let gso = quinn_udp::UdpSocketState::new((&socket).into())
                .ok()
                .filter(|g| g.max_gso_segments() >= BATCH);
            let started = Instant::now();
            // 20 ms of G.711 each: the leg measures every packet's level.
            let one = rtp(PCMU_PT, 0, 0, 0x3333_3333, &[0x55; 160]);
            let mut batch = one.repeat(BATCH);
            let mut seq = 0u16;
            while n.load(Ordering::Relaxed) < limit
                && !s.load(Ordering::Relaxed)
                && started.elapsed() < lifetime
            {
                for d in batch.chunks_mut(one.len()) {
                    d[2..4].copy_from_slice(&seq.to_be_bytes());
                    seq = seq.wrapping_add(1);
                }
                let count = match gso.as_ref() {
                    Some(gso) => {
                        let transmit = quinn_udp::Transmit {
                            destination: target,
                            ecn: None,
                            contents: &batch,
                            segment_size: Some(one.len()),
                            src_ip: None,
                        };
                        gso.try_send((&socket).into(), &transmit)
                            .map_or(0, |()| BATCH)
                    }
                    None => batch
                        .chunks(one.len())
                        .filter(|d| socket.send_to(d, target).is_ok())
                        .count(),
                };
                n.fetch_add(count as u64, Ordering::Relaxed);
            }
            s.store(true, Ordering::Relaxed);
        });
        Self {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn received_all(p: &weft_media::testkit::TestPeer) -> u64 {
    p.received(false)
        .iter()
        .chain(p.received(true).iter())
        .map(|s| s.packets)
        .sum()
}

#[test]
fn a_flood_on_a_leg_port_does_not_starve_the_shard() {
    let h = Harness::new(1);
    let call = [h.join(PeerSpec::multi(1, 0)), h.join(PeerSpec::multi(2, 0))];
    assert!(wait_until(SETTLE, || call
        .iter()
        .all(|p| received_all(p) > 50)));
    // A leg of another call on the same shard.
    let other = RoomId::from("other-call");
    h.rt.block_on(h.engine.create_room(&other, RoomOptions::default()))
        .expect("room");
    let leg = MemberId::from("flooded-leg");
    let leg_addr = add_leg_with(&h, &other, &leg, None, (RtpCodec::Pcmu, PCMU_PT));
    let datagrams_before: u64 =
        h.rt.block_on(h.engine.shard_counters()).expect("counters")[0].datagrams_in;

    let flood = Flood::start(leg_addr, 20_000_000, Duration::from_secs(5));
    assert!(
        wait_until(SETTLE, || flood.sent() >= 20_000),
        "the flood is under way"
    );
    // While it lasts, the call goes on.
    let before: Vec<u64> = call.iter().map(received_all).collect();
    let kept_up = wait_until(SETTLE, || {
        call.iter()
            .zip(&before)
            .all(|(p, b)| received_all(p) >= b + 40)
    });
    let during = flood.running();
    let sent = flood.sent();
    drop(flood);
    assert!(kept_up, "the call stalled");
    assert!(
        during,
        "the call went on only after the flood ({sent} datagrams)"
    );

    let counters = &h.rt.block_on(h.engine.shard_counters()).expect("counters")[0];
    assert!(
        counters.datagrams_in - datagrams_before >= 20_000,
        "the flood reached the shard: {} of {sent} read",
        counters.datagrams_in - datagrams_before
    );
    assert_eq!(counters.panics, 0);
    let before: Vec<u64> = call.iter().map(received_all).collect();
    assert!(wait_until(SETTLE, || call
        .iter()
        .zip(&before)
        .all(|(p, b)| received_all(p) >= b + 40)));
}
