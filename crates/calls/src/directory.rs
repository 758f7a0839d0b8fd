//! The boundary to the address store: resolving `/context/name` to the resource it names.

use std::future::Future;

use weft_core::Address;

/// What an address points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    /// A subscriber: ring their online sessions and registered SIP contacts.
    Subscriber,
    /// A video room (conference room).
    VideoRoom,
    /// A SWML script.
    SwmlScript,
    /// A SIP endpoint: ring its registered contacts.
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

/// Address resolution, implemented by the server on top of its store.
pub trait Resolver: Send + Sync + 'static {
    /// Resolves `/context/name` within a project; `Ok(None)` when no such address exists.
    fn resolve_address(
        &self,
        project_id: &str,
        address: &Address,
    ) -> impl Future<Output = Result<Option<Target>, DirectoryError>> + Send;
}

/// Which addresses a caller may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Any address of its project.
    Any,
    /// Only these address ids or `/context/name` paths (guest tokens).
    Only(Vec<String>),
}

impl Access {
    /// Whether `address`, resolved to `target`, may be reached.
    pub fn allows(&self, address: &Address, target: &Target) -> bool {
        match self {
            Access::Any => true,
            Access::Only(allowed) => {
                let path = address.path();
                allowed
                    .iter()
                    .any(|a| *a == target.address_id || *a == path)
            }
        }
    }
}
