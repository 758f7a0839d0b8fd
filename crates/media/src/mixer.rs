//! Mix-minus audio for one-slot members: decode the loudest few speakers, sum them, and encode
//! once for everyone who is not one of them plus once per chosen speaker (their mix minus their
//! own voice). Inputs and outputs are Opus, or G.711 for plain-RTP legs (resampled between 8 and
//! 48 kHz; one G.711 encode per distinct mix, like the shared Opus encode). Sans-IO: the shard
//! pushes packets and calls [`Mixer::mix`] every 20 ms.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use opus_rs::{Application, OpusDecoder, OpusEncoder};

use crate::g711::{self, Law};
use crate::options::RtpCodec;
use crate::resample::{Downsampler, FACTOR, Upsampler};

/// Opus clock and the mixer's sample rate.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms mono frame.
pub const FRAME: usize = 960;
/// Samples in one 20 ms frame at G.711's 8 kHz.
pub const FRAME_8K: usize = FRAME / FACTOR;
/// Frames (20 ms each) a listener keeps its own encoder after it stopped being a speaker.
const OWN_ENCODER_HANGOVER: u32 = 50;
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
    /// The packet in the listener's codec (shared between listeners hearing the same mix).
    pub payload: Arc<[u8]>,
    /// The mix's level in `-dBov` (0 loudest, 127 silence).
    pub level: u8,
    /// The payload's codec.
    pub codec: RtpCodec,
}

