//! G.711 plain-RTP legs (SIP phones and trunks) with Opus WebRTC members: mixed in rooms of three
//! or more, transcoded both ways in a 1:1 call.

mod common;

use std::f32::consts::TAU;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Harness, SETTLE};
use weft_media::g711::{self, Law};
use weft_media::testkit::{PeerSpec, TestPeer, tone_presence, tone_presence_at, wait_until};
use weft_media::{MediaEvent, MemberId, MemberOptions, RtpCodec, RtpLegOptions};

/// Samples per 20 ms G.711 packet.
const PACKET: usize = 160;
/// The phone's tone amplitude (full scale 1.0), as loud as the WebRTC members'.
const AMPLITUDE: f32 = 0.1;
/// Decoded audio kept by the phone (4 s).
const MAX_PCM: usize = 4 * 8_000;

/// What the phone thread shares with the test.
#[derive(Default)]
struct PhoneState {
    stop: AtomicBool,
    /// A key to press (RFC 4733 event code + 1), 0 for none.
    press: AtomicU32,
    pcm: Mutex<Vec<f32>>,
    received: AtomicU64,
    /// Received packets that broke the rules: wrong payload type, SSRC or size, or a sequence gap.
    faults: Mutex<Vec<String>>,
}

/// A SIP phone's media: sends a G.711 tone every 20 ms to the leg and decodes what comes back.
struct Phone {
    state: Arc<PhoneState>,
    thread: Option<JoinHandle<()>>,
}

