//! Signaling's and the call controller's view of the store: access-token verification and
//! address resolution.

use std::sync::Arc;

use weft_auth::{TokenIssuer, TokenKind};
use weft_calls::directory::{Resolver, Target, TargetKind};
use weft_core::Address;
use weft_core::ResourceKind;
use weft_core::time::now_ms;
use weft_signaling::directory::{Directory, DirectoryError, Identity, Subject};
use weft_store::{Store, StoreError};

/// The store-backed [`Directory`] and [`Resolver`].
pub struct StoreDirectory {
    store: Store,
    issuer: Arc<TokenIssuer>,
}

impl StoreDirectory {
    pub fn new(store: Store, issuer: Arc<TokenIssuer>) -> Self {
        StoreDirectory { store, issuer }
    }
}

fn unavailable(e: StoreError) -> DirectoryError {
    DirectoryError::Unavailable(e.to_string())
}

fn target_kind(kind: ResourceKind) -> TargetKind {
    match kind {
        ResourceKind::Subscriber => TargetKind::Subscriber,
        ResourceKind::VideoRoom => TargetKind::VideoRoom,
        ResourceKind::SwmlScript | ResourceKind::SwmlWebhook => TargetKind::SwmlScript,
        ResourceKind::SipEndpoint => TargetKind::SipEndpoint,
        ResourceKind::AiAgent => TargetKind::AiAgent,
    }
}

impl Directory for StoreDirectory {
    async fn verify_token(&self, token: &str) -> Result<Identity, DirectoryError> {
        let claims = self
            .issuer
            .verify(token, now_ms() / 1000)
            .map_err(|e| DirectoryError::InvalidToken(e.to_string()))?;
        if self
            .store
            .is_jti_revoked(&claims.jti)
            .await
            .map_err(unavailable)?
        {
            return Err(DirectoryError::InvalidToken("token revoked".into()));
        }
        let (subject, display_name) = match claims.kind {
            TokenKind::Subscriber => {
                let subscriber = match self.store.resource(&claims.project_id, &claims.sub).await {
                    Ok(r) => r,
                    Err(StoreError::NotFound) => {
                        return Err(DirectoryError::InvalidToken("subscriber deleted".into()));
                    }
                    Err(e) => return Err(unavailable(e)),
                };
                (
                    Subject::Subscriber {
                        subscriber_id: subscriber.inner_id.clone(),
                    },
                    subscriber.display_name,
                )
            }
            TokenKind::Guest => (
                Subject::Guest {
                    guest_id: claims.sub.clone(),
                    allowed_addresses: claims.allowed_addresses.clone(),
                },
                "Guest".to_owned(),
            ),
        };
        Ok(Identity {
            project_id: claims.project_id,
            subject,
            jti: claims.jti,
            expires_at: claims.exp,
            scopes: claims.scope.split_whitespace().map(str::to_owned).collect(),
            display_name,
            application_id: None,
        })
    }
}

impl Resolver for StoreDirectory {
    async fn resolve_address(
        &self,
        project_id: &str,
        address: &Address,
    ) -> Result<Option<Target>, DirectoryError> {
        let Some(row) = self
            .store
            .address_by_name(project_id, &address.context, &address.name)
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        let resource = match self.store.resource(project_id, &row.resource_id).await {
            Ok(r) => r,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        // Subscribers are known to signaling by their subscriber id (the token's `sub`).
        let resource_id = match resource.kind {
            ResourceKind::Subscriber => resource.inner_id.clone(),
            _ => resource.id.clone(),
        };
        Ok(Some(Target {
            kind: target_kind(resource.kind),
            resource_id,
            address_id: row.id,
            name: row.name,
            display_name: row.display_name,
        }))
    }
}
