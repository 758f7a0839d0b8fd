//! Synthetic media payloads.

use std::time::Duration;

use str0m::Rtc;
use str0m::format::Codec;
use str0m::media::Pt;

/// How often the synthetic publisher sends a keyframe unprompted (long, so tests prove PLI works).
pub const VP8_KEYFRAME_INTERVAL: Duration = Duration::from_secs(30);

/// Size of a synthetic video packet payload.
const VIDEO_PAYLOAD: usize = 900;

/// A one-packet VP8 frame: payload descriptor with a 15-bit picture id, then a VP8 payload header
/// whose P bit marks a keyframe (0) or delta frame (1), then the sender's tag and filler.
pub fn vp8_payload(picture_id: u16, keyframe: bool, tag: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(VIDEO_PAYLOAD);
    p.push(0x90); // X=1, S=1, PID=0
    p.push(0x80); // I=1: picture id present
    p.push(0x80 | ((picture_id >> 8) as u8 & 0x7f));
    p.push(picture_id as u8);
    p.push(if keyframe { 0x10 } else { 0x11 }); // P bit
    p.extend_from_slice(&[0x9d, 0x01, 0x2a]); // keyframe start code, harmless on deltas
    p.extend_from_slice(&tag.to_be_bytes());
    p.resize(VIDEO_PAYLOAD, 0x55);
    p
}

/// A one-packet frame of `codec` (VP8, VP9, H.264 or AV1): the first byte says whether it is a
/// keyframe the way str0m's detectors read it, then the sender's tag at byte 8, then filler.
pub fn video_payload(codec: Codec, picture_id: u16, keyframe: bool, tag: u32) -> Vec<u8> {
    let first = match codec {
        Codec::Vp8 => return vp8_payload(picture_id, keyframe, tag),
        // Descriptor I|P|L|F|B|E|V|Z: a picture id, start of a frame, P clear on keyframes.
        Codec::Vp9 if keyframe => 0x88,
        Codec::Vp9 => 0xc8,
        // A single NAL unit: an IDR slice, or a non-IDR one.
        Codec::H264 if keyframe => 0x65,
        Codec::H264 => 0x41,
        // Aggregation header Z|Y|W|W|N|-|-|-: N starts a coded video sequence.
        Codec::Av1 if keyframe => 0x18,
        _ => 0x10,
    };
    let mut p = Vec::with_capacity(VIDEO_PAYLOAD);
    p.push(first);
    p.push(0x80 | ((picture_id >> 8) as u8 & 0x7f));
    p.push(picture_id as u8);
    p.resize(8, 0);
    p.extend_from_slice(&tag.to_be_bytes());
    p.resize(VIDEO_PAYLOAD, 0x55);
    p
}

/// Simulcast layer ids written by [`vp8_layer_payload`], lowest first, and their payload sizes.
pub const SIMULCAST_LAYERS: [(&str, usize); 3] = [("q", 300), ("h", 700), ("f", 1100)];

/// A one-packet VP8 frame of simulcast layer `layer` (index into [`SIMULCAST_LAYERS`]).
pub fn vp8_layer_payload(picture_id: u16, keyframe: bool, tag: u32, layer: u8) -> Vec<u8> {
    let mut p = vp8_payload(picture_id, keyframe, tag);
    let size = SIMULCAST_LAYERS
        .get(usize::from(layer))
        .map_or(VIDEO_PAYLOAD, |(_, size)| *size);
    p.resize(size, 0x55);
    p[12] = layer;
    p
}

/// The simulcast layer of a synthetic VP8 payload, if it has one.
pub fn layer_of(payload: &[u8]) -> Option<u8> {
    payload
        .get(12)
        .copied()
        .filter(|l| usize::from(*l) < SIMULCAST_LAYERS.len())
}

/// An audio payload: a TOC-like byte, the sender's tag, filler.
pub fn audio_payload(tag: u32, size: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(size.max(5));
    p.push(0x78);
    p.extend_from_slice(&tag.to_be_bytes());
    p.resize(size.max(5), 0xaa);
    p
}

/// The sender tag in a synthetic payload of `video` or audio.
pub fn tag_of(payload: &[u8], video: bool) -> Option<u32> {
    let at = if video { 8 } else { 1 };
    let bytes = payload.get(at..at + 4)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// The 15-bit picture id of a synthetic VP8 payload.
pub fn picture_id_of(payload: &[u8]) -> Option<u16> {
    match payload {
        [b0, b1, hi, lo, ..] if b0 & 0x80 != 0 && b1 & 0x80 != 0 && hi & 0x80 != 0 => {
            Some(u16::from(hi & 0x7f) << 8 | u16::from(*lo))
        }
        _ => None,
    }
}

/// The payload type `rtc` negotiated for `codec`, if any.
pub fn payload_type(rtc: &Rtc, codec: Codec) -> Option<Pt> {
    rtc.codec_config()
        .iter()
        .find(|c| c.spec().codec == codec)
        .map(|c| c.pt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp8_keyframes_are_detected_by_str0m() {
        assert!(str0m::format::detect_vp8_keyframe(&vp8_payload(7, true, 1)));
        for codec in [Codec::Vp8, Codec::Vp9, Codec::H264, Codec::Av1] {
            assert!(crate::hotpath::is_keyframe(
                codec,
                &video_payload(codec, 3, true, 7)
            ));
            assert!(!crate::hotpath::is_keyframe(
                codec,
                &video_payload(codec, 3, false, 7)
            ));
            assert_eq!(tag_of(&video_payload(codec, 3, false, 7), true), Some(7));
        }
        assert!(!str0m::format::detect_vp8_keyframe(&vp8_payload(
            8, false, 1
        )));
        assert_eq!(tag_of(&vp8_payload(9, false, 42), true), Some(42));
        assert_eq!(tag_of(&audio_payload(43, 60), false), Some(43));
        assert_eq!(picture_id_of(&vp8_payload(0x1234, false, 1)), Some(0x1234));
        assert_eq!(layer_of(&vp8_payload(1, false, 1)), None);
        let p = vp8_layer_payload(1, true, 5, 2);
        assert_eq!(
            (layer_of(&p), tag_of(&p, true), p.len()),
            (Some(2), Some(5), 1100)
        );
        assert!(str0m::format::detect_vp8_keyframe(&p));
    }
}
