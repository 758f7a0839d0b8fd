//! Master keys and their SDES `inline:` form (RFC 4568 §6.1).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

use crate::error::KeyError;
use crate::profile::Profile;

/// Longest master key of any supported profile.
const MAX_KEY_LEN: usize = 32;
/// Longest master salt of any supported profile.
const MAX_SALT_LEN: usize = 14;

/// Base64 that accepts key||salt with or without `=` padding (peers differ for 28-byte GCM keys).
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A master key and master salt for one profile: the keying material of one direction.
#[derive(Clone)]
pub struct MasterKey {
    profile: Profile,
    key: [u8; MAX_KEY_LEN],
    salt: [u8; MAX_SALT_LEN],
}

impl MasterKey {
    /// A master key from raw key and salt bytes of the profile's lengths.
    pub fn new(profile: Profile, key: &[u8], salt: &[u8]) -> Result<MasterKey, KeyError> {
        if key.len() != profile.master_key_len() {
            return Err(KeyError::KeyLength {
                expected: profile.master_key_len(),
                actual: key.len(),
            });
        }
        if salt.len() != profile.master_salt_len() {
            return Err(KeyError::SaltLength {
                expected: profile.master_salt_len(),
                actual: salt.len(),
            });
        }
        let mut master = MasterKey {
            profile,
            key: [0; MAX_KEY_LEN],
            salt: [0; MAX_SALT_LEN],
        };
        master.key[..key.len()].copy_from_slice(key);
        master.salt[..salt.len()].copy_from_slice(salt);
        Ok(master)
    }

    /// A fresh master key from the system CSPRNG.
    pub fn random(profile: Profile) -> Result<MasterKey, KeyError> {
        let mut material = [0u8; MAX_KEY_LEN + MAX_SALT_LEN];
        let material = &mut material[..profile.master_key_len() + profile.master_salt_len()];
        aws_lc_rs::rand::fill(material).map_err(|_| KeyError::Random)?;
        let (key, salt) = material.split_at(profile.master_key_len());
        MasterKey::new(profile, key, salt)
    }

    /// Parses SDES key parameters `inline:<base64 key||salt>[|lifetime][|MKI:length]`.
    ///
    /// A lifetime (`2^31`, `1048576`) is accepted and ignored; an MKI is refused, since a
    /// session here holds exactly one master key.
    pub fn from_sdes_inline(profile: Profile, key_params: &str) -> Result<MasterKey, KeyError> {
        let key_info =
            strip_prefix_ignore_case(key_params, "inline:").ok_or(KeyError::NotInline)?;
        let mut fields = key_info.split('|');
        let key_salt = fields.next().unwrap_or_default();
        let mut lifetime_seen = false;
        for field in fields {
            if field.contains(':') {
                return Err(KeyError::MkiNotSupported);
            }
            if lifetime_seen || !is_lifetime(field) {
                return Err(KeyError::InvalidLifetime);
            }
            lifetime_seen = true;
        }
        let mut material = LENIENT_BASE64
            .decode(key_salt)
            .map_err(|_| KeyError::InvalidBase64)?;
        let expected = profile.master_key_len() + profile.master_salt_len();
        let parsed = if material.len() == expected {
            let (key, salt) = material.split_at(profile.master_key_len());
            MasterKey::new(profile, key, salt)
        } else {
            Err(KeyError::InlineLength {
                expected,
                actual: material.len(),
            })
        };
        material.fill(0);
        parsed
    }

    /// The SDES key parameters `inline:<base64 key||salt>` (padded standard base64, no lifetime, no MKI).
    pub fn to_sdes_inline(&self) -> String {
        let mut material = [0u8; MAX_KEY_LEN + MAX_SALT_LEN];
        let key = self.key();
        let salt = self.salt();
        material[..key.len()].copy_from_slice(key);
        material[key.len()..key.len() + salt.len()].copy_from_slice(salt);
        let inline = format!(
            "inline:{}",
            STANDARD.encode(&material[..key.len() + salt.len()])
        );
        material.fill(0);
        inline
    }

    /// The profile this key is for.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The master key bytes.
    pub fn key(&self) -> &[u8] {
        &self.key[..self.profile.master_key_len()]
    }

