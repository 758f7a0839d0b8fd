use std::f64::consts::PI;

use super::*;

/// `frames` 20 ms frames of a sine of `hz` at `amplitude` (full scale 1.0), at `rate`.
fn tone(rate: u32, hz: f64, amplitude: f64, frames: usize) -> Vec<i16> {
    let n = rate as usize / 50 * frames;
    (0..n)
        .map(|i| (amplitude * 32_767.0 * (2.0 * PI * hz * i as f64 / f64::from(rate)).sin()) as i16)
        .collect()
}

/// The power of `pcm` at `hz` (Goertzel), normalised to a full-scale sine's mean square.
fn power_at(pcm: &[i16], rate: u32, hz: f64) -> f64 {
    let w = 2.0 * PI * hz / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in pcm {
        let s = f64::from(x) / 32_768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let n = pcm.len() as f64;
    2.0 * (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n)
}

fn rms(pcm: &[i16]) -> f64 {
    let sum: f64 = pcm.iter().map(|&s| (f64::from(s) / 32_768.0).powi(2)).sum();
    (sum / pcm.len() as f64).sqrt()
}

/// Call PCM → agent payloads → call PCM, frame by frame, as the core does.
fn round_trip(format: AgentFormat, call: CallRate, input: &[i16]) -> Vec<i16> {
    let call_frame = call.frame_samples();
    let agent_frame = format.frame_samples();
    let mut up = Rechunker::new(call.hz(), format.rate(), agent_frame).unwrap();
    let mut down = Rechunker::new(format.rate(), call.hz(), call_frame).unwrap();
    let (mut frame, mut bytes, mut decoded, mut out) =
        (Vec::new(), Vec::new(), VecDeque::new(), Vec::new());
    let mut result = Vec::new();
    for chunk in input.chunks(call_frame) {
        up.push(chunk);
        while up.pop(&mut frame) {
            bytes.clear();
            format.encode(&frame, &mut bytes);
            assert_eq!(bytes.len(), agent_frame * format.bytes_per_sample());
            decoded.clear();
            assert_eq!(
                format.decode(&bytes, &mut decoded, usize::MAX),
                Ok(agent_frame)
            );
            let samples: Vec<i16> = decoded.iter().copied().collect();
            down.push(&samples);
            assert!(
                down.pop(&mut out),
                "a 20 ms frame in makes a 20 ms frame out"
            );
            result.extend_from_slice(&out);
        }
    }
    result
}

fn assert_tone_survives(format: AgentFormat, call: CallRate) {
    let rate = call.hz();
    let input = tone(rate, 1_000.0, 0.5, 50);
    let output = round_trip(format, call, &input);
    // Every frame in made a frame out: the priming leaves no frame behind.
    assert_eq!(output.len(), input.len());
    // Skip the filters' start-up; compare the steady part.
    let steady = &output[output.len() / 5..];
    let level_in = rms(&input);
    let level_out = rms(steady);
    let db = 20.0 * (level_out / level_in).log10();
    assert!(
        db.abs() < 0.5,
        "{format:?} {call:?}: level changed by {db:.2} dB"
    );
    let at_1k = power_at(steady, rate, 1_000.0);
    let total = rms(steady).powi(2);
    assert!(
        at_1k > 0.95 * total,
        "{format:?} {call:?}: 1 kHz holds {at_1k} of {total}"
    );
    for other in [500.0, 1_500.0, 2_000.0] {
        assert!(
            power_at(steady, rate, other) < 0.01 * total,
            "{other} Hz present"
        );
    }
}

#[test]
fn mulaw_round_trip_keeps_a_1khz_tone_from_48k() {
    assert_tone_survives(AgentFormat::Mulaw8k, CallRate::Hz48000);
}

#[test]
fn mulaw_round_trip_keeps_a_1khz_tone_at_8k() {
    assert_tone_survives(AgentFormat::Mulaw8k, CallRate::Hz8000);
}

#[test]
fn l16_16k_round_trip_keeps_a_1khz_tone() {
    assert_tone_survives(AgentFormat::L16 { rate: 16_000 }, CallRate::Hz48000);
    assert_tone_survives(AgentFormat::L16 { rate: 16_000 }, CallRate::Hz8000);
}

#[test]
fn l16_24k_round_trip_keeps_a_1khz_tone() {
    assert_tone_survives(AgentFormat::L16 { rate: 24_000 }, CallRate::Hz48000);
}

#[test]
fn l16_is_little_endian() {
    let mut bytes = Vec::new();
    AgentFormat::L16 { rate: 8_000 }.encode(&[0x0102, -2], &mut bytes);
    assert_eq!(bytes, [0x02, 0x01, 0xfe, 0xff]);
    let mut out = VecDeque::new();
    assert_eq!(
        AgentFormat::L16 { rate: 8_000 }.decode(&bytes, &mut out, 1),
        Ok(2)
    );
    assert_eq!(out, [0x0102]);
    assert_eq!(
        AgentFormat::L16 { rate: 8_000 }.decode(&bytes[..3], &mut out, 9),
        Err(PayloadError::OddLength(3))
    );
}

#[test]
fn formats_name_themselves() {
    assert_eq!(AgentFormat::Mulaw8k.encoding(), "audio/x-mulaw");
    assert_eq!(AgentFormat::Mulaw8k.rate(), 8_000);
    assert_eq!(AgentFormat::L16 { rate: 24_000 }.encoding(), "audio/x-L16");
    assert_eq!(AgentFormat::L16 { rate: 24_000 }.frame_samples(), 480);
    assert!(AgentFormat::L16 { rate: 44_100 }.validate().is_err());
    assert!(AgentFormat::L16 { rate: 16_000 }.validate().is_ok());
}
