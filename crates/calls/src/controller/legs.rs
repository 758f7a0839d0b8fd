//! Legs: dialling, reattach, routing by address, hang-ups, hold, renegotiation and key presses.

use std::time::Instant;

use serde_json::json;

use super::{Controller, Dial, FrontEvent, LegId, Op, Output, Party, Reply, ReplyError, ReqId};
use crate::cause::Cause;
use crate::directory::{DirectoryError, Target, TargetKind};
use crate::media::{Flavor, MediaCall, MediaKind, MediaResult, RemoteMedia, RtpCodec};
use crate::room::Role;
use weft_core::Address;

/// Where a leg is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegState {
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
pub enum LegKind {
    /// A member of a video room.
    Room,
    /// The dialling side of a 1:1 call.
    Caller,
    /// A rung endpoint of a 1:1 call.
    Callee,
}

/// One party's side of a call.
#[derive(Debug, Clone)]
pub(super) struct Leg {
    pub front: super::FrontId,
    pub origin: Option<super::EndpointId>,
    pub party: Party,
    pub role: Role,
    /// The remote media not yet handed to the engine (a dialled leg's offer).
    pub media: Option<RemoteMedia>,
    pub flavor: Flavor,
    /// The audio codec of the leg's media.
    pub codec: RtpCodec,
    pub room: Option<String>,
    pub member_id: String,
    pub address_id: Option<String>,
    pub state: LegState,
    pub kind: LegKind,
    pub video: bool,
    pub held: bool,
    pub parent_id: Option<String>,
    /// For a script's caller: the call room where people ring for it (a script's `connect`).
    pub bridging: Option<String>,
}

fn flavor_of(media: &RemoteMedia) -> Flavor {
    match media {
        RemoteMedia::WebRtc(_) => Flavor::WebRtc,
        RemoteMedia::Rtp(_) => Flavor::Rtp,
        RemoteMedia::Source => Flavor::Source,
    }
}

impl Controller {
    pub(super) fn dial(&mut self, now: Instant, dial: Dial) {
        let Dial {
            leg: id,
            front,
            origin,
            caller,
            to,
            media,
            video,
            attach,
            share_of,
        } = dial;
        if let Some(existing) = self.legs.get(&id) {
            if existing.front != front || existing.party.subject_id != caller.subject_id {
                tracing::info!(call_id = %id, "dial refused: the leg id is taken");
                let refused = FrontEvent::Ended {
                    leg: id,
                    cause: Cause::NormalTemporaryFailure,
                    was_active: false,
                };
                self.out.push_back(Output::Front(front, refused));
                return;
            }
            if attach && existing.state == LegState::Active && existing.room.is_some() {
                return self.reattach(&id, media);
            }
            self.hangup_leg(&id, Cause::NormalClearing, false);
        }
        let video = video || media.has_video();
        let member_id = uuid::Uuid::new_v4().to_string();
        let role = if caller.moderator {
            Role::Moderator
        } else {
            Role::Member
        };
        let project_id = caller.project_id.clone();
        self.legs.insert(
            id.clone(),
            Leg {
                front,
                origin,
                party: caller,
                role,
                flavor: flavor_of(&media),
                codec: media.codec(),
                media: Some(media),
                room: None,
                member_id: member_id.clone(),
                address_id: None,
                state: LegState::Resolving,
                kind: LegKind::Room,
                video,
                held: false,
                parent_id: None,
                bridging: None,
            },
        );
        self.member_legs.insert(member_id, id.clone());
        self.join_started(now, &id);
        if let Some(parent) = share_of
            && self.share_screen(&id, &parent)
        {
            return;
        }
        let op = self.op(Op::Resolve {
            leg: id,
            address: to.clone(),
        });
        self.out.push_back(Output::Resolve {
            op,
            project_id,
            address: to,
        });
    }

    /// A reloaded page has a new peer connection (new ICE and DTLS): the member's media is
    /// rebuilt from the new offer; the room keeps the member.
    fn reattach(&mut self, id: &str, media: RemoteMedia) {
        let Some(leg) = self.legs.get(id) else {
            return;
        };
        let (Some(room), member) = (leg.room.clone(), leg.member_id.clone()) else {
            return;
        };
        let remove = MediaCall::RemoveMember {
            room: room.clone(),
            member: member.clone(),
        };
        self.media(Op::Ignore, remove);
        let add = MediaCall::AddMember {
            room,
            member,
            media,
        };
        self.media(Op::Reattach { leg: id.to_owned() }, add);
    }

