//! Plain-RTP legs (e.g. towards a SIP gateway): own UDP socket, fixed payload type, symmetric RTP
//! latching under the rules of [`super::latch`], RFC 4733 key presses both ways, optional
//! SDES-SRTP ([`super::leg_crypto`]), no RTCP.

use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use str0m::format::{Codec, CodecSpec, FormatParams};
use str0m::media::Frequency;
use weft_srtp::SrtpError;

use super::latch::Latch;
use super::leg_crypto::LegCrypto;
use crate::dtmf::{DtmfReceiver, DtmfSender};
use crate::g711;
use crate::mixer::dbov;
use crate::options::{RtpCodec, RtpLegConfig};

/// A plain-RTP endpoint owned by a shard.
pub(crate) struct RtpLeg {
    pub socket: UdpSocket,
    /// The address media is accepted from and sent to.
    pub latch: Latch,
    pub codec: RtpCodec,
    pub pt: u8,
    /// Payload type of RFC 4733 telephone-events, and their receiver.
    pub telephone_event: Option<u8>,
    pub dtmf: DtmfReceiver,
    /// Key presses being sent to the leg.
    pub dtmf_out: DtmfSender,
    /// SSRC of what the engine sends on this leg.
    pub ssrc: u32,
    /// Extends incoming 16-bit sequence numbers.
    pub seq: SeqExtender,
    /// Reused serialisation buffer for outgoing packets (protected in place under SRTP).
    pub out: Vec<u8>,
    /// The SRTP sessions, if the leg is encrypted.
    pub srtp: Option<LegCrypto>,
}

/// The parts of an RTP packet a leg needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PlainRtp {
    pub pt: u8,
    pub marker: bool,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    /// Byte range of the payload in the datagram.
    pub payload: (usize, usize),
}

impl RtpLeg {
    /// A leg with `config`, its learning window (`window` long) opening at `now`; fails if its
    /// SRTP sessions cannot be keyed.
    pub(crate) fn new(
        socket: UdpSocket,
        config: &RtpLegConfig,
        ssrc: u32,
        now: Instant,
        window: Duration,
    ) -> Result<Self, SrtpError> {
        let mut leg = Self {
            socket,
            latch: Latch::new(None, now, window),
            codec: config.codec,
            pt: config.payload_type,
            telephone_event: None,
            dtmf: DtmfReceiver::default(),
            dtmf_out: DtmfSender::default(),
            ssrc,
            seq: SeqExtender::default(),
            out: Vec::with_capacity(1500),
            srtp: None,
        };
        leg.configure(config, now)?;
        Ok(leg)
    }

    /// Takes the negotiated codec, payload types, remote and SRTP keys: what the leg receives
    /// next is a new stream, key presses being sent are dropped, and a new learning window opens
    /// at `now`. SRTP state survives for a key that did not change. If the new keys cannot be
    /// used, nothing changes.
    pub(crate) fn configure(
        &mut self,
        config: &RtpLegConfig,
        now: Instant,
    ) -> Result<(), SrtpError> {
        match (&mut self.srtp, &config.srtp) {
            (Some(crypto), Some(keys)) => crypto.rekey(keys)?,
            (slot, keys) => *slot = keys.as_ref().map(LegCrypto::new).transpose()?,
        }
        self.codec = config.codec;
        self.pt = config.payload_type;
        self.telephone_event = config.telephone_event;
        self.dtmf = DtmfReceiver::default();
        self.dtmf_out.cancel();
        self.seq.restart();
        self.latch.set_remote(config.remote, now);
        Ok(())
    }

    /// The codec as str0m describes it (to find the WebRTC side's payload type).
    pub(crate) fn spec(&self) -> CodecSpec {
        let (codec, clock_rate, channels) = match self.codec {
            RtpCodec::Opus => (Codec::Opus, Frequency::FORTY_EIGHT_KHZ, Some(2)),
            RtpCodec::Pcmu => (Codec::PCMU, Frequency::EIGHT_KHZ, Some(1)),
            RtpCodec::Pcma => (Codec::PCMA, Frequency::EIGHT_KHZ, Some(1)),
        };
        CodecSpec {
            codec,
            clock_rate,
            channels,
            format: FormatParams::default(),
        }
    }

    /// The RFC 6464 level (negative dBov) of a G.711 payload, measured (SIP peers send no level
    /// extension); `None` for Opus.
    pub(crate) fn audio_level(&self, payload: &[u8]) -> Option<i8> {
        let law = self.codec.law()?;
        Some(-(dbov(g711::mean_square(law, payload)) as i8))
    }

