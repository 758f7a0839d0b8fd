//! Control-plane directory: which shards hold which room, and which shard owns which member.
//!
//! A room starts on one shard (its home). When its members on every shard it spans reach
//! [`crate::MediaConfig::room_members_per_shard`], the next member goes to the least-loaded shard
//! (fewest members) the room is not on yet, and the room gets a replica there. When the room is on
//! every shard already, the least-loaded of them takes the member over the limit.
//!
//! Touched only by control requests and member removal, never per packet.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::MediaError;
use crate::ids::{MemberId, RoomId};

/// Rooms and members to shard indexes.
pub(crate) struct Directory {
    inner: Mutex<Maps>,
    /// Members of one room a shard takes before the room spreads to another shard.
    per_shard: usize,
}

struct Maps {
    rooms: HashMap<RoomId, RoomPlace>,
    members: HashMap<MemberId, (RoomId, usize)>,
    /// Members per shard, all rooms.
    load: Vec<usize>,
}

/// The shards a room spans (home first) and its members on each.
#[derive(Debug, Default)]
struct RoomPlace {
    shards: Vec<(usize, usize)>,
    max_members: usize,
}

/// Where a new member goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    pub shard: usize,
    /// The room is not on `shard` yet: it needs a replica there, linked to `others`.
    pub new_replica: bool,
    /// The room's other shards.
    pub others: Vec<usize>,
    /// The room's member limit (for a new replica).
    pub max_members: usize,
}

impl Directory {
    /// A directory for `shards` shards, spreading a room once it has `per_shard` members on each.
    pub(crate) fn new(shards: usize, per_shard: usize) -> Self {
        Self {
            inner: Mutex::new(Maps {
                rooms: HashMap::new(),
                members: HashMap::new(),
                load: vec![0; shards.max(1)],
            }),
            per_shard: per_shard.max(1),
        }
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a new room of at most `max_members` on `shard`.
    pub(crate) fn add_room(
        &self,
        room: &RoomId,
        shard: usize,
        max_members: usize,
    ) -> Result<(), MediaError> {
        let mut maps = self.maps();
        if maps.rooms.contains_key(room) {
            return Err(MediaError::RoomExists(room.clone()));
        }
        maps.rooms.insert(
            room.clone(),
            RoomPlace {
                shards: vec![(shard, 0)],
                max_members,
            },
        );
        Ok(())
    }

    /// The shards holding `room`, its home first.
    pub(crate) fn room_shards(&self, room: &RoomId) -> Result<Vec<usize>, MediaError> {
        self.maps()
            .rooms
            .get(room)
            .map(|r| r.shards.iter().map(|(s, _)| *s).collect())
            .ok_or_else(|| MediaError::NoSuchRoom(room.clone()))
    }

    /// Forgets a room and all its members.
    pub(crate) fn remove_room(&self, room: &RoomId) {
        let mut maps = self.maps();
        maps.rooms.remove(room);
        let Maps { members, load, .. } = &mut *maps;
        members.retain(|_, (r, shard)| {
            if r == room {
                load[*shard] = load[*shard].saturating_sub(1);
            }
            r != room
        });
    }

    /// Reserves `member` in `room` and chooses its shard (see the module documentation).
    pub(crate) fn reserve_member(
        &self,
        room: &RoomId,
        member: &MemberId,
    ) -> Result<Placement, MediaError> {
        let mut maps = self.maps();
        if maps.members.contains_key(member) {
            return Err(MediaError::MemberExists(member.clone()));
        }
        let Maps { rooms, load, .. } = &mut *maps;
        let place = rooms
            .get_mut(room)
            .ok_or_else(|| MediaError::NoSuchRoom(room.clone()))?;
        // The limit is the whole room's, over every shard it spans.
        if place.members() >= place.max_members {
            return Err(MediaError::RoomFull(room.clone()));
        }
        let placement = place.choose(load, self.per_shard);
        match place.shards.iter_mut().find(|(s, _)| *s == placement.shard) {
            Some((_, members)) => *members += 1,
            None => place.shards.push((placement.shard, 1)),
        }
        load[placement.shard] += 1;
        maps.members
            .insert(member.clone(), (room.clone(), placement.shard));
        Ok(placement)
    }

    /// Moves `member` into room `to`, on the shard it is on: `to` must exist and have room.
    /// Returns the placement (with `new_replica` when `to` is not on that shard yet) and the
    /// room the member was in; moving it back there undoes the move.
    pub(crate) fn move_member(
        &self,
        member: &MemberId,
        to: &RoomId,
    ) -> Result<(Placement, RoomId), MediaError> {
        let mut maps = self.maps();
        let (from, shard) = maps
            .members
            .get(member)
            .cloned()
            .ok_or_else(|| MediaError::NoSuchMember(member.clone()))?;
        let Maps { rooms, members, .. } = &mut *maps;
        let place = rooms
            .get_mut(to)
            .ok_or_else(|| MediaError::NoSuchRoom(to.clone()))?;
        let others = place
            .shards
            .iter()
            .map(|(s, _)| *s)
            .filter(|s| *s != shard)
            .collect();
        let placement = Placement {
            shard,
            new_replica: !place.shards.iter().any(|(s, _)| *s == shard),
            others,
            max_members: place.max_members,
        };
        if from == *to {
            return Ok((placement, from));
        }
        if place.members() >= place.max_members {
            return Err(MediaError::RoomFull(to.clone()));
        }
        match place.shards.iter_mut().find(|(s, _)| *s == shard) {
            Some((_, n)) => *n += 1,
            None => place.shards.push((shard, 1)),
        }
        if let Some((_, n)) = rooms
            .get_mut(&from)
            .and_then(|r| r.shards.iter_mut().find(|(s, _)| *s == shard))
        {
            *n = n.saturating_sub(1);
        }
        members.insert(member.clone(), (to.clone(), shard));
        Ok((placement, from))
    }

    /// The room `member` is in.
    #[cfg(test)]
    pub(crate) fn member_room(&self, member: &MemberId) -> Option<RoomId> {
        self.maps()
            .members
            .get(member)
            .map(|(room, _)| room.clone())
    }

    /// The shard holding `member`.
    pub(crate) fn member_shard(&self, member: &MemberId) -> Result<usize, MediaError> {
        self.maps()
            .members
            .get(member)
            .map(|(_, shard)| *shard)
            .ok_or_else(|| MediaError::NoSuchMember(member.clone()))
    }

    /// Forgets a member. The room keeps its replicas (they hold no state of the member).
    pub(crate) fn remove_member(&self, member: &MemberId) {
        let mut maps = self.maps();
        let Some((room, shard)) = maps.members.remove(member) else {
            return;
        };
        maps.load[shard] = maps.load[shard].saturating_sub(1);
        if let Some((_, members)) = maps
            .rooms
            .get_mut(&room)
            .and_then(|r| r.shards.iter_mut().find(|(s, _)| *s == shard))
        {
            *members = members.saturating_sub(1);
        }
    }

    /// Number of members known (for tests and stats).
    pub(crate) fn member_count(&self) -> usize {
        self.maps().members.len()
    }
}

impl RoomPlace {
    /// Members on all the room's shards.
    fn members(&self) -> usize {
        self.shards.iter().map(|(_, n)| n).sum()
    }

