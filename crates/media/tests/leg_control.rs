//! Controlling a plain-RTP leg after it was made: the SDP answer's codec applied mid-call
//! (`configure_rtp_leg`), and key presses sent to the phone as RFC 4733 events (`send_dtmf`).

mod common;

use std::f32::consts::TAU;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Harness, SETTLE};
use weft_media::g711::{self, Law};
use weft_media::testkit::{PeerSpec, TestPeer, tone_presence, tone_presence_at, wait_until};
use weft_media::{MediaError, MemberId, MemberOptions, RtpCodec, RtpLegConfig, RtpLegOptions};

const PCMU: u8 = 0;
const PCMA: u8 = 8;
const TELEPHONE_EVENT: u8 = 101;
/// "Sends nothing" for [`PhoneState::send_pt`].
const SILENT: u32 = u32::MAX;
/// Samples per 20 ms G.711 packet.
const PACKET: usize = 160;
/// Decoded audio kept by the phone (4 s).
const MAX_PCM: usize = 4 * 8_000;
/// Longest a phone thread runs, whatever the test does.
const PHONE_LIFETIME: Duration = Duration::from_secs(60);
const HEARD: f32 = 0.03;
const QUIET: f32 = 0.01;

/// One packet the phone received.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    pt: u8,
    marker: bool,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

impl Received {
    fn event(&self) -> (u8, bool, u8, u16) {
        let p = &self.payload;
        (
            p[0],
            p[1] & 0x80 != 0,
            p[1] & 0x3f,
            u16::from_be_bytes([p[2], p[3]]),
        )
    }
}

/// What the phone thread shares with the test.
struct PhoneState {
    stop: AtomicBool,
    /// Payload type (and so law) of the tone it sends, or [`SILENT`].
    send_pt: AtomicU32,
    /// Tone frequency, f32 bits.
    freq: AtomicU32,
    target: Mutex<Option<SocketAddr>>,
    received: Mutex<Vec<Received>>,
    pcm: Mutex<Vec<f32>>,
}

