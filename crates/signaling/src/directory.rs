//! The boundary to the identity and address store: token verification and address resolution.

use std::future::Future;

use weft_core::Address;

/// Who a verified access token belongs to.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A Fabric subscriber.
    Subscriber {
        /// The subscriber id.
        subscriber_id: String,
    },
    /// A guest limited to some addresses.
    Guest {
        /// A stable id for the guest (e.g. the token subject).
        guest_id: String,
        /// Address ids (or `/context/name` paths) the guest may dial.
        allowed_addresses: Vec<String>,
    },
}

/// The result of verifying an access token.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The project the token belongs to.
    pub project_id: String,
    /// The subscriber or guest.
    pub subject: Subject,
    /// The token id; embedded in the session `protocol`.
    pub jti: String,
    /// Expiry as Unix seconds.
    pub expires_at: i64,
    /// Scopes granted by the token.
    pub scopes: Vec<String>,
    /// Name shown to other members.
    pub display_name: String,
    /// Application id reported in `fabric_subscriber` (optional).
    pub application_id: Option<String>,
}

impl Identity {
    /// The subscriber or guest id.
    pub fn subject_id(&self) -> &str {
        match &self.subject {
            Subject::Subscriber { subscriber_id } => subscriber_id,
            Subject::Guest { guest_id, .. } => guest_id,
        }
    }

    /// Whether this identity may reach `target` (guests only reach their allowed addresses).
    pub fn may_reach(&self, address: &Address, target: &Target) -> bool {
        match &self.subject {
            Subject::Subscriber { .. } => true,
            Subject::Guest {
                allowed_addresses, ..
            } => {
                let path = address.path();
                allowed_addresses
                    .iter()
                    .any(|a| *a == target.address_id || *a == path)
            }
        }
    }

    /// Whether this identity is a guest.
    pub fn is_guest(&self) -> bool {
        matches!(self.subject, Subject::Guest { .. })
    }
}

/// What an address points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    /// A subscriber: ring their online sessions.
    Subscriber,
    /// A video room (conference room).
    VideoRoom,
    /// A SWML script.
    SwmlScript,
    /// A SIP endpoint.
    SipEndpoint,
    /// An AI agent.
    AiAgent,
    /// Any other resource type, by name.
    Other(String),
}

/// A resolved address.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// What the address points to.
    pub kind: TargetKind,
    /// The resource id (for a subscriber: the subscriber id).
    pub resource_id: String,
    /// The address id.
    pub address_id: String,
    /// The address or resource name (e.g. the room name).
    pub name: String,
    /// The display name.
    pub display_name: String,
}

/// Why a directory call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DirectoryError {
    /// The token is malformed, forged, expired or revoked.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The directory could not answer (store down, timeout).
    #[error("directory unavailable: {0}")]
    Unavailable(String),
}

/// Token verification and address resolution, implemented by the server on top of its store.
pub trait Directory: Send + Sync + 'static {
    /// Verifies an access token and returns who it belongs to.
    fn verify_token(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Identity, DirectoryError>> + Send;

    /// Resolves `/context/name` within a project; `Ok(None)` when no such address exists.
    fn resolve_address(
        &self,
        project_id: &str,
        address: &Address,
    ) -> impl Future<Output = Result<Option<Target>, DirectoryError>> + Send;
}
