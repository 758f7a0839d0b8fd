//! The per-subscriber forwarding step, shared by the shards and the benchmarks: gate on keyframes,
//! map the payload type, rewrite sequence number and timestamp, and hand the shared payload to the
//! subscriber's str0m send stream (no copy).

use std::sync::Arc;
use std::time::Instant;

use str0m::Rtc;
use str0m::RtcConfig;
use str0m::config::DtlsCert;
use str0m::format::{Codec, CodecSpec};
use str0m::media::{Mid, Pt};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, Vp8Descriptor};

use crate::rewrite::{PictureIdRewriter, StreamRewriter};

/// The str0m configuration of every server-side peer: ICE-lite, RTP mode, the shared certificate.
pub fn server_config(cert: &DtlsCert) -> RtcConfig {
    RtcConfig::new()
        .set_ice_lite(true)
        .set_rtp_mode(true)
        .set_dtls_cert(cert.clone())
}

/// Forwarding state of one subscriber m-line.
#[derive(Debug, Clone, Default)]
pub struct SlotWriter {
    rewriter: StreamRewriter,
    pictures: PictureIdRewriter,
    waiting_keyframe: bool,
    pt_map: Option<(Pt, Pt)>,
}

/// What is being forwarded: one publisher packet with its codec, decided once per fan-out.
pub struct Forwarded<'a> {
    /// The publisher's packet (its payload is shared with every subscriber).
    pub packet: &'a RtpPacket,
    /// The packet's codec as negotiated with the publisher.
    pub spec: CodecSpec,
    /// Whether the packet starts a keyframe (always false for audio).
    pub keyframe: bool,
    /// Whether the packet is video (nackable, keyframe-gated).
    pub video: bool,
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

    /// Writes the packet to the subscriber's send stream on `mid`; `false` if it was not written
    /// (waiting for a keyframe, no matching codec, stale after a switch, no send stream).
    /// The caller must tick (`Input::Timeout`) and drain `rtc` afterwards to release it.
    pub fn write(&mut self, rtc: &mut Rtc, mid: Mid, f: &Forwarded<'_>, now: Instant) -> bool {
        if self.waiting_keyframe {
            if !f.keyframe {
                return false;
            }
            self.waiting_keyframe = false;
        }
        let packet = f.packet;
        let in_pt = packet.header.payload_type;
        let out_pt = match self.pt_map {
            Some((i, o)) if i == in_pt => o,
            _ => {
                let Some(o) = matching_pt(rtc, &f.spec) else {
                    return false;
                };
                self.pt_map = Some((in_pt, o));
                o
            }
        };
        let clock = f.spec.clock_rate.get();
        let Some((seq, ts)) =
            self.rewriter
                .map(*packet.seq_no, packet.header.timestamp, now, clock)
        else {
            return false;
        };
        let ext = ExtensionValues {
            audio_level: packet.header.ext_vals.audio_level,
            voice_activity: packet.header.ext_vals.voice_activity,
            video_orientation: packet.header.ext_vals.video_orientation,
            ..ExtensionValues::default()
        };
        let mut write = RtpWrite::new(
            out_pt,
            seq.into(),
            ts,
            packet.timestamp,
            packet.payload.clone(),
        )
        .marker(packet.header.marker)
        .ext_vals(ext)
        .nackable(f.video);
        if f.spec.codec == Codec::Vp8
            && let Some((picture_id, wide)) = vp8_picture_id(&packet.payload)
        {
            let out = self.pictures.map(picture_id, wide);
            if out != picture_id
                && let Some(patch) = Vp8Descriptor::parse(&packet.payload)
                    .ok()
                    .and_then(|d| d.patch().picture_id(out).build().ok())
            {
                write = write.vp8_patch(patch);
            }
        }
        let mut api = rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(mid, None) else {
            return false;
        };
        tx.write_rtp(write);
        true
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
        let Some((seq, ts)) = self.rewriter.map(g.seq, g.ts, now, g.clock_rate) else {
            return false;
        };
        let ext = ExtensionValues {
            audio_level: Some(-(g.level.min(127) as i8)),
            voice_activity: Some(g.level < 127),
            ..ExtensionValues::default()
        };
        let mut api = rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(mid, None) else {
            return false;
        };
        tx.write_rtp(RtpWrite::new(g.pt, seq.into(), ts, now, g.payload.clone()).ext_vals(ext));
        true
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

/// The subscriber's payload type for the publisher's codec.
fn matching_pt(rtc: &Rtc, spec: &CodecSpec) -> Option<Pt> {
    let config = rtc.codec_config();
    config
        .iter()
        .find(|c| c.spec() == *spec)
        .or_else(|| {
            config
                .iter()
                .find(|c| c.spec().codec == spec.codec && c.spec().clock_rate == spec.clock_rate)
        })
        .map(|c| c.pt())
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
