//! Call legs: dialling, reattach, routing by address, hang-ups, hold and renegotiation.

use std::time::Instant;

use serde_json::{Value, json};

use super::{ConnId, DirectoryCall, Hub, HubOutput, MediaCall, MediaResult, Op};
use crate::directory::{DirectoryError, Subject, Target, TargetKind};
use crate::message::{Invite, ModifyAction, ReqId, Request};
use crate::room::Role;
use crate::rpc::{INVALID_PARAMS, RpcError};
use crate::verto::{self, Cause};
use weft_core::{Address, Channel};

/// Where a leg is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LegState {
    /// Waiting for the directory.
    Resolving,
    /// Waiting for the media engine.
    Joining,
    /// Offered to a callee, or a caller waiting for an answer.
    Ringing,
    /// A callee answered; waiting for the media engine.
    Answering,
    /// In its room.
    Active,
}

/// What kind of leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LegKind {
    /// A member of a video room.
    Room,
    /// The dialling side of a 1:1 call.
    Caller,
    /// A rung session of a 1:1 call.
    Callee,
}

/// One Verto call (callID) of one client session.
#[derive(Debug, Clone)]
pub(super) struct Leg {
    pub protocol: String,
    pub project_id: String,
    pub subject_id: String,
    pub subscriber_id: Option<String>,
    pub name: String,
    pub role: Role,
    pub offer: Option<String>,
    pub room: Option<String>,
    pub member_id: String,
    pub address_id: Option<String>,
    pub state: LegState,
    pub kind: LegKind,
    pub video: bool,
    pub held: bool,
    pub parent_id: Option<String>,
}

fn created(call_id: &str) -> Value {
    json!({"message": "CALL CREATED", "callID": call_id})
}

impl Hub {
    /// The leg `call_id` if it belongs to the subject of `protocol`.
    pub(super) fn owned_leg(&self, protocol: &str, call_id: &str) -> Option<&Leg> {
        let s = self.sessions.get(protocol)?;
        self.legs.get(call_id).filter(|l| {
            l.project_id == s.identity.project_id && l.subject_id == s.identity.subject_id()
        })
    }

    pub(super) fn on_call_request(
        &mut self,
        conn: ConnId,
        protocol: &str,
        req: ReqId,
        request: Request,
    ) {
        match request {
            Request::Invite(invite) => self.invite(conn, protocol, req, invite),
            Request::Answer { call_id, sdp } => {
                self.answer_inbound(conn, protocol, req, &call_id, sdp)
            }
            Request::Bye { call_id, cause } => {
                let bye = verto::bye_params(&call_id, Cause::NormalClearing);
                let mut reply = json!({"message": "CALL ENDED"});
                reply.as_object_mut().into_iter().for_each(|o| {
                    o.extend(bye.as_object().cloned().unwrap_or_default());
                });
                self.reply(conn, req, Ok(reply));
                if self.owned_leg(protocol, &call_id).is_some() {
                    self.client_bye(&call_id, cause.as_deref());
                }
            }
            Request::Info { call_id, .. } => {
                self.reply(conn, req, Ok(json!({"message": "SENT", "callID": call_id})));
            }
            Request::Modify { call_id, action } => {
                self.modify(conn, protocol, req, &call_id, action)
            }
            Request::Control {
                call_id,
                control,
                target,
            } => self.control(conn, protocol, req, &call_id, control, &target),
            Request::Online | Request::Offline | Request::Reauthenticate { .. } => {}
        }
    }

