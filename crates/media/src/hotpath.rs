//! The per-subscriber forwarding step, shared by the shards and the benchmarks: gate on keyframes,
//! map the payload type, rewrite sequence number and timestamp, and hand the shared payload to the
//! subscriber's str0m send stream (no copy).

use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::Rtc;
use str0m::RtcConfig;
use str0m::config::DtlsCert;
use str0m::format::{Codec, CodecSpec};
use str0m::media::{Mid, Pt, Rid};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, Ssrc, VideoOrientation, Vp8Descriptor};

use crate::dtmf::{EVENT_CLOCK, EventPacket};
use crate::egress::capturing_provider;
use crate::rewrite::{PictureIdRewriter, StreamRewriter};
use crate::rtx_ring::RtxPacket;

/// How often str0m reports per-stream stats. They feed only the shards' NACK/PLI/FIR counters,
/// and each report wakes the peer and visits every stream.
pub const STATS_INTERVAL: Duration = Duration::from_secs(5);

/// Video packets a send stream keeps for retransmission (str0m's default is 1,000): about a
/// second of a 2.5 Mbit/s layer, far more than a NACK's round trip, at a quarter of the memory.
pub const VIDEO_SEND_BUFFER: usize = 256;

/// The str0m configuration of every server-side peer: ICE-lite, RTP mode, the shared certificate,
/// per-stream stats every [`STATS_INTERVAL`], a video retransmission buffer of
/// [`VIDEO_SEND_BUFFER`] packets, Opus with RED (RFC 2198) for peers that offer it, and DTLS
/// through one configuration shared by every peer ([`capturing_provider`]).
pub fn server_config(cert: &DtlsCert) -> RtcConfig {
    RtcConfig::new()
        .set_crypto_provider(capturing_provider())
        .enable_opus(true, true)
        .set_ice_lite(true)
        .set_rtp_mode(true)
        .set_dtls_cert(cert.clone())
        .set_stats_interval(Some(STATS_INTERVAL))
        .set_send_buffer_video(VIDEO_SEND_BUFFER)
}

/// Forwarding state of one subscriber m-line.
#[derive(Debug, Clone, Default)]
pub struct SlotWriter {
    rewriter: StreamRewriter,
    pictures: PictureIdRewriter,
    waiting_keyframe: bool,
    /// Incoming payload type → the subscriber's payload type and its RED payload type, if any.
    pt_map: Option<(Pt, Pt, Option<Pt>)>,
    /// The SSRC of the slot's send stream, once found: str0m finds a stream by SSRC in a hash
    /// map, by mid only by scanning every stream.
    tx_ssrc: Option<Ssrc>,
}

/// What is being forwarded: one publisher packet with its codec, decided once per fan-out. The
/// payload is shared with every subscriber, never copied.
#[derive(Debug, Clone)]
pub struct Forwarded {
    /// Extended sequence number as received.
    pub seq: u64,
    /// RTP timestamp as received.
    pub ts: u32,
    /// Payload type as received.
    pub pt: Pt,
    /// RTP marker bit.
    pub marker: bool,
    /// The payload.
    pub payload: Arc<[u8]>,
    /// RFC 6464 audio level (negative dBov), if present.
    pub audio_level: Option<i8>,
    /// RFC 6464 voice activity flag, if present.
    pub voice_activity: Option<bool>,
    /// Video orientation (CVO), if present.
    pub video_orientation: Option<VideoOrientation>,
    /// When the packet was received.
    pub received: Instant,
    /// The simulcast layer (RID) the packet belongs to, if the source is simulcast.
    pub rid: Option<Rid>,
    /// The packet's codec as negotiated with the publisher.
    pub spec: CodecSpec,
    /// Whether the packet starts a keyframe (always false for audio).
    pub keyframe: bool,
    /// Whether the packet is video (nackable, keyframe-gated).
    pub video: bool,
    /// The RED (RFC 2198) packet this one was unwrapped from, for subscribers that take RED;
    /// `payload` is its primary block.
    pub red: Option<Red>,
}

/// A RED packet as its publisher sent it.
#[derive(Debug, Clone)]
pub struct Red {
    /// The publisher's RED payload type.
    pub pt: Pt,
    /// The RED payload (redundant blocks, then the primary).
    pub payload: Arc<[u8]>,
}

