//! The SRTP packet transform for one master key: encryption and authentication of an RTP
//! packet whose index is already known (RFC 3711 §3.1, §4; RFC 7714 §8).

use crate::cipher::{
    AES_BLOCK_LEN, AesCm, AesGcm, GCM_NONCE_LEN, GCM_TAG_LEN, HMAC_SHA1_LEN, HmacSha1,
    MAX_CIPHER_KEY_LEN,
};
use crate::error::SrtpError;
use crate::kdf::{KeyDerivation, Label};
use crate::key::MasterKey;

/// Session salt length of the AES-CM profiles (RFC 3711 §8.2).
pub(crate) const AES_CM_SALT_LEN: usize = 14;

/// The session keys of one direction, per cipher family.
enum Cipher {
    /// AES-CM encryption with HMAC-SHA1 authentication truncated to `tag_len`.
    AesCmHmac {
        cipher: Box<AesCm>,
        auth: Box<HmacSha1>,
        salt: [u8; AES_CM_SALT_LEN],
        tag_len: usize,
    },
    /// AES-GCM.
    Gcm {
        cipher: AesGcm,
        salt: [u8; GCM_NONCE_LEN],
    },
}

/// SRTP protection of single RTP packets.
pub(crate) struct SrtpTransform {
    cipher: Cipher,
}

impl SrtpTransform {
    /// The transform keyed by the SRTP session keys of `master`.
    pub(crate) fn new(master: &MasterKey) -> Result<SrtpTransform, SrtpError> {
        let kdf = KeyDerivation::new(master)?;
        let mut cipher_key = [0u8; MAX_CIPHER_KEY_LEN];
        let cipher_key = &mut cipher_key[..master.profile().master_key_len()];
        kdf.derive(Label::RtpEncryption, cipher_key)?;
        let cipher = if master.profile().is_aead() {
            Cipher::Gcm {
                cipher: AesGcm::new(cipher_key)?,
                salt: kdf.derive_array(Label::RtpSalt)?,
            }
        } else {
            let auth_key: [u8; HMAC_SHA1_LEN] = kdf.derive_array(Label::RtpAuthentication)?;
            Cipher::AesCmHmac {
                cipher: Box::new(AesCm::new(cipher_key)?),
                auth: Box::new(HmacSha1::new(&auth_key)),
                salt: kdf.derive_array(Label::RtpSalt)?,
                tag_len: master.profile().rtp_auth_tag_len(),
            }
        };
        cipher_key.fill(0);
        Ok(SrtpTransform { cipher })
    }

    /// Bytes `protect` appends.
    pub(crate) fn tag_len(&self) -> usize {
        match &self.cipher {
            Cipher::AesCmHmac { tag_len, .. } => *tag_len,
            Cipher::Gcm { .. } => GCM_TAG_LEN,
        }
    }

