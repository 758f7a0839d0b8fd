//! Ringing a subscriber or a SIP endpoint: one inbound leg per reachable endpoint, early media
//! for the caller, the first answer wins, and the ways a ring ends.

use std::time::Instant;

use super::legs::{Leg, LegKind, LegState};
use super::presence::Reach;
use super::rooms::{Ring, RoomEntry};
use super::scripts::Bridge;
use super::{Controller, EndpointId, FrontEvent, Op, Ring as RingEvent};
use crate::cause::Cause;
use crate::directory::Target;
use crate::media::{Flavor, LocalMedia, MediaCall, MediaResult, RemoteMedia, SourceSpot};
use crate::room::{Role, Room};
use weft_core::Address;

impl Controller {
    /// Rings every reachable endpoint of the target.
    pub(super) fn ring(&mut self, now: Instant, id: &str, target: &Target, address: &Address) {
        let Some(caller) = self.legs.get(id) else {
            return;
        };
        let endpoints = self.presence.reachable(
            &caller.party.project_id,
            &target.resource_id,
            caller.origin.as_ref(),
        );
        if endpoints.is_empty() {
            return self.hangup_leg(id, Cause::UserNotRegistered, true);
        }
        self.ring_endpoints(now, id, target, address, endpoints, None);
    }

