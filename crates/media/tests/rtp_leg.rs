//! Acceptance 8: a plain-RTP leg in a room exchanges audio with a WebRTC member.

mod common;

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{Harness, SETTLE, origins};
use weft_media::testkit::{PeerSpec, audio_payload, tag_of};
use weft_media::{MemberId, MemberOptions, RtpCodec, RtpLegOptions};

const OPUS_PT: u8 = 111;
const LEG_TAG: u32 = 9;

fn rtp(seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut d = vec![0x80, OPUS_PT];
    d.extend_from_slice(&seq.to_be_bytes());
    d.extend_from_slice(&ts.to_be_bytes());
    d.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    d.extend_from_slice(payload);
    d
}

#[test]
fn plain_rtp_leg_and_webrtc_member_hear_each_other() {
    let h = Harness::new(1);
    let webrtc = h.join(PeerSpec::multi(1, 0));
    let leg = MemberId::from("sip-leg");
    let leg_addr =
        h.rt.block_on(h.engine.add_rtp_leg(
            &h.room,
            &leg,
            RtpLegOptions {
                codec: RtpCodec::Opus,
                payload_type: OPUS_PT,
                remote: None,
                telephone_event: None,
                srtp: None,
                member: MemberOptions::default(),
            },
        ))
        .expect("leg");

    // The SIP side: sends 20 ms Opus-shaped packets (crossing a sequence wrap) and latches nothing
    // in advance: the leg learns where to send from what it receives (symmetric RTP).
    let sip = UdpSocket::bind("127.0.0.1:0").expect("socket");
    sip.set_read_timeout(Some(Duration::from_millis(5)))
        .expect("timeout");
    let payload = audio_payload(LEG_TAG, 60);
    let mut received_seqs = BTreeSet::new();
    let mut from_webrtc = 0u64;
    let mut buf = [0u8; 1500];
    let (mut seq, mut ts) = (65_500u16, 0u32);
    let mut next_send = Instant::now();
    let deadline = Instant::now() + SETTLE;
    let leg_packets_heard = || webrtc.received(false).first().map_or(0, |s| s.packets);
    while Instant::now() < deadline && (from_webrtc < 100 || leg_packets_heard() < 100) {
        if Instant::now() >= next_send {
            sip.send_to(&rtp(seq, ts, &payload), leg_addr)
                .expect("send");
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(960);
            next_send += Duration::from_millis(20);
        }
        if let Ok((n, from)) = sip.recv_from(&mut buf) {
            assert_eq!(from, leg_addr, "the leg answers from its own address");
            let d = &buf[..n];
            assert_eq!(d[0] >> 6, 2, "RTP version 2");
            assert_eq!(d[1] & 0x7f, OPUS_PT, "the leg's payload type");
            assert_eq!(
                tag_of(&d[12..], false),
                Some(1),
                "the WebRTC member's audio"
            );
            received_seqs.insert(u16::from_be_bytes([d[2], d[3]]));
            from_webrtc += 1;
        }
    }
    assert!(from_webrtc >= 100, "leg sent {from_webrtc} packets");
    assert!(
        leg_packets_heard() >= 100,
        "WebRTC member heard {} packets",
        leg_packets_heard()
    );
    assert_eq!(
        origins(&webrtc, false),
        vec![LEG_TAG],
        "WebRTC member hears the leg"
    );
    let first = *received_seqs.first().expect("seqs");
    let last = *received_seqs.last().expect("seqs");
    assert_eq!(
        usize::from(last - first) + 1,
        received_seqs.len(),
        "continuous sequence"
    );
    let heard = &webrtc.received(false)[0];
    assert_eq!(
        heard.missing(),
        0,
        "the leg's packets arrive without gaps across the wrap"
    );

    h.rt.block_on(h.engine.remove_member(&leg)).expect("remove");
    let counters = h.rt.block_on(h.engine.shard_counters()).expect("counters");
    assert_eq!(counters[0].peers, 1);
}
