//! Control-plane directory: which shard owns which room and member.
//!
//! Touched only by control requests and member removal, never per packet.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::MediaError;
use crate::ids::{MemberId, RoomId};

/// Rooms and members to shard indexes.
#[derive(Default)]
pub(crate) struct Directory {
    inner: Mutex<Maps>,
}

#[derive(Default)]
struct Maps {
    rooms: HashMap<RoomId, usize>,
    members: HashMap<MemberId, (RoomId, usize)>,
}

impl Directory {
    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a new room on `shard`.
    pub(crate) fn add_room(&self, room: &RoomId, shard: usize) -> Result<(), MediaError> {
        let mut maps = self.maps();
        if maps.rooms.contains_key(room) {
            return Err(MediaError::RoomExists(room.clone()));
        }
        maps.rooms.insert(room.clone(), shard);
        Ok(())
    }

    /// The shard owning `room`.
    pub(crate) fn room_shard(&self, room: &RoomId) -> Result<usize, MediaError> {
        self.maps()
            .rooms
            .get(room)
            .copied()
            .ok_or_else(|| MediaError::NoSuchRoom(room.clone()))
    }

    /// Forgets a room and all its members.
    pub(crate) fn remove_room(&self, room: &RoomId) {
        let mut maps = self.maps();
        maps.rooms.remove(room);
        maps.members.retain(|_, (r, _)| r != room);
    }

    /// Reserves `member` in `room`, returning the room's shard.
    pub(crate) fn reserve_member(
        &self,
        room: &RoomId,
        member: &MemberId,
    ) -> Result<usize, MediaError> {
        let mut maps = self.maps();
        let shard = *maps
            .rooms
            .get(room)
            .ok_or_else(|| MediaError::NoSuchRoom(room.clone()))?;
        if maps.members.contains_key(member) {
            return Err(MediaError::MemberExists(member.clone()));
        }
        maps.members.insert(member.clone(), (room.clone(), shard));
        Ok(shard)
    }

    /// The shard holding `member`.
    pub(crate) fn member_shard(&self, member: &MemberId) -> Result<usize, MediaError> {
        self.maps()
            .members
            .get(member)
            .map(|(_, shard)| *shard)
            .ok_or_else(|| MediaError::NoSuchMember(member.clone()))
    }

    /// Forgets a member.
    pub(crate) fn remove_member(&self, member: &MemberId) {
        self.maps().members.remove(member);
    }

    /// Number of members known (for tests and stats).
    pub(crate) fn member_count(&self) -> usize {
        self.maps().members.len()
    }
}
