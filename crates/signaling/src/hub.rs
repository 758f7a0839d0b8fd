//! The sans-IO switch between sessions: logical sessions by `protocol` (resume, presence,
//! queued events), call legs, ringing and rooms. Messages, lookup results and time in; messages
//! to connections and requests to the directory and media out.

mod calls;
mod ringing;
mod rooms;
mod stats;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::directory::{DirectoryError, Identity, Subject, Target};
use crate::handshake;
use crate::media::{MediaEvent, MediaFailure, MediaKind};
use crate::message::{Connected, Down, Event, REQUESTER_VALIDATION_FAILED, ReqId, Request, Up};
use crate::rpc::{AUTH_ERROR, RpcError};
use crate::verto::{self, Cause};
use weft_core::Address;

/// The Weft extension event that tells an SFU-aware publisher which of its simulcast layers
/// anyone receives (the official SDK sends no simulcast and never gets it).
pub const LAYERS_EVENT: &str = "weft.layers";

/// Identifies one WebSocket connection.
pub type ConnId = u64;
/// Identifies one outstanding directory or media request.
pub type OpId = u64;

/// Limits and timings of the hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// How long a session (and its calls) survives without a socket.
    pub session_grace: Duration,
    /// How long an inbound call rings.
    pub ring_timeout: Duration,
    /// Live sessions per subscriber or guest.
    pub max_sessions_per_subject: usize,
    /// Events kept for a session without a socket; beyond it the session cannot be resumed.
    pub max_queued_events: usize,
    /// Calls (legs) one session may have at a time.
    pub max_calls_per_session: usize,
    /// Members one video room may hold (the media engine's own cap should be at least this).
    pub max_members_per_room: usize,
    /// `node_id` reported for members (the shell copies the session's).
    pub node_id: String,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            session_grace: Duration::from_secs(30),
            ring_timeout: Duration::from_secs(30),
            max_sessions_per_subject: 10,
            max_queued_events: 1024,
            max_calls_per_session: 8,
            max_members_per_room: crate::room::MAX_MEMBERS,
            node_id: "weft-node-1".into(),
        }
    }
}

/// A request to the directory.
#[derive(Debug, Clone, PartialEq)]
pub enum DirectoryCall {
    /// Verify an access token.
    VerifyToken(String),
    /// Resolve an address in a project.
    Resolve {
        /// The project.
        project_id: String,
        /// The address.
        address: Address,
    },
}

/// The answer to a [`DirectoryCall`].
#[derive(Debug, Clone, PartialEq)]
pub enum DirectoryResult {
    /// Answer to `VerifyToken`.
    Identity(Result<Identity, DirectoryError>),
    /// Answer to `Resolve`.
    Target(Result<Option<Target>, DirectoryError>),
}

/// A request to the media engine.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaCall {
    /// Add a member from an offer; answers with the SDP answer.
    AddMember {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
        /// The offer.
        offer: String,
    },
    /// Create an inbound leg; answers with the engine's offer.
    OfferMember {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
        /// Offer audio.
        audio: bool,
        /// Offer video.
        video: bool,
    },
    /// Apply an answer to an engine offer.
    AcceptAnswer {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
        /// The answer.
        answer: String,
    },
    /// Renegotiate; answers with the SDP answer.
    Renegotiate {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
        /// The new offer.
        offer: String,
    },
    /// Mute or unmute.
    SetMuted {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
        /// Audio or video.
        kind: MediaKind,
        /// Muted.
        muted: bool,
    },
    /// Deafen or undeafen.
    SetDeaf {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
        /// Deaf.
        deaf: bool,
    },
    /// Remove a member.
    RemoveMember {
        /// Room id.
        room: String,
        /// Member id.
        member: String,
    },
    /// Close a room.
    CloseRoom {
        /// Room id.
        room: String,
    },
}