    fn invite(&mut self, conn: ConnId, protocol: &str, req: ReqId, invite: Invite) {
        let Invite {
            call_id,
            destination,
            sdp,
            attach,
            screen_share_of,
        } = invite;
        let Some(identity) = self.sessions.get(protocol).map(|s| s.identity.clone()) else {
            return;
        };
        if self.legs.contains_key(&call_id) {
            let Some(leg) = self.owned_leg(protocol, &call_id) else {
                let err = RpcError::new(INVALID_PARAMS, "callID already in use");
                return self.reply(conn, req, Err(err));
            };
            if attach
                && leg.state == LegState::Active
                && let Some(room) = leg.room.clone()
            {
                // A reloaded page has a new peer connection (new ICE and DTLS): the member's
                // media is rebuilt from the new offer; the room keeps the member.
                let member = leg.member_id.clone();
                if let Some(leg) = self.legs.get_mut(&call_id) {
                    leg.protocol = protocol.to_owned();
                }
                self.reply(conn, req, Ok(created(&call_id)));
                let remove = MediaCall::RemoveMember {
                    room: room.clone(),
                    member: member.clone(),
                };
                self.media(Op::Ignore, remove);
                let add = MediaCall::AddMember {
                    room,
                    member,
                    offer: sdp,
                };
                self.media(
                    Op::Reattach {
                        call_id: call_id.clone(),
                    },
                    add,
                );
                return;
            }
            self.hangup_leg(&call_id, Cause::NormalClearing, false);
        }
        let calls = self
            .legs
            .values()
            .filter(|l| l.protocol == protocol)
            .count();
        if calls >= self.cfg.max_calls_per_session {
            let err = RpcError::new(INVALID_PARAMS, "Too many calls in this session");
            return self.reply(conn, req, Err(err));
        }
        self.reply(conn, req, Ok(created(&call_id)));
        let address = match Address::parse(&destination) {
            Ok(a) => a,
            Err(_) => {
                let bye = verto::bye_params(&call_id, Cause::InvalidNumberFormat);
                return self.emit_verto(protocol, "verto.bye", bye);
            }
        };
        let subscriber_id = match &identity.subject {
            Subject::Subscriber { subscriber_id } => Some(subscriber_id.clone()),
            Subject::Guest { .. } => None,
        };
        let video = address.channel == Some(Channel::Video) || sdp.contains("m=video");
        let member_id = uuid::Uuid::new_v4().to_string();
        self.legs.insert(
            call_id.clone(),
            Leg {
                protocol: protocol.to_owned(),
                project_id: identity.project_id.clone(),
                subject_id: identity.subject_id().to_owned(),
                subscriber_id,
                name: identity.display_name.clone(),
                role: if identity.is_guest() {
                    Role::Member
                } else {
                    Role::Moderator
                },
                offer: Some(sdp),
                room: None,
                member_id: member_id.clone(),
                address_id: None,
                state: LegState::Resolving,
                kind: LegKind::Room,
                video,
                held: false,
                parent_id: None,
            },
        );
        self.member_legs.insert(member_id, call_id.clone());
        if let Some(parent) = screen_share_of
            && self.share_screen(&call_id, &parent)
        {
            return;
        }
        let op = self.op(Op::Resolve {
            call_id,
            address: address.clone(),
        });
        self.out.push_back(HubOutput::Directory(
            op,
            DirectoryCall::Resolve {
                project_id: identity.project_id,
                address,
            },
        ));
    }

    /// Joins a screen-share leg to the room of its parent member (same subject, active room
    /// leg); `false` if there is no such parent.
    fn share_screen(&mut self, call_id: &str, parent_member: &str) -> bool {
        let Some(leg) = self.legs.get(call_id) else {
            return false;
        };
        let parent = self
            .member_legs
            .get(parent_member)
            .and_then(|c| self.legs.get(c))
            .filter(|p| {
                p.project_id == leg.project_id
                    && p.subject_id == leg.subject_id
                    && p.kind == LegKind::Room
                    && p.state == LegState::Active
            })
            .and_then(|p| Some((p.room.clone()?, p.role, p.address_id.clone())));
        let Some((room_id, role, address_id)) = parent else {
            return false;
        };
        if let Some(leg) = self.legs.get_mut(call_id) {
            leg.role = role;
            leg.parent_id = Some(parent_member.to_owned());
        }
        self.enter_room(call_id, &room_id, address_id);
        true
    }

    pub(super) fn route(
        &mut self,
        now: Instant,
        call_id: &str,
        address: &Address,
        result: Result<Option<Target>, DirectoryError>,
    ) {
        let Some(leg) = self.legs.get(call_id) else {
            return;
        };
        let Some(identity) = self.sessions.get(&leg.protocol).map(|s| s.identity.clone()) else {
            return self.hangup_leg(call_id, Cause::NormalTemporaryFailure, false);
        };
        let target = match result {
            Err(_) => return self.hangup_leg(call_id, Cause::NormalTemporaryFailure, true),
            Ok(None) => return self.hangup_leg(call_id, Cause::UnallocatedNumber, true),
            Ok(Some(t)) if !identity.may_reach(address, &t) => {
                return self.hangup_leg(call_id, Cause::OutgoingCallBarred, true);
            }
            Ok(Some(t)) => t,
        };
        tracing::debug!(call_id, address = %address.path(), kind = ?target.kind, "call routed");
        match target.kind {
            TargetKind::VideoRoom => self.join_room(call_id, &target),
            TargetKind::Subscriber => self.ring(now, call_id, &target, address),
            _ => self.hangup_leg(call_id, Cause::ServiceNotImplemented, true),
        }
    }

