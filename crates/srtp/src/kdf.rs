//! Session key derivation, RFC 3711 §4.3 with key derivation rate 0 (also RFC 7714 §11).
//!
//! With rate 0, `r = index DIV kdr` is 0 and the key id is just the label, so every session
//! key is derived once per master key: `AES-CM(master key, (master salt XOR label << 48) * 2^16)`.
//! The PRF is AES-128 counter mode for 16-byte master keys and AES-256 counter mode for
//! 32-byte ones (the `AES_256_CM_PRF` of RFC 6188 §7, which RFC 7714 §11 names for
//! `AEAD_AES_256_GCM`).

use crate::cipher::{AES_BLOCK_LEN, AesCm};
use crate::error::SrtpError;
use crate::key::MasterKey;

/// What a derived key is for: the labels of RFC 3711 §4.3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    /// SRTP encryption key, `0x00`.
    RtpEncryption = 0x00,
    /// SRTP authentication key, `0x01`.
    RtpAuthentication = 0x01,
    /// SRTP salting key, `0x02`.
    RtpSalt = 0x02,
    /// SRTCP encryption key, `0x03`.
    RtcpEncryption = 0x03,
    /// SRTCP authentication key, `0x04`.
    RtcpAuthentication = 0x04,
    /// SRTCP salting key, `0x05`.
    RtcpSalt = 0x05,
}

/// The AES-CM pseudo-random function keyed by one master key.
pub(crate) struct KeyDerivation<'a> {
    prf: AesCm,
    master_salt: &'a [u8],
}

impl<'a> KeyDerivation<'a> {
    /// The PRF of `master`.
    pub(crate) fn new(master: &'a MasterKey) -> Result<KeyDerivation<'a>, SrtpError> {
        KeyDerivation::from_parts(master.key(), master.salt())
    }

    /// The PRF of a master key and salt (a 16- or 32-byte key, a salt of at most 14 bytes).
    fn from_parts(key: &[u8], master_salt: &'a [u8]) -> Result<KeyDerivation<'a>, SrtpError> {
        if master_salt.len() > 14 {
            return Err(SrtpError::Crypto);
        }
        Ok(KeyDerivation {
            prf: AesCm::new(key)?,
            master_salt,
        })
    }

    /// Fills `out` with the session key for `label`.
    ///
    /// The master salt sits left-aligned in the 112-bit PRF input (a 96-bit GCM salt is
    /// followed by zero bits), the label lands on octet 7, and the low 16 bits count blocks.
    pub(crate) fn derive(&self, label: Label, out: &mut [u8]) -> Result<(), SrtpError> {
        let mut iv = [0u8; AES_BLOCK_LEN];
        iv[..self.master_salt.len()].copy_from_slice(self.master_salt);
        iv[7] ^= label as u8;
        out.fill(0);
        self.prf.apply_keystream(iv, out)
    }

    /// The session key for `label` as an array.
    pub(crate) fn derive_array<const N: usize>(&self, label: Label) -> Result<[u8; N], SrtpError> {
        let mut out = [0u8; N];
        self.derive(label, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn master() -> MasterKey {
        MasterKey::new(
            Profile::AesCm128HmacSha1_80,
            &hex::decode("E1F97A0D3E018BE0D64FA32C06DE4139").unwrap(),
            &hex::decode("0EC675AD498AFEEBB6960B3AABE6").unwrap(),
        )
        .unwrap()
    }

    /// RFC 3711 Appendix B.3: cipher key, cipher salt and the full 94-byte auth key.
    #[test]
    fn derives_the_rfc_3711_b3_keys() {
        let master = master();
        let kdf = KeyDerivation::new(&master).unwrap();

        let cipher_key: [u8; 16] = kdf.derive_array(Label::RtpEncryption).unwrap();
        assert_eq!(
            hex::encode_upper(cipher_key),
            "C61E7A93744F39EE10734AFE3FF7A087"
        );

        let cipher_salt: [u8; 14] = kdf.derive_array(Label::RtpSalt).unwrap();
        assert_eq!(
            hex::encode_upper(cipher_salt),
            "30CBBC08863D8C85D49DB34A9AE1"
        );

        let auth_key: [u8; 94] = kdf.derive_array(Label::RtpAuthentication).unwrap();
        assert_eq!(
            hex::encode_upper(auth_key),
            "CEBE321F6FF7716B6FD4AB49AF256A15\
             6D38BAA48F0A0ACF3C34E2359E6CDBCE\
             E049646C43D9327AD175578EF7227098\
             6371C10C9A369AC2F94A8C5FBCDDDC25\
             6D6E919A48B610EF17C2041E47403576\
             6B68642C59BBFC2F34DB60DBDFB2"
        );
    }

    /// RFC 6188 §7.2: the AES-256 PRF (a 32-byte master key, a 14-byte master salt): cipher
    /// key, auth key and salt.
    #[test]
    fn derives_the_rfc_6188_aes_256_keys() {
        let key = hex::decode("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6")
            .unwrap();
        let salt = hex::decode("3b04803de51ee7c96423ab5b78d2").unwrap();
        let kdf = KeyDerivation::from_parts(&key, &salt).unwrap();

        let cipher_key: [u8; 32] = kdf.derive_array(Label::RtpEncryption).unwrap();
        assert_eq!(
            hex::encode(cipher_key),
            "5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4"
        );
        let auth_key: [u8; 20] = kdf.derive_array(Label::RtpAuthentication).unwrap();
        assert_eq!(
            hex::encode(auth_key),
            "fd9c32d39ed5fbb5a9dc96b30818454d1313dc05"
        );
        let cipher_salt: [u8; 14] = kdf.derive_array(Label::RtpSalt).unwrap();
        assert_eq!(hex::encode(cipher_salt), "fa31791685ca444a9e07c6c64e93");
    }

    /// An `AEAD_AES_256_GCM` master key derives through the AES-256 PRF: its 12-byte salt is
    /// the left part of the RFC 6188 salt, zero-padded, so with the RFC 6188 salt's last two
    /// bytes zeroed both give the same keys.
    #[test]
    fn gcm_256_keys_use_the_aes_256_prf_with_a_padded_salt() {
        let key = hex::decode("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6")
            .unwrap();
        let salt = hex::decode("3b04803de51ee7c96423ab5b").unwrap();
        let master = MasterKey::new(Profile::AeadAes256Gcm, &key, &salt).unwrap();
        let padded = [salt.as_slice(), &[0, 0]].concat();
        let reference = KeyDerivation::from_parts(&key, &padded).unwrap();
        let kdf = KeyDerivation::new(&master).unwrap();
        for label in [Label::RtpEncryption, Label::RtcpEncryption] {
            let ours: [u8; 32] = kdf.derive_array(label).unwrap();
            let theirs: [u8; 32] = reference.derive_array(label).unwrap();
            assert_eq!(ours, theirs);
        }
        for label in [Label::RtpSalt, Label::RtcpSalt] {
            let ours: [u8; 12] = kdf.derive_array(label).unwrap();
            let theirs: [u8; 12] = reference.derive_array(label).unwrap();
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn every_label_gives_a_different_key() {
        let master = master();
        let kdf = KeyDerivation::new(&master).unwrap();
        let labels = [
            Label::RtpEncryption,
            Label::RtpAuthentication,
            Label::RtpSalt,
            Label::RtcpEncryption,
            Label::RtcpAuthentication,
            Label::RtcpSalt,
        ];
        let keys: Vec<[u8; 16]> = labels
            .iter()
            .map(|&label| kdf.derive_array(label).unwrap())
            .collect();
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
