//! What a test peer received on one m-line.

use std::collections::{BTreeMap, BTreeSet};

/// Received packets of one m-line.
#[derive(Debug, Clone, Default)]
pub struct StreamReport {
    /// The m-line's mid.
    pub mid: String,
    /// Whether the m-line is video.
    pub video: bool,
    /// Packets received (including RTX-repaired ones).
    pub packets: u64,
    /// Sender tags seen, in order of first appearance.
    pub origins: Vec<u32>,
    /// The sender tag of the latest packet.
    pub last_origin: Option<u32>,
    /// Whether the first packet received was a keyframe (video).
    pub first_is_keyframe: Option<bool>,
    /// Keyframe packets received.
    pub keyframes: u64,
    /// Extended sequence numbers received.
    pub seqs: BTreeSet<u64>,
    /// SSRCs seen.
    pub ssrcs: Vec<u32>,
    /// RTP timestamps of the last packets, in arrival order (bounded).
    pub last_timestamps: Vec<u32>,
    /// Changes of sender: `(new sender tag, whether its first packet was a keyframe)`.
    pub switches: Vec<(u32, bool)>,
    /// VP8 picture ids that did not follow the previous one (mod 2^15).
    pub picture_id_jumps: u64,
    /// The simulcast layer of the latest packet (synthetic simulcast publishers).
    pub last_layer: Option<u8>,
    /// Changes of simulcast layer: `(new layer, whether its first packet was a keyframe)`.
    pub layer_switches: Vec<(u8, bool)>,
    /// RTP timestamps that went backwards (wrapping comparison).
    pub timestamp_regressions: u64,
    /// The last VP8 picture id received.
    pub last_picture_id: Option<u16>,
    /// Payload types seen, in order of first appearance (a RED payload type for RED audio).
    pub payload_types: Vec<u8>,
    /// Forward RTP timestamp steps between packets in arrival order, and how often each occurred.
    pub timestamp_steps: BTreeMap<u32, u64>,
    /// Audio packets of a DTX silence's size (at most [`super::DTX_PAYLOAD`] bytes).
    pub small_packets: u64,
}

impl StreamReport {
    /// Sequence numbers missing between the lowest and highest received.
    pub fn missing(&self) -> u64 {
        match (self.seqs.first(), self.seqs.last()) {
            (Some(lo), Some(hi)) => hi - lo + 1 - self.seqs.len() as u64,
            _ => 0,
        }
    }
}
