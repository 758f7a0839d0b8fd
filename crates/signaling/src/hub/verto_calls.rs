//! The Verto front-end of calls: `verto.*` and `call.*` requests become the call controller's
//! commands, and its events become `verto.*` messages and Fabric events for the sessions.

use std::collections::HashMap;

use serde_json::{Value, json};
use weft_calls::media::{LocalMedia, RemoteMedia};
use weft_calls::{CallState, Cause, Command, Dial, EndpointId, FrontEvent, Reply, ReplyError};
use weft_core::{Address, Channel};

use super::{ConnId, Hub, VERTO, party};
use crate::message::{Invite, ModifyAction, ReqId, Request};
use crate::rpc::{INTERNAL_ERROR, INVALID_PARAMS, RpcError};
use crate::verto;

/// A Verto call (callID) of one session.
#[derive(Debug, Clone)]
struct VertoLeg {
    protocol: String,
    project_id: String,
    subject_id: String,
    held: bool,
}

/// What a request waiting for the controller's reply came from.
enum Pending {
    Control { conn: ConnId, req: ReqId },
    Hold { conn: ConnId, req: ReqId },
    UpdateMedia { conn: ConnId, req: ReqId },
}

/// The Verto calls the hub knows, and requests waiting for the controller.
#[derive(Default)]
pub(super) struct VertoCalls {
    legs: HashMap<String, VertoLeg>,
    pending: HashMap<u64, Pending>,
    next_req: u64,
}

fn created(call_id: &str) -> Value {
    json!({"message": "CALL CREATED", "callID": call_id})
}

fn sdp_of(media: Option<&LocalMedia>) -> Option<&str> {
    match media {
        Some(LocalMedia::Sdp(sdp)) => Some(sdp),
        _ => None,
    }
}

impl VertoCalls {
    fn pend(&mut self, pending: Pending) -> u64 {
        self.next_req += 1;
        self.pending.insert(self.next_req, pending);
        self.next_req
    }
}

