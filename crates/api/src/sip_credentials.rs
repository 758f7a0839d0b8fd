//! SIP endpoint credentials: beside the argon2 hash of the password, the digest HA1 values
//! H(username ":" realm ":" password) that SIP registration checks. The password is never kept.

use weft_sip::digest::Ha1Set;
use weft_store::sip_accounts::SipDigest;
use weft_store::sip_endpoints::SipSecrets;

use crate::error::ApiError;
use crate::routes::hash_password;

/// The HA1 values of a password for a username in a realm.
pub fn digest(username: &str, realm: &str, password: &str) -> SipDigest {
    let Ha1Set { md5, sha256 } = Ha1Set::compute(username, realm, password);
    SipDigest {
        realm: realm.to_owned(),
        md5,
        sha256,
    }
}

/// The argon2 hash and the HA1 values of a password.
pub async fn secrets(
    username: &str,
    realm: &str,
    password: String,
) -> Result<SipSecrets, ApiError> {
    let digest = digest(username, realm, &password);
    Ok(SipSecrets {
        password_hash: hash_password(password).await?,
        digest,
    })
}

/// Refuses a username change that comes without the password: the HA1 values include the
/// username, so the stored ones would no longer match and cannot be recomputed without it.
pub fn check_rename(current: &str, new: &str, has_password: bool) -> Result<(), ApiError> {
    if current == new || has_password {
        return Ok(());
    }
    Err(ApiError::invalid(
        "password",
        "missing_parameter",
        "password is required to change the username: SIP digest credentials include the username",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_the_ha1_pair_for_the_realm() {
        let d = digest("alice", "example.test", "s3cret");
        let expected = Ha1Set::compute("alice", "example.test", "s3cret");
        assert_eq!(d.realm, "example.test");
        assert_eq!(d.md5, expected.md5);
        assert_eq!(d.sha256, expected.sha256);
        assert_eq!(d.md5.as_deref().map(str::len), Some(32));
        assert_eq!(d.sha256.as_deref().map(str::len), Some(64));
    }

    #[test]
    fn a_rename_needs_the_password() {
        assert!(check_rename("alice", "alice", false).is_ok());
        assert!(check_rename("alice", "bob", true).is_ok());
        let Err(ApiError::Validation(errors)) = check_rename("alice", "bob", false) else {
            panic!("a rename without a password was accepted");
        };
        assert_eq!(errors[0].attribute, "password");
        assert_eq!(errors[0].code, "missing_parameter");
    }
}
