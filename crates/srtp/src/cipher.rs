//! Thin wrappers over aws-lc-rs: AES counter mode, HMAC-SHA1 and AES-GCM, with 128- or
//! 256-bit keys.
//!
//! None of them allocates per call.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{AES_128, AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::constant_time;
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;

use crate::error::SrtpError;

/// AES block length in bytes.
pub(crate) const AES_BLOCK_LEN: usize = 16;
/// AES-128 key length in bytes.
const AES_128_KEY_LEN: usize = 16;
/// AES-256 key length in bytes: the longest session encryption key of any profile.
pub(crate) const MAX_CIPHER_KEY_LEN: usize = 32;
/// HMAC-SHA1 output length, and the SRTP authentication key length (RFC 3711 §8.2).
pub(crate) const HMAC_SHA1_LEN: usize = 20;
/// GCM nonce length in bytes (RFC 7714 §8.1).
pub(crate) const GCM_NONCE_LEN: usize = 12;
/// GCM tag length in bytes.
pub(crate) const GCM_TAG_LEN: usize = 16;

/// Longest input for one keystream: 2^16 blocks, so the 16-bit block counter never carries
/// into the packet index bits of the IV (RFC 3711 §4.1.1).
const MAX_KEYSTREAM_LEN: usize = AES_BLOCK_LEN << 16;

/// Keystream generated per step when encrypting into a separate buffer: 32 blocks on the stack.
const KEYSTREAM_CHUNK_LEN: usize = 32 * AES_BLOCK_LEN;

/// AES in counter mode (RFC 3711 §4.1.1 "AES-CM"; RFC 6188 for AES-256): XORs a keystream
/// into data.
pub(crate) struct AesCm {
    key: EncryptingKey,
}

impl AesCm {
    /// A counter-mode cipher under a 16-byte (AES-128) or 32-byte (AES-256) key.
    pub(crate) fn new(key: &[u8]) -> Result<AesCm, SrtpError> {
        let algorithm = match key.len() {
            AES_128_KEY_LEN => &AES_128,
            MAX_CIPHER_KEY_LEN => &AES_256,
            _ => return Err(SrtpError::Crypto),
        };
        let key = UnboundCipherKey::new(algorithm, key).map_err(|_| SrtpError::Crypto)?;
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

    /// Writes `input` XOR the keystream that starts at counter block `iv` into `output`, which
    /// must be as long as `input`: encryption without first copying `input` into `output`.
    pub(crate) fn apply_keystream_into(
        &self,
        iv: [u8; AES_BLOCK_LEN],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), SrtpError> {
        if input.len() != output.len() {
            return Err(SrtpError::Crypto);
        }
        if input.len() > MAX_KEYSTREAM_LEN {
            return Err(SrtpError::TooLarge);
        }
        let counter = u128::from_be_bytes(iv);
        let chunks = input
            .chunks(KEYSTREAM_CHUNK_LEN)
            .zip(output.chunks_mut(KEYSTREAM_CHUNK_LEN));
        for (number, (input, output)) in chunks.enumerate() {
            let blocks = (number * KEYSTREAM_CHUNK_LEN / AES_BLOCK_LEN) as u128;
            let mut keystream = [0u8; KEYSTREAM_CHUNK_LEN];
            let keystream = &mut keystream[..input.len()];
            self.apply_keystream(counter.wrapping_add(blocks).to_be_bytes(), keystream)?;
            for ((out, plain), key) in output.iter_mut().zip(input).zip(keystream.iter()) {
                *out = plain ^ key;
            }
        }
        Ok(())
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

/// AES-GCM with a 16-byte tag (RFC 7714 §5), AES-128 or AES-256.
pub(crate) struct AesGcm {
    key: LessSafeKey,
}

impl AesGcm {
    /// A GCM cipher under a 16-byte (AES-128) or 32-byte (AES-256) key.
    pub(crate) fn new(key: &[u8]) -> Result<AesGcm, SrtpError> {
        let algorithm = match key.len() {
            AES_128_KEY_LEN => &aead::AES_128_GCM,
            MAX_CIPHER_KEY_LEN => &aead::AES_256_GCM,
            _ => return Err(SrtpError::Crypto),
        };
        let key = UnboundKey::new(algorithm, key).map_err(|_| SrtpError::Crypto)?;
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

    /// Encrypts `input` into `ciphertext` (as long as `input`) and writes the tag over `aad`
    /// and the ciphertext into `tag`, leaving `input` untouched.
    pub(crate) fn seal_into(
        &self,
        nonce: [u8; GCM_NONCE_LEN],
        aad: &[u8],
        input: &[u8],
        ciphertext: &mut [u8],
        tag: &mut [u8; GCM_TAG_LEN],
    ) -> Result<(), SrtpError> {
        self.key
            .seal_out_of_place_scatter(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                input,
                ciphertext,
                &[],
                tag,
            )
            .map_err(|_| SrtpError::Crypto)
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
        let cipher = AesCm::new(&bytes::<16>("2B7E151628AED2A6ABF7158809CF4F3C")).unwrap();

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
    fn keys_of_other_lengths_are_refused() {
        for len in [0, 15, 17, 24, 31, 33] {
            let key = vec![1u8; len];
            assert!(AesCm::new(&key).is_err(), "{len}");
            assert!(AesGcm::new(&key).is_err(), "{len}");
        }
    }

    /// Encrypting into a separate buffer gives the in-place result, across chunk boundaries
    /// and for both key sizes.
    #[test]
    fn aes_cm_into_matches_in_place() {
        for key_len in [16, MAX_CIPHER_KEY_LEN] {
            let key: Vec<u8> = (0..key_len as u8).collect();
            let cipher = AesCm::new(&key).unwrap();
            let iv = bytes::<16>("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000");
            for len in [0, 1, 15, 16, 17, 511, 512, 513, 1024, 1300, 4099] {
                let plain: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let mut in_place = plain.clone();
                cipher.apply_keystream(iv, &mut in_place).unwrap();
                let mut into = vec![0xeeu8; len];
                cipher.apply_keystream_into(iv, &plain, &mut into).unwrap();
                assert_eq!(into, in_place, "key {key_len}, length {len}");
            }
            let mut short = [0u8; 3];
            assert_eq!(
                cipher.apply_keystream_into(iv, &[0; 4], &mut short),
                Err(SrtpError::Crypto)
            );
        }
    }

    #[test]
    fn gcm_seal_into_matches_in_place() {
        for key_len in [16, MAX_CIPHER_KEY_LEN] {
            let gcm = AesGcm::new(&vec![9u8; key_len]).unwrap();
            let plain = *b"a payload of some length";
            let mut in_place = plain;
            let tag = gcm.seal([3; 12], b"header", &mut in_place).unwrap();
            let mut ciphertext = [0u8; 24];
            let mut separate_tag = [0u8; GCM_TAG_LEN];
            gcm.seal_into(
                [3; 12],
                b"header",
                &plain,
                &mut ciphertext,
                &mut separate_tag,
            )
            .unwrap();
            assert_eq!(ciphertext, in_place);
            assert_eq!(separate_tag, tag);
            assert_eq!(
                gcm.seal_into([3; 12], b"header", &plain, &mut [0; 23], &mut separate_tag),
                Err(SrtpError::Crypto)
            );
        }
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
