//! The registrar (RFC 3261 §10): digest-authenticated REGISTERs bind contacts to an account for
//! a bounded time; bindings are stored before the 200 goes out, and every live binding is an
//! endpoint the call controller can ring.

use rsipstack::sip::Request;
use rsipstack::sip::prelude::HeadersExt;
use weft_calls::{Command, EndpointId, Party, Presence};

use super::{Now, Pending, SIP, ServerTx, SipCore, StoreChange, new_tag};
use crate::account::{Account, Binding, Peer};
use crate::digest::{Credentials, Verdict, parse_credentials};
use crate::msg;

/// What authenticating a request came to.
pub(super) enum Authenticated {
    /// The credentials are this account's.
    As(Box<Account>),
    /// Right credentials with an old nonce: challenge again with `stale=true`.
    Stale,
    /// Wrong credentials, or no such account.
    Failed,
    /// The accounts could not be looked up.
    StoreDown,
}

/// A REGISTER waiting for its account.
pub(super) struct Waiting {
    tx: ServerTx,
    req: Request,
    peer: Peer,
    credentials: Credentials,
    aor: String,
}

/// A REGISTER waiting for its bindings to be stored.
pub(super) struct Storing {
    tx: ServerTx,
    req: Request,
    account_id: String,
    /// The account's bindings once stored.
    after: Vec<Binding>,
    /// The bindings that went away.
    removed: Vec<Binding>,
}

/// One `Contact` of a REGISTER.
enum ContactSpec {
    /// `*`: every binding of the account.
    All,
    /// A contact URI and the expiry asked for it, if any.
    Uri(String, Option<u32>),
}

/// The Contact headers of a REGISTER (`None` when one is unreadable).
fn contacts(req: &Request) -> Option<Vec<ContactSpec>> {
    let mut out = Vec::new();
    for header in req.contact_headers() {
        for part in split_contacts(header.value()) {
            if part.trim() == "*" {
                out.push(ContactSpec::All);
                continue;
            }
            let typed = rsipstack::sip::typed::Contact::parse(part).ok()?;
            let raw_uri = raw_uri(part).unwrap_or_else(|| typed.uri.to_string());
            out.push(ContactSpec::Uri(raw_uri, typed.expires()));
        }
    }
    Some(out)
}

