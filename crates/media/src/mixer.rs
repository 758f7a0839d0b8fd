//! Mix-minus audio for one-slot members: decode the loudest few speakers' Opus, sum them, and
//! encode once for everyone who is not one of them plus once per chosen speaker (their mix minus
//! their own voice). Sans-IO: the shard pushes packets and calls [`Mixer::mix`] every 20 ms.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use opus_rs::{Application, OpusDecoder, OpusEncoder};

/// Opus clock and the mixer's sample rate.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms mono frame.
pub const FRAME: usize = 960;
/// Most speakers mixed at once (the loudest by audio level).
pub const MAX_SPEAKERS: usize = 3;
/// Packets buffered per input before the oldest is dropped.
const MAX_QUEUE: usize = 5;
/// Packets an input must have queued before it is mixed (a 20 ms jitter buffer).
const PRIME: usize = 2;
/// Largest encoded frame.
const MAX_PACKET: usize = 1275;
/// Encoder bitrate.
const BITRATE: i32 = 32_000;
/// Encoder complexity (0–10): lower is cheaper.
const COMPLEXITY: i32 = 5;

/// One mixed frame for one listener.
#[derive(Debug, Clone)]
pub struct MixedFrame {
    /// The listener.
    pub listener: usize,
    /// The Opus packet (shared between listeners hearing the same mix).
    pub payload: Arc<[u8]>,
    /// The mix's level in `-dBov` (0 loudest, 127 silence).
    pub level: u8,
}