    /// Sends the serialised packet in `out` to the leg's remote, if known, protecting it first
    /// (in place) if the leg is encrypted.
    pub(crate) fn send_out(&mut self) -> bool {
        let Some(remote) = self.latch.remote() else {
            return false;
        };
        if let Some(crypto) = &mut self.srtp
            && crypto.protect(&mut self.out).is_err()
        {
            return false;
        }
        self.socket.send_to(&self.out, remote).is_ok()
    }
}

/// Parses an RTP header (version 2, CSRCs, extension, padding); `None` for anything else,
/// including RTCP.
pub(crate) fn parse_rtp(d: &[u8]) -> Option<PlainRtp> {
    if d.len() < 12 || d[0] >> 6 != 2 {
        return None;
    }
    let pt = d[1] & 0x7f;
    if (72..=76).contains(&pt) {
        return None; // RTCP (SR/RR/SDES/BYE/APP) multiplexed on the port
    }
    let csrcs = usize::from(d[0] & 0x0f);
    let mut start = 12 + 4 * csrcs;
    if d[0] & 0x10 != 0 {
        let ext = d.get(start + 2..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    let mut end = d.len();
    if d[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*d.last()?))?;
    }
    if start > end {
        return None;
    }
    Some(PlainRtp {
        pt,
        marker: d[1] & 0x80 != 0,
        seq: u16::from_be_bytes([d[2], d[3]]),
        ts: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
        ssrc: u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
        payload: (start, end),
    })
}

/// Turns 16-bit RTP sequence numbers into monotonic 64-bit ones, continuing across restarts of
/// the stream (a new SSRC or codec: its numbering starts anywhere).
#[derive(Debug, Clone, Default)]
pub(crate) struct SeqExtender {
    /// The last extended number of the current stream, in its own numbering.
    last: Option<u64>,
    /// Added (wrapping) to the stream's extended numbers.
    offset: u64,
    /// The next number starts a new stream, numbered right after the last one.
    restart: bool,
}

impl SeqExtender {
    pub(crate) fn extend(&mut self, seq: u16) -> u64 {
        let seq64 = u64::from(seq);
        let Some(last) = self.last.filter(|_| !self.restart) else {
            if self.restart {
                let next = self.last.map_or(0, |l| l.wrapping_add(self.offset) + 1);
                self.offset = next.wrapping_sub(seq64);
                self.restart = false;
            }
            self.last = Some(seq64);
            return seq64.wrapping_add(self.offset);
        };
        let roc = last >> 16;
        let candidates = [roc.wrapping_sub(1), roc, roc + 1].map(|r| (r << 16) | seq64);
        let best = candidates
            .into_iter()
            .min_by_key(|c| c.abs_diff(last))
            .unwrap_or(seq64);
        self.last = Some(best.max(last));
        best.wrapping_add(self.offset)
    }

    /// The stream restarts: the next number continues after the last one, whatever it is.
    pub(crate) fn restart(&mut self) {
        self.restart = self.last.is_some();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_headers_and_rejects_rtcp_and_garbage() {
        let mut d = vec![0x80, 0x80 | 111, 0x01, 0x02, 0, 0, 0x03, 0xe8, 1, 2, 3, 4];
        d.extend_from_slice(b"opus");
        let p = parse_rtp(&d).unwrap();
        assert_eq!((p.pt, p.marker, p.seq, p.ts), (111, true, 0x0102, 1000));
        assert_eq!(p.ssrc, 0x0102_0304);
        assert_eq!(&d[p.payload.0..p.payload.1], b"opus");
        assert_eq!(parse_rtp(&[0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(parse_rtp(&[0x80, 111, 0]), None);
        let mut padded = d.clone();
        padded[0] |= 0x20;
        padded.push(200);
        assert_eq!(parse_rtp(&padded), None);
        let mut ext = vec![
            0x90, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0xff, 0xff,
        ];
        ext.extend_from_slice(b"x");
        assert_eq!(parse_rtp(&ext), None);
    }

    #[test]
    fn sequence_numbers_extend_across_wraps() {
        let mut e = SeqExtender::default();
        assert_eq!(e.extend(65534), 65534);
        assert_eq!(e.extend(65535), 65535);
        assert_eq!(e.extend(0), 65536);
        assert_eq!(e.extend(65535), 65535);
        assert_eq!(e.extend(2), 65538);
    }

    #[test]
    fn a_restarted_stream_continues_after_the_last_number() {
        let mut e = SeqExtender::default();
        e.restart();
        assert_eq!(e.extend(100), 100, "nothing to continue yet");
        assert_eq!(e.extend(101), 101);
        e.restart();
        assert_eq!(e.extend(65535), 102);
        assert_eq!(e.extend(0), 103);
        assert_eq!(e.extend(65534), 101, "a late packet of the new stream");
        e.restart();
        assert_eq!(e.extend(5), 104);
        assert_eq!(e.extend(6), 105);
    }
}
