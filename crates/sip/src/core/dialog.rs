//! Dialogs: one per SIP leg, whether the peer called Weft (UAS) or Weft called the peer (UAC),
//! found by leg id, by `Call-ID` and tags, or by the transactions that belong to them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use rsipstack::sip::Uri;
use weft_calls::LegId;

use super::{ClientTx, ServerTx};
use crate::account::{MediaPolicy, Peer};
use crate::sdp::{AudioAnswer, OfferSpec};

/// Which side of the dialog Weft is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// The peer's INVITE created it; Weft answers.
    Uas {
        /// The initial INVITE's transaction.
        invite: ServerTx,
    },
    /// Weft's INVITE created it.
    Uac {
        /// The initial INVITE's transaction.
        invite: ClientTx,
    },
}

/// Where a dialog is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// No final response yet.
    Early,
    /// Answered with 2xx (UAS: waiting for the ACK).
    Answered,
    /// Answered and acknowledged.
    Confirmed,
}

/// Who refreshes the session (RFC 4028).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refresher {
    /// Weft sends the refreshes.
    Us,
    /// The peer does; Weft ends the call if they stop.
    Them,
}

/// A negotiated session timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SessionTimer {
    /// The session interval, seconds.
    pub interval: u32,
    /// Who refreshes.
    pub refresher: Refresher,
    /// When Weft refreshes (Us) or gives up (Them).
    pub due: Instant,
}

/// Weft's side of the leg's audio and what was negotiated.
#[derive(Debug, Clone)]
pub(super) struct Media {
    /// The engine's RTP address for the leg, once known.
    pub local: Option<SocketAddr>,
    /// `o=` session id and version of Weft's SDP.
    pub session_id: u64,
    /// Incremented whenever Weft's SDP changes.
    pub version: u64,
    /// UAS: the last negotiated answer (re-sent for refreshes).
    pub answer: Option<AudioAnswer>,
    /// UAS: Weft's SRTP key in its answer.
    pub local_key: Option<String>,
    /// UAC: Weft's offer.
    pub offer: Option<OfferSpec>,
    /// The leg's codecs and SRTP setting.
    pub policy: MediaPolicy,
    /// What the controller was last told of the leg's media.
    pub params: Option<weft_calls::media::RtpParams>,
    /// The peer put the call on hold.
    pub held: bool,
}

/// One SIP leg's dialog.
#[derive(Debug, Clone)]
pub(super) struct Dialog {
    pub leg: LegId,
    pub side: Side,
    pub state: State,
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: Option<String>,
    /// Our `From` value in requests we send (with our tag).
    pub local_uri: String,
    /// The peer's `To` value in requests we send (with its tag, once known).
    pub remote_uri: String,
    /// Where in-dialog requests go (the peer's Contact).
    pub remote_target: Option<Uri>,
    /// `Route` values for in-dialog requests.
    pub route: Vec<String>,
    pub local_cseq: u32,
    pub remote_cseq: u32,
    /// Where the peer's messages come from and ours go.
    pub peer: Peer,
    /// The account it counts against (calls per account).
    pub account: Option<String>,
    pub media: Media,
    pub timer: Option<SessionTimer>,
    /// A BYE waits for the ACK of our 2xx (RFC 3261 §15).
    pub bye_when_acked: bool,
    /// The controller ended the leg; only the SIP side is left to finish.
    pub ended: bool,
    /// An in-dialog request of ours (re-INVITE, UPDATE) is waiting for its answer.
    pub refreshing: bool,
    /// UAS: the initial INVITE, until its final response.
    pub invite: Option<rsipstack::sip::Request>,
    /// The peer accepts UPDATE (its `Allow`), the cheap session refresh.
    pub peer_allows_update: bool,
}

impl Dialog {
    /// Whether the call was answered.
    pub fn answered(&self) -> bool {
        self.state != State::Early
    }
}

