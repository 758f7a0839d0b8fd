//! The sans-IO switch between sessions and the call controller: logical sessions by `protocol`
//! (resume, presence, queued events) and the Verto front-end of calls. Messages from
//! connections, token checks, the controller's events and time in; messages to connections,
//! token checks and the controller's commands out.

mod verto_calls;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft_calls::{Command, EndpointId, FrontEvent, FrontId, Party, Presence};

use crate::directory::{DirectoryError, Identity, Subject};
use crate::handshake;
use crate::message::{Connected, Down, Event, REQUESTER_VALIDATION_FAILED, ReqId, Request, Up};
use crate::observe::HubSnapshot;
use crate::rpc::{AUTH_ERROR, RpcError};
use crate::verto;
use weft_calls::directory::Access;
use weft_calls::media::Flavor;

/// The front-end name Verto legs carry in the call controller.
pub const VERTO: FrontId = FrontId("verto");

/// Identifies one WebSocket connection.
pub type ConnId = u64;
/// Identifies one outstanding token check.
pub type OpId = u64;

/// Limits and timings of the hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// How long a session (and its calls) survives without a socket.
    pub session_grace: Duration,
    /// Live sessions per subscriber or guest.
    pub max_sessions_per_subject: usize,
    /// Events kept for a session without a socket; beyond it the session cannot be resumed.
    pub max_queued_events: usize,
    /// Calls (legs) one session may have at a time.
    pub max_calls_per_session: usize,
    /// `node_id` reported in call states (the shell copies the session's).
    pub node_id: String,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            session_grace: Duration::from_secs(30),
            max_sessions_per_subject: 10,
            max_queued_events: 1024,
            max_calls_per_session: 8,
            node_id: "weft-node-1".into(),
        }
    }
}

/// What the hub asks its shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum HubOutput {
    /// Deliver a message to a connection.
    ToConn(ConnId, Down),
    /// Verify an access token and report it with `on_token`.
    VerifyToken(OpId, String),
    /// Hand a command to the call controller.
    Calls(Command),
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

/// What a pending token check was for.
enum Op {
    Verify {
        conn: ConnId,
        resume: Option<(String, Option<String>)>,
    },
    Reauth {
        conn: ConnId,
        req: ReqId,
    },
}

/// The sans-IO switch.
pub struct Hub {
    cfg: HubConfig,
    conns: HashMap<ConnId, ConnState>,
    sessions: HashMap<String, Logical>,
    calls: verto_calls::VertoCalls,
    ops: HashMap<OpId, Op>,
    next_op: OpId,
    out: VecDeque<HubOutput>,
}

impl Hub {
    /// An empty hub.
    pub fn new(cfg: HubConfig) -> Self {
        Self {
            cfg,
            conns: HashMap::new(),
            sessions: HashMap::new(),
            calls: verto_calls::VertoCalls::default(),
            ops: HashMap::new(),
            next_op: 1,
            out: VecDeque::new(),
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

    /// Sessions with and without a socket, now.
    pub fn snapshot(&self) -> HubSnapshot {
        let connected = self.sessions.values().filter(|s| s.conn.is_some()).count();
        HubSnapshot {
            sessions_connected: connected,
            sessions_detached: self.sessions.len() - connected,
        }
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
        self.sessions
            .values()
            .filter_map(|s| s.detached_at.map(|t| t + grace))
            .min()
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
                self.out.push_back(HubOutput::VerifyToken(op, token));
            }
            Up::Request { req, request } => self.on_request(conn, req, request),
            Up::Closed { unacked } => self.on_closed(now, conn, unacked),
        }
    }

    /// Handles the answer to a token check.
    pub fn on_token(&mut self, op: OpId, result: Result<Identity, DirectoryError>) {
        match self.ops.remove(&op) {
            Some(Op::Verify { conn, resume }) => self.finish_connect(conn, resume, result),
            Some(Op::Reauth { conn, req }) => self.finish_reauth(conn, req, result),
            None => {}
        }
    }

    /// Handles an event of the call controller for one of this front-end's legs.
    pub fn on_calls(&mut self, event: FrontEvent) {
        self.on_front_event(event);
    }

    /// Handles the passage of time: sessions whose grace expired.
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
    }

    fn op(&mut self, op: Op) -> OpId {
        let id = self.next_op;
        self.next_op += 1;
        self.ops.insert(id, op);
        id
    }

    fn command(&mut self, command: Command) {
        self.out.push_back(HubOutput::Calls(command));
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
                let online = request == Request::Online;
                self.set_online(&protocol, online);
                self.reply(conn, req, Ok(json!({})));
            }
            Request::Reauthenticate { token } => {
                let op = self.op(Op::Reauth { conn, req });
                self.out.push_back(HubOutput::VerifyToken(op, token));
            }
            other => self.on_call_request(conn, &protocol, req, other),
        }
    }

    /// Tells the controller whether the session's subscriber may be rung there.
    fn set_online(&mut self, protocol: &str, online: bool) {
        let Some(s) = self.sessions.get_mut(protocol) else {
            return;
        };
        let was = std::mem::replace(&mut s.online, online);
        let Subject::Subscriber { subscriber_id } = &s.identity.subject else {
            return;
        };
        if was == online {
            return;
        }
        let presence = Presence {
            endpoint: EndpointId {
                front: VERTO,
                key: protocol.to_owned(),
            },
            resource_id: subscriber_id.clone(),
            party: party(&s.identity),
            flavor: Flavor::WebRtc,
            online,
        };
        self.command(Command::Presence(Box::new(presence)));
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

    /// Drops a session whose grace expired: its calls end and it is no longer rung.
    fn drop_session(&mut self, protocol: &str) {
        self.set_online(protocol, false);
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
        self.drop_calls_of(protocol);
    }
}

/// The call controller's view of a session's identity.
fn party(identity: &Identity) -> Party {
    let (subscriber_id, number, access) = match &identity.subject {
        Subject::Subscriber { subscriber_id } => (
            Some(subscriber_id.clone()),
            format!("/private/{subscriber_id}"),
            Access::Any,
        ),
        Subject::Guest {
            allowed_addresses, ..
        } => (
            None,
            "guest".to_owned(),
            Access::Only(allowed_addresses.clone()),
        ),
    };
    Party {
        project_id: identity.project_id.clone(),
        subject_id: identity.subject_id().to_owned(),
        subscriber_id,
        name: identity.display_name.clone(),
        number,
        access,
        moderator: !identity.is_guest(),
    }
}

#[cfg(test)]
mod tests;
