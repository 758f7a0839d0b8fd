//! Rooms: joining, leaving, room controls and announcing room events to members.

use std::sync::Arc;
use std::time::Instant;

use super::legs::{Leg, LegKind, LegState};
use super::{CallState, Controller, FrontEvent, LegId, Op, Reply, ReplyError, ReqId};
use crate::cause::Cause;
use crate::directory::Target;
use crate::media::{MediaCall, MediaResult};
use crate::room::{
    Control, MediaOp, MemberInfo, Role, Room, RoomError, RoomEvent, Target as RoomTarget,
};

/// A ringing 1:1 call.
#[derive(Debug, Clone)]
pub(super) struct Ring {
    pub caller: String,
    pub callees: Vec<String>,
    /// The endpoint (front-end key) each callee leg rings.
    pub endpoints: std::collections::HashMap<String, String>,
    pub deadline: Instant,
    pub answered_by: Option<String>,
    /// Why the last callee that failed (rather than declined) did.
    pub last_failure: Option<Cause>,
    pub caller_name: String,
    pub caller_number: String,
    pub callee_name: String,
    pub callee_number: String,
    /// For a script's `connect`: the script's leg. The caller is then the script's party, in
    /// the script's room until a callee answers.
    pub bridge: Option<String>,
}

/// A room session (video room or 1:1 call) and what the controller tracks about it.
pub(super) struct RoomEntry {
    pub room: Room,
    /// `(project, resource)` for video rooms; `None` for 1:1 calls.
    pub video: Option<(String, String)>,
    /// Legs waiting for the media engine to join.
    pub pending: usize,
    /// Set while a 1:1 call rings.
    pub ring: Option<Ring>,
}

impl Controller {
    pub(super) fn member_info(&self, id: &str, leg: &Leg) -> MemberInfo {
        MemberInfo {
            member_id: leg.member_id.clone(),
            call_id: id.to_owned(),
            node_id: self.cfg.node_id.clone(),
            subscriber_id: leg.party.subscriber_id.clone(),
            address_id: leg.address_id.clone(),
            name: leg.party.name.clone(),
            role: leg.role,
            parent_id: leg.parent_id.clone(),
        }
    }

