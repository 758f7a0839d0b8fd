//! Who may register and call: accounts (SIP endpoint resources), their media policy, and the
//! contact bindings a registration creates.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::digest::Ha1Set;
use crate::sdp::{Codec, Encryption, LegPolicy};

/// How a SIP transport is named in Via and Contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl Transport {
    /// The `transport` URI parameter value.
    pub fn param(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

/// Where a message came from, or where to send one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Peer {
    /// The transport.
    pub transport: Transport,
    /// The address (for TCP and TLS: of the connection the peer opened).
    pub addr: SocketAddr,
}

/// What a SIP endpoint's `encryption` setting asks for (Fabric: `required`, `optional`,
/// `default`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncryptionSetting {
    /// SRTP only: plain offers are refused (488), Weft offers `RTP/SAVP`.
    Required,
    /// SRTP or plain, as the offer says; Weft offers plain RTP with `a=crypto` lines.
    Optional,
    /// Plain RTP unless the offer is SRTP-only; Weft offers plain RTP.
    #[default]
    Default,
}

impl EncryptionSetting {
    /// Parses a resource's `encryption` field (unknown values are `Default`).
    pub fn from_field(value: Option<&str>) -> Self {
        match value.map(str::to_ascii_lowercase).as_deref() {
            Some("required") => EncryptionSetting::Required,
            Some("optional") => EncryptionSetting::Optional,
            _ => EncryptionSetting::Default,
        }
    }

    /// The policy for answering the peer's offer.
    pub fn answering(self) -> Encryption {
        match self {
            EncryptionSetting::Required => Encryption::Required,
            EncryptionSetting::Optional | EncryptionSetting::Default => Encryption::Optional,
        }
    }

    /// The policy for Weft's own offers.
    pub fn offering(self) -> Encryption {
        match self {
            EncryptionSetting::Required => Encryption::Required,
            EncryptionSetting::Optional => Encryption::Optional,
            EncryptionSetting::Default => Encryption::Forbidden,
        }
    }
}

/// A leg's media policy: the codecs allowed, in preference order, and the SRTP setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaPolicy {
    /// Codec names as resources store them (`PCMU`, `PCMA`, `OPUS`); empty means all.
    pub codecs: Vec<String>,
    /// The SRTP setting.
    pub encryption: EncryptionSetting,
}

impl Default for MediaPolicy {
    fn default() -> Self {
        Self {
            codecs: Vec::new(),
            encryption: EncryptionSetting::Default,
        }
    }
}

impl MediaPolicy {
    /// The allowed codecs: the listed ones Weft knows, or all of them (Opus first, then G.711)
    /// when none is listed or known.
    pub fn codecs(&self) -> Vec<Codec> {
        let listed = Codec::list_from_resource_names(self.codecs.iter().map(String::as_str));
        if listed.is_empty() {
            vec![Codec::Opus, Codec::Pcmu, Codec::Pcma]
        } else {
            listed
        }
    }

    /// The policy for answering a peer's offer.
    pub fn answering(&self) -> LegPolicy {
        LegPolicy {
            codecs: self.codecs(),
            encryption: self.encryption.answering(),
        }
    }
}

/// A SIP account: a SIP endpoint resource, or one of a subscriber's SIP endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// The endpoint's id.
    pub id: String,
    /// The digest username.
    pub username: String,
    /// Its project.
    pub project_id: String,
    /// Calls to this resource ring the account's contacts (the endpoint's resource id, or the
    /// subscriber id of a subscriber's endpoint).
    pub resource_id: String,
    /// The subscriber it belongs to, for a subscriber's endpoint.
    pub subscriber_id: Option<String>,
    /// The name others see.
    pub display_name: String,
    /// The stored HA1 values for the server's realm.
    pub ha1: Ha1Set,
    /// Codecs and SRTP.
    pub media: MediaPolicy,
}

/// A registered contact: where calls to the account's resource ring. Kept in the store so a
/// restart keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The binding's id (the controller's endpoint key).
    pub id: String,
    /// The account.
    pub account_id: String,
    /// The account's username (the AOR's user).
    pub username: String,
    /// The account's project.
    pub project_id: String,
    /// The resource whose calls ring it.
    pub resource_id: String,
    /// The subscriber, for a subscriber's endpoint.
    pub subscriber_id: Option<String>,
    /// The account's display name.
    pub display_name: String,
    /// The Contact URI as registered.
    pub contact: String,
    /// Where the REGISTER came from: requests go there (NAT-safe, RFC 3261 §18.2.2).
    pub peer: Peer,
    /// Unix seconds when it expires.
    pub expires_at: u64,
    /// The REGISTER's Call-ID and CSeq (a refresh must not go back in CSeq).
    pub call_id: String,
    /// The REGISTER's CSeq number.
    pub cseq: u32,
    /// The account's media policy when it registered.
    pub media: MediaPolicy,
}
