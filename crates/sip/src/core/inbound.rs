//! Calls into Weft: an INVITE from an authenticated account or a trusted trunk becomes a leg
//! dialling `/public/<user>` in that project; the controller's events answer or refuse it.

use std::net::SocketAddr;

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Request};
use weft_calls::media::{LocalMedia, RemoteMedia, RtpCodec, RtpParams, SdesKeys};
use weft_calls::{Cause, Command, Dial, EndpointId, Party};
use weft_core::Address;

use super::dialog::{Dialog, Media, Side, State};
use super::registrar::Authenticated;
use super::{Now, Pending, SIP, ServerTx, SipCore, Trunk, new_tag};
use crate::account::{Account, MediaPolicy, Peer};
use crate::causes::status_for;
use crate::digest::{Credentials, parse_credentials};
use crate::msg;
use crate::sdp::{self, AudioAnswer, Codec, NegotiatedAudio};

/// An INVITE waiting for its account.
pub(super) struct Waiting {
    tx: ServerTx,
    req: Request,
    peer: Peer,
    credentials: Credentials,
}

/// Who is calling in.
enum Caller {
    Account(Account),
    Trunk(Trunk),
}

/// The controller's codec for an SDP codec.
pub(super) fn rtp_codec(codec: Codec) -> RtpCodec {
    match codec {
        Codec::Pcmu => RtpCodec::Pcmu,
        Codec::Pcma => RtpCodec::Pcma,
        Codec::Opus => RtpCodec::Opus,
    }
}

/// Where the peer receives RTP, unless it gave no usable address (hold with `0.0.0.0`).
fn usable(addr: SocketAddr) -> Option<SocketAddr> {
    (!addr.ip().is_unspecified() && addr.port() != 0).then_some(addr)
}

/// The media parameters the controller needs for a negotiated stream.
pub(super) fn rtp_params(audio: &NegotiatedAudio, local_key: Option<&str>) -> RtpParams {
    let srtp = audio
        .crypto
        .as_ref()
        .zip(local_key)
        .map(|(c, local)| SdesKeys {
            suite: c.suite.name().to_owned(),
            local: local.to_owned(),
            remote: c.key_params.clone(),
        });
    RtpParams {
        codec: rtp_codec(audio.codec),
        payload_type: audio.payload_type,
        telephone_event: audio.telephone_event_pt,
        remote: usable(audio.remote_rtp),
        srtp,
    }
}

/// A fresh SDES key for `suite`, as `inline:…`.
pub(super) fn new_key(suite: crate::sdp::CryptoSuite) -> Option<String> {
    let profile = weft_srtp::Profile::from_sdes_name(suite.name())?;
    weft_srtp::MasterKey::random(profile)
        .ok()
        .map(|k| k.to_sdes_inline())
}

impl SipCore {
    pub(super) fn invite(&mut self, now: Now, tx: ServerTx, req: Request, peer: Peer) {
        let Ok(ids) = msg::ids(&req) else {
            return self.respond_plain(tx, &req, 400);
        };
        if let Some(to_tag) = ids.to_tag.clone() {
            return self.reinvite(now, tx, req, &ids, &to_tag);
        }
        if let Some(trunk) = self.trunk_of(peer.addr.ip()).cloned() {
            return self.start_inbound(now, tx, req, peer, Caller::Trunk(trunk));
        }
        let Some(auth) = msg::header(&req, "Proxy-Authorization") else {
            return self.challenge(now, tx, &req, false, 407);
        };
        let Ok(credentials) = parse_credentials(&auth) else {
            return self.respond_plain(tx, &req, 400);
        };
        let username = credentials.username.clone();
        let op = self.op(Pending::InviteAccount(Waiting {
            tx,
            req,
            peer,
            credentials,
        }));
        self.out.push_back(super::Action::Accounts { op, username });
    }

