//! The thin tokio/axum shell: a WebSocket endpoint running one [`Session`] per socket, and a
//! hub task running the [`Hub`] and executing its directory and media requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use weft_calls::{Calls, FrontEvent};

use crate::directory::{Directory, DirectoryError};
use crate::hub::{ConnId, Hub, HubConfig, HubOutput, OpId, VERTO};
use crate::message::{Down, Up};
use crate::observe::Observer;
use crate::session::{Now, Output, Session, SessionConfig};

mod fragments;
mod upgrade;

use fragments::send_text;
use upgrade::Socket;

/// Configuration of the signaling service.
#[derive(Debug, Clone, Default)]
pub struct SignalingConfig {
    /// Per-connection limits and timings.
    pub session: SessionConfig,
    /// Hub limits and timings.
    pub hub: HubConfig,
}

/// Longest wait for a token check (below the 8 s reply deadline).
const DIRECTORY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for a client to take one message before its socket is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a socket we closed keeps reading, waiting for the client's close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(2);
/// How often the hub's state is reported to the observer.
const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(1);

enum HubInput {
    Open {
        conn: ConnId,
        tx: UnboundedSender<Down>,
    },
    Up {
        conn: ConnId,
        up: Up,
    },
    Token {
        op: OpId,
        result: Result<crate::directory::Identity, DirectoryError>,
    },
    Shutdown,
}

struct Inner {
    hub: UnboundedSender<HubInput>,
    session: Arc<SessionConfig>,
    next_conn: AtomicU64,
    observer: Arc<dyn Observer>,
}

/// A running signaling service; cheap to clone. Build it with [`Signaling::start`], serve
/// [`router`], feed it media events, and call [`Signaling::shutdown`] on exit.
#[derive(Clone)]
pub struct Signaling {
    inner: Arc<Inner>,
}

impl Signaling {
    /// Starts the hub task on the current tokio runtime; calls go to `calls`.
    pub fn start<D: Directory>(cfg: SignalingConfig, directory: Arc<D>, calls: Calls) -> Self {
        Self::start_observed(cfg, directory, calls, Arc::new(()))
    }

    /// Like [`Signaling::start`], reporting requests and the hub's state to `observer`.
    pub fn start_observed<D: Directory>(
        mut cfg: SignalingConfig,
        directory: Arc<D>,
        calls: Calls,
        observer: Arc<dyn Observer>,
    ) -> Self {
        cfg.hub.node_id.clone_from(&cfg.session.node_id);
        let (tx, rx) = unbounded_channel();
        let events = calls.attach(VERTO);
        tokio::spawn(run_hub(
            Hub::new(cfg.hub),
            rx,
            tx.clone(),
            directory,
            calls,
            events,
            observer.clone(),
        ));
        Self {
            inner: Arc::new(Inner {
                hub: tx,
                session: Arc::new(cfg.session),
                next_conn: AtomicU64::new(1),
                observer,
            }),
        }
    }

    /// Asks every client to disconnect (`signalwire.disconnect`); they resume on reconnect.
    pub fn shutdown(&self) {
        let _ = self.inner.hub.send(HubInput::Shutdown);
    }
}

/// The WebSocket endpoint for the `relay.<domain>` host, at `/` (and any other path: the SDK
/// takes the path from the token's `ch` claim).
pub fn router(state: Signaling) -> Router {
    Router::new()
        .route("/", any(upgrade))
        .route("/{*path}", any(upgrade))
        .with_state(state)
}

/// Bytes a connection reads from its socket at a time, and the initial size of its read buffer.
/// tungstenite's default (128 KiB, zeroed and so resident) was 43 % of a connected member's
/// memory. Most SDK frames are smaller; a larger one (an SDP offer, 5-15 KB) is read in several
/// steps into a buffer tungstenite grows to hold that whole frame, and keeps.
const READ_BUFFER: usize = 4 * 1024;

async fn upgrade(State(state): State<Signaling>, request: Request) -> Response {
    let max = state.inner.session.max_frame_bytes;
    // Frames are written as they are sent (no write buffer is kept beyond one frame; long
    // messages go out in fragments, see `fragments`).
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0);
    upgrade::accept(request, config, move |socket| {
        run_connection(socket, state.inner)
    })
}

fn now() -> Now {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| (d.as_millis() as f64) / 1000.0);
    Now {
        mono: Instant::now().into_std(),
        unix,
    }
}

