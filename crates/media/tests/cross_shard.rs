//! Rooms that span shards: engines with two shards and a per-shard limit of one or two members,
//! so rooms of two to four spread over both.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::*;
use weft_media::testkit::{PeerSpec, TestPeer, audio_payload, tag_of, wait_until};
use weft_media::{
    LayerPreference, MediaConfig, MediaEvent, MemberId, MemberOptions, RtpCodec, RtpLegOptions,
    ShardCounters, VideoLayer,
};

/// Two shards; a room spreads once a shard has two of its members.
fn harness() -> Harness {
    Harness::with_config(MediaConfig {
        room_members_per_shard: 2,
        ..MediaConfig::loopback(2)
    })
}

fn counters(h: &Harness) -> Vec<ShardCounters> {
    h.rt.block_on(h.engine.shard_counters()).expect("counters")
}

#[test]
fn multi_slot_members_on_two_shards_receive_each_other() {
    let h = harness();
    let peers: Vec<_> = (1..=4).map(|tag| h.join(PeerSpec::multi(tag, 3))).collect();
    let c = counters(&h);
    assert_eq!((c[0].peers, c[1].peers), (2, 2), "two members per shard");
    assert_eq!((c[0].remote_members, c[1].remote_members), (2, 2));
    assert_everyone_receives_everyone(&peers);
    let c = counters(&h);
    assert!(c.iter().all(|c| c.relayed_out > 0 && c.relayed_in > 0));
}

#[test]
fn one_slot_members_on_two_shards_hear_the_mix_and_see_the_speaker() {
    let h = harness();
    let mut events = h.engine.events();
    let peers = join_tone_members(&h);
    let c = counters(&h);
    assert_eq!((c[0].peers, c[1].peers), (2, 1));
    level_tones(&peers);
    assert_mix_minus(&peers);

    // Speakers on either shard: 3 is on shard 1, 2 and 1 on shard 0.
    switch_speaker(&peers, 3, None);
    switch_speaker(&peers, 2, None);
    switch_speaker(&peers, 1, None);

    let mut speakers = Vec::new();
    while let Some(event) = events.try_recv() {
        if let MediaEvent::ActiveSpeaker { member, .. } = event {
            speakers.push(member);
        }
    }
    let expected: Vec<MemberId> = [3, 2, 1].into_iter().map(Harness::member).collect();
    assert!(
        speakers.ends_with(&expected),
        "one active-speaker event per change, room-wide: {speakers:?}"
    );
    for p in &peers {
        assert_seamless_speaker_video(p);
    }
}

/// Over one second: the messages shard 0 relayed, and the audio and video packets `publishers`
/// (members on shard 0) sent.
fn relay_window(h: &Harness, publishers: &[TestPeer]) -> (u64, u64, u64) {
    let sent = || {
        publishers.iter().fold((0, 0), |(a, v), p| {
            (a + p.sent_audio(), v + p.sent_packets() - p.sent_audio())
        })
    };
    let (relayed, (audio, video)) = (counters(h)[0].relayed_out, sent());
    std::thread::sleep(Duration::from_secs(1));
    let (relayed_now, (audio_now, video_now)) = (counters(h)[0].relayed_out, sent());
    (relayed_now - relayed, audio_now - audio, video_now - video)
}

