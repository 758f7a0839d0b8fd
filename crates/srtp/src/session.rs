//! One direction of an SRTP session: one master key, many SSRCs.

use crate::error::SrtpError;
use crate::key::MasterKey;
use crate::profile::Profile;
use crate::replay::ReplayWindow;
use crate::rtp::{parse_rtcp_ssrc, parse_rtp_header};
use crate::srtcp::{MAX_RTCP_INDEX, SrtcpTransform};
use crate::srtp::SrtpTransform;
use crate::streams::{MAX_SSRCS, SsrcTable};

/// SRTCP state of one SSRC.
#[derive(Debug, Clone, Copy, Default)]
struct RtcpStream {
    /// Index of the next packet this session protects (RFC 3711 §3.4: starts at zero).
    next_index: u32,
    /// Indices received.
    received: ReplayWindow,
}

/// The SRTP and SRTCP cryptographic contexts of one direction (RFC 3711 §3.2).
///
/// Use one session to protect what you send and another, keyed by the peer's master key, to
/// unprotect what you receive. Per SSRC it keeps the rollover counter and a 64-packet replay
/// window; it tracks at most [`SrtpSession::MAX_SSRCS`] SSRCs per table and refuses new ones
/// beyond that (see [`SrtpSession::remove_ssrc`]).
///
/// No call allocates, except that `protect_*` grows the `Vec` when its spare capacity is
/// smaller than [`Profile::rtp_auth_tag_len`] / [`Profile::rtcp_overhead`].
/// [`SrtpSession::seal_rtp`] writes into a buffer the caller owns and never allocates.
pub struct SrtpSession {
    profile: Profile,
    srtp: SrtpTransform,
    srtcp: SrtcpTransform,
    rtp_streams: SsrcTable<ReplayWindow>,
    rtcp_streams: SsrcTable<RtcpStream>,
}

impl SrtpSession {
    /// Most SSRCs tracked per session for SRTP, and as many for SRTCP.
    pub const MAX_SSRCS: usize = MAX_SSRCS;

    /// A session keyed by `master` (key derivation rate 0, no MKI).
    pub fn new(master: &MasterKey) -> Result<SrtpSession, SrtpError> {
        Ok(SrtpSession {
            profile: master.profile(),
            srtp: SrtpTransform::new(master)?,
            srtcp: SrtcpTransform::new(master)?,
            rtp_streams: SsrcTable::new(),
            rtcp_streams: SsrcTable::new(),
        })
    }

    /// The session's profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Turns the plain RTP packet in `packet` into SRTP: encrypts the payload in place and
    /// appends the authentication tag.
    ///
    /// The CSRC list and header extension are authenticated, not encrypted. The rollover
    /// counter follows the sequence numbers, reordered ones included (RFC 3711 Appendix A).
    /// On error `packet` is unchanged.
    pub fn protect_rtp(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        let header = parse_rtp_header(packet)?;
        let stream = self.rtp_streams.get_or_insert(header.ssrc)?;
        let index = stream.estimate_rtp_index(header.sequence)?;
        self.srtp.protect(packet, header.len, header.ssrc, index)?;
        stream.accept(index);
        Ok(())
    }

    /// Seals one RTP packet given as its header and its payload into `out`: writes
    /// `header ‖ encrypted payload ‖ tag` at the start of `out` and returns that length,
    /// `header.len() + payload.len() + profile.rtp_auth_tag_len()`.
    ///
    /// The bytes are those [`SrtpSession::protect_rtp`] makes of `header ‖ payload`, and the
    /// two share the rollover counters: use either for any packet. `header` must be exactly one
    /// RTP header (fixed part, CSRCs, extension); `payload` (with any padding) is read once,
    /// by the cipher, and never copied first. On error the session is unchanged and `out`'s
    /// contents are unspecified.
    pub fn seal_rtp(
        &mut self,
        header: &[u8],
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SrtpError> {
        let parsed = parse_rtp_header(header)?;
        if parsed.len != header.len() {
            return Err(SrtpError::HeaderLength);
        }
        let stream = self.rtp_streams.get_or_insert(parsed.ssrc)?;
        let index = stream.estimate_rtp_index(parsed.sequence)?;
        let len = self.srtp.seal(header, payload, out, parsed.ssrc, index)?;
        stream.accept(index);
        Ok(len)
    }

    /// Authenticates, replay-checks and decrypts the SRTP packet in `packet` in place, and
    /// returns the length of the plain RTP packet now at its start.
    ///
    /// The rollover counter and replay window advance only once the packet authenticated.
    pub fn unprotect_rtp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let body_len = packet
            .len()
            .checked_sub(self.srtp.tag_len())
            .ok_or(SrtpError::Truncated)?;
        let header = parse_rtp_header(&packet[..body_len])?;
        let received = self.rtp_streams.peek(header.ssrc)?;
        let index = received.estimate_rtp_index(header.sequence)?;
        received.check(index)?;
        let plain_len = self
            .srtp
            .unprotect(packet, header.len, header.ssrc, index)?;
        self.rtp_streams.get_or_insert(header.ssrc)?.accept(index);
        Ok(plain_len)
    }

