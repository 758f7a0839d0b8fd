//! The sans-IO SIP core: requests, responses on its transactions, store answers, the call
//! controller's events and time in; responses, requests, store work and controller commands out.
//!
//! RFC 3261 transactions (retransmissions, timers A–K) belong to the shell's SIP stack; the core
//! owns everything above them: the registrar, digest authentication, dialogs (tags, CSeq, route
//! set, remote target), the B2BUA's legs and their SDP, session timers, and the limits that keep
//! a hostile peer from costing more than a friendly one.

mod dialog;
mod front;
mod inbound;
mod indialog;
mod limits;
mod outbound;
mod registrar;
mod timers;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use rsipstack::sip::{Request, Response};
use weft_calls::{Command, FrontEvent, FrontId};

use crate::account::{Account, Binding, MediaPolicy, Peer, Transport};
use crate::cidr::Cidr;
use crate::digest::Challenger;

pub use limits::AuthLimits;

/// The front-end name SIP legs carry in the call controller.
pub const SIP: FrontId = FrontId("sip");

/// A server transaction (a request Weft received), named by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerTx(pub u64);

/// A client transaction (a request Weft sends), named by the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientTx(pub u64);

/// Identifies one outstanding store request.
pub type OpId = u64;

/// The time, as the core sees it.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// Monotonic time, for timers.
    pub mono: Instant,
    /// Unix seconds, for nonces and binding expiry (which outlive the process).
    pub unix: u64,
}

/// A trusted trunk: calls from its source addresses need no digest authentication and belong to
/// its project.
#[derive(Debug, Clone, PartialEq)]
pub struct Trunk {
    /// Its name (logs, caller ids).
    pub name: String,
    /// The source networks it sends from.
    pub cidrs: Vec<Cidr>,
    /// The project its calls are placed in.
    pub project_id: String,
    /// Codecs and SRTP for its calls.
    pub media: MediaPolicy,
    /// Calls it may have at once.
    pub max_calls: usize,
}

/// Limits and settings of the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The SIP domain and digest realm.
    pub domain: String,
    /// `host:port` Weft is reached at, per transport (its Contact).
    pub contacts: Vec<(Transport, String)>,
    /// Shortest registration accepted (shorter: 423 with `Min-Expires`).
    pub min_expires: u32,
    /// Longest registration granted (longer requests are shortened).
    pub max_expires: u32,
    /// Registration length when the REGISTER names none.
    pub default_expires: u32,
    /// Contacts one account may register (the soonest to expire is dropped for a new one).
    pub max_bindings_per_account: usize,
    /// Calls one account may have at once.
    pub max_calls_per_account: usize,
    /// Trusted trunks.
    pub trunks: Vec<Trunk>,
    /// Failed-authentication limits.
    pub auth: AuthLimits,
    /// The shortest session interval accepted (RFC 4028 `Min-SE`), seconds.
    pub min_session_expires: u32,
    /// The session interval Weft asks for on calls it places, seconds.
    pub session_expires: u32,
    /// How long a digest nonce stays fresh, seconds.
    pub nonce_max_age: u64,
    /// The digest algorithms challenges offer, in order (clients that read only the first
    /// challenge take it).
    pub digest_algorithms: Vec<crate::digest::Algorithm>,
    /// The key of the nonces' HMAC (random at start: a restart makes old nonces stale).
    pub secret: [u8; 32],
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            domain: "weft.localhost".into(),
            contacts: vec![(Transport::Udp, "127.0.0.1:5060".into())],
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_bindings_per_account: 10,
            max_calls_per_account: 16,
            trunks: Vec::new(),
            auth: AuthLimits::default(),
            min_session_expires: 90,
            session_expires: 1800,
            nonce_max_age: 300,
            // Clients that meet an algorithm they do not know in any challenge (baresip 1.0.0,
            // SIPp 3.6) refuse the whole response: SHA-256 is the operator's choice.
            digest_algorithms: vec![crate::digest::Algorithm::Md5],
            secret: [0; 32],
        }
    }
}

/// A change to the stored bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChange {
    /// Insert or replace a binding.
    Save(Box<Binding>),
    /// Delete a binding by id.
    Delete(String),
}

/// What the core asks its shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send a response on a server transaction.
    Respond {
        /// The transaction.
        tx: ServerTx,
        /// The response.
        response: Response,
    },
    /// Send a request as a new client transaction (the shell adds its Via).
    Send {
        /// The transaction's name.
        tx: ClientTx,
        /// The request.
        request: Request,
        /// Where to.
        to: Peer,
    },
    /// Cancel a client INVITE transaction that has had no final response (RFC 3261 §9.1).
    Cancel {
        /// The INVITE's transaction.
        tx: ClientTx,
    },
    /// Look up the accounts with this username and report them with [`SipCore::on_accounts`].
    Accounts {
        /// The operation.
        op: OpId,
        /// The username.
        username: String,
    },
    /// Apply these changes durably and report with [`SipCore::on_stored`].
    Store {
        /// The operation.
        op: OpId,
        /// The changes, in order.
        changes: Vec<StoreChange>,
    },
    /// Hand a command to the call controller.
    Calls(Command),
    /// Drop everything from this address until then (failed authentications).
    Block {
        /// The address.
        ip: IpAddr,
        /// Until when.
        until: Instant,
    },
}

