//! The sans-IO Fabric client of one synthetic peer: the frames `@signalwire/js` 3.30.0 sends
//! (`signalwire.connect`, `webrtc.verto` with `verto.invite`/`verto.bye`, acks of events, pings and
//! Verto requests) and what the peer learns from the server's frames. The WebSocket shell feeds
//! frames in with [`FabricClient::handle`] and sends what [`FabricClient::poll_transmit`] returns.

use std::collections::VecDeque;

use serde_json::{Value, json};

use crate::rpc::{self, Incoming};

/// What the client learned from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// `signalwire.connect` succeeded.
    Connected,
    /// The invite was accepted (2xx reply).
    InviteAccepted,
    /// The SDP answer (`verto.media` or `verto.answer` with `sdp`; only the first one).
    Answer(String),
    /// `call.joined` for our call.
    Joined,
    /// The server hung up (`verto.bye`) with this cause.
    Bye(String),
    /// Our `verto.bye` was answered.
    HungUp,
    /// A request failed: which one and the server's error.
    Failed(String),
    /// `weft.layers` for our call: the simulcast layers anyone receives.
    LayersWanted(Vec<String>),
}

/// Which of our requests a reply answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Connect,
    Invite,
    Bye,
    Ack,
}

/// The client state of one signaling session carrying one call.
#[derive(Debug)]
pub struct FabricClient {
    call_id: String,
    node_id: Option<String>,
    dialog: Value,
    pending: Vec<(String, Pending)>,
    answered: bool,
    out: VecDeque<String>,
    events: VecDeque<ClientEvent>,
    /// Server events received (`signalwire.event`), all types.
    pub events_received: u64,
}

/// The `agent` string of the SDK whose wire format the client copies.
const AGENT: &str = "@signalwire/js/browser/3.30.0";

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl FabricClient {
    /// A client for one call with a fresh Verto `callID`.
    pub fn new() -> Self {
        Self {
            call_id: new_id(),
            node_id: None,
            dialog: Value::Null,
            pending: Vec::new(),
            answered: false,
            out: VecDeque::new(),
            events: VecDeque::new(),
            events_received: 0,
        }
    }

    /// The call's Verto `callID`.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    fn send_request(&mut self, method: &str, params: Value, kind: Pending) {
        let id = new_id();
        self.out.push_back(rpc::request(&id, method, params));
        self.pending.push((id, kind));
    }

    /// Queues `signalwire.connect` with the access token.
    pub fn connect(&mut self, token: &str) {
        let params = json!({
            "version": {"major": 4, "minor": 0, "revision": 0},
            "event_acks": true,
            "agent": AGENT,
            "authentication": {"jwt_token": token},
        });
        self.send_request("signalwire.connect", params, Pending::Connect);
    }

    /// Queues `verto.invite` to `destination` (e.g. `/public/room?channel=video`) with our offer.
    pub fn invite(&mut self, destination: &str, sdp: &str) {
        self.dialog = json!({
            "attach": false, "reattaching": false, "screenShare": false, "additionalDevice": false,
            "pingSupported": true, "version": 1000, "callID": self.call_id,
            "destination_number": destination, "remote_caller_id_name": "Outbound Call",
            "remote_caller_id_number": "", "caller_id_name": "", "caller_id_number": "",
        });
        let message = json!({"jsonrpc": "2.0", "id": new_id(), "method": "verto.invite",
            "params": {"dialogParams": self.dialog, "sdp": sdp}});
        let params = json!({"message": message, "callID": self.call_id, "subscribe": []});
        self.send_request("webrtc.verto", params, Pending::Invite);
    }

    /// Queues `verto.bye` (the SDK's `hangup()`).
    pub fn hangup(&mut self) {
        let message = json!({"jsonrpc": "2.0", "id": new_id(), "method": "verto.bye",
            "params": {"dialogParams": self.dialog}});
        let mut params = json!({"message": message, "callID": self.call_id});
        if let Some(node) = &self.node_id {
            params["node_id"] = json!(node);
        }
        self.send_request("webrtc.verto", params, Pending::Bye);
    }

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<String> {
        self.out.pop_front()
    }

    /// The next thing learned.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Feeds one text frame from the server.
    pub fn handle(&mut self, text: &str) {
        match rpc::parse(text) {
            Incoming::Request { id, method, params } => self.on_request(&id, &method, &params),
            Incoming::Response { id, outcome } => self.on_response(&id, outcome),
            Incoming::Invalid => {}
        }
    }

    fn on_response(&mut self, id: &str, outcome: Result<Value, Value>) {
        let Some(pos) = self.pending.iter().position(|(p, _)| p == id) else {
            return;
        };
        let (_, kind) = self.pending.swap_remove(pos);
        let ok = match &outcome {
            Ok(result) => rpc::is_success(result),
            Err(_) => false,
        };
        let event = match (kind, ok) {
            (Pending::Ack, _) => return,
            (Pending::Connect, true) => ClientEvent::Connected,
            (Pending::Invite, true) => ClientEvent::InviteAccepted,
            (Pending::Bye, true) => ClientEvent::HungUp,
            (kind, false) => {
                let detail = match outcome {
                    Ok(v) | Err(v) => v.to_string(),
                };
                ClientEvent::Failed(format!("{kind:?}: {detail}"))
            }
        };
        self.events.push_back(event);
    }

    fn on_request(&mut self, id: &Value, method: &str, params: &Value) {
        match method {
            "signalwire.event" => {
                self.out.push_back(rpc::reply(id, json!({})));
                self.events_received += 1;
                self.on_event(params);
            }
            "signalwire.ping" => {
                let ts = params.get("timestamp").cloned().unwrap_or(Value::Null);
                self.out.push_back(rpc::reply(id, json!({"timestamp": ts})));
            }
            "signalwire.disconnect" => self.out.push_back(rpc::reply(id, json!({}))),
            _ => {}
        }
    }

    fn on_event(&mut self, envelope: &Value) {
        let inner = &envelope["params"];
        match envelope["event_type"].as_str() {
            Some("webrtc.message") => {
                if let Some(node) = envelope["node_id"].as_str() {
                    self.node_id = Some(node.to_owned());
                }
                self.on_verto(inner);
            }
            Some("call.joined") if inner["call_id"] == self.call_id.as_str() => {
                self.events.push_back(ClientEvent::Joined);
            }
            Some("weft.layers") if inner["call_id"] == self.call_id.as_str() => {
                let rids = inner["rids"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|r| r.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                self.events.push_back(ClientEvent::LayersWanted(rids));
            }
            _ => {}
        }
    }

    /// A Verto request inside `webrtc.message`: apply it, then ack it like the SDK does.
    fn on_verto(&mut self, msg: &Value) {
        let method = msg["method"].as_str().unwrap_or_default();
        let params = &msg["params"];
        if params["callID"] != self.call_id.as_str() {
            return;
        }
        match method {
            "verto.media" | "verto.answer" => {
                if let Some(sdp) = params["sdp"].as_str()
                    && !self.answered
                {
                    self.answered = true;
                    self.events.push_back(ClientEvent::Answer(sdp.to_owned()));
                }
            }
            "verto.bye" => {
                let cause = params["cause"].as_str().unwrap_or("UNKNOWN").to_owned();
                self.events.push_back(ClientEvent::Bye(cause));
            }
            "verto.ping" => {
                let mut pong = params.clone();
                if let Some(p) = pong.as_object_mut() {
                    p.remove("nodeId");
                }
                let message = json!({"jsonrpc": "2.0", "id": new_id(), "method": "verto.pong", "params": pong});
                self.send_verto_wrapper(message);
                return;
            }
            _ => return,
        }
        let ack = json!({"jsonrpc": "2.0", "id": msg["id"], "result": {"method": method}});
        self.send_verto_wrapper(ack);
    }

    fn send_verto_wrapper(&mut self, message: Value) {
        let mut params = json!({"message": message});
        if let Some(node) = &self.node_id {
            params["node_id"] = json!(node);
        }
        self.send_request("webrtc.verto", params, Pending::Ack);
    }
}

