//! The sans-IO call controller: front-ends' commands, address lookups, media answers, media events
//! and time in; events for the front-ends and requests to the directory and the media engine out.
//!
//! A **leg** is one party's side of a call: a browser's Verto call, a SIP dialog. Each leg belongs
//! to the front-end that created it (or that the controller asked to ring). A leg dialling an
//! address is routed by what the address resolves to: a video room (the leg joins it), a
//! subscriber or a SIP endpoint (their reachable endpoints are rung in a 1:1 call room; the first
//! answer wins). Every leg in a room is a room member with one media-engine member.

mod legs;
mod presence;
mod ringing;
mod rooms;
mod scripts;
mod stats;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_core::Address;

use crate::cause::Cause;
use crate::directory::{Access, DirectoryError, Target};
use crate::media::{LocalMedia, MediaCall, MediaEvent, MediaResult, RemoteMedia};
use crate::room::{Control, RoomError, Target as RoomTarget};

pub use legs::{LegKind, LegState};
pub use scripts::SCRIPTS;
pub use stats::{CALL_STATES, CallsSnapshot};

/// Identifies a leg: a Verto `callID`, a SIP leg's id. Unique across front-ends.
pub type LegId = String;
/// Identifies one outstanding directory or media request.
pub type OpId = u64;
/// A front-end's id for a request that wants a [`FrontEvent::Reply`].
pub type ReqId = u64;

/// Names a front-end (`"verto"`, `"sip"`): where the controller sends a leg's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrontId(pub &'static str);

/// An endpoint a front-end can ring: a browser session, a registered SIP contact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointId {
    /// The front-end that rings it.
    pub front: FrontId,
    /// The front-end's name for it (a session's protocol, a contact binding's id).
    pub key: String,
}

/// Who places or takes a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Party {
    /// The project.
    pub project_id: String,
    /// A stable id: the subscriber, guest, SIP endpoint or trunk.
    pub subject_id: String,
    /// The subscriber id, for subscribers (shown in member objects).
    pub subscriber_id: Option<String>,
    /// The name others see.
    pub name: String,
    /// The caller-id number others see (`/private/<subscriber>`, `guest`, a SIP user).
    pub number: String,
    /// What the party may dial.
    pub access: Access,
    /// Joins video rooms as a moderator.
    pub moderator: bool,
}

/// A leg dialling an address.
#[derive(Debug, Clone, PartialEq)]
pub struct Dial {
    /// The new leg.
    pub leg: LegId,
    /// Its front-end.
    pub front: FrontId,
    /// The endpoint dialling, never rung by its own call.
    pub origin: Option<EndpointId>,
    /// Who dials.
    pub caller: Party,
    /// Where to.
    pub to: Address,
    /// The caller's media.
    pub media: RemoteMedia,
    /// The caller wants video.
    pub video: bool,
    /// A reattach (page reload): an active leg of the same id keeps its room with new media.
    pub attach: bool,
    /// For a screen share: the member id of the main call it belongs to.
    pub share_of: Option<String>,
}

/// An endpoint becoming reachable (or not) for calls to a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Presence {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// Calls to this resource (a subscriber id, a SIP endpoint's resource id) ring it.
    pub resource_id: String,
    /// Who answers there.
    pub party: Party,
    /// How the engine offers it media.
    pub flavor: crate::media::Flavor,
    /// Reachable now.
    pub online: bool,
}

/// What a front-end asks of the controller.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Place a call (or reattach one).
    Dial(Box<Dial>),
    /// A rung leg answered.
    Answer {
        /// The rung leg.
        leg: LegId,
        /// Its answer.
        media: RemoteMedia,
    },
    /// The leg hung up, declined or failed; the front-end has told its own side.
    Hangup {
        /// The leg.
        leg: LegId,
        /// Why (a rung leg: `UserBusy`, `CallRejected` or `NormalClearing` decline the call;
        /// any other cause ends only this attempt).
        cause: Cause,
    },
    /// Hold or resume the leg's media (answered with [`Reply::Held`] when `req` is set).
    Hold {
        /// The leg.
        leg: LegId,
        /// Held.
        held: bool,
        /// Reply to this request.
        req: Option<ReqId>,
    },
    /// Renegotiate the leg's media (answered with [`Reply::Media`] when `req` is set).
    UpdateMedia {
        /// The leg.
        leg: LegId,
        /// The new offer or RTP parameters.
        media: RemoteMedia,
        /// Reply to this request.
        req: Option<ReqId>,
    },
    /// A room control by the leg's member (answered with [`Reply::Control`]).
    Control {
        /// The acting leg.
        leg: LegId,
        /// Reply to this request.
        req: ReqId,
        /// The control.
        control: Control,
        /// Its target.
        target: RoomTarget,
    },
    /// The leg's party pressed keys.
    Dtmf {
        /// The leg.
        leg: LegId,
        /// The keys.
        digits: String,
    },
    /// An endpoint's reachability changed.
    Presence(Box<Presence>),
    /// A source leg (a script) hands the other party of its call on to `to` and leaves the
    /// call once the party is there; on failure it gets [`FrontEvent::ConnectFailed`] and
    /// stays.
    Connect {
        /// The source leg.
        leg: LegId,
        /// Where the party goes.
        to: Address,
        /// How long people rung for it may ring; `None`: the ring timeout.
        timeout: Option<Duration>,
    },
    /// A source leg (a script's `user_event`) sends an event to the browsers in its call: a
    /// `user_event` Fabric event whose params are `event`.
    UserEvent {
        /// The source leg.
        leg: LegId,
        /// The event, any JSON.
        event: Value,
    },
}

