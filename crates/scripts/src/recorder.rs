//! A recording file of one party's audio, written as its packets arrive: Ogg Opus for Opus
//! legs (the packets as received, no transcoding), 16-bit PCM WAV at 8 kHz for G.711 legs.
//! Lost packets become silence (Opus: empty frames, which decoders conceal), so the file keeps
//! the call's timing; late and repeated packets are dropped.

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::Path;
use std::time::Duration;

use weft_audio::g711::{self, Law};
use weft_audio::wav::{WavEncoding, WavWriter};
use weft_audio::{AudioError, OggOpusConfig, OggOpusWriter};
use weft_media::RtpCodec;

/// An Opus packet of one 20 ms CELT frame with no data: decoders conceal it (RFC 6716 §3.2.1).
const OPUS_LOST_FRAME: [u8; 1] = [0xF8];
/// The longest gap filled with silence; a longer one (a hold, a stall) is cut short.
const MAX_GAP: Duration = Duration::from_secs(10);

/// The container of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Ogg Opus (`.ogg`).
    Ogg,
    /// WAV (`.wav`).
    Wav,
}

impl Format {
    /// The format a leg of `codec` is recorded in.
    pub fn of(codec: RtpCodec) -> Self {
        match codec {
            RtpCodec::Opus => Format::Ogg,
            RtpCodec::Pcmu | RtpCodec::Pcma => Format::Wav,
        }
    }

    /// The file extension and the name the REST API uses.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Ogg => "ogg",
            Format::Wav => "wav",
        }
    }
}

enum Sink<W: Write + Seek> {
    Ogg(Box<OggOpusWriter<W>>),
    Wav(Box<WavWriter<W>>, Law),
}

/// One recording being written.
pub struct Recorder<W: Write + Seek = BufWriter<File>> {
    sink: Sink<W>,
    /// Samples per packet's RTP clock tick (48 kHz Opus, 8 kHz G.711).
    rate: u32,
    /// The next expected RTP timestamp and the highest sequence written.
    next: Option<(u32, u64)>,
    samples: u64,
    pcm: Vec<i16>,
}

impl Recorder {
    /// Creates `path` for a leg of `codec`.
    pub fn create(path: &Path, codec: RtpCodec) -> Result<Recorder, AudioError> {
        let file = BufWriter::new(File::create(path)?);
        Recorder::new(file, codec)
    }
}

impl<W: Write + Seek> Recorder<W> {
    /// A recording of a leg of `codec` written to `out`.
    pub fn new(out: W, codec: RtpCodec) -> Result<Self, AudioError> {
        let (sink, rate) = match codec {
            RtpCodec::Opus => (
                Sink::Ogg(Box::new(OggOpusWriter::new(
                    out,
                    &OggOpusConfig::default(),
                )?)),
                48_000,
            ),
            RtpCodec::Pcmu | RtpCodec::Pcma => {
                let law = if codec == RtpCodec::Pcmu {
                    Law::Mu
                } else {
                    Law::A
                };
                (
                    Sink::Wav(
                        Box::new(WavWriter::new(out, WavEncoding::Pcm16, 1, 8_000)?),
                        law,
                    ),
                    8_000,
                )
            }
        };
        Ok(Self {
            sink,
            rate,
            next: None,
            samples: 0,
            pcm: Vec::new(),
        })
    }

