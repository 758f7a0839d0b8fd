//! SDES-SRTP on plain-RTP legs: a phone with SRTP sessions of its own talks with a WebRTC member
//! through a leg; what is not protected under the phone's key is dropped, counted and latches
//! nothing, while the phone itself may move; key presses arrive encrypted; a re-INVITE keeps
//! unchanged keys (and their rollover counters) and takes new ones.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Harness, SETTLE, origins, packets_from};
use weft_media::srtp::{MasterKey, Profile, SrtpSession};
use weft_media::testkit::{PeerSpec, audio_payload, tag_of, wait_until};
use weft_media::{
    LegSrtp, MediaConfig, MediaEvent, MemberId, MemberOptions, RtpCodec, RtpLegConfig,
    RtpLegOptions, ShardCounters,
};

const OPUS_PT: u8 = 111;
const PCMU_PT: u8 = 0;
const TELEPHONE_EVENT: u8 = 101;
/// The tag of the WebRTC member's audio.
const MEMBER: u32 = 1;
const PHONE: u32 = 9;
const STRANGER: u32 = 66;
/// The phone's first sequence number: its stream wraps within a second.
const FIRST_SEQ: u16 = 65_500;
/// Longest a phone thread runs, whatever the test does.
const PHONE_LIFETIME: Duration = Duration::from_secs(60);

/// The keys of one leg: the leg encrypts with `local` (the phone decrypts with it), the phone
/// encrypts with `remote` (the leg decrypts with it).
struct LegKeys {
    profile: Profile,
    local: MasterKey,
    remote: MasterKey,
}

impl LegKeys {
    fn new(profile: Profile) -> Self {
        Self {
            profile,
            local: MasterKey::random(profile).expect("key"),
            remote: MasterKey::random(profile).expect("key"),
        }
    }

    /// The leg's keys, made from the SDP form the SIP front-end sees.
    fn leg(&self) -> LegSrtp {
        LegSrtp::from_sdes(
            self.profile.sdes_name(),
            &self.local.to_sdes_inline(),
            &self.remote.to_sdes_inline(),
        )
        .expect("keys")
    }

    fn phone(&self) -> PhoneKeys {
        PhoneKeys {
            send: Some(self.remote.clone()),
            receive: Some(self.local.clone()),
        }
    }
}

/// How a phone protects what it sends and unprotects what it receives (`None`: in the clear).
#[derive(Clone, Default)]
struct PhoneKeys {
    send: Option<MasterKey>,
    receive: Option<MasterKey>,
}

impl PhoneKeys {
    /// A stranger sending with a key of its own.
    fn stranger(profile: Profile) -> Self {
        Self {
            send: Some(MasterKey::random(profile).expect("key")),
            receive: None,
        }
    }
}

/// One packet a phone received and unprotected.
#[derive(Debug, Clone)]
struct Received {
    /// Which of the phone's sockets it arrived on.
    socket: usize,
    /// Its length on the wire.
    wire_len: usize,
    pt: u8,
    marker: bool,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

/// What a phone thread shares with the test.
#[derive(Default)]
struct PhoneState {
    stop: AtomicBool,
    /// Where to send tagged Opus-shaped RTP every 20 ms; `None`: silent.
    target: Mutex<Option<SocketAddr>>,
    /// Which of its sockets it sends from.
    sending_from: AtomicUsize,
    /// Keys for the phone thread to switch to.
    new_keys: Mutex<Option<PhoneKeys>>,
    sent: AtomicU64,
    received: Mutex<Vec<Received>>,
    /// Datagrams that did not unprotect.
    undecryptable: AtomicU64,
}

/// A SIP phone's media endpoint (or a stranger's), with one socket per address given.
struct Phone {
    state: Arc<PhoneState>,
    addrs: Vec<SocketAddr>,
    thread: Option<JoinHandle<()>>,
}

impl Phone {
    fn new(ips: &[&str], tag: u32, ssrc: u32, keys: PhoneKeys) -> Self {
        let sockets: Vec<UdpSocket> = ips
            .iter()
            .map(|ip| {
                let socket = UdpSocket::bind((*ip, 0)).expect("bind");
                socket
                    .set_read_timeout(Some(Duration::from_millis(1)))
                    .expect("timeout");
                socket
            })
            .collect();
        let addrs = sockets
            .iter()
            .map(|s| s.local_addr().expect("addr"))
            .collect();
        let state = Arc::new(PhoneState::default());
        *state.new_keys.lock().expect("keys") = Some(keys);
        let shared = state.clone();
        let thread = std::thread::spawn(move || run_phone(&shared, &sockets, tag, ssrc));
        Self {
            state,
            addrs,
            thread: Some(thread),
        }
    }

