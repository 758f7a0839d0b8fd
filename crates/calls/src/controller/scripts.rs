//! Calls to SWML scripts. A script is rung like an endpoint of the [`SCRIPTS`] front-end, keyed
//! by its resource id; it answers with a source member (its voice) that its front-end adds to
//! the call's room itself. With [`super::Command::Connect`] it hands its caller on: to a video
//! room at once, or to a subscriber, a SIP endpoint or another script by ringing them (a
//! *bridge*: the caller stays with the script, hearing its ringback, until one answers). Either
//! way the caller's media moves with its transport, and the script's leg ends; a connect that
//! fails leaves the call with the script, which hears why.

use std::time::{Duration, Instant};

use weft_core::Address;

use super::legs::{LegKind, LegState};
use super::presence::Reach;
use super::{Controller, EndpointId, FrontEvent, FrontId, Op, Output, Party};
use crate::cause::Cause;
use crate::directory::{Access, DirectoryError, Target, TargetKind};
use crate::media::{Flavor, MediaCall, MediaResult};
use crate::room::Role;

/// The front-end that runs SWML scripts.
pub const SCRIPTS: FrontId = FrontId("swml");

/// The Fabric event a script's `user_event` sends to the browsers in its call.
pub const USER_EVENT: &str = "user_event";

/// A script's `connect` ringing someone for its caller.
#[derive(Debug, Clone)]
pub(super) struct Bridge {
    /// The script's leg.
    pub source: String,
    /// How long they ring; `None`: the controller's ring timeout.
    pub timeout: Option<Duration>,
}

impl Controller {
    /// Rings the script `target` for the call of leg `id`.
    pub(super) fn ring_script(
        &mut self,
        now: Instant,
        id: &str,
        target: &Target,
        address: &Address,
    ) {
        self.ring_script_for(now, id, target, address, None);
    }

    /// Rings the script `target` for leg `id`, as a bridge when a script connects to it.
    fn ring_script_for(
        &mut self,
        now: Instant,
        id: &str,
        target: &Target,
        address: &Address,
        bridge: Option<Bridge>,
    ) {
        let Some(caller) = self.legs.get(id) else {
            return;
        };
        let project_id = caller.party.project_id.clone();
        let endpoint = EndpointId {
            front: SCRIPTS,
            key: target.resource_id.clone(),
        };
        let party = Party {
            project_id: project_id.clone(),
            subject_id: target.resource_id.clone(),
            subscriber_id: None,
            name: target.display_name.clone(),
            number: address.path(),
            access: Access::Only(Vec::new()),
            moderator: false,
        };
        let reach = Reach {
            project_id,
            resource_id: target.resource_id.clone(),
            party,
            flavor: Flavor::Source,
        };
        self.ring_endpoints(now, id, target, address, vec![(endpoint, reach)], bridge);
    }

    /// The source leg `source` asks to hand the other party of its call on to `to`, ringing
    /// people for at most `timeout`.
    pub(super) fn connect(&mut self, source: &str, to: Address, timeout: Option<Duration>) {
        let spot = self
            .legs
            .get(source)
            .filter(|l| l.flavor == Flavor::Source && l.state == LegState::Active)
            .and_then(|l| Some((l.room.clone()?, l.party.project_id.clone())));
        let Some((room, project_id)) = spot else {
            return self.connect_failed(source, Cause::NormalTemporaryFailure);
        };
        let Some(party) = self.room_legs(&room).into_iter().find(|l| l != source) else {
            return self.connect_failed(source, Cause::NormalTemporaryFailure);
        };
        let op = self.op(Op::Connect {
            source: source.to_owned(),
            party,
            address: to.clone(),
            timeout,
        });
        self.out.push_back(Output::Resolve {
            op,
            project_id,
            address: to,
        });
    }

    /// The address of a [`super::Command::Connect`] is resolved.
    pub(super) fn connect_routed(
        &mut self,
        now: Instant,
        source: &str,
        party: &str,
        (address, timeout): (&Address, Option<Duration>),
        result: Result<Option<Target>, DirectoryError>,
    ) {
        let together = matches!(
            (self.legs.get(source), self.legs.get(party)),
            (Some(s), Some(p)) if s.room.is_some() && s.room == p.room && p.state == LegState::Active
        );
        if !together {
            return self.connect_failed(source, Cause::NormalTemporaryFailure);
        }
        let target = match result {
            Err(_) => return self.connect_failed(source, Cause::NormalTemporaryFailure),
            Ok(None) => return self.connect_failed(source, Cause::UnallocatedNumber),
            Ok(Some(target)) => target,
        };
        tracing::info!(call_id = party, script_call_id = source, address = %address.path(), kind = ?target.kind, "script connects its caller");
        let bridge = Bridge {
            source: source.to_owned(),
            timeout,
        };
        match target.kind {
            TargetKind::VideoRoom => self.move_to_room(source, party, &target),
            TargetKind::Subscriber | TargetKind::SipEndpoint => {
                let Some(leg) = self.legs.get(party) else {
                    return;
                };
                let endpoints = self.presence.reachable(
                    &leg.party.project_id,
                    &target.resource_id,
                    leg.origin.as_ref(),
                );
                if endpoints.is_empty() {
                    return self.connect_failed(source, Cause::UserNotRegistered);
                }
                self.ring_endpoints(now, party, &target, address, endpoints, Some(bridge));
            }
            TargetKind::SwmlScript => {
                self.ring_script_for(now, party, &target, address, Some(bridge));
            }
            _ => self.connect_failed(source, Cause::ServiceNotImplemented),
        }
    }