impl Default for FabricClient {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(c: &mut FabricClient) -> Vec<Value> {
        std::iter::from_fn(|| c.poll_transmit())
            .map(|f| serde_json::from_str(&f).unwrap())
            .collect()
    }

    fn events(c: &mut FabricClient) -> Vec<ClientEvent> {
        std::iter::from_fn(|| c.poll_event()).collect()
    }

    fn reply_to(req: &Value, result: Value) -> String {
        json!({"jsonrpc": "2.0", "id": req["id"], "result": result}).to_string()
    }

    fn event(event_type: &str, params: Value) -> String {
        json!({"jsonrpc": "2.0", "id": "ev-1", "method": "signalwire.event",
               "params": {"event_type": event_type, "event_channel": "p", "node_id": "node-7",
                          "params": params}})
        .to_string()
    }

    #[test]
    fn the_layers_event_of_our_call_says_which_layers_to_send() {
        let mut c = FabricClient::new();
        let call = c.call_id().to_owned();
        c.handle(&event(
            "weft.layers",
            json!({"call_id": "another", "mid": "1", "rids": []}),
        ));
        c.handle(&event(
            "weft.layers",
            json!({"call_id": call, "mid": "1", "rids": ["q", "f"]}),
        ));
        assert_eq!(
            events(&mut c),
            vec![ClientEvent::LayersWanted(vec!["q".into(), "f".into()])]
        );
    }