#[test]
fn video_is_relayed_only_to_a_shard_whose_subscribers_receive_it() {
    let h = harness();
    let publishers: Vec<_> = (1..=2).map(|tag| h.join(PeerSpec::multi(tag, 1))).collect();
    // Shard 1 gets a member without video: nobody there receives the publishers' video.
    let audio_only = h.join(PeerSpec {
        video: false,
        extra_video_slots: 0,
        ..PeerSpec::multi(3, 1)
    });
    let c = counters(&h);
    assert_eq!((c[0].peers, c[1].peers), (2, 1));
    assert!(wait_until(SETTLE, || origins(&audio_only, false) == [1, 2]));
    // Packets in flight at the window's edges, and control messages.
    let slack = 10;
    let (relayed, audio, video) = relay_window(&h, &publishers);
    assert!(video > 20, "the publishers send video ({video} packets)");
    assert!(
        relayed <= audio + slack,
        "audio only: {relayed} relayed for {audio} audio and {video} video packets"
    );

    // A member with video slots joins shard 1: the video is relayed, starting on a keyframe.
    let viewer = h.join(PeerSpec::multi(4, 1));
    assert_eq!(counters(&h)[1].peers, 2);
    assert!(wait_until(SETTLE, || origins(&viewer, true) == [1, 2]));
    for tag in [1, 2] {
        let stream = video_from(&viewer, tag).expect("video");
        assert_eq!(stream.first_is_keyframe, Some(true), "from {tag}");
    }
    let (relayed, audio, video) = relay_window(&h, &publishers);
    assert!(
        relayed + slack >= audio + video,
        "audio and video: {relayed} relayed for {audio} audio and {video} video packets"
    );

    // It leaves: the video stops crossing again.
    h.remove(4);
    std::thread::sleep(Duration::from_millis(300));
    let (relayed, audio, video) = relay_window(&h, &publishers);
    assert!(
        relayed <= audio + slack,
        "audio only again: {relayed} relayed for {audio} audio and {video} video packets"
    );
    assert!(wait_until(SETTLE, || origins(&audio_only, false) == [1, 2]));
}

#[test]
fn late_joiner_on_the_second_shard_gets_a_keyframe_from_the_first() {
    let h = harness();
    let _peers = assert_late_joiner_gets_a_keyframe(&h);
    let c = counters(&h);
    assert_eq!(
        (c[0].peers, c[1].peers),
        (2, 1),
        "the late joiner is on shard 1"
    );
}

#[test]
fn a_member_leaving_shard_0_is_forgotten_on_both_shards() {
    let h = harness();
    let peers: Vec<_> = (1..=4).map(|tag| h.join(PeerSpec::multi(tag, 3))).collect();
    for p in &peers {
        let others: Vec<u32> = (1..=4).filter(|t| *t != p.tag()).collect();
        assert!(wait_until(SETTLE, || origins(p, true) == others));
    }
    let c = counters(&h);
    assert_eq!(
        (c[0].sources, c[1].sources),
        (8, 8),
        "audio and video of four"
    );

    h.remove(1);
    let from_1 = |p: &TestPeer| {
        p.received(false)
            .iter()
            .chain(p.received(true).iter())
            .filter(|s| s.last_origin == Some(1))
            .map(|s| s.packets)
            .sum::<u64>()
    };
    let to_1 = |p: &TestPeer| {
        p.received(false)
            .iter()
            .chain(p.received(true).iter())
            .map(|s| s.packets)
            .sum::<u64>()
    };
    // Packets already on their way (relayed, or queued in the test peers) arrive first.
    std::thread::sleep(Duration::from_millis(500));
    let before: Vec<u64> = peers[1..].iter().map(from_1).collect();
    let received_before = to_1(&peers[0]);
    std::thread::sleep(Duration::from_millis(500));
    let after: Vec<u64> = peers[1..].iter().map(from_1).collect();
    assert_eq!(after, before, "others still receive member 1");
    assert_eq!(to_1(&peers[0]), received_before, "member 1 still receives");

    let forgotten = wait_until(SETTLE, || {
        let c = counters(&h);
        (c[0].peers, c[1].peers) == (1, 2)
            && (c[0].remote_members, c[1].remote_members) == (2, 1)
            && (c[0].sources, c[1].sources) == (6, 6)
    });
    let c = counters(&h);
    assert!(forgotten, "shards still know member 1: {c:?}");
    // One peer left on shard 0: one ufrag and one learned address.
    assert_eq!(c[0].demux_entries, 2);
    assert_eq!(h.engine.member_count(), 3);

    for tag in 2..=4 {
        h.remove(tag);
    }
    let empty = wait_until(SETTLE, || {
        counters(&h).iter().all(|c| {
            c.peers == 0 && c.remote_members == 0 && c.sources == 0 && c.demux_entries == 0
        })
    });
    assert!(empty, "state left: {:?}", counters(&h));
    h.rt.block_on(h.engine.close_room(&h.room)).expect("close");
    assert!(
        counters(&h).iter().all(|c| c.rooms == 0),
        "every replica closed"
    );
}

