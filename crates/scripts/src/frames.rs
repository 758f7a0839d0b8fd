//! A sound as the 20 ms frames a source member sends: Opus packets (48 kHz) or G.711 bytes
//! (8 kHz), encoded once per sound, codec and volume and then shared by every call that plays
//! it ([`FrameCache`]): playing one greeting to many callers costs one encode.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opus_rs::{Application, OpusEncoder};
use weft_audio::Pcm;
use weft_audio::g711::{self, Law};
use weft_media::RtpCodec;

/// Samples per second of a codec's frames.
pub fn sample_rate(codec: RtpCodec) -> u32 {
    match codec {
        RtpCodec::Opus => 48_000,
        RtpCodec::Pcmu | RtpCodec::Pcma => 8_000,
    }
}

/// Samples in one 20 ms frame of a codec.
fn frame_samples(codec: RtpCodec) -> usize {
    sample_rate(codec) as usize / 50
}

/// Encoded frames, in order.
pub type Frames = Arc<[Arc<[u8]>]>;

/// Why a sound could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("opus encoder: {0}")]
pub struct EncodeError(&'static str);

/// Opus bit rate of played sounds (mono voice and music on hold).
const OPUS_BITRATE: i32 = 32_000;
/// Opus complexity: sounds are encoded once and cached, so the best quality is affordable.
const OPUS_COMPLEXITY: i32 = 10;
/// Largest Opus packet.
const MAX_PACKET: usize = 1275;

/// Encodes `pcm` (at [`sample_rate`] of `codec`) as 20 ms frames, the last one padded with
/// silence, with `volume` dB of gain (clipped).
pub fn encode(pcm: &Pcm, codec: RtpCodec, volume: f64) -> Result<Frames, EncodeError> {
    let n = frame_samples(codec);
    let gain = 10f32.powf(volume as f32 / 20.0);
    let mut frame = vec![0f32; n];
    let mut out = Vec::with_capacity(pcm.samples.len().div_ceil(n));
    let mut encoder = match codec {
        RtpCodec::Opus => Some(opus_encoder()?),
        RtpCodec::Pcmu | RtpCodec::Pcma => None,
    };
    let mut packet = vec![0u8; MAX_PACKET];
    for chunk in pcm.samples.chunks(n) {
        frame.fill(0.0);
        for (f, s) in frame.iter_mut().zip(chunk) {
            *f = (f32::from(*s) / 32768.0 * gain).clamp(-1.0, 1.0);
        }
        let payload: Arc<[u8]> = match (codec, encoder.as_mut()) {
            (RtpCodec::Opus, Some(enc)) => {
                let len = enc.encode(&frame, n, &mut packet).map_err(EncodeError)?;
                Arc::from(&packet[..len])
            }
            (RtpCodec::Pcma, _) => law_frame(Law::A, &frame),
            _ => law_frame(Law::Mu, &frame),
        };
        out.push(payload);
    }
    Ok(out.into())
}

fn law_frame(law: Law, pcm: &[f32]) -> Arc<[u8]> {
    let mut bytes = vec![0u8; pcm.len()];
    g711::encode(law, pcm, &mut bytes);
    bytes.into()
}

fn opus_encoder() -> Result<OpusEncoder, EncodeError> {
    let mut e = OpusEncoder::new(48_000, 1, Application::Voip).map_err(EncodeError)?;
    e.bitrate_bps = OPUS_BITRATE;
    e.complexity = OPUS_COMPLEXITY;
    Ok(e)
}

/// The beep before a `record`: 250 ms of 1 kHz at -12 dBov.
pub fn beep(codec: RtpCodec) -> Result<Frames, EncodeError> {
    let rate = sample_rate(codec);
    let samples = (0..rate / 4)
        .map(|i| {
            let t = i as f32 / rate as f32;
            ((t * 1000.0 * std::f32::consts::TAU).sin() * 8_000.0) as i16
        })
        .collect();
    encode(&Pcm { rate, samples }, codec, 0.0)
}

/// What a cached sound is: the URL as played (`say:` text included), its codec and volume.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FrameKey {
    /// The play URL (for `say:`, with the voice and language).
    pub url: String,
    /// The codec.
    pub codec: RtpCodec,
    /// The volume in hundredths of a dB.
    pub centibels: i64,
}

impl FrameKey {
    /// The key of `url` in `codec` at `volume` dB.
    pub fn new(url: &str, codec: RtpCodec, volume: f64) -> Self {
        Self {
            url: url.to_owned(),
            codec,
            centibels: (volume * 100.0).round() as i64,
        }
    }
}

struct Entry {
    frames: Frames,
    bytes: usize,
    stored: Instant,
    used: Instant,
}

