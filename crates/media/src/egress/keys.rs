//! The SRTP master keys a peer's DTLS handshake exported (RFC 5764 §4.2), as weft-srtp keys
//! for each direction.

use std::sync::{Arc, Mutex, PoisonError};

use str0m::crypto::dtls::SrtpProfile;
use weft_srtp::{MasterKey, Profile};

use crate::error::MediaError;

/// The weft-srtp profile of a DTLS-SRTP protection profile str0m can negotiate:
/// `SRTP_AES128_CM_SHA1_80` → [`Profile::AesCm128HmacSha1_80`] (80-bit tags on SRTP and SRTCP,
/// RFC 5764 §4.1.2), `SRTP_AEAD_AES_128_GCM` → [`Profile::AeadAes128Gcm`] and
/// `SRTP_AEAD_AES_256_GCM` → [`Profile::AeadAes256Gcm`] (RFC 7714 §14.2). `None` for a profile
/// a later str0m adds.
pub fn srtp_profile(profile: SrtpProfile) -> Option<Profile> {
    match profile {
        SrtpProfile::AES128_CM_SHA1_80 => Some(Profile::AesCm128HmacSha1_80),
        SrtpProfile::AEAD_AES_128_GCM => Some(Profile::AeadAes128Gcm),
        SrtpProfile::AEAD_AES_256_GCM => Some(Profile::AeadAes256Gcm),
        _ => None,
    }
}

/// The SRTP master keys of one peer, one per direction, as its DTLS handshake exported them.
#[derive(Clone)]
pub struct DtlsSrtpKeys {
    dtls_client: bool,
    sending: MasterKey,
    receiving: MasterKey,
}

impl DtlsSrtpKeys {
    /// Splits exported keying material, laid out `client key | server key | client salt |
    /// server salt` (RFC 5764 §4.2). The client (the active DTLS role) sends with the client
    /// half and the server with the server half, so `dtls_client` says which half is ours.
    pub fn from_keying_material(
        profile: SrtpProfile,
        material: &[u8],
        dtls_client: bool,
    ) -> Result<DtlsSrtpKeys, MediaError> {
        let srtp = srtp_profile(profile).ok_or_else(|| {
            MediaError::Srtp(format!(
                "DTLS-SRTP profile {profile} has no weft-srtp profile"
            ))
        })?;
        let key_len = srtp.master_key_len();
        let salt_len = srtp.master_salt_len();
        if material.len() != 2 * (key_len + salt_len) {
            return Err(MediaError::Srtp(format!(
                "{profile} keying material must be {} bytes, got {}",
                2 * (key_len + salt_len),
                material.len()
            )));
        }
        let (keys, salts) = material.split_at(2 * key_len);
        let (client_key, server_key) = keys.split_at(key_len);
        let (client_salt, server_salt) = salts.split_at(salt_len);
        let key = |key: &[u8], salt: &[u8]| {
            MasterKey::new(srtp, key, salt).map_err(|e| MediaError::Srtp(e.to_string()))
        };
        let client = key(client_key, client_salt)?;
        let server = key(server_key, server_salt)?;
        let (sending, receiving) = if dtls_client {
            (client, server)
        } else {
            (server, client)
        };
        Ok(DtlsSrtpKeys {
            dtls_client,
            sending,
            receiving,
        })
    }

    /// The profile both keys are for.
    pub fn profile(&self) -> Profile {
        self.sending.profile()
    }

    /// Whether this side was the DTLS client (the active role), whose half it sends with.
    pub fn is_dtls_client(&self) -> bool {
        self.dtls_client
    }

    /// The key that protects what this side sends (SRTP and SRTCP).
    pub fn sending(&self) -> &MasterKey {
        &self.sending
    }

    /// The key that unprotects what the peer sends (SRTP and SRTCP).
    pub fn receiving(&self) -> &MasterKey {
        &self.receiving
    }
}

impl std::fmt::Debug for DtlsSrtpKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsSrtpKeys")
            .field("profile", &self.profile())
            .field("dtls_client", &self.dtls_client)
            .finish_non_exhaustive()
    }
}

/// What the capture of one peer has recorded.
#[derive(Debug, Clone)]
struct Captured {
    /// The protection profile DTLS negotiated.
    negotiated: SrtpProfile,
    /// The keys, if weft-srtp can use them.
    keys: Option<DtlsSrtpKeys>,
}

/// The handle to one `Rtc`'s captured SRTP keys; [`super::build_with_key_capture`] makes it.
///
/// The keys are there once the DTLS handshake exported them, which is before the `Rtc` reports
/// `Event::Connected`. Use them only after that event: a peer whose certificate does not match
/// its SDP fingerprint is disconnected and never connects. A later export (a new handshake)
/// replaces them. Cloning shares the handle.
#[derive(Debug, Clone, Default)]
pub struct EgressKeys {
    captured: Arc<Mutex<Option<Captured>>>,
}

impl EgressKeys {
    /// The keys of both directions, once exported, if weft-srtp supports the negotiated profile.
    /// `None` means str0m has to protect this peer's media itself.
    pub fn keys(&self) -> Option<DtlsSrtpKeys> {
        self.lock().as_ref().and_then(|c| c.keys.clone())
    }

    /// The protection profile the DTLS handshake negotiated, once exported (also one weft-srtp
    /// does not support).
    pub fn negotiated_profile(&self) -> Option<SrtpProfile> {
        self.lock().as_ref().map(|c| c.negotiated)
    }

