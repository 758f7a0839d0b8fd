//! The boundary to the identity store: access-token verification.

use std::future::Future;

pub use weft_calls::directory::DirectoryError;

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

    /// Whether this identity is a guest.
    pub fn is_guest(&self) -> bool {
        matches!(self.subject, Subject::Guest { .. })
    }
}

/// Token verification, implemented by the server on top of its store.
pub trait Directory: Send + Sync + 'static {
    /// Verifies an access token and returns who it belongs to.
    fn verify_token(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Identity, DirectoryError>> + Send;
}
