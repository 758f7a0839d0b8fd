//! Thin wrappers over aws-lc-rs: AES-128 counter mode, HMAC-SHA1 and AES-128-GCM.
//!
//! None of them allocates per call.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{AES_128, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::constant_time;
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;

use crate::error::SrtpError;

/// AES block length in bytes.
pub(crate) const AES_BLOCK_LEN: usize = 16;
/// AES-128 key length in bytes.
pub(crate) const AES_128_KEY_LEN: usize = 16;
/// HMAC-SHA1 output length, and the SRTP authentication key length (RFC 3711 §8.2).
pub(crate) const HMAC_SHA1_LEN: usize = 20;
/// GCM nonce length in bytes (RFC 7714 §8.1).
pub(crate) const GCM_NONCE_LEN: usize = 12;
/// GCM tag length in bytes.
pub(crate) const GCM_TAG_LEN: usize = 16;

/// Longest input for one keystream: 2^16 blocks, so the 16-bit block counter never carries
/// into the packet index bits of the IV (RFC 3711 §4.1.1).
const MAX_KEYSTREAM_LEN: usize = AES_BLOCK_LEN << 16;

/// AES-128 in counter mode (RFC 3711 §4.1.1 "AES-CM"): XORs a keystream into data.
pub(crate) struct AesCm {
    key: EncryptingKey,
}

impl AesCm {
    /// A counter-mode cipher under a 16-byte key.
    pub(crate) fn new(key: &[u8; AES_128_KEY_LEN]) -> Result<AesCm, SrtpError> {
        let key = UnboundCipherKey::new(&AES_128, key).map_err(|_| SrtpError::Crypto)?;
        let key = EncryptingKey::ctr(key).map_err(|_| SrtpError::Crypto)?;
        Ok(AesCm { key })
    }

    /// XORs the keystream that starts at counter block `iv` into `data`.
    pub(crate) fn apply_keystream(
        &self,
        iv: [u8; AES_BLOCK_LEN],
        data: &mut [u8],
    ) -> Result<(), SrtpError> {
        if data.len() > MAX_KEYSTREAM_LEN {
            return Err(SrtpError::TooLarge);
        }
        if data.is_empty() {
            return Ok(());
        }
        let context = EncryptionContext::Iv128(FixedLength::from(iv));
        self.key
            .less_safe_encrypt(data, context)
            .map(|_| ())
            .map_err(|_| SrtpError::Crypto)
    }
}

/// HMAC-SHA1 over a message given in parts (RFC 3711 §4.2.1).
pub(crate) struct HmacSha1 {
    key: hmac::Key,
}

impl HmacSha1 {
    /// An HMAC-SHA1 key.
    pub(crate) fn new(key: &[u8; HMAC_SHA1_LEN]) -> HmacSha1 {
        HmacSha1 {
            key: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key),
        }
    }

    /// The full 20-byte tag over the concatenation of `parts`.
    pub(crate) fn sign(&self, parts: &[&[u8]]) -> [u8; HMAC_SHA1_LEN] {
        let mut context = hmac::Context::with_key(&self.key);
        for part in parts {
            context.update(part);
        }
        let mut tag = [0u8; HMAC_SHA1_LEN];
        tag.copy_from_slice(context.sign().as_ref());
        tag
    }

    /// Checks, in constant time, that `tag` is the leading bytes of the tag over `parts`.
    pub(crate) fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> Result<(), SrtpError> {
        let expected = self.sign(parts);
        let expected = expected.get(..tag.len()).ok_or(SrtpError::Crypto)?;
        constant_time::verify_slices_are_equal(expected, tag)
            .map_err(|_| SrtpError::AuthenticationFailed)
    }
}

/// AES-128-GCM with a 16-byte tag (RFC 7714 §5).
pub(crate) struct AesGcm {
    key: LessSafeKey,
}

impl AesGcm {
    /// A GCM cipher under a 16-byte key.
    pub(crate) fn new(key: &[u8; AES_128_KEY_LEN]) -> Result<AesGcm, SrtpError> {
        let key = UnboundKey::new(&aead::AES_128_GCM, key).map_err(|_| SrtpError::Crypto)?;
        Ok(AesGcm {
            key: LessSafeKey::new(key),
        })
    }

