//! The SDES-SRTP keys of a plain-RTP leg (RFC 4568): one master key per direction, one profile.

use serde::Deserialize;
use weft_srtp::{MasterKey, Profile};

use crate::error::MediaError;

/// The SRTP keys of a plain-RTP leg, as its SDP's `a=crypto` lines negotiated them.
///
/// Deserializes from `{"suite": "AES_CM_128_HMAC_SHA1_80", "local": "inline:…", "remote":
/// "inline:…"}` (see [`LegSrtp::from_sdes`]). Two values are equal when they hold the same keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "SdesKeyParams")]
pub struct LegSrtp {
    local: MasterKey,
    remote: MasterKey,
}

/// The serialized form of [`LegSrtp`]: the SDP's suite name and key parameters.
#[derive(Deserialize)]
struct SdesKeyParams {
    suite: String,
    local: String,
    remote: String,
}

impl LegSrtp {
    /// Keys of one profile: `local` protects what the leg sends (the key of our `a=crypto`
    /// line), `remote` unprotects what it receives (the peer's key).
    pub fn new(local: MasterKey, remote: MasterKey) -> Result<Self, MediaError> {
        if local.profile() != remote.profile() {
            return Err(MediaError::Srtp(format!(
                "the local key is for {} and the remote key for {}",
                local.profile(),
                remote.profile()
            )));
        }
        Ok(Self { local, remote })
    }

    /// Keys from an SDES crypto-suite name (e.g. `AES_CM_128_HMAC_SHA1_80`, `AEAD_AES_128_GCM`)
    /// and the key parameters (`inline:…`) of our `a=crypto` line and of the peer's.
    pub fn from_sdes(suite: &str, local: &str, remote: &str) -> Result<Self, MediaError> {
        let profile = Profile::from_sdes_name(suite)
            .ok_or_else(|| MediaError::Srtp(format!("unknown crypto suite {suite:?}")))?;
        let key = |which: &str, params: &str| {
            MasterKey::from_sdes_inline(profile, params)
                .map_err(|e| MediaError::Srtp(format!("bad {which} key for {profile}: {e}")))
        };
        Self::new(key("local", local)?, key("remote", remote)?)
    }

    /// The profile both keys are for.
    pub fn profile(&self) -> Profile {
        self.local.profile()
    }

    /// The key that protects what the leg sends.
    pub fn local(&self) -> &MasterKey {
        &self.local
    }

    /// The key that unprotects what the leg receives.
    pub fn remote(&self) -> &MasterKey {
        &self.remote
    }
}

impl TryFrom<SdesKeyParams> for LegSrtp {
    type Error = MediaError;

    fn try_from(params: SdesKeyParams) -> Result<Self, MediaError> {
        Self::from_sdes(&params.suite, &params.local, &params.remote)
    }
}

impl PartialEq for LegSrtp {
    fn eq(&self, other: &Self) -> bool {
        same_key(&self.local, &other.local) && same_key(&self.remote, &other.remote)
    }
}

impl Eq for LegSrtp {}

/// Whether two master keys are the same keying material of the same profile.
pub(crate) fn same_key(a: &MasterKey, b: &MasterKey) -> bool {
    a.profile() == b.profile() && a.key() == b.key() && a.salt() == b.salt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(profile: Profile) -> MasterKey {
        MasterKey::random(profile).expect("key")
    }

    #[test]
    fn parses_sdes_suites_and_keys() {
        let (local, remote) = (
            random(Profile::AeadAes128Gcm),
            random(Profile::AeadAes128Gcm),
        );
        let keys = LegSrtp::from_sdes(
            "aead_aes_128_gcm",
            &local.to_sdes_inline(),
            &remote.to_sdes_inline(),
        )
        .expect("keys");
        assert_eq!(keys.profile(), Profile::AeadAes128Gcm);
        assert!(same_key(keys.local(), &local));
        assert!(same_key(keys.remote(), &remote));
        assert_eq!(keys, LegSrtp::new(local, remote).expect("keys"));
    }

    #[test]
    fn refuses_unknown_suites_bad_keys_and_mixed_profiles() {
        let good = random(Profile::AesCm128HmacSha1_80).to_sdes_inline();
        let err = |r: Result<LegSrtp, MediaError>| match r {
            Err(MediaError::Srtp(e)) => e,
            other => panic!("expected an SRTP error, got {other:?}"),
        };
        let e = err(LegSrtp::from_sdes("F8_128_HMAC_SHA1_80", &good, &good));
        assert!(e.contains("unknown crypto suite"), "{e}");
        let e = err(LegSrtp::from_sdes(
            "AES_CM_128_HMAC_SHA1_80",
            &good,
            "inline:AAAA",
        ));
        assert!(e.starts_with("bad remote key"), "{e}");
        // A 30-byte key||salt is too long for GCM.
        let e = err(LegSrtp::from_sdes("AEAD_AES_128_GCM", &good, &good));
        assert!(e.starts_with("bad local key"), "{e}");
        let e = err(LegSrtp::new(
            random(Profile::AesCm128HmacSha1_80),
            random(Profile::AesCm128HmacSha1_32),
        ));
        assert!(e.contains("AES_CM_128_HMAC_SHA1_32"), "{e}");
    }

    #[test]
    fn equal_when_both_keys_are_equal() {
        let profile = Profile::AesCm128HmacSha1_32;
        let (a, b) = (random(profile), random(profile));
        let keys = LegSrtp::new(a.clone(), b.clone()).expect("keys");
        assert_eq!(keys, keys.clone());
        assert_ne!(keys, LegSrtp::new(a.clone(), a.clone()).expect("keys"));
        assert_ne!(keys, LegSrtp::new(b.clone(), b).expect("keys"));
        // The same bytes under another profile are other keys.
        let other_profile =
            MasterKey::new(Profile::AesCm128HmacSha1_80, a.key(), a.salt()).expect("key");
        assert!(!same_key(&a, &other_profile));
    }

    #[test]
    fn deserializes_from_the_sdp_form() {
        let (local, remote) = (
            random(Profile::AesCm128HmacSha1_80),
            random(Profile::AesCm128HmacSha1_80),
        );
        let json = serde_json::json!({
            "suite": "AES_CM_128_HMAC_SHA1_80",
            "local": local.to_sdes_inline(),
            "remote": remote.to_sdes_inline(),
        });
        let keys: LegSrtp = serde_json::from_value(json).expect("keys");
        assert_eq!(keys, LegSrtp::new(local, remote).expect("keys"));
        let bad = serde_json::json!({ "suite": "NULL", "local": "", "remote": "" });
        let e = serde_json::from_value::<LegSrtp>(bad).expect_err("unknown suite");
        assert!(e.to_string().contains("unknown crypto suite"), "{e}");
    }
}
