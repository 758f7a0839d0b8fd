//! The thin tokio shell on rsipstack: UDP, TCP and TLS listeners and RFC 3261 transactions
//! (retransmissions and timers are the stack's), one task running the [`SipCore`], and the
//! store and call-controller work it asks for.
//!
//! Every server transaction has a pump task polling it (rsipstack only retransmits, answers a
//! CANCEL and delivers the ACK while someone does), and the core answers through the
//! transaction's sender. Client transactions are pumped until their final response.

mod limiter;
mod transactions;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rsipstack::EndpointBuilder;
use rsipstack::transaction::endpoint::EndpointOption;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{
    TcpListenerConnection, TlsConfig, TlsListenerConnection, TransportLayer,
};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use weft_calls::{Calls, FrontEvent};

use crate::account::{Account, Binding, Transport};
use crate::core::{
    Action, ClientTx, CoreConfig, Now, OpId, SIP, ServerTx, SipCore, SipSnapshot, StoreChange,
};

pub use limiter::SourceLimiter;

/// How often the core's clock ticks at least (registration expiry has second resolution).
const TICK: Duration = Duration::from_secs(1);
/// How often the bindings are compared with the store (endpoints deleted through the API).
const RECONCILE: Duration = Duration::from_secs(30);

/// Where the SIP server listens and how it limits its peers.
#[derive(Debug, Clone)]
pub struct SipConfig {
    /// UDP and TCP.
    pub listen: SocketAddr,
    /// TLS, with the certificate chain and PKCS#8 (or PKCS#1) key in PEM.
    pub tls: Option<(SocketAddr, Vec<u8>, Vec<u8>)>,
    /// Messages a second per source address (trusted trunks are exempt), and the burst.
    pub messages_per_sec: f64,
    /// Burst of messages per source address.
    pub message_burst: f64,
    /// The core's settings.
    pub core: CoreConfig,
}

/// Durable accounts and bindings, implemented by the server on its store.
pub trait SipStore: Send + Sync + 'static {
    /// The accounts with a username (in any project).
    fn accounts(&self, username: &str)
    -> impl Future<Output = Result<Vec<Account>, String>> + Send;
    /// Applies binding changes in order; `Ok` only once they are durable.
    fn apply(&self, changes: Vec<StoreChange>) -> impl Future<Output = Result<(), String>> + Send;
    /// Every stored binding (at start).
    fn bindings(&self) -> impl Future<Output = Result<Vec<Binding>, String>> + Send;
}

/// Receives the SIP server's counts; implemented by the server with its metrics registry.
pub trait SipObserver: Send + Sync + 'static {
    /// Weft answered a request of `method` with a final `status`.
    fn answered(&self, method: &str, status: u16);
    /// Registrations and calls, about once a second.
    fn snapshot(&self, snapshot: &SipSnapshot);
}

/// Reports nothing.
impl SipObserver for () {
    fn answered(&self, _: &str, _: u16) {}
    fn snapshot(&self, _: &SipSnapshot) {}
}

/// What reaches the core task.
pub(crate) enum Input {
    Request {
        tx: ServerTx,
        request: rsipstack::sip::Request,
        peer: crate::account::Peer,
    },
    TxMessage {
        tx: ServerTx,
        request: rsipstack::sip::Request,
    },
    TxEnded(ServerTx),
    Response {
        tx: ClientTx,
        response: rsipstack::sip::Response,
    },
    Accounts {
        op: OpId,
        result: Result<Vec<Account>, String>,
    },
    Stored {
        op: OpId,
        result: Result<(), String>,
    },
    /// The ids of the stored bindings.
    StoredBindings(Result<Vec<String>, String>),
}

/// A running SIP server. Dropping it does not stop it: call [`SipServer::shutdown`].
pub struct SipServer {
    cancel: CancellationToken,
    addrs: Vec<(Transport, SocketAddr)>,
}