async fn run_connection(socket: Socket, inner: Arc<Inner>) {
    let conn = inner.next_conn.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = unbounded_channel();
    if inner.hub.send(HubInput::Open { conn, tx }).is_err() {
        return;
    }
    let mut session = Session::new(inner.session.clone(), now().mono);
    let (mut sink, mut stream) = socket.split();
    let mut closed_by_us = false;
    'run: loop {
        for (method, ok) in session.take_answered() {
            inner.observer.request(method, ok);
        }
        while let Some(out) = session.poll_output() {
            match out {
                Output::Send(text) => {
                    let sent = timeout(SEND_TIMEOUT, send_text(&mut sink, text)).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        break 'run;
                    }
                }
                Output::Up(up) => {
                    let _ = inner.hub.send(HubInput::Up { conn, up });
                }
                Output::Close { code, reason } => {
                    tracing::debug!(conn, code, reason, "closing signaling socket");
                    let frame = CloseFrame {
                        code: CloseCode::from(code),
                        reason: Utf8Bytes::from_static(reason),
                    };
                    let _ = timeout(SEND_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
                    closed_by_us = true;
                    break 'run;
                }
            }
        }
        let deadline = session.next_deadline().map(Instant::from_std);
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(text))) => session.on_frame(now(), text.as_str()),
                Some(Ok(Message::Binary(_))) => session.on_frame(now(), "\u{0}binary frames are not supported"),
                // tungstenite answers pings itself; raw frames are only ever written.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break 'run,
            },
            down = rx.recv() => match down {
                Some(down) => session.on_down(now(), down),
                None => break 'run,
            },
            () = async { sleep_until(deadline.unwrap_or_else(Instant::now)).await }, if deadline.is_some() => {
                session.on_tick(now());
            }
        }
    }
    for (method, ok) in session.take_answered() {
        inner.observer.request(method, ok);
    }
    let unacked = session.take_unacked();
    let _ = inner.hub.send(HubInput::Up {
        conn,
        up: Up::Closed { unacked },
    });
    if closed_by_us {
        linger(&mut stream).await;
    }
}

/// After our close frame, reads (and drops) what the client still sends until its own close
/// frame, for at most [`CLOSE_LINGER`]: dropping a socket with unread input makes the kernel send
/// a reset, which can destroy our close frame (and its code) before the client reads it.
async fn linger(stream: &mut (impl futures_util::Stream<Item = Result<Message, WsError>> + Unpin)) {
    let _ = timeout(CLOSE_LINGER, async {
        while let Some(Ok(msg)) = stream.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

async fn run_hub<D: Directory>(
    mut hub: Hub,
    mut rx: UnboundedReceiver<HubInput>,
    tx: UnboundedSender<HubInput>,
    directory: Arc<D>,
    calls: Calls,
    mut events: UnboundedReceiver<FrontEvent>,
    observer: Arc<dyn Observer>,
) {
    let mut conns: HashMap<ConnId, UnboundedSender<Down>> = HashMap::new();
    let mut snapshots = tokio::time::interval(SNAPSHOT_INTERVAL);
    snapshots.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = hub.next_deadline().map(Instant::from_std);
        let input = tokio::select! {
            input = rx.recv() => match input {
                Some(input) => Some(input),
                None => return,
            },
            event = events.recv() => match event {
                Some(event) => {
                    hub.on_calls(event);
                    drain(&mut hub, &conns, &directory, &calls, &tx);
                    continue;
                }
                None => return,
            },
            () = async { sleep_until(deadline.unwrap_or_else(Instant::now)).await }, if deadline.is_some() => None,
            _ = snapshots.tick() => {
                observer.hub(&hub.snapshot());
                continue;
            }
        };
        let now = Instant::now().into_std();
        match input {
            None => hub.on_tick(now),
            Some(HubInput::Open { conn, tx }) => {
                conns.insert(conn, tx);
                hub.open(conn);
            }
            Some(HubInput::Up { conn, up }) => {
                let closed = matches!(up, Up::Closed { .. });
                hub.on_up(now, conn, up);
                if closed {
                    conns.remove(&conn);
                }
            }
            Some(HubInput::Token { op, result }) => hub.on_token(op, result),
            Some(HubInput::Shutdown) => hub.shutdown(),
        }
        drain(&mut hub, &conns, &directory, &calls, &tx);
    }
}

/// Carries out what the hub asked for.
fn drain<D: Directory>(
    hub: &mut Hub,
    conns: &HashMap<ConnId, UnboundedSender<Down>>,
    directory: &Arc<D>,
    calls: &Calls,
    tx: &UnboundedSender<HubInput>,
) {
    while let Some(out) = hub.poll_output() {
        match out {
            HubOutput::ToConn(conn, down) => {
                if let Some(c) = conns.get(&conn) {
                    let _ = c.send(down);
                }
            }
            HubOutput::VerifyToken(op, token) => {
                tokio::spawn(verify_token(directory.clone(), op, token, tx.clone()));
            }
            HubOutput::Calls(command) => calls.command(command),
        }
    }
}

async fn verify_token<D: Directory>(
    directory: Arc<D>,
    op: OpId,
    token: String,
    tx: UnboundedSender<HubInput>,
) {
    let result = timeout(DIRECTORY_TIMEOUT, directory.verify_token(&token))
        .await
        .unwrap_or_else(|_| Err(DirectoryError::Unavailable("directory timed out".into())));
    let _ = tx.send(HubInput::Token { op, result });
}
