//! Members joining and leaving a shard: admission, WebRTC transports, removal and rooms closing.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use super::egress::PeerEgress;
use super::peer::{Peer, Transport};
use super::worker::Worker;
use crate::egress::EgressKeys;
use crate::error::MediaError;
use crate::event::{MediaEvent, MemberState};
use crate::ids::{MemberId, RoomId};
use crate::negotiate::{BuiltRtc, PendingOffer};

impl Worker {
    pub(super) fn peer_of(&self, member: &MemberId) -> Result<usize, MediaError> {
        self.members
            .get(member)
            .copied()
            .ok_or_else(|| MediaError::NoSuchMember(member.clone()))
    }

    /// The member's peer and, if it has one, its companion.
    pub(super) fn transports_of(&self, member: &MemberId) -> Result<Vec<usize>, MediaError> {
        let index = self.peer_of(member)?;
        let companion = self.peers.get(index).and_then(|p| p.companion);
        Ok(std::iter::once(index).chain(companion).collect())
    }

    /// The index of `room` if `member` may join it: the room exists, has room, and the member is new.
    pub(super) fn admit(&self, room: RoomId, member: &MemberId) -> Result<usize, MediaError> {
        let room_index = *self
            .room_ids
            .get(&room)
            .ok_or_else(|| MediaError::NoSuchRoom(room.clone()))?;
        let r = self
            .rooms
            .get(room_index)
            .ok_or_else(|| MediaError::NoSuchRoom(room.clone()))?;
        if r.headcount() >= r.max_members {
            return Err(MediaError::RoomFull(room));
        }
        if self.members.contains_key(member) || self.feed_ids.contains_key(member) {
            return Err(MediaError::MemberExists(member.clone()));
        }
        Ok(room_index)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn add_peer(
        &mut self,
        room: RoomId,
        member: MemberId,
        rtc: BuiltRtc,
        pending_offer: Option<PendingOffer>,
        companion: Option<(Box<str0m::Rtc>, Option<EgressKeys>, PendingOffer)>,
        opts: &crate::options::MemberOptions,
        now: Instant,
    ) -> Result<(), MediaError> {
        let room_index = self.admit(room, &member)?;
        let index = self.insert_webrtc(room_index, &member, rtc, pending_offer, opts, now);
        self.members.insert(member.clone(), index);
        self.announce_joined(index);
        if let Some((rtc, keys, pending)) = companion {
            let second =
                self.insert_webrtc(room_index, &member, (*rtc, keys), Some(pending), opts, now);
            if let Some(p) = self.peers.get_mut(second) {
                p.companion_of = Some(index);
            }
            if let Some(p) = self.peers.get_mut(index) {
                p.companion = Some(second);
            }
            if let Some(r) = self.rooms.get_mut(room_index) {
                r.companions += 1;
            }
            self.drain(second);
        }
        self.drain(index);
        Ok(())
    }

    /// Inserts one WebRTC transport of `member` into the peers, the demultiplexer and the room.
    fn insert_webrtc(
        &mut self,
        room_index: usize,
        member: &MemberId,
        (mut rtc, keys): BuiltRtc,
        pending_offer: Option<PendingOffer>,
        opts: &crate::options::MemberOptions,
        now: Instant,
    ) -> usize {
        let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
        let (index, generation) = self.peers.insert(Peer::new(
            Transport::WebRtc(Box::new(rtc)),
            0,
            member.clone(),
            room_index,
            ufrag.clone(),
            opts,
            now,
        ));
        if let Some(p) = self.peers.get_mut(index) {
            p.generation = generation;
            p.pending_offer = pending_offer;
            p.egress = keys.map(|keys| Box::new(PeerEgress::new(keys)));
        }
        self.demux.add_ufrag(ufrag, index);
        if let Some(r) = self.rooms.get_mut(room_index) {
            r.members.push(index);
        }
        index
    }

    pub(super) fn close_room(&mut self, room: &RoomId) -> Result<(), MediaError> {
        let index = self
            .room_ids
            .remove(room)
            .ok_or_else(|| MediaError::NoSuchRoom(room.clone()))?;
        let (members, feed) = self
            .rooms
            .get(index)
            .map(|r| (r.members.clone(), r.feed))
            .unwrap_or_default();
        if let Some(member) = feed
            .and_then(|f| self.feeds.get(f))
            .map(|f| f.member.clone())
        {
            self.remove_source(&member);
        }
        for peer in members {
            self.remove_peer(peer, MemberState::Closed);
        }
        self.rooms.remove(index);
        Ok(())
    }

    /// Removes a member's peer, its companion, and every reference to them; emits the member's
    /// final state. A failing companion takes its member down with it.
    pub(super) fn remove_peer(&mut self, index: usize, state: MemberState) {
        let Some(p) = self.peers.get(index) else {
            return;
        };
        if p.remote().is_some() {
            return self.remove_remote(index);
        }
        if let Some(primary) = p.companion_of {
            return self.remove_peer(primary, state);
        }
        if let Some(companion) = p.companion
            && self
                .peers
                .get(companion)
                .is_some_and(|c| c.companion_of == Some(index))
        {
            self.detach_transport(companion);
        }
        let Some((peer, room_id)) = self.detach_transport(index) else {
            return;
        };
        if self.members.get(&peer.member) == Some(&index) {
            self.members.remove(&peer.member);
        }
        self.directory.remove_member(&peer.member);
        self.apply_policy(peer.room);
        if let Some(room) = room_id {
            self.io.emit(MediaEvent::MemberState {
                room,
                member: peer.member,
                state,
            });
        }
    }

    /// Folds a member back onto its primary transport (a client's renegotiation offer is one
    /// BUNDLE transport): the companion and the streams it carried leave.
    pub(super) fn drop_companion(&mut self, index: usize) {
        let Some(companion) = self.peers.get_mut(index).and_then(|p| p.companion.take()) else {
            return;
        };
        if self
            .peers
            .get(companion)
            .is_some_and(|c| c.companion_of == Some(index))
        {
            self.detach_transport(companion);
            if let Some(room) = self.peers.get(index).map(|p| p.room) {
                self.apply_policy(room);
            }
        }
    }

    /// Removes one transport from the peers, the demultiplexer, the queues and its room; returns
    /// it with its room's id.
    pub(super) fn detach_transport(&mut self, index: usize) -> Option<(Peer, Option<RoomId>)> {
        let mut peer = self.peers.remove(index)?;
        self.demux.remove(&peer.ufrag, &peer.addrs);
        self.io.queues.dirty.retain(|p| *p != index);
        match &mut peer.transport {
            Transport::WebRtc(rtc) => {
                let _ = catch_unwind(AssertUnwindSafe(|| rtc.disconnect()));
            }
            Transport::Rtp(leg) => {
                let _ = self.poll.registry().deregister(&mut leg.socket);
            }
            Transport::Remote(_) => {}
        }
        if peer.companion_of.is_some()
            && let Some(r) = self.rooms.get_mut(peer.room)
        {
            r.companions = r.companions.saturating_sub(1);
        }
        let sources = peer.lines.iter().filter_map(|l| l.source).collect();
        let room_id = self.detach_from_room(index, peer.room, sources);
        self.announce_detached(index, &peer);
        Some((peer, room_id))
    }
}
