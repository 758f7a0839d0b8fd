//! Audio transcoding for one subscriber slot whose codec differs from its source's: G.711 ↔ Opus
//! (through 8 kHz ↔ 48 kHz resampling) and µ-law ↔ A-law. Used where a G.711 plain-RTP leg and
//! an Opus WebRTC member hear each other directly (a 1:1 call); mixes have their own path.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use opus_rs::{OpusDecoder, OpusEncoder};
use str0m::format::{Codec, CodecSpec, FormatParams};
use str0m::media::{Frequency, Pt};

use crate::g711;
use crate::hotpath::Forwarded;
use crate::mixer::{FRAME, SAMPLE_RATE, encode_opus_frame, opus_encoder};
use crate::options::RtpCodec;
use crate::resample::{Downsampler, FACTOR, Upsampler};

/// Longest frame handled: 60 ms at 48 kHz.
const MAX_SAMPLES: usize = 2_880;
/// Largest Opus packet.
const MAX_PACKET: usize = 1_275;

/// Converts one source's packets into another codec, keeping timestamps continuous in the
/// target clock.
pub(crate) struct Transcoder {
    from: RtpCodec,
    to: RtpCodec,
    decoder: Option<OpusDecoder>,
    encoder: Option<OpusEncoder>,
    up: Upsampler,
    down: Downsampler,
    pcm8: Vec<f32>,
    pcm48: Vec<f32>,
    packet: Vec<u8>,
    /// The last input and output timestamps.
    last_ts: Option<(u32, u32)>,
    /// The input timestamp that continues the last packet without a gap.
    next_input_ts: Option<u32>,
    /// The next Opus packet is to be a resync frame ([`encode_opus_frame`]): the first, and the
    /// first after a gap in the input, which the receiver concealed without this encoder.
    resync: bool,
}

impl Transcoder {
    /// A transcoder from `from` to `to`; `None` when they are the same or a codec fails to start.
    pub(crate) fn new(from: RtpCodec, to: RtpCodec) -> Option<Self> {
        if from == to {
            return None;
        }
        let decoder = match from {
            RtpCodec::Opus => Some(OpusDecoder::new(SAMPLE_RATE as i32, 1).ok()?),
            _ => None,
        };
        let encoder = match to {
            RtpCodec::Opus => Some(opus_encoder().ok()?),
            _ => None,
        };
        Some(Self {
            from,
            to,
            decoder,
            encoder,
            up: Upsampler::default(),
            down: Downsampler::default(),
            pcm8: vec![0.0; MAX_SAMPLES / FACTOR],
            pcm48: vec![0.0; MAX_SAMPLES],
            packet: vec![0; MAX_PACKET],
            last_ts: None,
            next_input_ts: None,
            resync: true,
        })
    }

    /// The packet in the target codec (same sequence number, marker and audio level; the
    /// timestamp in the target clock); `None` if it cannot be converted (undecodable, or a frame
    /// length Opus cannot encode).
    pub(crate) fn convert(&mut self, f: &Forwarded) -> Option<Forwarded> {
        self.resync |= self.next_input_ts.is_some_and(|next| next != f.ts);
        let (payload, samples) = self.payload(&f.payload)?;
        let source_samples = samples * self.from.clock_rate() as usize / SAMPLE_RATE as usize;
        self.next_input_ts = Some(f.ts.wrapping_add(source_samples as u32));
        Some(Forwarded {
            ts: self.timestamp(f.ts),
            payload,
            spec: spec_of(self.to),
            red: None,
            ..f.clone()
        })
    }

