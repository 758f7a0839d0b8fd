//! Helpers shared by the WebSocket tests: a directory fake, a server on loopback, a JSON-RPC
//! client that acks events and pings like the SDK.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use weft_calls::directory::{Resolver, Target, TargetKind};
use weft_calls::media::Media;
use weft_calls::{Calls, ControllerConfig};
use weft_core::Address;
use weft_signaling::directory::{Directory, DirectoryError, Identity, Subject};
use weft_signaling::{Signaling, SignalingConfig, router};

/// Accepts tokens `tok-<subscriber>`; `/public/lobby` is a video room, `alice`/`bob` are
/// subscribers.
pub struct FakeDirectory;

impl Directory for FakeDirectory {
    async fn verify_token(&self, token: &str) -> Result<Identity, DirectoryError> {
        let who = token
            .strip_prefix("tok-")
            .ok_or_else(|| DirectoryError::InvalidToken("bad signature".into()))?;
        Ok(Identity {
            project_id: "proj".into(),
            subject: Subject::Subscriber {
                subscriber_id: who.into(),
            },
            jti: format!("jti{who}"),
            expires_at: 1_900_000_000,
            scopes: vec![],
            display_name: who.to_uppercase(),
            application_id: None,
        })
    }
}

impl Resolver for FakeDirectory {
    async fn resolve_address(
        &self,
        _project: &str,
        address: &Address,
    ) -> Result<Option<Target>, DirectoryError> {
        let kind = match address.name.as_str() {
            "lobby" => TargetKind::VideoRoom,
            "alice" | "bob" => TargetKind::Subscriber,
            _ => return Ok(None),
        };
        Ok(Some(Target {
            kind,
            resource_id: address.name.clone(),
            address_id: format!("addr-{}", address.name),
            name: address.name.clone(),
            display_name: address.name.to_uppercase(),
        }))
    }
}

/// Starts the call controller over `media` and the signaling shell on a loopback port.
pub async fn serve<M: Media>(
    cfg: SignalingConfig,
    media: Arc<M>,
) -> (SocketAddr, Signaling, Calls) {
    let calls = start_calls(media);
    let signaling = Signaling::start(cfg, Arc::new(FakeDirectory), calls.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(signaling.clone());
    // As weft's listeners: no Nagle, or a message sent in several writes (a fragmented one)
    // waits for the client's delayed ACK (≈40 ms).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, signaling, calls)
}

/// Starts the call controller over `media`, resolving addresses with [`FakeDirectory`].
pub fn start_calls<M: Media>(media: Arc<M>) -> Calls {
    Calls::start(
        ControllerConfig::default(),
        Arc::new(FakeDirectory),
        media,
        Arc::new(()),
    )
}

pub const WAIT: Duration = Duration::from_secs(5);

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    seq: u64,
    pub events: Vec<Value>,
    pub protocol: String,
}

impl Client {
    pub async fn open(addr: SocketAddr) -> Self {
        let (ws, _) = connect_async(format!("ws://{addr}/")).await.unwrap();
        Self {
            ws,
            seq: 0,
            events: Vec::new(),
            protocol: String::new(),
        }
    }

    pub async fn connect(addr: SocketAddr, who: &str) -> Self {
        let mut c = Self::open(addr).await;
        let r = c.connect_with(&format!("tok-{who}"), None).await;
        c.protocol = r["result"]["protocol"].as_str().unwrap().to_owned();
        c
    }

    pub async fn connect_with(&mut self, token: &str, protocol: Option<&str>) -> Value {
        let mut params = json!({"version":{"major":4,"minor":0,"revision":0},"event_acks":true,
            "agent":"@signalwire/js/browser/3.30.0","authentication":{"jwt_token": token}});
        if let Some(p) = protocol {
            params["protocol"] = json!(p);
        }
        self.call_raw("signalwire.connect", params).await
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    /// Reads one frame, acking events and pings; returns it.
    pub async fn next(&mut self) -> Value {
        let msg = tokio::time::timeout(WAIT, self.ws.next())
            .await
            .expect("frame in time");
        let Some(Ok(Message::Text(text))) = msg else {
            panic!("socket ended: {msg:?}");
        };
        let v: Value = serde_json::from_str(text.as_str()).unwrap();
        match v["method"].as_str() {
            Some("signalwire.event") => {
                self.send(json!({"jsonrpc":"2.0","id":v["id"],"result":{}}))
                    .await;
                self.events.push(v["params"].clone());
            }
            Some("signalwire.ping") => {
                let ts = v["params"]["timestamp"].clone();
                self.send(json!({"jsonrpc":"2.0","id":v["id"],"result":{"timestamp":ts}}))
                    .await;
            }
            _ => {}
        }
        v
    }

    pub async fn call_raw(&mut self, method: &str, params: Value) -> Value {
        self.seq += 1;
        let id = format!("req-{}", self.seq);
        self.send(json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}))
            .await;
        loop {
            let v = self.next().await;
            if v["id"] == id && v.get("method").is_none() {
                return v;
            }
        }
    }

    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let v = self.call_raw(method, params).await;
        assert!(v.get("error").is_none(), "{method} failed: {v}");
        v["result"].clone()
    }

    pub async fn verto(&mut self, method: &str, call_id: &str, params: Value) -> Value {
        let mut p = params;
        p["dialogParams"]["callID"] = json!(call_id);
        let msg =
            json!({"jsonrpc":"2.0","id":format!("v-{}", self.seq),"method":method,"params":p});
        self.call("webrtc.verto", json!({"message": msg, "callID": call_id}))
            .await
    }

    /// Waits for an event (already received or coming) matching `pred`; removes it.
    /// The first event (seen or still to come) that matches; panics after 20 s with what came.
    pub async fn event(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(pos) = self.events.iter().position(&pred) {
                return self.events.remove(pos);
            }
            let seen: Vec<String> = self
                .events
                .iter()
                .map(|e| e["event_type"].to_string())
                .collect();
            assert!(
                tokio::time::timeout_at(deadline, self.next()).await.is_ok(),
                "timed out waiting for an event; events seen: {seen:?}"
            );
        }
    }

    pub async fn event_type(&mut self, ty: &str) -> Value {
        self.event(|e| e["event_type"] == ty).await
    }

    pub async fn verto_event(&mut self, method: &str) -> Value {
        let e = self
            .event(|e| e["event_type"] == "webrtc.message" && e["params"]["method"] == method)
            .await;
        e["params"]["params"].clone()
    }

    pub async fn dial(&mut self, call_id: &str, to: &str) -> Value {
        let p = json!({"dialogParams":{"destination_number": to, "attach": false},
                       "sdp":"v=0\r\nm=audio 9 UDP 111\r\nm=video 9 UDP 96\r\n"});
        self.verto("verto.invite", call_id, p).await
    }
}
