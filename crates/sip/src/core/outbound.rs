//! Calls out of Weft: the controller rings a registered contact, Weft sends it an INVITE with
//! its offer, and the phone's answer (or refusal) goes back to the controller.

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Method, Response, Uri};
use weft_calls::media::{LocalMedia, RemoteMedia};
use weft_calls::{Cause, Command, Ring};

use super::dialog::{Dialog, Media, Side, State};
use super::inbound::{allows_update, new_key, rand_session_id, record_route, rtp_params};
use super::{Action, ClientTx, Now, SipCore, new_tag};
use crate::causes::cause_of_status;
use crate::msg::{self, RequestParts};
use crate::sdp::{self, CryptoSuite, Direction, Encryption, LocalCrypto, OfferSpec};

/// A caller-id user part safe in a SIP URI: `/private/<id>` becomes `<id>`.
fn uri_user(number: &str) -> String {
    let last = number.rsplit('/').next().unwrap_or(number);
    let user: String = last
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
        .take(64)
        .collect();
    if user.is_empty() {
        "anonymous".into()
    } else {
        user
    }
}

/// A display name as a quoted string.
fn quoted(name: &str) -> String {
    let inner: String = name
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .take(64)
        .collect();
    format!("\"{inner}\"")
}

impl SipCore {
    /// Rings a registered contact for the controller.
    pub(super) fn ring(&mut self, _now: super::Now, ring: Ring) {
        let leg = ring.leg.clone();
        let refuse = |core: &mut Self, cause: Cause| {
            core.command(Command::Hangup {
                leg: leg.clone(),
                cause,
            });
        };
        let Some(binding) = self.bindings.get(&ring.endpoint).cloned() else {
            return refuse(self, Cause::UserNotRegistered);
        };
        let LocalMedia::Rtp(local) = ring.media else {
            return refuse(self, Cause::NormalTemporaryFailure);
        };
        let Ok(uri) = Uri::try_from(binding.contact.as_str()) else {
            return refuse(self, Cause::UserNotRegistered);
        };
        let policy = binding.media.clone();
        let encryption = policy.encryption.offering();
        let mut crypto = Vec::new();
        if encryption != Encryption::Forbidden {
            for (tag, suite) in [
                (1, CryptoSuite::AesCm128HmacSha1_80),
                (2, CryptoSuite::AeadAes128Gcm),
            ] {
                let Some(key_params) = new_key(suite) else {
                    return refuse(self, Cause::NormalTemporaryFailure);
                };
                crypto.push(LocalCrypto {
                    tag,
                    suite,
                    key_params,
                });
            }
        }
        let session_id = rand_session_id();
        let offer = OfferSpec {
            address: local.ip(),
            rtp_port: local.port(),
            session_id,
            session_version: 1,
            codecs: policy.codecs(),
            encryption,
            crypto,
            direction: Direction::SendRecv,
            rtcp_mux: false,
        };
        let Ok(body) = sdp::build_offer(&offer) else {
            return refuse(self, Cause::NormalTemporaryFailure);
        };
        let local_tag = new_tag();
        let domain = self.cfg.domain.clone();
        let from = format!(
            "{} <sip:{}@{domain}>;tag={local_tag}",
            quoted(&ring.caller.0),
            uri_user(&ring.caller.1)
        );
        let to = format!("<sip:{}@{domain}>", binding.username);
        let call_id = format!("{}@{domain}", uuid::Uuid::new_v4().simple());
        let mut request = msg::request(RequestParts {
            method: Method::Invite,
            uri: uri.clone(),
            from: from.clone(),
            to: to.clone(),
            call_id: call_id.clone(),
            cseq: 1,
            contact: Some(self.contact(binding.peer.transport)),
            route: Vec::new(),
        });
        for (name, value) in [
            ("Allow", msg::ALLOW.to_owned()),
            ("Supported", msg::SUPPORTED.to_owned()),
            ("Session-Expires", self.cfg.session_expires.to_string()),
        ] {
            request.headers.push(msg::other(name, value));
        }
        msg::set_sdp(&mut request.headers, &mut request.body, body);
        let tx = self.client_tx();
        self.dialogs.insert(Dialog {
            leg: leg.clone(),
            side: Side::Uac { invite: tx },
            state: State::Early,
            call_id: call_id.clone(),
            local_tag,
            remote_tag: None,
            local_uri: from,
            remote_uri: to,
            remote_target: Some(uri),
            route: Vec::new(),
            local_cseq: 1,
            remote_cseq: 0,
            peer: binding.peer,
            account: Some(binding.account_id.clone()),
            media: Media {
                local: Some(local),
                session_id,
                version: 1,
                answer: None,
                local_key: None,
                offer: Some(offer),
                policy,
                params: None,
                held: false,
            },
            timer: None,
            bye_when_acked: false,
            ended: false,
            refreshing: false,
            invite: None,
            peer_allows_update: false,
        });
        tracing::info!(call_id = %leg, sip_call_id = %call_id, contact = %binding.contact,
            "SIP call out");
        self.out.push_back(Action::Send {
            tx,
            request,
            to: binding.peer,
        });
    }