    #[test]
    fn connect_invite_answer_join_bye() {
        let mut c = FabricClient::new();
        c.connect("tok");
        let out = sent(&mut c);
        assert_eq!(out[0]["method"], "signalwire.connect");
        assert_eq!(out[0]["params"]["authentication"]["jwt_token"], "tok");
        assert_eq!(out[0]["params"]["event_acks"], true);
        c.handle(&reply_to(&out[0], json!({"protocol": "signalwire_j_x"})));
        assert_eq!(events(&mut c), vec![ClientEvent::Connected]);

        c.invite("/public/r?channel=video", "v=0\r\n");
        let inv = sent(&mut c).remove(0);
        let call = c.call_id().to_owned();
        assert_eq!(inv["method"], "webrtc.verto");
        assert_eq!(inv["params"]["callID"], call.as_str());
        let msg = &inv["params"]["message"];
        assert_eq!(msg["method"], "verto.invite");
        assert_eq!(
            msg["params"]["dialogParams"]["destination_number"],
            "/public/r?channel=video"
        );
        assert_eq!(msg["params"]["sdp"], "v=0\r\n");
        c.handle(&reply_to(&inv, json!({"code": "200", "result": {}})));
        assert_eq!(events(&mut c), vec![ClientEvent::InviteAccepted]);

        let answer = json!({"jsonrpc": "2.0", "id": "v-9", "method": "verto.answer",
                            "params": {"callID": call, "sdp": "answer-sdp"}});
        c.handle(&event("webrtc.message", answer.clone()));
        assert_eq!(
            events(&mut c),
            vec![ClientEvent::Answer("answer-sdp".into())]
        );
        let out = sent(&mut c);
        assert_eq!(
            out[0],
            json!({"jsonrpc": "2.0", "id": "ev-1", "result": {}})
        );
        assert_eq!(out[1]["method"], "webrtc.verto");
        assert_eq!(out[1]["params"]["node_id"], "node-7");
        assert_eq!(
            out[1]["params"]["message"],
            json!({"jsonrpc": "2.0", "id": "v-9", "result": {"method": "verto.answer"}})
        );
        // The server answers our ack; nothing is learned from that.
        c.handle(&reply_to(&out[1], json!({"code": "200"})));
        // A second SDP is ignored.
        c.handle(&event("webrtc.message", answer));
        assert!(events(&mut c).is_empty());
        sent(&mut c);

        c.handle(&event("call.joined", json!({"call_id": "someone-else"})));
        c.handle(&event("call.joined", json!({"call_id": call})));
        assert_eq!(events(&mut c), vec![ClientEvent::Joined]);
        assert_eq!(c.events_received, 4);
        sent(&mut c);

        c.hangup();
        let bye = sent(&mut c).remove(0);
        assert_eq!(bye["params"]["message"]["method"], "verto.bye");
        assert_eq!(bye["params"]["node_id"], "node-7");
        assert_eq!(
            bye["params"]["message"]["params"]["dialogParams"]["callID"],
            call.as_str()
        );
        c.handle(&reply_to(&bye, json!({"code": "200"})));
        assert_eq!(events(&mut c), vec![ClientEvent::HungUp]);
    }

    #[test]
    fn answers_pings_disconnects_verto_pings_and_server_byes() {
        let mut c = FabricClient::new();
        c.handle(
            r#"{"jsonrpc":"2.0","id":"p1","method":"signalwire.ping","params":{"timestamp":12.5}}"#,
        );
        c.handle(r#"{"jsonrpc":"2.0","id":"d1","method":"signalwire.disconnect","params":{}}"#);
        let out = sent(&mut c);
        assert_eq!(
            out[0],
            json!({"jsonrpc": "2.0", "id": "p1", "result": {"timestamp": 12.5}})
        );
        assert_eq!(out[1], json!({"jsonrpc": "2.0", "id": "d1", "result": {}}));

        let call = c.call_id().to_owned();
        let ping = json!({"jsonrpc": "2.0", "id": "vp", "method": "verto.ping",
                          "params": {"callID": call, "nodeId": "n"}});
        c.handle(&event("webrtc.message", ping));
        let out = sent(&mut c);
        assert_eq!(out[1]["params"]["message"]["method"], "verto.pong");
        assert_eq!(
            out[1]["params"]["message"]["params"],
            json!({"callID": call})
        );

        let bye = json!({"jsonrpc": "2.0", "id": "vb", "method": "verto.bye",
                         "params": {"callID": call, "cause": "NORMAL_CLEARING"}});
        c.handle(&event("webrtc.message", bye));
        assert_eq!(
            events(&mut c),
            vec![ClientEvent::Bye("NORMAL_CLEARING".into())]
        );
    }

    #[test]
    fn errors_and_non_2xx_codes_fail() {
        let mut c = FabricClient::new();
        c.connect("bad");
        let out = sent(&mut c);
        c.handle(&json!({"jsonrpc": "2.0", "id": out[0]["id"], "error": {"code": -32002, "message": "no"}}).to_string());
        assert!(matches!(events(&mut c)[0], ClientEvent::Failed(ref m) if m.contains("Connect")));
        c.invite("/public/x", "sdp");
        let out = sent(&mut c);
        c.handle(&reply_to(&out[0], json!({"code": "404"})));
        assert!(matches!(events(&mut c)[0], ClientEvent::Failed(ref m) if m.contains("Invite")));
        // Replies to unknown ids and garbage are ignored.
        c.handle(&reply_to(&json!({"id": "unknown"}), json!({})));
        c.handle("garbage");
        assert!(events(&mut c).is_empty());
    }
}