impl MediaCall {
    /// The room the request is about; requests of one room must run in order.
    pub fn room(&self) -> &str {
        match self {
            MediaCall::AddMember { room, .. }
            | MediaCall::OfferMember { room, .. }
            | MediaCall::AcceptAnswer { room, .. }
            | MediaCall::Renegotiate { room, .. }
            | MediaCall::SetMuted { room, .. }
            | MediaCall::SetDeaf { room, .. }
            | MediaCall::RemoveMember { room, .. }
            | MediaCall::CloseRoom { room } => room,
        }
    }
}

/// The answer to a [`MediaCall`]: an SDP for calls that produce one.
pub type MediaResult = Result<Option<String>, MediaFailure>;

/// What the hub asks its shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum HubOutput {
    /// Deliver a message to a connection.
    ToConn(ConnId, Down),
    /// Run a directory request and report it with `on_directory`.
    Directory(OpId, DirectoryCall),
    /// Run a media request and report it with `on_media`.
    Media(OpId, MediaCall),
}

/// What a connection is to the hub.
#[derive(Debug, Clone, PartialEq)]
enum ConnState {
    /// Not connected yet (or its connect was refused).
    Fresh,
    /// Serving this protocol.
    Attached(String),
    /// Its protocol was resumed on another socket; its unacked events go there.
    Replaced(String),
}

/// A session that outlives its sockets, named by its `protocol`.
struct Logical {
    identity: Identity,
    auth_state: String,
    conn: Option<ConnId>,
    detached_at: Option<Instant>,
    online: bool,
    queue: VecDeque<Event>,
    overflowed: bool,
}

/// What a pending operation was for.
enum Op {
    Verify {
        conn: ConnId,
        resume: Option<(String, Option<String>)>,
    },
    Reauth {
        conn: ConnId,
        req: ReqId,
    },
    Resolve {
        call_id: String,
        address: Address,
    },
    Join {
        call_id: String,
    },
    Offer {
        call_id: String,
    },
    Accept {
        call_id: String,
    },
    Reattach {
        call_id: String,
    },
    UpdateMedia {
        conn: ConnId,
        req: ReqId,
        call_id: String,
    },
    Ignore,
}

/// The sans-IO switch.
pub struct Hub {
    cfg: HubConfig,
    conns: HashMap<ConnId, ConnState>,
    sessions: HashMap<String, Logical>,
    legs: HashMap<String, calls::Leg>,
    member_legs: HashMap<String, String>,
    rooms: HashMap<String, rooms::RoomEntry>,
    video_rooms: HashMap<(String, String), String>,
    ops: HashMap<OpId, Op>,
    next_op: OpId,
    out: VecDeque<HubOutput>,
    stats: stats::Stats,
}

