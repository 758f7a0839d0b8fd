//! Synthetic WebRTC client peers for end-to-end tests: a real str0m `Rtc` (full ICE, controlling,
//! RTP mode) on its own loopback UDP socket and thread, sending synthetic Opus-shaped audio and VP8
//! video (keyframes on start and on PLI) and recording what it receives.
//!
//! Payloads carry the sending peer's `tag`, so a receiver can tell whose media it got.

mod media;
mod memory;
mod peer;
mod report;
mod tone;

pub use media::{
    SIMULCAST_LAYERS, VP8_KEYFRAME_INTERVAL, audio_payload, layer_of, payload_type, tag_of,
    video_payload, vp8_layer_payload, vp8_payload,
};
pub use memory::{MemoryPair, deliver};
pub use peer::{DTX_INTERVAL, DTX_PAYLOAD, PeerSpec, PendingPeer, TestPeer};
pub use report::StreamReport;
pub use tone::{
    ToneSink, ToneSource, tone_amplitude, tone_amplitude_at, tone_presence, tone_presence_at,
};

use std::time::{Duration, Instant};

/// Polls `check` every 10 ms until it returns true or `timeout` passes; returns the last result.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