    /// Joins a screen-share leg to the room of its parent member (same subject, active room
    /// leg); `false` if there is no such parent.
    fn share_screen(&mut self, id: &str, parent_member: &str) -> bool {
        let Some(leg) = self.legs.get(id) else {
            return false;
        };
        let parent = self
            .member_legs
            .get(parent_member)
            .and_then(|c| self.legs.get(c))
            .filter(|p| {
                p.party.project_id == leg.party.project_id
                    && p.party.subject_id == leg.party.subject_id
                    && p.kind == LegKind::Room
                    && p.state == LegState::Active
            })
            .and_then(|p| Some((p.room.clone()?, p.role, p.address_id.clone())));
        let Some((room_id, role, address_id)) = parent else {
            return false;
        };
        if let Some(leg) = self.legs.get_mut(id) {
            leg.role = role;
            leg.parent_id = Some(parent_member.to_owned());
        }
        self.enter_room(id, &room_id, address_id);
        true
    }

    pub(super) fn route(
        &mut self,
        now: Instant,
        id: &str,
        address: &Address,
        result: Result<Option<Target>, DirectoryError>,
    ) {
        let Some(leg) = self.legs.get(id) else {
            return;
        };
        let target = match result {
            Err(_) => return self.hangup_leg(id, Cause::NormalTemporaryFailure, true),
            Ok(None) => return self.hangup_leg(id, Cause::UnallocatedNumber, true),
            Ok(Some(t)) if !leg.party.access.allows(address, &t) => {
                return self.hangup_leg(id, Cause::OutgoingCallBarred, true);
            }
            Ok(Some(t)) => t,
        };
        tracing::debug!(call_id = id, address = %address.path(), kind = ?target.kind, "call routed");
        match target.kind {
            TargetKind::VideoRoom => self.join_room(id, &target),
            TargetKind::Subscriber | TargetKind::SipEndpoint => {
                self.ring(now, id, &target, address)
            }
            TargetKind::SwmlScript => self.ring_script(now, id, &target, address),
            _ => self.hangup_leg(id, Cause::ServiceNotImplemented, true),
        }
    }

    /// The front-end hung up `id` (a rung leg: declined or failed).
    pub(super) fn hangup(&mut self, id: &str, cause: Cause) {
        let Some(leg) = self.legs.get(id).cloned() else {
            return;
        };
        let ringing = leg
            .room
            .as_ref()
            .and_then(|r| self.rooms.get(r))
            .and_then(|e| e.ring.as_ref())
            .is_some();
        if ringing && leg.kind == LegKind::Callee {
            return self.callee_gone(id, &leg, cause);
        }
        if leg.flavor == Flavor::Source
            && let Some(room) = &leg.room
        {
            // A script's hang-up ends its call with the script's cause (`hangup` with a reason).
            for other in self.room_legs(room).into_iter().filter(|o| o != id) {
                self.hangup_leg(&other, cause, true);
            }
        }
        let cause = if cause.declines() {
            Cause::NormalClearing
        } else {
            cause
        };
        self.hangup_leg(id, cause, false);
    }

