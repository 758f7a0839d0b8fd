//! G.711 (ITU-T): µ-law (PCMU) and A-law (PCMA) 8-bit companding of 16-bit linear PCM, the
//! codecs SIP phones and trunks speak. Decoding is a table lookup; encoding a few shifts.

/// The two G.711 companding laws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law (PCMU, static payload type 0).
    Mu,
    /// A-law (PCMA, static payload type 8).
    A,
}

/// G.711's sample rate and RTP clock.
pub const RATE: u32 = 8_000;

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32_635;

const ULAW_TABLE: [i16; 256] = table(Law::Mu);
const ALAW_TABLE: [i16; 256] = table(Law::A);

const fn table(law: Law) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = match law {
            Law::Mu => ulaw_to_linear(i as u8),
            Law::A => alaw_to_linear(i as u8),
        };
        i += 1;
    }
    t
}

const fn ulaw_to_linear(byte: u8) -> i16 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let mantissa = (u & 0x0f) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn alaw_to_linear(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let segment = (a & 0x70) >> 4;
    let mut magnitude = ((a & 0x0f) as i32) << 4;
    magnitude = match segment {
        0 => magnitude + 8,
        1 => magnitude + 0x108,
        _ => (magnitude + 0x108) << (segment - 1),
    };
    if a & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// Encodes one linear sample as µ-law.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut pcm = i32::from(sample);
    let sign = if pcm < 0 {
        pcm = -pcm;
        0x80
    } else {
        0
    };
    pcm = pcm.min(ULAW_CLIP) + ULAW_BIAS;
    // The exponent is the position of the highest set bit among bits 7..=14.
    let exponent = (7 - ((pcm as u32) << 17).leading_zeros().min(7)) as i32;
    let mantissa = (pcm >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// Encodes one linear sample as A-law.
pub fn linear_to_alaw(sample: i16) -> u8 {
    let mut pcm = i32::from(sample) >> 3;
    let mask = if pcm >= 0 {
        0xd5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    // Segment ends of the 13-bit magnitude.
    let segment = match pcm {
        0..=0x1f => 0,
        0x20..=0x3f => 1,
        0x40..=0x7f => 2,
        0x80..=0xff => 3,
        0x100..=0x1ff => 4,
        0x200..=0x3ff => 5,
        0x400..=0x7ff => 6,
        0x800..=0xfff => 7,
        _ => return 0x7f ^ mask,
    };
    let shift = if segment < 2 { 1 } else { segment };
    let value = (segment << 4) | ((pcm >> shift) & 0x0f);
    value as u8 ^ mask
}

/// Decodes one byte to a linear sample.
pub fn to_linear(law: Law, byte: u8) -> i16 {
    match law {
        Law::Mu => ULAW_TABLE[usize::from(byte)],
        Law::A => ALAW_TABLE[usize::from(byte)],
    }
}

/// Encodes one linear sample.
pub fn from_linear(law: Law, sample: i16) -> u8 {
    match law {
        Law::Mu => linear_to_ulaw(sample),
        Law::A => linear_to_alaw(sample),
    }
}

/// Decodes `bytes` into `out` as floats in `[-1, 1)`; writes `min(bytes, out)` samples.
pub fn decode(law: Law, bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = f32::from(to_linear(law, *b)) / 32_768.0;
    }
}

/// Encodes float samples (clipped to `[-1, 1]`) into `out`; writes `min(pcm, out)` bytes.
pub fn encode(law: Law, pcm: &[f32], out: &mut [u8]) {
    for (o, s) in out.iter_mut().zip(pcm) {
        let linear = (s.clamp(-1.0, 1.0) * 32_767.0).round() as i16;
        *o = from_linear(law, linear);
    }
}

/// Mean square of a G.711 payload (full scale 1.0), for its RFC 6464 level.
pub fn mean_square(law: Law, bytes: &[u8]) -> f32 {
    if bytes.is_empty() {
        return 0.0;
    }
    let sum: f32 = bytes
        .iter()
        .map(|b| {
            let s = f32::from(to_linear(law, *b)) / 32_768.0;
            s * s
        })
        .sum();
    sum / bytes.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_matches_the_itu_reference_points() {
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(to_linear(Law::Mu, 0xff), 0);
        assert_eq!(to_linear(Law::Mu, 0x7f), 0);
        assert_eq!(to_linear(Law::Mu, 0x00), -32_124);
        assert_eq!(to_linear(Law::Mu, 0x80), 32_124);
        assert_eq!(linear_to_ulaw(32_767), 0x80);
        assert_eq!(linear_to_ulaw(-32_768), 0x00);
        assert_eq!(linear_to_ulaw(-1), 0x7f);
        // The first segment boundary: 8 steps of 2 at the bottom.
        assert_eq!(to_linear(Law::Mu, 0xfe), 8);
        assert_eq!(to_linear(Law::Mu, 0xef), 132);
    }

    #[test]
    fn alaw_matches_the_itu_reference_points() {
        assert_eq!(linear_to_alaw(0), 0xd5);
        assert_eq!(to_linear(Law::A, 0xd5), 8);
        assert_eq!(to_linear(Law::A, 0x55), -8);
        assert_eq!(to_linear(Law::A, 0xaa), 32_256);
        assert_eq!(to_linear(Law::A, 0x2a), -32_256);
        assert_eq!(linear_to_alaw(32_767), 0xaa);
        assert_eq!(linear_to_alaw(-32_768), 0x2a);
    }

    #[test]
    fn every_code_survives_a_round_trip() {
        for law in [Law::Mu, Law::A] {
            for byte in 0..=255u8 {
                let linear = to_linear(law, byte);
                let again = from_linear(law, linear);
                // µ-law has two codes for zero (0xff and 0x7f); both decode to 0.
                assert_eq!(
                    to_linear(law, again),
                    linear,
                    "{law:?} code {byte:#04x} -> {linear} -> {again:#04x}"
                );
            }
        }
    }

    #[test]
    fn quantisation_error_stays_within_the_segment_step() {
        for law in [Law::Mu, Law::A] {
            for sample in (-32_000i16..32_000).step_by(37) {
                let back = to_linear(law, from_linear(law, sample));
                let error = (i32::from(back) - i32::from(sample)).abs();
                // The largest segment's step is 1024 (µ-law) / 1024 (A-law); half of it is the bound.
                let bound = (i32::from(sample).abs() / 16).max(16) + 2;
                assert!(error <= bound, "{law:?} {sample} -> {back}");
            }
        }
    }

    #[test]
    fn floats_round_trip_and_levels_follow_energy() {
        let pcm: Vec<f32> = (0..160).map(|i| 0.5 * (i as f32 * 0.3).sin()).collect();
        let mut bytes = vec![0u8; 160];
        let mut back = vec![0.0f32; 160];
        encode(Law::A, &pcm, &mut bytes);
        decode(Law::A, &bytes, &mut back);
        for (a, b) in pcm.iter().zip(&back) {
            assert!((a - b).abs() < 0.02, "{a} vs {b}");
        }
        let ms = mean_square(Law::A, &bytes);
        assert!((ms - 0.125).abs() < 0.01, "mean square {ms}");
        assert_eq!(mean_square(Law::Mu, &[0xff; 160]), 0.0);
    }
}
