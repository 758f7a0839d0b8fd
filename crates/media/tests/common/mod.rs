//! Helpers shared by the integration tests: an engine on loopback and synthetic peers joining it.

#![allow(dead_code)]

use std::time::Duration;

use tokio::runtime::Runtime;
use weft_media::testkit::{PeerSpec, StreamReport, TestPeer, tone_presence, wait_until};
use weft_media::{
    MediaConfig, MediaEngine, MediaKind, MemberId, MemberOptions, RoomId, RoomOptions,
};

/// Generous bound for things that take milliseconds on an idle machine.
pub const SETTLE: Duration = Duration::from_secs(10);

/// An engine on loopback with one room.
pub struct Harness {
    pub rt: Runtime,
    pub engine: MediaEngine,
    pub room: RoomId,
}

impl Harness {
    pub fn new(shards: usize) -> Self {
        Self::with_config(MediaConfig::loopback(shards))
    }

    pub fn with_config(config: MediaConfig) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let engine = MediaEngine::start(config).expect("engine");
        let room = RoomId::from("room");
        rt.block_on(engine.create_room(&room, RoomOptions::default()))
            .expect("room");
        Self { rt, engine, room }
    }

    /// Member id of the peer with `tag`.
    pub fn member(tag: u32) -> MemberId {
        MemberId::from(format!("member-{tag}"))
    }

    /// Joins a synthetic peer and waits until it is connected.
    pub fn join(&self, spec: PeerSpec) -> TestPeer {
        self.join_with_answer(spec).0
    }

    /// Like `join`, also returning the engine's SDP answer.
    pub fn join_with_answer(&self, spec: PeerSpec) -> (TestPeer, String) {
        let member = Self::member(spec.tag);
        let (pending, offer) = TestPeer::offer(spec).expect("offer");
        let answer = self
            .rt
            .block_on(
                self.engine
                    .join(&self.room, &member, &offer, MemberOptions::default()),
            )
            .expect("join");
        let peer = pending.connect(&answer).expect("connect");
        assert!(
            wait_until(SETTLE, || peer.is_connected()),
            "peer {member} did not connect"
        );
        (peer, answer)
    }

    pub fn remove(&self, tag: u32) {
        self.rt
            .block_on(self.engine.remove_member(&Self::member(tag)))
            .expect("remove");
    }
}

/// Tags of the senders a peer receives on `video` (or audio) streams, sorted.
pub fn origins(peer: &TestPeer, video: bool) -> Vec<u32> {
    let mut tags: Vec<u32> = peer
        .received(video)
        .iter()
        .flat_map(|s| s.origins.clone())
        .collect();
    tags.sort_unstable();
    tags.dedup();
    tags
}

/// Three members' test tones: `(tag, frequency)`, distinct and far apart.
pub const TONES: [(u32, f32); 3] = [(1, 440.0), (2, 660.0), (3, 990.0)];

/// Amplitudes of every member's tone in what `peer` heard during the last second.
pub fn heard(peer: &TestPeer) -> Vec<(u32, f32)> {
    let pcm = peer.received_pcm();
    let tail = &pcm[pcm.len().saturating_sub(48_000)..];
    TONES
        .iter()
        .map(|(tag, f)| (*tag, tone_presence(tail, *f)))
        .collect()
}

/// The sender of the latest packet on a one-slot peer's video stream.
pub fn video_origin(peer: &TestPeer) -> Option<u32> {
    peer.received(true).first().and_then(|s| s.last_origin)
}

/// The video stream of `peer` that carries (or carried) `tag`.
pub fn video_from(peer: &TestPeer, tag: u32) -> Option<StreamReport> {
    peer.received(true)
        .into_iter()
        .find(|s| s.origins.contains(&tag))
}

