//! The SRTCP packet transform for one master key (RFC 3711 §3.4; RFC 7714 §9).
//!
//! Wire layouts after the 8-byte RTCP header (which stays in clear):
//! - AES-CM: `ciphertext || E|index || tag(10)`, the tag covering everything before it;
//! - GCM: `ciphertext || tag(16) || E|index`, with `header || E|index` as associated data
//!   when E is set, and the whole packet with `E|index` as associated data when it is not.

use crate::cipher::{
    AesCm, AesGcm, GCM_NONCE_LEN, GCM_TAG_LEN, HMAC_SHA1_LEN, HmacSha1, MAX_CIPHER_KEY_LEN,
};
use crate::error::SrtpError;
use crate::kdf::{KeyDerivation, Label};
use crate::key::MasterKey;
use crate::rtp::RTCP_HEADER_LEN;
use crate::srtp::{AES_CM_SALT_LEN, aes_cm_iv};

/// Length of the `E || SRTCP index` word.
const INDEX_LEN: usize = 4;
/// The E (encrypted) flag in the index word.
const ENCRYPTED_FLAG: u32 = 1 << 31;
/// Largest SRTCP index (31 bits).
pub(crate) const MAX_RTCP_INDEX: u32 = ENCRYPTED_FLAG - 1;
/// The SRTCP tag length of the AES-CM profiles (80 bits for both, RFC 4568 §6.2).
const AES_CM_TAG_LEN: usize = 10;

/// The session keys of SRTCP, per cipher family.
enum Cipher {
    /// AES-CM encryption with HMAC-SHA1-80 authentication.
    AesCmHmac {
        cipher: Box<AesCm>,
        auth: Box<HmacSha1>,
        salt: [u8; AES_CM_SALT_LEN],
    },
    /// AES-GCM.
    Gcm {
        cipher: AesGcm,
        salt: [u8; GCM_NONCE_LEN],
    },
}

/// The `E || SRTCP index` word of a received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trailer {
    /// Whether the sender encrypted the packet body.
    pub(crate) encrypted: bool,
    /// The 31-bit SRTCP index.
    pub(crate) index: u32,
}

/// SRTCP protection of single (compound) RTCP packets.
pub(crate) struct SrtcpTransform {
    cipher: Cipher,
}

impl SrtcpTransform {
    /// The transform keyed by the SRTCP session keys of `master`.
    pub(crate) fn new(master: &MasterKey) -> Result<SrtcpTransform, SrtpError> {
        let kdf = KeyDerivation::new(master)?;
        let mut cipher_key = [0u8; MAX_CIPHER_KEY_LEN];
        let cipher_key = &mut cipher_key[..master.profile().master_key_len()];
        kdf.derive(Label::RtcpEncryption, cipher_key)?;
        let cipher = if master.profile().is_aead() {
            Cipher::Gcm {
                cipher: AesGcm::new(cipher_key)?,
                salt: kdf.derive_array(Label::RtcpSalt)?,
            }
        } else {
            let auth_key: [u8; HMAC_SHA1_LEN] = kdf.derive_array(Label::RtcpAuthentication)?;
            Cipher::AesCmHmac {
                cipher: Box::new(AesCm::new(cipher_key)?),
                auth: Box::new(HmacSha1::new(&auth_key)),
                salt: kdf.derive_array(Label::RtcpSalt)?,
            }
        };
        cipher_key.fill(0);
        Ok(SrtcpTransform { cipher })
    }

    /// Bytes `protect` appends: the tag and the index word.
    fn overhead(&self) -> usize {
        INDEX_LEN
            + match self.cipher {
                Cipher::AesCmHmac { .. } => AES_CM_TAG_LEN,
                Cipher::Gcm { .. } => GCM_TAG_LEN,
            }
    }