/// Dialogs by state and registrations, at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SipSnapshot {
    /// Live contact bindings.
    pub registrations: usize,
    /// SIP calls (dialogs) by state, one entry for each of [`SIP_CALL_STATES`].
    pub calls: [usize; SIP_CALL_STATES.len()],
}

/// The states a SIP call can be in, as reported in [`SipSnapshot::calls`].
pub const SIP_CALL_STATES: [&str; 2] = ["early", "active"];

/// What a pending store request was for.
enum Pending {
    /// A REGISTER waiting for its account.
    RegisterAccount(registrar::Waiting),
    /// A REGISTER waiting for its bindings to be stored.
    RegisterStore(registrar::Storing),
    /// An INVITE waiting for its account.
    InviteAccount(inbound::Waiting),
    /// Housekeeping; nothing waits.
    Nothing,
}

/// The sans-IO SIP core.
pub struct SipCore {
    cfg: CoreConfig,
    challenger: Challenger,
    bindings: HashMap<String, Binding>,
    dialogs: dialog::Dialogs,
    pending: HashMap<OpId, Pending>,
    failures: limits::AuthFailures,
    next_op: OpId,
    next_client: u64,
    out: VecDeque<Action>,
}

impl SipCore {
    /// A core with no bindings and no calls.
    pub fn new(cfg: CoreConfig) -> Self {
        let challenger =
            Challenger::new(cfg.domain.clone(), cfg.secret).with_max_nonce_age(cfg.nonce_max_age);
        let failures = limits::AuthFailures::new(cfg.auth);
        Self {
            cfg,
            challenger,
            bindings: HashMap::new(),
            dialogs: dialog::Dialogs::default(),
            pending: HashMap::new(),
            failures,
            next_op: 1,
            next_client: 1,
            out: VecDeque::new(),
        }
    }

    /// The next action, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }

    /// Live registrations and calls by state.
    pub fn snapshot(&self) -> SipSnapshot {
        let mut calls = [0; SIP_CALL_STATES.len()];
        for d in self.dialogs.iter() {
            calls[usize::from(d.answered())] += 1;
        }
        SipSnapshot {
            registrations: self.bindings.len(),
            calls,
        }
    }

    /// When `on_tick` must be called next.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.dialogs.next_deadline(), self.failures.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Handles the passage of time: expired bindings, session timers, lifted blocks.
    pub fn on_tick(&mut self, now: Now) {
        self.expire_bindings(now);
        self.run_session_timers(now);
        self.failures.forget_old(now.mono);
    }

    /// A new request (a new server transaction) from `peer`.
    pub fn on_request(&mut self, now: Now, tx: ServerTx, req: Request, peer: Peer) {
        if self.failures.blocked(peer.addr.ip(), now.mono) {
            return;
        }
        if !crate::msg::length_matches(&req.headers, &req.body) {
            return self.respond_plain(tx, &req, 400);
        }
        if req.body.len() > crate::msg::MAX_BODY {
            return self.respond_plain(tx, &req, 413);
        }
        use rsipstack::sip::Method;
        match req.method {
            Method::Register => self.register(now, tx, req, peer),
            Method::Invite => self.invite(now, tx, req, peer),
            Method::Options => self.options(tx, &req),
            Method::Bye | Method::Info | Method::Update => self.in_dialog(now, tx, req),
            Method::Ack | Method::Cancel => {}
            _ => {
                let mut resp = crate::msg::response(&req, 405, Some(&new_tag()));
                crate::msg::add(&mut resp, crate::msg::other("Allow", crate::msg::ALLOW));
                self.respond(tx, resp);
            }
        }
    }

    /// An ACK or CANCEL on one of our INVITE server transactions.
    pub fn on_tx_message(&mut self, now: Now, tx: ServerTx, req: Request) {
        use rsipstack::sip::Method;
        match req.method {
            Method::Ack => self.acked(now, tx, &req),
            Method::Cancel => self.cancelled(tx),
            _ => {}
        }
    }

    /// A server transaction ended (for an INVITE answered 2xx without an ACK: the ACK timed out).
    pub fn on_tx_ended(&mut self, tx: ServerTx) {
        self.server_tx_ended(tx);
    }

    /// A response on one of our client transactions.
    pub fn on_response(&mut self, now: Now, tx: ClientTx, resp: Response) {
        self.response(now, tx, resp);
    }

