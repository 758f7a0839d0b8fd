//! Passwords hashed with argon2id (PHC strings).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashes a password with argon2id and a random salt. Slow on purpose: call it off the async runtime.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::encode_b64(&crate::secret::random_bytes::<16>())
        .expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .expect("argon2 hashing with default parameters cannot fail")
}

/// Checks a password against a stored PHC hash (constant time inside argon2).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let h = super::hash_password("s3cret!");
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify_password("s3cret!", &h));
        assert!(!super::verify_password("wrong", &h));
        assert!(!super::verify_password("s3cret!", "not a hash"));
    }
}
