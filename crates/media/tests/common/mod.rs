//! Helpers shared by the integration tests: an engine on loopback and synthetic peers joining it.

#![allow(dead_code)]

use std::time::Duration;

use tokio::runtime::Runtime;
use weft_media::testkit::{PeerSpec, TestPeer, wait_until};
use weft_media::{MediaConfig, MediaEngine, MemberId, MemberOptions, RoomId, RoomOptions};

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