    /// The accounts with a username, for a pending REGISTER or INVITE.
    pub fn on_accounts(&mut self, now: Now, op: OpId, result: Result<Vec<Account>, String>) {
        match self.pending.remove(&op) {
            Some(Pending::RegisterAccount(w)) => self.register_with(now, w, result),
            Some(Pending::InviteAccount(w)) => self.invite_with(now, w, result),
            Some(other) => {
                self.pending.insert(op, other);
            }
            None => {}
        }
    }

    /// A store request finished.
    pub fn on_stored(&mut self, now: Now, op: OpId, result: Result<(), String>) {
        match self.pending.remove(&op) {
            Some(Pending::RegisterStore(s)) => self.registered(now, s, result),
            Some(Pending::Nothing) | None => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "storing SIP bindings failed");
                }
            }
            Some(other) => {
                self.pending.insert(op, other);
            }
        }
    }

    /// An event of the call controller for one of our legs.
    pub fn on_calls(&mut self, now: Now, event: FrontEvent) {
        self.front_event(now, event);
    }

    /// Loads the stored bindings at start: live ones become reachable, expired ones are deleted.
    pub fn restore(&mut self, now: Now, bindings: Vec<Binding>) {
        let mut expired = Vec::new();
        for b in bindings {
            if b.expires_at <= now.unix {
                expired.push(StoreChange::Delete(b.id));
            } else {
                self.reachable(&b, true);
                self.bindings.insert(b.id.clone(), b);
            }
        }
        if !expired.is_empty() {
            self.store(Pending::Nothing, expired);
        }
    }

    /// Keeps only the bindings still stored (an endpoint deleted through the API loses its
    /// bindings in the store; this drops them here too). `stored` must come from a store read
    /// ordered after every store change the core asked for before it.
    pub fn retain_bindings(&mut self, stored: &std::collections::HashSet<String>) {
        let gone: Vec<Binding> = self
            .bindings
            .values()
            .filter(|b| !stored.contains(&b.id))
            .cloned()
            .collect();
        for b in gone {
            self.bindings.remove(&b.id);
            self.reachable(&b, false);
            tracing::info!(account = %b.account_id, contact = %b.contact, "SIP registration removed with its endpoint");
        }
    }

    fn op(&mut self, pending: Pending) -> OpId {
        let op = self.next_op;
        self.next_op += 1;
        self.pending.insert(op, pending);
        op
    }

    fn store(&mut self, pending: Pending, changes: Vec<StoreChange>) {
        let op = self.op(pending);
        self.out.push_back(Action::Store { op, changes });
    }

    fn client_tx(&mut self) -> ClientTx {
        let tx = ClientTx(self.next_client);
        self.next_client += 1;
        tx
    }

    fn respond(&mut self, tx: ServerTx, response: Response) {
        self.out.push_back(Action::Respond { tx, response });
    }

    /// A response without a body; final responses outside a dialog get a fresh To tag.
    fn respond_plain(&mut self, tx: ServerTx, req: &Request, status: u16) {
        let resp = crate::msg::response(req, status, Some(&new_tag()));
        self.respond(tx, resp);
    }

    fn command(&mut self, command: Command) {
        self.out.push_back(Action::Calls(command));
    }

    fn options(&mut self, tx: ServerTx, req: &Request) {
        let mut resp = crate::msg::response(req, 200, Some(&new_tag()));
        for (name, value) in [
            ("Allow", crate::msg::ALLOW),
            ("Accept", crate::msg::ACCEPT),
            ("Supported", crate::msg::SUPPORTED),
        ] {
            crate::msg::add(&mut resp, crate::msg::other(name, value));
        }
        self.respond(tx, resp);
    }

    /// Weft's Contact URI for a transport.
    fn contact(&self, transport: Transport) -> String {
        let host = self
            .cfg
            .contacts
            .iter()
            .find(|(t, _)| *t == transport)
            .or_else(|| self.cfg.contacts.first())
            .map_or("127.0.0.1", |(_, h)| h.as_str());
        match transport {
            Transport::Udp => format!("sip:weft@{host}"),
            t => format!("sip:weft@{host};transport={}", t.param()),
        }
    }

    /// The trunk `ip` belongs to, if any.
    fn trunk_of(&self, ip: IpAddr) -> Option<&Trunk> {
        self.cfg
            .trunks
            .iter()
            .find(|t| t.cidrs.iter().any(|c| c.contains(ip)))
    }
}

/// A fresh dialog tag (or id part).
fn new_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}

/// How long a dialog may go without a refresh of its session interval before Weft ends it
/// (RFC 4028 §10: the interval minus a third of it, at most 32 s less).
fn session_grace(interval: u32) -> Duration {
    let interval = u64::from(interval);
    Duration::from_secs(interval - (interval / 3).min(32))
}

#[cfg(test)]
mod tests;