    /// The payload in the target codec, and its duration in 48 kHz samples.
    fn payload(&mut self, input: &[u8]) -> Option<(Arc<[u8]>, usize)> {
        // Decode to PCM at the source's rate.
        let n = match (self.from.law(), self.decoder.as_mut()) {
            (Some(law), _) => {
                let n = input.len().min(self.pcm8.len());
                g711::decode(law, &input[..n], &mut self.pcm8[..n]);
                n
            }
            (None, Some(decoder)) => decoder.decode(input, MAX_SAMPLES, &mut self.pcm48).ok()?,
            (None, None) => return None,
        };
        match (self.from.law(), self.to.law()) {
            (Some(_), Some(law)) => {
                g711::encode(law, &self.pcm8[..n], &mut self.packet[..n]);
                Some((Arc::from(&self.packet[..n]), n * FACTOR))
            }
            (None, Some(law)) => {
                let out = n / FACTOR;
                self.down
                    .process(&self.pcm48[..out * FACTOR], &mut self.pcm8[..out]);
                g711::encode(law, &self.pcm8[..out], &mut self.packet[..out]);
                Some((Arc::from(&self.packet[..out]), n))
            }
            (Some(_), None) => {
                let samples = n * FACTOR;
                // Opus frames are 10, 20, 40 or 60 ms.
                if ![480, 960, 1_920, 2_880].contains(&samples) {
                    return None;
                }
                self.up.process(&self.pcm8[..n], &mut self.pcm48[..samples]);
                let encoder = self.encoder.as_mut()?;
                let pcm = &self.pcm48[..samples];
                let payload = if samples == FRAME {
                    encode_opus_frame(encoder, pcm, &mut self.packet, &mut self.resync).ok()?
                } else {
                    let len = encoder.encode(pcm, samples, &mut self.packet).ok()?;
                    Arc::from(&self.packet[..len])
                };
                Some((payload, samples))
            }
            (None, None) => None,
        }
    }

    /// Maps a source timestamp to the target clock, carrying gaps (DTX, loss) across.
    fn timestamp(&mut self, ts: u32) -> u32 {
        let (from, to) = (
            i64::from(self.from.clock_rate()),
            i64::from(self.to.clock_rate()),
        );
        let out = match self.last_ts {
            None => (i64::from(ts) * to / from) as u32,
            Some((last_in, last_out)) => {
                let delta = i64::from(ts.wrapping_sub(last_in) as i32);
                last_out.wrapping_add((delta * to / from) as u32)
            }
        };
        self.last_ts = Some((ts, out));
        out
    }
}

/// The str0m description of one of our codecs (as a WebRTC peer would negotiate it).
pub(crate) fn spec_of(codec: RtpCodec) -> CodecSpec {
    let (clock_rate, channels) = match codec {
        RtpCodec::Opus => (Frequency::FORTY_EIGHT_KHZ, Some(2)),
        RtpCodec::Pcmu | RtpCodec::Pcma => (Frequency::EIGHT_KHZ, Some(1)),
    };
    CodecSpec {
        codec: codec.codec(),
        clock_rate,
        channels,
        format: FormatParams::default(),
    }
}

/// A slot's choice for the audio it is given: as is, through a transcoder, or not at all.
/// Decided once per source codec and payload type.
#[derive(Default)]
pub(crate) struct SlotCodec {
    decision: Option<((Codec, Pt), Decision)>,
}

enum Decision {
    AsIs,
    Transcode(Box<Transcoder>),
    Refuse,
}

/// What to send for a packet.
pub(crate) enum Adapted {
    /// The packet as it is.
    AsIs,
    /// The packet in the subscriber's codec.
    Converted(Forwarded),
    /// Nothing (no common codec, or the packet did not convert).
    Drop,
}