impl Hub {
    /// An empty hub.
    pub fn new(cfg: HubConfig) -> Self {
        Self {
            cfg,
            conns: HashMap::new(),
            sessions: HashMap::new(),
            legs: HashMap::new(),
            member_legs: HashMap::new(),
            rooms: HashMap::new(),
            video_rooms: HashMap::new(),
            ops: HashMap::new(),
            next_op: 1,
            out: VecDeque::new(),
            stats: stats::Stats::default(),
        }
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<HubOutput> {
        self.out.pop_front()
    }

    /// Registers a new connection.
    pub fn open(&mut self, conn: ConnId) {
        self.conns.insert(conn, ConnState::Fresh);
    }

    /// Number of live sessions (attached or within their grace period).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Number of rooms (video room sessions and calls).
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Asks every connected client to disconnect (server shutdown).
    pub fn shutdown(&mut self) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.out.push_back(HubOutput::ToConn(conn, Down::Shutdown));
        }
    }

    /// When `on_tick` must be called next.
    pub fn next_deadline(&self) -> Option<Instant> {
        let grace = self.cfg.session_grace;
        let detached = self
            .sessions
            .values()
            .filter_map(|s| s.detached_at.map(|t| t + grace));
        let rings = self
            .rooms
            .values()
            .filter_map(|r| r.ring.as_ref().filter(|g| g.answered_by.is_none()))
            .map(|g| g.deadline);
        detached.chain(rings).min()
    }

    /// Handles a message from a connection's session.
    pub fn on_up(&mut self, now: Instant, conn: ConnId, up: Up) {
        match up {
            Up::Connect {
                token,
                protocol,
                authorization_state,
            } => {
                let resume = protocol.map(|p| (p, authorization_state));
                let op = self.op(Op::Verify { conn, resume });
                self.out
                    .push_back(HubOutput::Directory(op, DirectoryCall::VerifyToken(token)));
            }
            Up::Request { req, request } => {
                let invite = match &request {
                    Request::Invite(invite) => Some(invite.call_id.clone()),
                    _ => None,
                };
                self.on_request(conn, req, request);
                if let Some(call_id) = invite {
                    self.join_started(now, call_id);
                }
            }
            Up::Closed { unacked } => self.on_closed(now, conn, unacked),
        }
    }

    /// Handles the answer to a directory request.
    pub fn on_directory(&mut self, now: Instant, op: OpId, result: DirectoryResult) {
        match (self.ops.remove(&op), result) {
            (Some(Op::Verify { conn, resume }), DirectoryResult::Identity(r)) => {
                self.finish_connect(conn, resume, r)
            }
            (Some(Op::Reauth { conn, req }), DirectoryResult::Identity(r)) => {
                self.finish_reauth(conn, req, r)
            }
            (Some(Op::Resolve { call_id, address }), DirectoryResult::Target(r)) => {
                self.route(now, &call_id, &address, r)
            }
            _ => {}
        }
    }

    /// Handles the answer to a media request.
    pub fn on_media(&mut self, now: Instant, op: OpId, result: MediaResult) {
        match self.ops.remove(&op) {
            Some(Op::Join { call_id }) => {
                self.joined_media(&call_id, result);
                self.join_finished(now, &call_id);
            }
            Some(Op::Offer { call_id }) => self.offered_media(&call_id, result),
            Some(Op::Accept { call_id }) => self.accepted_media(&call_id, result),
            Some(Op::Reattach { call_id }) => self.reattached_media(&call_id, result),
            Some(Op::UpdateMedia { conn, req, call_id }) => {
                let reply = match result {
                    Ok(Some(sdp)) => {
                        Ok(json!({"action": "updateMedia", "callID": call_id, "sdp": sdp}))
                    }
                    Ok(None) => Err(RpcError::new(crate::rpc::INTERNAL_ERROR, "no SDP answer")),
                    Err(e) => Err(RpcError::new(crate::rpc::INTERNAL_ERROR, e.to_string())),
                };
                self.reply(conn, req, reply);
            }
            Some(Op::Ignore) | None => {}
            Some(_) => {}
        }
    }

    /// Handles an event from the media engine.
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
            MediaEvent::MemberGone { member, .. } => {
                let Some(call_id) = self.member_legs.get(&member).cloned() else {
                    return;
                };
                let attached = self
                    .legs
                    .get(&call_id)
                    .and_then(|l| self.sessions.get(&l.protocol))
                    .is_some_and(|s| s.conn.is_some());
                if attached {
                    self.hangup_leg(&call_id, Cause::NormalTemporaryFailure, true);
                }
            }
            MediaEvent::LayersWanted {
                room,
                member,
                mid,
                rids,
            } => {
                let Some((call_id, leg)) = self
                    .member_legs
                    .get(&member)
                    .and_then(|c| Some((c.clone(), self.legs.get(c)?)))
                else {
                    return;
                };
                let protocol = leg.protocol.clone();
                let params = json!({
                    "room_id": room,
                    "member_id": member,
                    "call_id": call_id,
                    "mid": mid,
                    "rids": rids,
                });
                self.emit(&protocol, Event::new(LAYERS_EVENT, params));
            }
        }
    }

    /// Handles the passage of time: expired sessions and unanswered rings.
    pub fn on_tick(&mut self, now: Instant) {
        let grace = self.cfg.session_grace;
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.detached_at.is_some_and(|t| t + grace <= now))
            .map(|(p, _)| p.clone())
            .collect();
        for protocol in expired {
            self.drop_session(&protocol);
        }
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
        self.out.push_back(HubOutput::Media(id, call));
    }

    fn reply(&mut self, conn: ConnId, req: ReqId, result: Result<Value, RpcError>) {
        if self.conns.contains_key(&conn) {
            self.out
                .push_back(HubOutput::ToConn(conn, Down::Reply { req, result }));
        }
    }

    /// Delivers an event to a session: now if attached, else queued for its resume.
    fn emit(&mut self, protocol: &str, event: Event) {
        let max = self.cfg.max_queued_events;
        let Some(s) = self.sessions.get_mut(protocol) else {
            return;
        };
        match s.conn {
            Some(conn) => self
                .out
                .push_back(HubOutput::ToConn(conn, Down::Event(event))),
            None if s.queue.len() < max => s.queue.push_back(event),
            None => s.overflowed = true,
        }
    }

    /// Sends a Verto request inside `webrtc.message`.
    fn emit_verto(&mut self, protocol: &str, method: &str, params: Value) {
        let id = uuid::Uuid::new_v4().to_string();
        self.emit(
            protocol,
            Event::new("webrtc.message", verto::message(&id, method, params)),
        );
    }

    fn on_request(&mut self, conn: ConnId, req: ReqId, request: Request) {
        let Some(ConnState::Attached(protocol)) = self.conns.get(&conn).cloned() else {
            let err = RpcError::new(AUTH_ERROR, "Unauthorized");
            self.reply(conn, req, Err(err));
            return;
        };
        match request {
            Request::Online | Request::Offline => {
                if let Some(s) = self.sessions.get_mut(&protocol) {
                    s.online = request == Request::Online;
                }
                self.reply(conn, req, Ok(json!({})));
            }
            Request::Reauthenticate { token } => {
                let op = self.op(Op::Reauth { conn, req });
                self.out
                    .push_back(HubOutput::Directory(op, DirectoryCall::VerifyToken(token)));
            }
            other => self.on_call_request(conn, &protocol, req, other),
        }
    }

    fn finish_connect(
        &mut self,
        conn: ConnId,
        resume: Option<(String, Option<String>)>,
        result: Result<Identity, DirectoryError>,
    ) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        let reject = |hub: &mut Self, message: String| {
            tracing::info!(conn, %message, "signalwire.connect refused");
            hub.out
                .push_back(HubOutput::ToConn(conn, Down::ConnectRejected { message }));
        };
        let identity = match result {
            Ok(identity) => identity,
            Err(DirectoryError::InvalidToken(why)) => {
                return reject(self, format!("Authentication failed: {why}"));
            }
            Err(DirectoryError::Unavailable(_)) => {
                return reject(self, "Authentication service unavailable".into());
            }
        };
        let (protocol, replay) = match resume {
            Some((protocol, state)) => {
                let Some(s) = self.sessions.get_mut(&protocol) else {
                    return reject(self, REQUESTER_VALIDATION_FAILED.into());
                };
                let same_subject = s.identity.project_id == identity.project_id
                    && s.identity.subject_id() == identity.subject_id();
                let state_ok = state.as_ref().is_none_or(|st| *st == s.auth_state);
                if !same_subject || !state_ok || s.overflowed {
                    return reject(self, REQUESTER_VALIDATION_FAILED.into());
                }
                if let Some(old) = s.conn.take() {
                    self.out.push_back(HubOutput::ToConn(
                        old,
                        Down::Close {
                            reason: "session resumed elsewhere",
                        },
                    ));
                    self.conns
                        .insert(old, ConnState::Replaced(protocol.clone()));
                }
                s.identity = identity.clone();
                s.conn = Some(conn);
                s.detached_at = None;
                let replay: Vec<Event> = s.queue.drain(..).collect();
                (protocol, replay)
            }
            None => {
                let live = self
                    .sessions
                    .values()
                    .filter(|s| {
                        s.identity.project_id == identity.project_id
                            && s.identity.subject_id() == identity.subject_id()
                    })
                    .count();
                if live >= self.cfg.max_sessions_per_subject {
                    return reject(self, "Too many sessions for this subscriber".into());
                }
                let protocol = handshake::new_protocol(&identity.jti);
                self.sessions.insert(
                    protocol.clone(),
                    Logical {
                        identity: identity.clone(),
                        auth_state: uuid::Uuid::new_v4().to_string(),
                        conn: Some(conn),
                        detached_at: None,
                        online: false,
                        queue: VecDeque::new(),
                        overflowed: false,
                    },
                );
                (protocol, Vec::new())
            }
        };
        tracing::debug!(conn, %protocol, subject = identity.subject_id(), "session connected");
        self.conns
            .insert(conn, ConnState::Attached(protocol.clone()));
        let auth_state = self
            .sessions
            .get(&protocol)
            .map(|s| s.auth_state.clone())
            .unwrap_or_default();
        self.out.push_back(HubOutput::ToConn(
            conn,
            Down::Connected(Box::new(Connected {
                identity,
                protocol,
                authorization_state: auth_state,
                replay,
            })),
        ));
    }

    fn finish_reauth(
        &mut self,
        conn: ConnId,
        req: ReqId,
        result: Result<Identity, DirectoryError>,
    ) {
        let Some(ConnState::Attached(protocol)) = self.conns.get(&conn).cloned() else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&protocol) else {
            return;
        };
        let reply = match result {
            Ok(identity)
                if identity.project_id == s.identity.project_id
                    && identity.subject_id() == s.identity.subject_id() =>
            {
                s.identity = identity;
                Ok(json!({"authorization": handshake::authorization(&s.identity)}))
            }
            Ok(_) => Err(RpcError::new(
                AUTH_ERROR,
                "Token belongs to another subject",
            )),
            Err(e) => Err(RpcError::new(AUTH_ERROR, e.to_string())),
        };
        self.reply(conn, req, reply);
    }

    fn on_closed(&mut self, now: Instant, conn: ConnId, unacked: Vec<Event>) {
        let protocol = match self.conns.remove(&conn) {
            Some(ConnState::Attached(p)) => p,
            Some(ConnState::Replaced(p)) => {
                for event in unacked {
                    self.emit(&p, event);
                }
                return;
            }
            Some(ConnState::Fresh) | None => return,
        };
        let Some(s) = self.sessions.get_mut(&protocol) else {
            return;
        };
        if s.conn != Some(conn) {
            return;
        }
        s.conn = None;
        s.detached_at = Some(now);
        for event in unacked.into_iter().rev() {
            s.queue.push_front(event);
        }
        if s.queue.len() > self.cfg.max_queued_events {
            s.overflowed = true;
        }
    }

    /// Drops a session whose grace expired: its calls end.
    fn drop_session(&mut self, protocol: &str) {
        let Some(s) = self.sessions.remove(protocol) else {
            return;
        };
        tracing::debug!(%protocol, "session expired without a socket");
        if let Some(conn) = s.conn {
            self.out.push_back(HubOutput::ToConn(
                conn,
                Down::Close {
                    reason: "session expired",
                },
            ));
        }
        let legs: Vec<String> = self
            .legs
            .iter()
            .filter(|(_, l)| l.protocol == protocol)
            .map(|(id, _)| id.clone())
            .collect();
        for call_id in legs {
            self.hangup_leg(&call_id, Cause::RecoveryOnTimerExpire, false);
        }
    }

    /// Online sessions of a subscriber in a project, except `except`.
    fn online_sessions(&self, project_id: &str, subscriber_id: &str, except: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .sessions
            .iter()
            .filter(|(p, s)| {
                s.online
                    && p.as_str() != except
                    && s.identity.project_id == project_id
                    && matches!(&s.identity.subject, Subject::Subscriber { subscriber_id: id } if id == subscriber_id)
            })
            .map(|(p, _)| p.clone())
            .collect();
        found.sort();
        found
    }
}

#[cfg(test)]
mod tests;