    /// The legs of a room's members, in join order.
    pub(super) fn room_legs(&self, room_id: &str) -> Vec<LegId> {
        self.rooms
            .get(room_id)
            .map(|e| {
                e.room
                    .members()
                    .iter()
                    .filter_map(|m| self.member_legs.get(&m.info.member_id).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn join_room(&mut self, id: &str, target: &Target) {
        let Some(leg) = self.legs.get(id) else {
            return;
        };
        let room_id = self.video_room(&leg.party.project_id.clone(), target);
        self.enter_room(id, &room_id, Some(target.address_id.clone()));
    }

    /// The session of a video room of a project, started if it has none.
    pub(super) fn video_room(&mut self, project_id: &str, target: &Target) -> String {
        let key = (project_id.to_owned(), target.resource_id.clone());
        match self.video_rooms.get(&key) {
            Some(room_id) => room_id.clone(),
            None => {
                let room_id = uuid::Uuid::new_v4().to_string();
                let mut room = Room::new(
                    &target.resource_id,
                    &room_id,
                    &target.name,
                    &target.display_name,
                );
                room.max_members = self.cfg.max_members_per_room;
                self.rooms.insert(
                    room_id.clone(),
                    RoomEntry {
                        room,
                        video: Some(key.clone()),
                        pending: 0,
                        ring: None,
                    },
                );
                self.video_rooms.insert(key, room_id.clone());
                room_id
            }
        }
    }

    /// Asks the media engine to add a leg to an existing room.
    pub(super) fn enter_room(&mut self, id: &str, room_id: &str, address_id: Option<String>) {
        let Some(role) = self.legs.get(id).map(|l| l.role) else {
            return;
        };
        let Some(entry) = self.rooms.get_mut(room_id) else {
            return;
        };
        if entry.room.locked && role != Role::Moderator {
            self.close_if_empty(room_id);
            return self.hangup_leg(id, Cause::CallRejected, true);
        }
        entry.pending += 1;
        let Some(leg) = self.legs.get_mut(id) else {
            return;
        };
        leg.room = Some(room_id.to_owned());
        leg.state = LegState::Joining;
        leg.address_id = address_id;
        let Some(media) = leg.media.take() else {
            return self.hangup_leg(id, Cause::NormalTemporaryFailure, true);
        };
        let call = MediaCall::AddMember {
            room: room_id.to_owned(),
            member: leg.member_id.clone(),
            media,
        };
        self.media(Op::Join { leg: id.to_owned() }, call);
    }

    /// The media engine answered an `AddMember`.
    pub(super) fn joined_media(&mut self, id: &str, result: MediaResult) {
        let Some(leg) = self.legs.get(id).cloned() else {
            return;
        };
        if leg.kind == LegKind::Caller {
            return self.caller_joined(id, result);
        }
        let room_id = leg.room.clone().unwrap_or_default();
        let answer = match result {
            Ok(Some(media)) if self.rooms.contains_key(&room_id) => media,
            _ => return self.hangup_leg(id, Cause::NormalTemporaryFailure, true),
        };
        let Some(events) = self.admit_member(id, &room_id, &leg) else {
            return;
        };
        tracing::info!(call_id = id, room_id = %room_id, member_id = %leg.member_id, "member joined");
        self.tell_front(
            id,
            FrontEvent::Answered {
                leg: id.to_owned(),
                media: Some(answer),
            },
        );
        self.emit_joined(&room_id, id);
        self.broadcast(&room_id, &events, Some(&leg.member_id));
    }

    /// Makes the joining leg `id` (whose media is in `room_id` now) a member of the room; the
    /// events to announce, or `None` when the room refused it (the leg is then hung up).
    pub(super) fn admit_member(
        &mut self,
        id: &str,
        room_id: &str,
        leg: &Leg,
    ) -> Option<Vec<RoomEvent>> {
        // No longer joining: from here a hang-up must not count it as pending.
        if let Some(l) = self.legs.get_mut(id) {
            l.state = LegState::Active;
        }
        let info = self.member_info(id, leg);
        let entry = self.rooms.get_mut(room_id)?;
        entry.pending = entry.pending.saturating_sub(1);
        match entry.room.join(info) {
            Ok(events) => Some(events),
            Err(e) => {
                let cause = match e {
                    RoomError::Locked => Cause::CallRejected,
                    _ => Cause::NormalTemporaryFailure,
                };
                self.hangup_leg(id, cause, true);
                None
            }
        }
    }

    /// Sends `call.joined` and the answered state for `id` to its front-end.
    pub(super) fn emit_joined(&mut self, room_id: &str, id: &str) {
        let Some(leg) = self.legs.get(id).cloned() else {
            return;
        };
        let Some(entry) = self.rooms.get(room_id) else {
            return;
        };
        if let Some(params) = entry.room.joined_params(&leg.member_id, "") {
            self.event(id, "call.joined", params);
            let state = FrontEvent::State {
                leg: id.to_owned(),
                state: CallState::Answered,
                inbound: leg.kind == LegKind::Callee,
                room: leg.room.clone(),
            };
            self.tell_front(id, state);
        }
    }

    /// Announces `events` to every member of the room (a joiner does not get its own
    /// `member.joined`; a leaving member still gets its `member.left` before its end).
    pub(super) fn broadcast(&mut self, room_id: &str, events: &[RoomEvent], joiner: Option<&str>) {
        let Some(entry) = self.rooms.get(room_id) else {
            return;
        };
        let mut deliveries = Vec::new();
        for ev in events {
            let Some((event_type, params)) = entry.room.render(ev) else {
                continue;
            };
            let params = Arc::new(params);
            let mut members: Vec<&str> = entry
                .room
                .members()
                .iter()
                .map(|m| m.info.member_id.as_str())
                .filter(|id| !(matches!(ev, RoomEvent::MemberJoined(_)) && Some(*id) == joiner))
                .collect();
            if let RoomEvent::MemberLeft { member, .. } = ev {
                members.push(&member.info.member_id);
            }
            for member in members {
                if let Some(leg) = self.member_legs.get(member) {
                    deliveries.push((leg.clone(), event_type, params.clone()));
                }
            }
        }
        for (leg, event_type, params) in deliveries {
            self.shared_event(&leg, event_type, params);
        }
    }

    /// Takes a leg's member out of its room and the media engine; `id` is already out of
    /// `legs`, so its own `member.left` goes to its front-end directly.
    pub(super) fn leave_room(&mut self, id: &str, room_id: &str, leg: &Leg, cause: Cause) {
        let Some(entry) = self.rooms.get_mut(room_id) else {
            return;
        };
        let in_room = entry.room.member(&leg.member_id).is_some();
        if leg.state == LegState::Joining {
            entry.pending = entry.pending.saturating_sub(1);
        }
        let reason = if cause == Cause::NormalClearing {
            "hangup".to_owned()
        } else {
            cause.name().to_ascii_lowercase()
        };
        let events = entry.room.leave(&leg.member_id, &reason);
        if in_room || leg.state != LegState::Resolving {
            self.media(
                Op::Ignore,
                MediaCall::RemoveMember {
                    room: room_id.to_owned(),
                    member: leg.member_id.clone(),
                },
            );
        }
        if in_room {
            tracing::info!(call_id = id, room_id, member_id = %leg.member_id, reason, "member left");
        }
        if let Some(RoomEvent::MemberLeft { .. }) = events.first()
            && let Some(entry) = self.rooms.get(room_id)
            && let Some((ty, params)) = entry.room.render(&events[0])
        {
            let event = FrontEvent::Event {
                leg: id.to_owned(),
                event_type: ty,
                params: Arc::new(params),
            };
            self.out.push_back(super::Output::Front(leg.front, event));
        }
        self.broadcast(room_id, &events, None);
        self.close_if_empty(room_id);
    }

    /// Closes a video room with no members and no joiners.
    fn close_if_empty(&mut self, room_id: &str) {
        let Some(entry) = self.rooms.get(room_id) else {
            return;
        };
        if entry.video.is_none() || !entry.room.is_empty() || entry.pending > 0 {
            return;
        }
        if let Some(key) = entry.video.clone() {
            self.video_rooms.remove(&key);
        }
        self.rooms.remove(room_id);
        self.media(
            Op::Ignore,
            MediaCall::CloseRoom {
                room: room_id.to_owned(),
            },
        );
    }

    pub(super) fn control(&mut self, id: &str, req: ReqId, control: Control, target: &RoomTarget) {
        let leg = self
            .legs
            .get(id)
            .filter(|l| l.state == LegState::Active)
            .cloned();
        let Some((leg, room_id)) = leg.and_then(|l| l.room.clone().map(|r| (l, r))) else {
            return self.reply(id, req, Err(ReplyError::NoSuchCall));
        };
        let Some(entry) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let outcome = match entry.room.control(&leg.member_id, target, control) {
            Ok(o) => o,
            Err(e) => return self.reply(id, req, Err(e.into())),
        };
        let is_call = entry.video.is_none();
        self.reply(id, req, Ok(Reply::Control(outcome.reply)));
        for op in outcome.media {
            let call = match op {
                MediaOp::Mute {
                    member_id,
                    kind,
                    muted,
                } => MediaCall::SetMuted {
                    room: room_id.clone(),
                    member: member_id,
                    kind,
                    muted,
                },
                MediaOp::Deaf { member_id, deaf } => MediaCall::SetDeaf {
                    room: room_id.clone(),
                    member: member_id,
                    deaf,
                },
            };
            self.media(Op::Ignore, call);
        }
        self.broadcast(&room_id, &outcome.events, None);
        let removed: Vec<String> = outcome
            .removed
            .iter()
            .filter_map(|m| self.member_legs.get(&m.info.member_id).cloned())
            .collect();
        for other in removed {
            self.hangup_leg(&other, Cause::NormalClearing, true);
        }
        if outcome.ended || is_call && !outcome.removed.is_empty() {
            for other in self.room_legs(&room_id) {
                self.hangup_leg(&other, Cause::NormalClearing, true);
            }
        }
    }
}