    /// Turns the plain (compound) RTCP packet in `packet` into SRTCP: encrypts everything
    /// after the first header's sender SSRC, appends the E flag, SRTCP index and tag.
    ///
    /// On error `packet` is unchanged.
    pub fn protect_rtcp(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        let ssrc = parse_rtcp_ssrc(packet)?;
        let stream = self.rtcp_streams.get_or_insert(ssrc)?;
        let index = stream.next_index;
        if index > MAX_RTCP_INDEX {
            return Err(SrtpError::KeyExhausted);
        }
        self.srtcp.protect(packet, ssrc, index)?;
        stream.next_index = index + 1;
        Ok(())
    }

    /// Authenticates, replay-checks and (if its E flag is set) decrypts the SRTCP packet in
    /// `packet` in place, and returns the length of the plain RTCP packet at its start.
    pub fn unprotect_rtcp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let ssrc = parse_rtcp_ssrc(packet)?;
        let trailer = self.srtcp.trailer(packet)?;
        let index = u64::from(trailer.index);
        self.rtcp_streams.peek(ssrc)?.received.check(index)?;
        let plain_len = self.srtcp.unprotect(packet, ssrc, trailer)?;
        self.rtcp_streams
            .get_or_insert(ssrc)?
            .received
            .accept(index);
        Ok(plain_len)
    }

    /// Forgets the SRTP and SRTCP state of `ssrc` (a stream that ended), freeing its slot.
    ///
    /// A later packet of that SSRC starts over: rollover counter 0, empty replay window.
    pub fn remove_ssrc(&mut self, ssrc: u32) {
        self.rtp_streams.remove(ssrc);
        self.rtcp_streams.remove(ssrc);
    }

    /// The SRTP rollover counter of `ssrc`: that of its highest packet index so far.
    pub fn rollover_counter(&self, ssrc: u32) -> Option<u32> {
        let highest = self.rtp_streams.get(ssrc)?.highest()?;
        u32::try_from(highest >> 16).ok()
    }
}