    /// Encrypts the body after the RTCP header in place and appends tag and index (E set).
    pub(crate) fn protect(
        &self,
        packet: &mut Vec<u8>,
        ssrc: u32,
        index: u32,
    ) -> Result<(), SrtpError> {
        if packet.len() < RTCP_HEADER_LEN {
            return Err(SrtpError::Truncated);
        }
        let index_word = (ENCRYPTED_FLAG | index).to_be_bytes();
        match &self.cipher {
            Cipher::AesCmHmac { cipher, auth, salt } => {
                let iv = aes_cm_iv(salt, ssrc, u64::from(index));
                cipher.apply_keystream(iv, &mut packet[RTCP_HEADER_LEN..])?;
                packet.extend_from_slice(&index_word);
                let tag = auth.sign(&[packet.as_slice()]);
                packet.extend_from_slice(&tag[..AES_CM_TAG_LEN]);
            }
            Cipher::Gcm { cipher, salt } => {
                let aad = encrypted_aad(&packet[..RTCP_HEADER_LEN], index_word);
                let tag = cipher.seal(
                    gcm_iv(salt, ssrc, index),
                    &aad,
                    &mut packet[RTCP_HEADER_LEN..],
                )?;
                packet.extend_from_slice(&tag);
                packet.extend_from_slice(&index_word);
            }
        }
        Ok(())
    }

    /// Reads the E flag and SRTCP index of a received packet.
    pub(crate) fn trailer(&self, packet: &[u8]) -> Result<Trailer, SrtpError> {
        let start = packet
            .len()
            .checked_sub(self.overhead())
            .filter(|&body_end| body_end >= RTCP_HEADER_LEN)
            .ok_or(SrtpError::Truncated)?;
        let at = match self.cipher {
            Cipher::AesCmHmac { .. } => start,
            Cipher::Gcm { .. } => start + GCM_TAG_LEN,
        };
        let word = u32::from_be_bytes([packet[at], packet[at + 1], packet[at + 2], packet[at + 3]]);
        Ok(Trailer {
            encrypted: word & ENCRYPTED_FLAG != 0,
            index: word & MAX_RTCP_INDEX,
        })
    }

    /// Verifies the packet and decrypts its body in place if E is set; returns the plain
    /// RTCP length. `trailer` is what [`Self::trailer`] read from this packet.
    pub(crate) fn unprotect(
        &self,
        packet: &mut [u8],
        ssrc: u32,
        trailer: Trailer,
    ) -> Result<usize, SrtpError> {
        let plain_len = packet
            .len()
            .checked_sub(self.overhead())
            .filter(|&len| len >= RTCP_HEADER_LEN)
            .ok_or(SrtpError::Truncated)?;
        match &self.cipher {
            Cipher::AesCmHmac { cipher, auth, salt } => {
                let (authenticated, tag) = packet.split_at_mut(plain_len + INDEX_LEN);
                auth.verify(&[authenticated], tag)?;
                if trailer.encrypted {
                    let iv = aes_cm_iv(salt, ssrc, u64::from(trailer.index));
                    cipher.apply_keystream(iv, &mut authenticated[RTCP_HEADER_LEN..plain_len])?;
                }
            }
            Cipher::Gcm { cipher, salt } => {
                let iv = gcm_iv(salt, ssrc, trailer.index);
                if trailer.encrypted {
                    let (body, rest) = packet.split_at_mut(plain_len);
                    let (tag, index_word) = rest.split_at(GCM_TAG_LEN);
                    let index_word = index_word.try_into().map_err(|_| SrtpError::Truncated)?;
                    let aad = encrypted_aad(&body[..RTCP_HEADER_LEN], index_word);
                    cipher.open(iv, &aad, &mut body[RTCP_HEADER_LEN..], tag)?;
                } else {
                    // Associated data is `packet || E|index`; move the index word in front of
                    // the tag so that it is contiguous, then authenticate an empty plaintext.
                    packet[plain_len..].rotate_left(GCM_TAG_LEN);
                    let (aad, tag) = packet.split_at_mut(plain_len + INDEX_LEN);
                    cipher.open(iv, aad, &mut [], tag)?;
                }
            }
        }
        Ok(plain_len)
    }
}

/// GCM associated data of an encrypted SRTCP packet: `header || E|index` (RFC 7714 §9.2).
fn encrypted_aad(header: &[u8], index_word: [u8; INDEX_LEN]) -> [u8; RTCP_HEADER_LEN + INDEX_LEN] {
    let mut aad = [0u8; RTCP_HEADER_LEN + INDEX_LEN];
    aad[..RTCP_HEADER_LEN].copy_from_slice(header);
    aad[RTCP_HEADER_LEN..].copy_from_slice(&index_word);
    aad
}