/// Encoded sounds, bounded in bytes (least recently used first out) and in age.
pub struct FrameCache {
    budget: usize,
    max_age: Duration,
    inner: Mutex<(HashMap<FrameKey, Entry>, usize)>,
}

impl FrameCache {
    /// A cache of at most `budget` bytes of frames, each kept at most `max_age`.
    pub fn new(budget: usize, max_age: Duration) -> Self {
        Self {
            budget,
            max_age,
            inner: Mutex::new((HashMap::new(), 0)),
        }
    }

    /// The frames of `key`, if cached and fresh.
    pub fn get(&self, key: &FrameKey, now: Instant) -> Option<Frames> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (map, used) = &mut *inner;
        let fresh = map
            .get(key)
            .is_some_and(|e| now.saturating_duration_since(e.stored) < self.max_age);
        if !fresh {
            if let Some(old) = map.remove(key) {
                *used -= old.bytes;
            }
            return None;
        }
        let entry = map.get_mut(key)?;
        entry.used = now;
        Some(entry.frames.clone())
    }

    /// Keeps `frames` for `key`, evicting the least recently used sounds to stay in budget; a
    /// sound larger than the whole budget is not kept.
    pub fn insert(&self, key: FrameKey, frames: Frames, now: Instant) {
        let bytes = frames.iter().map(|f| f.len() + 16).sum::<usize>();
        if bytes > self.budget {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (map, used) = &mut *inner;
        if let Some(old) = map.remove(&key) {
            *used -= old.bytes;
        }
        while *used + bytes > self.budget {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(old) = map.remove(&oldest) {
                *used -= old.bytes;
            }
        }
        *used += bytes;
        map.insert(
            key,
            Entry {
                frames,
                bytes,
                stored: now,
                used: now,
            },
        );
    }

    /// Bytes of frames kept.
    pub fn used(&self) -> usize {
        self.inner.lock().map(|i| i.1).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, seconds: f32) -> Pcm {
        let n = (rate as f32 * seconds) as usize;
        let samples = (0..n)
            .map(|i| {
                let t = i as f32 / rate as f32;
                ((t * 700.0 * std::f32::consts::TAU).sin() * 12_000.0) as i16
            })
            .collect();
        Pcm { rate, samples }
    }

    #[test]
    fn sounds_become_whole_20_ms_frames_in_the_codec() {
        let pcm = tone(8_000, 0.95);
        let frames = encode(&pcm, RtpCodec::Pcmu, 0.0).unwrap();
        assert_eq!(frames.len(), 48, "0.95 s is 47.5 frames, the last padded");
        assert!(frames.iter().all(|f| f.len() == 160));
        let mut decoded = vec![0f32; 160];
        g711::decode(Law::Mu, &frames[10], &mut decoded);
        let peak = decoded.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((0.3..0.4).contains(&peak), "{peak}");
        let quieter = encode(&pcm, RtpCodec::Pcmu, -20.0).unwrap();
        g711::decode(Law::Mu, &quieter[10], &mut decoded);
        let peak = decoded.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((0.03..0.04).contains(&peak), "-20 dB is a tenth: {peak}");
        let opus = encode(&tone(48_000, 0.5), RtpCodec::Opus, 0.0).unwrap();
        assert_eq!(opus.len(), 25);
        assert!(opus.iter().all(|f| !f.is_empty() && f.len() <= MAX_PACKET));
    }

    #[test]
    fn the_cache_keeps_sounds_in_budget_and_fresh() {
        let t0 = Instant::now();
        let frames = encode(&tone(8_000, 1.0), RtpCodec::Pcma, 0.0).unwrap();
        let size = frames.iter().map(|f| f.len() + 16).sum::<usize>();
        let cache = FrameCache::new(size * 2, Duration::from_secs(60));
        let key = |u: &str| FrameKey::new(u, RtpCodec::Pcma, 0.0);
        cache.insert(key("a"), frames.clone(), t0);
        cache.insert(key("b"), frames.clone(), t0 + Duration::from_secs(1));
        assert!(cache.get(&key("a"), t0 + Duration::from_secs(2)).is_some());
        cache.insert(key("c"), frames.clone(), t0 + Duration::from_secs(3));
        assert!(
            cache.get(&key("b"), t0 + Duration::from_secs(3)).is_none(),
            "least recently used out"
        );
        assert!(cache.get(&key("a"), t0 + Duration::from_secs(3)).is_some());
        assert_eq!(cache.used(), size * 2);
        assert!(
            cache.get(&key("a"), t0 + Duration::from_secs(61)).is_none(),
            "too old"
        );
        assert_eq!(cache.used(), size);
        assert_ne!(key("a"), FrameKey::new("a", RtpCodec::Pcma, 3.0));
    }
}