impl std::fmt::Debug for SrtpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpSession")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(profile: Profile) -> (SrtpSession, SrtpSession) {
        let master = MasterKey::random(profile).unwrap();
        (
            SrtpSession::new(&master).unwrap(),
            SrtpSession::new(&master).unwrap(),
        )
    }

    fn rtp(ssrc: u32, sequence: u16, payload: &[u8]) -> Vec<u8> {
        let mut packet = vec![0x80, 0x60];
        packet.extend_from_slice(&sequence.to_be_bytes());
        packet.extend_from_slice(&1234u32.to_be_bytes());
        packet.extend_from_slice(&ssrc.to_be_bytes());
        packet.extend_from_slice(payload);
        packet
    }

    fn rtcp(ssrc: u32) -> Vec<u8> {
        let mut packet = vec![0x81, 0xc9, 0x00, 0x07];
        packet.extend_from_slice(&ssrc.to_be_bytes());
        packet.extend_from_slice(&[0x5a; 24]);
        packet
    }

    #[test]
    fn sessions_are_send() {
        fn assert_send<T: Send>() {}
        assert_send::<SrtpSession>();
    }

    #[test]
    fn refuses_the_65th_ssrc_until_one_is_removed() {
        for profile in Profile::ALL {
            let (mut sender, mut receiver) = pair(profile);
            for ssrc in 0..=SrtpSession::MAX_SSRCS as u32 {
                let mut packet = rtp(ssrc, 1, b"x");
                let sent = sender.protect_rtp(&mut packet);
                if (ssrc as usize) < SrtpSession::MAX_SSRCS {
                    sent.unwrap();
                    receiver.unprotect_rtp(&mut packet).unwrap();
                } else {
                    assert_eq!(sent, Err(SrtpError::TooManySsrcs));
                    assert_eq!(packet, rtp(ssrc, 1, b"x"), "unchanged on error");
                }
            }
            sender.remove_ssrc(3);
            let mut packet = rtp(1000, 1, b"x");
            sender.protect_rtp(&mut packet).unwrap();
            assert_eq!(
                receiver.unprotect_rtp(&mut packet.clone()),
                Err(SrtpError::TooManySsrcs)
            );
            receiver.remove_ssrc(3);
            receiver.unprotect_rtp(&mut packet).unwrap();
        }
    }

    #[test]
    fn unauthenticated_packets_take_no_ssrc_slot() {
        let (_, mut receiver) = pair(Profile::AesCm128HmacSha1_80);
        for ssrc in 0..200 {
            let mut forged = rtp(ssrc, 1, &[0; 20]);
            assert_eq!(
                receiver.unprotect_rtp(&mut forged),
                Err(SrtpError::AuthenticationFailed)
            );
            assert_eq!(receiver.rollover_counter(ssrc), None);
        }
    }

    #[test]
    fn failed_packets_move_neither_window_nor_rollover_counter() {
        for profile in Profile::ALL {
            let (mut sender, mut receiver) = pair(profile);
            let mut first = rtp(9, 65_535, b"first");
            sender.protect_rtp(&mut first).unwrap();
            receiver.unprotect_rtp(&mut first).unwrap();

            let mut wrapped = rtp(9, 0, b"wrapped");
            sender.protect_rtp(&mut wrapped).unwrap();
            let mut forged = wrapped.clone();
            let last = forged.len() - 1;
            forged[last] ^= 0x80;
            assert_eq!(
                receiver.unprotect_rtp(&mut forged),
                Err(SrtpError::AuthenticationFailed)
            );
            assert_eq!(receiver.rollover_counter(9), Some(0));
            assert!(receiver.unprotect_rtp(&mut wrapped).is_ok());
            assert_eq!(receiver.rollover_counter(9), Some(1));
            assert_eq!(sender.rollover_counter(9), Some(1));
        }
    }

    /// The sealed bytes equal `protect_rtp`'s for every profile, across the rollover (ROC 0
    /// then 1), with CSRCs and an extension in the header and an empty payload too.
    #[test]
    fn seal_rtp_equals_protect_rtp_and_wraps_the_rollover_counter() {
        for profile in Profile::ALL {
            let master = MasterKey::random(profile).unwrap();
            let mut protector = SrtpSession::new(&master).unwrap();
            let mut sealer = SrtpSession::new(&master).unwrap();
            let mut receiver = SrtpSession::new(&master).unwrap();
            let mut out = [0xa5u8; 1500];
            for (step, sequence) in [65_533u16, 65_534, 65_535, 0, 1].into_iter().enumerate() {
                let mut header = rtp(21, sequence, b"");
                if step % 2 == 1 {
                    // One CSRC and a one-word RFC 8285 extension.
                    header[0] |= 0x11;
                    header.extend_from_slice(&[0, 0, 0, 9, 0xbe, 0xde, 0, 1, 0x10, 0x7f, 0, 0]);
                }
                let payload: Vec<u8> = (0..step * 300).map(|i| i as u8).collect();
                let mut packet = [header.as_slice(), &payload].concat();
                protector.protect_rtp(&mut packet).unwrap();

                let len = sealer.seal_rtp(&header, &payload, &mut out).unwrap();
                assert_eq!(
                    len,
                    header.len() + payload.len() + profile.rtp_auth_tag_len()
                );
                assert_eq!(out[..len], packet[..], "{profile}: sequence {sequence}");

                let plain_len = receiver.unprotect_rtp(&mut out[..len]).unwrap();
                assert_eq!(out[header.len()..plain_len], payload[..]);
            }
            assert_eq!(sealer.rollover_counter(21), Some(1));
            assert_eq!(receiver.rollover_counter(21), Some(1));
        }
    }

    #[test]
    fn seal_rtp_refuses_short_buffers_and_headers_of_another_length() {
        for profile in Profile::ALL {
            let (mut sealer, _) = pair(profile);
            let header = rtp(3, 10, b"");
            let needed = header.len() + 5 + profile.rtp_auth_tag_len();
            let mut out = vec![0u8; needed - 1];
            assert_eq!(
                sealer.seal_rtp(&header, b"12345", &mut out),
                Err(SrtpError::BufferTooSmall)
            );
            assert_eq!(sealer.rollover_counter(3), None, "no state moved");
            let with_extra = rtp(3, 10, b"x");
            let mut out = vec![0u8; needed + 1];
            assert_eq!(
                sealer.seal_rtp(&with_extra, b"12345", &mut out),
                Err(SrtpError::HeaderLength)
            );
            assert_eq!(
                sealer.seal_rtp(&header[..11], b"12345", &mut out),
                Err(SrtpError::Truncated)
            );
            assert_eq!(sealer.seal_rtp(&header, b"12345", &mut out), Ok(needed));
        }
    }

    #[test]
    fn rtcp_indices_start_at_zero_and_replays_are_refused() {
        for profile in Profile::ALL {
            let (mut sender, mut receiver) = pair(profile);
            for expected_index in 0u32..3 {
                let plain = rtcp(77);
                let mut packet = plain.clone();
                sender.protect_rtcp(&mut packet).unwrap();
                assert_eq!(packet.len(), plain.len() + profile.rtcp_overhead());
                let word_at = if profile.is_aead() {
                    packet.len() - 4
                } else {
                    packet.len() - 14
                };
                let word = u32::from_be_bytes(packet[word_at..word_at + 4].try_into().unwrap());
                assert_eq!(word, (1 << 31) | expected_index);

                let mut replay = packet.clone();
                assert_eq!(receiver.unprotect_rtcp(&mut packet), Ok(plain.len()));
                assert_eq!(packet[..plain.len()], plain);
                assert_eq!(
                    receiver.unprotect_rtcp(&mut replay),
                    Err(SrtpError::Replayed)
                );
            }
        }
    }

    #[test]
    fn the_srtcp_index_ends_at_31_bits() {
        let (mut sender, _) = pair(Profile::AeadAes128Gcm);
        let mut packet = rtcp(5);
        sender.protect_rtcp(&mut packet).unwrap();
        sender.rtcp_streams.get_or_insert(5).unwrap().next_index = MAX_RTCP_INDEX;
        let mut packet = rtcp(5);
        sender.protect_rtcp(&mut packet).unwrap();
        let mut packet = rtcp(5);
        assert_eq!(
            sender.protect_rtcp(&mut packet),
            Err(SrtpError::KeyExhausted)
        );
        assert_eq!(packet, rtcp(5));
    }

    #[test]
    fn malformed_packets_are_errors() {
        for profile in Profile::ALL {
            let (mut sender, mut receiver) = pair(profile);
            for len in 0..12 {
                let mut packet = vec![0x80; len];
                assert_eq!(sender.protect_rtp(&mut packet), Err(SrtpError::Truncated));
                assert!(receiver.unprotect_rtp(&mut packet).is_err());
            }
            for len in 0..8 {
                let mut packet = vec![0x80; len];
                assert_eq!(sender.protect_rtcp(&mut packet), Err(SrtpError::Truncated));
                assert!(receiver.unprotect_rtcp(&mut packet).is_err());
            }
            // A header extension claiming more words than the packet holds.
            let mut packet = rtp(1, 1, &[0xbe, 0xde, 0xff, 0xff, 1, 2, 3, 4]);
            packet[0] |= 0x10;
            assert_eq!(sender.protect_rtp(&mut packet), Err(SrtpError::Truncated));
            // Sixteen CSRCs claimed, none present.
            let mut packet = rtp(1, 1, b"");
            packet[0] |= 0x0f;
            assert_eq!(sender.protect_rtp(&mut packet), Err(SrtpError::Truncated));
            let mut packet = rtp(1, 1, b"abc");
            packet[0] = 0x40;
            assert_eq!(sender.protect_rtp(&mut packet), Err(SrtpError::BadVersion));
        }
    }
}