    pub(super) fn invite_with(
        &mut self,
        now: Now,
        w: Waiting,
        accounts: Result<Vec<Account>, String>,
    ) {
        let Waiting {
            tx,
            req,
            peer,
            credentials,
        } = w;
        match self.authenticate(now, "INVITE", &credentials, accounts) {
            Authenticated::As(account) => {
                self.start_inbound(now, tx, req, peer, Caller::Account(*account))
            }
            Authenticated::Stale => self.challenge(now, tx, &req, true, 407),
            Authenticated::Failed => self.auth_failed(now, tx, &req, peer, &credentials.username),
            Authenticated::StoreDown => self.respond_plain(tx, &req, 500),
        }
    }

    fn start_inbound(&mut self, now: Now, tx: ServerTx, req: Request, peer: Peer, caller: Caller) {
        let Ok(ids) = msg::ids(&req) else {
            return self.respond_plain(tx, &req, 400);
        };
        let (display, from_uri) = msg::from_identity(&req);
        let from_user = from_uri.as_ref().and_then(msg::user_of);
        let (count_key, cap, policy, party, project) = match &caller {
            Caller::Account(a) => (
                a.id.clone(),
                self.cfg.max_calls_per_account,
                a.media.clone(),
                Party {
                    project_id: a.project_id.clone(),
                    subject_id: a.id.clone(),
                    subscriber_id: a.subscriber_id.clone(),
                    name: display.clone().unwrap_or_else(|| a.display_name.clone()),
                    number: from_user.clone().unwrap_or_else(|| a.username.clone()),
                    access: weft_calls::directory::Access::Any,
                    moderator: a.subscriber_id.is_some(),
                },
                a.project_id.clone(),
            ),
            Caller::Trunk(t) => {
                let number = from_user.clone().unwrap_or_else(|| "anonymous".into());
                (
                    format!("trunk:{}", t.name),
                    t.max_calls,
                    t.media.clone(),
                    Party {
                        project_id: t.project_id.clone(),
                        subject_id: format!("trunk:{}", t.name),
                        subscriber_id: None,
                        name: display.clone().unwrap_or_else(|| number.clone()),
                        number,
                        access: weft_calls::directory::Access::Any,
                        moderator: false,
                    },
                    t.project_id.clone(),
                )
            }
        };
        if self.dialogs.count_for(&count_key) >= cap {
            tracing::info!(caller = %count_key, "SIP call refused: too many calls");
            return self.respond_plain(tx, &req, 503);
        }
        let address =
            msg::user_of(&req.uri).and_then(|user| Address::parse(&format!("/public/{user}")).ok());
        let Some(address) = address else {
            return self.respond_plain(tx, &req, 404);
        };
        let timer = match self.requested_timer(now, &req) {
            Ok(timer) => timer,
            Err(resp) => return self.respond(tx, *resp),
        };
        let Some(remote_target) = msg::contact_uri(&req) else {
            return self.respond_plain(tx, &req, 400);
        };
        let answer = match self.answer_offer(&req, &policy) {
            Ok(answer) => answer,
            Err(status) => return self.respond_plain(tx, &req, status),
        };
        let local_key = match &answer.audio.crypto {
            Some(c) => match new_key(c.suite) {
                Some(key) => Some(key),
                None => return self.respond_plain(tx, &req, 500),
            },
            None => None,
        };
        let params = rtp_params(&answer.audio, local_key.as_deref());
        let held = is_held(&answer.audio);
        let peer_allows_update = allows_update(&req);
        let leg = uuid::Uuid::new_v4().to_string();
        let local_tag = new_tag();
        let to_value = req
            .to_header()
            .map(|t| t.value().to_owned())
            .unwrap_or_default();
        let from_value = req
            .from_header()
            .map(|f| f.value().to_owned())
            .unwrap_or_default();
        let origin = self
            .bindings
            .values()
            .find(|b| b.account_id == count_key && b.peer == peer)
            .map(|b| EndpointId {
                front: SIP,
                key: b.id.clone(),
            });
        self.dialogs.insert(Dialog {
            leg: leg.clone(),
            side: Side::Uas { invite: tx },
            state: State::Early,
            call_id: ids.call_id.clone(),
            local_tag: local_tag.clone(),
            remote_tag: Some(ids.from_tag.clone()),
            local_uri: format!("{to_value};tag={local_tag}"),
            remote_uri: from_value,
            remote_target: Some(remote_target),
            route: record_route(&req),
            local_cseq: 1,
            remote_cseq: ids.cseq,
            peer,
            account: Some(count_key),
            media: Media {
                local: None,
                session_id: rand_session_id(),
                version: 1,
                answer: Some(answer),
                local_key,
                offer: None,
                policy,
                params: Some(params.clone()),
                held,
            },
            timer,
            bye_when_acked: false,
            ended: false,
            refreshing: false,
            invite: Some(req.clone()),
            peer_allows_update,
        });
        self.respond(tx, msg::response(&req, 100, None));
        tracing::info!(call_id = %leg, sip_call_id = %ids.call_id, project = %project,
            to = %address.path(), from = %party.number, "SIP call in");
        self.command(Command::Dial(Box::new(Dial {
            leg,
            front: SIP,
            origin,
            caller: party,
            to: address,
            media: RemoteMedia::Rtp(params),
            video: false,
            attach: false,
            share_of: None,
        })));
    }

