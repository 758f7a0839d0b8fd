//! Control API behaviour: inbound call legs (engine offer), mute, deaf, events, errors.

mod common;

use std::time::Duration;

use common::*;
use weft_media::sdp_sections;
use weft_media::testkit::{PeerSpec, TestPeer, wait_until};
use weft_media::{
    MediaError, MediaKind, MemberId, MemberOptions, OfferOptions, RoomId, RoomOptions,
};

#[test]
fn inbound_leg_made_from_an_engine_offer_exchanges_media() {
    let h = Harness::new(1);
    let caller = h.join(PeerSpec::sdk(1));
    let callee_id = MemberId::from("callee");
    let offer =
        h.rt.block_on(h.engine.create_offer(
            &h.room,
            &callee_id,
            OfferOptions::default(),
            MemberOptions::default(),
        ))
        .expect("offer");
    assert!(offer.contains("a=ice-lite"), "ICE-lite offer");
    // The browser SDK cannot answer a BUNDLEd offer with two m-lines: one transport per m-line.
    assert!(
        !sdp_sections::is_bundled(&offer),
        "no BUNDLE group:\n{offer}"
    );
    let parts = sdp_sections::split_sections(&offer);
    assert_eq!(parts.len(), 2, "one audio and one video m-line");
    let attr = |sdp: &str, name: &str| -> Vec<String> {
        sdp.lines()
            .filter_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().next().unwrap_or("").to_owned())
            .collect()
    };
    for (_, part) in &parts {
        assert!(
            part.contains("a=candidate:"),
            "candidates inline in every section"
        );
    }
    let ufrags = attr(&offer, "a=ice-ufrag:");
    assert!(ufrags.len() == 2 && ufrags[0] != ufrags[1], "{ufrags:?}");
    let streams = attr(&offer, "a=msid:");
    assert!(
        streams.len() == 2 && streams[0] == streams[1],
        "one stream: {streams:?}"
    );
    // Two client transports, as a browser makes them: each answers its own section.
    let (callee_audio, audio_answer) =
        TestPeer::answer(PeerSpec::sdk(2), &parts[0].1).expect("audio answer");
    let (callee_video, video_answer) =
        TestPeer::answer(PeerSpec::sdk(3), &parts[1].1).expect("video answer");
    let answer = sdp_sections::join_unbundled(&[audio_answer, video_answer]);
    h.rt.block_on(h.engine.accept_answer(&callee_id, &answer))
        .expect("accept");
    assert!(wait_until(SETTLE, || callee_audio.is_connected()
        && callee_video.is_connected()));
    let ok = wait_until(SETTLE, || {
        origins(&callee_audio, false) == vec![1]
            && origins(&callee_video, true) == vec![1]
            && origins(&caller, false) == vec![2]
            && origins(&caller, true) == vec![3]
    });
    assert!(
        ok,
        "callee hears {:?} sees {:?}; caller hears {:?} sees {:?}",
        origins(&callee_audio, false),
        origins(&callee_video, true),
        origins(&caller, false),
        origins(&caller, true)
    );
    assert!(origins(&callee_audio, true).is_empty() && origins(&callee_video, false).is_empty());
    let again = h.rt.block_on(h.engine.accept_answer(&callee_id, &answer));
    assert!(matches!(again, Err(MediaError::State(_))), "{again:?}");

    // Commands reach the member's second transport: muting video stops what it sends.
    h.rt.block_on(h.engine.set_muted(&callee_id, MediaKind::Video, true))
        .expect("mute");
    std::thread::sleep(Duration::from_millis(200));
    let seen = packets_from(&caller, 3, true);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(packets_from(&caller, 3, true), seen, "video muted");
    assert!(packets_from(&caller, 2, false) > 0, "audio still flows");
    // Removing the member removes both of its transports.
    h.rt.block_on(h.engine.remove_member(&callee_id))
        .expect("remove");
    let peers = || -> usize {
        h.rt.block_on(h.engine.shard_counters())
            .expect("counters")
            .iter()
            .map(|c| c.peers)
            .sum()
    };
    assert!(
        wait_until(SETTLE, || peers() == 1),
        "{} peers left",
        peers()
    );
}

#[test]
fn mute_stops_forwarding_and_unmute_resumes_on_a_keyframe() {
    let h = Harness::new(1);
    let speaker = h.join(PeerSpec::multi(1, 0));
    let listener = h.join(PeerSpec::multi(2, 0));
    assert_video_mute_round_trip(&h, &listener);
    drop(speaker);
}

#[test]
fn deaf_member_receives_no_audio() {
    let h = Harness::new(1);
    let _a = h.join(PeerSpec::multi(1, 0));
    let b = h.join(PeerSpec::multi(2, 0));
    assert!(wait_until(SETTLE, || packets_from(&b, 1, false) > 10));
    h.rt.block_on(h.engine.set_deaf(&Harness::member(2), true))
        .expect("deaf");
    std::thread::sleep(Duration::from_millis(200));
    let (audio, video) = (packets_from(&b, 1, false), packets_from(&b, 1, true));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(packets_from(&b, 1, false), audio);
    assert!(packets_from(&b, 1, true) > video);
}