    /// Removes a leg: leaves its room (announcing it), ends a 1:1 call for the other side, and
    /// tells the leg's front-end when `notify` is set.
    pub(super) fn hangup_leg(&mut self, id: &str, cause: Cause, notify: bool) {
        let Some(leg) = self.legs.remove(id) else {
            return;
        };
        if let Some(bridge) = &leg.bridging {
            // The people rung for it stop ringing.
            self.end_ring(bridge, Cause::OriginatorCancel, Cause::OriginatorCancel);
        }
        self.stats.joins.remove(id);
        tracing::debug!(call_id = id, cause = cause.name(), "call leg ended");
        self.member_legs.remove(&leg.member_id);
        let room_id = leg.room.clone();
        if let Some(room_id) = &room_id {
            self.leave_room(id, room_id, &leg, cause);
        }
        if notify {
            let active = leg.state == LegState::Active;
            if active {
                self.out.push_back(Output::Front(
                    leg.front,
                    FrontEvent::State {
                        leg: id.to_owned(),
                        state: super::CallState::Ended,
                        inbound: leg.kind == LegKind::Callee,
                        room: leg.room.clone(),
                    },
                ));
            }
            self.out.push_back(Output::Front(
                leg.front,
                FrontEvent::Ended {
                    leg: id.to_owned(),
                    cause,
                    was_active: active,
                },
            ));
        }
        let Some(room_id) = room_id else { return };
        let Some(entry) = self.rooms.get_mut(&room_id) else {
            return;
        };
        if let Some(ring) = entry.ring.as_mut() {
            ring.callees.retain(|c| c != id);
            let caller_gone = ring.caller == id;
            let no_callees = ring.callees.is_empty();
            let cause = ring.last_failure.unwrap_or(Cause::NoAnswer);
            if caller_gone {
                self.end_ring(&room_id, Cause::OriginatorCancel, Cause::OriginatorCancel);
            } else if no_callees {
                self.end_ring(&room_id, cause, Cause::NoAnswer);
            }
            return;
        }
        if entry.video.is_none() {
            let others = self.room_legs(&room_id);
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

    pub(super) fn hold(&mut self, id: &str, held: bool, req: Option<ReqId>) {
        let Some(leg) = self.legs.get_mut(id) else {
            if let Some(req) = req {
                self.reply(id, req, Err(ReplyError::NoSuchCall));
            }
            return;
        };
        leg.held = held;
        let leg = leg.clone();
        self.apply_hold(&leg, held);
        if let Some(req) = req {
            self.reply(id, req, Ok(Reply::Held(held)));
        }
    }

    pub(super) fn update_media(&mut self, id: &str, media: RemoteMedia, req: Option<ReqId>) {
        let Some(leg) = self.legs.get(id).cloned() else {
            if let Some(req) = req {
                self.reply(id, req, Err(ReplyError::NoSuchCall));
            }
            return;
        };
        let op = Op::UpdateMedia {
            leg: id.to_owned(),
            req,
        };
        let call = MediaCall::Renegotiate {
            room: leg.room.unwrap_or_default(),
            member: leg.member_id,
            offer: media,
        };
        self.media(op, call);
    }

    /// A reattached leg got its new answer: send it and `call.joined` again.
    pub(super) fn reattached_media(&mut self, id: &str, result: MediaResult) {
        let Some(leg) = self.legs.get(id).cloned() else {
            return;
        };
        match result {
            Ok(Some(media)) => {
                self.tell_front(
                    id,
                    FrontEvent::Answered {
                        leg: id.to_owned(),
                        media: Some(media),
                    },
                );
                if let Some(room_id) = &leg.room {
                    self.emit_joined(room_id, id);
                }
            }
            _ => self.hangup_leg(id, Cause::NormalTemporaryFailure, true),
        }
    }

    /// The party of `id` pressed keys: other members hear them (plain-RTP members as RFC 4733,
    /// the others get a `weft.dtmf` event).
    pub(super) fn pressed(&mut self, id: &str, digits: &str) {
        if self.legs.contains_key(id) {
            self.dtmf_heard(id, digits, None);
        }
    }

    /// Key presses of `id`'s party, from its front-end or from its media.
    pub(super) fn dtmf_heard(&mut self, id: &str, digits: &str, duration_ms: Option<u32>) {
        let Some(leg) = self.legs.get(id).cloned() else {
            return;
        };
        let Some(room_id) = leg.room.clone() else {
            return;
        };
        tracing::info!(call_id = id, room_id = %room_id, member_id = %leg.member_id, digits, "dtmf");
        let others: Vec<(LegId, String, Flavor)> = self
            .room_legs(&room_id)
            .into_iter()
            .filter(|other| other != id)
            .filter_map(|other| {
                let l = self.legs.get(&other)?;
                Some((other.clone(), l.member_id.clone(), l.flavor))
            })
            .collect();
        let params = std::sync::Arc::new(json!({
            "call_id": id,
            "member_id": leg.member_id,
            "room_session_id": room_id,
            "digits": digits,
            "duration_ms": duration_ms,
        }));
        for (other, member, flavor) in others {
            match flavor {
                Flavor::Rtp => self.media(
                    Op::Ignore,
                    MediaCall::SendDtmf {
                        room: room_id.clone(),
                        member,
                        digits: digits.to_owned(),
                    },
                ),
                Flavor::WebRtc | Flavor::Source => {
                    self.shared_event(&other, crate::DTMF_EVENT, params.clone())
                }
            }
        }
    }

    /// Hold stops the leg's media both ways and shows in its room; unhold restores the
    /// member's own mute state.
    pub(super) fn apply_hold(&mut self, leg: &Leg, held: bool) {
        let room = leg.room.clone().unwrap_or_default();
        let member = self.rooms.get_mut(&room).and_then(|e| {
            let event = e.room.set_held(&leg.member_id, held);
            e.room
                .member(&leg.member_id)
                .map(|m| (m.audio_muted, m.video_muted, m.deaf, event))
        });
        let (audio, video, deaf, event) = member.unwrap_or_default();
        if let Some(event) = event {
            self.broadcast(&room, &[event], None);
        }
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
