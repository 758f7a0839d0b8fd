//! The sans-IO per-connection state machine: frames and time in, frames, hub messages and
//! closes out. It owns the JSON-RPC conversation (handshake, acks, pings, replies within the
//! deadline, duplicates, limits); the hub owns everything that outlives the socket.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::controls;
use crate::handshake;
use crate::message::{
    Down, Event, Invite, ModifyAction, REQUESTER_VALIDATION_FAILED, ReqId, Request, Up,
};
use crate::observe::{self, method_label};
use crate::rpc::{
    self, AUTH_ERROR, Frame, INTERNAL_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, RATE_LIMITED,
    RpcError,
};
use crate::verto;

/// The current time as seen by the session.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// Monotonic time for deadlines.
    pub mono: Instant,
    /// Unix time in seconds, for `timestamp` fields.
    pub unix: f64,
}

/// Limits and timings of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Largest accepted text frame, in bytes.
    pub max_frame_bytes: usize,
    /// Largest accepted SDP, in bytes.
    pub max_sdp_bytes: usize,
    /// Most media sections (m-lines) in an SDP: the browser SDK sends two, multi-slot clients one
    /// per receive slot. The media engine refuses more (`weft_media::MAX_OFFER_SECTIONS`).
    pub max_sdp_sections: usize,
    /// Interval of server pings (the SDK's watchdog fires after 15 s).
    pub ping_interval: Duration,
    /// Pings in a row that may go unanswered before the socket is closed.
    pub max_missed_pings: u8,
    /// Time to wait for an event ack before resending it once; a second miss closes the socket.
    pub ack_timeout: Duration,
    /// Every client request is answered within this time (the SDK gives up after 10 s).
    pub reply_deadline: Duration,
    /// Time allowed between opening the socket and a successful connect.
    pub connect_timeout: Duration,
    /// Events sent before waiting for acks.
    pub event_window: usize,
    /// Events queued (unsent plus unacked) before the socket is closed as too slow.
    pub max_queued_events: usize,
    /// Sustained client requests per second.
    pub requests_per_sec: f64,
    /// Burst of client requests.
    pub request_burst: f64,
    /// Bad frames (garbage, rate-limited or unauthenticated requests) per minute before closing.
    pub max_strikes: u32,
    /// `ice_servers` returned on connect.
    pub ice_servers: Value,
    /// `node_id` reported with Verto messages.
    pub node_id: String,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            max_frame_bytes: 256 * 1024,
            max_sdp_bytes: 128 * 1024,
            max_sdp_sections: 64,
            ping_interval: Duration::from_secs(8),
            max_missed_pings: 2,
            ack_timeout: Duration::from_secs(5),
            reply_deadline: Duration::from_secs(8),
            connect_timeout: Duration::from_secs(10),
            event_window: 1,
            max_queued_events: 2048,
            requests_per_sec: 20.0,
            request_burst: 60.0,
            max_strikes: 10,
            ice_servers: json!([]),
            node_id: "weft-node-1".into(),
        }
    }
}

/// What the session asks its shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send a text frame.
    Send(String),
    /// Pass a message to the hub.
    Up(Up),
    /// Close the socket with this code and reason; nothing more will be output.
    Close {
        /// WebSocket close code.
        code: u16,
        /// Reason text.
        reason: &'static str,
    },
}

const RECENT_IDS: usize = 64;
/// The method label of the connect request.
const CONNECT: &str = "signalwire.connect";
const STRIKE_WINDOW: Duration = Duration::from_secs(60);

enum State {
    AwaitingConnect,
    Authenticating {
        id: Value,
    },
    Active {
        protocol: String,
        project_id: String,
    },
    Closed,
}

struct Pending {
    req: ReqId,
    id: Value,
    method: &'static str,
    verto_id: Option<Value>,
    deadline: Instant,
}

struct InFlight {
    id: String,
    event: Event,
    frame: String,
    sent_at: Instant,
    resent: bool,
}