    /// A callee of a bridge answered and its answer is applied: the party's member moves into
    /// the bridge's room.
    pub(super) fn bridge_answered(
        &mut self,
        callee: &str,
        room_id: &str,
        party: &str,
        source: &str,
    ) {
        let Some(leg) = self.legs.get(party).cloned() else {
            return self.hangup_leg(callee, Cause::NormalClearing, true);
        };
        if let Some(from) = &leg.room
            && let Some(entry) = self.rooms.get_mut(from)
        {
            let events = entry.room.leave(&leg.member_id, "transfer");
            self.broadcast(from, &events, None);
        }
        if let Some(l) = self.legs.get_mut(party) {
            l.room = Some(room_id.to_owned());
            l.kind = LegKind::Caller;
            l.bridging = None;
        }
        let call = MediaCall::MoveMember {
            room: room_id.to_owned(),
            member: leg.member_id,
        };
        let op = Op::BridgeMove {
            party: party.to_owned(),
            callee: callee.to_owned(),
            source: source.to_owned(),
        };
        self.media(op, call);
    }

    /// The party's member is in the bridge's room: both sides are in the call, and the
    /// script's leg ends.
    pub(super) fn bridge_moved(
        &mut self,
        party: &str,
        callee: &str,
        source: &str,
        result: MediaResult,
    ) {
        self.hangup_leg(source, Cause::NormalClearing, true);
        let room_id = self.legs.get(callee).and_then(|l| l.room.clone());
        let (Some(room_id), true) = (room_id, result.is_ok()) else {
            self.hangup_leg(callee, Cause::NormalTemporaryFailure, true);
            return self.hangup_leg(party, Cause::NormalTemporaryFailure, true);
        };
        for id in [party, callee] {
            let Some(l) = self.legs.get(id).cloned() else {
                continue;
            };
            let info = self.member_info(id, &l);
            if let Some(entry) = self.rooms.get_mut(&room_id) {
                let _ = entry.room.join(info);
                entry.pending = 0;
            }
            if let Some(l) = self.legs.get_mut(id) {
                l.state = LegState::Active;
            }
        }
        tracing::info!(call_id = party, callee_call_id = callee, room_id = %room_id, "script connected its caller");
        self.tell_front(
            callee,
            FrontEvent::Answered {
                leg: callee.to_owned(),
                media: None,
            },
        );
        self.emit_joined(&room_id, callee);
        self.emit_joined(&room_id, party);
    }

    /// Moves the party's member out of the script's call room into the video room `target`.
    fn move_to_room(&mut self, source: &str, party: &str, target: &Target) {
        let Some(leg) = self.legs.get(party).cloned() else {
            return;
        };
        let Some(from) = leg.room.clone() else {
            return;
        };
        let room_id = self.video_room(&leg.party.project_id, target);
        if let Some(entry) = self.rooms.get_mut(&from) {
            let events = entry.room.leave(&leg.member_id, "transfer");
            self.broadcast(&from, &events, None);
        }
        let Some(entry) = self.rooms.get_mut(&room_id) else {
            return;
        };
        if entry.room.locked && !leg.party.moderator {
            self.hangup_leg(source, Cause::NormalClearing, true);
            return self.hangup_leg(party, Cause::CallRejected, true);
        }
        entry.pending += 1;
        if let Some(l) = self.legs.get_mut(party) {
            l.room = Some(room_id.clone());
            l.kind = LegKind::Room;
            l.state = LegState::Joining;
            l.address_id = Some(target.address_id.clone());
            l.role = if l.party.moderator {
                Role::Moderator
            } else {
                Role::Member
            };
        }
        let call = MediaCall::MoveMember {
            room: room_id,
            member: leg.member_id,
        };
        let op = Op::Move {
            leg: party.to_owned(),
            source: source.to_owned(),
        };
        self.media(op, call);
    }

    /// The party's member is in its new room: it joins the room, and the script's leg ends.
    pub(super) fn moved_media(&mut self, id: &str, source: &str, result: MediaResult) {
        self.hangup_leg(source, Cause::NormalClearing, true);
        let Some(leg) = self.legs.get(id).cloned() else {
            return;
        };
        let room_id = leg.room.clone().unwrap_or_default();
        if result.is_err() || !self.rooms.contains_key(&room_id) {
            return self.hangup_leg(id, Cause::NormalTemporaryFailure, true);
        }
        let Some(events) = self.admit_member(id, &room_id, &leg) else {
            return;
        };
        tracing::info!(call_id = id, room_id = %room_id, member_id = %leg.member_id, "member joined from a script");
        self.emit_joined(&room_id, id);
        self.broadcast(&room_id, &events, Some(&leg.member_id));
    }

    /// A script's `user_event`: the browsers in its call get a `user_event` Fabric event.
    pub(super) fn user_event(&mut self, source: &str, event: serde_json::Value) {
        let Some(room) = self
            .legs
            .get(source)
            .filter(|l| l.flavor == Flavor::Source)
            .and_then(|l| l.room.clone())
        else {
            return;
        };
        let params = std::sync::Arc::new(event);
        for other in self.room_legs(&room).into_iter().filter(|o| o != source) {
            if self
                .legs
                .get(&other)
                .is_some_and(|l| l.flavor == Flavor::WebRtc)
            {
                self.shared_event(&other, USER_EVENT, params.clone());
            }
        }
    }

    pub(super) fn connect_failed(&mut self, source: &str, cause: Cause) {
        tracing::info!(
            call_id = source,
            cause = cause.name(),
            "script connect failed"
        );
        let event = FrontEvent::ConnectFailed {
            leg: source.to_owned(),
            cause,
        };
        self.tell_front(source, event);
    }
}