/// Errors from the codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("opus: {0}")]
pub struct MixError(&'static str);

/// How an input's packets become 48 kHz PCM.
enum Decoder {
    Opus(Box<OpusDecoder>),
    G711(Law, Upsampler),
}

struct Input {
    codec: RtpCodec,
    decoder: Decoder,
    queue: VecDeque<(Arc<[u8]>, u8)>,
    /// Enough packets are queued to absorb arrival jitter; cleared when the queue runs dry.
    primed: bool,
}

impl Input {
    fn new(codec: RtpCodec) -> Option<Self> {
        let decoder = match codec.law() {
            Some(law) => Decoder::G711(law, Upsampler::default()),
            None => Decoder::Opus(Box::new(OpusDecoder::new(SAMPLE_RATE as i32, 1).ok()?)),
        };
        Some(Self {
            codec,
            decoder,
            queue: VecDeque::with_capacity(MAX_QUEUE),
            primed: false,
        })
    }

    fn pop(&mut self) -> Option<(Arc<[u8]>, u8)> {
        if !self.primed {
            return None;
        }
        let head = self.queue.pop_front();
        self.primed = !self.queue.is_empty();
        head
    }

    /// Decodes one packet into `out` (one 48 kHz frame); `pcm8` is scratch. Returns the samples
    /// written.
    fn decode(
        &mut self,
        payload: &[u8],
        out: &mut [f32],
        pcm8: &mut [f32],
    ) -> Result<usize, MixError> {
        match &mut self.decoder {
            Decoder::Opus(d) => d.decode(payload, FRAME, out).map_err(MixError),
            Decoder::G711(law, up) => {
                let n = payload.len().min(FRAME_8K);
                g711::decode(*law, &payload[..n], &mut pcm8[..n]);
                up.process(&pcm8[..n], &mut out[..n * FACTOR]);
                Ok(n * FACTOR)
            }
        }
    }
}

/// A chosen speaker's own (mix-minus) encoder.
enum OwnEncoder {
    Opus(Box<OpusEncoder>),
    G711(Law, Downsampler),
}

/// A listener's own encoder and how many frames it has been silent for.
struct Own {
    encoder: OwnEncoder,
    quiet_frames: u32,
}

impl Own {
    fn new(codec: RtpCodec) -> Result<Self, MixError> {
        Ok(Self {
            encoder: OwnEncoder::new(codec)?,
            quiet_frames: 0,
        })
    }
}

impl OwnEncoder {
    fn new(codec: RtpCodec) -> Result<Self, MixError> {
        Ok(match codec.law() {
            Some(law) => Self::G711(law, Downsampler::default()),
            None => Self::Opus(Box::new(opus_encoder()?)),
        })
    }

    fn codec(&self) -> RtpCodec {
        match self {
            Self::Opus(_) => RtpCodec::Opus,
            Self::G711(Law::Mu, _) => RtpCodec::Pcmu,
            Self::G711(Law::A, _) => RtpCodec::Pcma,
        }
    }
}

/// The audio mixer of one room.
pub struct Mixer {
    inputs: HashMap<usize, Input>,
    shared: OpusEncoder,
    /// Decimates the shared mix for G.711 listeners.
    shared_down: Downsampler,
    own: HashMap<usize, Own>,
    total: Vec<f32>,
    frames: Vec<(usize, Vec<f32>)>,
    /// The shared mix, clipped.
    mixed: Vec<f32>,
    /// The shared mix at 8 kHz.
    mixed_8k: Vec<f32>,
    scratch: Vec<f32>,
    scratch_8k: Vec<f32>,
    packet: Vec<u8>,
}

/// The Opus encoder of mixes and transcoded legs: 48 kHz mono VoIP, 32 kbit/s, complexity 5.
pub(crate) fn opus_encoder() -> Result<OpusEncoder, MixError> {
    let mut e = OpusEncoder::new(SAMPLE_RATE as i32, 1, Application::Voip).map_err(MixError)?;
    e.bitrate_bps = BITRATE;
    e.complexity = COMPLEXITY;
    Ok(e)
}

/// Index of a codec in per-codec arrays.
fn codec_index(codec: RtpCodec) -> usize {
    match codec {
        RtpCodec::Opus => 0,
        RtpCodec::Pcmu => 1,
        RtpCodec::Pcma => 2,
    }
}

impl Mixer {
    /// A mixer with no inputs.
    pub fn new() -> Result<Self, MixError> {
        Ok(Self {
            inputs: HashMap::new(),
            shared: opus_encoder()?,
            shared_down: Downsampler::default(),
            own: HashMap::new(),
            total: vec![0.0; FRAME],
            frames: (0..MAX_SPEAKERS).map(|_| (0, vec![0.0; FRAME])).collect(),
            mixed: vec![0.0; FRAME],
            mixed_8k: vec![0.0; FRAME_8K],
            scratch: vec![0.0; FRAME],
            scratch_8k: vec![0.0; FRAME_8K],
            packet: vec![0; MAX_PACKET],
        })
    }

    /// Queues one 20 ms packet of `codec` from `member` with its audio level (`-dBov`; 127 when
    /// unknown).
    pub fn push(&mut self, member: usize, codec: RtpCodec, payload: Arc<[u8]>, level: u8) {
        let input = match self.inputs.entry(member) {
            Entry::Occupied(e) if e.get().codec == codec => e.into_mut(),
            Entry::Occupied(mut e) => match Input::new(codec) {
                Some(input) => {
                    e.insert(input);
                    e.into_mut()
                }
                None => return,
            },
            Entry::Vacant(v) => match Input::new(codec) {
                Some(input) => v.insert(input),
                None => return,
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

    /// Mixes one 20 ms frame for `listeners` (each with the codec it receives); appends one frame
    /// per listener to `out`. Nothing is produced when no one sent audio.
    pub fn mix(
        &mut self,
        listeners: &[(usize, RtpCodec)],
        out: &mut Vec<MixedFrame>,
    ) -> Result<(), MixError> {
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
            let n = input.decode(payload, &mut frame.1, &mut self.scratch_8k)?;
            frame.1[n.min(FRAME)..].iter_mut().for_each(|s| *s = 0.0);
            for (t, s) in self.total.iter_mut().zip(&frame.1) {
                *t += s;
            }
        }
        let speakers: Vec<usize> = self.frames[..chosen].iter().map(|f| f.0).collect();
        // The shared mix per codec, encoded at most once each, and its level.
        let mut shared: [Option<Arc<[u8]>>; 3] = Default::default();
        let mut shared_level: Option<u8> = None;
        let mut shared_8k = false;
        for &(listener, codec) in listeners {
            let slot = speakers.iter().position(|s| *s == listener);
            // A listener keeps its own encoder while it speaks and for a while after: switching
            // one listener's stream between two encoders mid-stream makes its decoder play the
            // other encoder's memory (which may hold the listener's own voice) as a glitch.
            let keeps_own = slot.is_some()
                || self.own.get(&listener).is_some_and(|o| {
                    o.quiet_frames < OWN_ENCODER_HANGOVER && o.encoder.codec() == codec
                });
            if keeps_own {
                match slot {
                    Some(slot) => {
                        for ((out, t), own) in self
                            .scratch
                            .iter_mut()
                            .zip(&self.total)
                            .zip(&self.frames[slot].1)
                        {
                            *out = t - own;
                        }
                    }
                    None => self.scratch.copy_from_slice(&self.total),
                }
                let level = clip(&mut self.scratch);
                let own = match self.own.entry(listener) {
                    Entry::Occupied(e) if e.get().encoder.codec() == codec => e.into_mut(),
                    Entry::Occupied(mut e) => {
                        e.insert(Own::new(codec)?);
                        e.into_mut()
                    }
                    Entry::Vacant(v) => v.insert(Own::new(codec)?),
                };
                own.quiet_frames = if slot.is_some() {
                    0
                } else {
                    own.quiet_frames + 1
                };
                let payload = match &mut own.encoder {
                    OwnEncoder::Opus(e) => encode_opus(e, &self.scratch, &mut self.packet)?,
                    OwnEncoder::G711(law, down) => {
                        down.process(&self.scratch, &mut self.scratch_8k);
                        encode_g711(*law, &self.scratch_8k, &mut self.packet)
                    }
                };
                out.push(MixedFrame {
                    listener,
                    payload,
                    level,
                    codec,
                });
                continue;
            }
            // Back on the shared mix: a later turn as a speaker starts a fresh encoder.
            self.own.remove(&listener);
            let level = *shared_level.get_or_insert_with(|| {
                self.mixed.copy_from_slice(&self.total);
                clip(&mut self.mixed)
            });
            let payload = match &mut shared[codec_index(codec)] {
                Some(payload) => payload.clone(),
                empty => {
                    let payload = match codec.law() {
                        None => encode_opus(&mut self.shared, &self.mixed, &mut self.packet)?,
                        Some(law) => {
                            if !shared_8k {
                                self.shared_down.process(&self.mixed, &mut self.mixed_8k);
                                shared_8k = true;
                            }
                            encode_g711(law, &self.mixed_8k, &mut self.packet)
                        }
                    };
                    empty.insert(payload).clone()
                }
            };
            out.push(MixedFrame {
                listener,
                payload,
                level,
                codec,
            });
        }
        Ok(())
    }
}

/// Clips one frame to full scale; returns its level.
fn clip(pcm: &mut [f32]) -> u8 {
    let mut energy = 0.0f32;
    for s in pcm.iter_mut() {
        *s = s.clamp(-1.0, 1.0);
        energy += *s * *s;
    }
    dbov(energy / pcm.len().max(1) as f32)
}

/// Encodes one clipped 48 kHz frame as Opus.
fn encode_opus(
    enc: &mut OpusEncoder,
    pcm: &[f32],
    packet: &mut [u8],
) -> Result<Arc<[u8]>, MixError> {
    let n = enc.encode(pcm, FRAME, packet).map_err(MixError)?;
    Ok(Arc::from(&packet[..n]))
}

/// Encodes one 8 kHz frame as G.711.
fn encode_g711(law: Law, pcm: &[f32], packet: &mut [u8]) -> Arc<[u8]> {
    let n = pcm.len().min(packet.len());
    g711::encode(law, &pcm[..n], &mut packet[..n]);
    Arc::from(&packet[..n])
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
    use crate::testkit::{ToneSource, tone_amplitude, tone_amplitude_at};

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
                mixer.push(m, RtpCodec::Opus, s.next_packet(), s.level());
            }
            out.clear();
            let listeners = [0, 1, 2, 9].map(|l| (l, RtpCodec::Opus));
            mixer.mix(&listeners, &mut out).unwrap();
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
    fn a_speaker_whose_packet_is_late_keeps_its_own_stream() {
        // Four members, three mixed: when member 1's packet misses a frame (jitter), member 3
        // takes its place for that frame. Member 1 must still hear itself nowhere, which needs
        // its own encoder to carry on rather than a switch to the shared one and back.
        let mut mixer = Mixer::new().unwrap();
        let mut sources = [
            ToneSource::new(440.0, 0.3),
            ToneSource::new(660.0, 0.3),
            ToneSource::new(990.0, 0.3),
            ToneSource::new(1_500.0, 0.1),
        ];
        let mut heard = Vec::new();
        let mut out = Vec::new();
        let listeners = [0, 1, 2, 3].map(|l| (l, RtpCodec::Opus));
        for frame in 0..100 {
            for (m, s) in sources.iter_mut().enumerate() {
                let packet = s.next_packet();
                if m != 1 || frame % 7 != 3 {
                    mixer.push(m, RtpCodec::Opus, packet, s.level());
                }
            }
            out.clear();
            mixer.mix(&listeners, &mut out).unwrap();
            let (Some(own), Some(shared)) = (
                out.iter().find(|f| f.listener == 1),
                out.iter().find(|f| f.listener == 3),
            ) else {
                continue; // the jitter buffers are still filling
            };
            if frame >= 10 {
                assert!(
                    !Arc::ptr_eq(&own.payload, &shared.payload),
                    "frame {frame}: member 1 got the shared encoder's stream"
                );
            }
            heard.push(own.payload.clone());
        }
        let pcm = decode_all(&heard);
        let own = tone_amplitude(&pcm[FRAME * 10..], 660.0);
        assert!(own < 0.01, "member 1 hears itself: {own}");
    }

    /// 20 ms of a G.711 tone, continuing at sample `start`.
    fn g711_tone(law: Law, freq: f32, start: usize) -> Arc<[u8]> {
        let pcm: Vec<f32> = (start..start + FRAME_8K)
            .map(|i| 0.3 * (std::f32::consts::TAU * freq * i as f32 / 8_000.0).sin())
            .collect();
        let mut bytes = vec![0u8; FRAME_8K];
        g711::encode(law, &pcm, &mut bytes);
        bytes.into()
    }

    #[test]
    fn g711_legs_are_mixed_and_hear_their_mix_minus_in_g711() {
        let mut mixer = Mixer::new().unwrap();
        let mut opus = [ToneSource::new(440.0, 0.3), ToneSource::new(660.0, 0.3)];
        // Members 0 and 1 speak Opus, 2 is a µ-law leg; 9 and 10 only listen.
        let listeners = [
            (0, RtpCodec::Opus),
            (1, RtpCodec::Opus),
            (2, RtpCodec::Pcmu),
            (9, RtpCodec::Pcmu),
            (10, RtpCodec::Pcma),
        ];
        let mut heard: HashMap<usize, Vec<MixedFrame>> = HashMap::new();
        let mut out = Vec::new();
        for frame in 0..50 {
            for (m, s) in opus.iter_mut().enumerate() {
                mixer.push(m, RtpCodec::Opus, s.next_packet(), s.level());
            }
            mixer.push(
                2,
                RtpCodec::Pcmu,
                g711_tone(Law::Mu, 990.0, frame * FRAME_8K),
                13,
            );
            out.clear();
            mixer.mix(&listeners, &mut out).unwrap();
            // Nothing until the inputs' jitter buffers are primed, then every listener.
            assert!(out.is_empty() || out.len() == listeners.len());
            for f in out.drain(..) {
                heard.entry(f.listener).or_default().push(f);
            }
        }
        // The two G.711 listeners who are not speakers share one mix, each in its own law.
        assert_eq!(heard[&9][20].payload.len(), FRAME_8K);
        assert_eq!(heard[&9][20].codec, RtpCodec::Pcmu);
        assert_eq!(heard[&10][20].codec, RtpCodec::Pcma);
        let g711_pcm = |frames: &[MixedFrame]| {
            let mut pcm = vec![0.0; frames.len() * FRAME_8K];
            for (f, out) in frames.iter().zip(pcm.chunks_mut(FRAME_8K)) {
                g711::decode(f.codec.law().unwrap(), &f.payload, out);
            }
            pcm.split_off(10 * FRAME_8K)
        };
        let opus_pcm = |frames: &[MixedFrame]| {
            let packets: Vec<Arc<[u8]>> = frames.iter().map(|f| f.payload.clone()).collect();
            decode_all(&packets).split_off(10 * FRAME)
        };
        let leg = g711_pcm(&heard[&2]);
        assert!(tone_amplitude_at(&leg, 440.0, 8_000) > 0.1);
        assert!(tone_amplitude_at(&leg, 660.0, 8_000) > 0.1);
        let own = tone_amplitude_at(&leg, 990.0, 8_000);
        assert!(own < 0.01, "the leg hears itself: {own}");
        for listener in [9, 10] {
            let pcm = g711_pcm(&heard[&listener]);
            for f in [440.0, 660.0, 990.0] {
                let a = tone_amplitude_at(&pcm, f, 8_000);
                assert!(a > 0.1, "listener {listener} misses {f} Hz: {a}");
            }
        }
        let member = opus_pcm(&heard[&0]);
        let leg_heard = tone_amplitude(&member, 990.0);
        assert!(leg_heard > 0.1, "member 0 misses the leg: {leg_heard}");
        assert!(tone_amplitude(&member, 440.0) < 0.01);
    }

    #[test]
    fn levels_follow_energy() {
        assert_eq!(dbov(0.0), 127);
        assert_eq!(dbov(1.0), 0);
        assert_eq!(dbov(0.001), 30);
    }
}
