//! Requests within a dialog, both ways: BYE, re-INVITE and UPDATE (hold, new media, session
//! refreshes), INFO key presses, the ACK and CANCEL of an INVITE, and Weft's own BYEs and
//! refreshes.

use rsipstack::sip::{Header, Method, Request};
use weft_calls::media::RemoteMedia;
use weft_calls::{Cause, Command};

use super::dialog::{Side, State};
use super::inbound::{allows_update, is_held, new_key, reason, rtp_params, uas_sdp};
use super::{Action, Now, ServerTx, SipCore};
use crate::msg::{self, Ids, RequestParts};

/// The digits of an INFO body: `application/dtmf-relay` (`Signal=5`) or `application/dtmf`.
fn info_digits(req: &Request) -> Option<String> {
    let body = std::str::from_utf8(&req.body).ok()?;
    let digits: String = if msg::body_is(req, "application/dtmf-relay") {
        body.lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case("signal"))
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    } else if msg::body_is(req, "application/dtmf") {
        body.trim().to_owned()
    } else {
        return None;
    };
    let digits: String = digits
        .chars()
        .map(|c| match c {
            '1'..='9' | '0' | '*' | '#' => c,
            'a'..='d' => c.to_ascii_uppercase(),
            _ => c,
        })
        .collect();
    let valid = !digits.is_empty()
        && digits.len() <= 16
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D'));
    valid.then_some(digits)
}

impl SipCore {
    /// The dialog of an in-dialog request, after the CSeq check; answers 481/500 otherwise.
    fn dialog_of(&mut self, tx: ServerTx, req: &Request, ids: &Ids) -> Option<String> {
        let leg = ids
            .to_tag
            .as_deref()
            .and_then(|to| self.dialogs.find(&ids.call_id, to, &ids.from_tag));
        let Some(leg) = leg else {
            self.respond_plain(tx, req, 481);
            return None;
        };
        let d = self.dialogs.get_mut(&leg)?;
        if ids.cseq <= d.remote_cseq {
            // RFC 3261 §12.2.2: out of order.
            let resp = msg::response(req, 500, None);
            self.respond(tx, resp);
            return None;
        }
        d.remote_cseq = ids.cseq;
        Some(leg)
    }

    pub(super) fn in_dialog(&mut self, now: Now, tx: ServerTx, req: Request) {
        let Ok(ids) = msg::ids(&req) else {
            return self.respond_plain(tx, &req, 400);
        };
        let Some(leg) = self.dialog_of(tx, &req, &ids) else {
            return;
        };
        match req.method {
            Method::Bye => {
                self.respond(tx, msg::response(&req, 200, None));
                let Some(d) = self.dialogs.remove(&leg) else {
                    return;
                };
                if let (Side::Uas { invite }, Some(invite_req)) = (d.side, d.invite.as_ref()) {
                    let resp = msg::response(invite_req, 487, Some(&d.local_tag));
                    self.respond(invite, resp);
                }
                tracing::info!(call_id = %leg, "SIP BYE from the peer");
                if !d.ended {
                    self.command(Command::Hangup {
                        leg,
                        cause: Cause::NormalClearing,
                    });
                }
            }
            Method::Info => {
                let digits = info_digits(&req);
                let status = match (&digits, req.body.is_empty()) {
                    (Some(_), _) | (None, true) => 200,
                    (None, false) => 415,
                };
                self.respond(tx, msg::response(&req, status, None));
                if let Some(digits) = digits {
                    self.command(Command::Dtmf { leg, digits });
                }
            }
            Method::Update => {
                self.session_refreshed(now, &leg);
                if req.body.is_empty() {
                    let resp = self.refresh_response(&leg, &req);
                    return self.respond(tx, resp);
                }
                self.offer_in_dialog(tx, &leg, &req);
            }
            _ => self.respond_plain(tx, &req, 405),
        }
    }

    /// A re-INVITE: new media, hold or unhold, or a session refresh.
    pub(super) fn reinvite(&mut self, now: Now, tx: ServerTx, req: Request, ids: &Ids, _to: &str) {
        let Some(leg) = self.dialog_of(tx, &req, ids) else {
            return;
        };
        let refreshing = self.dialogs.get(&leg).is_some_and(|d| d.refreshing);
        if refreshing {
            // Glare: our own re-INVITE or UPDATE is outstanding (RFC 3261 §14.2).
            return self.respond(tx, msg::response(&req, 491, None));
        }
        self.dialogs.add_server_tx(tx, &leg);
        self.session_refreshed(now, &leg);
        if let Some(target) = msg::contact_uri(&req)
            && let Some(d) = self.dialogs.get_mut(&leg)
        {
            d.remote_target = Some(target);
            d.peer_allows_update |= allows_update(&req);
        }
        if req.body.is_empty() {
            // No offer: offer Weft's current media in the 200 (the answer comes in the ACK).
            let mut resp = self.refresh_response(&leg, &req);
            if let Some(body) = self.dialogs.get(&leg).and_then(current_sdp) {
                msg::set_sdp(&mut resp.headers, &mut resp.body, body);
            }
            return self.respond(tx, resp);
        }
        self.offer_in_dialog(tx, &leg, &req);
    }