enum Action {
    Reply(Value),
    Forward(Request, Option<Value>),
}

/// One WebSocket connection's protocol state.
pub struct Session {
    cfg: Arc<SessionConfig>,
    state: State,
    opened_at: Instant,
    out: VecDeque<Output>,
    next_req: ReqId,
    pending: Vec<Pending>,
    recent: VecDeque<(Value, Option<String>)>,
    queue: VecDeque<Event>,
    inflight: VecDeque<InFlight>,
    next_ping: Option<Instant>,
    ping_outstanding: Option<String>,
    missed_pings: u8,
    tokens: f64,
    refilled_at: Instant,
    strikes: u32,
    strikes_since: Instant,
    disconnect: Option<(String, Instant)>,
    answered: Vec<(&'static str, bool)>,
}

impl Session {
    /// A session for a socket opened at `now`.
    pub fn new(cfg: Arc<SessionConfig>, now: Instant) -> Self {
        let tokens = cfg.request_burst;
        Self {
            cfg,
            state: State::AwaitingConnect,
            opened_at: now,
            out: VecDeque::new(),
            next_req: 1,
            pending: Vec::new(),
            recent: VecDeque::new(),
            queue: VecDeque::new(),
            inflight: VecDeque::new(),
            next_ping: None,
            ping_outstanding: None,
            missed_pings: 0,
            tokens,
            refilled_at: now,
            strikes: 0,
            strikes_since: now,
            disconnect: None,
            answered: Vec::new(),
        }
    }

    /// The requests answered since the last call, as `(method label, ok)`, for metrics.
    pub fn take_answered(&mut self) -> impl Iterator<Item = (&'static str, bool)> + '_ {
        self.answered.drain(..)
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Whether the session has asked to close.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// The protocol once connected.
    pub fn protocol(&self) -> Option<&str> {
        match &self.state {
            State::Active { protocol, .. } => Some(protocol),
            _ => None,
        }
    }

    /// Unacknowledged and unsent events, for replay after a resume.
    pub fn take_unacked(&mut self) -> Vec<Event> {
        let mut events: Vec<Event> = self.inflight.drain(..).map(|f| f.event).collect();
        events.extend(self.queue.drain(..));
        events
    }

    /// When `on_tick` must be called next.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        match self.state {
            State::Closed => return None,
            State::AwaitingConnect | State::Authenticating { .. } => {
                consider(self.opened_at + self.cfg.connect_timeout)
            }
            State::Active { .. } => {}
        }
        self.pending.iter().for_each(|p| consider(p.deadline));
        self.inflight
            .iter()
            .for_each(|f| consider(f.sent_at + self.cfg.ack_timeout));
        if let Some(t) = self.next_ping {
            consider(t);
        }
        if let Some((_, t)) = &self.disconnect {
            consider(*t + self.cfg.ack_timeout);
        }
        next
    }

    /// Handles one text frame from the client.
    pub fn on_frame(&mut self, now: Now, text: &str) {
        if self.is_closed() {
            return;
        }
        match rpc::decode(text, self.cfg.max_frame_bytes) {
            Err(e) => {
                self.send(rpc::error(e.id.as_ref(), &e.error));
                self.answered.push((observe::INVALID, false));
                self.strike(now.mono);
            }
            Ok(Frame::Notification { .. }) => {}
            Ok(Frame::Response { id, outcome }) => self.on_response(now, &id, outcome.is_ok()),
            Ok(Frame::Request { id, method, params }) => self.on_request(now, id, &method, &params),
        }
    }

