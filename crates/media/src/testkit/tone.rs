//! Opus-encoded test tones and their measurement.

use std::f32::consts::TAU;
use std::sync::Arc;

use opus_rs::{Application, OpusDecoder, OpusEncoder};

use crate::mixer::{FRAME, SAMPLE_RATE, dbov};

/// A sine tone encoded as 20 ms Opus frames.
pub struct ToneSource {
    encoder: OpusEncoder,
    freq: f32,
    amplitude: f32,
    phase: f32,
    pcm: Vec<f32>,
    packet: Vec<u8>,
}

impl ToneSource {
    /// A tone of `freq` Hz at `amplitude` (full scale 1.0).
    pub fn new(freq: f32, amplitude: f32) -> Self {
        let mut encoder = OpusEncoder::new(SAMPLE_RATE as i32, 1, Application::Voip)
            .unwrap_or_else(|e| panic!("opus encoder: {e}"));
        encoder.bitrate_bps = 32_000;
        Self {
            encoder,
            freq,
            amplitude,
            phase: 0.0,
            pcm: vec![0.0; FRAME],
            packet: vec![0; 1275],
        }
    }

    /// Changes the tone's amplitude.
    pub fn set_amplitude(&mut self, amplitude: f32) {
        self.amplitude = amplitude;
    }

    /// The RFC 6464 level of the tone (`-dBov`).
    pub fn level(&self) -> u8 {
        dbov(self.amplitude * self.amplitude / 2.0)
    }

    /// The next 20 ms Opus packet.
    pub fn next_packet(&mut self) -> Arc<[u8]> {
        let step = TAU * self.freq / SAMPLE_RATE as f32;
        for s in self.pcm.iter_mut() {
            *s = self.amplitude * self.phase.sin();
            self.phase = (self.phase + step) % TAU;
        }
        let n = self
            .encoder
            .encode(&self.pcm, FRAME, &mut self.packet)
            .unwrap_or_else(|e| panic!("opus encode: {e}"));
        Arc::from(&self.packet[..n])
    }
}

/// Decodes received Opus packets into PCM.
pub struct ToneSink {
    decoder: OpusDecoder,
    frame: Vec<f32>,
}

impl Default for ToneSink {
    fn default() -> Self {
        Self {
            decoder: OpusDecoder::new(SAMPLE_RATE as i32, 1)
                .unwrap_or_else(|e| panic!("opus decoder: {e}")),
            frame: vec![0.0; FRAME],
        }
    }
}

impl ToneSink {
    /// Decodes one packet, appending its samples to `pcm`; undecodable packets add nothing.
    pub fn decode_into(&mut self, payload: &[u8], pcm: &mut Vec<f32>) {
        if let Ok(n) = self.decoder.decode(payload, FRAME, &mut self.frame) {
            pcm.extend_from_slice(&self.frame[..n.min(FRAME)]);
        }
    }
}

/// Amplitude of the `freq` Hz component of 48 kHz `pcm` (single-bin DFT).
pub fn tone_amplitude(pcm: &[f32], freq: f32) -> f32 {
    tone_amplitude_at(pcm, freq, SAMPLE_RATE)
}

/// Amplitude of the `freq` Hz component of `pcm` sampled at `rate` Hz (single-bin DFT).
pub fn tone_amplitude_at(pcm: &[f32], freq: f32, rate: u32) -> f32 {
    if pcm.is_empty() {
        return 0.0;
    }
    let step = TAU * freq / rate as f32;
    let (mut re, mut im) = (0.0f64, 0.0f64);
    for (n, s) in pcm.iter().enumerate() {
        let angle = (step as f64) * n as f64;
        re += f64::from(*s) * angle.cos();
        im -= f64::from(*s) * angle.sin();
    }
    (2.0 * (re * re + im * im).sqrt() / pcm.len() as f64) as f32
}

/// Mean amplitude of the `freq` Hz component over consecutive 100 ms windows of 48 kHz `pcm`;
/// robust to the phase jumps that lost or concealed frames cause.
pub fn tone_presence(pcm: &[f32], freq: f32) -> f32 {
    tone_presence_at(pcm, freq, SAMPLE_RATE)
}

/// [`tone_presence`] for `pcm` sampled at `rate` Hz.
pub fn tone_presence_at(pcm: &[f32], freq: f32, rate: u32) -> f32 {
    let windows: Vec<f32> = pcm
        .chunks_exact(rate as usize / 10)
        .map(|w| tone_amplitude_at(w, freq, rate))
        .collect();
    if windows.is_empty() {
        return 0.0;
    }
    windows.iter().sum::<f32>() / windows.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_survives_opus() {
        let mut source = ToneSource::new(440.0, 0.3);
        let mut sink = ToneSink::default();
        let mut pcm = Vec::new();
        for _ in 0..50 {
            sink.decode_into(&source.next_packet(), &mut pcm);
        }
        let pcm = &pcm[FRAME * 10..];
        let a = tone_amplitude(pcm, 440.0);
        assert!((0.2..0.4).contains(&a), "amplitude {a}");
        assert!(tone_amplitude(pcm, 660.0) < 0.01);
        assert_eq!(source.level(), 13);
    }
}
