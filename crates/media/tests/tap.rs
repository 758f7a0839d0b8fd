//! Taps: a copy of the audio a member sends, for recording.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::{Harness, SETTLE};
use weft_media::testkit::{PeerSpec, tag_of, wait_until};
use weft_media::{
    AudioTap, MemberId, MemberOptions, RtpCodec, RtpLegOptions, TAP_QUEUE, TapPacket,
};

/// A PCMU packet whose payload starts with the big-endian `n`.
fn pcmu(seq: u16, ts: u32, n: u32) -> Vec<u8> {
    let mut d = vec![0x80, 0];
    d.extend_from_slice(&seq.to_be_bytes());
    d.extend_from_slice(&ts.to_be_bytes());
    d.extend_from_slice(&0x0bad_cafeu32.to_be_bytes());
    d.extend_from_slice(&n.to_be_bytes());
    d.resize(12 + 160, 0xff);
    d
}

fn add_leg(h: &Harness, member: &MemberId) -> SocketAddr {
    h.rt.block_on(h.engine.add_rtp_leg(
        &h.room,
        member,
        RtpLegOptions {
            codec: RtpCodec::Pcmu,
            payload_type: 0,
            remote: None,
            telephone_event: None,
            srtp: None,
            member: MemberOptions::default(),
        },
    ))
    .expect("leg")
}

/// The next packet of `tap`, waiting at most [`SETTLE`].
fn next(h: &Harness, tap: &mut AudioTap) -> Option<TapPacket> {
    h.rt.block_on(async { tokio::time::timeout(SETTLE, tap.recv()).await })
        .expect("a packet or the end of the tap in time")
}

#[test]
fn a_leg_tap_yields_what_the_leg_sent_in_order_and_a_full_tap_drops_and_counts() {
    let h = Harness::new(1);
    let leg = MemberId::from("caller");
    let leg_addr = add_leg(&h, &leg);
    let mut tap = h.rt.block_on(h.engine.tap(&leg)).expect("tap");
    let phone = UdpSocket::bind("127.0.0.1:0").expect("socket");

    // In order, across a sequence wrap, with the payloads as sent.
    for i in 0..10u32 {
        let seq = 65_530u16.wrapping_add(i as u16);
        phone
            .send_to(&pcmu(seq, 1_000 + 160 * i, i), leg_addr)
            .expect("send");
    }
    let mut first = None;
    for i in 0..10u32 {
        let p = next(&h, &mut tap).expect("a packet");
        assert_eq!(p.codec, RtpCodec::Pcmu);
        assert_eq!(&p.payload[..4], &i.to_be_bytes(), "payloads in order");
        assert_eq!(p.payload.len(), 160);
        assert_eq!(p.timestamp, 1_000 + 160 * i);
        let first = *first.get_or_insert(p.sequence);
        assert_eq!(
            p.sequence,
            first + u64::from(i),
            "extended sequence numbers"
        );
    }

    // Nobody reads: the tap fills, and the shard drops and counts the rest without waiting.
    const FLOOD: u32 = TAP_QUEUE as u32 + 44;
    for i in 0..FLOOD {
        let seq = 4u16.wrapping_add(i as u16);
        phone
            .send_to(&pcmu(seq, 2_600 + 160 * i, 1_000 + i), leg_addr)
            .expect("send");
        if i % 64 == 63 {
            // Let loopback keep up (the leg's socket buffer is the kernel default).
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert!(
        wait_until(SETTLE, || tap.dropped() == 44),
        "dropped {}",
        tap.dropped()
    );
    for i in 0..TAP_QUEUE as u32 {
        let p = next(&h, &mut tap).expect("a packet");
        assert_eq!(&p.payload[..4], &(1_000 + i).to_be_bytes());
    }
    // The shard was never held up: the leg is still tapped, and a new packet comes through.
    phone
        .send_to(&pcmu(400, 99_000, 7_777), leg_addr)
        .expect("send");
    let p = next(&h, &mut tap).expect("a packet");
    assert_eq!(&p.payload[..4], &7_777u32.to_be_bytes());

    // A second tap replaces the first; removing the member ends it.
    let mut second = h.rt.block_on(h.engine.tap(&leg)).expect("tap");
    assert!(next(&h, &mut tap).is_none(), "the first tap ended");
    phone
        .send_to(&pcmu(401, 99_160, 8_888), leg_addr)
        .expect("send");
    let p = next(&h, &mut second).expect("a packet");
    assert_eq!(&p.payload[..4], &8_888u32.to_be_bytes());
    h.rt.block_on(h.engine.remove_member(&leg)).expect("remove");
    assert!(next(&h, &mut second).is_none(), "the member is gone");
}

#[test]
fn a_webrtc_member_tap_yields_its_opus_payloads() {
    let h = Harness::new(1);
    let peer = h.join(PeerSpec::sdk(5));
    let mut tap =
        h.rt.block_on(h.engine.tap(&Harness::member(5)))
            .expect("tap");
    let mut last: Option<u64> = None;
    for _ in 0..50 {
        let p = next(&h, &mut tap).expect("a packet");
        assert_eq!(p.codec, RtpCodec::Opus);
        assert_eq!(tag_of(&p.payload, false), Some(5), "the member's own audio");
        if let Some(last) = last {
            assert!(p.sequence > last, "in order: {last} then {}", p.sequence);
        }
        last = Some(p.sequence);
    }
    // Dropping the tap ends it; the member carries on.
    drop(tap);
    let sent = peer.sent_audio();
    assert!(wait_until(SETTLE, || peer.sent_audio() > sent + 10));
    assert!(matches!(
        h.rt.block_on(h.engine.tap(&MemberId::from("nobody"))),
        Err(weft_media::MediaError::NoSuchMember(_))
    ));
}