/// A SIP phone's media endpoint: sends a G.711 tone to the leg when told to, records every
/// packet it receives and decodes the G.711 ones.
struct Phone {
    state: Arc<PhoneState>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl Phone {
    fn new() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(2)))
            .expect("timeout");
        let addr = socket.local_addr().expect("addr");
        let state = Arc::new(PhoneState {
            stop: AtomicBool::new(false),
            send_pt: AtomicU32::new(SILENT),
            freq: AtomicU32::new(0),
            target: Mutex::new(None),
            received: Mutex::new(Vec::new()),
            pcm: Mutex::new(Vec::new()),
        });
        let shared = state.clone();
        let thread = std::thread::spawn(move || run_phone(&shared, &socket));
        Self {
            state,
            addr,
            thread: Some(thread),
        }
    }

    /// Sends a tone of `freq` Hz in the law of `pt` to `leg` from now on.
    fn send(&self, leg: SocketAddr, pt: u8, freq: f32) {
        *self.state.target.lock().expect("target") = Some(leg);
        self.state.freq.store(freq.to_bits(), Ordering::Relaxed);
        self.state.send_pt.store(u32::from(pt), Ordering::Relaxed);
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("received").clone()
    }

    fn count(&self, pt: u8) -> usize {
        self.received().iter().filter(|r| r.pt == pt).count()
    }

    fn pcm(&self) -> Vec<f32> {
        self.state.pcm.lock().expect("pcm").clone()
    }

    fn clear_pcm(&self) {
        self.state.pcm.lock().expect("pcm").clear();
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn law_of(pt: u8) -> Option<Law> {
    match pt {
        PCMU => Some(Law::Mu),
        PCMA => Some(Law::A),
        _ => None,
    }
}

fn run_phone(state: &PhoneState, socket: &UdpSocket) {
    let started = Instant::now();
    let (mut seq, mut ts, mut n) = (7_000u16, 90_000u32, 0u64);
    let mut next_send = Instant::now();
    let mut buf = [0u8; 1500];
    let mut pcm = [0.0f32; PACKET];
    let mut packet = [0u8; 12 + PACKET];
    while !state.stop.load(Ordering::Relaxed) && started.elapsed() < PHONE_LIFETIME {
        let target = *state.target.lock().expect("target");
        let pt = state.send_pt.load(Ordering::Relaxed);
        if let (Some(leg), Some(law)) = (target, u8::try_from(pt).ok().and_then(law_of))
            && Instant::now() >= next_send
        {
            next_send = Instant::now().max(next_send) + Duration::from_millis(20);
            let freq = f32::from_bits(state.freq.load(Ordering::Relaxed));
            for s in pcm.iter_mut() {
                *s = 0.1 * (TAU * freq * n as f32 / 8_000.0).sin();
                n += 1;
            }
            packet[..2].copy_from_slice(&[0x80, pt as u8]);
            packet[2..4].copy_from_slice(&seq.to_be_bytes());
            packet[4..8].copy_from_slice(&ts.to_be_bytes());
            packet[8..12].copy_from_slice(&0x5151_5151u32.to_be_bytes());
            g711::encode(law, &pcm, &mut packet[12..]);
            let _ = socket.send_to(&packet, leg);
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(PACKET as u32);
        }
        let Ok(len) = socket.recv(&mut buf) else {
            continue;
        };
        if len < 12 {
            continue;
        }
        let d = &buf[..len];
        let r = Received {
            at: Instant::now(),
            pt: d[1] & 0x7f,
            marker: d[1] & 0x80 != 0,
            seq: u16::from_be_bytes([d[2], d[3]]),
            ts: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
            ssrc: u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
            payload: d[12..].to_vec(),
        };
        if let Some(law) = law_of(r.pt) {
            let mut decoded = vec![0.0f32; r.payload.len()];
            g711::decode(law, &r.payload, &mut decoded);
            let mut all = state.pcm.lock().expect("pcm");
            all.extend_from_slice(&decoded);
            let excess = all.len().saturating_sub(MAX_PCM);
            all.drain(..excess);
        }
        state.received.lock().expect("received").push(r);
    }
}

fn add_leg(
    h: &Harness,
    member: &MemberId,
    (codec, payload_type): (RtpCodec, u8),
    telephone_event: Option<u8>,
    remote: Option<SocketAddr>,
) -> SocketAddr {
    h.rt.block_on(h.engine.add_rtp_leg(
        &h.room,
        member,
        RtpLegOptions {
            codec,
            payload_type,
            remote,
            telephone_event,
            srtp: None,
            member: MemberOptions::default(),
        },
    ))
    .expect("leg")
}

/// Tone amplitudes in the last second a WebRTC peer heard, once it heard 1.5 s.
fn peer_hears(peer: &TestPeer, freqs: &[f32]) -> Vec<f32> {
    assert!(
        wait_until(SETTLE, || peer.received_pcm().len() >= 72_000),
        "the member hears nothing"
    );
    let pcm = peer.received_pcm();
    let tail = &pcm[pcm.len() - 48_000..];
    freqs.iter().map(|f| tone_presence(tail, *f)).collect()
}

/// The same for the phone (8 kHz).
fn phone_hears(phone: &Phone, freqs: &[f32]) -> Vec<f32> {
    assert!(
        wait_until(SETTLE, || phone.pcm().len() >= 12_000),
        "the phone hears nothing"
    );
    let pcm = phone.pcm();
    let tail = &pcm[pcm.len() - 8_000..];
    freqs
        .iter()
        .map(|f| tone_presence_at(tail, *f, 8_000))
        .collect()
}

#[test]
fn configure_rtp_leg_switches_a_call_from_pcmu_to_pcma() {
    let h = Harness::new(1);
    let member = h.join(PeerSpec::sdk_tone(1, 440.0));
    let phone = Phone::new();
    let leg = MemberId::from("sip-phone");
    let leg_addr = add_leg(&h, &leg, (RtpCodec::Pcmu, PCMU), None, None);
    phone.send(leg_addr, PCMU, 1_000.0);
    assert!(wait_until(SETTLE, || phone.count(PCMU) >= 50));
    member.clear_pcm();
    phone.clear_pcm();
    let heard = peer_hears(&member, &[1_000.0]);
    assert!(
        heard[0] > HEARD,
        "the member misses the PCMU phone: {heard:?}"
    );
    let heard = phone_hears(&phone, &[440.0]);
    assert!(heard[0] > HEARD, "the phone misses the member: {heard:?}");

    // A re-INVITE's answer picks PCMA (and names the phone's address).
    h.rt.block_on(h.engine.configure_rtp_leg(
        &leg,
        RtpLegConfig {
            codec: RtpCodec::Pcma,
            payload_type: PCMA,
            telephone_event: None,
            remote: Some(phone.addr),
            srtp: None,
        },
    ))
    .expect("configure");
    phone.send(leg_addr, PCMA, 1_320.0);
    assert!(wait_until(SETTLE, || phone.count(PCMA) >= 50));
    member.clear_pcm();
    phone.clear_pcm();
    let heard = peer_hears(&member, &[1_000.0, 1_320.0]);
    assert!(
        heard[1] > HEARD,
        "the member misses the PCMA phone: {heard:?}"
    );
    assert!(heard[0] < QUIET, "old audio: {heard:?}");
    let heard = phone_hears(&phone, &[440.0]);
    assert!(
        heard[0] > HEARD,
        "the phone misses the member in PCMA: {heard:?}"
    );

    // One stream: PCMU, then only PCMA, same SSRC (same clock), sequence continuing.
    let received = phone.received();
    assert!(received.iter().all(|r| r.pt == PCMU || r.pt == PCMA));
    let switch = received
        .iter()
        .position(|r| r.pt == PCMA)
        .expect("PCMA packets");
    assert!(switch > 0);
    assert!(
        received[switch..].iter().all(|r| r.pt == PCMA),
        "PCMU after the switch"
    );
    let (last_u, first_a) = (&received[switch - 1], &received[switch]);
    assert_eq!(first_a.ssrc, last_u.ssrc);
    assert_eq!(
        first_a.seq,
        last_u.seq.wrapping_add(1),
        "sequence continues"
    );
    assert!(
        first_a.ts.wrapping_sub(last_u.ts) as i32 > 0,
        "time goes on"
    );
    assert!(received.iter().all(|r| r.payload.len() == PACKET));
}

/// `(index of the first, index of the last)` telephone-event packet in `received` from `from`.
fn event_span(received: &[Received], from: usize) -> Option<(usize, usize)> {
    let first = from
        + received[from..]
            .iter()
            .position(|r| r.pt == TELEPHONE_EVENT)?;
    let last = received
        .iter()
        .rposition(|r| r.pt == TELEPHONE_EVENT)
        .filter(|l| *l >= first)?;
    Some((first, last))
}

/// Checks one burst of `digits` (RFC 4733 event codes) at `received[first..=last]`, between
/// audio packets of the same stream.
fn assert_burst(received: &[Received], (first, last): (usize, usize), digits: &[u8]) {
    let events = &received[first..=last];
    assert_eq!(events.len(), 8 * digits.len(), "8 packets per digit");
    assert!(
        events.iter().all(|r| r.pt == TELEPHONE_EVENT),
        "no audio while the keys sound"
    );
    let (before, after) = (&received[first - 1], &received[last + 1]);
    assert_eq!((before.pt, after.pt), (PCMU, PCMU));
    let ssrc = before.ssrc;
    assert!(
        events.iter().chain([after]).all(|r| r.ssrc == ssrc),
        "one SSRC"
    );
    for (i, r) in received[first - 1..=last + 1].windows(2).enumerate() {
        assert_eq!(r[1].seq, r[0].seq.wrapping_add(1), "sequence at {i}");
    }
    let durations = [160, 320, 480, 640, 800, 800, 800, 800];
    let mut starts = Vec::new();
    for (digit, packets) in digits.iter().zip(events.chunks(8)) {
        let start = packets[0].ts;
        starts.push(start);
        for (k, r) in packets.iter().enumerate() {
            let (event, end, volume, duration) = r.event();
            assert_eq!(
                (event, end, r.marker, duration, r.ts),
                (*digit, k >= 5, k == 0, durations[k], start),
                "packet {k} of digit {digit}"
            );
            assert!(volume <= 63);
        }
    }
    // 100 ms tones 60 ms apart on the 8 kHz clock, after the audio before and before the audio
    // after.
    assert!(starts.windows(2).all(|w| w[1].wrapping_sub(w[0]) == 1_280));
    let lead = starts[0].wrapping_sub(before.ts);
    assert!((1..=1_600).contains(&lead), "{lead} ticks after the audio");
    let tail = after.ts.wrapping_sub(starts[starts.len() - 1]);
    assert!(
        (800..8_000).contains(&tail),
        "audio {tail} ticks after the last start"
    );
    // Paced in real time, not sent at once.
    let took = events[events.len() - 1].at - events[0].at;
    let expected = Duration::from_millis(160 * (digits.len() as u64 - 1) + 140);
    assert!(
        took + Duration::from_millis(30) >= expected,
        "burst took {took:?}"
    );
}

#[test]
fn send_dtmf_sends_rfc4733_events_on_the_legs_stream() {
    let h = Harness::new(1);
    let _member = h.join(PeerSpec::sdk_tone(1, 440.0));
    let phone = Phone::new();
    let leg = MemberId::from("sip-phone");
    add_leg(
        &h,
        &leg,
        (RtpCodec::Pcmu, PCMU),
        Some(TELEPHONE_EVENT),
        Some(phone.addr),
    );
    assert!(wait_until(SETTLE, || phone.count(PCMU) >= 25));

    h.rt.block_on(h.engine.send_dtmf(&leg, "1#")).expect("dtmf");
    let burst = || {
        let received = phone.received();
        event_span(&received, 0)
            .filter(|(_, last)| received.len() > last + 5)
            .filter(|(first, last)| last - first + 1 >= 16)
    };
    assert!(wait_until(SETTLE, || burst().is_some()), "the keys");
    let received = phone.received();
    let span = burst().expect("burst");
    assert_burst(&received, span, &[1, 11]);

    // Keys asked for while others sound join the same burst.
    let from = received.len();
    h.rt.block_on(h.engine.send_dtmf(&leg, "2")).expect("dtmf");
    h.rt.block_on(h.engine.send_dtmf(&leg, "d")).expect("dtmf");
    assert!(
        wait_until(SETTLE, || {
            let received = phone.received();
            event_span(&received, from)
                .is_some_and(|(first, last)| last - first + 1 >= 16 && received.len() > last + 5)
        }),
        "the second burst"
    );
    let received = phone.received();
    let span = event_span(&received, from).expect("burst");
    assert_burst(&received, span, &[2, 15]);
}

#[test]
fn send_dtmf_refuses_what_it_cannot_send() {
    let h = Harness::new(1);
    let _member = h.join(PeerSpec::sdk(1));
    let phone = Phone::new();
    let plain = MemberId::from("no-events");
    add_leg(&h, &plain, (RtpCodec::Pcmu, PCMU), None, Some(phone.addr));
    let dtmf = |member: &MemberId, digits: &str| h.rt.block_on(h.engine.send_dtmf(member, digits));
    assert!(
        matches!(dtmf(&plain, "1"), Err(MediaError::Dtmf(e)) if e.contains("telephone-event")),
        "{:?}",
        dtmf(&plain, "1")
    );
    let leg = MemberId::from("events");
    add_leg(
        &h,
        &leg,
        (RtpCodec::Pcmu, PCMU),
        Some(TELEPHONE_EVENT),
        Some(phone.addr),
    );
    assert!(matches!(dtmf(&leg, "12x"), Err(MediaError::Dtmf(e)) if e.contains("'x'")));
    assert!(matches!(dtmf(&leg, ""), Err(MediaError::Dtmf(_))));
    assert!(matches!(
        dtmf(&leg, &"1".repeat(65)),
        Err(MediaError::Dtmf(_))
    ));
    assert!(matches!(
        dtmf(&Harness::member(1), "1"),
        Err(MediaError::State(_))
    ));
    assert!(matches!(
        dtmf(&MemberId::from("nobody"), "1"),
        Err(MediaError::NoSuchMember(_))
    ));
    let unlatched = MemberId::from("unlatched");
    add_leg(
        &h,
        &unlatched,
        (RtpCodec::Pcmu, PCMU),
        Some(TELEPHONE_EVENT),
        None,
    );
    assert!(matches!(dtmf(&unlatched, "1"), Err(MediaError::State(_))));
    // Nothing was sent by the refused requests.
    assert!(dtmf(&leg, "*").is_ok());
    assert!(wait_until(SETTLE, || phone.count(TELEPHONE_EVENT) >= 8));
    let events: Vec<u8> = phone
        .received()
        .iter()
        .filter(|r| r.pt == TELEPHONE_EVENT)
        .map(|r| r.payload[0])
        .collect();
    assert!(events.iter().all(|e| *e == 10), "{events:?}");
}
