//! Forwarded media a shard seals and sends itself, so str0m never queues, ticks or copies it.
//!
//! str0m keeps ICE, DTLS, SDP, what the peer sends, and its own RTCP. The peer's send streams
//! belong to Weft: their SSRCs (taken from str0m's streams when the m-line is negotiated, then
//! removed from str0m, so it never sends RTP or heads RTCP with them: an AES-GCM nonce must never
//! repeat), their sequence numbers and SRTP rollover counters, their sender reports, and the
//! feedback the peer sends about them (keyframe requests, NACKs), read from a decrypted copy of
//! its SRTCP. Before each SDP operation the streams are lent back to str0m so it announces the
//! same SSRCs, and taken again after.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use str0m::Rtc;
use str0m::media::{KeyframeRequestKind, Mid, Pt};
use str0m::rtp::{Extension, Ssrc};
use weft_rtcp::{Feedback, SenderInfo};
use weft_srtp::SrtpSession;

use super::outbox::Outbox;
use crate::egress::EgressKeys;
use crate::hotpath::{Outgoing, patch_vp8_picture_id};

/// Longest RTP header written: the fixed 12 bytes, the one-byte-element extension header and two
/// one-byte elements padded to a 32-bit boundary.
const MAX_HEADER: usize = 12 + 4 + 4;
/// Room after the payload for the longest SRTP tag.
const MAX_TAG: usize = 16;
/// Room after an RTCP packet for the SRTCP index and the longest tag.
const MAX_RTCP_TRAILER: usize = 4 + 16;
/// Sender reports per stream, as str0m sends them: video every second, audio every 5 s.
const VIDEO_REPORTS: Duration = Duration::from_secs(1);
const AUDIO_REPORTS: Duration = Duration::from_secs(5);

/// The loss-based estimate's start, bounds and increase interval.
const INITIAL_ESTIMATE_BPS: u64 = 2_500_000;
const MIN_ESTIMATE_BPS: u64 = 50_000;
const MAX_ESTIMATE_BPS: u64 = 20_000_000;
const INCREASE_EVERY: Duration = Duration::from_secs(1);

/// A member's egress bandwidth estimate from the loss its receiver reports (the loss-based
/// controller of Google congestion control, draft-ietf-rmcat-gcc-02 §6): above 10 % loss the
/// estimate drops by half the loss; below 2 % it grows by 8 % a second. Simulcast layers of
/// members whose packets Weft seals are chosen from it (they run no TWCC estimator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LossEstimate {
    bps: u64,
    last_increase: Option<Instant>,
}

impl Default for LossEstimate {
    fn default() -> Self {
        Self {
            bps: INITIAL_ESTIMATE_BPS,
            last_increase: None,
        }
    }
}

impl LossEstimate {
    /// Takes one reception report's fraction lost (of 256); returns the estimate.
    pub(crate) fn observe(&mut self, fraction_lost: u8, now: Instant) -> u64 {
        let loss = f64::from(fraction_lost) / 256.0;
        if loss > 0.10 {
            self.bps = (self.bps as f64 * (1.0 - 0.5 * loss)) as u64;
        } else if loss < 0.02
            && self
                .last_increase
                .is_none_or(|t| now.saturating_duration_since(t) >= INCREASE_EVERY)
        {
            self.bps = (self.bps as f64 * 1.08) as u64;
            self.last_increase = Some(now);
        }
        self.bps = self.bps.clamp(MIN_ESTIMATE_BPS, MAX_ESTIMATE_BPS);
        self.bps
    }

    /// The current estimate.
    pub(crate) fn bps(&self) -> u64 {
        self.bps
    }
}

/// Feedback the peer sent about one of Weft's streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamFeedback {
    /// A PLI or FIR: the m-line's subscriber needs a keyframe.
    Keyframe(Mid, KeyframeRequestKind),
    /// A NACK packet about the m-line's stream (its lost packets follow as `Lost`).
    Nacked(Mid),
    /// A NACK entry: the peer lost this (16-bit) sequence number of the m-line's stream.
    Lost(Mid, u16),
}

