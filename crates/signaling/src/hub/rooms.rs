//! Video rooms: joining, leaving, room controls and announcing room events to members.

use std::time::Instant;

use serde_json::json;

use super::calls::{Leg, LegKind, LegState};
use super::{ConnId, Hub, MediaCall, MediaResult, Op};
use crate::directory::Target;
use crate::media::MediaKind;
use crate::message::{Event, ReqId};
use crate::room::{
    Control, MediaOp, MemberInfo, Role, Room, RoomError, RoomEvent, Target as RoomTarget,
};
use crate::rpc::{INVALID_PARAMS, RpcError};
use crate::verto::{self, Cause};

/// A ringing 1:1 call.
#[derive(Debug, Clone)]
pub(super) struct Ring {
    pub caller: String,
    pub callees: Vec<String>,
    pub deadline: Instant,
    pub answered_by: Option<String>,
    pub caller_name: String,
    pub caller_number: String,
    pub callee_name: String,
    pub callee_number: String,
}

/// A room session (video room or 1:1 call) and what the hub tracks about it.
pub(super) struct RoomEntry {
    pub room: Room,
    /// `(project, resource)` for video rooms; `None` for 1:1 calls.
    pub video: Option<(String, String)>,
    /// Legs waiting for the media engine to join.
    pub pending: usize,
    /// Set while a 1:1 call rings.
    pub ring: Option<Ring>,
}

impl Hub {
    pub(super) fn member_info(&self, call_id: &str, leg: &Leg) -> MemberInfo {
        MemberInfo {
            member_id: leg.member_id.clone(),
            call_id: call_id.to_owned(),
            node_id: self.cfg.node_id.clone(),
            subscriber_id: leg.subscriber_id.clone(),
            address_id: leg.address_id.clone(),
            name: leg.name.clone(),
            role: leg.role,
            parent_id: leg.parent_id.clone(),
        }
    }