    /// Encrypts the payload after `header_len` in place and appends the tag.
    pub(crate) fn protect(
        &self,
        packet: &mut Vec<u8>,
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<(), SrtpError> {
        match &self.cipher {
            Cipher::AesCmHmac {
                cipher,
                auth,
                salt,
                tag_len,
            } => {
                cipher.apply_keystream(aes_cm_iv(salt, ssrc, index), &mut packet[header_len..])?;
                let tag = auth.sign(&[packet.as_slice(), &rollover_counter(index)]);
                packet.extend_from_slice(&tag[..*tag_len]);
            }
            Cipher::Gcm { cipher, salt } => {
                let (header, payload) = packet.split_at_mut(header_len);
                let tag = cipher.seal(gcm_iv(salt, ssrc, index), header, payload)?;
                packet.extend_from_slice(&tag);
            }
        }
        Ok(())
    }

    /// Writes `header ‖ encrypted payload ‖ tag` into the start of `out` and returns its
    /// length; `header` is the whole RTP header (CSRCs and extension included), authenticated
    /// and not encrypted. The payload is read once, straight into `out`.
    pub(crate) fn seal(
        &self,
        header: &[u8],
        payload: &[u8],
        out: &mut [u8],
        ssrc: u32,
        index: u64,
    ) -> Result<usize, SrtpError> {
        let body_len = header.len() + payload.len();
        let sealed_len = body_len + self.tag_len();
        let out = out.get_mut(..sealed_len).ok_or(SrtpError::BufferTooSmall)?;
        let (body, tag) = out.split_at_mut(body_len);
        let (out_header, ciphertext) = body.split_at_mut(header.len());
        out_header.copy_from_slice(header);
        match &self.cipher {
            Cipher::AesCmHmac {
                cipher, auth, salt, ..
            } => {
                cipher.apply_keystream_into(aes_cm_iv(salt, ssrc, index), payload, ciphertext)?;
                let full = auth.sign(&[body, &rollover_counter(index)]);
                tag.copy_from_slice(&full[..tag.len()]);
            }
            Cipher::Gcm { cipher, salt } => {
                let tag = tag.try_into().map_err(|_| SrtpError::Crypto)?;
                cipher.seal_into(gcm_iv(salt, ssrc, index), header, payload, ciphertext, tag)?;
            }
        }
        Ok(sealed_len)
    }

    /// Verifies the tag that ends `packet` and decrypts the payload in place; returns the
    /// plain packet length. `header_len` must lie within the packet without its tag.
    pub(crate) fn unprotect(
        &self,
        packet: &mut [u8],
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, SrtpError> {
        let plain_len = packet
            .len()
            .checked_sub(self.tag_len())
            .filter(|&len| len >= header_len)
            .ok_or(SrtpError::Truncated)?;
        let (body, tag) = packet.split_at_mut(plain_len);
        match &self.cipher {
            Cipher::AesCmHmac {
                cipher, auth, salt, ..
            } => {
                auth.verify(&[body, &rollover_counter(index)], tag)?;
                cipher.apply_keystream(aes_cm_iv(salt, ssrc, index), &mut body[header_len..])?;
            }
            Cipher::Gcm { cipher, salt } => {
                let (header, payload) = body.split_at_mut(header_len);
                cipher.open(gcm_iv(salt, ssrc, index), header, payload, tag)?;
            }
        }
        Ok(plain_len)
    }
}

/// The rollover counter part of a packet index, as authenticated after the packet
/// (RFC 3711 §4.2: `M = Authenticated Portion || ROC`).
fn rollover_counter(index: u64) -> [u8; 4] {
    ((index >> 16) as u32).to_be_bytes()
}

/// AES-CM counter block: `(salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16)` (RFC 3711 §4.1.1).
pub(crate) fn aes_cm_iv(
    salt: &[u8; AES_CM_SALT_LEN],
    ssrc: u32,
    index: u64,
) -> [u8; AES_BLOCK_LEN] {
    let mut iv = [0u8; AES_BLOCK_LEN];
    iv[4..8].copy_from_slice(&ssrc.to_be_bytes());
    iv[8..14].copy_from_slice(&index.to_be_bytes()[2..]);
    for (byte, salt) in iv.iter_mut().zip(salt) {
        *byte ^= salt;
    }
    iv
}

/// GCM IV: `(0x0000 || SSRC || ROC || SEQ) XOR salt` (RFC 7714 §8.1).
fn gcm_iv(salt: &[u8; GCM_NONCE_LEN], ssrc: u32, index: u64) -> [u8; GCM_NONCE_LEN] {
    let mut iv = [0u8; GCM_NONCE_LEN];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    iv[6..12].copy_from_slice(&index.to_be_bytes()[2..]);
    for (byte, salt) in iv.iter_mut().zip(salt) {
        *byte ^= salt;
    }
    iv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn transform_with_session_keys(key: &str, salt: &str) -> SrtpTransform {
        SrtpTransform {
            cipher: Cipher::Gcm {
                cipher: AesGcm::new(&hex::decode(key).unwrap()).unwrap(),
                salt: hex::decode(salt).unwrap().try_into().unwrap(),
            },
        }
    }

    /// RFC 7714 §16.1.1, AEAD_AES_128_GCM; the vectors give the session key and salt directly.
    #[test]
    fn gcm_matches_rfc_7714_16_1() {
        let transform = transform_with_session_keys(
            "000102030405060708090a0b0c0d0e0f",
            "517569642070726f2071756f",
        );
        let plain = hex::decode(concat!(
            "8040f17b8041f8d35501a0b2",
            "47616c6c696120657374206f6d6e6973",
            "20646976697361",
            "20696e207061727465732074726573"
        ))
        .unwrap();
        let protected = concat!(
            "8040f17b8041f8d35501a0b2",
            "f24de3a3fb34de6cacba861c9d7e4bca",
            "be633bd50d294e6f42a5f47a51c7d19b",
            "36de3adf8833",
            "899d7f27beb16a9152cf765ee4390cce"
        );

        let mut packet = plain.clone();
        transform
            .protect(&mut packet, 12, 0x5501_a0b2, 0xf17b)
            .unwrap();
        assert_eq!(hex::encode(&packet), protected);

        assert_eq!(
            transform.unprotect(&mut packet, 12, 0x5501_a0b2, 0xf17b),
            Ok(plain.len())
        );
        assert_eq!(&packet[..plain.len()], plain);
    }

    /// RFC 7714 §16.2.1, AEAD_AES_256_GCM: the §16.1 packet, salt and IV under a 32-byte
    /// session key; sealed into a separate buffer as well as in place.
    #[test]
    fn gcm_256_matches_rfc_7714_16_2() {
        let transform = transform_with_session_keys(
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "517569642070726f2071756f",
        );
        let plain = hex::decode(concat!(
            "8040f17b8041f8d35501a0b2",
            "47616c6c696120657374206f6d6e6973",
            "20646976697361",
            "20696e207061727465732074726573"
        ))
        .unwrap();
        let protected = concat!(
            "8040f17b8041f8d35501a0b2",
            "32b1de78a822fe12ef9f78fa332e33aa",
            "b18012389a58e2f3b50b2a0276ffae0f",
            "1ba63799b87b",
            "7aa3db36dfffd6b0f9bb7878d7a76c13"
        );

        let mut packet = plain.clone();
        transform
            .protect(&mut packet, 12, 0x5501_a0b2, 0xf17b)
            .unwrap();
        assert_eq!(hex::encode(&packet), protected);

        let mut out = [0u8; 128];
        let len = transform
            .seal(&plain[..12], &plain[12..], &mut out, 0x5501_a0b2, 0xf17b)
            .unwrap();
        assert_eq!(hex::encode(&out[..len]), protected);

        assert_eq!(
            transform.unprotect(&mut packet, 12, 0x5501_a0b2, 0xf17b),
            Ok(plain.len())
        );
        assert_eq!(&packet[..plain.len()], plain);
    }

    #[test]
    fn gcm_iv_matches_rfc_7714_16_1() {
        let salt = hex::decode("517569642070726f2071756f")
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            hex::encode(gcm_iv(&salt, 0x5501_a0b2, 0xf17b)),
            "51753c6580c2726f20718414"
        );
    }

    /// libSRTP's reference packet (test/srtp_driver.c `srtp_validate`): not an RFC vector, but
    /// the RFC 3711 B.3 master key through the whole AES-CM transform, ROC 0, sequence 0x1234.
    #[test]
    fn aes_cm_matches_libsrtp_reference_packet() {
        let master = MasterKey::new(
            Profile::AesCm128HmacSha1_80,
            &hex::decode("e1f97a0d3e018be0d64fa32c06de4139").unwrap(),
            &hex::decode("0ec675ad498afeebb6960b3aabe6").unwrap(),
        )
        .unwrap();
        let plain =
            hex::decode("800f1234decafbadcafebabeabababababababababababababababab").unwrap();
        let ciphertext = "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402";
        let tag = "b78d6acc99ea179b8dbb";

        let transform = SrtpTransform::new(&master).unwrap();
        let mut packet = plain.clone();
        transform
            .protect(&mut packet, 12, 0xcafe_babe, 0x1234)
            .unwrap();
        assert_eq!(hex::encode(&packet), format!("{ciphertext}{tag}"));
        let mut out = [0u8; 64];
        let len = transform
            .seal(&plain[..12], &plain[12..], &mut out, 0xcafe_babe, 0x1234)
            .unwrap();
        assert_eq!(hex::encode(&out[..len]), format!("{ciphertext}{tag}"));
        assert_eq!(
            transform.unprotect(&mut packet, 12, 0xcafe_babe, 0x1234),
            Ok(plain.len())
        );
        assert_eq!(packet[..plain.len()], plain);

        // The 32-bit profile truncates the same HMAC.
        let master =
            MasterKey::new(Profile::AesCm128HmacSha1_32, master.key(), master.salt()).unwrap();
        let transform = SrtpTransform::new(&master).unwrap();
        let mut packet = plain.clone();
        transform
            .protect(&mut packet, 12, 0xcafe_babe, 0x1234)
            .unwrap();
        assert_eq!(hex::encode(&packet), format!("{ciphertext}{}", &tag[..8]));
    }

    #[test]
    fn the_rollover_counter_is_authenticated() {
        let master = MasterKey::random(Profile::AesCm128HmacSha1_80).unwrap();
        let transform = SrtpTransform::new(&master).unwrap();
        let mut packet = hex::decode("800f1234decafbadcafebabeabab").unwrap();
        transform.protect(&mut packet, 12, 1, 0x1_1234).unwrap();
        let mut copy = packet.clone();
        assert_eq!(
            transform.unprotect(&mut copy, 12, 1, 0x1234),
            Err(SrtpError::AuthenticationFailed)
        );
        assert!(transform.unprotect(&mut packet, 12, 1, 0x1_1234).is_ok());
    }

    #[test]
    fn aes_cm_iv_layout() {
        let iv = aes_cm_iv(&[0; 14], 0x0102_0304, 0x5566_7788_99aa);
        assert_eq!(hex::encode(iv), "00000000010203045566778899aa0000");
    }
}