#[test]
fn mute_on_one_shard_stops_forwarding_on_the_other_and_unmute_resumes_on_a_keyframe() {
    let h = Harness::with_config(MediaConfig {
        room_members_per_shard: 1,
        ..MediaConfig::loopback(2)
    });
    let _speaker = h.join(PeerSpec::multi(1, 0));
    let listener = h.join(PeerSpec::multi(2, 0));
    let c = counters(&h);
    assert_eq!((c[0].peers, c[1].peers), (1, 1));
    assert_video_mute_round_trip(&h, &listener);
}

#[test]
fn a_subscriber_on_the_other_shard_switches_simulcast_layers_on_keyframes() {
    let h = Harness::with_config(MediaConfig {
        room_members_per_shard: 1,
        ..MediaConfig::loopback(2)
    });
    let _publisher = h.join(PeerSpec::simulcast(1));
    let subscriber = h.join(PeerSpec::multi(2, 0));
    assert_eq!(counters(&h)[1].peers, 1, "the subscriber is on shard 1");
    let layer = || video_from(&subscriber, 1).and_then(|s| s.last_layer);
    assert!(
        wait_until(SETTLE, || layer() == Some(2)),
        "reaches the top layer, got {:?}",
        layer()
    );
    // Layers carry about 72, 168 and 264 kbit/s: 110 kbit/s only fits the lowest.
    let capped = LayerPreference {
        max_layer: VideoLayer::High,
        max_bitrate_bps: Some(110_000),
    };
    h.rt.block_on(h.engine.set_layer_preference(&Harness::member(2), capped))
        .expect("cap");
    assert!(
        wait_until(SETTLE, || layer() == Some(0)),
        "got {:?}",
        layer()
    );
    let video = video_from(&subscriber, 1).expect("video");
    assert_seamless_layer_switches(&video);
}

#[test]
fn a_plain_rtp_leg_on_the_other_shard_exchanges_audio() {
    const OPUS_PT: u8 = 111;
    const LEG_TAG: u32 = 9;
    let h = Harness::with_config(MediaConfig {
        room_members_per_shard: 1,
        ..MediaConfig::loopback(2)
    });
    let webrtc = h.join(PeerSpec::multi(1, 0));
    let leg = MemberId::from("sip-leg");
    let options = RtpLegOptions {
        codec: RtpCodec::Opus,
        payload_type: OPUS_PT,
        remote: None,
        srtp: None,
        member: MemberOptions::default(),
        telephone_event: None,
    };
    let leg_addr =
        h.rt.block_on(h.engine.add_rtp_leg(&h.room, &leg, options))
            .expect("leg");
    assert_eq!(counters(&h)[1].peers, 1, "the leg is on shard 1");

    let sip = UdpSocket::bind("127.0.0.1:0").expect("socket");
    sip.set_read_timeout(Some(Duration::from_millis(5)))
        .expect("timeout");
    let payload = audio_payload(LEG_TAG, 60);
    let (mut seq, mut ts, mut from_webrtc) = (1u16, 0u32, 0u64);
    let mut buf = [0u8; 1500];
    let mut next_send = Instant::now();
    let deadline = Instant::now() + SETTLE;
    let heard = || webrtc.received(false).first().map_or(0, |s| s.packets);
    while Instant::now() < deadline && (from_webrtc < 50 || heard() < 50) {
        if Instant::now() >= next_send {
            let mut d = vec![0x80, OPUS_PT];
            d.extend_from_slice(&seq.to_be_bytes());
            d.extend_from_slice(&ts.to_be_bytes());
            d.extend_from_slice(&0x1234_5678u32.to_be_bytes());
            d.extend_from_slice(&payload);
            sip.send_to(&d, leg_addr).expect("send");
            (seq, ts) = (seq.wrapping_add(1), ts.wrapping_add(960));
            next_send += Duration::from_millis(20);
        }
        if let Ok((n, _)) = sip.recv_from(&mut buf) {
            assert_eq!(tag_of(&buf[12..n], false), Some(1), "the member's audio");
            from_webrtc += 1;
        }
    }
    assert!(from_webrtc >= 50, "leg sent {from_webrtc} packets");
    assert!(heard() >= 50, "the member heard {} packets", heard());
    assert_eq!(origins(&webrtc, false), vec![LEG_TAG]);
    assert_eq!(webrtc.received(false)[0].missing(), 0);
}