    /// A `200` for a refresh or an offer-less re-INVITE, with Contact and the session timer.
    fn refresh_response(&self, leg: &str, req: &Request) -> rsipstack::sip::Response {
        let mut resp = msg::response(req, 200, None);
        if let Some(d) = self.dialogs.get(leg) {
            let contact = self.contact(d.peer.transport);
            msg::add(&mut resp, Header::Contact(format!("<{contact}>").into()));
            if let Some(t) = d.timer {
                msg::add(&mut resp, super::inbound::timer_header(t));
                msg::add(&mut resp, msg::other("Require", "timer"));
            }
        }
        resp
    }

    /// Answers an offer within a dialog (re-INVITE or UPDATE): the controller learns of new
    /// media and of hold; the peer gets Weft's answer (or 488, the call going on unchanged).
    fn offer_in_dialog(&mut self, tx: ServerTx, leg: &str, req: &Request) {
        let Some(d) = self.dialogs.get(leg) else {
            return;
        };
        let policy = d.media.policy.clone();
        let answer = match self.answer_offer(req, &policy) {
            Ok(answer) => answer,
            Err(status) => return self.respond(tx, msg::response(req, status, None)),
        };
        let Some(d) = self.dialogs.get_mut(leg) else {
            return;
        };
        // Keep our key while the peer keeps its own (a re-INVITE for hold must not rekey).
        let same_remote_key = match (&answer.audio.crypto, &d.media.params) {
            (Some(c), Some(p)) => p.srtp.as_ref().is_some_and(|s| s.remote == c.key_params),
            _ => false,
        };
        let local_key = match &answer.audio.crypto {
            Some(_) if same_remote_key => d.media.local_key.clone(),
            Some(c) => new_key(c.suite),
            None => None,
        };
        if answer.audio.crypto.is_some() && local_key.is_none() {
            return self.respond(tx, msg::response(req, 500, None));
        }
        let params = rtp_params(&answer.audio, local_key.as_deref());
        let held = is_held(&answer.audio);
        let changed = d.media.params.as_ref() != Some(&params);
        let hold_changed = d.media.held != held;
        if changed || hold_changed || d.media.answer.as_ref() != Some(&answer) {
            d.media.version += 1;
        }
        d.media.answer = Some(answer);
        d.media.local_key = local_key;
        d.media.held = held;
        d.media.params = Some(params.clone());
        let Some(body) = uas_sdp(d) else {
            return self.respond(tx, msg::response(req, 500, None));
        };
        let mut resp = self.refresh_response(leg, req);
        msg::set_sdp(&mut resp.headers, &mut resp.body, body);
        self.respond(tx, resp);
        if changed {
            self.command(Command::UpdateMedia {
                leg: leg.to_owned(),
                media: RemoteMedia::Rtp(params),
                req: None,
            });
        }
        if hold_changed {
            tracing::info!(call_id = leg, held, "SIP hold changed");
            self.command(Command::Hold {
                leg: leg.to_owned(),
                held,
                req: None,
            });
        }
    }

    /// The ACK of an INVITE we answered.
    pub(super) fn acked(&mut self, _now: Now, tx: ServerTx, _req: &Request) {
        let Some(leg) = self.dialogs.by_server_tx(tx) else {
            return;
        };
        self.dialogs.forget_server_tx(tx);
        let Some(d) = self.dialogs.get_mut(&leg) else {
            return;
        };
        if d.state == State::Answered {
            d.state = State::Confirmed;
        }
        if d.bye_when_acked {
            self.send_bye(&leg, Cause::NormalClearing);
        }
    }

