//! Simulcast layer selection: each subscriber slot of a simulcast source forwards one layer, the
//! highest its bandwidth estimate (TWCC, capped by its preference) and maximum layer allow; a
//! change takes effect on the new layer's next keyframe (requested at once).
//!
//! Layers nobody receives are paused: the publisher is told which layers anyone receives
//! ([`MediaEvent::LayersWanted`]), so that an SFU-aware client stops encoding and sending the
//! others. A paused layer keeps its last measured bitrate, so subscribers can still choose it;
//! choosing it resumes it.

use std::time::{Duration, Instant};

use str0m::media::Rid;

use super::peer::Transport;
use super::room::LayerStat;
use super::worker::Worker;
use crate::event::MediaEvent;
use crate::options::{LayerPreference, VideoLayer};

/// Length of the window over which layer bitrates are measured.
const LAYER_WINDOW: Duration = Duration::from_millis(500);
/// Least time between two keyframe requests to one layer.
const LAYER_KEYFRAME_INTERVAL: Duration = Duration::from_millis(300);
/// How long a layer goes unreceived before its publisher is told it may pause it.
const LAYER_PAUSE_DELAY: Duration = Duration::from_secs(2);
/// How long a resumed layer may stay silent (the publisher restarting it) before its silence
/// counts as a measured bitrate of zero.
const LAYER_RESUME_GRACE: Duration = Duration::from_secs(1);

impl Worker {
    /// Updates layer bitrates and re-targets every simulcast subscriber slot.
    pub(super) fn select_layers(&mut self, now: Instant) {
        let mut requests = Vec::new();
        let mut changed = Vec::new();
        for (room, r) in self.rooms.iter_mut() {
            for (source, s) in r.sources.iter_mut() {
                if s.layers.is_empty() {
                    continue;
                }
                for layer in &mut s.layers {
                    measure(layer, now);
                }
                let mut by_rate: Vec<(u64, Rid)> =
                    s.layers.iter().map(|l| (l.bps, l.rid)).collect();
                by_rate.sort_by_key(|(bps, _)| *bps);
                // Every layer is wanted while other shards take the video: their subscribers
                // choose layers there.
                let mut wanted: Vec<Rid> = if s.relay_to.is_empty() {
                    Vec::new()
                } else {
                    s.layers.iter().map(|l| l.rid).collect()
                };
                for &(subscriber, line) in &s.subscribers {
                    let Some(p) = self.peers.get_mut(subscriber) else {
                        continue;
                    };
                    let estimate = match (p.stats.bwe_bps, p.layers.max_bitrate_bps) {
                        (Some(e), Some(cap)) => e.min(cap),
                        (e, cap) => e.or(cap).unwrap_or(u64::MAX),
                    };
                    let target = choose_layer(&by_rate, estimate, p.layers);

                    let Some(slot) = p.lines.get_mut(line).and_then(|l| l.slot.as_mut()) else {
                        continue;
                    };
                    if slot.target != Some(target) {
                        slot.target = Some(target);
                    }
                    if slot.layer != slot.target {
                        requests.push((room, source, target));
                    }
                    wanted.extend(slot.layer);
                    wanted.push(target);
                }
                let local = self
                    .peers
                    .get(s.publisher)
                    .is_some_and(|p| !matches!(p.transport, Transport::Remote(_)));
                if local && update_paused(&mut s.layers, &wanted, now) {
                    let active: Vec<Rid> = by_rate
                        .iter()
                        .map(|(_, rid)| *rid)
                        .filter(|rid| s.layers.iter().any(|l| l.rid == *rid && !l.paused))
                        .collect();
                    changed.push((r.id.clone(), s.publisher, s.mid, active));
                }
            }
        }
        for (room, source, rid) in requests {
            self.request_layer_keyframe(room, source, rid, now);
        }
        for (room, publisher, mid, active) in changed {
            let Some(p) = self.peers.get(publisher) else {
                continue;
            };
            self.io.emit(MediaEvent::LayersWanted {
                room,
                member: p.member.clone(),
                mid: mid.to_string(),
                rids: active.iter().map(Rid::to_string).collect(),
            });
        }
    }

    /// Asks the publisher of `source` for a keyframe on layer `rid`, throttled per layer.
    pub(super) fn request_layer_keyframe(
        &mut self,
        room: usize,
        source: usize,
        rid: Rid,
        now: Instant,
    ) {
        let Some(s) = self.rooms.get(room).and_then(|r| r.sources.get(source)) else {
            return;
        };
        let throttled = s.layers.iter().find(|l| l.rid == rid).is_none_or(|l| {
            l.last_keyframe_request
                .is_some_and(|t| now.saturating_duration_since(t) < LAYER_KEYFRAME_INTERVAL)
        });
        if throttled {
            return;
        }
        let (publisher, mid) = (s.publisher, s.mid);
        if self.send_keyframe_request(publisher, mid, Some(rid))
            && let Some(layer) = self
                .rooms
                .get_mut(room)
                .and_then(|r| r.sources.get_mut(source))
                .and_then(|s| s.layers.iter_mut().find(|l| l.rid == rid))
        {
            layer.last_keyframe_request = Some(now);
        }
    }
}