    fn send_to(&self, leg: SocketAddr) {
        *self.state.target.lock().expect("target") = Some(leg);
    }

    /// Sends from its socket number `socket` from now on (the phone moved).
    fn send_from(&self, socket: usize) {
        self.state.sending_from.store(socket, Ordering::Relaxed);
    }

    fn rekey(&self, keys: PhoneKeys) {
        *self.state.new_keys.lock().expect("keys") = Some(keys);
    }

    fn sent(&self) -> u64 {
        self.state.sent.load(Ordering::Relaxed)
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("received").clone()
    }

    fn undecryptable(&self) -> u64 {
        self.state.undecryptable.load(Ordering::Relaxed)
    }

    /// Packets carrying the WebRTC member's audio received on `socket`.
    fn heard_member_on(&self, socket: usize) -> usize {
        self.state
            .received
            .lock()
            .expect("received")
            .iter()
            .filter(|r| r.socket == socket && tag_of(&r.payload, false) == Some(MEMBER))
            .count()
    }

    fn heard_member(&self) -> usize {
        (0..self.addrs.len()).map(|s| self.heard_member_on(s)).sum()
    }

    fn count(&self, pt: u8) -> usize {
        self.state
            .received
            .lock()
            .expect("received")
            .iter()
            .filter(|r| r.pt == pt)
            .count()
    }