/// The successful answer to a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A room control's result (`{"code":"200",…}` plus lists).
    Control(Value),
    /// The hold state now.
    Held(bool),
    /// The local media after a renegotiation, if any.
    Media(Option<LocalMedia>),
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplyError {
    /// No active call with this leg id.
    #[error("no active call with this call_id")]
    NoSuchCall,
    /// The room refused the control.
    #[error(transparent)]
    Room(#[from] RoomError),
    /// The media engine failed.
    #[error("{0}")]
    Media(String),
}

/// How a ringing leg is presented to the endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring {
    /// The new inbound leg.
    pub leg: LegId,
    /// The project of the call.
    pub project_id: String,
    /// The endpoint (its front-end's key).
    pub endpoint: String,
    /// The engine's offer.
    pub media: LocalMedia,
    /// The caller's name and number.
    pub caller: (String, String),
    /// The callee's name and number (the address dialled).
    pub callee: (String, String),
    /// The call has video.
    pub video: bool,
}

/// A leg's call state, for front-ends that announce it (`call.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// Answered (in its room).
    Answered,
    /// Ended.
    Ended,
}

/// What the controller tells a front-end about one of its legs.
#[derive(Debug, Clone, PartialEq)]
pub enum FrontEvent {
    /// The answer to a request.
    Reply {
        /// The leg.
        leg: LegId,
        /// The request.
        req: ReqId,
        /// Its result.
        result: Result<Reply, ReplyError>,
    },
    /// The caller's media answer while the callee still rings (`verto.media`, SIP 180/183).
    EarlyMedia {
        /// The leg.
        leg: LegId,
        /// The engine's answer.
        media: LocalMedia,
    },
    /// The leg is connected: in its room, or its callee answered (then `media` is `None`,
    /// the answer having gone with the early media).
    Answered {
        /// The leg.
        leg: LegId,
        /// The engine's answer, unless sent before.
        media: Option<LocalMedia>,
    },
    /// Ring an endpoint with a new inbound leg.
    Ring(Box<Ring>),
    /// A Fabric event for the leg's party (`call.joined`, `member.joined`, `weft.dtmf`, …).
    Event {
        /// The leg.
        leg: LegId,
        /// The event type.
        event_type: &'static str,
        /// Its params (shared between recipients).
        params: Arc<Value>,
    },
    /// The leg's call state changed.
    State {
        /// The leg.
        leg: LegId,
        /// The new state.
        state: CallState,
        /// The leg was rung (not dialled).
        inbound: bool,
        /// Its room session.
        room: Option<String>,
    },
    /// The leg's media failed; the front-end ends the leg (with [`Command::Hangup`]) unless it
    /// expects its client to come back and reattach.
    MediaFailed {
        /// The leg.
        leg: LegId,
    },
    /// The controller ended the leg.
    Ended {
        /// The leg.
        leg: LegId,
        /// Why.
        cause: Cause,
        /// It had been answered (connected).
        was_active: bool,
    },
    /// A [`Command::Connect`] failed; the leg's call goes on as before.
    ConnectFailed {
        /// The source leg.
        leg: LegId,
        /// Why.
        cause: Cause,
    },
}

impl FrontEvent {
    /// The leg the event is about.
    pub fn leg(&self) -> &str {
        match self {
            FrontEvent::Reply { leg, .. }
            | FrontEvent::EarlyMedia { leg, .. }
            | FrontEvent::Answered { leg, .. }
            | FrontEvent::Event { leg, .. }
            | FrontEvent::State { leg, .. }
            | FrontEvent::MediaFailed { leg }
            | FrontEvent::Ended { leg, .. }
            | FrontEvent::ConnectFailed { leg, .. } => leg,
            FrontEvent::Ring(ring) => &ring.leg,
        }
    }
}