/// Multi-slot peers: each receives every other peer's audio and video, one sender and one SSRC
/// per stream, no sequence gaps, video starting on a keyframe.
pub fn assert_everyone_receives_everyone(peers: &[TestPeer]) {
    let tags: Vec<u32> = peers.iter().map(TestPeer::tag).collect();
    for p in peers {
        let others: Vec<u32> = tags.iter().copied().filter(|t| *t != p.tag()).collect();
        let ok = wait_until(SETTLE, || {
            origins(p, false) == others
                && origins(p, true) == others
                && p.received(false).iter().all(|s| s.packets >= 50)
                && p.received(true).iter().all(|s| s.packets >= 30)
        });
        assert!(
            ok,
            "peer {} got audio {:?} video {:?}",
            p.tag(),
            origins(p, false),
            origins(p, true)
        );
    }
    for p in peers {
        for s in p.received(false).iter().chain(p.received(true).iter()) {
            assert_eq!(s.origins.len(), 1, "one sender per stream: {s:?}");
            assert_eq!(s.ssrcs.len(), 1, "one SSRC per stream");
            assert_eq!(
                s.missing(),
                0,
                "gap in stream {} of peer {}",
                s.mid,
                p.tag()
            );
        }
        for s in p.received(true) {
            assert_eq!(
                s.first_is_keyframe,
                Some(true),
                "video starts on a keyframe"
            );
        }
    }
}

/// One-slot peers playing [`TONES`]: each hears one continuous audio stream holding the others'
/// tones and not its own.
pub fn assert_mix_minus(peers: &[TestPeer]) {
    for p in peers {
        assert!(
            wait_until(SETTLE, || p.received_pcm().len() >= 72_000),
            "peer {} hears nothing",
            p.tag()
        );
        let levels = heard(p);
        for (tag, amplitude) in &levels {
            if *tag == p.tag() {
                assert!(
                    *amplitude < 0.01,
                    "peer {} hears itself: {levels:?}",
                    p.tag()
                );
            } else {
                assert!(
                    *amplitude > 0.03,
                    "peer {} misses {tag}: {levels:?}",
                    p.tag()
                );
            }
        }
        let audio = p.received(false);
        assert_eq!(audio.len(), 1, "one audio stream");
        assert_eq!(audio[0].ssrcs.len(), 1);
        assert_eq!(audio[0].missing(), 0);
    }
}

/// RTP packets `peer` received from `tag` on `video` (or audio) streams.
pub fn packets_from(peer: &TestPeer, tag: u32, video: bool) -> u64 {
    peer.received(video)
        .iter()
        .filter(|s| s.origins.contains(&tag))
        .map(|s| s.packets)
        .sum()
}

/// Member 1 mutes its video: `listener` stops getting it while audio goes on; unmuted, video
/// resumes on a keyframe with continuous sequence numbers.
pub fn assert_video_mute_round_trip(h: &Harness, listener: &TestPeer) {
    assert!(wait_until(SETTLE, || packets_from(listener, 1, true) > 10));
    let member = Harness::member(1);
    h.rt.block_on(h.engine.set_muted(&member, MediaKind::Video, true))
        .expect("mute");
    std::thread::sleep(Duration::from_millis(200));
    let muted_at = packets_from(listener, 1, true);
    let audio_at = packets_from(listener, 1, false);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        packets_from(listener, 1, true),
        muted_at,
        "video still flows"
    );
    assert!(
        packets_from(listener, 1, false) > audio_at + 10,
        "audio stopped too"
    );
    let keyframes = listener.received(true)[0].keyframes;
    h.rt.block_on(h.engine.set_muted(&member, MediaKind::Video, false))
        .expect("unmute");
    assert!(wait_until(SETTLE, || packets_from(listener, 1, true) > muted_at + 10));
    let video = &listener.received(true)[0];
    assert!(video.keyframes > keyframes, "resumed on a keyframe");
    assert_eq!(video.missing(), 0, "sequence continues across the mute");
}