enum State {
    /// Waiting for DTLS to export the keys.
    Waiting,
    /// Sealing with the keys of this side (`tx`) and opening the peer's SRTCP (`rx`).
    Sealing {
        tx: Box<SrtpSession>,
        rx: Box<SrtpSession>,
    },
    /// The keys cannot be used: the streams went back to str0m for good.
    Str0m,
}

/// One send stream Weft owns.
struct OwnedStream {
    mid: Mid,
    ssrc: Ssrc,
    rtx: Option<Ssrc>,
    cname: String,
    /// Negotiated one-byte extension ids.
    audio_level: Option<u8>,
    orientation: Option<u8>,
    video: bool,
    packets: u32,
    octets: u32,
    /// RTP timestamp of the newest packet, when it was sent and its clock rate.
    last: Option<(u32, Instant, u32)>,
    next_report: Option<Instant>,
    rtx_seq: u16,
}

/// Weft-owned egress of one WebRTC transport.
pub(crate) struct PeerEgress {
    keys: EgressKeys,
    state: State,
    /// Where str0m sends DTLS and RTCP: the nominated ICE pair's remote address.
    destination: Option<SocketAddr>,
    streams: Vec<OwnedStream>,
    /// str0m sent over ICE-TCP.
    tcp: bool,
    /// Reused for payloads that differ from the shared one, RTCP and SRTCP copies.
    scratch: Vec<u8>,
    /// The bandwidth estimate from the peer's loss reports on video.
    estimate: LossEstimate,
}

impl PeerEgress {
    /// Egress for the `Rtc` whose DTLS keys `keys` captures.
    pub(crate) fn new(keys: EgressKeys) -> Self {
        Self {
            keys,
            state: State::Waiting,
            destination: None,
            streams: Vec::new(),
            tcp: false,
            scratch: Vec::with_capacity(1500),
            estimate: LossEstimate::default(),
        }
    }

    /// Takes the send stream of `mid` from str0m; `false` if there is none (or Weft already
    /// gave up owning this peer's streams).
    pub(crate) fn own(&mut self, rtc: &mut Rtc, mid: Mid) -> bool {
        if matches!(self.state, State::Str0m) || self.streams.iter().any(|s| s.mid == mid) {
            return false;
        }
        let mut api = rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(mid, None) else {
            return false;
        };
        let (ssrc, rtx) = (tx.ssrc(), tx.rtx());
        api.remove_stream_tx(ssrc);
        let mut stream = OwnedStream::new(mid, ssrc, rtx);
        stream.refresh(rtc);
        self.streams.push(stream);
        true
    }

    /// The stream of `mid`, if Weft seals it: pass it to [`PeerEgress::seal`].
    pub(crate) fn sealed_stream(&self, mid: Mid) -> Option<usize> {
        if !self.sealing() {
            return None;
        }
        self.streams.iter().position(|s| s.mid == mid)
    }

    /// Lends the streams back to str0m before an SDP operation, so the SDP it makes announces
    /// the same SSRCs (str0m would otherwise make new ones). Take them again with
    /// [`PeerEgress::reclaim`] before the `Rtc` is polled.
    pub(crate) fn lend(&self, rtc: &mut Rtc) {
        for s in &self.streams {
            if rtc.media(s.mid).is_some() {
                rtc.direct_api()
                    .declare_stream_tx(s.ssrc, s.rtx, s.mid, None);
            }
        }
    }

    /// Takes the streams back after an SDP operation; forgets those whose m-line is gone.
    pub(crate) fn reclaim(&mut self, rtc: &mut Rtc) {
        if matches!(self.state, State::Str0m) {
            return;
        }
        self.streams.retain_mut(|s| {
            rtc.direct_api().remove_stream_tx(s.ssrc);
            rtc.media(s.mid).is_some() && {
                s.refresh(rtc);
                true
            }
        });
    }

