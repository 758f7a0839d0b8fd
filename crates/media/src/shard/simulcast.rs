//! Simulcast layer selection: each subscriber slot of a simulcast source forwards one layer, the
//! highest its bandwidth estimate (TWCC, capped by its preference) and maximum layer allow; a
//! change takes effect on the new layer's next keyframe (requested at once).

use std::time::{Duration, Instant};

use str0m::media::Rid;

use super::worker::Worker;
use crate::options::{LayerPreference, VideoLayer};

/// Length of the window over which layer bitrates are measured.
const LAYER_WINDOW: Duration = Duration::from_millis(500);
/// Least time between two keyframe requests to one layer.
const LAYER_KEYFRAME_INTERVAL: Duration = Duration::from_millis(300);

impl Worker {
    /// Updates layer bitrates and re-targets every simulcast subscriber slot.
    pub(super) fn select_layers(&mut self, now: Instant) {
        let mut requests = Vec::new();
        for (room, r) in self.rooms.iter_mut() {
            for (source, s) in r.sources.iter_mut() {
                if s.layers.is_empty() {
                    continue;
                }
                for layer in &mut s.layers {
                    let elapsed = now.saturating_duration_since(layer.window_start);
                    if elapsed >= LAYER_WINDOW {
                        layer.bps = (layer.bytes as f64 * 8.0 / elapsed.as_secs_f64()) as u64;
                        layer.bytes = 0;
                        layer.window_start = now;
                    }
                }
                let mut by_rate: Vec<(u64, Rid)> =
                    s.layers.iter().map(|l| (l.bps, l.rid)).collect();
                by_rate.sort_by_key(|(bps, _)| *bps);
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
                }
            }
        }
        for (room, source, rid) in requests {
            self.request_layer_keyframe(room, source, rid, now);
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