/// Members 1 and 2 publish; once the first keyframe has aged, member 3 joins and must get
/// member 1's video starting on a keyframe within one second, asked for by a PLI. Returns the
/// three peers (late joiner last).
pub fn assert_late_joiner_gets_a_keyframe(h: &Harness) -> [TestPeer; 3] {
    let publisher = h.join(PeerSpec::multi(1, 0));
    let early = h.join(PeerSpec::multi(2, 0));
    assert!(wait_until(SETTLE, || early
        .received(true)
        .iter()
        .any(|s| s.keyframes > 0)));
    // Let the publisher's start-up keyframe age; it only sends another one when asked.
    std::thread::sleep(Duration::from_millis(500));
    let requests_before = publisher.keyframe_requests();
    let late = h.join(PeerSpec::multi(3, 0));
    let joined = std::time::Instant::now();
    assert!(wait_until(SETTLE, || late
        .received(true)
        .iter()
        .any(|s| s.keyframes > 0 && s.origins.contains(&1))));
    assert!(
        joined.elapsed() < Duration::from_secs(1),
        "keyframe took {:?}",
        joined.elapsed()
    );
    assert!(
        publisher.keyframe_requests() > requests_before,
        "PLI reached the publisher"
    );
    let video = video_from(&late, 1).expect("video from member 1");
    assert_eq!(video.first_is_keyframe, Some(true));
    [publisher, early, late]
}

/// A simulcast subscriber's stream: every layer switch on a keyframe, one SSRC, continuous
/// sequence numbers, timestamps never going back.
pub fn assert_seamless_layer_switches(video: &StreamReport) {
    assert!(
        video.layer_switches.iter().all(|(_, key)| *key),
        "switches on keyframes: {:?}",
        video.layer_switches
    );
    assert_eq!(video.ssrcs.len(), 1, "one SSRC across switches");
    assert_eq!(video.missing(), 0, "continuous sequence numbers");
    assert_eq!(video.timestamp_regressions, 0, "timestamps never go back");
}

/// Members 1–3, SDK-shaped (one slot of each kind), each playing its tone of [`TONES`].
pub fn join_tone_members(h: &Harness) -> Vec<TestPeer> {
    let peers: Vec<TestPeer> = TONES
        .iter()
        .map(|(tag, f)| h.join(PeerSpec::sdk_tone(*tag, *f)))
        .collect();
    peers
}

/// All members equally loud; what they heard so far (before the mix settled) is forgotten.
pub fn level_tones(peers: &[TestPeer]) {
    for p in peers {
        p.set_tone_amplitude(0.1);
    }
    std::thread::sleep(Duration::from_millis(300));
    for p in peers {
        p.clear_pcm();
    }
}

/// Makes `loud` the loudest member and waits until the others see it and it sees `previous`
/// (any other member when `None`).
pub fn switch_speaker(peers: &[TestPeer], loud: u32, previous: Option<u32>) {
    for p in peers {
        p.set_tone_amplitude(if p.tag() == loud { 0.5 } else { 0.05 });
    }
    for p in peers {
        let ok = wait_until(SETTLE, || {
            let origin = video_origin(p);
            if p.tag() == loud {
                origin.is_some_and(|o| o != loud && previous.is_none_or(|prev| o == prev))
            } else {
                origin == Some(loud)
            }
        });
        assert!(
            ok,
            "peer {} sees {:?} (loud: {loud}, previous: {previous:?})",
            p.tag(),
            video_origin(p)
        );
    }
}

/// A one-slot peer's voice-switched video: one stream with one SSRC, continuous sequence numbers,
/// every switch on a keyframe. Returns the stream for further checks.
pub fn assert_seamless_speaker_video(peer: &TestPeer) -> StreamReport {
    let mut video = peer.received(true);
    assert_eq!(video.len(), 1, "one video stream");
    let v = video.remove(0);
    assert_eq!(v.ssrcs.len(), 1, "one SSRC across switches");
    assert_eq!(v.missing(), 0, "sequence numbers continue across switches");
    assert!(
        v.switches.iter().all(|(_, keyframe)| *keyframe),
        "every switch starts on a keyframe: {:?}",
        v.switches
    );
    v
}