    /// Starts sealing once the `Rtc` is connected; without usable keys, gives the streams to
    /// str0m for good and returns `false`.
    pub(crate) fn start(&mut self, rtc: &mut Rtc) -> bool {
        if let State::Sealing { .. } = self.state {
            return true;
        }
        let sessions = self.keys.keys().and_then(|keys| {
            let tx = SrtpSession::new(keys.sending()).ok()?;
            let rx = SrtpSession::new(keys.receiving()).ok()?;
            Some((tx, rx))
        });
        match sessions {
            Some((tx, rx)) if self.destination.is_some() && !self.tcp => {
                self.state = State::Sealing {
                    tx: Box::new(tx),
                    rx: Box::new(rx),
                };
                true
            }
            _ => {
                tracing::debug!(
                    profile = ?self.keys.negotiated_profile(),
                    "egress stays with str0m: no usable keys"
                );
                self.lend(rtc);
                self.streams.clear();
                self.state = State::Str0m;
                false
            }
        }
    }

    /// The bandwidth estimate from the peer's loss reports on video.
    pub(crate) fn estimate_bps(&self) -> u64 {
        self.estimate.bps()
    }

    /// Whether packets for owned streams are sealed here.
    pub(crate) fn sealing(&self) -> bool {
        matches!(self.state, State::Sealing { .. })
    }

    /// Notes a datagram str0m sends: DTLS, RTP and RTCP go to the nominated pair (STUN answers
    /// go to whoever checked), which is where Weft sends too. A peer reached over ICE-TCP keeps
    /// str0m's egress (its datagrams are framed on the connection).
    pub(crate) fn note_transmit(&mut self, destination: SocketAddr, contents: &[u8], tcp: bool) {
        if tcp {
            self.tcp = true;
        } else if contents.first().is_some_and(|b| *b > 3) {
            self.destination = Some(destination);
        }
    }

    /// Seals `out` for `stream` (from [`PeerEgress::sealed_stream`]) and queues it in `outbox`;
    /// `false` if it cannot be sent here (not sealing, no such stream, the key is exhausted).
    pub(crate) fn seal(
        &mut self,
        stream: usize,
        out: &Outgoing,
        now: Instant,
        outbox: &mut Outbox,
    ) -> bool {
        let (State::Sealing { tx, .. }, Some(destination)) = (&mut self.state, self.destination)
        else {
            return false;
        };
        let Some(stream) = self.streams.get_mut(stream) else {
            return false;
        };
        let mut header = [0u8; MAX_HEADER];
        let header_len = stream.header(&mut header, out.pt, out.seq as u16, out.ts, out, false);
        let payload: &[u8] = match out.vp8_picture_id {
            Some(id) => {
                self.scratch.clear();
                self.scratch.extend_from_slice(&out.payload);
                patch_vp8_picture_id(&mut self.scratch, id);
                &self.scratch
            }
            None => &out.payload,
        };
        let max = header_len + payload.len() + MAX_TAG;
        let queued = outbox.push_with(destination, max, |buf| {
            tx.seal_rtp(&header[..header_len], payload, buf).ok()
        });
        if queued {
            stream.sent(out, payload.len(), now);
        }
        queued
    }

