//! A room inside a shard: its members and the streams they publish.

use std::time::Instant;

use str0m::media::Mid;

use super::slab::Slab;
use crate::ids::{MemberId, RoomId};
use crate::options::MediaKind;

/// A room: members (peer indexes) and sources (published streams).
pub(crate) struct Room {
    pub id: RoomId,
    pub members: Vec<usize>,
    pub sources: Slab<Source>,
    pub max_members: usize,
    pub active_speaker: Option<MemberId>,
}

/// One stream published by a member, and who receives it.
pub(crate) struct Source {
    pub publisher: usize,
    pub mid: Mid,
    pub kind: MediaKind,
    /// `(peer, line)` pairs receiving this source.
    pub subscribers: Vec<(usize, usize)>,
    /// A subscriber needs a keyframe that has not arrived yet.
    pub keyframe_wanted: bool,
    pub last_keyframe_request: Option<Instant>,
}

impl Room {
    pub(crate) fn new(id: RoomId, max_members: usize) -> Self {
        Self {
            id,
            members: Vec::new(),
            sources: Slab::default(),
            max_members,
            active_speaker: None,
        }
    }
}