    /// Records exported keying material: called by the capturing DTLS instance.
    pub(super) fn record(&self, negotiated: SrtpProfile, material: &[u8], dtls_client: bool) {
        let keys = DtlsSrtpKeys::from_keying_material(negotiated, material, dtls_client)
            .inspect_err(|e| tracing::warn!("egress keys not captured: {e}"))
            .ok();
        *self.lock() = Some(Captured { negotiated, keys });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Captured>> {
        self.captured.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use weft_srtp::SrtpSession;

    use super::*;

    /// Material whose bytes count up, so every part is recognisable.
    fn material(len: usize) -> Vec<u8> {
        (0..len).map(|i| i as u8).collect()
    }

    #[test]
    fn every_str0m_profile_maps_to_weft_srtp() {
        assert_eq!(
            srtp_profile(SrtpProfile::AES128_CM_SHA1_80),
            Some(Profile::AesCm128HmacSha1_80)
        );
        assert_eq!(
            srtp_profile(SrtpProfile::AEAD_AES_128_GCM),
            Some(Profile::AeadAes128Gcm)
        );
        assert_eq!(
            srtp_profile(SrtpProfile::AEAD_AES_256_GCM),
            Some(Profile::AeadAes256Gcm)
        );
        for &profile in SrtpProfile::ALL {
            let srtp = srtp_profile(profile).expect("mapped");
            assert_eq!(
                profile.keying_material_len(),
                2 * (srtp.master_key_len() + srtp.master_salt_len()),
                "{profile}"
            );
        }
    }

    /// [client key | server key | client salt | server salt]: the client sends with the client
    /// half, the server with the server half.
    #[test]
    fn splits_the_material_by_dtls_role() {
        let bytes = material(88);
        let client =
            DtlsSrtpKeys::from_keying_material(SrtpProfile::AEAD_AES_256_GCM, &bytes, true)
                .expect("keys");
        assert_eq!(client.profile(), Profile::AeadAes256Gcm);
        assert!(client.is_dtls_client());
        assert_eq!(client.sending().key(), &bytes[..32]);
        assert_eq!(client.receiving().key(), &bytes[32..64]);
        assert_eq!(client.sending().salt(), &bytes[64..76]);
        assert_eq!(client.receiving().salt(), &bytes[76..]);

        let server =
            DtlsSrtpKeys::from_keying_material(SrtpProfile::AEAD_AES_256_GCM, &bytes, false)
                .expect("keys");
        assert!(!server.is_dtls_client());
        assert_eq!(server.sending().key(), client.receiving().key());
        assert_eq!(server.sending().salt(), client.receiving().salt());
        assert_eq!(server.receiving().key(), client.sending().key());

        let bytes = material(60);
        let cm = DtlsSrtpKeys::from_keying_material(SrtpProfile::AES128_CM_SHA1_80, &bytes, true)
            .expect("keys");
        assert_eq!(cm.profile(), Profile::AesCm128HmacSha1_80);
        assert_eq!(cm.sending().key(), &bytes[..16]);
        assert_eq!(cm.receiving().key(), &bytes[16..32]);
        assert_eq!(cm.sending().salt(), &bytes[32..46]);
        assert_eq!(cm.receiving().salt(), &bytes[46..]);
    }

    /// What one side sends, the other side's receiving key opens, for every profile.
    #[test]
    fn the_two_roles_pair_up() {
        for &profile in SrtpProfile::ALL {
            let bytes = material(profile.keying_material_len());
            let client = DtlsSrtpKeys::from_keying_material(profile, &bytes, true).expect("keys");
            let server = DtlsSrtpKeys::from_keying_material(profile, &bytes, false).expect("keys");
            for (from, to) in [(&client, &server), (&server, &client)] {
                let mut sender = SrtpSession::new(from.sending()).expect("session");
                let mut receiver = SrtpSession::new(to.receiving()).expect("session");
                let header = [0x80, 0x6f, 0, 1, 0, 0, 0, 9, 0, 0, 0, 42];
                let mut out = [0u8; 64];
                let len = sender
                    .seal_rtp(&header, b"payload", &mut out)
                    .expect("seal");
                let plain = receiver.unprotect_rtp(&mut out[..len]).expect("opens");
                assert_eq!(&out[12..plain], b"payload", "{profile}");
            }
        }
    }

    #[test]
    fn refuses_material_of_the_wrong_length() {
        for len in [0, 59, 61, 88] {
            let result = DtlsSrtpKeys::from_keying_material(
                SrtpProfile::AES128_CM_SHA1_80,
                &material(len),
                true,
            );
            assert!(matches!(result, Err(MediaError::Srtp(_))), "{len}");
        }
    }

    #[test]
    fn the_handle_reports_what_was_recorded() {
        let keys = EgressKeys::default();
        assert!(keys.keys().is_none());
        assert_eq!(keys.negotiated_profile(), None);

        keys.clone()
            .record(SrtpProfile::AEAD_AES_128_GCM, &material(7), false);
        assert_eq!(
            keys.negotiated_profile(),
            Some(SrtpProfile::AEAD_AES_128_GCM)
        );
        assert!(keys.keys().is_none(), "malformed material gives no keys");

        keys.record(SrtpProfile::AEAD_AES_128_GCM, &material(56), false);
        let captured = keys.keys().expect("keys");
        assert_eq!(captured.profile(), Profile::AeadAes128Gcm);
        assert!(!captured.is_dtls_client());
        assert_eq!(captured.sending().key(), &material(56)[16..32]);
    }
}