/// The core's dialogs and their indexes.
#[derive(Debug, Default)]
pub(super) struct Dialogs {
    by_leg: HashMap<LegId, Dialog>,
    /// `(Call-ID, our tag, their tag)` → leg.
    by_tags: HashMap<(String, String, String), LegId>,
    /// INVITE server transactions (initial and re-INVITEs) → leg.
    server: HashMap<ServerTx, LegId>,
    /// Client transactions → leg and what they were for.
    client: HashMap<ClientTx, (LegId, rsipstack::sip::Method)>,
}

impl Dialogs {
    pub fn insert(&mut self, d: Dialog) {
        if let Some(remote) = &d.remote_tag {
            self.by_tags.insert(
                (d.call_id.clone(), d.local_tag.clone(), remote.clone()),
                d.leg.clone(),
            );
        }
        match d.side {
            Side::Uas { invite } => {
                self.server.insert(invite, d.leg.clone());
            }
            Side::Uac { invite } => {
                self.client
                    .insert(invite, (d.leg.clone(), rsipstack::sip::Method::Invite));
            }
        }
        self.by_leg.insert(d.leg.clone(), d);
    }

    /// Records the peer's tag of a UAC dialog (from its 2xx).
    pub fn set_remote_tag(&mut self, leg: &str, tag: String) {
        let Some(d) = self.by_leg.get_mut(leg) else {
            return;
        };
        d.remote_tag = Some(tag.clone());
        self.by_tags.insert(
            (d.call_id.clone(), d.local_tag.clone(), tag),
            leg.to_owned(),
        );
    }

    pub fn get(&self, leg: &str) -> Option<&Dialog> {
        self.by_leg.get(leg)
    }

    pub fn get_mut(&mut self, leg: &str) -> Option<&mut Dialog> {
        self.by_leg.get_mut(leg)
    }

    /// The dialog an in-dialog request belongs to (its To tag is ours, its From tag theirs).
    pub fn find(&self, call_id: &str, to_tag: &str, from_tag: &str) -> Option<LegId> {
        self.by_tags
            .get(&(call_id.to_owned(), to_tag.to_owned(), from_tag.to_owned()))
            .cloned()
    }

    pub fn by_server_tx(&self, tx: ServerTx) -> Option<LegId> {
        self.server.get(&tx).cloned()
    }

    pub fn add_server_tx(&mut self, tx: ServerTx, leg: &str) {
        self.server.insert(tx, leg.to_owned());
    }

    pub fn forget_server_tx(&mut self, tx: ServerTx) {
        self.server.remove(&tx);
    }

    pub fn by_client_tx(&self, tx: ClientTx) -> Option<(LegId, rsipstack::sip::Method)> {
        self.client.get(&tx).cloned()
    }

    pub fn add_client_tx(&mut self, tx: ClientTx, leg: &str, method: rsipstack::sip::Method) {
        self.client.insert(tx, (leg.to_owned(), method));
    }

    pub fn forget_client_tx(&mut self, tx: ClientTx) {
        self.client.remove(&tx);
    }

    /// Removes a dialog and its indexes (transactions still running keep nothing alive).
    pub fn remove(&mut self, leg: &str) -> Option<Dialog> {
        let d = self.by_leg.remove(leg)?;
        if let Some(remote) = &d.remote_tag {
            self.by_tags
                .remove(&(d.call_id.clone(), d.local_tag.clone(), remote.clone()));
        }
        self.server.retain(|_, l| l != leg);
        self.client.retain(|_, (l, _)| l != leg);
        Some(d)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Dialog> {
        self.by_leg.values()
    }

    /// Calls counted against an account or trunk.
    pub fn count_for(&self, account: &str) -> usize {
        self.by_leg
            .values()
            .filter(|d| d.account.as_deref() == Some(account))
            .count()
    }

    /// The soonest session-timer deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_leg
            .values()
            .filter_map(|d| d.timer.map(|t| t.due))
            .min()
    }

    /// Legs whose session timer is due.
    pub fn due(&self, now: Instant) -> Vec<LegId> {
        self.by_leg
            .values()
            .filter(|d| d.timer.is_some_and(|t| t.due <= now))
            .map(|d| d.leg.clone())
            .collect()
    }
}