/// GCM IV: `(0x0000 || SSRC || 0x0000 || 0 || SRTCP index) XOR salt` (RFC 7714 §9.1).
fn gcm_iv(salt: &[u8; GCM_NONCE_LEN], ssrc: u32, index: u32) -> [u8; GCM_NONCE_LEN] {
    let mut iv = [0u8; GCM_NONCE_LEN];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    iv[8..12].copy_from_slice(&index.to_be_bytes());
    for (byte, salt) in iv.iter_mut().zip(salt) {
        *byte ^= salt;
    }
    iv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    /// The RTCP packet of RFC 7714 §17 (sender report from SSRC "Mars").
    const RFC_7714_RTCP: &str = concat!(
        "81c8000d4d617273",
        "4e5450314e545032525450200000042a",
        "0000e9304c756e61",
        "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef"
    );
    const RFC_7714_SSRC: u32 = 0x4d61_7273;
    const RFC_7714_INDEX: u32 = 0x5d4;

    const RFC_7714_KEY_128: &str = "000102030405060708090a0b0c0d0e0f";
    const RFC_7714_KEY_256: &str =
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn gcm_with_session_keys() -> SrtcpTransform {
        gcm_with_session_key(RFC_7714_KEY_128)
    }

    fn gcm_with_session_key(key: &str) -> SrtcpTransform {
        SrtcpTransform {
            cipher: Cipher::Gcm {
                cipher: AesGcm::new(&hex::decode(key).unwrap()).unwrap(),
                salt: hex::decode("517569642070726f2071756f")
                    .unwrap()
                    .try_into()
                    .unwrap(),
            },
        }
    }

    /// RFC 7714 §17.1: SRTCP AEAD_AES_128_GCM, encrypted (E = 1), index 0x5d4.
    #[test]
    fn gcm_matches_rfc_7714_17_1() {
        let transform = gcm_with_session_keys();
        let protected = concat!(
            "81c8000d4d617273",
            "63e94885dcdab67ca727d7662f6b7e99",
            "7ff5c0f76c06f32dc676a5f1730d6fda",
            "4ce09b4686303ded0bb9275b",
            "c84aa45896cf4d2fc5abf87245d9eade",
            "800005d4"
        );
        let plain = hex::decode(RFC_7714_RTCP).unwrap();

        let mut packet = plain.clone();
        transform
            .protect(&mut packet, RFC_7714_SSRC, RFC_7714_INDEX)
            .unwrap();
        assert_eq!(hex::encode(&packet), protected);

        let trailer = transform.trailer(&packet).unwrap();
        assert_eq!(
            trailer,
            Trailer {
                encrypted: true,
                index: RFC_7714_INDEX
            }
        );
        assert_eq!(
            transform.unprotect(&mut packet, RFC_7714_SSRC, trailer),
            Ok(plain.len())
        );
        assert_eq!(packet[..plain.len()], plain);
    }

    /// RFC 7714 §17.2: SRTCP AEAD_AES_256_GCM, encrypted (E = 1), index 0x5d4.
    #[test]
    fn gcm_256_matches_rfc_7714_17_2() {
        let transform = gcm_with_session_key(RFC_7714_KEY_256);
        let protected = concat!(
            "81c8000d4d617273",
            "d50ae4d1f5ce5d304ba297e47d470c28",
            "2c3ece5dbffe0a50a2eaa5c1110555be",
            "8415f658c61de0476f1b6fad",
            "1d1eb30c4446839f57ff6f6cb26ac3be",
            "800005d4"
        );
        let plain = hex::decode(RFC_7714_RTCP).unwrap();

        let mut packet = plain.clone();
        transform
            .protect(&mut packet, RFC_7714_SSRC, RFC_7714_INDEX)
            .unwrap();
        assert_eq!(hex::encode(&packet), protected);

        let trailer = transform.trailer(&packet).unwrap();
        assert_eq!(
            transform.unprotect(&mut packet, RFC_7714_SSRC, trailer),
            Ok(plain.len())
        );
        assert_eq!(packet[..plain.len()], plain);
    }

    /// RFC 7714 §17.3: SRTCP AEAD_AES_128_GCM, authenticated only (E = 0).
    #[test]
    fn gcm_reads_rfc_7714_17_3_unencrypted_packets() {
        let transform = gcm_with_session_keys();
        let protected = format!("{RFC_7714_RTCP}841dd9683dd78ec92ae58790125f62b3000005d4");
        let mut packet = hex::decode(&protected).unwrap();

        let trailer = transform.trailer(&packet).unwrap();
        assert_eq!(
            trailer,
            Trailer {
                encrypted: false,
                index: RFC_7714_INDEX
            }
        );
        let plain_len = transform
            .unprotect(&mut packet, RFC_7714_SSRC, trailer)
            .unwrap();
        assert_eq!(hex::encode(&packet[..plain_len]), RFC_7714_RTCP);

        // A changed body fails, E = 0 or not.
        let mut packet = hex::decode(&protected).unwrap();
        packet[20] ^= 1;
        assert_eq!(
            transform.unprotect(&mut packet, RFC_7714_SSRC, trailer),
            Err(SrtpError::AuthenticationFailed)
        );
    }

    #[test]
    fn gcm_iv_matches_rfc_7714_17() {
        let salt = hex::decode("517569642070726f2071756f")
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            hex::encode(gcm_iv(&salt, RFC_7714_SSRC, RFC_7714_INDEX)),
            "517524055203726f207170bb"
        );
    }

    /// libSRTP's reference SRTCP packet (test/srtp_driver.c): the RFC 3711 B.3 master key,
    /// AES_CM_128_HMAC_SHA1_80, SSRC 0xcafebabe, SRTCP index 1.
    #[test]
    fn aes_cm_matches_libsrtp_reference_packet() {
        let master = MasterKey::new(
            Profile::AesCm128HmacSha1_80,
            &hex::decode("e1f97a0d3e018be0d64fa32c06de4139").unwrap(),
            &hex::decode("0ec675ad498afeebb6960b3aabe6").unwrap(),
        )
        .unwrap();
        let plain = hex::decode("81c8000bcafebabeabababababababababababababababab").unwrap();
        let protected = concat!(
            "81c8000bcafebabe",
            "7128035be487b9bdbef89041f977a5a8",
            "80000001",
            "993e08cd54d6c1230798"
        );

        let transform = SrtcpTransform::new(&master).unwrap();
        let mut packet = plain.clone();
        transform.protect(&mut packet, 0xcafe_babe, 1).unwrap();
        assert_eq!(hex::encode(&packet), protected);

        let trailer = transform.trailer(&packet).unwrap();
        assert_eq!(
            trailer,
            Trailer {
                encrypted: true,
                index: 1
            }
        );
        assert_eq!(
            transform.unprotect(&mut packet, 0xcafe_babe, trailer),
            Ok(plain.len())
        );
        assert_eq!(packet[..plain.len()], plain);
    }

    #[test]
    fn aes_cm_reads_unencrypted_packets() {
        let master = MasterKey::random(Profile::AesCm128HmacSha1_32).unwrap();
        let transform = SrtcpTransform::new(&master).unwrap();
        let Cipher::AesCmHmac { auth, .. } = &transform.cipher else {
            unreachable!("an AES-CM profile");
        };
        // Build an E = 0 packet by hand: plain body, index word without E, 80-bit tag.
        let plain = hex::decode("81c8000bcafebabeabababababababab").unwrap();
        let mut packet = plain.clone();
        packet.extend_from_slice(&7u32.to_be_bytes());
        let tag = auth.sign(&[packet.as_slice()]);
        packet.extend_from_slice(&tag[..10]);

        let trailer = transform.trailer(&packet).unwrap();
        assert_eq!(
            trailer,
            Trailer {
                encrypted: false,
                index: 7
            }
        );
        assert_eq!(
            transform.unprotect(&mut packet, 0xcafe_babe, trailer),
            Ok(plain.len())
        );
        assert_eq!(packet[..plain.len()], plain);
    }

    #[test]
    fn short_packets_are_truncated_not_panics() {
        for profile in Profile::ALL {
            let master = MasterKey::random(profile).unwrap();
            let transform = SrtcpTransform::new(&master).unwrap();
            let minimum = RTCP_HEADER_LEN + profile.rtcp_overhead();
            for len in 0..minimum {
                let mut packet = vec![0x80; len];
                assert_eq!(transform.trailer(&packet), Err(SrtpError::Truncated));
                let trailer = Trailer {
                    encrypted: true,
                    index: 0,
                };
                assert_eq!(
                    transform.unprotect(&mut packet, 0, trailer),
                    Err(SrtpError::Truncated)
                );
            }
            let mut packet = vec![0x80; minimum];
            assert!(transform.trailer(&packet).is_ok());
            let trailer = transform.trailer(&packet).unwrap();
            assert_eq!(
                transform.unprotect(&mut packet, 0, trailer),
                Err(SrtpError::AuthenticationFailed)
            );
        }
    }
}
