//! Subscriber and guest access tokens (SATs): compact ES256 JWS the browser SDK can read.
//!
//! The protected header carries `typ: "SAT"` and `ch: "relay.<domain>[:port]"`, the two fields the
//! SDK reads to find the WebSocket and REST hosts; the payload carries `"r": "SAT"` so the SDK keeps
//! its resume state across page reloads.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::jws::{Es256Key, JwsError};

/// Whom a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Subscriber,
    Guest,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The subscriber id (or the guest's random id).
    pub sub: String,
    pub project_id: String,
    pub scope: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds.
    pub iat: i64,
    /// Unique token id, used for revocation and in the signaling `protocol`.
    pub jti: String,
    /// Resume-storage key suffix read by the SDK; always `SAT`.
    pub r: String,
    pub kind: TokenKind,
    /// For guests: the address ids they may reach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_addresses: Vec<String>,
}

/// Why an access token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("invalid signature")]
    Signature,
    #[error("token expired")]
    Expired,
}

impl From<JwsError> for TokenError {
    fn from(e: JwsError) -> Self {
        match e {
            JwsError::Signature | JwsError::Algorithm => TokenError::Signature,
            JwsError::Malformed | JwsError::Key => TokenError::Malformed,
        }
    }
}

/// Issues and verifies access tokens with one signing key.
#[derive(Debug)]
pub struct TokenIssuer {
    key: Es256Key,
    channel: String,
}

impl TokenIssuer {
    /// `channel` is the header `ch`: the relay host the SDK connects to, e.g. `relay.weft.localhost:8443`.
    pub fn new(key: Es256Key, channel: String) -> Self {
        TokenIssuer { key, channel }
    }

    /// The signing key (also used for OIDC id tokens and the JWKS).
    pub fn key(&self) -> &Es256Key {
        &self.key
    }

    /// The relay host put in `ch`.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Signs the claims as a SAT.
    pub fn issue(&self, claims: &AccessClaims) -> String {
        let mut header = Map::new();
        header.insert("typ".into(), json!("SAT"));
        header.insert("ch".into(), json!(self.channel));
        let value = serde_json::to_value(claims).unwrap_or(Value::Null);
        self.key.sign(header, &value)
    }

    /// Checks signature, shape and expiry (`now` in Unix seconds). Revocation is the caller's check.
    pub fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        let (header, claims) = self.key.verify(token)?;
        if header.get("typ") != Some(&json!("SAT")) {
            return Err(TokenError::Malformed);
        }
        let claims: AccessClaims =
            serde_json::from_value(claims).map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jws::decode_json;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            sub: "s".into(),
            project_id: "p".into(),
            scope: "sat".into(),
            exp,
            iat: 0,
            jti: "j".into(),
            r: "SAT".into(),
            kind: TokenKind::Subscriber,
            allowed_addresses: vec![],
        }
    }

    #[test]
    fn header_carries_typ_and_ch_and_expiry_is_checked() {
        let (key, _) = Es256Key::generate("k").unwrap();
        let issuer = TokenIssuer::new(key, "relay.weft.localhost:8443".into());
        let token = issuer.issue(&claims(100));
        let header: Map<String, Value> = decode_json(token.split('.').next().unwrap()).unwrap();
        assert_eq!(header["typ"], "SAT");
        assert_eq!(header["ch"], "relay.weft.localhost:8443");
        assert_eq!(issuer.verify(&token, 50).unwrap(), claims(100));
        assert_eq!(issuer.verify(&token, 100), Err(TokenError::Expired));
        assert_eq!(issuer.verify("x.y.z", 0), Err(TokenError::Malformed));
    }
}