    /// Negotiates the audio of an offer under `policy`; the status to refuse it with otherwise.
    pub(super) fn answer_offer(
        &self,
        req: &Request,
        policy: &MediaPolicy,
    ) -> Result<AudioAnswer, u16> {
        if req.body.is_empty() || !msg::body_is(req, "application/sdp") {
            // Weft needs the caller's offer: a delayed offer is not supported.
            return Err(488);
        }
        let text = std::str::from_utf8(&req.body).map_err(|_| 400u16)?;
        let offer = sdp::parse(text).map_err(|_| 400u16)?;
        sdp::negotiate_answer(&offer, &policy.answering()).map_err(|e| {
            tracing::info!(error = %e, "SIP offer refused");
            488u16
        })
    }

    /// The controller's answer for a leg the peer called: `200` with Weft's SDP.
    pub(super) fn uas_answered(&mut self, leg: &str, local: Option<LocalMedia>) {
        let Some(transport) = self.dialogs.get(leg).map(|d| d.peer.transport) else {
            return;
        };
        let contact = self.contact(transport);
        let Some(d) = self.dialogs.get_mut(leg) else {
            return;
        };
        if let Some(LocalMedia::Rtp(addr)) = local {
            d.media.local = Some(addr);
        }
        let (Side::Uas { invite }, Some(req)) = (d.side, d.invite.take()) else {
            return;
        };
        let Some(body) = uas_sdp(d) else {
            tracing::warn!(call_id = leg, "no media for an answered SIP leg");
            d.invite = Some(req);
            return self.end_uas(leg, Cause::NormalTemporaryFailure);
        };
        d.state = State::Answered;
        let held = d.media.held;
        let timer = d.timer;
        let tag = d.local_tag.clone();
        let mut resp = msg::response(&req, 200, Some(&tag));
        for h in [
            Header::Contact(format!("<{contact}>").into()),
            msg::other("Allow", msg::ALLOW),
            msg::other("Supported", msg::SUPPORTED),
        ] {
            msg::add(&mut resp, h);
        }
        if let Some(t) = timer {
            msg::add(&mut resp, timer_header(t));
            msg::add(&mut resp, msg::other("Require", "timer"));
        }
        msg::set_sdp(&mut resp.headers, &mut resp.body, body);
        self.respond(invite, resp);
        if held {
            self.command(Command::Hold {
                leg: leg.to_owned(),
                held: true,
                req: None,
            });
        }
    }