impl SlotCodec {
    /// Adapts an audio packet to the subscriber; `wanted` names the codec the subscriber needs
    /// for a source codec it cannot take as is (`Ok(None)`: it can; `Err(())`: it takes none).
    pub(crate) fn adapt(
        &mut self,
        f: &Forwarded,
        wanted: impl FnOnce(Codec) -> Result<Option<RtpCodec>, ()>,
    ) -> Adapted {
        let key = (f.spec.codec, f.pt);
        let decision = match &mut self.decision {
            Some((k, d)) if *k == key => d,
            slot => {
                let d = match (wanted(f.spec.codec), RtpCodec::of(f.spec.codec)) {
                    (Ok(None), _) => Decision::AsIs,
                    (Ok(Some(to)), Some(from)) => Transcoder::new(from, to)
                        .map_or(Decision::Refuse, |t| Decision::Transcode(Box::new(t))),
                    _ => Decision::Refuse,
                };
                &mut slot.insert((key, d)).1
            }
        };
        match decision {
            Decision::AsIs => Adapted::AsIs,
            Decision::Transcode(t) => match catch_unwind(AssertUnwindSafe(|| t.convert(f))) {
                Ok(converted) => converted.map_or(Adapted::Drop, Adapted::Converted),
                Err(_) => {
                    // A codec panic on a hostile packet: drop it and start afresh with the next.
                    self.decision = None;
                    Adapted::Drop
                }
            },
            Decision::Refuse => Adapted::Drop,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::mixer::is_celt_only;
    use crate::testkit::{ToneSink, ToneSource, tone_amplitude, tone_amplitude_at};

    fn forwarded(spec: CodecSpec, seq: u64, ts: u32, payload: Arc<[u8]>) -> Forwarded {
        Forwarded {
            seq,
            ts,
            pt: Pt::new_with_value(8),
            marker: false,
            payload,
            audio_level: Some(-20),
            voice_activity: None,
            video_orientation: None,
            received: Instant::now(),
            rid: None,
            spec,
            keyframe: false,
            video: false,
            red: None,
        }
    }

    #[test]
    fn opus_to_alaw_and_back_keeps_the_tone_and_the_clock() {
        let mut tone = ToneSource::new(440.0, 0.3);
        let mut to_alaw = Transcoder::new(RtpCodec::Opus, RtpCodec::Pcma).unwrap();
        let mut to_opus = Transcoder::new(RtpCodec::Pcma, RtpCodec::Opus).unwrap();
        let mut alaw_pcm = Vec::new();
        let mut opus_pcm = Vec::new();
        let mut sink = ToneSink::default();
        let mut frame = vec![0.0; 160];
        let start = u32::MAX - 5 * 960;
        let mut last_ts = None;
        for i in 0..50u32 {
            let f = forwarded(
                spec_of(RtpCodec::Opus),
                u64::from(i),
                start.wrapping_add(i * 960),
                tone.next_packet(),
            );
            let a = to_alaw.convert(&f).unwrap();
            assert_eq!(a.payload.len(), 160);
            assert_eq!(a.spec.codec, Codec::PCMA);
            assert_eq!((a.seq, a.audio_level), (f.seq, f.audio_level));
            if let Some(last) = last_ts {
                // 8 kHz ticks, continuous across the 48 kHz wrap.
                assert_eq!(a.ts.wrapping_sub(last), 160);
            }
            last_ts = Some(a.ts);
            g711::decode(g711::Law::A, &a.payload, &mut frame);
            alaw_pcm.extend_from_slice(&frame);
            let back = to_opus.convert(&a).unwrap();
            assert_eq!(back.spec.codec, Codec::Opus);
            sink.decode_into(&back.payload, &mut opus_pcm);
        }
        let a = tone_amplitude_at(&alaw_pcm[1_600..], 440.0, 8_000);
        assert!((0.2..0.4).contains(&a), "A-law amplitude {a}");
        let b = tone_amplitude(&opus_pcm[9_600..], 440.0);
        assert!((0.15..0.4).contains(&b), "Opus again amplitude {b}");
    }

    #[test]
    fn an_opus_receiver_is_in_step_again_after_a_gap_in_the_g711_input() {
        // A µ-law 990 + 1,320 Hz chord (a steady sound, where a decoder out of step stays
        // out of step), with 10 packets missing: the receiver conceals them, so the first
        // packet after the gap must be a resync frame, and from the next one on the receiver
        // decodes what a decoder started there decodes.
        let mut t = Transcoder::new(RtpCodec::Pcmu, RtpCodec::Opus).unwrap();
        let mut receiver = opus_rs::OpusDecoder::new(SAMPLE_RATE as i32, 1).unwrap();
        let mut fresh: Option<opus_rs::OpusDecoder> = None;
        let (mut a, mut b) = (vec![0.0; FRAME], vec![0.0; FRAME]);
        let mut resyncs = Vec::new();
        for i in 0..200u32 {
            let pcm: Vec<f32> = (i * 160..(i + 1) * 160)
                .map(|n| {
                    [990.0f32, 1_320.0]
                        .iter()
                        .map(|f| 0.1 * (std::f32::consts::TAU * f * n as f32 / 8_000.0).sin())
                        .sum()
                })
                .collect();
            if (100..110).contains(&i) {
                receiver.decode(&[], FRAME, &mut a).unwrap();
                if let Some(d) = fresh.as_mut() {
                    d.decode(&[], FRAME, &mut b).unwrap();
                }
                continue;
            }
            let mut bytes = vec![0u8; 160];
            g711::encode(g711::Law::Mu, &pcm, &mut bytes);
            let f = forwarded(spec_of(RtpCodec::Pcmu), u64::from(i), i * 160, bytes.into());
            let out = t.convert(&f).unwrap();
            receiver.decode(&out.payload, FRAME, &mut a).unwrap();
            if is_celt_only(&out.payload) {
                resyncs.push(i);
                let mut d = opus_rs::OpusDecoder::new(SAMPLE_RATE as i32, 1).unwrap();
                d.decode(&out.payload, FRAME, &mut b).unwrap();
                fresh = Some(d);
                continue;
            }
            let d = fresh
                .as_mut()
                .expect("the stream starts with a resync frame");
            d.decode(&out.payload, FRAME, &mut b).unwrap();
            let off = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(off < 1e-6, "packet {i}: receiver off by {off}");
        }
        assert_eq!(resyncs, [0, 110]);
    }

    #[test]
    fn timestamps_follow_the_target_clock_across_gaps() {
        let mut t = Transcoder::new(RtpCodec::Opus, RtpCodec::Pcmu).unwrap();
        let out: Vec<u32> = [960u32, 1_920, 1_920 + 19_200, 1_920 + 19_200 + 960]
            .into_iter()
            .map(|ts| t.timestamp(ts))
            .collect();
        assert_eq!(out, [160, 320, 320 + 3_200, 320 + 3_200 + 160]);
        let mut up = Transcoder::new(RtpCodec::Pcmu, RtpCodec::Opus).unwrap();
        assert_eq!(
            up.timestamp(u32::MAX - 159),
            (u32::MAX - 159).wrapping_mul(6)
        );
        assert_eq!(
            up.timestamp(0),
            (u32::MAX - 159).wrapping_mul(6).wrapping_add(960)
        );
    }

    #[test]
    fn ulaw_to_alaw_converts_code_by_code() {
        let mut t = Transcoder::new(RtpCodec::Pcmu, RtpCodec::Pcma).unwrap();
        let f = forwarded(
            spec_of(RtpCodec::Pcmu),
            1,
            160,
            Arc::from(&[0xffu8; 160][..]),
        );
        let out = t.convert(&f).unwrap();
        assert!(out.payload.iter().all(|b| *b == 0xd5));
        assert_eq!(out.ts, 160);
    }

    #[test]
    fn a_slot_decides_once_per_source_codec() {
        let mut slot = SlotCodec::default();
        let mut calls = 0;
        let ulaw = forwarded(
            spec_of(RtpCodec::Pcmu),
            1,
            160,
            Arc::from(&[0xffu8; 160][..]),
        );
        for _ in 0..3 {
            let adapted = slot.adapt(&ulaw, |_| {
                calls += 1;
                Ok(Some(RtpCodec::Opus))
            });
            assert!(matches!(adapted, Adapted::Converted(f) if f.spec.codec == Codec::Opus));
        }
        assert_eq!(calls, 1);
        assert!(matches!(
            slot.adapt(&ulaw, |_| Ok(None)),
            Adapted::Converted(_)
        ));
        let opus = forwarded(
            spec_of(RtpCodec::Opus),
            2,
            960,
            Arc::from(&[0x78u8, 1, 2][..]),
        );
        let mut opus = opus;
        opus.pt = Pt::new_with_value(111);
        assert!(matches!(slot.adapt(&opus, |_| Ok(None)), Adapted::AsIs));
        assert!(matches!(slot.adapt(&ulaw, |_| Err(())), Adapted::Drop));
    }
}