    /// The master salt bytes.
    pub fn salt(&self) -> &[u8] {
        &self.salt[..self.profile.master_salt_len()]
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// `text` without a leading `prefix`, compared ASCII case-insensitively (ABNF literals are).
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// RFC 4568 lifetime: `["2^"] 1*DIGIT`.
fn is_lifetime(field: &str) -> bool {
    let digits = field.strip_prefix("2^").unwrap_or(field);
    !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4568 §9.1's example key||salt (30 bytes, for AES_CM_128_HMAC_SHA1_80).
    const RFC_4568_KEY_SALT: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

    #[test]
    fn parses_the_rfc_4568_example_with_lifetime() {
        let params = format!("inline:{RFC_4568_KEY_SALT}|2^20");
        let master = MasterKey::from_sdes_inline(Profile::AesCm128HmacSha1_80, &params).unwrap();
        let material = STANDARD.decode(RFC_4568_KEY_SALT).unwrap();
        assert_eq!(master.key(), &material[..16]);
        assert_eq!(master.salt(), &material[16..]);
        assert_eq!(master.profile(), Profile::AesCm128HmacSha1_80);
    }

    #[test]
    fn accepts_and_ignores_lifetimes() {
        for lifetime in ["2^31", "2^48", "1048576"] {
            let params = format!("inline:{RFC_4568_KEY_SALT}|{lifetime}");
            assert!(MasterKey::from_sdes_inline(Profile::AesCm128HmacSha1_32, &params).is_ok());
        }
        for lifetime in ["", "2^", "2^x", "-1", "2**31"] {
            let params = format!("inline:{RFC_4568_KEY_SALT}|{lifetime}");
            assert_eq!(
                MasterKey::from_sdes_inline(Profile::AesCm128HmacSha1_80, &params).unwrap_err(),
                KeyError::InvalidLifetime,
                "{lifetime:?}"
            );
        }
    }

    #[test]
    fn refuses_an_mki() {
        for params in [
            format!("inline:{RFC_4568_KEY_SALT}|2^20|1:32"),
            format!("inline:{RFC_4568_KEY_SALT}|1:4"),
        ] {
            assert_eq!(
                MasterKey::from_sdes_inline(Profile::AesCm128HmacSha1_80, &params).unwrap_err(),
                KeyError::MkiNotSupported
            );
        }
        let params = format!("inline:{RFC_4568_KEY_SALT}|2^20|2^20");
        assert_eq!(
            MasterKey::from_sdes_inline(Profile::AesCm128HmacSha1_80, &params).unwrap_err(),
            KeyError::InvalidLifetime
        );
    }

    #[test]
    fn refuses_wrong_lengths_method_and_base64() {
        let params = format!("inline:{RFC_4568_KEY_SALT}");
        assert_eq!(
            MasterKey::from_sdes_inline(Profile::AeadAes128Gcm, &params).unwrap_err(),
            KeyError::InlineLength {
                expected: 28,
                actual: 30
            }
        );
        assert_eq!(
            MasterKey::from_sdes_inline(Profile::AesCm128HmacSha1_80, "inline:AAAA").unwrap_err(),
            KeyError::InlineLength {
                expected: 30,
                actual: 3
            }
        );
        assert_eq!(
            MasterKey::from_sdes_inline(Profile::AesCm128HmacSha1_80, RFC_4568_KEY_SALT)
                .unwrap_err(),
            KeyError::NotInline
        );
        assert_eq!(
            MasterKey::from_sdes_inline(Profile::AesCm128HmacSha1_80, "inline:not*base64")
                .unwrap_err(),
            KeyError::InvalidBase64
        );
        assert_eq!(
            MasterKey::new(Profile::AeadAes128Gcm, &[0; 16], &[0; 14]).unwrap_err(),
            KeyError::SaltLength {
                expected: 12,
                actual: 14
            }
        );
        assert_eq!(
            MasterKey::new(Profile::AeadAes128Gcm, &[0; 32], &[0; 12]).unwrap_err(),
            KeyError::KeyLength {
                expected: 16,
                actual: 32
            }
        );
    }

    #[test]
    fn inline_round_trips_for_every_profile() {
        for profile in Profile::ALL {
            let master = MasterKey::random(profile).unwrap();
            let inline = master.to_sdes_inline();
            assert!(inline.starts_with("inline:"));
            let parsed = MasterKey::from_sdes_inline(profile, &inline).unwrap();
            assert_eq!(parsed.key(), master.key());
            assert_eq!(parsed.salt(), master.salt());
        }
    }

    #[test]
    fn gcm_keys_parse_with_or_without_padding_and_any_method_case() {
        let master = MasterKey::random(Profile::AeadAes128Gcm).unwrap();
        let inline = master.to_sdes_inline();
        assert!(
            inline.ends_with('='),
            "28 bytes encode with one pad character"
        );
        let unpadded = inline.trim_end_matches('=').replace("inline:", "INLINE:");
        let parsed = MasterKey::from_sdes_inline(Profile::AeadAes128Gcm, &unpadded).unwrap();
        assert_eq!(parsed.key(), master.key());
        assert_eq!(parsed.salt(), master.salt());
    }

    #[test]
    fn random_keys_differ_and_debug_hides_them() {
        let first = MasterKey::random(Profile::AesCm128HmacSha1_80).unwrap();
        let second = MasterKey::random(Profile::AesCm128HmacSha1_80).unwrap();
        assert_ne!(first.key(), second.key());
        let debug = format!("{first:?}");
        assert!(!debug.contains(&format!("{:?}", first.key())), "{debug}");
    }
}