/// Splits a Contact header value at the commas between contacts (not inside `<…>` or quotes).
fn split_contacts(value: &str) -> Vec<&str> {
    let (mut parts, mut start, mut angle, mut quote) = (Vec::new(), 0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quote = !quote,
            '<' if !quote => angle = true,
            '>' if !quote => angle = false,
            ',' if !quote && !angle => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// The URI between `<` and `>` exactly as written (rsipstack's parse drops `;transport=`).
fn raw_uri(contact: &str) -> Option<String> {
    let start = contact.find('<')? + 1;
    let end = start + contact[start..].find('>')?;
    Some(contact[start..end].trim().to_owned())
}

impl SipCore {
    pub(super) fn register(&mut self, now: Now, tx: ServerTx, req: Request, peer: Peer) {
        let Ok(ids) = msg::ids(&req) else {
            return self.respond_plain(tx, &req, 400);
        };
        let aor = req
            .to_header()
            .ok()
            .and_then(|t| t.uri().ok())
            .and_then(|u| msg::user_of(&u));
        let Some(aor) = aor else {
            return self.respond_plain(tx, &req, 400);
        };
        let Some(auth) = msg::header(&req, "Authorization") else {
            return self.challenge(now, tx, &req, false, 401);
        };
        let Ok(credentials) = parse_credentials(&auth) else {
            return self.respond_plain(tx, &req, 400);
        };
        tracing::debug!(call_id = %ids.call_id, user = %credentials.username, "REGISTER");
        let username = credentials.username.clone();
        let op = self.op(Pending::RegisterAccount(Waiting {
            tx,
            req,
            peer,
            credentials,
            aor,
        }));
        self.out.push_back(super::Action::Accounts { op, username });
    }

    /// Answers 401 (`WWW-Authenticate`) or 407 (`Proxy-Authenticate`) with fresh challenges.
    pub(super) fn challenge(
        &mut self,
        now: Now,
        tx: ServerTx,
        req: &Request,
        stale: bool,
        status: u16,
    ) {
        let name = if status == 407 {
            "Proxy-Authenticate"
        } else {
            "WWW-Authenticate"
        };
        let mut resp = msg::response(req, status, Some(&new_tag()));
        for value in self
            .challenger
            .challenge(now.unix, stale, &self.cfg.digest_algorithms)
        {
            msg::add(&mut resp, msg::other(name, value));
        }
        self.respond(tx, resp);
    }

    /// Finds the account (of those looked up) whose stored HA1 verifies the credentials.
    pub(super) fn authenticate(
        &self,
        now: Now,
        method: &str,
        credentials: &Credentials,
        accounts: Result<Vec<Account>, String>,
    ) -> Authenticated {
        let accounts = match accounts {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "looking up a SIP account failed");
                return Authenticated::StoreDown;
            }
        };
        let mut stale = false;
        for account in accounts {
            match self
                .challenger
                .verify(credentials, method, &account.ha1, now.unix)
            {
                Verdict::Ok => return Authenticated::As(Box::new(account)),
                Verdict::Stale => stale = true,
                Verdict::Invalid => {}
            }
        }
        if stale {
            Authenticated::Stale
        } else {
            Authenticated::Failed
        }
    }

    /// A failed authentication: 403, counted against the source.
    pub(super) fn auth_failed(
        &mut self,
        now: Now,
        tx: ServerTx,
        req: &Request,
        peer: Peer,
        user: &str,
    ) {
        if let Some(until) = self.failures.failed(peer.addr.ip(), user, now.mono) {
            self.out.push_back(super::Action::Block {
                ip: peer.addr.ip(),
                until,
            });
        }
        self.respond_plain(tx, req, 403);
    }

    pub(super) fn register_with(
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
            aor,
        } = w;
        let account = match self.authenticate(now, "REGISTER", &credentials, accounts) {
            Authenticated::As(account) if account.username.eq_ignore_ascii_case(&aor) => *account,
            Authenticated::As(_) | Authenticated::Failed => {
                return self.auth_failed(now, tx, &req, peer, &credentials.username);
            }
            Authenticated::Stale => return self.challenge(now, tx, &req, true, 401),
            Authenticated::StoreDown => return self.respond_plain(tx, &req, 500),
        };
        let Some(specs) = contacts(&req) else {
            return self.respond_plain(tx, &req, 400);
        };
        let header_expires = req
            .expires_header()
            .and_then(|e| e.value().trim().parse::<u32>().ok());
        let Ok(ids) = msg::ids(&req) else {
            return self.respond_plain(tx, &req, 400);
        };
        let mut current: Vec<Binding> = self
            .bindings
            .values()
            .filter(|b| b.account_id == account.id)
            .cloned()
            .collect();
        current.sort_by_key(|b| b.expires_at);
        let mut removed = Vec::new();
        if specs.iter().any(|s| matches!(s, ContactSpec::All)) {
            if specs.len() != 1 || header_expires != Some(0) {
                return self.respond_plain(tx, &req, 400);
            }
            removed = std::mem::take(&mut current);
        }
        for spec in &specs {
            let ContactSpec::Uri(uri, expires) = spec else {
                continue;
            };
            let asked = expires
                .or(header_expires)
                .unwrap_or(self.cfg.default_expires);
            let existing = current.iter().position(|b| b.contact == *uri);
            if asked == 0 {
                if let Some(pos) = existing {
                    removed.push(current.remove(pos));
                }
                continue;
            }
            if asked < self.cfg.min_expires {
                let mut resp = msg::response(&req, 423, Some(&new_tag()));
                msg::add(
                    &mut resp,
                    msg::other("Min-Expires", self.cfg.min_expires.to_string()),
                );
                return self.respond(tx, resp);
            }
            let expires = asked.min(self.cfg.max_expires);
            if let Some(pos) = existing {
                let b = &mut current[pos];
                if b.call_id == ids.call_id && ids.cseq <= b.cseq {
                    return self.respond_plain(tx, &req, 500);
                }
                b.expires_at = now.unix + u64::from(expires);
                b.call_id.clone_from(&ids.call_id);
                b.cseq = ids.cseq;
                b.peer = peer;
                b.media = account.media.clone();
                continue;
            }
            if current.len() >= self.cfg.max_bindings_per_account {
                removed.push(current.remove(0));
            }
            current.push(Binding {
                id: uuid::Uuid::new_v4().to_string(),
                account_id: account.id.clone(),
                username: account.username.clone(),
                project_id: account.project_id.clone(),
                resource_id: account.resource_id.clone(),
                subscriber_id: account.subscriber_id.clone(),
                display_name: account.display_name.clone(),
                contact: uri.clone(),
                peer,
                expires_at: now.unix + u64::from(expires),
                call_id: ids.call_id.clone(),
                cseq: ids.cseq,
                media: account.media.clone(),
            });
        }
        let changes: Vec<StoreChange> = removed
            .iter()
            .map(|b| StoreChange::Delete(b.id.clone()))
            .chain(
                current
                    .iter()
                    .cloned()
                    .map(|b| StoreChange::Save(Box::new(b))),
            )
            .collect();
        let storing = Storing {
            tx,
            req,
            account_id: account.id,
            after: current,
            removed,
        };
        if specs.is_empty() {
            // A query: nothing changes.
            return self.registered(now, storing, Ok(()));
        }
        self.store(Pending::RegisterStore(storing), changes);
    }

    /// The bindings are stored: they take effect and the 200 lists them.
    pub(super) fn registered(&mut self, now: Now, s: Storing, result: Result<(), String>) {
        if let Err(e) = result {
            tracing::warn!(error = %e, "storing a SIP registration failed");
            return self.respond_plain(s.tx, &s.req, 500);
        }
        for b in &s.removed {
            if self.bindings.remove(&b.id).is_some() {
                self.reachable(b, false);
            }
        }
        for b in &s.after {
            let new = !self.bindings.contains_key(&b.id);
            self.bindings.insert(b.id.clone(), b.clone());
            if new {
                self.reachable(b, true);
            }
        }
        tracing::info!(
            account = %s.account_id,
            bindings = s.after.len(),
            removed = s.removed.len(),
            "SIP registration"
        );
        let mut resp = msg::response(&s.req, 200, Some(&new_tag()));
        for b in &s.after {
            let left = b.expires_at.saturating_sub(now.unix);
            msg::add(
                &mut resp,
                rsipstack::sip::Header::Contact(format!("<{}>;expires={left}", b.contact).into()),
            );
        }
        self.respond(s.tx, resp);
    }

    /// Tells the controller whether calls to the binding's resource ring it.
    pub(super) fn reachable(&mut self, b: &Binding, online: bool) {
        let presence = Presence {
            endpoint: EndpointId {
                front: SIP,
                key: b.id.clone(),
            },
            resource_id: b.resource_id.clone(),
            party: Party {
                project_id: b.project_id.clone(),
                subject_id: b.account_id.clone(),
                subscriber_id: b.subscriber_id.clone(),
                name: b.display_name.clone(),
                number: b.username.clone(),
                access: weft_calls::directory::Access::Any,
                moderator: false,
            },
            flavor: weft_calls::media::Flavor::Rtp,
            online,
        };
        self.command(Command::Presence(Box::new(presence)));
    }

    /// Drops the bindings that expired.
    pub(super) fn expire_bindings(&mut self, now: Now) {
        let expired: Vec<Binding> = self
            .bindings
            .values()
            .filter(|b| b.expires_at <= now.unix)
            .cloned()
            .collect();
        if expired.is_empty() {
            return;
        }
        for b in &expired {
            self.bindings.remove(&b.id);
            self.reachable(b, false);
            tracing::info!(account = %b.account_id, contact = %b.contact, "SIP registration expired");
        }
        let changes = expired
            .into_iter()
            .map(|b| StoreChange::Delete(b.id))
            .collect();
        self.store(Pending::Nothing, changes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_split_and_keep_their_uris_as_written() {
        assert_eq!(
            split_contacts(r#"<sip:a@h;transport=tcp>;expires=60, "x,y" <sip:b@h>"#),
            vec!["<sip:a@h;transport=tcp>;expires=60", r#" "x,y" <sip:b@h>"#]
        );
        assert_eq!(
            raw_uri("<sip:a@h;transport=tcp>;expires=60").as_deref(),
            Some("sip:a@h;transport=tcp")
        );
    }
}