    /// Datagrams received at all, whether they unprotected or not.
    fn datagrams(&self) -> u64 {
        self.received().len() as u64 + self.undecryptable()
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

fn sessions(keys: &PhoneKeys) -> (Option<SrtpSession>, Option<SrtpSession>) {
    let session =
        |key: &Option<MasterKey>| key.as_ref().map(|k| SrtpSession::new(k).expect("session"));
    (session(&keys.send), session(&keys.receive))
}

fn run_phone(state: &PhoneState, sockets: &[UdpSocket], tag: u32, ssrc: u32) {
    let started = Instant::now();
    let payload = audio_payload(tag, 60);
    let (mut seq, mut ts) = (FIRST_SEQ, 0u32);
    let (mut protect, mut unprotect) = (None, None);
    let mut next_send = Instant::now();
    let mut buf = [0u8; 1500];
    while !state.stop.load(Ordering::Relaxed) && started.elapsed() < PHONE_LIFETIME {
        if let Some(keys) = state.new_keys.lock().expect("keys").take() {
            (protect, unprotect) = sessions(&keys);
        }
        let target = *state.target.lock().expect("target");
        if let Some(leg) = target
            && Instant::now() >= next_send
        {
            next_send += Duration::from_millis(20);
            let mut packet = rtp(OPUS_PT, seq, ts, ssrc, &payload);
            if let Some(session) = protect.as_mut() {
                session.protect_rtp(&mut packet).expect("protect");
            }
            let from = &sockets[state.sending_from.load(Ordering::Relaxed)];
            if from.send_to(&packet, leg).is_ok() {
                state.sent.fetch_add(1, Ordering::Relaxed);
            }
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(960);
        }
        for (socket, s) in sockets.iter().enumerate() {
            let Ok(wire_len) = s.recv(&mut buf) else {
                continue;
            };
            let len = match unprotect.as_mut() {
                Some(session) => match session.unprotect_rtp(&mut buf[..wire_len]) {
                    Ok(len) => len,
                    Err(_) => {
                        state.undecryptable.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                },
                None => wire_len,
            };
            if len < 12 {
                continue;
            }
            let d = &buf[..len];
            state.received.lock().expect("received").push(Received {
                socket,
                wire_len,
                pt: d[1] & 0x7f,
                marker: d[1] & 0x80 != 0,
                seq: u16::from_be_bytes([d[2], d[3]]),
                ts: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
                ssrc: u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
                payload: d[12..].to_vec(),
            });
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

fn add_leg(
    h: &Harness,
    member: &MemberId,
    (codec, payload_type): (RtpCodec, u8),
    telephone_event: Option<u8>,
    remote: Option<SocketAddr>,
    srtp: LegSrtp,
) -> SocketAddr {
    h.rt.block_on(h.engine.add_rtp_leg(
        &h.room,
        member,
        RtpLegOptions {
            codec,
            payload_type,
            remote,
            telephone_event,
            srtp: Some(srtp),
            member: MemberOptions::default(),
        },
    ))
    .expect("leg")
}

/// A shard counter summed over the engine's shards.
fn counter(h: &Harness, which: fn(&ShardCounters) -> u64) -> u64 {
    h.rt.block_on(h.engine.shard_counters())
        .expect("counters")
        .iter()
        .map(which)
        .sum()
}

fn srtp_failed(h: &Harness) -> u64 {
    counter(h, |c| c.leg_srtp_failed)
}

/// Every packet the phone received was SRTP under `profile`: its plain form plus the tag.
fn assert_all_protected(phone: &Phone, profile: Profile) {
    let received = phone.received();
    assert!(!received.is_empty());
    for r in &received {
        assert_eq!(
            r.wire_len,
            12 + r.payload.len() + profile.rtp_auth_tag_len(),
            "{r:?}"
        );
    }
    assert_eq!(phone.undecryptable(), 0, "every packet unprotects");
}

/// The phone and the member hear each other through an SRTP leg of `profile` in a 1:1 call.
fn phone_and_member_hear_each_other(profile: Profile) {
    let h = Harness::new(1);
    let webrtc = h.join(PeerSpec::multi(MEMBER, 0));
    let keys = LegKeys::new(profile);
    let leg = MemberId::from("sip-leg");
    let leg_addr = add_leg(&h, &leg, (RtpCodec::Opus, OPUS_PT), None, None, keys.leg());
    let phone = Phone::new(&["127.0.0.1"], PHONE, 0x1111_1111, keys.phone());
    phone.send_to(leg_addr);
    assert!(
        wait_until(SETTLE, || phone.heard_member() >= 100
            && packets_from(&webrtc, PHONE, false) >= 100),
        "the phone hears {} packets of the member, the member {} of the phone",
        phone.heard_member(),
        packets_from(&webrtc, PHONE, false)
    );
    assert_eq!(origins(&webrtc, false), vec![PHONE]);
    assert_eq!(
        webrtc.received(false)[0].missing(),
        0,
        "the phone's packets arrive without gaps across its sequence wrap"
    );
    assert!(phone.received().iter().all(|r| r.pt == OPUS_PT));
    assert_all_protected(&phone, profile);
    assert_eq!(srtp_failed(&h), 0);
}

#[test]
fn an_aes_cm_hmac_sha1_80_leg_and_a_webrtc_member_hear_each_other() {
    phone_and_member_hear_each_other(Profile::AesCm128HmacSha1_80);
}

#[test]
fn an_aead_aes_128_gcm_leg_and_a_webrtc_member_hear_each_other() {
    phone_and_member_hear_each_other(Profile::AeadAes128Gcm);
}

#[test]
fn packets_not_under_the_phones_key_are_dropped_and_latch_nothing_but_the_phone_may_move() {
    const PROFILE: Profile = Profile::AesCm128HmacSha1_80;
    // A learning window long enough that the strangers surely come within it: a plain leg
    // would latch onto the first of them.
    let h = Harness::with_config(MediaConfig {
        rtp_latch_window_ms: 30_000,
        ..MediaConfig::loopback(1)
    });
    let webrtc = h.join(PeerSpec::multi(MEMBER, 0));
    let mut events = h.engine.events();
    let keys = LegKeys::new(PROFILE);
    let leg = MemberId::from("sip-leg");
    let leg_addr = add_leg(&h, &leg, (RtpCodec::Opus, OPUS_PT), None, None, keys.leg());

    // Strangers send the leg's payload type: in the clear, and under a key of their own.
    let clear = Phone::new(&["127.0.0.2"], STRANGER, 0x2222_2222, PhoneKeys::default());
    let keyed = Phone::new(
        &["127.0.0.2"],
        STRANGER,
        0x3333_3333,
        PhoneKeys::stranger(PROFILE),
    );
    clear.send_to(leg_addr);
    keyed.send_to(leg_addr);
    assert!(
        wait_until(SETTLE, || srtp_failed(&h) >= 100 && keyed.sent() >= 50),
        "SRTP failures: {}",
        srtp_failed(&h)
    );
    assert_eq!(packets_from(&webrtc, STRANGER, false), 0);
    assert_eq!(
        counter(&h, |c| c.leg_foreign_dropped),
        0,
        "dropped before the latch"
    );

    // The phone with the key latches the leg, the strangers still sending.
    let phone = Phone::new(
        &["127.0.0.1", "127.0.0.3"],
        PHONE,
        0x1111_1111,
        keys.phone(),
    );
    phone.send_to(leg_addr);
    assert!(
        wait_until(SETTLE, || phone.heard_member_on(0) >= 50
            && packets_from(&webrtc, PHONE, false) >= 50),
        "the phone hears {}, the member {}",
        phone.heard_member(),
        packets_from(&webrtc, PHONE, false)
    );
    assert_eq!(origins(&webrtc, false), vec![PHONE]);
    assert_eq!((clear.datagrams(), keyed.datagrams()), (0, 0));
    assert_eq!(phone.heard_member_on(1), 0);

    // The leg's own stats count what failed (at least what had failed before the phone came).
    let counted = h.rt.block_on(async {
        tokio::time::timeout(SETTLE, async {
            loop {
                match events.recv().await {
                    Some(MediaEvent::Stats { member, stats, .. })
                        if member == leg && stats.srtp_failed >= 100 =>
                    {
                        break stats;
                    }
                    Some(_) => continue,
                    None => panic!("events closed"),
                }
            }
        })
        .await
    });
    let stats = counted.expect("the leg's stats count the SRTP failures");
    assert_eq!(stats.foreign_dropped, 0);

    // Mid-call, long locked, the phone sends from another address: its authenticated packets
    // move the leg there.
    let member_before = packets_from(&webrtc, PHONE, false);
    phone.send_from(1);
    assert!(
        wait_until(SETTLE, || phone.heard_member_on(1) >= 50
            && packets_from(&webrtc, PHONE, false) >= member_before + 50),
        "after the move the phone hears {}",
        phone.heard_member_on(1)
    );
    assert_eq!(webrtc.received(false)[0].missing(), 0);
    assert_eq!((clear.datagrams(), keyed.datagrams()), (0, 0));
    assert_eq!(packets_from(&webrtc, STRANGER, false), 0);
    assert_all_protected(&phone, PROFILE);
}

#[test]
fn key_presses_sent_to_an_srtp_leg_arrive_encrypted() {
    const PROFILE: Profile = Profile::AesCm128HmacSha1_32;
    let h = Harness::new(1);
    let _member = h.join(PeerSpec::sdk_tone(MEMBER, 440.0));
    let keys = LegKeys::new(PROFILE);
    // A silent phone: the leg sends to the address of its SDP.
    let phone = Phone::new(&["127.0.0.1"], PHONE, 0x5151_5151, keys.phone());
    let leg = MemberId::from("sip-leg");
    add_leg(
        &h,
        &leg,
        (RtpCodec::Pcmu, PCMU_PT),
        Some(TELEPHONE_EVENT),
        Some(phone.addrs[0]),
        keys.leg(),
    );
    assert!(wait_until(SETTLE, || phone.count(PCMU_PT) >= 25));

    h.rt.block_on(h.engine.send_dtmf(&leg, "1#")).expect("dtmf");
    let burst = || {
        let received = phone.received();
        let last = received.iter().rposition(|r| r.pt == TELEPHONE_EVENT)?;
        (phone.count(TELEPHONE_EVENT) >= 16 && received.len() > last + 5).then_some(received)
    };
    assert!(wait_until(SETTLE, || burst().is_some()), "the keys");
    let received = burst().expect("burst");
    let first = received
        .iter()
        .position(|r| r.pt == TELEPHONE_EVENT)
        .expect("events");
    let events = &received[first..first + 16];
    assert!(events.iter().all(|r| r.pt == TELEPHONE_EVENT));
    assert_eq!(
        (received[first - 1].pt, received[first + 16].pt),
        (PCMU_PT, PCMU_PT)
    );
    for (digit, packets) in [1u8, 11].iter().zip(events.chunks(8)) {
        for (k, r) in packets.iter().enumerate() {
            let end = r.payload[1] & 0x80 != 0;
            assert_eq!(
                (r.payload[0], end, r.marker, r.ts),
                (*digit, k >= 5, k == 0, packets[0].ts),
                "packet {k} of digit {digit}"
            );
        }
    }
    let span = &received[first - 1..=first + 16];
    assert!(span.iter().all(|r| r.ssrc == span[0].ssrc), "one stream");
    assert!(
        span.windows(2)
            .all(|w| w[1].seq == w[0].seq.wrapping_add(1)),
        "one sequence"
    );
    assert_all_protected(&phone, PROFILE);
}

#[test]
fn a_re_invite_keeps_unchanged_keys_and_takes_new_ones() {
    const PROFILE: Profile = Profile::AeadAes128Gcm;
    let h = Harness::new(1);
    let webrtc = h.join(PeerSpec::multi(MEMBER, 0));
    let first = LegKeys::new(PROFILE);
    let leg = MemberId::from("sip-leg");
    let leg_addr = add_leg(&h, &leg, (RtpCodec::Opus, OPUS_PT), None, None, first.leg());
    let phone = Phone::new(&["127.0.0.1"], PHONE, 0x1111_1111, first.phone());
    phone.send_to(leg_addr);
    // Past the phone's sequence wrap: its rollover counter is 1.
    let wrapped = u64::from(u16::MAX - FIRST_SEQ) + 30;
    assert!(wait_until(SETTLE, || phone.sent() >= wrapped
        && packets_from(&webrtc, PHONE, false) >= wrapped
        && phone.heard_member() >= 50));
    let reconfigure = |keys: &LegKeys| {
        h.rt.block_on(h.engine.configure_rtp_leg(
            &leg,
            RtpLegConfig {
                codec: RtpCodec::Opus,
                payload_type: OPUS_PT,
                telephone_event: None,
                remote: Some(phone.addrs[0]),
                srtp: Some(keys.leg()),
            },
        ))
        .expect("configure");
    };

    // A re-INVITE with the same keys (say, hold and resume): nothing restarts, so the leg
    // still expects the phone's rollover counter.
    reconfigure(&first);
    let (member_before, phone_before) = (packets_from(&webrtc, PHONE, false), phone.heard_member());
    assert!(
        wait_until(SETTLE, || packets_from(&webrtc, PHONE, false)
            >= member_before + 50
            && phone.heard_member() >= phone_before + 50),
        "after the same keys the member hears {} more, SRTP failures {}",
        packets_from(&webrtc, PHONE, false) - member_before,
        srtp_failed(&h)
    );
    assert_eq!(srtp_failed(&h), 0);
    assert_all_protected(&phone, PROFILE);

    // New keys both ways.
    let second = LegKeys::new(PROFILE);
    reconfigure(&second);
    phone.rekey(second.phone());
    let (member_before, phone_before) = (packets_from(&webrtc, PHONE, false), phone.heard_member());
    assert!(
        wait_until(SETTLE, || packets_from(&webrtc, PHONE, false)
            >= member_before + 50
            && phone.heard_member() >= phone_before + 50),
        "after new keys the member hears {} more",
        packets_from(&webrtc, PHONE, false) - member_before
    );

    // The old keys are worth nothing now.
    let failed_before = srtp_failed(&h);
    let stale = Phone::new(&["127.0.0.2"], STRANGER, 0x2222_2222, first.phone());
    stale.send_to(leg_addr);
    assert!(wait_until(SETTLE, || srtp_failed(&h) >= failed_before + 50));
    assert_eq!(packets_from(&webrtc, STRANGER, false), 0);
    assert_eq!(stale.datagrams(), 0);
}