    /// The controller has early media for a leg the peer called: `180 Ringing`.
    pub(super) fn uas_ringing(&mut self, leg: &str, local: LocalMedia) {
        let Some(transport) = self.dialogs.get(leg).map(|d| d.peer.transport) else {
            return;
        };
        let contact = self.contact(transport);
        let Some(d) = self.dialogs.get_mut(leg) else {
            return;
        };
        if let LocalMedia::Rtp(addr) = local {
            d.media.local = Some(addr);
        }
        let (Side::Uas { invite }, Some(req)) = (d.side, d.invite.as_ref()) else {
            return;
        };
        if d.state != State::Early {
            return;
        }
        let mut resp = msg::response(req, 180, Some(&d.local_tag));
        msg::add(&mut resp, Header::Contact(format!("<{contact}>").into()));
        self.respond(invite, resp);
    }

    /// Ends a leg the peer called: a final failure before the answer, a BYE after it.
    pub(super) fn end_uas(&mut self, leg: &str, cause: Cause) {
        let Some(d) = self.dialogs.get_mut(leg) else {
            return;
        };
        d.ended = true;
        match (d.state, d.side) {
            (State::Early, Side::Uas { invite }) => {
                let Some(req) = d.invite.take() else {
                    self.dialogs.remove(leg);
                    return;
                };
                let status = status_for(cause);
                let mut resp = msg::response(&req, status, Some(&d.local_tag));
                msg::add(&mut resp, reason(cause));
                self.dialogs.remove(leg);
                self.respond(invite, resp);
            }
            (State::Answered, _) => d.bye_when_acked = true,
            _ => self.send_bye(leg, cause),
        }
    }
}

/// Weft's SDP for a leg the peer called (its answer with the engine's address).
pub(super) fn uas_sdp(d: &Dialog) -> Option<String> {
    let local = d.media.local?;
    let answer = d.media.answer.as_ref()?;
    sdp::build_answer(
        answer,
        sdp::LocalMedia {
            address: local.ip(),
            rtp_port: local.port(),
            session_id: d.media.session_id,
            session_version: d.media.version,
            srtp_key_params: d.media.local_key.clone(),
        },
    )
    .ok()
}

/// The request's `Record-Route` values, in order (a UAS's route set).
pub(super) fn record_route(msg: &impl HeadersExt) -> Vec<String> {
    msg.record_route_headers()
        .into_iter()
        .flat_map(|h| h.value().split(',').map(|v| v.trim().to_owned()))
        .filter(|v| !v.is_empty())
        .collect()
}

/// A `Reason` header carrying the Q.850 cause (RFC 3326).
pub(super) fn reason(cause: Cause) -> Header {
    msg::other(
        "Reason",
        format!("Q.850;cause={};text=\"{}\"", cause.code(), cause.name()),
    )
}

/// The `Session-Expires` header of a negotiated timer.
pub(super) fn timer_header(t: super::dialog::SessionTimer) -> Header {
    let refresher = match t.refresher {
        super::dialog::Refresher::Us => "uas",
        super::dialog::Refresher::Them => "uac",
    };
    msg::other(
        "Session-Expires",
        format!("{};refresher={refresher}", t.interval),
    )
}

/// Whether the peer put the stream on hold: it sends only, or nothing (Weft then receives only,
/// or nothing).
pub(super) fn is_held(audio: &NegotiatedAudio) -> bool {
    matches!(
        audio.direction,
        sdp::Direction::RecvOnly | sdp::Direction::Inactive
    )
}

/// Whether a message's `Allow` lists UPDATE.
pub(super) fn allows_update(msg: &impl HeadersExt) -> bool {
    msg.header_value("Allow").is_some_and(|a| {
        a.split(',')
            .any(|m| m.trim().eq_ignore_ascii_case("UPDATE"))
    })
}

/// A random `o=` session id.
pub(super) fn rand_session_id() -> u64 {
    u64::from(uuid::Uuid::new_v4().as_fields().0)
}
