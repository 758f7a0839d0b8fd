//! Ringing a subscriber: one inbound leg per online session, early media for the caller, the
//! first answer wins, and the ways a ring ends.

use std::time::Instant;

use serde_json::json;

use super::calls::{Leg, LegKind, LegState};
use super::rooms::{Ring, RoomEntry};
use super::{ConnId, Hub, MediaCall, MediaResult, Op};
use crate::directory::Target;
use crate::message::ReqId;
use crate::room::{Role, Room};
use crate::verto::{self, Cause};
use weft_core::Address;

impl Hub {
    /// Rings every online session of the target subscriber.
    pub(super) fn ring(&mut self, now: Instant, call_id: &str, target: &Target, address: &Address) {
        let Some(caller) = self.legs.get(call_id).cloned() else {
            return;
        };
        let callees =
            self.online_sessions(&caller.project_id, &target.resource_id, &caller.protocol);
        if callees.is_empty() {
            return self.hangup_leg(call_id, Cause::UserNotRegistered, true);
        }
        let room_id = uuid::Uuid::new_v4().to_string();
        let mut callee_ids = Vec::new();
        for protocol in callees {
            let Some(identity) = self.sessions.get(&protocol).map(|s| s.identity.clone()) else {
                continue;
            };
            let id = uuid::Uuid::new_v4().to_string();
            let leg = Leg {
                protocol,
                project_id: identity.project_id.clone(),
                subject_id: identity.subject_id().to_owned(),
                subscriber_id: Some(identity.subject_id().to_owned()),
                name: identity.display_name.clone(),
                role: Role::Member,
                offer: None,
                room: Some(room_id.clone()),
                member_id: uuid::Uuid::new_v4().to_string(),
                address_id: Some(target.address_id.clone()),
                state: LegState::Joining,
                kind: LegKind::Callee,
                video: caller.video,
                held: false,
                parent_id: None,
            };
            self.member_legs.insert(leg.member_id.clone(), id.clone());
            self.legs.insert(id.clone(), leg);
            callee_ids.push(id);
        }
        let mut room = Room::new(
            &format!("call-{room_id}"),
            &room_id,
            &target.name,
            &target.display_name,
        );
        room.layout = "1x1".into();
        self.rooms.insert(
            room_id.clone(),
            RoomEntry {
                room,
                video: None,
                pending: 1,
                ring: Some(Ring {
                    caller: call_id.to_owned(),
                    callees: callee_ids,
                    deadline: now + self.cfg.ring_timeout,
                    answered_by: None,
                    caller_name: caller.name.clone(),
                    caller_number: caller
                        .subscriber_id
                        .as_deref()
                        .map_or_else(|| "guest".to_owned(), |s| format!("/private/{s}")),
                    callee_name: target.display_name.clone(),
                    callee_number: address.path(),
                }),
            },
        );
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        leg.kind = LegKind::Caller;
        leg.role = Role::Member;
        leg.room = Some(room_id.clone());
        leg.state = LegState::Joining;
        let offer = leg.offer.take().unwrap_or_default();
        let member = leg.member_id.clone();
        self.media(
            Op::Join {
                call_id: call_id.to_owned(),
            },
            MediaCall::AddMember {
                room: room_id,
                member,
                offer,
            },
        );
    }

    /// The caller of a 1:1 call got its answer SDP: send early media and ring the callees.
    pub(super) fn caller_joined(&mut self, call_id: &str, result: MediaResult) {
        let Some(leg) = self.legs.get(call_id).cloned() else {
            return;
        };
        let Some(room_id) = leg.room.clone() else {
            return;
        };
        let answer = match result {
            Ok(Some(sdp)) => sdp,
            _ => {
                return self.end_ring(
                    &room_id,
                    Cause::NormalTemporaryFailure,
                    Cause::OriginatorCancel,
                );
            }
        };
        self.emit_verto(
            &leg.protocol,
            "verto.media",
            verto::answer_params(call_id, Some(&answer)),
        );
        if let Some(l) = self.legs.get_mut(call_id) {
            l.state = LegState::Ringing;
        }
        let callees = self
            .rooms
            .get(&room_id)
            .and_then(|e| e.ring.as_ref())
            .map(|r| r.callees.clone())
            .unwrap_or_default();
        for callee in callees {
            let Some(c) = self.legs.get(&callee) else {
                continue;
            };
            let call = MediaCall::OfferMember {
                room: room_id.clone(),
                member: c.member_id.clone(),
                audio: true,
                video: c.video,
            };
            self.media(Op::Offer { call_id: callee }, call);
        }
    }