    /// Handles a message from the hub.
    pub fn on_down(&mut self, now: Now, msg: Down) {
        if self.is_closed() {
            return;
        }
        match msg {
            Down::Connected(c) => {
                let State::Authenticating { id } =
                    std::mem::replace(&mut self.state, State::Closed)
                else {
                    self.state = State::Closed;
                    self.close(1011, "unexpected connect result");
                    return;
                };
                let result =
                    handshake::connect_result(&c.identity, &c.protocol, &self.cfg.ice_servers);
                self.answer(&id, CONNECT, Ok(result), true);
                self.state = State::Active {
                    protocol: c.protocol,
                    project_id: c.identity.project_id,
                };
                self.next_ping = Some(now.mono + self.cfg.ping_interval);
                self.queue.push_back(Event::new(
                    "signalwire.authorization.state",
                    json!({"authorization_state": c.authorization_state}),
                ));
                self.queue.extend(c.replay);
                self.pump(now);
            }
            Down::ConnectRejected { message } => {
                let State::Authenticating { id } =
                    std::mem::replace(&mut self.state, State::AwaitingConnect)
                else {
                    return;
                };
                let err = RpcError::new(AUTH_ERROR, message.clone());
                self.answer(&id, CONNECT, Err(err), true);
                if message != REQUESTER_VALIDATION_FAILED {
                    self.close(1008, "authentication failed");
                }
            }
            Down::Reply { req, result } => {
                let Some(pos) = self.pending.iter().position(|p| p.req == req) else {
                    return;
                };
                let p = self.pending.swap_remove(pos);
                let result = match (&p.verto_id, result) {
                    (Some(vid), Ok(inner)) => Ok(verto::reply(vid, &self.cfg.node_id, inner)),
                    (_, other) => other,
                };
                self.answer(&p.id, p.method, result, true);
            }
            Down::Event(event) => {
                self.queue.push_back(event);
                if self.queue.len() + self.inflight.len() > self.cfg.max_queued_events {
                    self.close(1008, "client does not acknowledge events");
                    return;
                }
                self.pump(now);
            }
            Down::Shutdown => {
                let id = uuid::Uuid::new_v4().to_string();
                self.send(rpc::request(&id, "signalwire.disconnect", &json!({})));
                self.disconnect = Some((id, now.mono));
            }
            Down::Close { reason } => self.close(1000, reason),
        }
    }

    /// Handles the passage of time.
    pub fn on_tick(&mut self, now: Now) {
        let t = now.mono;
        if matches!(
            self.state,
            State::AwaitingConnect | State::Authenticating { .. }
        ) && t >= self.opened_at + self.cfg.connect_timeout
        {
            self.close(1008, "no connect in time");
            return;
        }
        while let Some(pos) = self.pending.iter().position(|p| p.deadline <= t) {
            let p = self.pending.swap_remove(pos);
            let err = RpcError::new(INTERNAL_ERROR, "request timed out");
            self.answer(&p.id, p.method, Err(err), false);
        }
        let ack_timeout = self.cfg.ack_timeout;
        let mut resend = Vec::new();
        for f in self.inflight.iter_mut() {
            if f.sent_at + ack_timeout <= t {
                if f.resent {
                    self.state = State::Closed;
                    break;
                }
                f.resent = true;
                f.sent_at = t;
                resend.push(f.frame.clone());
            }
        }
        if self.is_closed() {
            self.out.push_back(Output::Close {
                code: 1011,
                reason: "event not acknowledged",
            });
            return;
        }
        resend.into_iter().for_each(|f| self.send(f));
        if let Some((_, at)) = &self.disconnect
            && *at + ack_timeout <= t
        {
            self.close(1000, "server shutdown");
            return;
        }
        if let Some(next) = self.next_ping
            && next <= t
        {
            if self.ping_outstanding.is_some() {
                self.missed_pings += 1;
                if self.missed_pings >= self.cfg.max_missed_pings {
                    self.close(1011, "ping timeout");
                    return;
                }
            }
            let id = uuid::Uuid::new_v4().to_string();
            self.send(rpc::request(
                &id,
                "signalwire.ping",
                &json!({"timestamp": now.unix}),
            ));
            self.ping_outstanding = Some(id);
            self.next_ping = Some(t + self.cfg.ping_interval);
        }
    }