    /// The peer cancelled its INVITE before the answer (the stack already said 200 to it).
    pub(super) fn cancelled(&mut self, tx: ServerTx) {
        let Some(leg) = self.dialogs.by_server_tx(tx) else {
            return;
        };
        let Some(d) = self.dialogs.get(&leg) else {
            return;
        };
        let (Side::Uas { invite }, State::Early) = (d.side, d.state) else {
            return;
        };
        if invite != tx {
            return;
        }
        let Some(d) = self.dialogs.remove(&leg) else {
            return;
        };
        if let Some(req) = &d.invite {
            let resp = msg::response(req, 487, Some(&d.local_tag));
            self.respond(tx, resp);
        }
        tracing::info!(call_id = %leg, "SIP CANCEL from the caller");
        if !d.ended {
            self.command(Command::Hangup {
                leg,
                cause: Cause::OriginatorCancel,
            });
        }
    }

    /// A server transaction ended; an answered INVITE that never got its ACK ends the call.
    pub(super) fn server_tx_ended(&mut self, tx: ServerTx) {
        let Some(leg) = self.dialogs.by_server_tx(tx) else {
            return;
        };
        self.dialogs.forget_server_tx(tx);
        let unacked = self.dialogs.get(&leg).is_some_and(|d| {
            d.state == State::Answered && matches!(d.side, Side::Uas { invite } if invite == tx)
        });
        if unacked {
            tracing::info!(call_id = %leg, "SIP call ended: no ACK for the 200");
            let ended = self.dialogs.get(&leg).is_some_and(|d| d.ended);
            if !ended {
                self.command(Command::Hangup {
                    leg: leg.clone(),
                    cause: Cause::NormalTemporaryFailure,
                });
            }
            self.send_bye(&leg, Cause::NormalTemporaryFailure);
        }
    }

    /// A request within the dialog of `leg`, from Weft, with the next CSeq.
    pub(super) fn dialog_request(
        &mut self,
        leg: &str,
        method: Method,
    ) -> Option<(Request, crate::account::Peer)> {
        let d = self.dialogs.get_mut(leg)?;
        let uri = d.remote_target.clone()?;
        d.local_cseq += 1;
        let transport =
            matches!(method, Method::Invite | Method::Update).then_some(d.peer.transport);
        let mut parts = RequestParts {
            method,
            uri,
            from: d.local_uri.clone(),
            to: d.remote_uri.clone(),
            call_id: d.call_id.clone(),
            cseq: d.local_cseq,
            contact: None,
            route: d.route.clone(),
        };
        let peer = d.peer;
        parts.contact = transport.map(|t| self.contact(t));
        Some((msg::request(parts), peer))
    }

    /// Ends the dialog of `leg` with a BYE (the dialog is forgotten; the BYE's answer is not
    /// needed).
    pub(super) fn send_bye(&mut self, leg: &str, cause: Cause) {
        if let Some((mut request, to)) = self.dialog_request(leg, Method::Bye) {
            request.headers.push(reason(cause));
            let tx = self.client_tx();
            self.out.push_back(Action::Send { tx, request, to });
            tracing::info!(call_id = leg, cause = cause.name(), "SIP BYE sent");
        }
        self.dialogs.remove(leg);
    }

    /// Refreshes the session: UPDATE without a body where the peer allows it, else a re-INVITE
    /// with Weft's current SDP.
    pub(super) fn send_refresh(&mut self, leg: &str) {
        let Some(d) = self.dialogs.get(leg) else {
            return;
        };
        if d.refreshing || d.state != State::Confirmed {
            return;
        }
        let method = if d.peer_allows_update {
            Method::Update
        } else {
            Method::Invite
        };
        let body = (method == Method::Invite).then(|| current_sdp(d)).flatten();
        let Some((mut request, to)) = self.dialog_request(leg, method) else {
            return;
        };
        if let Some(t) = self.dialogs.get(leg).and_then(|d| d.timer) {
            request.headers.push(msg::other(
                "Session-Expires",
                // Weft sends this request, so it is the request's UAC.
                format!("{};refresher=uac", t.interval),
            ));
        }
        if let Some(body) = body {
            msg::set_sdp(&mut request.headers, &mut request.body, body);
        }
        let tx = self.client_tx();
        self.dialogs.add_client_tx(tx, leg, method);
        if let Some(d) = self.dialogs.get_mut(leg) {
            d.refreshing = true;
        }
        self.out.push_back(Action::Send { tx, request, to });
    }
}

/// Weft's current SDP for a dialog: its answer (after the peer's last offer) or its own offer.
fn current_sdp(d: &super::dialog::Dialog) -> Option<String> {
    if d.media.answer.is_some() {
        return uas_sdp(d);
    }
    let mut offer = d.media.offer.clone()?;
    offer.session_version = d.media.version;
    crate::sdp::build_offer(&offer).ok()
}