    /// The first of the room's shards with space; else the least-loaded shard without the room;
    /// else (the room is everywhere and full) its least-loaded shard.
    fn choose(&self, load: &[usize], per_shard: usize) -> Placement {
        let on = |shard: usize| self.shards.iter().any(|(s, _)| *s == shard);
        let others = |shard: usize| -> Vec<usize> {
            self.shards
                .iter()
                .map(|(s, _)| *s)
                .filter(|s| *s != shard)
                .collect()
        };
        if let Some((shard, _)) = self.shards.iter().find(|(_, n)| *n < per_shard) {
            return Placement {
                shard: *shard,
                new_replica: false,
                others: others(*shard),
                max_members: self.max_members,
            };
        }
        if let Some(shard) = least(load, |s| !on(s)) {
            return Placement {
                shard,
                new_replica: true,
                others: others(shard),
                max_members: self.max_members,
            };
        }
        let shard = least(load, on).unwrap_or(0);
        Placement {
            shard,
            new_replica: false,
            others: others(shard),
            max_members: self.max_members,
        }
    }
}

/// The shard with the fewest members among those `eligible` (the lowest index on ties).
fn least(load: &[usize], eligible: impl Fn(usize) -> bool) -> Option<usize> {
    (0..load.len())
        .filter(|s| eligible(*s))
        .min_by_key(|s| load[*s])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(d: &Directory, room: &RoomId, n: u32) -> Placement {
        d.reserve_member(room, &MemberId::from(format!("m{n}")))
            .unwrap()
    }

    #[test]
    fn one_shard_keeps_every_member_over_the_limit() {
        let d = Directory::new(1, 2);
        let room = RoomId::from("r");
        d.add_room(&room, 0, 100).unwrap();
        for n in 0..5 {
            let p = join(&d, &room, n);
            assert_eq!((p.shard, p.new_replica), (0, false));
            assert!(p.others.is_empty());
        }
        assert_eq!(d.room_shards(&room).unwrap(), vec![0]);
    }

    #[test]
    fn a_full_shard_spreads_the_room_to_the_least_loaded_other_shard() {
        let d = Directory::new(3, 2);
        let busy = RoomId::from("busy");
        d.add_room(&busy, 1, 100).unwrap();
        join(&d, &busy, 100);
        let room = RoomId::from("r");
        d.add_room(&room, 0, 100).unwrap();
        assert_eq!(join(&d, &room, 1).shard, 0);
        assert_eq!(join(&d, &room, 2).shard, 0);
        // Shard 1 has a member of another room, shard 2 none.
        let third = join(&d, &room, 3);
        assert_eq!(
            third,
            Placement {
                shard: 2,
                new_replica: true,
                others: vec![0],
                max_members: 100,
            }
        );
        assert!(!join(&d, &room, 4).new_replica);
        let fifth = join(&d, &room, 5);
        assert_eq!((fifth.shard, fifth.new_replica), (1, true));
        assert_eq!(fifth.others, vec![0, 2]);
        assert_eq!(d.room_shards(&room).unwrap(), vec![0, 2, 1]);
        // Everywhere and full: the least-loaded of its shards.
        join(&d, &room, 6);
        let over = join(&d, &room, 7);
        assert_eq!((over.shard, over.new_replica), (0, false));
    }

    #[test]
    fn a_leaving_member_frees_its_place_and_its_load() {
        let d = Directory::new(2, 1);
        let room = RoomId::from("r");
        d.add_room(&room, 0, 100).unwrap();
        join(&d, &room, 1);
        assert_eq!(join(&d, &room, 2).shard, 1);
        d.remove_member(&MemberId::from("m1"));
        let back = join(&d, &room, 3);
        assert_eq!((back.shard, back.new_replica), (0, false));
        assert_eq!(back.others, vec![1]);
        d.remove_room(&room);
        assert_eq!(d.member_count(), 0);
        assert!(d.room_shards(&room).is_err());
    }

    #[test]
    fn the_member_limit_counts_every_shard_of_the_room() {
        let d = Directory::new(2, 2);
        let room = RoomId::from("r");
        d.add_room(&room, 0, 3).unwrap();
        join(&d, &room, 1);
        join(&d, &room, 2);
        assert_eq!(join(&d, &room, 3).shard, 1);
        let full = d.reserve_member(&room, &MemberId::from("m4"));
        assert_eq!(full, Err(MediaError::RoomFull(room.clone())));
        // A leaving member makes room again.
        d.remove_member(&MemberId::from("m1"));
        assert_eq!(join(&d, &room, 5).shard, 0);
    }

    #[test]
    fn a_moved_member_stays_on_its_shard_and_counts_in_its_new_room() {
        let d = Directory::new(2, 4);
        let (a, b) = (RoomId::from("a"), RoomId::from("b"));
        d.add_room(&a, 0, 100).unwrap();
        d.add_room(&b, 1, 2).unwrap();
        join(&d, &a, 1);
        join(&d, &b, 2);
        let m1 = MemberId::from("m1");
        let (placement, from) = d.move_member(&m1, &b).unwrap();
        assert_eq!(from, a);
        assert_eq!(
            placement,
            Placement {
                shard: 0,
                new_replica: true,
                others: vec![1],
                max_members: 2,
            }
        );
        assert_eq!(d.member_shard(&m1), Ok(0));
        assert_eq!(d.member_room(&m1), Some(b.clone()));
        assert_eq!(d.room_shards(&b).unwrap(), vec![1, 0]);
        // Room b is full now (two members), room a has a place again.
        assert_eq!(
            d.reserve_member(&b, &MemberId::from("m3")),
            Err(MediaError::RoomFull(b.clone()))
        );
        assert_eq!(
            d.move_member(&m1, &RoomId::from("nowhere")),
            Err(MediaError::NoSuchRoom(RoomId::from("nowhere")))
        );
        assert_eq!(d.member_room(&m1), Some(b.clone()));
        // Moving back: the replica is there already.
        let (back, _) = d.move_member(&m1, &a).unwrap();
        assert!(!back.new_replica);
        join(&d, &b, 3);
    }

    #[test]
    fn a_member_id_is_unique_across_rooms() {
        let d = Directory::new(2, 4);
        let (a, b) = (RoomId::from("a"), RoomId::from("b"));
        d.add_room(&a, 0, 100).unwrap();
        d.add_room(&b, 1, 100).unwrap();
        join(&d, &a, 1);
        assert!(matches!(
            d.reserve_member(&b, &MemberId::from("m1")),
            Err(MediaError::MemberExists(_))
        ));
    }
}
