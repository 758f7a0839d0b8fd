//! Issuing access and refresh tokens, and rotating refresh tokens. Shared by the REST token
//! endpoints and the OAuth2 token endpoint so every path hands out the same kind of token.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{ApiConfig, ApiError};
use weft_auth::secret::{hash_secret, new_secret};
use weft_auth::{AccessClaims, TokenIssuer, TokenKind};
use weft_core::time::now_ms;
use weft_store::Store;
use weft_store::tokens::{NewRefreshToken, RefreshOutcome};

/// What a token pair grants; kept (as JSON) with each refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub kind: TokenKind,
    pub project_id: String,
    /// The subscriber id, or a guest's random id.
    pub sub: String,
    pub scope: String,
    #[serde(default)]
    pub allowed_addresses: Vec<String>,
}

/// A freshly issued token pair.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub claims: AccessClaims,
}

/// The token service.
#[derive(Clone)]
pub struct Grants {
    store: Store,
    issuer: Arc<TokenIssuer>,
    config: Arc<ApiConfig>,
}

impl Grants {
    pub fn new(store: Store, issuer: Arc<TokenIssuer>, config: Arc<ApiConfig>) -> Self {
        Grants {
            store,
            issuer,
            config,
        }
    }

    /// Issues a token pair starting a new refresh family. `expire_at` (Unix seconds) overrides the
    /// default access-token lifetime.
    pub async fn issue(
        &self,
        grant: &Grant,
        expire_at: Option<i64>,
    ) -> Result<IssuedTokens, ApiError> {
        self.issue_in_family(grant, expire_at, &uuid::Uuid::new_v4().to_string())
            .await
    }

    async fn issue_in_family(
        &self,
        grant: &Grant,
        expire_at: Option<i64>,
        family_id: &str,
    ) -> Result<IssuedTokens, ApiError> {
        let now = now_ms() / 1000;
        let exp = expire_at.unwrap_or(now + self.config.access_ttl_secs);
        let claims = AccessClaims {
            sub: grant.sub.clone(),
            project_id: grant.project_id.clone(),
            scope: grant.scope.clone(),
            exp,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            r: "SAT".into(),
            kind: grant.kind,
            allowed_addresses: grant.allowed_addresses.clone(),
        };
        let access_token = self.issuer.issue(&claims);
        let refresh_token = new_secret("RT");
        let grant_json = serde_json::to_string(grant).map_err(|_| ApiError::Internal)?;
        self.store
            .add_refresh_token(&NewRefreshToken {
                token_hash: hash_secret(&refresh_token),
                family_id: family_id.to_owned(),
                project_id: grant.project_id.clone(),
                grant_json,
                expires_at: (now + self.config.refresh_ttl_secs) * 1000,
            })
            .await?;
        Ok(IssuedTokens {
            access_token,
            refresh_token,
            expires_in: exp - now,
            claims,
        })
    }

    /// Exchanges a refresh token for a new pair in the same family. A reused token revokes its
    /// family; unknown, expired or revoked tokens, other projects' tokens and tokens of deleted
    /// subscribers all fail as `Unauthorized`.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        project_id: Option<&str>,
    ) -> Result<(Grant, IssuedTokens), ApiError> {
        if refresh_token.len() > 512 {
            return Err(ApiError::Unauthorized);
        }
        let outcome = self
            .store
            .consume_refresh_token(&hash_secret(refresh_token))
            .await?;
        let RefreshOutcome::Valid {
            family_id,
            project_id: owner,
            grant_json,
        } = outcome
        else {
            return Err(ApiError::Unauthorized);
        };
        if project_id.is_some_and(|p| p != owner) {
            return Err(ApiError::Unauthorized);
        }
        let grant: Grant = serde_json::from_str(&grant_json).map_err(|_| ApiError::Internal)?;
        if grant.kind == TokenKind::Subscriber
            && self
                .store
                .resource(&grant.project_id, &grant.sub)
                .await
                .is_err()
        {
            self.store.revoke_refresh_family(&family_id).await?;
            return Err(ApiError::Unauthorized);
        }
        let issued = self.issue_in_family(&grant, None, &family_id).await?;
        Ok((grant, issued))
    }

    /// Revokes a refresh token and every token rotated from the same first one.
    pub async fn revoke_refresh(
        &self,
        refresh_token: &str,
        project_id: &str,
    ) -> Result<(), ApiError> {
        Ok(self
            .store
            .revoke_refresh_token(&hash_secret(refresh_token), project_id)
            .await?)
    }

    /// Revokes an access token (by its id) until it expires.
    pub async fn revoke_access(&self, claims: &AccessClaims) -> Result<(), ApiError> {
        Ok(self
            .store
            .revoke_jti(&claims.jti, claims.exp * 1000)
            .await?)
    }
}
