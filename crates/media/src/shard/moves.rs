//! Moving a member to another room of the shard: its transports (ICE, DTLS, SRTP), SSRCs and
//! slots stay; it leaves its room as on removal and joins the other as on a join.

use super::relay::Relay;
use super::worker::Worker;
use crate::error::MediaError;
use crate::event::{MediaEvent, MemberState};
use crate::ids::{MemberId, RoomId};
use crate::options::MediaKind;
use crate::speech::SpeechDetector;
use crate::transcode::SlotCodec;

impl Worker {
    /// Moves `member` (a WebRTC peer with its companion, or a plain-RTP leg) into room `to`,
    /// which must be on this shard (as home or replica). Source members do not move.
    pub(super) fn move_member(&mut self, member: &MemberId, to: &RoomId) -> Result<(), MediaError> {
        if self.feed_ids.contains_key(member) {
            return Err(MediaError::Unsupported("moving a source member"));
        }
        let index = self.peer_of(member)?;
        let to_index = *self
            .room_ids
            .get(to)
            .ok_or_else(|| MediaError::NoSuchRoom(to.clone()))?;
        let from_index = self
            .peers
            .get(index)
            .map(|p| p.room)
            .ok_or_else(|| MediaError::NoSuchMember(member.clone()))?;
        if from_index == to_index {
            return Ok(());
        }
        let r = self
            .rooms
            .get(to_index)
            .ok_or_else(|| MediaError::NoSuchRoom(to.clone()))?;
        if r.headcount() >= r.max_members {
            return Err(MediaError::RoomFull(to.clone()));
        }
        let transports = self.transports_of(member)?;
        self.stop_talking(index);
        // Leave: as on removal, the transports kept.
        let mut published = Vec::with_capacity(transports.len());
        for &t in transports.iter().rev() {
            published.push((t, self.leave_room(t, from_index)));
        }
        self.for_replicas(from_index, || Relay::Left { from: index });
        self.apply_policy(from_index);
        // Join: as on a join, the lines already negotiated.
        for &t in &transports {
            self.enter_room(t, to_index);
        }
        self.announce_joined(index);
        for (t, lines) in published.into_iter().rev() {
            for line in lines {
                self.publish_line(t, line);
            }
        }
        for &t in &transports {
            self.fill_free_slots(t);
        }
        self.apply_policy(to_index);
        if self.peers.get(index).is_some_and(|p| p.connected) {
            self.io.emit(MediaEvent::MemberState {
                room: to.clone(),
                member: member.clone(),
                state: MemberState::Connected,
            });
        }
        Ok(())
    }

    /// A member leaving a room while talking is reported silent there; its detector starts
    /// afresh, so the new room hears when it talks.
    fn stop_talking(&mut self, index: usize) {
        let Some(p) = self.peers.get_mut(index) else {
            return;
        };
        let talking = p.speech.talking();
        p.speech = SpeechDetector::default();
        if !talking {
            return;
        }
        let member = p.member.clone();
        if let Some(r) = self.rooms.get(p.room) {
            self.io.emit(MediaEvent::Talking {
                room: r.id.clone(),
                member,
                talking: false,
                level: 0,
            });
        }
    }

    /// Takes transport `t` out of room `room`: its sources go (their subscribers take others),
    /// its slots are emptied (their output continuing seamlessly when refilled). Returns the
    /// lines that published a source.
    fn leave_room(&mut self, t: usize, room: usize) -> Vec<usize> {
        let Some(p) = self.peers.get_mut(t) else {
            return Vec::new();
        };
        let mut sources = Vec::new();
        let mut lines = Vec::new();
        for (i, line) in p.lines.iter_mut().enumerate() {
            if let Some(source) = line.source.take() {
                sources.push(source);
                lines.push(i);
            }
            if let Some(slot) = line.slot.as_mut() {
                slot.source = None;
                slot.layer = None;
                slot.target = None;
                slot.codec = SlotCodec::default();
                slot.writer.restart(line.kind == MediaKind::Video);
            }
        }
        (p.mixed, p.fed, p.switched) = (false, false, false);
        let companion = p.companion_of.is_some();
        self.detach_from_room(t, room, sources);
        if companion && let Some(r) = self.rooms.get_mut(room) {
            r.companions = r.companions.saturating_sub(1);
        }
        lines
    }

    /// Puts transport `t` into room `room` (its sources and slots are filled afterwards).
    fn enter_room(&mut self, t: usize, room: usize) {
        let Some(p) = self.peers.get_mut(t) else {
            return;
        };
        p.room = room;
        let companion = p.companion_of.is_some();
        if let Some(r) = self.rooms.get_mut(room) {
            r.members.push(t);
            if companion {
                r.companions += 1;
            }
        }
    }
}
