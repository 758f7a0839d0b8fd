//! Digest algorithms and the stored per-user HA1 values.

use md5::Md5;
use sha2::{Digest, Sha256};

/// A digest algorithm Weft accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (RFC 2617; the default when a header names no algorithm).
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
}

impl Algorithm {
    /// The order challenges list algorithms in: strongest first, as RFC 8760 §2.4 recommends.
    pub const PREFERENCE: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Md5];

    /// The name used in the `algorithm` parameter.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Parses an `algorithm` parameter value (case-insensitive). `None` for anything else,
    /// including the `-sess` variants.
    pub fn from_name(name: &str) -> Option<Self> {
        Algorithm::PREFERENCE
            .into_iter()
            .find(|a| name.eq_ignore_ascii_case(a.name()))
    }

    /// Lowercase hex of H(parts joined by ":").
    pub(super) fn hex_digest(self, parts: &[&str]) -> String {
        match self {
            Algorithm::Md5 => joined_hex::<Md5>(parts),
            Algorithm::Sha256 => joined_hex::<Sha256>(parts),
        }
    }
}

fn joined_hex<D: Digest>(parts: &[&str]) -> String {
    let mut hasher = D::new();
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            hasher.update(b":");
        }
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// A user's stored HA1 values, H(username ":" realm ":" password), as hex, per algorithm.
/// A missing value means that algorithm cannot be verified for the user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ha1Set {
    /// HA1 with MD5 (32 hex digits).
    pub md5: Option<String>,
    /// HA1 with SHA-256 (64 hex digits).
    pub sha256: Option<String>,
}

impl Ha1Set {
    /// Computes both HA1 values from a password (when the password is set or changed).
    pub fn compute(username: &str, realm: &str, password: &str) -> Self {
        let parts = [username, realm, password];
        Ha1Set {
            md5: Some(Algorithm::Md5.hex_digest(&parts)),
            sha256: Some(Algorithm::Sha256.hex_digest(&parts)),
        }
    }

    /// The stored HA1 for an algorithm.
    pub fn get(&self, algorithm: Algorithm) -> Option<&str> {
        match algorithm {
            Algorithm::Md5 => self.md5.as_deref(),
            Algorithm::Sha256 => self.sha256.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sess_variants_are_refused() {
        for algorithm in Algorithm::PREFERENCE {
            assert_eq!(Algorithm::from_name(algorithm.name()), Some(algorithm));
        }
        assert_eq!(Algorithm::from_name("md5"), Some(Algorithm::Md5));
        assert_eq!(Algorithm::from_name("sha-256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::from_name("MD5-sess"), None);
        assert_eq!(Algorithm::from_name("SHA-256-sess"), None);
        assert_eq!(Algorithm::from_name("SHA-512-256"), None);
    }

    /// HA1 values of the RFC 2617 §3.5 and RFC 7616 §3.9.1 examples.
    #[test]
    fn ha1_values() {
        let rfc2617 = Ha1Set::compute("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(
            rfc2617.get(Algorithm::Md5),
            Some("939e7578ed9e3c518a452acee763bce9")
        );
        let rfc7616 = Ha1Set::compute("Mufasa", "http-auth@example.org", "Circle of Life");
        assert_eq!(
            rfc7616.get(Algorithm::Sha256),
            Some("7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232")
        );
    }
}