    fn on_response(&mut self, now: Now, id: &Value, _ok: bool) {
        let Some(id) = id.as_str() else { return };
        if let Some(pos) = self.inflight.iter().position(|f| f.id == id) {
            self.inflight.remove(pos);
            self.pump(now);
        } else if self.ping_outstanding.as_deref() == Some(id) {
            self.ping_outstanding = None;
            self.missed_pings = 0;
        } else if self.disconnect.as_ref().is_some_and(|(d, _)| d == id) {
            self.close(1000, "server shutdown");
        }
    }

    fn on_request(&mut self, now: Now, id: Value, method: &str, params: &Value) {
        if let Some((_, cached)) = self.recent.iter().find(|(rid, _)| *rid == id) {
            if let Some(frame) = cached.clone() {
                self.send(frame);
            }
            return;
        }
        let label = method_label(method, params);
        if !self.take_token(now.mono) {
            self.answer(
                &id,
                label,
                Err(RpcError::new(RATE_LIMITED, "Too many requests")),
                false,
            );
            self.strike(now.mono);
            return;
        }
        match &self.state {
            State::Closed => {}
            State::AwaitingConnect if method == "signalwire.connect" => match parse_connect(params)
            {
                Ok(up) => {
                    self.remember(id.clone(), None);
                    self.state = State::Authenticating { id };
                    self.out.push_back(Output::Up(up));
                }
                Err(e) => self.answer(&id, label, Err(e), true),
            },
            State::AwaitingConnect => {
                let e = RpcError::new(AUTH_ERROR, "Unauthorized: send signalwire.connect first");
                self.answer(&id, label, Err(e), true);
                self.strike(now.mono);
            }
            State::Authenticating { .. } => {
                let e = RpcError::new(AUTH_ERROR, "Unauthorized: connect in progress");
                self.answer(&id, label, Err(e), true);
            }
            State::Active { .. } => match self.dispatch(method, params) {
                Ok(Action::Reply(result)) => self.answer(&id, label, Ok(result), true),
                Ok(Action::Forward(request, verto_id)) => {
                    let req = self.next_req;
                    self.next_req += 1;
                    self.remember(id.clone(), None);
                    self.pending.push(Pending {
                        req,
                        id,
                        method: label,
                        verto_id,
                        deadline: now.mono + self.cfg.reply_deadline,
                    });
                    self.out.push_back(Output::Up(Up::Request { req, request }));
                }
                Err(e) => {
                    if e.code == METHOD_NOT_FOUND || e.code == INVALID_REQUEST {
                        self.strike(now.mono);
                    }
                    self.answer(&id, label, Err(e), true);
                }
            },
        }
    }

