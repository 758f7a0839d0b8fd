//! One synthetic peer's signaling task: a REST token, a WebSocket speaking Fabric JSON-RPC
//! (through [`FabricClient`]), the call into its room, and its media peer handed to the driver
//! once the answer arrived. It stays connected (acking events, answering pings) until the run
//! stops, then hangs up with `verto.bye`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::fabric::{ClientEvent, FabricClient};
use crate::media::{MediaDriver, MediaPlan, Milestones, PendingMedia, is_peer_ip, peer_ip};
use crate::rest::Rest;
use crate::udpstat;

pub mod janus;

/// How long a hang-up may take at the end.
const HANGUP_WAIT: Duration = Duration::from_secs(3);

/// What every peer task shares.
pub struct Context {
    /// The REST client.
    pub rest: Rest,
    /// `ws://host:port/`.
    pub ws_url: String,
    /// The media driver.
    pub driver: Arc<MediaDriver>,
    /// The run's time origin.
    pub epoch: Instant,
    /// Time a peer may take to join.
    pub join_timeout: Duration,
    /// Becomes true when the run ends.
    pub stop: watch::Receiver<bool>,
    /// Peers whose join finished (success or failure).
    pub settled: AtomicUsize,
    /// Peers whose join failed.
    pub failed: AtomicUsize,
    /// Server events received by all peers.
    pub events: AtomicU64,
    /// Simulcast publishers pause the layers the server says nobody receives.
    pub pause_layers: bool,
    /// The server's media ports (from its candidates) and their socket drops when first seen
    /// (sockets of the same port on the peers' addresses are not the server's).
    pub server_ports: Mutex<HashMap<u16, u64>>,
}

impl Context {
    /// Notes the media ports of an answer, with their drop counts the first time.
    fn note_server_ports(&self, answer: &str) {
        let Ok(mut known) = self.server_ports.lock() else {
            return;
        };
        for port in udpstat::candidate_ports(answer) {
            known.entry(port).or_insert_with(|| {
                udpstat::open_socket_drops(|ip, p| p == port && !is_peer_ip(ip)).unwrap_or(0)
            });
        }
    }

    /// Datagrams the server's media sockets dropped since their ports were first seen.
    pub fn server_socket_drops(&self) -> Option<u64> {
        let known = self.server_ports.lock().ok()?;
        if known.is_empty() {
            return None;
        }
        let now = udpstat::open_socket_drops(|ip, p| known.contains_key(&p) && !is_peer_ip(ip))?;
        Some(now.saturating_sub(known.values().sum()))
    }
}

/// One peer to run.
#[derive(Debug, Clone)]
pub struct PeerJob {
    /// The room index.
    pub room: usize,
    /// The room's address (`/public/<name>?channel=video`).
    pub address: String,
    /// The subscriber reference its token is issued for.
    pub reference: String,
    /// Its media.
    pub plan: MediaPlan,
}

/// Times (ms) of each join phase a peer went through.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Phases {
    /// `POST /api/fabric/subscribers/tokens`.
    pub token: Option<f64>,
    /// WebSocket open and `signalwire.connect` answered.
    pub connect: Option<f64>,
    /// `verto.invite` sent → SDP answer received.
    pub invite_to_answer: Option<f64>,
    /// `verto.invite` sent → `call.joined`.
    pub invite_to_joined: Option<f64>,
    /// Answer applied → ICE connected.
    pub ice: Option<f64>,
    /// Answer applied → ICE and DTLS connected.
    pub ice_dtls: Option<f64>,
    /// Connected → first media packet received.
    pub first_media: Option<f64>,
    /// Start → first media packet (or connected, for peers that receive nothing).
    pub total: Option<f64>,
}