/// What the controller asks its shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Deliver an event to a front-end.
    Front(FrontId, FrontEvent),
    /// Resolve an address and report it with [`Controller::on_resolved`].
    Resolve {
        /// The operation.
        op: OpId,
        /// The project.
        project_id: String,
        /// The address.
        address: Address,
    },
    /// Run a media request and report it with [`Controller::on_media`].
    Media(OpId, MediaCall),
}

/// Limits and timings of the controller.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// How long a called endpoint rings.
    pub ring_timeout: Duration,
    /// Members one video room may hold (the media engine's own cap should be at least this).
    pub max_members_per_room: usize,
    /// `node_id` reported for members.
    pub node_id: String,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            ring_timeout: Duration::from_secs(30),
            max_members_per_room: crate::room::MAX_MEMBERS,
            node_id: "weft-node-1".into(),
        }
    }
}

/// What a pending operation was for.
enum Op {
    Resolve {
        leg: LegId,
        address: Address,
    },
    Join {
        leg: LegId,
    },
    Offer {
        leg: LegId,
    },
    Accept {
        leg: LegId,
    },
    Reattach {
        leg: LegId,
    },
    UpdateMedia {
        leg: LegId,
        req: Option<ReqId>,
    },
    Connect {
        source: LegId,
        party: LegId,
        address: Address,
        timeout: Option<Duration>,
    },
    Move {
        leg: LegId,
        source: LegId,
    },
    BridgeMove {
        party: LegId,
        callee: LegId,
        source: LegId,
    },
    Ignore,
}

/// The sans-IO call controller.
pub struct Controller {
    cfg: ControllerConfig,
    legs: HashMap<LegId, legs::Leg>,
    member_legs: HashMap<String, LegId>,
    rooms: HashMap<String, rooms::RoomEntry>,
    video_rooms: HashMap<(String, String), String>,
    presence: presence::Presences,
    ops: HashMap<OpId, Op>,
    next_op: OpId,
    out: VecDeque<Output>,
    stats: stats::Stats,
}

impl Controller {
    /// An empty controller.
    pub fn new(cfg: ControllerConfig) -> Self {
        Self {
            cfg,
            legs: HashMap::new(),
            member_legs: HashMap::new(),
            rooms: HashMap::new(),
            video_rooms: HashMap::new(),
            presence: presence::Presences::default(),
            ops: HashMap::new(),
            next_op: 1,
            out: VecDeque::new(),
            stats: stats::Stats::default(),
        }
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Number of rooms (video room sessions and 1:1 calls).
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Number of legs.
    pub fn leg_count(&self) -> usize {
        self.legs.len()
    }

    /// A leg's room and member id, if it has them (for tests and logs).
    pub fn leg_room(&self, leg: &str) -> Option<(Option<&str>, &str)> {
        self.legs
            .get(leg)
            .map(|l| (l.room.as_deref(), l.member_id.as_str()))
    }

    /// When `on_tick` must be called next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.rooms
            .values()
            .filter_map(|r| r.ring.as_ref().filter(|g| g.answered_by.is_none()))
            .map(|g| g.deadline)
            .min()
    }