impl Forwarded {
    /// Takes what forwarding needs from a str0m packet (the payload is shared).
    pub fn from_rtp(packet: &RtpPacket, spec: CodecSpec, video: bool) -> Self {
        let ext = &packet.header.ext_vals;
        Self {
            seq: *packet.seq_no,
            ts: packet.header.timestamp,
            pt: packet.header.payload_type,
            marker: packet.header.marker,
            payload: packet.payload.clone(),
            audio_level: ext.audio_level,
            voice_activity: ext.voice_activity,
            video_orientation: ext.video_orientation,
            received: packet.timestamp,
            rid: None,
            spec,
            keyframe: video && is_keyframe(spec.codec, &packet.payload),
            video,
            red: None,
        }
    }

    /// Turns a RED packet into its primary block, of payload type `primary_pt`, keeping the RED
    /// original for subscribers that negotiated RED; `false` if the payload is malformed or its
    /// primary is of another payload type.
    pub fn unwrap_red(&mut self, primary_pt: Pt) -> bool {
        let Some((pt, range)) = crate::red::primary(&self.payload) else {
            return false;
        };
        if pt != *primary_pt {
            return false;
        }
        let primary: Arc<[u8]> = Arc::from(&self.payload[range]);
        self.red = Some(Red {
            pt: self.pt,
            payload: std::mem::replace(&mut self.payload, primary),
        });
        self.pt = primary_pt;
        true
    }
}

impl SlotWriter {
    /// Starts a new source on this slot: the output continues seamlessly, and video waits for a
    /// keyframe.
    pub fn restart(&mut self, video: bool) {
        self.rewriter.switch_source();
        self.pictures.switch_source();
        self.waiting_keyframe = video;
        self.pt_map = None;
    }

    /// Whether the slot waits for a keyframe.
    pub fn waiting_keyframe(&self) -> bool {
        self.waiting_keyframe
    }

    /// Keyframe gate and sequence/timestamp rewrite; `None` if the packet is not to be sent.
    fn admit(&mut self, f: &Forwarded, now: Instant) -> Option<(u64, u32)> {
        if self.waiting_keyframe {
            if !f.keyframe {
                return None;
            }
            self.waiting_keyframe = false;
        }
        self.rewriter.map(f.seq, f.ts, now, f.spec.clock_rate.get())
    }

    /// The packet as this slot sends it: payload type, rewritten sequence number, timestamp and
    /// VP8 picture id; `None` if it is not to be sent (waiting for a keyframe, no matching
    /// codec, stale after a switch).
    pub fn prepare(&mut self, rtc: &Rtc, f: &Forwarded, now: Instant) -> Option<Outgoing> {
        let (out_pt, out_red) = match self.pt_map {
            Some((i, o, r)) if i == f.pt => (o, r),
            _ => {
                let (o, r) = matching_pt(rtc, &f.spec)?;
                self.pt_map = Some((f.pt, o, r));
                (o, r)
            }
        };
        let (seq, ts) = self.admit(f, now)?;
        let ext = ExtensionValues {
            audio_level: f.audio_level,
            voice_activity: f.voice_activity,
            video_orientation: f.video_orientation,
            ..ExtensionValues::default()
        };
        let (pt, payload) = match (&f.red, out_red) {
            // RED to a subscriber that negotiated it, its blocks numbered as the subscriber
            // numbers the codec.
            (Some(red), Some(red_pt)) if out_pt == f.pt => (red_pt, red.payload.clone()),
            (Some(red), Some(red_pt)) => (
                red_pt,
                Arc::from(crate::red::with_block_pt(&red.payload, *out_pt)?),
            ),
            _ => (out_pt, f.payload.clone()),
        };
        let mut picture_id = None;
        if f.spec.codec == Codec::Vp8
            && let Some((id, wide)) = vp8_picture_id(&f.payload)
        {
            let out = self.pictures.map(id, wide);
            picture_id = (out != id).then_some(out);
        }
        Some(Outgoing {
            pt,
            seq,
            ts,
            marker: f.marker,
            ext,
            payload,
            vp8_picture_id: picture_id,
            nackable: f.video,
            received: f.received,
            clock_rate: f.spec.clock_rate.get(),
        })
    }

    /// The source's extended sequence number of this slot's 16-bit sequence number `seq` (as a
    /// NACK names it), if it belongs to the slot's current source.
    pub fn source_seq(&self, seq: u16) -> Option<u64> {
        self.rewriter.source_seq(seq)
    }