    /// Resends `out` (a packet the peer NACKed, prepared again with its original sequence number)
    /// as RTX on the stream's repair SSRC when it has one and `rtx_pt` is known, otherwise as it
    /// was first sent.
    pub(crate) fn resend(
        &mut self,
        mid: Mid,
        out: &Outgoing,
        rtx_pt: Option<Pt>,
        now: Instant,
        outbox: &mut Outbox,
    ) -> bool {
        let Some(index) = self.sealed_stream(mid) else {
            return false;
        };
        let Some((rtx_ssrc, rtx_pt)) = self.streams[index].rtx.zip(rtx_pt) else {
            return self.seal(index, out, now, outbox);
        };
        let (State::Sealing { tx, .. }, Some(destination)) = (&mut self.state, self.destination)
        else {
            return false;
        };
        let stream = &mut self.streams[index];
        // RFC 4588: the repair stream's own sequence, the original sequence number first.
        self.scratch.clear();
        self.scratch
            .extend_from_slice(&(out.seq as u16).to_be_bytes());
        self.scratch.extend_from_slice(&out.payload);
        if let Some(id) = out.vp8_picture_id {
            patch_vp8_picture_id(&mut self.scratch[2..], id);
        }
        let mut header = [0u8; MAX_HEADER];
        stream.rtx_seq = stream.rtx_seq.wrapping_add(1);
        let header_len = stream.header(&mut header, rtx_pt, stream.rtx_seq, out.ts, out, true);
        header[8..12].copy_from_slice(&rtx_ssrc.to_be_bytes());
        let payload = &self.scratch;
        let max = header_len + payload.len() + MAX_TAG;
        outbox.push_with(destination, max, |buf| {
            tx.seal_rtp(&header[..header_len], payload, buf).ok()
        })
    }

    /// Reads the feedback about Weft's streams in an SRTCP datagram from the peer (a copy is
    /// opened; str0m still gets the datagram): loss reports on video move the bandwidth
    /// estimate, the rest goes to `on`. Unopenable datagrams are ignored.
    pub(crate) fn read_rtcp(
        &mut self,
        datagram: &[u8],
        now: Instant,
        mut on: impl FnMut(StreamFeedback),
    ) {
        let State::Sealing { rx, .. } = &mut self.state else {
            return;
        };
        self.scratch.clear();
        self.scratch.extend_from_slice(datagram);
        let Ok(len) = rx.unprotect_rtcp(&mut self.scratch) else {
            return;
        };
        let streams = &self.streams;
        let stream_of = |ssrc: u32| {
            streams
                .iter()
                .find(|s| *s.ssrc == ssrc || s.rtx.is_some_and(|r| *r == ssrc))
        };
        let mid_of = |ssrc: u32| stream_of(ssrc).map(|s| s.mid);
        for feedback in weft_rtcp::parse(&self.scratch[..len]) {
            let Ok(feedback) = feedback else {
                return;
            };
            match feedback {
                Feedback::Pli(pli) => {
                    if let Some(mid) = mid_of(pli.media_ssrc) {
                        on(StreamFeedback::Keyframe(mid, KeyframeRequestKind::Pli));
                    }
                }
                Feedback::Fir(fir) => {
                    if let Some(mid) = mid_of(fir.media_ssrc) {
                        on(StreamFeedback::Keyframe(mid, KeyframeRequestKind::Fir));
                    }
                }
                Feedback::Nack(nack) => {
                    if let Some(mid) = mid_of(nack.media_ssrc) {
                        on(StreamFeedback::Nacked(mid));
                        nack.lost()
                            .for_each(|seq| on(StreamFeedback::Lost(mid, seq)));
                    }
                }
                Feedback::ReceptionReport(report) => {
                    if stream_of(report.source_ssrc).is_some_and(|s| s.video) {
                        self.estimate.observe(report.fraction_lost, now);
                    }
                }
            }
        }
    }

    /// Sends the sender reports that are due (with an SDES CNAME).
    pub(crate) fn send_reports(&mut self, now: Instant, outbox: &mut Outbox) {
        let (State::Sealing { tx, .. }, Some(destination)) = (&mut self.state, self.destination)
        else {
            return;
        };
        let wall = SystemTime::now();
        for s in &mut self.streams {
            let Some((ts, at, clock)) = s.last else {
                continue;
            };
            if *s.next_report.get_or_insert(now) > now {
                continue;
            }
            let elapsed = now.saturating_duration_since(at).as_secs_f64();
            let info = SenderInfo {
                ssrc: *s.ssrc,
                ntp_timestamp: weft_rtcp::ntp_timestamp(wall),
                rtp_timestamp: ts.wrapping_add((elapsed * f64::from(clock)) as u32),
                packet_count: s.packets,
                octet_count: s.octets,
            };
            self.scratch.clear();
            if weft_rtcp::append_sender_report(&mut self.scratch, &info, &s.cname).is_ok() {
                self.scratch.reserve(MAX_RTCP_TRAILER);
                if tx.protect_rtcp(&mut self.scratch).is_ok() {
                    let packet = &self.scratch;
                    outbox.push_with(destination, packet.len(), |buf| {
                        buf[..packet.len()].copy_from_slice(packet);
                        Some(packet.len())
                    });
                }
            }
            s.next_report = Some(
                now + if s.video {
                    VIDEO_REPORTS
                } else {
                    AUDIO_REPORTS
                },
            );
        }
    }
}