impl Phone {
    fn start(law: Law, pt: u8, freq: f32, leg: SocketAddr) -> Self {
        let state = Arc::new(PhoneState::default());
        let shared = state.clone();
        let socket = UdpSocket::bind("127.0.0.1:0").expect("socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(2)))
            .expect("timeout");
        let thread = std::thread::spawn(move || run_phone(&shared, &socket, law, pt, freq, leg));
        Self {
            state,
            thread: Some(thread),
        }
    }

    fn pcm(&self) -> Vec<f32> {
        self.state.pcm.lock().expect("pcm").clone()
    }

    fn clear(&self) {
        self.state.pcm.lock().expect("pcm").clear();
    }

    /// Presses and releases a key: a 60 ms telephone-event, its end packet sent three times.
    fn press(&self, event: u8) {
        self.state
            .press
            .store(u32::from(event) + 1, Ordering::Relaxed);
    }

    fn received(&self) -> u64 {
        self.state.received.load(Ordering::Relaxed)
    }

    fn faults(&self) -> Vec<String> {
        self.state.faults.lock().expect("faults").clone()
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

fn run_phone(state: &PhoneState, socket: &UdpSocket, law: Law, pt: u8, freq: f32, leg: SocketAddr) {
    let (mut seq, mut ts, mut n) = (40_000u16, 1_000u32, 0u64);
    let mut next_send = Instant::now();
    let mut buf = [0u8; 1500];
    let mut last: Option<(u16, u32, u32)> = None;
    let mut pcm = vec![0.0f32; PACKET];
    let mut packet = vec![0u8; 12 + PACKET];
    while !state.stop.load(Ordering::Relaxed) {
        if Instant::now() >= next_send {
            next_send += Duration::from_millis(20);
            for s in pcm.iter_mut() {
                *s = AMPLITUDE * (TAU * freq * n as f32 / 8_000.0).sin();
                n += 1;
            }
            packet[0] = 0x80;
            packet[1] = pt;
            packet[2..4].copy_from_slice(&seq.to_be_bytes());
            packet[4..8].copy_from_slice(&ts.to_be_bytes());
            packet[8..12].copy_from_slice(&0x5151_5151u32.to_be_bytes());
            g711::encode(law, &pcm, &mut packet[12..]);
            socket.send_to(&packet, leg).expect("send");
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(PACKET as u32);
            let press = state.press.swap(0, Ordering::Relaxed);
            if press > 0 {
                for (duration, end) in [
                    (160u16, false),
                    (320, false),
                    (480, true),
                    (480, true),
                    (480, true),
                ] {
                    let mut event = vec![0x80, TELEPHONE_EVENT];
                    event.extend_from_slice(&seq.to_be_bytes());
                    event.extend_from_slice(&ts.to_be_bytes());
                    event.extend_from_slice(&0x5151_5151u32.to_be_bytes());
                    event.extend_from_slice(&[(press - 1) as u8, if end { 0x8a } else { 0x0a }]);
                    event.extend_from_slice(&duration.to_be_bytes());
                    socket.send_to(&event, leg).expect("send");
                    seq = seq.wrapping_add(1);
                }
            }
        }
        let Ok((len, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let d = &buf[..len];
        let fault = |f: String| state.faults.lock().expect("faults").push(f);
        if from != leg || len != 12 + PACKET || d[1] & 0x7f != pt {
            fault(format!(
                "from {from}: {len} bytes, payload type {}",
                d[1] & 0x7f
            ));
            continue;
        }
        let rseq = u16::from_be_bytes([d[2], d[3]]);
        let rts = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
        let ssrc = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
        // Continuous: the next sequence number, the same SSRC, and time in whole 20 ms packets
        // (more than one after a frame the mixer had nothing for).
        if let Some((lseq, lts, lssrc)) = last {
            let step = rts.wrapping_sub(lts);
            let whole = step > 0 && step % PACKET as u32 == 0 && step <= 50 * PACKET as u32;
            if rseq != lseq.wrapping_add(1) || ssrc != lssrc || !whole {
                fault(format!(
                    "seq {lseq} -> {rseq}, ts {lts} -> {rts}, ssrc {lssrc:#x} -> {ssrc:#x}"
                ));
            }
        }
        last = Some((rseq, rts, ssrc));
        state.received.fetch_add(1, Ordering::Relaxed);
        let mut decoded = [0.0f32; PACKET];
        g711::decode(law, &d[12..], &mut decoded);
        let mut all = state.pcm.lock().expect("pcm");
        all.extend_from_slice(&decoded);
        if all.len() > MAX_PCM {
            let excess = all.len() - MAX_PCM;
            all.drain(..excess);
        }
    }
}

/// Payload type of telephone-events on the legs.
const TELEPHONE_EVENT: u8 = 101;

/// Adds a G.711 leg that learns its remote from the phone's first packet.
fn add_leg(h: &Harness, member: &MemberId, codec: RtpCodec, pt: u8) -> SocketAddr {
    h.rt.block_on(h.engine.add_rtp_leg(
        &h.room,
        member,
        RtpLegOptions {
            codec,
            payload_type: pt,
            remote: None,
            telephone_event: Some(TELEPHONE_EVENT),
            srtp: None,
            member: MemberOptions::default(),
        },
    ))
    .expect("leg")
}

/// Mean tone amplitude per frequency over the last second a WebRTC peer heard, once it heard
/// 1.5 s since `clear_pcm`.
fn peer_hears(peer: &TestPeer, freqs: &[f32]) -> Vec<f32> {
    assert!(
        wait_until(SETTLE, || peer.received_pcm().len() >= 72_000),
        "peer {} hears nothing",
        peer.tag()
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

const HEARD: f32 = 0.03;
const SILENT: f32 = 0.01;

#[test]
fn a_pcmu_leg_is_mixed_with_three_one_slot_members() {
    let h = Harness::new(1);
    let members = [(1u32, 440.0f32), (2, 660.0), (3, 990.0)];
    let leg_tone = 1_320.0;
    let peers: Vec<TestPeer> = members
        .iter()
        .map(|(tag, f)| h.join(PeerSpec::sdk_tone(*tag, *f)))
        .collect();
    let leg_addr = add_leg(&h, &MemberId::from("sip-phone"), RtpCodec::Pcmu, 0);
    let phone = Phone::start(Law::Mu, 0, leg_tone, leg_addr);
    let all: Vec<f32> = members.iter().map(|m| m.1).chain([leg_tone]).collect();

    // The mixer mixes the three loudest: in each phase one member is silent, so the leg and the
    // two others are the speakers. Over both phases the leg hears every member.
    let mut leg_heard = [false; 3];
    for silent in [3u32, 1] {
        for p in &peers {
            p.set_tone_amplitude(if p.tag() == silent { 0.0 } else { 0.1 });
        }
        std::thread::sleep(Duration::from_millis(400));
        for p in &peers {
            p.clear_pcm();
        }
        phone.clear();
        for p in &peers {
            let levels = peer_hears(p, &all);
            for (i, (tag, f)) in members.iter().enumerate() {
                if *tag == p.tag() {
                    assert!(levels[i] < SILENT, "peer {tag} hears itself: {levels:?}");
                } else if *tag != silent {
                    assert!(
                        levels[i] > HEARD,
                        "peer {} misses {f} Hz: {levels:?}",
                        p.tag()
                    );
                }
            }
            assert!(
                levels[3] > HEARD,
                "peer {} misses the leg (silent {silent}): {levels:?}",
                p.tag()
            );
        }
        let levels = phone_hears(&phone, &all);
        assert!(levels[3] < SILENT, "the leg hears itself: {levels:?}");
        for (i, (tag, f)) in members.iter().enumerate() {
            if *tag != silent {
                assert!(levels[i] > HEARD, "the leg misses {f} Hz: {levels:?}");
                leg_heard[i] = true;
            }
        }
    }
    assert_eq!(leg_heard, [true; 3]);
    assert!(phone.received() > 100);
    assert_eq!(phone.faults(), Vec::<String>::new(), "the leg's stream");
    // Each WebRTC member still receives one continuous audio stream.
    for p in &peers {
        let audio = p.received(false);
        assert_eq!(audio.len(), 1);
        assert_eq!(audio[0].missing(), 0);
    }
}

#[test]
fn a_pcma_leg_and_an_opus_member_hear_each_other_in_a_call() {
    let h = Harness::new(1);
    let member = h.join(PeerSpec::sdk_tone(1, 440.0));
    let leg_addr = add_leg(&h, &MemberId::from("sip-trunk"), RtpCodec::Pcma, 8);
    let phone = Phone::start(Law::A, 8, 1_000.0, leg_addr);
    std::thread::sleep(Duration::from_millis(300));
    member.clear_pcm();
    phone.clear();

    let heard = peer_hears(&member, &[440.0, 1_000.0]);
    assert!(heard[1] > HEARD, "the member misses the leg: {heard:?}");
    assert!(heard[0] < SILENT, "the member hears itself: {heard:?}");
    let heard = phone_hears(&phone, &[440.0, 1_000.0]);
    assert!(heard[0] > HEARD, "the leg misses the member: {heard:?}");
    assert!(heard[1] < SILENT, "the leg hears itself: {heard:?}");

    assert_eq!(phone.faults(), Vec::<String>::new(), "the leg's stream");
    let audio = member.received(false);
    assert_eq!(audio.len(), 1);
    assert_eq!(audio[0].missing(), 0);
    assert_eq!(audio[0].payload_types, vec![111], "Opus to the member");

    // A key pressed on the phone is reported once, when released.
    let mut events = h.engine.events();
    phone.press(7);
    let dtmf = h.rt.block_on(async {
        tokio::time::timeout(SETTLE, async {
            loop {
                match events.recv().await {
                    Some(MediaEvent::Dtmf {
                        member,
                        digit,
                        duration_ms,
                        ..
                    }) => break (member.to_string(), digit, duration_ms),
                    Some(_) => continue,
                    None => panic!("events closed"),
                }
            }
        })
        .await
        .expect("a DTMF event")
    });
    assert_eq!(dtmf, ("sip-trunk".to_string(), '7', 60));
    std::thread::sleep(Duration::from_millis(100));
    while let Some(event) = events.try_recv() {
        assert!(
            !matches!(event, MediaEvent::Dtmf { .. }),
            "one event per key press"
        );
    }

    // Muting the member stops what the leg hears.
    h.rt.block_on(
        h.engine
            .set_muted(&Harness::member(1), weft_media::MediaKind::Audio, true),
    )
    .expect("mute");
    let before = phone.received();
    std::thread::sleep(Duration::from_millis(300));
    let during = phone.received();
    std::thread::sleep(Duration::from_millis(300));
    assert!(during >= before && phone.received() - during <= 1, "muted");
}

#[test]
fn multi_slot_members_receive_a_g711_leg_transcoded_and_the_leg_hears_their_mix() {
    let h = Harness::new(1);
    let tones = [(1u32, 440.0f32), (2, 660.0)];
    let peers: Vec<TestPeer> = tones
        .iter()
        .map(|(tag, f)| {
            h.join(PeerSpec {
                tone: Some(*f),
                video: false,
                ..PeerSpec::multi(*tag, 1)
            })
        })
        .collect();
    let leg_addr = add_leg(&h, &MemberId::from("sip-phone"), RtpCodec::Pcmu, 0);
    let phone = Phone::start(Law::Mu, 0, 1_320.0, leg_addr);

    // Each multi-slot member gets the other member and the leg on its two slots, both as Opus
    // (it negotiated no G.711): one stream per slot, transcoded for the leg's.
    for p in &peers {
        assert!(
            wait_until(SETTLE, || {
                let audio = p.received(false);
                audio.len() == 2 && audio.iter().all(|s| s.packets >= 50)
            }),
            "peer {} streams: {:?}",
            p.tag(),
            p.received(false)
                .iter()
                .map(|s| (s.packets, s.payload_types.clone()))
                .collect::<Vec<_>>()
        );
        for s in p.received(false) {
            assert_eq!(s.payload_types, vec![111]);
            assert_eq!(s.missing(), 0);
        }
    }
    // The leg, one slot in a room of three, hears both members mixed, not itself.
    phone.clear();
    let heard = phone_hears(&phone, &[440.0, 660.0, 1_320.0]);
    assert!(heard[0] > HEARD && heard[1] > HEARD, "{heard:?}");
    assert!(heard[2] < SILENT, "the leg hears itself: {heard:?}");
    assert_eq!(phone.faults(), Vec::<String>::new(), "the leg's stream");
}