    /// Rings `endpoints` for the call of leg `id` to `target`: one callee leg each, in a new
    /// 1:1 call room. With `bridge`, `id` is the party of a script's call, answered and in the
    /// script's room, which the first callee to answer takes it from.
    pub(super) fn ring_endpoints(
        &mut self,
        now: Instant,
        id: &str,
        target: &Target,
        address: &Address,
        endpoints: Vec<(EndpointId, Reach)>,
        bridge: Option<Bridge>,
    ) {
        let Some(caller) = self.legs.get(id).cloned() else {
            return;
        };
        let room_id = uuid::Uuid::new_v4().to_string();
        let mut callees = Vec::new();
        for (endpoint, reach) in endpoints {
            let callee = uuid::Uuid::new_v4().to_string();
            let leg = Leg {
                front: endpoint.front,
                origin: Some(endpoint.clone()),
                party: reach.party.clone(),
                role: Role::Member,
                media: None,
                flavor: reach.flavor,
                codec: caller.codec,
                room: Some(room_id.clone()),
                member_id: uuid::Uuid::new_v4().to_string(),
                address_id: Some(target.address_id.clone()),
                state: LegState::Joining,
                kind: LegKind::Callee,
                video: caller.video,
                held: false,
                parent_id: None,
                bridging: None,
            };
            self.member_legs
                .insert(leg.member_id.clone(), callee.clone());
            self.legs.insert(callee.clone(), leg);
            callees.push((callee, endpoint.key));
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
                    caller: id.to_owned(),
                    callees: callees.iter().map(|(c, _)| c.clone()).collect(),
                    endpoints: callees.into_iter().collect(),
                    deadline: now
                        + bridge
                            .as_ref()
                            .and_then(|b| b.timeout)
                            .unwrap_or(self.cfg.ring_timeout),
                    answered_by: None,
                    last_failure: None,
                    caller_name: caller.party.name.clone(),
                    caller_number: caller.party.number.clone(),
                    callee_name: target.display_name.clone(),
                    callee_number: address.path(),
                    bridge: bridge.as_ref().map(|b| b.source.clone()),
                }),
            },
        );
        if bridge.is_some() {
            if let Some(party) = self.legs.get_mut(id) {
                party.bridging = Some(room_id.clone());
            }
            return self.offer_callees(id, &room_id);
        }
        let Some(leg) = self.legs.get_mut(id) else {
            return;
        };
        leg.kind = LegKind::Caller;
        leg.role = Role::Member;
        leg.room = Some(room_id.clone());
        leg.state = LegState::Joining;
        let Some(media) = leg.media.take() else {
            return self.end_ring(
                &room_id,
                Cause::NormalTemporaryFailure,
                Cause::OriginatorCancel,
            );
        };
        let member = leg.member_id.clone();
        self.media(
            Op::Join { leg: id.to_owned() },
            MediaCall::AddMember {
                room: room_id,
                member,
                media,
            },
        );
    }

    /// The caller of a 1:1 call got its media answer: send early media and ring the callees.
    pub(super) fn caller_joined(&mut self, id: &str, result: MediaResult) {
        let Some(leg) = self.legs.get(id).cloned() else {
            return;
        };
        let Some(room_id) = leg.room.clone() else {
            return;
        };
        let answer = match result {
            Ok(Some(media)) => media,
            _ => {
                return self.end_ring(
                    &room_id,
                    Cause::NormalTemporaryFailure,
                    Cause::OriginatorCancel,
                );
            }
        };
        self.tell_front(
            id,
            FrontEvent::EarlyMedia {
                leg: id.to_owned(),
                media: answer,
            },
        );
        if let Some(l) = self.legs.get_mut(id) {
            l.state = LegState::Ringing;
        }
        self.offer_callees(id, &room_id);
    }

    /// Has the engine make an offer for each callee of the ring in `room_id` (a script's is
    /// rung at once with where its source goes) for the call of `id`.
    fn offer_callees(&mut self, id: &str, room_id: &str) {
        let Some(leg) = self.legs.get(id).cloned() else {
            return;
        };
        let room_id = room_id.to_owned();
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
            if c.flavor == Flavor::Source {
                let spot = SourceSpot {
                    room: room_id.clone(),
                    member: c.member_id.clone(),
                    codec: leg.codec,
                    party_member: leg.member_id.clone(),
                    party_leg: id.to_owned(),
                };
                self.offered_media(&callee, Ok(Some(LocalMedia::Source(spot))));
                continue;
            }
            let call = MediaCall::OfferMember {
                room: room_id.clone(),
                member: c.member_id.clone(),
                flavor: c.flavor,
                video: c.video,
            };
            self.media(Op::Offer { leg: callee }, call);
        }
    }

    /// The engine made the offer for a callee: ring its endpoint.
    pub(super) fn offered_media(&mut self, id: &str, result: MediaResult) {
        let Some(leg) = self.legs.get(id).cloned() else {
            return;
        };
        let Some(room_id) = leg.room.clone() else {
            return;
        };
        let Some(ring) = self.rooms.get(&room_id).and_then(|e| e.ring.clone()) else {
            return;
        };
        let offer = match result {
            Ok(Some(media)) => media,
            _ => {
                if let Some(r) = self.rooms.get_mut(&room_id).and_then(|e| e.ring.as_mut()) {
                    r.last_failure = Some(Cause::NormalTemporaryFailure);
                }
                self.hangup_leg(id, Cause::NormalTemporaryFailure, false);
                return;
            }
        };
        if let Some(l) = self.legs.get_mut(id) {
            l.state = LegState::Ringing;
        }
        let endpoint = ring.endpoints.get(id).cloned().unwrap_or_default();
        let event = FrontEvent::Ring(Box::new(RingEvent {
            leg: id.to_owned(),
            project_id: leg.party.project_id.clone(),
            endpoint,
            media: offer,
            caller: (ring.caller_name, ring.caller_number),
            callee: (ring.callee_name, ring.callee_number),
            video: leg.video,
        }));
        self.tell_front(id, event);
    }

    /// A rung leg answered with its media: the first answer wins.
    pub(super) fn answer(&mut self, id: &str, media: RemoteMedia) {
        let Some(leg) = self
            .legs
            .get(id)
            .filter(|l| l.kind == LegKind::Callee && l.state == LegState::Ringing)
            .cloned()
        else {
            return;
        };
        let room_id = leg.room.clone().unwrap_or_default();
        let Some(ring) = self.rooms.get_mut(&room_id).and_then(|e| e.ring.as_mut()) else {
            return;
        };
        if ring.answered_by.is_some() {
            return self.hangup_leg(id, Cause::LoseRace, true);
        }
        ring.answered_by = Some(id.to_owned());
        let others: Vec<String> = ring.callees.iter().filter(|c| *c != id).cloned().collect();
        ring.callees.retain(|c| c == id);
        if let Some(l) = self.legs.get_mut(id) {
            l.state = LegState::Answering;
        }
        for other in others {
            self.hangup_leg(&other, Cause::LoseRace, true);
        }
        self.media(
            Op::Accept { leg: id.to_owned() },
            MediaCall::AcceptAnswer {
                room: room_id,
                member: leg.member_id.clone(),
                answer: media,
            },
        );
    }

    /// The callee's answer was applied: both sides join the call room.
    pub(super) fn accepted_media(&mut self, id: &str, result: MediaResult) {
        let Some(leg) = self.legs.get(id).cloned() else {
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
        if let Some(source) = &ring.bridge {
            return self.bridge_answered(id, &room_id, &ring.caller, source);
        }
        let Some(caller) = self.legs.get(&ring.caller).cloned() else {
            return;
        };
        for (leg_id, l) in [(ring.caller.as_str(), &caller), (id, &leg)] {
            let info = self.member_info(leg_id, l);
            if let Some(entry) = self.rooms.get_mut(&room_id) {
                let _ = entry.room.join(info);
                entry.pending = 0;
            }
            if let Some(l) = self.legs.get_mut(leg_id) {
                l.state = LegState::Active;
            }
        }
        tracing::info!(call_id = %ring.caller, callee_call_id = id, room_id = %room_id, "call answered");
        for leg_id in [id, ring.caller.as_str()] {
            self.tell_front(
                leg_id,
                FrontEvent::Answered {
                    leg: leg_id.to_owned(),
                    media: None,
                },
            );
            self.emit_joined(&room_id, leg_id);
        }
    }

    /// A rung leg ended before the call was answered: a decline ends the whole ring, any other
    /// cause only this attempt (the ring goes on while other endpoints ring).
    pub(super) fn callee_gone(&mut self, id: &str, leg: &Leg, cause: Cause) {
        let room_id = leg.room.clone().unwrap_or_default();
        let decline = cause.declines() || cause == Cause::NormalClearing;
        let Some(ring) = self.rooms.get_mut(&room_id).and_then(|e| e.ring.as_mut()) else {
            return;
        };
        if !decline {
            ring.last_failure = Some(cause);
            return self.hangup_leg(id, cause, false);
        }
        ring.callees.retain(|c| c != id);
        self.legs.remove(id);
        self.member_legs.remove(&leg.member_id);
        let caller_cause = if cause == Cause::CallRejected {
            Cause::CallRejected
        } else {
            Cause::UserBusy
        };
        self.end_ring(&room_id, caller_cause, Cause::OriginatorCancel);
    }

    /// Ends a ringing call: the caller and every callee are ended.
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
            // Only endpoints that were rung need to hear of it.
            let rung = self
                .legs
                .get(&callee)
                .is_some_and(|l| matches!(l.state, LegState::Ringing | LegState::Answering));
            self.hangup_leg(&callee, callee_cause, rung);
        }
        match ring.bridge {
            // A script's caller stays with the script, which hears why.
            Some(source) => {
                if let Some(party) = self.legs.get_mut(&ring.caller) {
                    party.bridging = None;
                }
                self.connect_failed(&source, caller_cause)
            }
            None => self.hangup_leg(&ring.caller, caller_cause, true),
        }
    }
}