    /// Writes one packet (`sequence` extended, `timestamp` its RTP timestamp).
    pub fn write(
        &mut self,
        sequence: u64,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), AudioError> {
        if let Some((expected, last_seq)) = self.next {
            if sequence <= last_seq {
                return Ok(());
            }
            let gap = timestamp.wrapping_sub(expected);
            // A timestamp behind the expected one (wrapped to a huge gap) is late: dropped.
            if gap > u32::MAX / 2 {
                return Ok(());
            }
            let max_gap = (MAX_GAP.as_millis() as u64 * u64::from(self.rate) / 1000) as u32;
            self.fill(gap.min(max_gap))?;
        }
        let samples = match &mut self.sink {
            Sink::Ogg(ogg) => {
                let before = ogg.granule();
                ogg.write_packet(payload)?;
                ogg.granule() - before
            }
            Sink::Wav(wav, law) => {
                self.pcm.clear();
                self.pcm
                    .extend(payload.iter().map(|b| g711::to_linear(*law, *b)));
                wav.write_samples(&self.pcm)?;
                payload.len() as u64
            }
        };
        self.samples += samples;
        self.next = Some((timestamp.wrapping_add(samples as u32), sequence));
        Ok(())
    }

    /// Writes `ticks` of silence.
    fn fill(&mut self, ticks: u32) -> Result<(), AudioError> {
        match &mut self.sink {
            Sink::Ogg(ogg) => {
                for _ in 0..ticks / 960 {
                    ogg.write_packet(&OPUS_LOST_FRAME)?;
                    self.samples += 960;
                }
            }
            Sink::Wav(wav, _) => {
                self.pcm.clear();
                self.pcm.resize(ticks as usize, 0);
                wav.write_samples(&self.pcm)?;
                self.samples += u64::from(ticks);
            }
        }
        Ok(())
    }

    /// How much audio is written.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples * 1_000_000 / u64::from(self.rate))
    }

    /// Completes the file (headers and last page) and returns its writer.
    pub fn finish(self) -> Result<W, AudioError> {
        let mut out = match self.sink {
            Sink::Ogg(ogg) => (*ogg).finish()?,
            Sink::Wav(wav, _) => (*wav).finish()?,
        };
        out.flush()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn g711_packets_become_pcm_with_lost_packets_as_silence() {
        let mut rec = Recorder::new(Cursor::new(Vec::new()), RtpCodec::Pcmu).unwrap();
        let loud = [g711::from_linear(Law::Mu, 8000); 160];
        rec.write(1, 1000, &loud).unwrap();
        // Packet 2 is lost; 3 arrives, then a late 2 and a repeat of 3.
        rec.write(3, 1320, &loud).unwrap();
        rec.write(2, 1160, &loud).unwrap();
        rec.write(3, 1320, &loud).unwrap();
        assert_eq!(rec.duration(), Duration::from_millis(60));
        let bytes = rec.finish().unwrap().into_inner();
        let data = &bytes[44..];
        assert_eq!(data.len(), 480 * 2);
        let sample = |i: usize| i16::from_le_bytes([data[2 * i], data[2 * i + 1]]);
        assert!(sample(100) > 7000);
        assert_eq!(sample(160 + 80), 0, "the lost packet is silence");
        assert!(sample(320 + 80) > 7000);
    }

    #[test]
    fn opus_packets_are_kept_as_they_are_and_gaps_are_concealed_frames() {
        let mut rec = Recorder::new(Cursor::new(Vec::new()), RtpCodec::Opus).unwrap();
        let frame = [0xF8, 0x01, 0x02, 0x03];
        rec.write(10, 0, &frame).unwrap();
        rec.write(13, 2880, &frame).unwrap();
        assert_eq!(rec.duration(), Duration::from_millis(80));
        let bytes = rec.finish().unwrap().into_inner();
        assert!(bytes.starts_with(b"OggS"));
        let found = bytes.windows(frame.len()).filter(|w| *w == frame).count();
        assert_eq!(found, 2, "both packets are stored unchanged");
    }

    #[test]
    fn a_long_stall_is_cut_to_the_longest_gap() {
        let mut rec = Recorder::new(Cursor::new(Vec::new()), RtpCodec::Pcma).unwrap();
        let frame = [0xD5; 160];
        rec.write(1, 0, &frame).unwrap();
        rec.write(2, 8_000 * 60, &frame).unwrap();
        assert_eq!(rec.duration(), MAX_GAP + Duration::from_millis(40));
    }
}