    /// A packet the slot sent before (`packet`, kept by its source, sent as `seq`) as the slot
    /// sent it, for a resend; `None` if the slot's mapping has moved on.
    pub fn prepare_resend(&self, rtc: &Rtc, packet: &RtxPacket, seq: u16) -> Option<Outgoing> {
        let (incoming, pt, _) = self.pt_map?;
        if packet.pt != incoming {
            return None;
        }
        let spec = rtc.codec_config().iter().find(|c| c.pt() == pt)?.spec();
        let picture_id = match vp8_picture_id(&packet.payload) {
            Some((id, wide)) if spec.codec == Codec::Vp8 => {
                let out = self.pictures.current(id, wide);
                (out != id).then_some(out)
            }
            _ => None,
        };
        Some(Outgoing {
            pt,
            seq: u64::from(seq),
            ts: self.rewriter.out_ts(packet.ts)?,
            marker: packet.marker,
            ext: ExtensionValues {
                audio_level: packet.audio_level,
                voice_activity: packet.voice_activity,
                video_orientation: packet.video_orientation,
                ..ExtensionValues::default()
            },
            payload: packet.payload.clone(),
            vp8_picture_id: picture_id,
            nackable: packet.video,
            received: packet.received,
            clock_rate: spec.clock_rate.get(),
        })
    }

    /// Writes the packet to the subscriber's send stream on `mid`; `false` if it was not written
    /// (see [`SlotWriter::prepare`], or no send stream). The caller must tick
    /// (`Input::Timeout`) and drain `rtc` afterwards to release it.
    pub fn write(&mut self, rtc: &mut Rtc, mid: Mid, f: &Forwarded, now: Instant) -> bool {
        match self.prepare(rtc, f, now) {
            Some(out) => self.write_to_stream(rtc, mid, out.into_write()),
            None => false,
        }
    }

    /// Serialises the packet as plain RTP (for a plain-RTP leg) into `out`; `false` if it is not
    /// to be sent.
    pub fn write_plain(
        &mut self,
        f: &Forwarded,
        header: PlainHeader,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some((seq, ts)) = self.admit(f, now) else {
            return false;
        };
        serialize_rtp(out, header, f.marker, seq as u16, ts, &f.payload);
        true
    }

    /// Serialises a generated packet as plain RTP into `out`; `false` if it is not to be sent.
    pub fn write_generated_plain(
        &mut self,
        g: &Generated,
        header: PlainHeader,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some((seq, ts)) = self.rewriter.map(g.seq, g.ts, now, g.clock_rate) else {
            return false;
        };
        serialize_rtp(out, header, g.marker, seq as u16, ts, &g.payload);
        true
    }

    /// Serialises a telephone-event packet (RFC 4733) the engine made as plain RTP into `out`,
    /// continuing the slot's sequence numbers and timeline: the packet's timestamp is its
    /// event's start, `since_start` ticks before where the timeline is. `false` if it is not to
    /// be sent. Restart the slot before a burst of events and after it.
    pub(crate) fn write_event_plain(
        &mut self,
        e: &EventPacket,
        header: PlainHeader,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some((seq, clock)) = self.rewriter.map(e.seq, e.clock, now, EVENT_CLOCK) else {
            return false;
        };
        let ts = clock.wrapping_sub(e.since_start);
        serialize_rtp(out, header, e.marker, seq as u16, ts, &e.payload);
        true
    }

    /// A packet the engine generated (a mixed audio frame) as this slot sends it, continuing
    /// the slot's sequence numbers and timestamps.
    pub fn prepare_generated(&mut self, g: &Generated, now: Instant) -> Option<Outgoing> {
        let (seq, ts) = self.rewriter.map(g.seq, g.ts, now, g.clock_rate)?;
        Some(Outgoing {
            pt: g.pt,
            seq,
            ts,
            marker: g.marker,
            ext: ExtensionValues {
                audio_level: Some(-(g.level.min(127) as i8)),
                voice_activity: Some(g.level < 127),
                ..ExtensionValues::default()
            },
            payload: g.payload.clone(),
            vp8_picture_id: None,
            nackable: false,
            received: now,
            clock_rate: g.clock_rate,
        })
    }

    /// Writes a packet the engine generated (a mixed audio frame) into the slot, continuing the
    /// slot's sequence numbers and timestamps. The caller ticks and drains `rtc` afterwards.
    pub fn write_generated(
        &mut self,
        rtc: &mut Rtc,
        mid: Mid,
        g: &Generated,
        now: Instant,
    ) -> bool {
        match self.prepare_generated(g, now) {
            Some(out) => self.write_to_stream(rtc, mid, out.into_write()),
            None => false,
        }
    }

