//! Decoded files, kept by URL and rate within a byte budget (least recently used out first) and
//! for at most a maximum age, so a file changed at its origin is fetched again. Sans-IO: the
//! time comes in as an argument.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_audio::Pcm;

/// A cache of decoded files.
#[derive(Debug)]
pub struct PcmCache {
    budget: usize,
    max_age: Duration,
    used: usize,
    /// A counter that orders uses (the entry with the smallest was used least recently).
    clock: u64,
    entries: HashMap<(String, u32), Entry>,
}

#[derive(Debug)]
struct Entry {
    pcm: Arc<Pcm>,
    stored: Instant,
    used: u64,
}

fn size(pcm: &Pcm) -> usize {
    pcm.samples.len() * std::mem::size_of::<i16>()
}

impl PcmCache {
    /// An empty cache of at most `budget` bytes of samples, each kept at most `max_age`.
    pub fn new(budget: usize, max_age: Duration) -> Self {
        Self {
            budget,
            max_age,
            used: 0,
            clock: 0,
            entries: HashMap::new(),
        }
    }

    /// Bytes of samples held.
    pub fn used(&self) -> usize {
        self.used
    }

    /// The file at `url` decoded at `rate`, if held and not older than the maximum age.
    pub fn get(&mut self, url: &str, rate: u32, now: Instant) -> Option<Arc<Pcm>> {
        let key = (url.to_owned(), rate);
        let fresh = self
            .entries
            .get(&key)
            .is_some_and(|e| now.saturating_duration_since(e.stored) <= self.max_age);
        if !fresh {
            self.remove(&key);
            return None;
        }
        self.clock += 1;
        let entry = self.entries.get_mut(&key)?;
        entry.used = self.clock;
        Some(entry.pcm.clone())
    }

    /// Keeps `pcm` for `url` at its rate, evicting the least recently used files to make room;
    /// a file larger than the whole budget is not kept.
    pub fn insert(&mut self, url: &str, pcm: Arc<Pcm>, now: Instant) {
        let bytes = size(&pcm);
        if bytes > self.budget {
            return;
        }
        let key = (url.to_owned(), pcm.rate);
        self.remove(&key);
        while self.used + bytes > self.budget {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.remove(&oldest);
        }
        self.clock += 1;
        self.used += bytes;
        self.entries.insert(
            key,
            Entry {
                pcm,
                stored: now,
                used: self.clock,
            },
        );
    }

    fn remove(&mut self, key: &(String, u32)) {
        if let Some(e) = self.entries.remove(key) {
            self.used -= size(&e.pcm);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcm(samples: usize) -> Arc<Pcm> {
        Arc::new(Pcm {
            rate: 8_000,
            samples: vec![0; samples],
        })
    }

    #[test]
    fn the_least_recently_used_file_goes_first() {
        let t0 = Instant::now();
        let mut cache = PcmCache::new(1_000, Duration::from_secs(60));
        cache.insert("a", pcm(200), t0);
        cache.insert("b", pcm(200), t0);
        assert!(
            cache.get("a", 8_000, t0).is_some(),
            "a is now the most recent"
        );
        cache.insert("c", pcm(200), t0);
        assert_eq!(cache.used(), 800);
        assert!(
            cache.get("b", 8_000, t0).is_none(),
            "b was the least recent"
        );
        assert!(cache.get("a", 8_000, t0).is_some());
        assert!(cache.get("c", 8_000, t0).is_some());
        assert!(
            cache.get("a", 48_000, t0).is_none(),
            "the rate is part of the key"
        );
    }

    #[test]
    fn old_entries_are_fetched_again_and_huge_ones_are_not_kept() {
        let t0 = Instant::now();
        let mut cache = PcmCache::new(1_000, Duration::from_secs(60));
        cache.insert("a", pcm(100), t0);
        assert!(
            cache
                .get("a", 8_000, t0 + Duration::from_secs(60))
                .is_some()
        );
        assert!(
            cache
                .get("a", 8_000, t0 + Duration::from_secs(61))
                .is_none()
        );
        assert_eq!(cache.used(), 0);
        cache.insert("huge", pcm(501), t0);
        assert!(cache.get("huge", 8_000, t0).is_none());
        assert_eq!(cache.used(), 0);
        cache.insert("a", pcm(100), t0);
        cache.insert("a", pcm(300), t0);
        assert_eq!(cache.used(), 600, "a replaced entry frees its bytes");
    }
}