    fn dispatch(&self, method: &str, params: &Value) -> Result<Action, RpcError> {
        match method {
            "signalwire.connect" => Err(RpcError::new(INVALID_REQUEST, "Already connected")),
            "signalwire.ping" => Ok(Action::Reply(
                json!({"timestamp": params.get("timestamp").cloned().unwrap_or(Value::Null)}),
            )),
            "signalwire.reauthenticate" => {
                let token = params
                    .pointer("/authentication/jwt_token")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        RpcError::invalid_params("authentication.jwt_token is required")
                    })?;
                Ok(Action::Forward(
                    Request::Reauthenticate {
                        token: token.to_owned(),
                    },
                    None,
                ))
            }
            "subscriber.online" => Ok(Action::Forward(Request::Online, None)),
            "subscriber.offline" => Ok(Action::Forward(Request::Offline, None)),
            "webrtc.verto" => self.dispatch_verto(params),
            _ => match controls::parse_control(method, params) {
                Some(parsed) => {
                    let (control, target) = parsed?;
                    let call_id = controls::self_call_id(params)?.to_owned();
                    Ok(Action::Forward(
                        Request::Control {
                            call_id,
                            control,
                            target,
                        },
                        None,
                    ))
                }
                None => Err(RpcError::new(
                    METHOD_NOT_FOUND,
                    format!("Method not found: {}", truncate(method, 64)),
                )),
            },
        }
    }

    fn dispatch_verto(&self, params: &Value) -> Result<Action, RpcError> {
        let msg = params
            .get("message")
            .filter(|m| m.is_object())
            .ok_or_else(|| RpcError::invalid_params("message must be an object"))?;
        let verto_id = msg
            .get("id")
            .filter(|id| id.is_string() || id.is_number())
            .cloned()
            .ok_or_else(|| RpcError::invalid_params("message.id is required"))?;
        if msg.get("result").is_some() || msg.get("error").is_some() {
            return Ok(Action::Reply(json!({"code": "200", "message": "OK"})));
        }
        let method = msg
            .get("method")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("message.method is required"))?;
        let empty = json!({});
        let vp = msg.get("params").unwrap_or(&empty);
        let local = |inner: Value| {
            Ok(Action::Reply(verto::reply(
                &verto_id,
                &self.cfg.node_id,
                inner,
            )))
        };
        match method {
            "verto.pong" | "verto.ping" => return local(json!({"method": "verto.pong"})),
            "verto.subscribe" => return local(json!({"subscribedChannels": []})),
            _ => {}
        }
        let call_id = vp
            .pointer("/dialogParams/callID")
            .or_else(|| vp.get("callID"))
            .or_else(|| params.get("callID"))
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty() && c.len() <= 128)
            .ok_or_else(|| RpcError::invalid_params("callID is required"))?
            .to_owned();
        let sdp = || {
            let sdp = vp
                .get("sdp")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && s.len() <= self.cfg.max_sdp_bytes)
                .ok_or_else(|| RpcError::invalid_params("sdp is required"))?;
            let sections = sdp.lines().filter(|l| l.starts_with("m=")).count();
            if sections > self.cfg.max_sdp_sections {
                return Err(RpcError::invalid_params(format!(
                    "sdp has {sections} media sections; at most {} are accepted",
                    self.cfg.max_sdp_sections
                )));
            }
            Ok(sdp.to_owned())
        };
        let request = match method {
            "verto.invite" => Request::Invite(Invite {
                destination: vp
                    .pointer("/dialogParams/destination_number")
                    .and_then(Value::as_str)
                    .ok_or_else(|| RpcError::invalid_params("destination_number is required"))?
                    .to_owned(),
                attach: vp
                    .pointer("/dialogParams/attach")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                screen_share_of: vp
                    .pointer("/dialogParams/screenShare")
                    .and_then(Value::as_bool)
                    .filter(|s| *s)
                    .and_then(|_| vp.pointer("/dialogParams/userVariables/memberId"))
                    .and_then(Value::as_str)
                    .filter(|m| m.len() <= 128)
                    .map(str::to_owned),
                sdp: sdp()?,
                call_id,
            }),
            "verto.answer" => Request::Answer {
                sdp: sdp()?,
                call_id,
            },
            "verto.bye" => Request::Bye {
                cause: vp
                    .get("cause")
                    .and_then(Value::as_str)
                    .map(|c| truncate(c, 64).to_owned()),
                call_id,
            },
            "verto.info" => {
                let dtmf = vp
                    .get("dtmf")
                    .and_then(Value::as_str)
                    .filter(|d| valid_dtmf(d))
                    .ok_or_else(|| {
                        RpcError::invalid_params("dtmf must be 1-64 of 0-9 A-D * # w W")
                    })?;
                Request::Info {
                    call_id,
                    dtmf: dtmf.to_owned(),
                }
            }
            "verto.modify" => {
                let action = match vp.get("action").and_then(Value::as_str) {
                    Some("hold") => ModifyAction::Hold,
                    Some("unhold") => ModifyAction::Unhold,
                    Some("toggleHold") => ModifyAction::ToggleHold,
                    Some("updateMedia") => ModifyAction::UpdateMedia(sdp()?),
                    _ => return Err(RpcError::invalid_params("unknown modify action")),
                };
                Request::Modify { call_id, action }
            }
            other => {
                return Err(RpcError::new(
                    METHOD_NOT_FOUND,
                    format!("Method not found: {}", truncate(other, 64)),
                ));
            }
        };
        Ok(Action::Forward(request, Some(verto_id)))
    }

    fn pump(&mut self, now: Now) {
        let State::Active {
            protocol,
            project_id,
        } = &self.state
        else {
            return;
        };
        while self.inflight.len() < self.cfg.event_window.max(1) {
            let Some(event) = self.queue.pop_front() else {
                break;
            };
            let id = uuid::Uuid::new_v4().to_string();
            let frame = event_frame(
                &id,
                &event,
                protocol,
                project_id,
                &self.cfg.node_id,
                now.unix,
            );
            self.out.push_back(Output::Send(frame.clone()));
            self.inflight.push_back(InFlight {
                id,
                event,
                frame,
                sent_at: now.mono,
                resent: false,
            });
        }
    }

    fn answer(
        &mut self,
        id: &Value,
        method: &'static str,
        result: Result<Value, RpcError>,
        cache: bool,
    ) {
        self.answered.push((method, result.is_ok()));
        let frame = match &result {
            Ok(r) => rpc::result(id, r),
            Err(e) => rpc::error(Some(id), e),
        };
        if cache {
            match self.recent.iter_mut().find(|(rid, _)| rid == id) {
                Some(entry) => entry.1 = Some(frame.clone()),
                None => self.remember(id.clone(), Some(frame.clone())),
            }
        } else {
            self.recent.retain(|(rid, _)| rid != id);
        }
        self.send(frame);
    }

    fn remember(&mut self, id: Value, reply: Option<String>) {
        if self.recent.len() >= RECENT_IDS {
            self.recent.pop_front();
        }
        self.recent.push_back((id, reply));
    }

    fn send(&mut self, frame: String) {
        self.out.push_back(Output::Send(frame));
    }

    fn close(&mut self, code: u16, reason: &'static str) {
        if !self.is_closed() {
            self.state = State::Closed;
            self.out.push_back(Output::Close { code, reason });
        }
    }

    fn take_token(&mut self, now: Instant) -> bool {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.refilled_at = now;
        self.tokens =
            (self.tokens + elapsed * self.cfg.requests_per_sec).min(self.cfg.request_burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn strike(&mut self, now: Instant) {
        if now.saturating_duration_since(self.strikes_since) > STRIKE_WINDOW {
            self.strikes = 0;
            self.strikes_since = now;
        }
        self.strikes += 1;
        if self.strikes >= self.cfg.max_strikes {
            self.close(1008, "too many bad requests");
        }
    }
}

fn parse_connect(params: &Value) -> Result<Up, RpcError> {
    let token = params
        .pointer("/authentication/jwt_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() <= 16 * 1024)
        .ok_or_else(|| RpcError::invalid_params("authentication.jwt_token is required"))?;
    let opt = |key: &str| {
        params
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 4096)
            .map(str::to_owned)
    };
    Ok(Up::Connect {
        token: token.to_owned(),
        protocol: opt("protocol"),
        authorization_state: opt("authorization_state"),
    })
}

fn valid_dtmf(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 64
        && d.chars().all(|c| {
            c.is_ascii_digit() || matches!(c, 'A'..='D' | 'a'..='d' | '*' | '#' | 'w' | 'W')
        })
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Serialises a `signalwire.event` without copying the shared params.
fn event_frame(
    id: &str,
    event: &Event,
    channel: &str,
    project_id: &str,
    node_id: &str,
    unix: f64,
) -> String {
    let s = |v: &str| Value::from(v).to_string();
    let webrtc = if event.event_type == "webrtc.message" {
        format!(
            r#""project_id":{},"node_id":{},"#,
            s(project_id),
            s(node_id)
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"jsonrpc":"2.0","id":{},"method":"signalwire.event","params":{{"event_type":{},"event_channel":{},"timestamp":{},{}"params":{}}}}}"#,
        s(id),
        s(event.event_type),
        s(channel),
        json!(unix),
        webrtc,
        event.params
    )
}

#[cfg(test)]
mod tests;