    /// Encrypts `in_out` in place and returns the tag over `aad` and the ciphertext.
    pub(crate) fn seal(
        &self,
        nonce: [u8; GCM_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<[u8; GCM_TAG_LEN], SrtpError> {
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), in_out)
            .map_err(|_| SrtpError::Crypto)?;
        let mut out = [0u8; GCM_TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Verifies `tag` over `aad` and `in_out`, then decrypts `in_out` in place.
    pub(crate) fn open(
        &self,
        nonce: [u8; GCM_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8],
    ) -> Result<(), SrtpError> {
        self.key
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                tag,
                in_out,
            )
            .map(|_| ())
            .map_err(|_| SrtpError::AuthenticationFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes<const N: usize>(text: &str) -> [u8; N] {
        hex::decode(text).unwrap().try_into().unwrap()
    }

    /// RFC 3711 Appendix B.2: the AES-CM keystream from the session key and a counter block.
    #[test]
    fn aes_cm_keystream_matches_rfc_3711_b2() {
        let cipher = AesCm::new(&bytes("2B7E151628AED2A6ABF7158809CF4F3C")).unwrap();

        let mut keystream = [0u8; 48];
        cipher
            .apply_keystream(bytes("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"), &mut keystream)
            .unwrap();
        assert_eq!(
            hex::encode_upper(keystream),
            "E03EAD0935C95E80E166B16DD92B4EB4\
             D23513162B02D0F72A43A2FE4A5F97AB\
             41E95B3BB0A2E8DD477901E4FCA894C0"
        );

        let mut keystream = [0u8; 48];
        cipher
            .apply_keystream(bytes("F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF"), &mut keystream)
            .unwrap();
        assert_eq!(
            hex::encode_upper(keystream),
            "EC8CDF7398607CB0F2D21675EA9EA1E4\
             362B7C3C6773516318A077D7FC5073AE\
             6A2CC3787889374FBEB4C81B17BA6C44"
        );
    }

    #[test]
    fn aes_cm_refuses_more_than_one_counter_space() {
        let cipher = AesCm::new(&[7; 16]).unwrap();
        let mut data = vec![0u8; MAX_KEYSTREAM_LEN + 1];
        assert_eq!(
            cipher.apply_keystream([0; 16], &mut data),
            Err(SrtpError::TooLarge)
        );
        assert_eq!(
            cipher.apply_keystream([0; 16], &mut data[..MAX_KEYSTREAM_LEN]),
            Ok(())
        );
    }

    /// RFC 2202 test case 2: HMAC-SHA1 with key "Jefe".
    #[test]
    fn hmac_sha1_signs_parts_as_one_message() {
        let mut key = [0u8; HMAC_SHA1_LEN];
        key[..4].copy_from_slice(b"Jefe");
        // RFC 2202's key is 4 bytes; HMAC pads short keys with zeros, so the 20-byte
        // zero-padded key gives the same tag.
        let hmac = HmacSha1::new(&key);
        let tag = hmac.sign(&[b"what do ya want ", b"for nothing?"]);
        assert_eq!(hex::encode(tag), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
        assert_eq!(
            hmac.verify(&[b"what do ya want for nothing?"], &tag[..10]),
            Ok(())
        );
        assert_eq!(
            hmac.verify(&[b"what do ya want for nothing!"], &tag[..10]),
            Err(SrtpError::AuthenticationFailed)
        );
    }

    #[test]
    fn gcm_open_refuses_a_changed_aad() {
        let gcm = AesGcm::new(&[1; 16]).unwrap();
        let mut data = *b"payload";
        let tag = gcm.seal([2; 12], b"header", &mut data).unwrap();
        assert_ne!(&data, b"payload");
        let mut copy = data;
        assert_eq!(
            gcm.open([2; 12], b"Header", &mut copy, &tag),
            Err(SrtpError::AuthenticationFailed)
        );
        gcm.open([2; 12], b"header", &mut data, &tag).unwrap();
        assert_eq!(&data, b"payload");
    }
}