impl SipServer {
    /// Binds the listeners, loads the stored bindings and starts serving.
    pub async fn start<S: SipStore>(
        cfg: SipConfig,
        store: Arc<S>,
        calls: Calls,
        observer: Arc<dyn SipObserver>,
    ) -> Result<Self, String> {
        // rsipstack's rustls build links ring next to our aws-lc-rs: name the provider, or the
        // first TLS handshake panics inside the stack's serve task.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let cancel = CancellationToken::new();
        let layer = TransportLayer::new(cancel.child_token());
        let exempt = cfg
            .core
            .trunks
            .iter()
            .flat_map(|t| t.cidrs.iter().copied())
            .collect();
        let limiter = Arc::new(SourceLimiter::new(
            cfg.messages_per_sec,
            cfg.message_burst,
            exempt,
        ));
        {
            let limiter = limiter.clone();
            layer.set_whitelist(move |ip| {
                let allowed = limiter.allow(ip, std::time::Instant::now());
                async move { allowed }
            });
        }
        let udp = UdpConnection::create_connection(cfg.listen, None, Some(cancel.child_token()))
            .await
            .map_err(|e| format!("SIP UDP {}: {e}", cfg.listen))?;
        let udp_addr = udp.get_addr().get_socketaddr().map_err(|e| e.to_string())?;
        layer.add_transport(udp.into());
        // TCP and TLS bind inside the stack's serve task, which only logs failures: bind
        // here first so a taken port stops the start.
        let tcp_addr = SocketAddr::new(cfg.listen.ip(), udp_addr.port());
        check_bind(tcp_addr)?;
        let tcp = TcpListenerConnection::new(tcp_addr, None)
            .await
            .map_err(|e| format!("SIP TCP {tcp_addr}: {e}"))?;
        layer.add_transport(tcp.into());
        let mut addrs = vec![(Transport::Udp, udp_addr), (Transport::Tcp, tcp_addr)];
        if let Some((addr, cert, key)) = cfg.tls.clone() {
            check_bind(addr)?;
            let tls = TlsListenerConnection::new(
                addr,
                None,
                TlsConfig {
                    cert: Some(cert),
                    key: Some(key),
                    ..TlsConfig::default()
                },
            )
            .await
            .map_err(|e| format!("SIP TLS {addr}: {e}"))?;
            layer.add_transport(tls.into());
            addrs.push((Transport::Tls, addr));
        }
        let endpoint = EndpointBuilder::new()
            .with_user_agent(crate::msg::AGENT)
            .with_transport_layer(layer)
            .with_cancel_token(cancel.clone())
            .with_option(EndpointOption {
                callid_suffix: Some(cfg.core.domain.clone()),
                ..EndpointOption::default()
            })
            .build();
        let incoming = endpoint
            .incoming_transactions()
            .map_err(|e| e.to_string())?;
        let inner = endpoint.inner.clone();
        tokio::spawn(async move {
            if let Err(e) = inner.serve().await {
                tracing::error!(error = %e, "SIP stack stopped");
            }
        });
        let bindings = store.bindings().await?;
        let mut core_cfg = cfg.core.clone();
        core_cfg.contacts = addrs.iter().map(|(t, a)| (*t, a.to_string())).collect();
        let mut core = SipCore::new(core_cfg);
        core.restore(now(), bindings);
        let events = calls.attach(SIP);
        let (tx, rx) = unbounded_channel();
        let stack = transactions::Stack::new(endpoint.inner.clone(), &addrs, tx.clone());
        let stores = StoreWorker::start(store, tx.clone());
        tokio::spawn(run(Run {
            core,
            incoming,
            rx,
            events,
            calls,
            stack,
            stores,
            limiter,
            observer,
            cancel: cancel.clone(),
        }));
        tracing::info!(?addrs, "SIP listening");
        Ok(Self { cancel, addrs })
    }

    /// Where the server listens.
    pub fn local_addrs(&self) -> &[(Transport, SocketAddr)] {
        &self.addrs
    }

    /// Stops the listeners and the core.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }
}

/// Fails when `addr` cannot be bound for TCP now.
fn check_bind(addr: SocketAddr) -> Result<(), String> {
    std::net::TcpListener::bind(addr)
        .map(drop)
        .map_err(|e| format!("SIP listener {addr}: {e}"))
}

fn now() -> Now {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Now {
        mono: std::time::Instant::now(),
        unix,
    }
}

/// Runs store work one request at a time, in order (a REGISTER's changes before the next's).
struct StoreWorker {
    jobs: UnboundedSender<(OpId, Job)>,
}