/// What a peer's signaling did.
#[derive(Debug, Clone, Serialize)]
pub struct JoinRecord {
    /// The peer id.
    pub id: usize,
    /// Room index.
    pub room: usize,
    /// Publisher or subscriber.
    pub publisher: bool,
    /// The call's Verto `callID` (as in the server's log).
    pub call_id: Option<String>,
    /// Join phases.
    pub phases: Phases,
    /// Got the answer and `call.joined`.
    pub joined: bool,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The server's hang-up cause, if the server hung up first.
    pub server_bye: Option<String>,
    /// The server answered our `verto.bye`.
    pub hung_up: bool,
    /// Server events received.
    pub events: u64,
    #[serde(skip)]
    started: u64,
    #[serde(skip)]
    handed_off: Option<u64>,
    #[serde(skip)]
    milestones: Option<Arc<Milestones>>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ns_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

impl JoinRecord {
    /// The record of `job`, starting now.
    fn start(job: &PeerJob, epoch: Instant) -> Self {
        Self {
            id: job.plan.id,
            room: job.room,
            publisher: job.plan.publish,
            call_id: None,
            phases: Phases::default(),
            joined: false,
            error: None,
            server_bye: None,
            hung_up: false,
            events: 0,
            started: ns_since(epoch),
            handed_off: None,
            milestones: None,
        }
    }

    /// Fills the media phases from the worker's milestones (call once media ran).
    pub fn finish(&mut self, expects_media: bool) {
        let Some(m) = &self.milestones else { return };
        let (ice, connected, first) = (
            m.ice.load(Ordering::Relaxed),
            m.connected.load(Ordering::Relaxed),
            m.first_media.load(Ordering::Relaxed),
        );
        let to_ms = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / 1e6;
        if let Some(h) = self.handed_off {
            if ice > 0 {
                self.phases.ice = Some(to_ms(h, ice));
            }
            if connected > 0 {
                self.phases.ice_dtls = Some(to_ms(h, connected));
            }
        }
        if connected > 0 && first > 0 {
            self.phases.first_media = Some(to_ms(connected, first.max(connected)));
        }
        let end = if expects_media { first } else { connected };
        if end > 0 {
            self.phases.total = Some(to_ms(self.started, end));
        }
        if self.error.is_none() && self.joined && end == 0 {
            self.error = Some(if connected == 0 {
                "ICE/DTLS never connected".into()
            } else {
                "no media received".into()
            });
        }
    }

    /// Joined, connected, and received media if it expected any.
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.joined && self.phases.total.is_some()
    }
}

/// Runs one peer until the run stops; returns what its signaling did.
pub async fn run_peer(ctx: Arc<Context>, job: PeerJob) -> JoinRecord {
    let mut record = JoinRecord::start(&job, ctx.epoch);
    let deadline = tokio::time::Instant::now() + ctx.join_timeout;
    let result = tokio::time::timeout_at(deadline, join(&ctx, &job, &mut record)).await;
    let session = match result {
        Ok(Ok(session)) => Some(session),
        Ok(Err(e)) => {
            record.error = Some(e);
            None
        }
        Err(_) => {
            record.error = Some("join timed out".into());
            None
        }
    };
    ctx.settled.fetch_add(1, Ordering::Relaxed);
    if record.error.is_some() {
        ctx.failed.fetch_add(1, Ordering::Relaxed);
    }
    if let Some((ws, client)) = session {
        stay(&ctx, &job.plan, ws, client, &mut record).await;
    }
    record
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends every queued frame.
async fn flush(ws: &mut Ws, client: &mut FabricClient) -> Result<(), String> {
    while let Some(frame) = client.poll_transmit() {
        ws.send(Message::Text(frame.into()))
            .await
            .map_err(|e| format!("websocket send: {e}"))?;
    }
    Ok(())
}

/// Reads frames into the client until it learns something.
async fn next_event(ws: &mut Ws, client: &mut FabricClient) -> Result<ClientEvent, String> {
    loop {
        flush(ws, client).await?;
        if let Some(event) = client.poll_event() {
            return Ok(event);
        }
        match ws.next().await {
            Some(Ok(Message::Text(text))) => client.handle(text.as_str()),
            Some(Ok(Message::Close(frame))) => return Err(format!("websocket closed: {frame:?}")),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("websocket: {e}")),
            None => return Err("websocket ended".into()),
        }
    }
}