    pub(super) fn join_room(&mut self, call_id: &str, target: &Target) {
        let Some(leg) = self.legs.get(call_id).cloned() else {
            return;
        };
        let key = (leg.project_id.clone(), target.resource_id.clone());
        let room_id = match self.video_rooms.get(&key) {
            Some(id) => id.clone(),
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                let mut room =
                    Room::new(&target.resource_id, &id, &target.name, &target.display_name);
                room.max_members = self.cfg.max_members_per_room;
                self.rooms.insert(
                    id.clone(),
                    RoomEntry {
                        room,
                        video: Some(key.clone()),
                        pending: 0,
                        ring: None,
                    },
                );
                self.video_rooms.insert(key, id.clone());
                id
            }
        };
        self.enter_room(call_id, &room_id, Some(target.address_id.clone()));
    }

    /// Asks the media engine to add a leg to an existing room.
    pub(super) fn enter_room(&mut self, call_id: &str, room_id: &str, address_id: Option<String>) {
        let Some(role) = self.legs.get(call_id).map(|l| l.role) else {
            return;
        };
        let Some(entry) = self.rooms.get_mut(room_id) else {
            return;
        };
        if entry.room.locked && role != Role::Moderator {
            self.close_if_empty(room_id);
            return self.hangup_leg(call_id, Cause::CallRejected, true);
        }
        entry.pending += 1;
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        leg.room = Some(room_id.to_owned());
        leg.state = LegState::Joining;
        leg.address_id = address_id;
        let call = MediaCall::AddMember {
            room: room_id.to_owned(),
            member: leg.member_id.clone(),
            offer: leg.offer.take().unwrap_or_default(),
        };
        self.media(
            Op::Join {
                call_id: call_id.to_owned(),
            },
            call,
        );
    }

    /// The media engine answered an `AddMember`.
    pub(super) fn joined_media(&mut self, call_id: &str, result: MediaResult) {
        let Some(leg) = self.legs.get(call_id).cloned() else {
            return;
        };
        if leg.kind == LegKind::Caller {
            return self.caller_joined(call_id, result);
        }
        let room_id = leg.room.clone().unwrap_or_default();
        let answer = match result {
            Ok(Some(sdp)) if self.rooms.contains_key(&room_id) => sdp,
            _ => return self.hangup_leg(call_id, Cause::NormalTemporaryFailure, true),
        };
        // No longer joining: from here a hang-up must not count it as pending.
        if let Some(l) = self.legs.get_mut(call_id) {
            l.state = LegState::Active;
        }
        let info = self.member_info(call_id, &leg);
        let Some(entry) = self.rooms.get_mut(&room_id) else {
            return;
        };
        entry.pending = entry.pending.saturating_sub(1);
        let events = match entry.room.join(info) {
            Ok(events) => events,
            Err(e) => {
                let cause = match e {
                    RoomError::Locked => Cause::CallRejected,
                    _ => Cause::NormalTemporaryFailure,
                };
                return self.hangup_leg(call_id, cause, true);
            }
        };
        self.emit_verto(
            &leg.protocol,
            "verto.answer",
            verto::answer_params(call_id, Some(&answer)),
        );
        self.emit_joined(&room_id, call_id);
        self.broadcast(&room_id, &events, Some(&leg.member_id));
    }

    /// Sends `call.joined` for `call_id` to its owner.
    pub(super) fn emit_joined(&mut self, room_id: &str, call_id: &str) {
        let Some(leg) = self.legs.get(call_id).cloned() else {
            return;
        };
        let Some(entry) = self.rooms.get(room_id) else {
            return;
        };
        if let Some(params) = entry.room.joined_params(&leg.member_id, &leg.protocol) {
            self.emit(&leg.protocol, Event::new("call.joined", params));
            self.emit_call_state(call_id, &leg, "answered");
        }
    }

    /// Sends `call.state` for a leg to its owner.
    pub(super) fn emit_call_state(&mut self, call_id: &str, leg: &Leg, state: &str) {
        let direction = if leg.kind == LegKind::Callee {
            "inbound"
        } else {
            "outbound"
        };
        let params = json!({
            "call_id": call_id,
            "node_id": self.cfg.node_id,
            "segment_id": call_id,
            "call_state": state,
            "direction": direction,
            "device": {"type": "webrtc", "params": {}},
            "room_session_id": leg.room,
        });
        self.emit(&leg.protocol, Event::new("call.state", params));
    }

    /// Announces `events` to every member of the room (a joiner does not get its own
    /// `member.joined`; a leaving member still gets its `member.left` before its bye).
    pub(super) fn broadcast(&mut self, room_id: &str, events: &[RoomEvent], joiner: Option<&str>) {
        let Some(entry) = self.rooms.get(room_id) else {
            return;
        };
        let mut deliveries = Vec::new();
        for ev in events {
            let Some((event_type, params)) = entry.room.render(ev) else {
                continue;
            };
            let event = Event::new(event_type, params);
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
                let protocol = self
                    .member_legs
                    .get(member)
                    .and_then(|c| self.legs.get(c))
                    .map(|l| l.protocol.clone());
                if let Some(p) = protocol {
                    deliveries.push((p, event.clone()));
                }
            }
        }
        for (protocol, event) in deliveries {
            self.emit(&protocol, event);
        }
    }

    /// Takes a leg's member out of its room and the media engine.
    pub(super) fn leave_room(&mut self, room_id: &str, leg: &Leg, cause: Cause) {
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
        // The leaving leg is already out of `legs`; deliver its member.left to it directly.
        if let Some(RoomEvent::MemberLeft { .. }) = events.first()
            && let Some(entry) = self.rooms.get(room_id)
            && let Some((ty, params)) = entry.room.render(&events[0])
        {
            self.emit(&leg.protocol, Event::new(ty, params));
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

    pub(super) fn control(
        &mut self,
        conn: ConnId,
        protocol: &str,
        req: ReqId,
        call_id: &str,
        control: Control,
        target: &RoomTarget,
    ) {
        let leg = self
            .owned_leg(protocol, call_id)
            .filter(|l| l.state == LegState::Active)
            .cloned();
        let Some((leg, room_id)) = leg.and_then(|l| l.room.clone().map(|r| (l, r))) else {
            let err = RpcError::new(
                INVALID_PARAMS,
                "Invalid params: no active call with this call_id",
            );
            return self.reply(conn, req, Err(err));
        };
        let Some(entry) = self.rooms.get_mut(&room_id) else {
            return;
        };
        let outcome = match entry.room.control(&leg.member_id, target, control) {
            Ok(o) => o,
            Err(e) => return self.reply(conn, req, Err(e.to_rpc())),
        };
        let is_call = entry.video.is_none();
        self.reply(conn, req, Ok(outcome.reply));
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
        for call in removed {
            self.hangup_leg(&call, Cause::NormalClearing, true);
        }
        if outcome.ended || is_call && !outcome.removed.is_empty() {
            let rest: Vec<String> = self
                .rooms
                .get(&room_id)
                .map(|e| {
                    e.room
                        .members()
                        .iter()
                        .filter_map(|m| self.member_legs.get(&m.info.member_id).cloned())
                        .collect()
                })
                .unwrap_or_default();
            for call in rest {
                self.hangup_leg(&call, Cause::NormalClearing, true);
            }
        }
    }

    /// Hold stops the leg's media both ways; unhold restores the member's own mute state.
    pub(super) fn apply_hold(&mut self, leg: &Leg, held: bool) {
        let member = leg
            .room
            .as_ref()
            .and_then(|r| self.rooms.get(r))
            .and_then(|e| {
                e.room
                    .member(&leg.member_id)
                    .map(|m| (m.audio_muted, m.video_muted, m.deaf))
            });
        let (audio, video, deaf) = member.unwrap_or_default();
        let room = leg.room.clone().unwrap_or_default();
        let calls = [
            MediaCall::SetMuted {
                room: room.clone(),
                member: leg.member_id.clone(),
                kind: MediaKind::Audio,
                muted: held || audio,
            },
            MediaCall::SetMuted {
                room: room.clone(),
                member: leg.member_id.clone(),
                kind: MediaKind::Video,
                muted: held || video,
            },
            MediaCall::SetDeaf {
                room,
                member: leg.member_id.clone(),
                deaf: held || deaf,
            },
        ];
        for call in calls {
            self.media(Op::Ignore, call);
        }
    }
}