    /// Writes `write` to the slot's send stream on `mid`; `false` if there is none. The stream
    /// is found by its remembered SSRC (str0m keeps send streams in a map by SSRC, and finds one
    /// by mid only by scanning them all), else by mid, remembering its SSRC.
    fn write_to_stream(&mut self, rtc: &mut Rtc, mid: Mid, write: RtpWrite) -> bool {
        let mut api = rtc.direct_api();
        if let Some(ssrc) = self.tx_ssrc
            && let Some(tx) = api.stream_tx(&ssrc)
        {
            tx.write_rtp(write);
            return true;
        }
        // First use, or the stream was replaced by a renegotiation.
        let Some(tx) = api.stream_tx_by_mid(mid, None) else {
            self.tx_ssrc = None;
            return false;
        };
        self.tx_ssrc = Some(tx.ssrc());
        tx.write_rtp(write);
        true
    }
}

/// One packet as a subscriber slot sends it ([`SlotWriter::prepare`]): for str0m's send
/// stream, or for the shard to seal itself.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The subscriber's payload type.
    pub pt: Pt,
    /// The slot's extended sequence number.
    pub seq: u64,
    /// The slot's RTP timestamp.
    pub ts: u32,
    /// RTP marker bit.
    pub marker: bool,
    /// Audio level, voice activity and video orientation to send.
    pub ext: ExtensionValues,
    /// The payload, shared.
    pub payload: Arc<[u8]>,
    /// A new VP8 picture id for the payload descriptor (the slot's continues across switches).
    pub vp8_picture_id: Option<u16>,
    /// Whether the packet may be resent on a NACK (video).
    pub nackable: bool,
    /// When its original arrived.
    pub received: Instant,
    /// The codec's RTP clock rate.
    pub clock_rate: u32,
}

impl Outgoing {
    /// The packet as str0m's `write_rtp` takes it.
    fn into_write(self) -> RtpWrite {
        let patch = self.vp8_picture_id.and_then(|id| {
            Vp8Descriptor::parse(&self.payload)
                .ok()
                .and_then(|d| d.patch().picture_id(id).build().ok())
        });
        let write = RtpWrite::new(
            self.pt,
            self.seq.into(),
            self.ts,
            self.received,
            self.payload,
        )
        .marker(self.marker)
        .ext_vals(self.ext)
        .nackable(self.nackable);
        match patch {
            Some(patch) => write.vp8_patch(patch),
            None => write,
        }
    }
}

/// Writes `picture_id` into the VP8 payload descriptor at the start of `payload` (which has a
/// picture id: see [`vp8_picture_id`]), keeping its 7- or 15-bit width.
pub fn patch_vp8_picture_id(payload: &mut [u8], picture_id: u16) {
    let Some((_, wide)) = vp8_picture_id(payload) else {
        return;
    };
    if wide {
        payload[2] = 0x80 | ((picture_id >> 8) as u8 & 0x7f);
        payload[3] = picture_id as u8;
    } else {
        payload[2] = picture_id as u8 & 0x7f;
    }
}

/// A packet made by the engine rather than forwarded (mixed audio).
pub struct Generated {
    /// The listener's payload type for the codec.
    pub pt: Pt,
    /// The generator's own sequence number (rewritten per slot).
    pub seq: u64,
    /// The generator's own RTP timestamp (rewritten per slot).
    pub ts: u32,
    /// The codec clock rate.
    pub clock_rate: u32,
    /// The payload, shared between listeners.
    pub payload: Arc<[u8]>,
    /// Audio level, `-dBov`.
    pub level: u8,
    /// RTP marker bit (the first frame of a talkspurt).
    pub marker: bool,
}

/// Payload type and SSRC of a plain-RTP output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainHeader {
    /// Payload type.
    pub pt: u8,
    /// Synchronisation source.
    pub ssrc: u32,
}

/// Writes a minimal RTP packet (no CSRC, no extensions) into `out`, replacing its contents.
fn serialize_rtp(
    out: &mut Vec<u8>,
    header: PlainHeader,
    marker: bool,
    seq: u16,
    ts: u32,
    payload: &[u8],
) {
    out.clear();
    out.push(0x80);
    out.push((u8::from(marker) << 7) | (header.pt & 0x7f));
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ts.to_be_bytes());
    out.extend_from_slice(&header.ssrc.to_be_bytes());
    out.extend_from_slice(payload);
}