impl Hub {
    /// The leg `call_id` if it belongs to the subject of `protocol`.
    fn owned_leg(&self, protocol: &str, call_id: &str) -> Option<&VertoLeg> {
        let s = self.sessions.get(protocol)?;
        self.calls.legs.get(call_id).filter(|l| {
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
                self.reply(
                    conn,
                    req,
                    Ok(json!({"message": "CALL ANSWERED", "callID": call_id})),
                );
                if self.owned_leg(protocol, &call_id).is_none() {
                    let bye = verto::bye_params(&call_id, Cause::NormalClearing);
                    return self.emit_verto(protocol, "verto.bye", bye);
                }
                if let Some(l) = self.calls.legs.get_mut(&call_id) {
                    l.protocol = protocol.to_owned();
                }
                self.command(Command::Answer {
                    leg: call_id,
                    media: RemoteMedia::WebRtc(sdp),
                });
            }
            Request::Bye { call_id, cause } => {
                let bye = verto::bye_params(&call_id, Cause::NormalClearing);
                let mut reply = json!({"message": "CALL ENDED"});
                reply.as_object_mut().into_iter().for_each(|o| {
                    o.extend(bye.as_object().cloned().unwrap_or_default());
                });
                self.reply(conn, req, Ok(reply));
                if self.owned_leg(protocol, &call_id).is_some() {
                    self.calls.legs.remove(&call_id);
                    let cause = cause
                        .as_deref()
                        .map_or(Cause::NormalClearing, Cause::from_name);
                    self.command(Command::Hangup {
                        leg: call_id,
                        cause,
                    });
                }
            }
            Request::Info { call_id, dtmf } => {
                self.reply(conn, req, Ok(json!({"message": "SENT", "callID": call_id})));
                // `w`/`W` are pauses between keys; the keys themselves go to the call.
                let digits: String = dtmf.chars().filter(|c| !matches!(c, 'w' | 'W')).collect();
                if !digits.is_empty() && self.owned_leg(protocol, &call_id).is_some() {
                    self.command(Command::Dtmf {
                        leg: call_id,
                        digits,
                    });
                }
            }
            Request::Modify { call_id, action } => {
                self.modify(conn, protocol, req, call_id, action)
            }
            Request::Control {
                call_id,
                control,
                target,
            } => {
                if self.owned_leg(protocol, &call_id).is_none() {
                    let err = RpcError::new(
                        INVALID_PARAMS,
                        "Invalid params: no active call with this call_id",
                    );
                    return self.reply(conn, req, Err(err));
                }
                let id = self.calls.pend(Pending::Control { conn, req });
                self.command(Command::Control {
                    leg: call_id,
                    req: id,
                    control,
                    target,
                });
            }
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
        let known = self.calls.legs.contains_key(&call_id);
        if known && self.owned_leg(protocol, &call_id).is_none() {
            let err = RpcError::new(INVALID_PARAMS, "callID already in use");
            return self.reply(conn, req, Err(err));
        }
        let calls = self
            .calls
            .legs
            .iter()
            .filter(|(id, l)| l.protocol == protocol && **id != call_id)
            .count();
        if calls >= self.cfg.max_calls_per_session {
            let err = RpcError::new(INVALID_PARAMS, "Too many calls in this session");
            return self.reply(conn, req, Err(err));
        }
        self.reply(conn, req, Ok(created(&call_id)));
        let address = match Address::parse(&destination) {
            Ok(a) => a,
            Err(_) => {
                if known {
                    self.calls.legs.remove(&call_id);
                    self.command(Command::Hangup {
                        leg: call_id.clone(),
                        cause: Cause::NormalClearing,
                    });
                }
                let bye = verto::bye_params(&call_id, Cause::InvalidNumberFormat);
                return self.emit_verto(protocol, "verto.bye", bye);
            }
        };
        self.calls.legs.insert(
            call_id.clone(),
            VertoLeg {
                protocol: protocol.to_owned(),
                project_id: identity.project_id.clone(),
                subject_id: identity.subject_id().to_owned(),
                held: false,
            },
        );
        self.command(Command::Dial(Box::new(Dial {
            leg: call_id,
            front: VERTO,
            origin: Some(EndpointId {
                front: VERTO,
                key: protocol.to_owned(),
            }),
            caller: party(&identity),
            video: address.channel == Some(Channel::Video),
            to: address,
            media: RemoteMedia::WebRtc(sdp),
            attach,
            share_of: screen_share_of,
        })));
    }

    fn modify(
        &mut self,
        conn: ConnId,
        protocol: &str,
        req: ReqId,
        call_id: String,
        action: ModifyAction,
    ) {
        let Some(held) = self.owned_leg(protocol, &call_id).map(|l| l.held) else {
            let err = RpcError::new(INVALID_PARAMS, "no such call");
            return self.reply(conn, req, Err(err));
        };
        let held = match action {
            ModifyAction::UpdateMedia(sdp) => {
                let id = self.calls.pend(Pending::UpdateMedia { conn, req });
                return self.command(Command::UpdateMedia {
                    leg: call_id,
                    media: RemoteMedia::WebRtc(sdp),
                    req: Some(id),
                });
            }
            ModifyAction::Hold => true,
            ModifyAction::Unhold => false,
            ModifyAction::ToggleHold => !held,
        };
        if let Some(l) = self.calls.legs.get_mut(&call_id) {
            l.held = held;
        }
        let id = self.calls.pend(Pending::Hold { conn, req });
        self.command(Command::Hold {
            leg: call_id,
            held,
            req: Some(id),
        });
    }

    /// Ends every call of a session that is gone for good.
    pub(super) fn drop_calls_of(&mut self, protocol: &str) {
        let legs: Vec<String> = self
            .calls
            .legs
            .iter()
            .filter(|(_, l)| l.protocol == protocol)
            .map(|(id, _)| id.clone())
            .collect();
        for leg in legs {
            self.calls.legs.remove(&leg);
            self.command(Command::Hangup {
                leg,
                cause: Cause::RecoveryOnTimerExpire,
            });
        }
    }

    /// Turns one of the controller's events into what the leg's session gets.
    pub(super) fn on_front_event(&mut self, event: FrontEvent) {
        if let FrontEvent::Ring(ring) = event {
            return self.ring(*ring);
        }
        let Some(leg) = self.calls.legs.get(event.leg()).cloned() else {
            return;
        };
        let protocol = leg.protocol.as_str();
        match event {
            FrontEvent::Reply {
                leg: id,
                req,
                result,
            } => self.controller_reply(&id, req, result),
            FrontEvent::EarlyMedia { leg: id, media } => {
                let params = verto::answer_params(&id, sdp_of(Some(&media)));
                self.emit_verto(protocol, "verto.media", params);
            }
            FrontEvent::Answered { leg: id, media } => {
                let params = verto::answer_params(&id, sdp_of(media.as_ref()));
                self.emit_verto(protocol, "verto.answer", params);
            }
            FrontEvent::Event {
                event_type, params, ..
            } => {
                let params = if event_type == "call.joined" {
                    let mut p = (*params).clone();
                    p["room_session"]["event_channel"] = json!(protocol);
                    std::sync::Arc::new(p)
                } else {
                    params
                };
                self.emit(protocol, crate::message::Event { event_type, params });
            }
            FrontEvent::State {
                leg: id,
                state,
                inbound,
                room,
            } => {
                let params = json!({
                    "call_id": id,
                    "node_id": self.cfg.node_id,
                    "segment_id": id,
                    "call_state": match state {
                        CallState::Answered => "answered",
                        CallState::Ended => "ended",
                    },
                    "direction": if inbound { "inbound" } else { "outbound" },
                    "device": {"type": "webrtc", "params": {}},
                    "room_session_id": room,
                });
                self.emit(protocol, crate::message::Event::new("call.state", params));
            }
            FrontEvent::MediaFailed { leg: id } => {
                // A page that went away keeps its call for a reattach; a live one lost its media.
                let attached = self
                    .sessions
                    .get(protocol)
                    .is_some_and(|s| s.conn.is_some());
                if attached {
                    self.calls.legs.remove(&id);
                    let bye = verto::bye_params(&id, Cause::NormalTemporaryFailure);
                    self.emit_verto(&leg.protocol, "verto.bye", bye);
                    self.command(Command::Hangup {
                        leg: id,
                        cause: Cause::NormalTemporaryFailure,
                    });
                }
            }
            FrontEvent::Ended { leg: id, cause, .. } => {
                self.calls.legs.remove(&id);
                self.emit_verto(&leg.protocol, "verto.bye", verto::bye_params(&id, cause));
            }
            FrontEvent::Ring(_) | FrontEvent::ConnectFailed { .. } => {}
        }
    }

    /// The controller rings one of our sessions: send it an inbound `verto.invite`.
    fn ring(&mut self, ring: weft_calls::Ring) {
        let protocol = ring.endpoint;
        let Some(identity) = self.sessions.get(&protocol).map(|s| s.identity.clone()) else {
            return self.command(Command::Hangup {
                leg: ring.leg,
                cause: Cause::NormalTemporaryFailure,
            });
        };
        self.calls.legs.insert(
            ring.leg.clone(),
            VertoLeg {
                protocol: protocol.clone(),
                project_id: identity.project_id.clone(),
                subject_id: identity.subject_id().to_owned(),
                held: false,
            },
        );
        let params = json!({
            "callID": ring.leg,
            "sdp": sdp_of(Some(&ring.media)),
            "caller_id_name": ring.caller.0,
            "caller_id_number": ring.caller.1,
            "callee_id_name": ring.callee.0,
            "callee_id_number": ring.callee.1,
            "display_direction": "inbound",
        });
        self.emit_verto(&protocol, "verto.invite", params);
    }

    fn controller_reply(&mut self, call_id: &str, req: u64, result: Result<Reply, ReplyError>) {
        let Some(pending) = self.calls.pending.remove(&req) else {
            return;
        };
        let error = |e: ReplyError| match e {
            ReplyError::NoSuchCall => RpcError::new(
                INVALID_PARAMS,
                "Invalid params: no active call with this call_id",
            ),
            ReplyError::Room(e) => RpcError::new(INVALID_PARAMS, e.to_string()),
            ReplyError::Media(e) => RpcError::new(INTERNAL_ERROR, e),
        };
        match pending {
            Pending::Control { conn, req } => {
                let result = match result {
                    Ok(Reply::Control(value)) => Ok(value),
                    Ok(_) => Err(RpcError::new(INTERNAL_ERROR, "unexpected reply")),
                    Err(e) => Err(error(e)),
                };
                self.reply(conn, req, result);
            }
            Pending::Hold { conn, req } => {
                let result = match result {
                    Ok(Reply::Held(held)) => Ok(json!({
                        "action": if held { "hold" } else { "unhold" },
                        "callID": call_id,
                        "holdState": if held { "held" } else { "active" },
                    })),
                    Ok(_) => Err(RpcError::new(INTERNAL_ERROR, "unexpected reply")),
                    Err(e) => Err(error(e)),
                };
                self.reply(conn, req, result);
            }
            Pending::UpdateMedia { conn, req } => {
                let result = match result {
                    Ok(Reply::Media(Some(LocalMedia::Sdp(sdp)))) => {
                        Ok(json!({"action": "updateMedia", "callID": call_id, "sdp": sdp}))
                    }
                    Ok(_) => Err(RpcError::new(INTERNAL_ERROR, "no SDP answer")),
                    Err(e) => Err(error(e)),
                };
                self.reply(conn, req, result);
            }
        }
    }
}
