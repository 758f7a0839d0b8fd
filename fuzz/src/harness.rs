//! A [`SipCore`] in a small world: a store and a call controller that answer its actions at
//! once, a registered phone to ring, and a clock to move.

use std::time::Duration;

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Method, Request, Response};
use weft_calls::media::LocalMedia;
use weft_calls::{Cause, Command, FrontEvent, Ring};
use weft_sip::account::{Binding, EncryptionSetting, MediaPolicy};
use weft_sip::core::{Action, ClientTx, Now, ServerTx, SipCore};

use crate::fixtures;

/// A [`SipCore`] with a store that always finds the fixture accounts and always stores, and a
/// call controller that connects every call the core places and ends them when told to.
pub struct Harness {
    core: SipCore,
    now: Now,
    next_tx: u64,
    /// Responses the core sent, by server transaction.
    pub responses: Vec<(ServerTx, Response)>,
    /// Requests the core sent, by client transaction.
    pub sent: Vec<(ClientTx, Request)>,
    /// INVITEs the core cancelled.
    pub cancelled: Vec<ClientTx>,
    /// Commands the core gave the call controller.
    pub commands: Vec<Command>,
    /// Calls the core dialled into the controller (inbound legs) and not connected yet.
    dialled: Vec<String>,
    /// Legs the controller ends in [`Harness::end_calls`]: calls in it connected, calls out it
    /// rang.
    live: Vec<String>,
}

impl Harness {
    /// A core with the default configuration, plus the trusted trunk when `trunk` is set.
    pub fn new(trunk: bool) -> Self {
        Self {
            core: SipCore::new(fixtures::config(trunk)),
            now: fixtures::now(),
            next_tx: 1,
            responses: Vec::new(),
            sent: Vec::new(),
            cancelled: Vec::new(),
            commands: Vec::new(),
            dialled: Vec::new(),
            live: Vec::new(),
        }
    }

    /// A new request from `from` (one of the fixture peers); returns its server transaction.
    pub fn request(&mut self, req: Request, from: &str) -> ServerTx {
        let tx = ServerTx(self.next_tx);
        self.next_tx += 1;
        self.core
            .on_request(self.now, tx, req, fixtures::peer(from));
        self.pump();
        tx
    }

    /// An ACK or CANCEL on the INVITE server transaction `tx`.
    pub fn tx_message(&mut self, tx: ServerTx, req: Request) {
        self.core.on_tx_message(self.now, tx, req);
        self.pump();
    }

    /// A response on the client transaction `tx`.
    pub fn response(&mut self, tx: ClientTx, resp: Response) {
        self.core.on_response(self.now, tx, resp);
        self.pump();
    }

    /// Makes bindings for the fixture phone, one per SRTP setting, and rings each as the
    /// controller would; returns the INVITE transactions.
    pub fn ring_phones(&mut self, settings: &[EncryptionSetting]) -> Vec<ClientTx> {
        let bindings = settings
            .iter()
            .enumerate()
            .map(|(n, &encryption)| phone_binding(n, encryption))
            .collect::<Vec<_>>();
        let ids: Vec<String> = bindings.iter().map(|b| b.id.clone()).collect();
        self.core.restore(self.now, bindings);
        self.pump();
        let before = self.sent.len();
        for (n, endpoint) in ids.into_iter().enumerate() {
            let leg = format!("out-{n}");
            self.live.push(leg.clone());
            self.event(FrontEvent::Ring(Box::new(Ring {
                leg,
                project_id: "project".into(),
                endpoint,
                media: LocalMedia::Rtp(fixtures::socket(fixtures::ENGINE)),
                caller: ("Bob \"B\"".into(), "/private/bob".into()),
                callee: ("ALICE".into(), "/public/alice".into()),
                video: false,
            })));
        }
        self.sent[before..].iter().map(|(tx, _)| *tx).collect()
    }