/// The picture id of a VP8 payload descriptor and whether it is 15-bit.
fn vp8_picture_id(payload: &[u8]) -> Option<(u16, bool)> {
    let (&b0, rest) = payload.split_first()?;
    if b0 & 0x80 == 0 {
        return None;
    }
    let (&ext, rest) = rest.split_first()?;
    if ext & 0x80 == 0 {
        return None;
    }
    let (&hi, rest) = rest.split_first()?;
    if hi & 0x80 == 0 {
        return Some((u16::from(hi), false));
    }
    let &lo = rest.first()?;
    Some((u16::from(hi & 0x7f) << 8 | u16::from(lo), true))
}

/// The subscriber's payload type for the publisher's codec, and its RED payload type if it
/// negotiated RED.
fn matching_pt(rtc: &Rtc, spec: &CodecSpec) -> Option<(Pt, Option<Pt>)> {
    let config = rtc.codec_config();
    config
        .iter()
        .find(|c| c.spec() == *spec)
        .or_else(|| {
            config
                .iter()
                .find(|c| c.spec().codec == spec.codec && c.spec().clock_rate == spec.clock_rate)
        })
        .map(|c| (c.pt(), c.red()))
}

/// Whether an RTP payload starts a keyframe of `codec` (codecs without a detector count as yes).
pub fn is_keyframe(codec: Codec, payload: &[u8]) -> bool {
    use str0m::format::{
        detect_av1_keyframe, detect_h264_keyframe, detect_h265_keyframe, detect_vp8_keyframe,
        detect_vp9_keyframe,
    };
    match codec {
        Codec::Vp8 => detect_vp8_keyframe(payload),
        Codec::Vp9 => detect_vp9_keyframe(payload),
        Codec::H264 => detect_h264_keyframe(payload),
        Codec::H265 => detect_h265_keyframe(payload),
        Codec::Av1 => detect_av1_keyframe(payload),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::dtmf::DtmfSender;

    const HEADER: PlainHeader = PlainHeader {
        pt: 0,
        ssrc: 0x0102_0304,
    };

    /// `(seq, ts, pt, marker)` of a serialised packet.
    fn fields(d: &[u8]) -> (u16, u32, u8, bool) {
        (
            u16::from_be_bytes([d[2], d[3]]),
            u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
            d[1] & 0x7f,
            d[1] & 0x80 != 0,
        )
    }

    fn audio(w: &mut SlotWriter, seq: u64, now: Instant, out: &mut Vec<u8>) -> (u16, u32) {
        let g = Generated {
            pt: Pt::new_with_value(0),
            seq,
            ts: 1_000 + seq as u32 * 160,
            clock_rate: 8_000,
            payload: Arc::from(&[0xffu8; 160][..]),
            level: 127,
            marker: false,
        };
        assert!(w.write_generated_plain(&g, HEADER, now, out));
        let (seq, ts, _, _) = fields(out);
        (seq, ts)
    }

    #[test]
    fn events_continue_the_audio_stream_and_audio_continues_after_them() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut w = SlotWriter::default();
        let mut out = Vec::new();
        let mut last = (0, 0);
        for i in 0..5 {
            last = audio(&mut w, 500 + i, ms(i * 20), &mut out);
        }
        let mut dtmf = DtmfSender::default();
        assert!(dtmf.enqueue(&[1], ms(100)));
        let event_header = PlainHeader { pt: 101, ..HEADER };
        let mut events = Vec::new();
        for t in 100..300 {
            while let Some(e) = dtmf.poll(ms(t)) {
                if e.first {
                    w.restart(false);
                }
                assert!(w.write_event_plain(&e, event_header, ms(t), &mut out));
                assert_eq!(&out[8..12], &HEADER.ssrc.to_be_bytes());
                assert_eq!(&out[12..], &e.payload);
                events.push(fields(&out));
                if e.last {
                    w.restart(false);
                }
            }
        }
        assert_eq!(events.len(), 8);
        let start = events[0].1;
        for (i, (seq, ts, pt, marker)) in events.iter().enumerate() {
            assert_eq!(*seq, last.0 + 1 + i as u16, "one sequence with the audio");
            assert_eq!((*ts, *pt, *marker), (start, 101, i == 0));
        }
        // The event starts where the audio's clock is when it starts (20 ms after the last frame).
        assert_eq!(start, last.1 + 160);
        let after = audio(&mut w, 505, ms(300), &mut out);
        assert_eq!(after.0, events[7].0 + 1);
        assert!(
            after.1 >= start + 800,
            "audio resumes after the tone: {after:?}"
        );
    }
}