    /// Handles a front-end's command.
    pub fn on_command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Dial(dial) => self.dial(now, *dial),
            Command::Answer { leg, media } => self.answer(&leg, media),
            Command::Hangup { leg, cause } => self.hangup(&leg, cause),
            Command::Hold { leg, held, req } => self.hold(&leg, held, req),
            Command::UpdateMedia { leg, media, req } => self.update_media(&leg, media, req),
            Command::Control {
                leg,
                req,
                control,
                target,
            } => self.control(&leg, req, control, &target),
            Command::Dtmf { leg, digits } => self.pressed(&leg, &digits),
            Command::Presence(p) => self.presence.update(*p),
            Command::Connect { leg, to, timeout } => self.connect(&leg, to, timeout),
            Command::UserEvent { leg, event } => self.user_event(&leg, event),
        }
    }

    /// Handles the answer to a [`Output::Resolve`].
    pub fn on_resolved(
        &mut self,
        now: Instant,
        op: OpId,
        result: Result<Option<Target>, DirectoryError>,
    ) {
        match self.ops.remove(&op) {
            Some(Op::Resolve { leg, address }) => self.route(now, &leg, &address, result),
            Some(Op::Connect {
                source,
                party,
                address,
                timeout,
            }) => self.connect_routed(now, &source, &party, (&address, timeout), result),
            _ => {}
        }
    }

    /// Handles the answer to a media request.
    pub fn on_media(&mut self, now: Instant, op: OpId, result: MediaResult) {
        let op = self.ops.remove(&op);
        if let (Err(e), Some(op)) = (&result, &op) {
            match op {
                Op::Join { leg }
                | Op::Offer { leg }
                | Op::Accept { leg }
                | Op::Reattach { leg }
                | Op::UpdateMedia { leg, .. }
                | Op::Move { leg, .. }
                | Op::BridgeMove { party: leg, .. } => {
                    tracing::warn!(call_id = %leg, error = %e, "media request failed")
                }
                Op::Ignore | Op::Resolve { .. } | Op::Connect { .. } => {
                    tracing::debug!(error = %e, "media request failed")
                }
            }
        }
        match op {
            Some(Op::Join { leg }) => {
                self.joined_media(&leg, result);
                self.join_finished(now, &leg);
            }
            Some(Op::Offer { leg }) => self.offered_media(&leg, result),
            Some(Op::Accept { leg }) => self.accepted_media(&leg, result),
            Some(Op::Reattach { leg }) => self.reattached_media(&leg, result),
            Some(Op::UpdateMedia { leg, req }) => {
                if let Some(req) = req {
                    let result = result
                        .map(Reply::Media)
                        .map_err(|e| ReplyError::Media(e.to_string()));
                    self.reply(&leg, req, result);
                }
            }
            Some(Op::Move { leg, source }) => self.moved_media(&leg, &source, result),
            Some(Op::BridgeMove {
                party,
                callee,
                source,
            }) => self.bridge_moved(&party, &callee, &source, result),
            Some(Op::Ignore | Op::Resolve { .. } | Op::Connect { .. }) | None => {}
        }
    }

    /// Handles an event of the media engine.
    pub fn on_media_event(&mut self, event: MediaEvent) {
        match event {
            MediaEvent::Talking {
                room,
                member,
                talking,
            } => {
                let Some(entry) = self.rooms.get_mut(&room) else {
                    return;
                };
                if let Some(ev) = entry.room.set_talking(&member, talking) {
                    self.broadcast(&room, &[ev], None);
                }
            }
            MediaEvent::MemberGone { member, reason, .. } => {
                if let Some(leg) = self.member_legs.get(&member).cloned() {
                    tracing::debug!(call_id = %leg, %reason, "leg media failed");
                    self.tell_front(&leg, FrontEvent::MediaFailed { leg: leg.clone() });
                }
            }
            MediaEvent::LayersWanted {
                room,
                member,
                mid,
                rids,
            } => {
                let Some(leg) = self.member_legs.get(&member).cloned() else {
                    return;
                };
                let params = serde_json::json!({
                    "room_id": room,
                    "member_id": member,
                    "call_id": leg,
                    "mid": mid,
                    "rids": rids,
                });
                self.event(&leg, crate::LAYERS_EVENT, params);
            }
            MediaEvent::Dtmf {
                member,
                digit,
                duration_ms,
                ..
            } => {
                if let Some(leg) = self.member_legs.get(&member).cloned() {
                    self.dtmf_heard(&leg, &digit.to_string(), Some(duration_ms));
                }
            }
        }
    }

    /// Handles the passage of time: unanswered rings.
    pub fn on_tick(&mut self, now: Instant) {
        let rings: Vec<String> = self
            .rooms
            .iter()
            .filter(|(_, r)| {
                r.ring
                    .as_ref()
                    .is_some_and(|g| g.answered_by.is_none() && g.deadline <= now)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for room in rings {
            self.end_ring(&room, Cause::NoAnswer, Cause::NoAnswer);
        }
    }

    fn op(&mut self, op: Op) -> OpId {
        let id = self.next_op;
        self.next_op += 1;
        self.ops.insert(id, op);
        id
    }

    fn media(&mut self, op: Op, call: MediaCall) {
        let id = self.op(op);
        self.out.push_back(Output::Media(id, call));
    }

    /// Sends `event` to the front-end of `leg`.
    fn tell_front(&mut self, leg: &str, event: FrontEvent) {
        if let Some(front) = self.legs.get(leg).map(|l| l.front) {
            self.out.push_back(Output::Front(front, event));
        }
    }

    fn reply(&mut self, leg: &str, req: ReqId, result: Result<Reply, ReplyError>) {
        let event = FrontEvent::Reply {
            leg: leg.to_owned(),
            req,
            result,
        };
        self.tell_front(leg, event);
    }

    /// Sends a Fabric event to the party of `leg`.
    fn event(&mut self, leg: &str, event_type: &'static str, params: Value) {
        self.shared_event(leg, event_type, Arc::new(params));
    }

    fn shared_event(&mut self, leg: &str, event_type: &'static str, params: Arc<Value>) {
        let event = FrontEvent::Event {
            leg: leg.to_owned(),
            event_type,
            params,
        };
        self.tell_front(leg, event);
    }
}

#[cfg(test)]
mod tests;