/// Token, connect, invite, answer, `call.joined`: the join path up to handing media over.
async fn join(
    ctx: &Context,
    job: &PeerJob,
    record: &mut JoinRecord,
) -> Result<(Ws, FabricClient), String> {
    let t = Instant::now();
    let token = ctx
        .rest
        .subscriber_token(&job.reference)
        .await
        .map_err(|e| format!("token: {e:#}"))?;
    record.phases.token = Some(ms(t.elapsed()));

    let t = Instant::now();
    let (mut ws, _) = tokio_tungstenite::connect_async(ctx.ws_url.as_str())
        .await
        .map_err(|e| format!("websocket connect: {e}"))?;
    let mut client = FabricClient::new();
    record.call_id = Some(client.call_id().to_owned());
    client.connect(&token);
    match next_event(&mut ws, &mut client).await? {
        ClientEvent::Connected => {}
        other => return Err(format!("signalwire.connect: {other:?}")),
    }
    record.phases.connect = Some(ms(t.elapsed()));

    let ip = peer_ip(job.plan.id);
    let (pending, offer) = PendingMedia::offer(job.plan.clone(), ip, ctx.driver.cert())?;
    let invited = Instant::now();
    client.invite(&job.address, &offer);
    let mut pending = Some(pending);
    while !(record.joined && pending.is_none()) {
        match next_event(&mut ws, &mut client).await? {
            ClientEvent::InviteAccepted => {}
            ClientEvent::Answer(sdp) => {
                record.phases.invite_to_answer = Some(ms(invited.elapsed()));
                ctx.note_server_ports(&sdp);
                let Some(p) = pending.take() else { continue };
                let milestones = Arc::new(Milestones::default());
                let peer = p.accept(&sdp, ctx.epoch, milestones.clone())?;
                record.handed_off = Some(ns_since(ctx.epoch));
                record.milestones = Some(milestones);
                ctx.driver.add(peer);
            }
            ClientEvent::Joined => {
                record.phases.invite_to_joined = Some(ms(invited.elapsed()));
                record.joined = true;
            }
            ClientEvent::Bye(cause) => {
                return Err(format!("server hung up while joining: {cause}"));
            }
            other => return Err(format!("verto.invite: {other:?}")),
        }
    }
    Ok((ws, client))
}

/// Keeps the session alive until the run stops, then hangs up.
async fn stay(
    ctx: &Context,
    plan: &MediaPlan,
    mut ws: Ws,
    mut client: FabricClient,
    record: &mut JoinRecord,
) {
    let mut stop = ctx.stop.clone();
    let mut before = client.events_received;
    loop {
        if flush(&mut ws, &mut client).await.is_err() {
            break;
        }
        while let Some(event) = client.poll_event() {
            match event {
                ClientEvent::Bye(cause) => record.server_bye = Some(cause),
                ClientEvent::LayersWanted(rids) if ctx.pause_layers => {
                    plan.send_only_layers(&rids);
                }
                _ => {}
            }
        }
        ctx.events
            .fetch_add(client.events_received - before, Ordering::Relaxed);
        before = client.events_received;
        if *stop.borrow() || record.server_bye.is_some() {
            break;
        }
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => client.handle(text.as_str()),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    record.server_bye.get_or_insert_with(|| "websocket closed".into());
                    break;
                }
            },
            _ = stop.changed() => {}
        }
    }
    record.events = client.events_received;
    if record.server_bye.is_none() {
        client.hangup();
        let hangup = async {
            loop {
                match next_event(&mut ws, &mut client).await {
                    Ok(ClientEvent::HungUp) => return true,
                    Ok(_) => {}
                    Err(_) => return false,
                }
            }
        };
        record.hung_up = tokio::time::timeout(HANGUP_WAIT, hangup)
            .await
            .unwrap_or(false);
    }
    let _ = ws.close(None).await;
}
