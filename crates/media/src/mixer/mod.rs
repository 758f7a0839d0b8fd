//! Mix-minus audio for one-slot members: decode the loudest few speakers, sum them, and encode
//! once for everyone who is not one of them plus once per chosen speaker (their mix minus their
//! own voice). Inputs and outputs are Opus, or G.711 for plain-RTP legs (resampled between 8 and
//! 48 kHz; one G.711 encode per distinct mix, like the shared Opus encode). Which encoder a
//! listener hears, and how its decoder stays in step when that changes, is [`streams`]'s job.
//! Sans-IO: the shard pushes packets and calls [`Mixer::mix`] every 20 ms.

mod input;
mod streams;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use opus_rs::{Application, OpusEncoder};

use self::input::Input;
use self::streams::{Choice, Streams};
use crate::g711::{self, Law};
use crate::options::RtpCodec;
use crate::resample::{Downsampler, FACTOR};

/// Opus clock and the mixer's sample rate.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms mono frame.
pub const FRAME: usize = 960;
/// Samples in one 20 ms frame at G.711's 8 kHz.
pub const FRAME_8K: usize = FRAME / FACTOR;
/// Most speakers mixed at once (the loudest by audio level).
pub const MAX_SPEAKERS: usize = 3;
/// Largest encoded frame.
const MAX_PACKET: usize = 1275;
/// Encoder bitrate.
const BITRATE: i32 = 32_000;
/// Encoder complexity (0–10): lower is cheaper.
const COMPLEXITY: i32 = 5;
/// Bit rate of a resync frame: over the encoder's SILK/CELT threshold for mono voice (under
/// 60 kbit/s), so the frame is coded CELT-only. Mix frames (32 kbit/s) never are.
const RESYNC_BITRATE: i32 = 96_000;

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

/// The audio mixer of one room.
pub struct Mixer {
    inputs: HashMap<usize, Input>,
    shared: OpusEncoder,
    /// Decimates the shared mix for G.711 listeners.
    shared_down: Downsampler,
    /// Which encoder each listener hears.
    streams: Streams,
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
            streams: Streams::default(),
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
        input.queue(payload, level);
    }

    /// Forgets a member (as input and as listener).
    pub fn remove(&mut self, member: usize) {
        self.inputs.remove(&member);
        self.streams.remove(member);
    }

    /// Mixes one 20 ms frame for `listeners` (each with the codec it receives); appends one frame
    /// per listener to `out`. Nothing is produced when no one sent audio.
    pub fn mix(
        &mut self,
        listeners: &[(usize, RtpCodec)],
        out: &mut Vec<MixedFrame>,
    ) -> Result<(), MixError> {
        self.streams.interval();
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
        self.streams.begin(listeners, &speakers);
        // The shared mix per codec, encoded at most once each, and its level.
        let mut shared: [Option<Arc<[u8]>>; 3] = Default::default();
        let mut shared_level: Option<u8> = None;
        let mut shared_8k = false;
        for &(listener, codec) in listeners {
            let slot = speakers.iter().position(|s| *s == listener);
            if let Choice::Own(own) = self.streams.choose(listener, codec, slot.is_some())? {
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
                let payload = own.encode(&self.scratch, &mut self.scratch_8k, &mut self.packet)?;
                out.push(MixedFrame {
                    listener,
                    payload,
                    level,
                    codec,
                });
                continue;
            }
            let level = *shared_level.get_or_insert_with(|| {
                self.mixed.copy_from_slice(&self.total);
                clip(&mut self.mixed)
            });
            let payload = match &mut shared[codec_index(codec)] {
                Some(payload) => payload.clone(),
                empty => {
                    let payload = match codec.law() {
                        None => {
                            let mut resync = self.streams.shared_resync();
                            let payload = encode_opus_frame(
                                &mut self.shared,
                                &self.mixed,
                                &mut self.packet,
                                &mut resync,
                            )?;
                            if resync {
                                tracing::warn!("the shared mix's resync frame is not CELT-only");
                            }
                            payload
                        }
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
        self.streams.end();
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

/// Encodes one 48 kHz frame as Opus; while `resync` is set, as a resync frame (see [`streams`]):
/// coded at [`RESYNC_BITRATE`], it comes out CELT-only, and then `resync` is cleared.
pub(crate) fn encode_opus_frame(
    encoder: &mut OpusEncoder,
    pcm: &[f32],
    packet: &mut [u8],
    resync: &mut bool,
) -> Result<Arc<[u8]>, MixError> {
    if !*resync {
        return encode_opus(encoder, pcm, packet);
    }
    let bitrate = std::mem::replace(&mut encoder.bitrate_bps, RESYNC_BITRATE);
    let payload = encode_opus(encoder, pcm, packet);
    encoder.bitrate_bps = bitrate;
    let payload = payload?;
    *resync = !is_celt_only(&payload);
    Ok(payload)
}

/// Whether an Opus packet is CELT-only (TOC configurations 16–31), as resync frames are.
pub(crate) fn is_celt_only(packet: &[u8]) -> bool {
    packet.first().is_some_and(|toc| toc >> 3 >= 16)
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
