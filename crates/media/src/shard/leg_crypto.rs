//! The SRTP sessions of an encrypted plain-RTP leg: what it sends is protected under our key,
//! what it receives unprotected under the peer's; a re-INVITE that keeps a key keeps that
//! direction's state.

use weft_srtp::{MasterKey, SrtpError, SrtpSession};

use crate::leg_keys::{LegSrtp, same_key};

/// A leg's two SRTP directions and the keys they were made from.
pub(crate) struct LegCrypto {
    keys: LegSrtp,
    /// Protects what the leg sends, under the local key.
    outbound: SrtpSession,
    /// Unprotects what the leg receives, under the remote key.
    inbound: SrtpSession,
}

impl LegCrypto {
    /// Fresh sessions for `keys`.
    pub(crate) fn new(keys: &LegSrtp) -> Result<Self, SrtpError> {
        Ok(Self {
            keys: keys.clone(),
            outbound: SrtpSession::new(keys.local())?,
            inbound: SrtpSession::new(keys.remote())?,
        })
    }

    /// Takes `keys` (a re-INVITE's): a direction whose key is unchanged keeps its session, so
    /// its rollover counters and replay windows; one with a new key starts afresh. On error
    /// nothing changed.
    pub(crate) fn rekey(&mut self, keys: &LegSrtp) -> Result<(), SrtpError> {
        let session = |old: &MasterKey, new: &MasterKey| {
            (!same_key(old, new))
                .then(|| SrtpSession::new(new))
                .transpose()
        };
        let outbound = session(self.keys.local(), keys.local())?;
        let inbound = session(self.keys.remote(), keys.remote())?;
        if let Some(outbound) = outbound {
            self.outbound = outbound;
        }
        if let Some(inbound) = inbound {
            self.inbound = inbound;
        }
        self.keys = keys.clone();
        Ok(())
    }

    /// Protects the plain RTP packet in `packet` in place for sending.
    pub(crate) fn protect(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        self.outbound.protect_rtp(packet)
    }

    /// Authenticates and decrypts a received datagram in place: SRTCP if it is RTCP by the
    /// RFC 5761 rule (muxed on the port), else SRTP. Returns the length of the plain packet.
    pub(crate) fn unprotect(&mut self, datagram: &mut [u8]) -> Result<usize, SrtpError> {
        if is_rtcp(datagram) {
            self.inbound.unprotect_rtcp(datagram)
        } else {
            self.inbound.unprotect_rtp(datagram)
        }
    }
}

/// RFC 5761 §4: a muxed datagram is RTCP when its second byte, RTP's marker and payload type,
/// is 192–223 (the RTCP packet types; RTP payload types 64–95 are not used on such ports).
pub(super) fn is_rtcp(datagram: &[u8]) -> bool {
    datagram.get(1).is_some_and(|b| (192..=223).contains(b))
}

#[cfg(test)]
mod tests {
    use weft_srtp::Profile;

    use super::*;

    fn key(profile: Profile) -> MasterKey {
        MasterKey::random(profile).expect("key")
    }

    fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut packet = vec![0x80, 0];
        packet.extend_from_slice(&seq.to_be_bytes());
        packet.extend_from_slice(&[0, 0, 0, 160, 0, 0, 0, 7]);
        packet.extend_from_slice(payload);
        packet
    }

    /// A receiver report of SSRC 7 with no blocks.
    fn rtcp() -> Vec<u8> {
        vec![0x80, 201, 0, 1, 0, 0, 0, 7]
    }

    /// The peer of a leg with `keys`: it sends under the leg's remote key, receives under its
    /// local one.
    fn peer(keys: &LegSrtp) -> (SrtpSession, SrtpSession) {
        (
            SrtpSession::new(keys.remote()).expect("session"),
            SrtpSession::new(keys.local()).expect("session"),
        )
    }

    #[test]
    fn protects_with_the_local_key_and_unprotects_rtp_and_rtcp_with_the_remote_one() {
        for profile in Profile::ALL {
            let keys = LegSrtp::new(key(profile), key(profile)).expect("keys");
            let mut crypto = LegCrypto::new(&keys).expect("crypto");
            let (mut peer_out, mut peer_in) = peer(&keys);

            let mut sent = rtp(1, b"to the phone");
            crypto.protect(&mut sent).expect("protect");
            assert_eq!(sent.len(), 12 + 12 + profile.rtp_auth_tag_len());
            let len = peer_in.unprotect_rtp(&mut sent).expect("the peer decrypts");
            assert_eq!(sent[..len], rtp(1, b"to the phone"));

            let mut received = rtp(9, b"from the phone");
            peer_out.protect_rtp(&mut received).expect("protect");
            let len = crypto.unprotect(&mut received).expect("unprotect");
            assert_eq!(received[..len], rtp(9, b"from the phone"));

            let mut report = rtcp();
            peer_out.protect_rtcp(&mut report).expect("protect");
            let len = crypto.unprotect(&mut report).expect("SRTCP by RFC 5761");
            assert_eq!(report[..len], rtcp());
        }
    }

    #[test]
    fn clear_forged_and_replayed_packets_fail() {
        let profile = Profile::AesCm128HmacSha1_80;
        let keys = LegSrtp::new(key(profile), key(profile)).expect("keys");
        let mut crypto = LegCrypto::new(&keys).expect("crypto");
        let mut clear = rtp(1, &[0x55; 160]);
        assert_eq!(
            crypto.unprotect(&mut clear),
            Err(SrtpError::AuthenticationFailed)
        );
        // Protected with the leg's own (local) key instead of the peer's.
        let mut wrong = rtp(2, &[0x55; 160]);
        SrtpSession::new(keys.local())
            .expect("session")
            .protect_rtp(&mut wrong)
            .expect("protect");
        assert_eq!(
            crypto.unprotect(&mut wrong),
            Err(SrtpError::AuthenticationFailed)
        );
        let (mut peer_out, _) = peer(&keys);
        let mut good = rtp(3, &[0x55; 160]);
        peer_out.protect_rtp(&mut good).expect("protect");
        let mut replay = good.clone();
        assert!(crypto.unprotect(&mut good).is_ok());
        assert_eq!(crypto.unprotect(&mut replay), Err(SrtpError::Replayed));
        assert!(crypto.unprotect(&mut [0x80, 0]).is_err());
    }

    #[test]
    fn rekeying_keeps_the_state_of_unchanged_keys_only() {
        let profile = Profile::AeadAes128Gcm;
        let keys = LegSrtp::new(key(profile), key(profile)).expect("keys");
        let mut crypto = LegCrypto::new(&keys).expect("crypto");
        let (mut peer_out, _) = peer(&keys);
        // Both directions cross a sequence wrap: rollover counter 1.
        for seq in [65_535, 0] {
            let mut packet = rtp(seq, b"out");
            crypto.protect(&mut packet).expect("protect");
            let mut packet = rtp(seq, b"in");
            peer_out.protect_rtp(&mut packet).expect("protect");
            crypto.unprotect(&mut packet).expect("unprotect");
        }
        let rocs = |c: &LegCrypto| {
            (
                c.outbound.rollover_counter(7),
                c.inbound.rollover_counter(7),
            )
        };
        assert_eq!(rocs(&crypto), (Some(1), Some(1)));

        // A re-INVITE with the same keys (a direction change): nothing restarts.
        crypto.rekey(&keys.clone()).expect("rekey");
        assert_eq!(rocs(&crypto), (Some(1), Some(1)));
        let mut packet = rtp(1, b"in");
        peer_out.protect_rtp(&mut packet).expect("protect");
        crypto
            .unprotect(&mut packet)
            .expect("the peer's rollover counter still matches");

        // Our key changes, the peer's stays.
        let ours = LegSrtp::new(key(profile), keys.remote().clone()).expect("keys");
        crypto.rekey(&ours).expect("rekey");
        assert_eq!(rocs(&crypto), (None, Some(1)));
        // Then the peer's changes: its old packets fail, its new ones pass.
        let theirs = LegSrtp::new(ours.local().clone(), key(profile)).expect("keys");
        crypto.rekey(&theirs).expect("rekey");
        assert_eq!(rocs(&crypto), (None, None));
        let mut old = rtp(2, b"in");
        peer_out.protect_rtp(&mut old).expect("protect");
        assert_eq!(
            crypto.unprotect(&mut old),
            Err(SrtpError::AuthenticationFailed)
        );
        let (mut new_peer_out, _) = peer(&theirs);
        let mut new = rtp(3, b"in");
        new_peer_out.protect_rtp(&mut new).expect("protect");
        assert!(crypto.unprotect(&mut new).is_ok());
    }
}
