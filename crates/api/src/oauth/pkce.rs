//! PKCE (RFC 7636), S256 only: `code_challenge = BASE64URL(SHA256(code_verifier))`.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use weft_auth::secret::constant_time_eq;

/// The only challenge method accepted.
pub const METHOD: &str = "S256";

/// Whether `challenge` has the form of an S256 challenge: 43 base64url characters.
pub fn is_valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(is_base64url)
}

/// Whether `verifier` has RFC 7636's form: 43–128 unreserved characters.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 challenge of a verifier.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// Whether `verifier` is well formed and hashes to `challenge` (compared in constant time).
pub fn verify(verifier: &str, challenge: &str) -> bool {
    is_valid_verifier(verifier)
        && constant_time_eq(challenge_of(verifier).as_bytes(), challenge.as_bytes())
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(challenge_of(verifier), challenge);
        assert!(is_valid_challenge(challenge));
        assert!(verify(verifier, challenge));
    }

    #[test]
    fn refuses_wrong_or_malformed_verifiers() {
        let challenge = challenge_of(&"a".repeat(43));
        assert!(!verify(&"b".repeat(43), &challenge));
        assert!(!verify("short", &challenge_of("short")));
        assert!(!verify(&"a".repeat(129), &challenge_of(&"a".repeat(129))));
        assert!(!verify(&format!("{}!", "a".repeat(43)), &challenge));
        assert!(!is_valid_challenge("plain-text-challenge"));
        assert!(!is_valid_challenge(&"+".repeat(43)));
    }
}