/// Errors from the codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("opus: {0}")]
pub struct MixError(&'static str);

struct Input {
    decoder: OpusDecoder,
    queue: VecDeque<(Arc<[u8]>, u8)>,
    /// Enough packets are queued to absorb arrival jitter; cleared when the queue runs dry.
    primed: bool,
}

impl Input {
    fn pop(&mut self) -> Option<(Arc<[u8]>, u8)> {
        if !self.primed {
            return None;
        }
        let head = self.queue.pop_front();
        self.primed = !self.queue.is_empty();
        head
    }
}

/// The audio mixer of one room.
pub struct Mixer {
    inputs: HashMap<usize, Input>,
    shared: OpusEncoder,
    own: HashMap<usize, OpusEncoder>,
    total: Vec<f32>,
    frames: Vec<(usize, Vec<f32>)>,
    scratch: Vec<f32>,
    packet: Vec<u8>,
}

fn encoder() -> Result<OpusEncoder, MixError> {
    let mut e = OpusEncoder::new(SAMPLE_RATE as i32, 1, Application::Voip).map_err(MixError)?;
    e.bitrate_bps = BITRATE;
    e.complexity = COMPLEXITY;
    Ok(e)
}

impl Mixer {
    /// A mixer with no inputs.
    pub fn new() -> Result<Self, MixError> {
        Ok(Self {
            inputs: HashMap::new(),
            shared: encoder()?,
            own: HashMap::new(),
            total: vec![0.0; FRAME],
            frames: (0..MAX_SPEAKERS).map(|_| (0, vec![0.0; FRAME])).collect(),
            scratch: vec![0.0; FRAME],
            packet: vec![0; MAX_PACKET],
        })
    }

    /// Queues one Opus packet from `member` with its audio level (`-dBov`; 127 when unknown).
    pub fn push(&mut self, member: usize, payload: Arc<[u8]>, level: u8) {
        let input = match self.inputs.entry(member) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(v) => match OpusDecoder::new(SAMPLE_RATE as i32, 1) {
                Ok(decoder) => v.insert(Input {
                    decoder,
                    queue: VecDeque::with_capacity(MAX_QUEUE),
                    primed: false,
                }),
                Err(_) => return,
            },
        };
        if input.queue.len() == MAX_QUEUE {
            input.queue.pop_front();
        }
        input.queue.push_back((payload, level));
        input.primed |= input.queue.len() >= PRIME;
    }

    /// Forgets a member (as input and as listener).
    pub fn remove(&mut self, member: usize) {
        self.inputs.remove(&member);
        self.own.remove(&member);
    }

    /// Mixes one 20 ms frame for `listeners`; appends one frame per listener to `out`. Nothing is
    /// produced when no one sent audio.
    pub fn mix(&mut self, listeners: &[usize], out: &mut Vec<MixedFrame>) -> Result<(), MixError> {
        let mut heads: Vec<(usize, Arc<[u8]>, u8)> = self
            .inputs
            .iter_mut()
            .filter_map(|(m, i)| i.pop().map(|(p, l)| (*m, p, l)))
            .collect();
        if heads.is_empty() {
            return Ok(());
        }
        heads.sort_by_key(|(m, _, level)| (*level, *m));
        let chosen = heads.len().min(MAX_SPEAKERS);
        self.total.iter_mut().for_each(|s| *s = 0.0);
        for (slot, (member, payload, _)) in heads.iter().take(chosen).enumerate() {
            let Some(input) = self.inputs.get_mut(member) else {
                continue;
            };
            let frame = &mut self.frames[slot];
            frame.0 = *member;
            let n = input
                .decoder
                .decode(payload, FRAME, &mut frame.1)
                .map_err(MixError)?;
            frame.1[n.min(FRAME)..].iter_mut().for_each(|s| *s = 0.0);
            for (t, s) in self.total.iter_mut().zip(&frame.1) {
                *t += s;
            }
        }
        let speakers: Vec<usize> = self.frames[..chosen].iter().map(|f| f.0).collect();
        let mut shared: Option<(Arc<[u8]>, u8)> = None;
        for &listener in listeners {
            if let Some(slot) = speakers.iter().position(|s| *s == listener) {
                for ((out, t), own) in self
                    .scratch
                    .iter_mut()
                    .zip(&self.total)
                    .zip(&self.frames[slot].1)
                {
                    *out = t - own;
                }
                let enc = match self.own.entry(listener) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(v) => v.insert(encoder()?),
                };
                let frame = encode(enc, &mut self.scratch, &mut self.packet)?;
                out.push(MixedFrame {
                    listener,
                    payload: frame.0,
                    level: frame.1,
                });
            } else {
                if shared.is_none() {
                    self.scratch.copy_from_slice(&self.total);
                    shared = Some(encode(
                        &mut self.shared,
                        &mut self.scratch,
                        &mut self.packet,
                    )?);
                }
                if let Some((payload, level)) = &shared {
                    out.push(MixedFrame {
                        listener,
                        payload: payload.clone(),
                        level: *level,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Clips, encodes and measures one frame.
fn encode(
    enc: &mut OpusEncoder,
    pcm: &mut [f32],
    packet: &mut [u8],
) -> Result<(Arc<[u8]>, u8), MixError> {
    let mut energy = 0.0f32;
    for s in pcm.iter_mut() {
        *s = s.clamp(-1.0, 1.0);
        energy += *s * *s;
    }
    let n = enc.encode(pcm, FRAME, packet).map_err(MixError)?;
    Ok((Arc::from(&packet[..n]), dbov(energy / FRAME as f32)))
}

/// RFC 6464 level (`-dBov`, 0..=127) of a mean square.
pub fn dbov(mean_square: f32) -> u8 {
    if mean_square <= 1e-13 {
        return 127;
    }
    let db = 10.0 * mean_square.log10();
    (-db).clamp(0.0, 127.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{ToneSource, tone_amplitude};

    fn decode_all(packets: &[Arc<[u8]>]) -> Vec<f32> {
        let mut d = OpusDecoder::new(SAMPLE_RATE as i32, 1).unwrap();
        let mut pcm = Vec::new();
        let mut frame = vec![0.0; FRAME];
        for p in packets {
            let n = d.decode(p, FRAME, &mut frame).unwrap();
            pcm.extend_from_slice(&frame[..n]);
        }
        pcm
    }

    #[test]
    fn each_speaker_hears_the_others_but_not_itself() {
        let mut mixer = Mixer::new().unwrap();
        let mut sources = [
            ToneSource::new(440.0, 0.3),
            ToneSource::new(660.0, 0.3),
            ToneSource::new(990.0, 0.3),
        ];
        let mut heard: HashMap<usize, Vec<Arc<[u8]>>> = HashMap::new();
        let mut out = Vec::new();
        for _ in 0..50 {
            for (m, s) in sources.iter_mut().enumerate() {
                mixer.push(m, s.next_packet(), s.level());
            }
            out.clear();
            mixer.mix(&[0, 1, 2, 9], &mut out).unwrap();
            for f in &out {
                heard.entry(f.listener).or_default().push(f.payload.clone());
            }
        }
        let freqs = [440.0, 660.0, 990.0];
        for listener in [0usize, 1, 2] {
            let pcm = decode_all(&heard[&listener]);
            let pcm = &pcm[FRAME * 10..];
            for (m, f) in freqs.iter().enumerate() {
                let e = tone_amplitude(pcm, *f);
                if m == listener {
                    assert!(e < 0.01, "listener {listener} hears itself: {e}");
                } else {
                    assert!(e > 0.05, "listener {listener} misses {f} Hz: {e}");
                }
            }
        }
        let pcm = decode_all(&heard[&9]);
        for f in freqs {
            assert!(tone_amplitude(&pcm[FRAME * 10..], f) > 0.05);
        }
    }

    #[test]
    fn levels_follow_energy() {
        assert_eq!(dbov(0.0), 127);
        assert_eq!(dbov(1.0), 0);
        assert_eq!(dbov(0.001), 30);
    }
}