#[test]
fn update_media_adds_video_to_an_audio_only_member() {
    let h = Harness::new(1);
    let (audio_only, first_answer) = h.join_with_answer(PeerSpec {
        video: false,
        ..PeerSpec::multi(1, 0)
    });
    let other = h.join(PeerSpec::multi(2, 0));
    assert!(wait_until(SETTLE, || origins(&audio_only, false) == vec![2]));
    assert!(origins(&audio_only, true).is_empty(), "no video slot yet");

    let offer = audio_only.offer_video().expect("offer");
    let answer =
        h.rt.block_on(h.engine.update_media(&Harness::member(1), &offer))
            .expect("update_media");
    audio_only.accept_answer(&answer).expect("answer");
    // Weft seals what it sends on the SSRCs it announced first; a renegotiation keeps them.
    let audio_ssrcs = |sdp: &str| -> Vec<String> {
        let audio = sdp
            .split("m=")
            .find(|s| s.starts_with("audio"))
            .unwrap_or("");
        audio
            .lines()
            .filter(|l| l.starts_with("a=ssrc:"))
            .map(|l| l.split_whitespace().next().unwrap_or("").to_owned())
            .collect()
    };
    assert!(!audio_ssrcs(&first_answer).is_empty(), "{first_answer}");
    assert_eq!(audio_ssrcs(&answer), audio_ssrcs(&first_answer));

    assert!(
        wait_until(SETTLE, || origins(&audio_only, true) == vec![2]),
        "receives video now"
    );
    assert!(
        wait_until(SETTLE, || origins(&audio_only, false) == vec![2]),
        "still receives audio on the same stream"
    );
    assert!(
        wait_until(SETTLE, || origins(&other, true) == vec![1]),
        "publishes video now"
    );
}

#[test]
fn bad_requests_get_clear_errors() {
    let h = Harness::new(2);
    let room = RoomId::from("room");
    let exists =
        h.rt.block_on(h.engine.create_room(&room, RoomOptions::default()));
    assert_eq!(exists, Err(MediaError::RoomExists(room)));
    let nobody = MemberId::from("nobody");
    let missing = h.rt.block_on(h.engine.remove_member(&nobody));
    assert_eq!(missing, Err(MediaError::NoSuchMember(nobody.clone())));
    let bad_sdp =
        h.rt.block_on(
            h.engine
                .join(&h.room, &nobody, "v=0\r\nnot sdp", MemberOptions::default()),
        );
    assert!(matches!(bad_sdp, Err(MediaError::Sdp(_))), "{bad_sdp:?}");
    assert_eq!(
        h.engine.member_count(),
        0,
        "a failed join leaves nothing behind"
    );
    let no_room =
        h.rt.block_on(
            h.engine
                .join(&RoomId::from("x"), &nobody, "v=0", MemberOptions::default()),
        );
    assert_eq!(no_room, Err(MediaError::NoSuchRoom(RoomId::from("x"))));
    let small = RoomId::from("small");
    h.rt.block_on(h.engine.create_room(
        &small,
        RoomOptions {
            max_members: Some(1),
        },
    ))
    .expect("room");
    let (_p1, o1) = TestPeer::offer(PeerSpec::sdk(1)).expect("offer");
    let (_p2, o2) = TestPeer::offer(PeerSpec::sdk(2)).expect("offer");
    h.rt.block_on(
        h.engine
            .join(&small, &MemberId::from("a"), &o1, MemberOptions::default()),
    )
    .expect("first fits");
    let full =
        h.rt.block_on(
            h.engine
                .join(&small, &MemberId::from("b"), &o2, MemberOptions::default()),
        );
    assert_eq!(full, Err(MediaError::RoomFull(small.clone())));
    h.rt.block_on(h.engine.close_room(&small)).expect("close");
    assert_eq!(h.engine.member_count(), 0);
}

#[test]
fn idle_sdk_members_are_not_padded() {
    // Bandwidth estimation is on (the default), but one-slot members do not run it: str0m's
    // pacer would pad each of them to 50 kbit/s (hundreds of datagrams and timer wake-ups a
    // second) even with no media flowing.
    let h = Harness::new(1);
    let a = h.join(PeerSpec::sdk(1));
    let b = h.join(PeerSpec::sdk(2));
    assert!(wait_until(SETTLE, || a.is_connected() && b.is_connected()));
    a.set_sending(false);
    b.set_sending(false);
    std::thread::sleep(Duration::from_secs(1));
    let counters = || h.rt.block_on(h.engine.shard_counters()).expect("counters")[0].clone();
    let before = counters();
    std::thread::sleep(Duration::from_secs(2));
    let after = counters();
    let sent = after.datagrams_out - before.datagrams_out;
    let ticks = after.timer_ticks - before.timer_ticks;
    assert!(sent < 40, "{sent} datagrams in 2 s to two idle members");
    assert!(
        ticks < 80,
        "{ticks} timer wake-ups in 2 s for two idle members"
    );
}
