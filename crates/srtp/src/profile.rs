//! The SRTP crypto suites Weft negotiates, under their RFC 4568 names.

/// An SRTP protection profile (an SDES "crypto-suite").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// AES-128 counter mode, HMAC-SHA1 tag of 80 bits on SRTP and SRTCP (RFC 3711, RFC 4568 §6.2.1).
    AesCm128HmacSha1_80,
    /// AES-128 counter mode, HMAC-SHA1 tag of 32 bits on SRTP and 80 bits on SRTCP (RFC 4568 §6.2.2).
    AesCm128HmacSha1_32,
    /// AES-128 in GCM with a 16-byte tag and a 12-byte master salt (RFC 7714).
    AeadAes128Gcm,
    /// AES-256 in GCM with a 16-byte tag and a 12-byte master salt; keys are derived with
    /// the AES-256 PRF (RFC 7714 §11, RFC 6188 §7). DTLS-SRTP peers negotiate it; Weft's SIP
    /// legs do not offer it.
    AeadAes256Gcm,
}

impl Profile {
    /// Every supported profile, strongest first.
    pub const ALL: [Profile; 4] = [
        Profile::AeadAes256Gcm,
        Profile::AeadAes128Gcm,
        Profile::AesCm128HmacSha1_80,
        Profile::AesCm128HmacSha1_32,
    ];

    /// The profile with this SDES crypto-suite name (ABNF literals are case-insensitive).
    pub fn from_sdes_name(name: &str) -> Option<Profile> {
        Profile::ALL
            .into_iter()
            .find(|profile| profile.sdes_name().eq_ignore_ascii_case(name))
    }

    /// The SDES crypto-suite name, e.g. `AES_CM_128_HMAC_SHA1_80`.
    pub fn sdes_name(self) -> &'static str {
        match self {
            Profile::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Profile::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Profile::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Profile::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// Master key length in bytes, and the length of the session encryption keys.
    pub fn master_key_len(self) -> usize {
        match self {
            Profile::AesCm128HmacSha1_80
            | Profile::AesCm128HmacSha1_32
            | Profile::AeadAes128Gcm => 16,
            Profile::AeadAes256Gcm => 32,
        }
    }

    /// Master salt length in bytes.
    pub fn master_salt_len(self) -> usize {
        match self {
            Profile::AesCm128HmacSha1_80 | Profile::AesCm128HmacSha1_32 => 14,
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 12,
        }
    }

    /// Authentication tag length of an SRTP packet in bytes: the bytes protection appends.
    pub fn rtp_auth_tag_len(self) -> usize {
        match self {
            Profile::AesCm128HmacSha1_80 => 10,
            Profile::AesCm128HmacSha1_32 => 4,
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 16,
        }
    }

    /// Authentication tag length of an SRTCP packet in bytes.
    pub fn rtcp_auth_tag_len(self) -> usize {
        match self {
            Profile::AesCm128HmacSha1_80 | Profile::AesCm128HmacSha1_32 => 10,
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 16,
        }
    }

    /// Bytes SRTCP protection appends: the tag plus the 4-byte E flag and SRTCP index.
    pub fn rtcp_overhead(self) -> usize {
        self.rtcp_auth_tag_len() + 4
    }

    /// Whether the profile is an AEAD (GCM) one, authenticated by the cipher itself.
    pub(crate) fn is_aead(self) -> bool {
        matches!(self, Profile::AeadAes128Gcm | Profile::AeadAes256Gcm)
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.sdes_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdes_names_round_trip() {
        for profile in Profile::ALL {
            assert_eq!(Profile::from_sdes_name(profile.sdes_name()), Some(profile));
        }
        assert_eq!(
            Profile::from_sdes_name("aes_cm_128_hmac_sha1_80"),
            Some(Profile::AesCm128HmacSha1_80)
        );
        assert_eq!(
            Profile::from_sdes_name("aead_aes_256_gcm"),
            Some(Profile::AeadAes256Gcm)
        );
        assert_eq!(Profile::from_sdes_name("AES_256_CM_HMAC_SHA1_80"), None);
        assert_eq!(Profile::from_sdes_name(""), None);
    }

    #[test]
    fn lengths_follow_rfc_4568_and_7714() {
        let lengths = |p: Profile| {
            (
                p.master_key_len(),
                p.master_salt_len(),
                p.rtp_auth_tag_len(),
                p.rtcp_auth_tag_len(),
                p.rtcp_overhead(),
            )
        };
        assert_eq!(lengths(Profile::AesCm128HmacSha1_80), (16, 14, 10, 10, 14));
        assert_eq!(lengths(Profile::AesCm128HmacSha1_32), (16, 14, 4, 10, 14));
        assert_eq!(lengths(Profile::AeadAes128Gcm), (16, 12, 16, 16, 20));
        assert_eq!(lengths(Profile::AeadAes256Gcm), (32, 12, 16, 16, 20));
    }
}