enum Job {
    Accounts(String),
    Apply(Vec<StoreChange>),
    Bindings,
}

impl StoreWorker {
    fn start<S: SipStore>(store: Arc<S>, core: UnboundedSender<Input>) -> Self {
        let (jobs, mut rx) = unbounded_channel::<(OpId, Job)>();
        let worker = store;
        tokio::spawn(async move {
            while let Some((op, job)) = rx.recv().await {
                let input = match job {
                    Job::Accounts(username) => Input::Accounts {
                        op,
                        result: worker.accounts(&username).await,
                    },
                    Job::Apply(changes) => Input::Stored {
                        op,
                        result: worker.apply(changes).await,
                    },
                    Job::Bindings => Input::StoredBindings(
                        worker
                            .bindings()
                            .await
                            .map(|list| list.into_iter().map(|b| b.id).collect()),
                    ),
                };
                if core.send(input).is_err() {
                    return;
                }
            }
        });
        Self { jobs }
    }

    fn send(&self, op: OpId, job: Job) {
        let _ = self.jobs.send((op, job));
    }
}

struct Run {
    core: SipCore,
    incoming: rsipstack::transaction::TransactionReceiver,
    rx: UnboundedReceiver<Input>,
    events: UnboundedReceiver<FrontEvent>,
    calls: Calls,
    stack: transactions::Stack,
    stores: StoreWorker,
    limiter: Arc<SourceLimiter>,
    observer: Arc<dyn SipObserver>,
    cancel: CancellationToken,
}

async fn run(mut r: Run) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reconcile = tokio::time::interval(RECONCILE);
    reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = r.core.next_deadline().map(Instant::from_std);
        tokio::select! {
            () = r.cancel.cancelled() => return,
            tx = r.incoming.recv() => match tx {
                Some(tx) => r.stack.accept(tx),
                None => return,
            },
            input = r.rx.recv() => match input {
                Some(input) => feed(&mut r.core, input),
                None => return,
            },
            event = r.events.recv() => match event {
                Some(event) => r.core.on_calls(now(), event),
                None => return,
            },
            () = async { tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)).await }, if deadline.is_some() => {
                r.core.on_tick(now());
            }
            _ = ticks.tick() => {
                r.core.on_tick(now());
                r.observer.snapshot(&r.core.snapshot());
            }
            _ = reconcile.tick() => r.stores.send(0, Job::Bindings),
        }
        while let Some(action) = r.core.poll_action() {
            match action {
                Action::Respond { tx, response } => {
                    if response.status_code.code() >= 200
                        && let Ok(cseq) =
                            rsipstack::sip::prelude::HeadersExt::cseq_header(&response)
                        && let Ok(method) = cseq.method()
                    {
                        r.observer
                            .answered(&method.to_string(), response.status_code.code());
                    }
                    r.stack.respond(tx, response);
                }
                Action::Send { tx, request, to } => r.stack.send(tx, request, to),
                Action::Cancel { tx } => r.stack.cancel(tx),
                Action::Accounts { op, username } => r.stores.send(op, Job::Accounts(username)),
                Action::Store { op, changes } => r.stores.send(op, Job::Apply(changes)),
                Action::Calls(command) => r.calls.command(command),
                Action::Block { ip, until } => {
                    let until = tokio::time::Instant::from_std(until).into_std();
                    r.limiter.block(ip, until);
                }
            }
        }
    }
}

fn feed(core: &mut SipCore, input: Input) {
    let now = now();
    match input {
        Input::Request { tx, request, peer } => core.on_request(now, tx, request, peer),
        Input::TxMessage { tx, request } => core.on_tx_message(now, tx, request),
        Input::TxEnded(tx) => core.on_tx_ended(tx),
        Input::Response { tx, response } => core.on_response(now, tx, response),
        Input::Accounts { op, result } => core.on_accounts(now, op, result),
        Input::Stored { op, result } => core.on_stored(now, op, result),
        Input::StoredBindings(Ok(ids)) => core.retain_bindings(&ids.into_iter().collect()),
        Input::StoredBindings(Err(e)) => {
            tracing::warn!(error = %e, "reading the SIP bindings failed");
        }
    }
}