    /// The client hung up `call_id`.
    fn client_bye(&mut self, call_id: &str, cause: Option<&str>) {
        let Some(leg) = self.legs.get(call_id).cloned() else {
            return;
        };
        let ringing = leg
            .room
            .as_ref()
            .and_then(|r| self.rooms.get(r))
            .and_then(|e| e.ring.as_ref())
            .is_some();
        if ringing && leg.kind == LegKind::Callee {
            let room_id = leg.room.clone().unwrap_or_default();
            if let Some(ring) = self.rooms.get_mut(&room_id).and_then(|e| e.ring.as_mut()) {
                ring.callees.retain(|c| c != call_id);
            }
            self.legs.remove(call_id);
            self.member_legs.remove(&leg.member_id);
            let caller_cause = match cause.map(Cause::from_name) {
                Some(Cause::CallRejected) => Cause::CallRejected,
                _ => Cause::UserBusy,
            };
            return self.end_ring(&room_id, caller_cause, Cause::OriginatorCancel);
        }
        self.hangup_leg(call_id, Cause::NormalClearing, false);
    }

    /// Removes a leg: leaves its room (announcing it), ends a 1:1 call for the other side, and
    /// sends the owner a bye when `notify` is set.
    pub(super) fn hangup_leg(&mut self, call_id: &str, cause: Cause, notify: bool) {
        let Some(leg) = self.legs.remove(call_id) else {
            return;
        };
        self.stats.joins.remove(call_id);
        tracing::debug!(call_id, cause = cause.name(), "call leg ended");
        self.member_legs.remove(&leg.member_id);
        let room_id = leg.room.clone();
        if let Some(room_id) = &room_id {
            self.leave_room(room_id, &leg, cause);
        }
        if notify {
            if leg.state == LegState::Active {
                self.emit_call_state(call_id, &leg, "ended");
            }
            self.emit_verto(
                &leg.protocol,
                "verto.bye",
                verto::bye_params(call_id, cause),
            );
        }
        let Some(room_id) = room_id else { return };
        let Some(entry) = self.rooms.get_mut(&room_id) else {
            return;
        };
        if let Some(ring) = entry.ring.as_mut() {
            ring.callees.retain(|c| c != call_id);
            let caller_gone = ring.caller == call_id;
            let no_callees = ring.callees.is_empty();
            if caller_gone {
                self.end_ring(&room_id, Cause::OriginatorCancel, Cause::OriginatorCancel);
            } else if no_callees {
                self.end_ring(&room_id, Cause::NoAnswer, Cause::NoAnswer);
            }
            return;
        }
        if entry.video.is_none() {
            let others: Vec<String> = entry
                .room
                .members()
                .iter()
                .filter_map(|m| self.member_legs.get(&m.info.member_id).cloned())
                .collect();
            self.rooms.remove(&room_id);
            self.media(Op::Ignore, MediaCall::CloseRoom { room: room_id });
            let other_cause = if cause == Cause::RecoveryOnTimerExpire {
                Cause::NormalTemporaryFailure
            } else {
                Cause::NormalClearing
            };
            for other in others {
                self.hangup_leg(&other, other_cause, true);
            }
        }
    }

    fn modify(
        &mut self,
        conn: ConnId,
        protocol: &str,
        req: ReqId,
        call_id: &str,
        action: ModifyAction,
    ) {
        let Some(leg) = self.owned_leg(protocol, call_id).cloned() else {
            let err = RpcError::new(INVALID_PARAMS, "no such call");
            return self.reply(conn, req, Err(err));
        };
        let held = match action {
            ModifyAction::UpdateMedia(sdp) => {
                let op = Op::UpdateMedia {
                    conn,
                    req,
                    call_id: call_id.to_owned(),
                };
                let call = MediaCall::Renegotiate {
                    room: leg.room.unwrap_or_default(),
                    member: leg.member_id,
                    offer: sdp,
                };
                return self.media(op, call);
            }
            ModifyAction::Hold => true,
            ModifyAction::Unhold => false,
            ModifyAction::ToggleHold => !leg.held,
        };
        if let Some(l) = self.legs.get_mut(call_id) {
            l.held = held;
        }
        self.apply_hold(&leg, held);
        let state = if held { "held" } else { "active" };
        let reply = json!({"action": if held { "hold" } else { "unhold" }, "callID": call_id, "holdState": state});
        self.reply(conn, req, Ok(reply));
    }

    /// A reattached leg got its new answer: send it and `call.joined` again.
    pub(super) fn reattached_media(&mut self, call_id: &str, result: MediaResult) {
        let Some(leg) = self.legs.get(call_id).cloned() else {
            return;
        };
        match result {
            Ok(Some(sdp)) => {
                self.emit_verto(
                    &leg.protocol,
                    "verto.answer",
                    verto::answer_params(call_id, Some(&sdp)),
                );
                if let Some(room_id) = &leg.room {
                    self.emit_joined(room_id, call_id);
                }
            }
            _ => self.hangup_leg(call_id, Cause::NormalTemporaryFailure, true),
        }
    }
}