    /// A response on one of Weft's client transactions.
    pub(super) fn response(&mut self, now: Now, tx: ClientTx, resp: Response) {
        let Some((leg, method)) = self.dialogs.by_client_tx(tx) else {
            return;
        };
        let status = resp.status_code.code();
        let initial = self
            .dialogs
            .get(&leg)
            .is_some_and(|d| matches!(d.side, Side::Uac { invite } if invite == tx));
        if method == Method::Invite && initial {
            return self.invite_response(now, tx, &leg, resp);
        }
        if status < 200 {
            return;
        }
        self.dialogs.forget_client_tx(tx);
        if let Some(d) = self.dialogs.get_mut(&leg) {
            d.refreshing = false;
        }
        if matches!(status, 408 | 481) && method != Method::Bye {
            // The peer lost the dialog.
            tracing::info!(call_id = %leg, status, "SIP dialog lost on refresh");
            let ended = self.dialogs.remove(&leg).is_some_and(|d| d.ended);
            if !ended {
                self.command(Command::Hangup {
                    leg,
                    cause: Cause::NormalTemporaryFailure,
                });
            }
        }
    }

    fn invite_response(&mut self, now: Now, tx: ClientTx, leg: &str, resp: Response) {
        let status = resp.status_code.code();
        if status < 200 {
            return;
        }
        self.dialogs.forget_client_tx(tx);
        if status >= 300 {
            let Some(d) = self.dialogs.remove(leg) else {
                return;
            };
            tracing::info!(call_id = leg, status, "SIP call out refused");
            if !d.ended {
                self.command(Command::Hangup {
                    leg: leg.to_owned(),
                    cause: cause_of_status(status),
                });
            }
            return;
        }
        let tag = resp
            .to_header()
            .ok()
            .and_then(|t| t.tag().ok().flatten())
            .map(|t| t.to_string())
            .unwrap_or_else(new_tag);
        self.dialogs.set_remote_tag(leg, tag.clone());
        let timer = self.answered_timer(now, &resp);
        let Some(d) = self.dialogs.get_mut(leg) else {
            return;
        };
        d.state = State::Confirmed;
        d.remote_uri = format!("{};tag={tag}", d.remote_uri);
        if let Some(target) = msg::contact_uri(&resp) {
            d.remote_target = Some(target);
        }
        let mut route = record_route(&resp);
        route.reverse();
        d.route = route;
        d.peer_allows_update = allows_update(&resp);
        d.timer = timer;
        if d.ended {
            // The controller ended the leg while the answer was on its way.
            return self.send_bye(leg, Cause::OriginatorCancel);
        }
        let audio = match (std::str::from_utf8(&resp.body), d.media.offer.as_ref()) {
            (Ok(text), Some(offer)) => sdp::parse_answer(text, offer),
            _ => Err(sdp::AnswerError::NotAudio),
        };
        let audio = match audio {
            Ok(audio) => audio,
            Err(e) => {
                tracing::info!(call_id = leg, error = %e, "SIP answer refused");
                self.command(Command::Hangup {
                    leg: leg.to_owned(),
                    cause: Cause::IncompatibleDestination,
                });
                return self.send_bye(leg, Cause::IncompatibleDestination);
            }
        };
        let local_key = audio.crypto.as_ref().and_then(|c| {
            d.media
                .offer
                .as_ref()?
                .crypto
                .iter()
                .find(|l| l.tag == c.tag)
                .map(|l| l.key_params.clone())
        });
        let params = rtp_params(&audio, local_key.as_deref());
        d.media.local_key = local_key;
        d.media.params = Some(params.clone());
        tracing::info!(call_id = leg, codec = ?params.codec, srtp = params.srtp.is_some(),
            "SIP call out answered");
        self.command(Command::Answer {
            leg: leg.to_owned(),
            media: RemoteMedia::Rtp(params),
        });
    }

    /// Ends a leg Weft called: CANCEL before the answer, BYE after it.
    pub(super) fn end_uac(&mut self, leg: &str, cause: Cause) {
        let Some(d) = self.dialogs.get_mut(leg) else {
            return;
        };
        d.ended = true;
        match (d.state, d.side) {
            (State::Early, Side::Uac { invite }) => {
                tracing::info!(
                    call_id = leg,
                    cause = cause.name(),
                    "SIP call out cancelled"
                );
                self.out.push_back(Action::Cancel { tx: invite });
            }
            _ => self.send_bye(leg, cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_ids_become_safe_uri_users_and_quoted_names() {
        assert_eq!(uri_user("/private/abc-123"), "abc-123");
        assert_eq!(uri_user("guest"), "guest");
        assert_eq!(uri_user("+1 (555) 010"), "+1555010");
        assert_eq!(uri_user("@@"), "anonymous");
        assert_eq!(quoted("Bob \"the\" \\ B\r\n"), "\"Bob the  B\"");
    }
}
