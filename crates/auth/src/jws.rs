//! Compact JWS with ES256 (ECDSA P-256, SHA-256), with free-form protected headers.
//!
//! The browser SDK reads `typ` and `ch` from the protected header, which general JWT crates do not
//! let us set, so the (small) compact serialisation is done here on top of aws-lc-rs.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

/// The largest token we try to parse.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Why a compact JWS was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("malformed token")]
    Malformed,
    #[error("unsupported algorithm or key")]
    Algorithm,
    #[error("bad signature")]
    Signature,
    #[error("invalid key material")]
    Key,
}

/// An ES256 signing key with its key id.
pub struct Es256Key {
    kid: String,
    pair: EcdsaKeyPair,
}

impl std::fmt::Debug for Es256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Es256Key")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Es256Key {
    /// A new random key; also returns its PKCS#8 form (base64) for storage.
    pub fn generate(kid: &str) -> Result<(Self, String), JwsError> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| JwsError::Key)?;
        let stored = STANDARD.encode(doc.as_ref());
        Ok((Self::from_pkcs8(kid, &stored)?, stored))
    }

    /// Loads a key stored as base64 PKCS#8.
    pub fn from_pkcs8(kid: &str, stored: &str) -> Result<Self, JwsError> {
        let der = STANDARD.decode(stored).map_err(|_| JwsError::Key)?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
            .map_err(|_| JwsError::Key)?;
        Ok(Es256Key {
            kid: kid.to_owned(),
            pair,
        })
    }

    /// The key id (`kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` under a protected header made of `header` plus `alg` and `kid`.
    pub fn sign(&self, header: Map<String, Value>, claims: &Value) -> String {
        let mut header = header;
        header.insert("alg".into(), json!("ES256"));
        header.insert("kid".into(), json!(self.kid));
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .expect("ECDSA signing with a valid key cannot fail");
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
    }

    /// Checks the signature and returns the protected header and the claims.
    pub fn verify(&self, token: &str) -> Result<(Map<String, Value>, Value), JwsError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwsError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed);
        };
        let header: Map<String, Value> = decode_json(h)?;
        if header.get("alg") != Some(&json!("ES256")) {
            return Err(JwsError::Algorithm);
        }
        if header.get("kid").and_then(Value::as_str) != Some(self.kid.as_str()) {
            return Err(JwsError::Algorithm);
        }
        let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwsError::Malformed)?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.pair.public_key().as_ref())
            .verify(signing_input.as_bytes(), &signature)
            .map_err(|_| JwsError::Signature)?;
        Ok((header, decode_json(p)?))
    }

    /// The public key as a JWK (for a JWKS document).
    pub fn public_jwk(&self) -> Value {
        // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
        let point = self.pair.public_key().as_ref();
        json!({
            "kty": "EC",
            "crv": "P-256",
            "alg": "ES256",
            "use": "sig",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        })
    }
}

/// Decodes one base64url JSON segment of a compact token without checking anything.
pub fn decode_json<T: serde::de::DeserializeOwned>(segment: &str) -> Result<T, JwsError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| JwsError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwsError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_tamper() {
        let (key, stored) = Es256Key::generate("k1").unwrap();
        let mut header = Map::new();
        header.insert("typ".into(), json!("SAT"));
        let token = key.sign(header, &json!({"sub": "x"}));
        let (h, claims) = key.verify(&token).unwrap();
        assert_eq!(h["typ"], "SAT");
        assert_eq!(claims["sub"], "x");

        let reloaded = Es256Key::from_pkcs8("k1", &stored).unwrap();
        assert!(reloaded.verify(&token).is_ok());

        let (other, _) = Es256Key::generate("k1").unwrap();
        assert_eq!(other.verify(&token), Err(JwsError::Signature));

        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(json!({"sub": "y"}).to_string());
        assert_eq!(key.verify(&parts.join(".")), Err(JwsError::Signature));
        assert_eq!(key.verify("a.b"), Err(JwsError::Malformed));
        assert_eq!(key.public_jwk()["kty"], "EC");
    }
}