    /// The engine made the offer for a callee: send the inbound invite.
    pub(super) fn offered_media(&mut self, call_id: &str, result: MediaResult) {
        let Some(leg) = self.legs.get(call_id).cloned() else {
            return;
        };
        let Some(room_id) = leg.room.clone() else {
            return;
        };
        let Some(ring) = self.rooms.get(&room_id).and_then(|e| e.ring.clone()) else {
            return;
        };
        let offer = match result {
            Ok(Some(sdp)) => sdp,
            _ => {
                self.hangup_leg(call_id, Cause::NormalTemporaryFailure, false);
                return;
            }
        };
        if let Some(l) = self.legs.get_mut(call_id) {
            l.state = LegState::Ringing;
        }
        let params = json!({
            "callID": call_id,
            "sdp": offer,
            "caller_id_name": ring.caller_name,
            "caller_id_number": ring.caller_number,
            "callee_id_name": ring.callee_name,
            "callee_id_number": ring.callee_number,
            "display_direction": "inbound",
        });
        self.emit_verto(&leg.protocol, "verto.invite", params);
    }

    /// A rung session answered with its SDP: the first answer wins.
    pub(super) fn answer_inbound(
        &mut self,
        conn: ConnId,
        protocol: &str,
        req: ReqId,
        call_id: &str,
        sdp: String,
    ) {
        self.reply(
            conn,
            req,
            Ok(json!({"message": "CALL ANSWERED", "callID": call_id})),
        );
        let leg = self.owned_leg(protocol, call_id).cloned();
        let ringing = leg
            .as_ref()
            .filter(|l| l.kind == LegKind::Callee && l.state == LegState::Ringing);
        let Some(leg) = ringing else {
            let cause = if leg.is_some() {
                Cause::LoseRace
            } else {
                Cause::NormalClearing
            };
            if leg.is_none() {
                self.emit_verto(protocol, "verto.bye", verto::bye_params(call_id, cause));
            }
            return;
        };
        let room_id = leg.room.clone().unwrap_or_default();
        let Some(ring) = self.rooms.get_mut(&room_id).and_then(|e| e.ring.as_mut()) else {
            return;
        };
        if ring.answered_by.is_some() {
            return self.hangup_leg(call_id, Cause::LoseRace, true);
        }
        ring.answered_by = Some(call_id.to_owned());
        let others: Vec<String> = ring
            .callees
            .iter()
            .filter(|c| *c != call_id)
            .cloned()
            .collect();
        ring.callees.retain(|c| c == call_id);
        if let Some(l) = self.legs.get_mut(call_id) {
            l.protocol = protocol.to_owned();
            l.state = LegState::Answering;
        }
        for other in others {
            self.hangup_leg(&other, Cause::LoseRace, true);
        }
        self.media(
            Op::Accept {
                call_id: call_id.to_owned(),
            },
            MediaCall::AcceptAnswer {
                room: room_id,
                member: leg.member_id.clone(),
                answer: sdp,
            },
        );
    }

    /// The callee's answer was applied: both sides join the call room.
    pub(super) fn accepted_media(&mut self, call_id: &str, result: MediaResult) {
        let Some(leg) = self.legs.get(call_id).cloned() else {
            return;
        };
        let Some(room_id) = leg.room.clone() else {
            return;
        };
        if result.is_err() {
            return self.end_ring(
                &room_id,
                Cause::NormalTemporaryFailure,
                Cause::NormalTemporaryFailure,
            );
        }
        let Some(ring) = self.rooms.get_mut(&room_id).and_then(|e| e.ring.take()) else {
            return;
        };
        let Some(caller) = self.legs.get(&ring.caller).cloned() else {
            return;
        };
        for (id, l) in [(ring.caller.as_str(), &caller), (call_id, &leg)] {
            let info = self.member_info(id, l);
            if let Some(entry) = self.rooms.get_mut(&room_id) {
                let _ = entry.room.join(info);
                entry.pending = 0;
            }
            if let Some(l) = self.legs.get_mut(id) {
                l.state = LegState::Active;
            }
        }
        for (id, l) in [(call_id, &leg), (ring.caller.as_str(), &caller)] {
            self.emit_verto(&l.protocol, "verto.answer", verto::answer_params(id, None));
            self.emit_joined(&room_id, id);
        }
    }

    /// Ends a ringing call: the caller and every callee get a bye.
    pub(super) fn end_ring(&mut self, room_id: &str, caller_cause: Cause, callee_cause: Cause) {
        let Some(entry) = self.rooms.remove(room_id) else {
            return;
        };
        self.media(
            Op::Ignore,
            MediaCall::CloseRoom {
                room: room_id.to_owned(),
            },
        );
        let Some(ring) = entry.ring else { return };
        for callee in ring.callees {
            // Only sessions that got the invite need a bye.
            let invited = self
                .legs
                .get(&callee)
                .is_some_and(|l| matches!(l.state, LegState::Ringing | LegState::Answering));
            self.hangup_leg(&callee, callee_cause, invited);
        }
        self.hangup_leg(&ring.caller, caller_cause, true);
    }
}
