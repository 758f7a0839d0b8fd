//! Messages between a connection's [`Session`](crate::session::Session) and the
//! [`Hub`](crate::hub::Hub).

use std::sync::Arc;

use serde_json::Value;

use crate::directory::Identity;
use crate::rpc::RpcError;
use weft_calls::room::{Control, Target};

/// A session-local id correlating a client request with the hub's reply.
pub type ReqId = u64;

/// An event for the client, wrapped in `signalwire.event` when sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `event_type`, e.g. `webrtc.message` or `member.joined`.
    pub event_type: &'static str,
    /// The inner `params`; shared between recipients.
    pub params: Arc<Value>,
}

impl Event {
    /// An event of `event_type` with `params`.
    pub fn new(event_type: &'static str, params: Value) -> Self {
        Self {
            event_type,
            params: Arc::new(params),
        }
    }
}

/// A `verto.modify` action.
#[derive(Debug, Clone, PartialEq)]
pub enum ModifyAction {
    /// Put the call on hold.
    Hold,
    /// Resume the call.
    Unhold,
    /// Toggle hold.
    ToggleHold,
    /// Renegotiate with a new offer.
    UpdateMedia(String),
}

/// A `verto.invite` from the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Invite {
    /// The client's callID.
    pub call_id: String,
    /// `destination_number`.
    pub destination: String,
    /// The SDP offer.
    pub sdp: String,
    /// `attach:true` (reattach after a reload).
    pub attach: bool,
    /// For a screen share: the member id of the main call (`userVariables.memberId`).
    pub screen_share_of: Option<String>,
}

/// A client request the hub must answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `signalwire.reauthenticate` with a new token.
    Reauthenticate {
        /// The new token.
        token: String,
    },
    /// `subscriber.online`.
    Online,
    /// `subscriber.offline`.
    Offline,
    /// `verto.invite`: dial or reattach.
    Invite(Invite),
    /// `verto.answer` for an inbound call.
    Answer {
        /// The inbound callID.
        call_id: String,
        /// The SDP answer.
        sdp: String,
    },
    /// `verto.bye`.
    Bye {
        /// The callID.
        call_id: String,
        /// The cause name, if given.
        cause: Option<String>,
    },
    /// `verto.info` (DTMF).
    Info {
        /// The callID.
        call_id: String,
        /// The digits.
        dtmf: String,
    },
    /// `verto.modify`.
    Modify {
        /// The callID.
        call_id: String,
        /// What to do.
        action: ModifyAction,
    },
    /// A `call.*` room control.
    Control {
        /// The actor's `self.call_id`.
        call_id: String,
        /// The control.
        control: Control,
        /// Its target.
        target: Target,
    },
}

/// From a session to the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum Up {
    /// `signalwire.connect` (the hub answers with `Down::Connected` or `Down::ConnectRejected`).
    Connect {
        /// The access token.
        token: String,
        /// The protocol to resume, if any.
        protocol: Option<String>,
        /// The authorization state returned with a resume, if any.
        authorization_state: Option<String>,
    },
    /// A request to answer with `Down::Reply`.
    Request {
        /// Correlation id.
        req: ReqId,
        /// The request.
        request: Request,
    },
    /// The socket closed; these events were not acknowledged and should be replayed on resume.
    Closed {
        /// Unacknowledged and unsent events, in order.
        unacked: Vec<Event>,
    },
}

/// The successful result of a connect.
#[derive(Debug, Clone, PartialEq)]
pub struct Connected {
    /// Who connected.
    pub identity: Identity,
    /// The session protocol (`signalwire_<jti>_<uuid>`).
    pub protocol: String,
    /// Opaque state the client returns when resuming.
    pub authorization_state: String,
    /// Events queued while the client was away, in order.
    pub replay: Vec<Event>,
}

/// From the hub to a session.
#[derive(Debug, Clone, PartialEq)]
pub enum Down {
    /// The connect succeeded.
    Connected(Box<Connected>),
    /// The connect failed with this message (`Requester validation failed` for a refused resume).
    ConnectRejected {
        /// The error message.
        message: String,
    },
    /// The answer to a request.
    Reply {
        /// Correlation id.
        req: ReqId,
        /// The result (for Verto requests: the inner result).
        result: Result<Value, RpcError>,
    },
    /// An event to deliver.
    Event(Event),
    /// The server shuts down: send `signalwire.disconnect`.
    Shutdown,
    /// Close the socket (another socket took over the protocol, or the session was dropped).
    Close {
        /// Why.
        reason: &'static str,
    },
}

/// The connect error that makes the SDK forget its stored protocol and connect afresh.
pub const REQUESTER_VALIDATION_FAILED: &str = "Requester validation failed";