impl OwnedStream {
    /// A stream that has sent nothing yet; [`OwnedStream::refresh`] reads what was negotiated.
    fn new(mid: Mid, ssrc: Ssrc, rtx: Option<Ssrc>) -> Self {
        Self {
            mid,
            ssrc,
            rtx,
            cname: String::new(),
            audio_level: None,
            orientation: None,
            video: false,
            packets: 0,
            octets: 0,
            last: None,
            next_report: None,
            rtx_seq: 0,
        }
    }

    /// Reads what the negotiation decided: the CNAME, the kind and the extension ids.
    fn refresh(&mut self, rtc: &Rtc) {
        let Some(media) = rtc.media(self.mid) else {
            return;
        };
        self.cname = media.cname().to_owned();
        self.video = media.kind().is_video();
        let map = media.remote_extmap();
        self.audio_level = map.id_of(Extension::AudioLevel);
        self.orientation = map.id_of(Extension::VideoOrientation);
    }

    /// Writes the RTP header of `out` with payload type `pt` and sequence `seq` into `buf`;
    /// returns its length. The repair stream (`rtx`) carries no extensions.
    fn header(
        &self,
        buf: &mut [u8; MAX_HEADER],
        pt: Pt,
        seq: u16,
        ts: u32,
        out: &Outgoing,
        rtx: bool,
    ) -> usize {
        let mut elements = [0u8; 4];
        let mut n = 0;
        if !rtx {
            if let (Some(id), Some(level)) = (self.audio_level, out.ext.audio_level) {
                let voice = if out.ext.voice_activity.unwrap_or(false) {
                    0x80
                } else {
                    0
                };
                elements[n] = id << 4;
                elements[n + 1] = voice | (level.unsigned_abs() & 0x7f);
                n += 2;
            }
            if let (Some(id), Some(orientation)) = (self.orientation, out.ext.video_orientation) {
                elements[n] = id << 4;
                elements[n + 1] = orientation as u8;
                n += 2;
            }
        }
        let extension = n > 0;
        buf[0] = 0x80 | if extension { 0x10 } else { 0 };
        buf[1] = (u8::from(out.marker) << 7) | (*pt & 0x7f);
        buf[2..4].copy_from_slice(&seq.to_be_bytes());
        buf[4..8].copy_from_slice(&ts.to_be_bytes());
        buf[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        if !extension {
            return 12;
        }
        buf[12..14].copy_from_slice(&[0xbe, 0xde]);
        buf[14..16].copy_from_slice(&1u16.to_be_bytes());
        buf[16..20].copy_from_slice(&elements);
        MAX_HEADER
    }

    /// Counts a sent packet for the sender reports.
    fn sent(&mut self, out: &Outgoing, payload_len: usize, now: Instant) {
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload_len as u32);
        self.last = Some((out.ts, now, out.clock_rate));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use str0m::rtp::{ExtensionValues, VideoOrientation};

    use super::*;

    fn lost(percent: u32) -> u8 {
        (percent * 256 / 100).min(255) as u8
    }

    fn stream(audio_level: Option<u8>, orientation: Option<u8>) -> OwnedStream {
        OwnedStream {
            audio_level,
            orientation,
            ..OwnedStream::new(Mid::from("0"), Ssrc::from(0x0102_0304), None)
        }
    }

    fn outgoing(level: Option<i8>, orientation: Option<VideoOrientation>) -> Outgoing {
        Outgoing {
            pt: Pt::new_with_value(111),
            seq: 0x1_0005,
            ts: 0xaabb_ccdd,
            marker: true,
            ext: ExtensionValues {
                audio_level: level,
                voice_activity: Some(true),
                video_orientation: orientation,
                ..ExtensionValues::default()
            },
            payload: Arc::from(&[1u8, 2, 3][..]),
            vp8_picture_id: None,
            nackable: false,
            received: Instant::now(),
            clock_rate: 48_000,
        }
    }

    #[test]
    fn headers_carry_the_negotiated_one_byte_extensions_padded_to_a_word() {
        let mut buf = [0u8; MAX_HEADER];
        let out = outgoing(Some(-37), Some(VideoOrientation::Deg90));
        let s = stream(Some(1), Some(13));
        let len = s.header(&mut buf, out.pt, out.seq as u16, out.ts, &out, false);
        assert_eq!(len, 20);
        assert_eq!(buf[0], 0x90, "version 2 with the extension bit");
        assert_eq!(buf[1], 0x80 | 111, "marker and payload type");
        assert_eq!(
            &buf[2..4],
            &5u16.to_be_bytes(),
            "the 16 low bits of the sequence"
        );
        assert_eq!(&buf[4..8], &0xaabb_ccddu32.to_be_bytes());
        assert_eq!(&buf[8..12], &0x0102_0304u32.to_be_bytes());
        assert_eq!(
            &buf[12..16],
            &[0xbe, 0xde, 0, 1],
            "one word of one-byte elements"
        );
        assert_eq!(&buf[16..20], &[0x10, 0x80 | 37, 0xd0, 3]);

        let plain = s.header(&mut buf, out.pt, 5, out.ts, &outgoing(None, None), false);
        assert_eq!((plain, buf[0]), (12, 0x80), "no extension without values");
        let one = stream(Some(1), None).header(&mut buf, out.pt, 5, out.ts, &out, false);
        assert_eq!(
            (one, &buf[16..20]),
            (20, &[0x10, 0x80 | 37, 0, 0][..]),
            "zero padding"
        );
        let repair = s.header(&mut buf, out.pt, 5, out.ts, &out, true);
        assert_eq!(repair, 12, "the repair stream carries no extensions");
    }

    #[test]
    fn heavy_loss_lowers_the_estimate_by_half_the_loss_and_light_loss_raises_it_once_a_second() {
        let t0 = Instant::now();
        let mut e = LossEstimate::default();
        assert_eq!(e.bps(), INITIAL_ESTIMATE_BPS);
        let after_loss = e.observe(lost(20), t0);
        let expected =
            (INITIAL_ESTIMATE_BPS as f64 * (1.0 - 0.5 * f64::from(lost(20)) / 256.0)) as u64;
        assert_eq!(after_loss, expected);
        // Between 2 % and 10 % it holds.
        assert_eq!(e.observe(lost(5), t0), after_loss);
        let raised = e.observe(0, t0);
        assert_eq!(raised, (after_loss as f64 * 1.08) as u64);
        assert_eq!(
            e.observe(0, t0 + Duration::from_millis(500)),
            raised,
            "once a second"
        );
        assert!(e.observe(0, t0 + Duration::from_secs(1)) > raised);
    }

    #[test]
    fn the_estimate_stays_within_its_bounds() {
        let t0 = Instant::now();
        let mut e = LossEstimate::default();
        for _ in 0..200 {
            e.observe(255, t0);
        }
        assert_eq!(e.bps(), MIN_ESTIMATE_BPS);
        for i in 0..200 {
            e.observe(0, t0 + Duration::from_secs(i));
        }
        assert_eq!(e.bps(), MAX_ESTIMATE_BPS);
    }
}