/// Closes the layer's bitrate window when it is due. While its publisher was told to pause the
/// layer, or is restarting it, the bitrate does not fall: the layer's silence (whole or in part
/// of a window) is ours, not a measure of the layer.
fn measure(layer: &mut LayerStat, now: Instant) {
    let elapsed = now.saturating_duration_since(layer.window_start);
    if elapsed < LAYER_WINDOW {
        return;
    }
    let measured = (layer.bytes as f64 * 8.0 / elapsed.as_secs_f64()) as u64;
    let restarting = layer
        .resumed_at
        .is_some_and(|t| now.saturating_duration_since(t) < LAYER_RESUME_GRACE);
    layer.bps = if layer.paused || restarting {
        layer.bps.max(measured)
    } else {
        measured
    };
    layer.bytes = 0;
    layer.window_start = now;
}

/// Marks layers in `wanted` as wanted now, pauses those unwanted for [`LAYER_PAUSE_DELAY`] and
/// resumes wanted paused ones; whether any layer changed.
fn update_paused(layers: &mut [LayerStat], wanted: &[Rid], now: Instant) -> bool {
    let mut changed = false;
    for layer in layers {
        if wanted.contains(&layer.rid) {
            layer.last_wanted = now;
        }
        let active = now.saturating_duration_since(layer.last_wanted) < LAYER_PAUSE_DELAY;
        if active == layer.paused {
            layer.paused = !active;
            if active {
                layer.resumed_at = Some(now);
            }
            changed = true;
        }
    }
    changed
}

/// The highest layer (by measured bitrate) within the estimate and the preference; the lowest if
/// none fits.
fn choose_layer(by_rate: &[(u64, Rid)], estimate: u64, pref: LayerPreference) -> Rid {
    let max_index = match pref.max_layer {
        VideoLayer::Low => 0,
        VideoLayer::Medium => 1,
        VideoLayer::High => usize::MAX,
    };
    by_rate
        .iter()
        .enumerate()
        .filter(|(i, (bps, _))| *i <= max_index && *bps <= estimate)
        .map(|(_, (_, rid))| *rid)
        .next_back()
        .unwrap_or(by_rate[0].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers() -> Vec<(u64, Rid)> {
        vec![
            (80_000, Rid::from("q")),
            (200_000, Rid::from("h")),
            (500_000, Rid::from("f")),
        ]
    }

    #[test]
    fn a_layer_unwanted_for_the_pause_delay_is_paused_and_resumed_when_wanted() {
        let t0 = Instant::now();
        let mut layers = vec![
            LayerStat::new(Rid::from("q"), t0),
            LayerStat::new(Rid::from("f"), t0),
        ];
        let q = [Rid::from("q")];
        assert!(!update_paused(&mut layers, &q, t0 + Duration::from_secs(1)));
        assert!(update_paused(&mut layers, &q, t0 + LAYER_PAUSE_DELAY));
        assert!(!layers[0].paused && layers[1].paused);
        assert!(!update_paused(&mut layers, &q, t0 + Duration::from_secs(5)));
        let both = [Rid::from("q"), Rid::from("f")];
        let resumed = t0 + Duration::from_secs(6);
        assert!(update_paused(&mut layers, &both, resumed));
        assert!(!layers[1].paused);
        assert_eq!(layers[1].resumed_at, Some(resumed));
    }

    #[test]
    fn a_paused_or_restarting_layer_keeps_its_bitrate() {
        let t0 = Instant::now();
        let mut layer = LayerStat::new(Rid::from("f"), t0);
        layer.bytes = 31_250; // 500 kbit/s over the window
        measure(&mut layer, t0 + LAYER_WINDOW);
        assert_eq!(layer.bps, 500_000);
        // Paused part-way through the next window, then silent.
        layer.paused = true;
        layer.bytes = 6_250;
        measure(&mut layer, t0 + 2 * LAYER_WINDOW);
        measure(&mut layer, t0 + 3 * LAYER_WINDOW);
        assert_eq!(layer.bps, 500_000);
        // Resumed: silent at first, then measured as it is.
        layer.paused = false;
        layer.resumed_at = Some(t0 + 3 * LAYER_WINDOW);
        measure(&mut layer, t0 + 4 * LAYER_WINDOW);
        assert_eq!(layer.bps, 500_000);
        let grace_over = t0 + 3 * LAYER_WINDOW + LAYER_RESUME_GRACE;
        let elapsed = grace_over - (t0 + 4 * LAYER_WINDOW);
        layer.bytes = 12_500;
        measure(&mut layer, grace_over);
        assert_eq!(layer.bps, (100_000.0 / elapsed.as_secs_f64()) as u64);
        assert!(layer.bps < 500_000);
    }

    #[test]
    fn picks_the_highest_layer_that_fits() {
        let pref = LayerPreference::default();
        assert_eq!(choose_layer(&layers(), u64::MAX, pref), Rid::from("f"));
        assert_eq!(choose_layer(&layers(), 300_000, pref), Rid::from("h"));
        assert_eq!(choose_layer(&layers(), 10_000, pref), Rid::from("q"));
        let low = LayerPreference {
            max_layer: VideoLayer::Medium,
            ..pref
        };
        assert_eq!(choose_layer(&layers(), u64::MAX, low), Rid::from("h"));
    }
}