    /// Connects every call the core dialled and has not connected yet: early media, then the
    /// answer (the core's 180 and 200 with its SDP).
    pub fn connect_calls(&mut self) {
        for leg in std::mem::take(&mut self.dialled) {
            let media = LocalMedia::Rtp(fixtures::socket(fixtures::ENGINE));
            self.event(FrontEvent::EarlyMedia {
                leg: leg.clone(),
                media: media.clone(),
            });
            self.event(FrontEvent::Answered {
                leg: leg.clone(),
                media: Some(media),
            });
            self.live.push(leg);
        }
    }

    /// Acknowledges every 2xx the core sent to an INVITE (with `ack` as the ACK).
    pub fn acknowledge(&mut self, ack: &Request) {
        let answered: Vec<ServerTx> = self
            .responses
            .iter()
            .filter(|(_, r)| (200..300).contains(&r.status_code.code()))
            .filter(|(_, r)| {
                r.cseq_header()
                    .ok()
                    .and_then(|c| c.method().ok())
                    .is_some_and(|m| m == Method::Invite)
            })
            .map(|(tx, _)| *tx)
            .collect();
        for tx in answered {
            self.tx_message(tx, ack.clone());
        }
    }

    /// Ends every server transaction the core was given (for an answered INVITE: its ACK never
    /// came).
    pub fn end_transactions(&mut self) {
        for tx in 1..self.next_tx {
            self.core.on_tx_ended(ServerTx(tx));
            self.pump();
        }
    }

    /// Lets `secs` pass: bindings expire, session timers refresh or end calls.
    pub fn advance(&mut self, secs: u64) {
        self.now.mono += Duration::from_secs(secs);
        self.now.unix += secs;
        self.core.on_tick(self.now);
        self.pump();
    }

    /// The controller ends every leg it knows (BYEs, CANCELs and final responses follow).
    pub fn end_calls(&mut self) {
        let legs: Vec<String> = self.live.drain(..).chain(self.dialled.drain(..)).collect();
        for leg in legs {
            self.event(FrontEvent::Ended {
                leg,
                cause: Cause::NormalClearing,
                was_active: true,
            });
        }
    }

    /// The To tag of the first final response sent on `tx`.
    pub fn to_tag(&self, tx: ServerTx) -> Option<String> {
        self.responses
            .iter()
            .filter(|(t, r)| *t == tx && r.status_code.code() >= 200)
            .find_map(|(_, r)| r.to_header().ok()?.tag().ok()?.map(|t| t.to_string()))
    }

    fn event(&mut self, event: FrontEvent) {
        self.core.on_calls(self.now, event);
        self.pump();
    }

    /// Answers the store's and the controller's work at once; keeps what went out, written
    /// as the shell's stack writes it.
    fn pump(&mut self) {
        while let Some(action) = self.core.poll_action() {
            match action {
                Action::Accounts { op, username } => {
                    let found = fixtures::accounts(&username);
                    self.core.on_accounts(self.now, op, Ok(found));
                }
                Action::Store { op, .. } => self.core.on_stored(self.now, op, Ok(())),
                Action::Respond { tx, response } => {
                    std::hint::black_box(response.to_bytes());
                    self.responses.push((tx, response));
                }
                Action::Send { tx, request, .. } => {
                    std::hint::black_box(request.to_bytes());
                    self.sent.push((tx, request));
                }
                Action::Calls(command) => {
                    if let Command::Dial(dial) = &command {
                        self.dialled.push(dial.leg.clone());
                    }
                    self.commands.push(command);
                }
                Action::Cancel { tx } => self.cancelled.push(tx),
                Action::Block { .. } => {}
            }
        }
    }
}

/// A binding of the fixture phone with the given SRTP setting.
fn phone_binding(n: usize, encryption: EncryptionSetting) -> Binding {
    Binding {
        id: format!("binding-{n}"),
        account_id: "endpoint-alice".into(),
        username: "alice".into(),
        project_id: "project".into(),
        resource_id: "resource-alice".into(),
        subscriber_id: None,
        display_name: "ALICE".into(),
        contact: format!("sip:alice@{};transport=udp", fixtures::PHONE),
        peer: fixtures::peer(fixtures::PHONE),
        expires_at: fixtures::NOW_UNIX + 3600,
        call_id: format!("registration-{n}"),
        cseq: 1,
        media: MediaPolicy {
            codecs: Vec::new(),
            encryption,
        },
    }
}
