//! A streaming WAV writer for recordings: 16-bit PCM, or G.711 µ-law (format 7) / A-law
//! (format 6) so that G.711 legs are stored as received. Frames are appended as they come; the
//! RIFF sizes are written by [`WavWriter::finish`].

use std::io::{Seek, SeekFrom, Write};

use crate::error::AudioError;
use crate::g711::{self, Law};
use crate::pcm::rate_supported;

/// How samples are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavEncoding {
    /// 16-bit little-endian linear PCM (format 1).
    Pcm16,
    /// G.711 µ-law, one byte per sample (format 7).
    MuLaw,
    /// G.711 A-law, one byte per sample (format 6).
    ALaw,
}

impl WavEncoding {
    fn format_tag(self) -> u16 {
        match self {
            Self::Pcm16 => 1,
            Self::MuLaw => 7,
            Self::ALaw => 6,
        }
    }

    fn bytes_per_sample(self) -> u16 {
        match self {
            Self::Pcm16 => 2,
            Self::MuLaw | Self::ALaw => 1,
        }
    }

    fn law(self) -> Option<Law> {
        match self {
            Self::Pcm16 => None,
            Self::MuLaw => Some(Law::Mu),
            Self::ALaw => Some(Law::A),
        }
    }
}

/// Bytes encoded per write to the output.
const CHUNK: usize = 1_024;
/// Offset of the RIFF size field.
const RIFF_SIZE_AT: u64 = 4;

/// Writes one WAV file, mono or stereo, frame by frame.
#[derive(Debug)]
pub struct WavWriter<W: Write + Seek> {
    out: W,
    encoding: WavEncoding,
    channels: u16,
    /// Where the file starts in `out`.
    start: u64,
    /// Bytes of the header before the samples.
    header_len: u64,
    /// Where the `fact` sample count is, for G.711.
    fact_at: Option<u64>,
    data_bytes: u64,
    buf: [u8; CHUNK],
}

impl<W: Write + Seek> WavWriter<W> {
    /// Starts a file at the current position of `out` (normally its start) with `channels` (1 or
    /// 2) at `rate` Hz.
    pub fn new(
        mut out: W,
        encoding: WavEncoding,
        channels: u16,
        rate: u32,
    ) -> Result<Self, AudioError> {
        if !(1..=2).contains(&channels) {
            return Err(AudioError::InvalidParameter("WAV channels must be 1 or 2"));
        }
        if !rate_supported(rate) {
            return Err(AudioError::InvalidParameter("sample rate out of range"));
        }
        let start = out.stream_position()?;
        let block_align = channels * encoding.bytes_per_sample();
        let compressed = encoding.law().is_some();
        let mut header = Vec::with_capacity(58);
        header.extend_from_slice(b"RIFF");
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(b"WAVE");
        header.extend_from_slice(b"fmt ");
        header.extend_from_slice(&(if compressed { 18u32 } else { 16 }).to_le_bytes());
        header.extend_from_slice(&encoding.format_tag().to_le_bytes());
        header.extend_from_slice(&channels.to_le_bytes());
        header.extend_from_slice(&rate.to_le_bytes());
        header.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
        header.extend_from_slice(&block_align.to_le_bytes());
        header.extend_from_slice(&(encoding.bytes_per_sample() * 8).to_le_bytes());
        let mut fact_at = None;
        if compressed {
            // cbSize, then the `fact` chunk that non-PCM formats carry.
            header.extend_from_slice(&0u16.to_le_bytes());
            header.extend_from_slice(b"fact");
            header.extend_from_slice(&4u32.to_le_bytes());
            fact_at = Some(header.len() as u64);
            header.extend_from_slice(&0u32.to_le_bytes());
        }
        header.extend_from_slice(b"data");
        header.extend_from_slice(&0u32.to_le_bytes());
        out.write_all(&header)?;
        Ok(Self {
            out,
            encoding,
            channels,
            start,
            header_len: header.len() as u64,
            fact_at,
            data_bytes: 0,
            buf: [0; CHUNK],
        })
    }

    /// Appends interleaved samples (for stereo: left, right, left, …), encoded as the file's
    /// encoding.
    pub fn write_samples(&mut self, samples: &[i16]) -> Result<(), AudioError> {
        let width = usize::from(self.encoding.bytes_per_sample());
        for chunk in samples.chunks(CHUNK / width) {
            let n = chunk.len() * width;
            match self.encoding.law() {
                None => {
                    for (b, s) in self.buf.chunks_exact_mut(2).zip(chunk) {
                        b.copy_from_slice(&s.to_le_bytes());
                    }
                }
                Some(law) => {
                    for (b, &s) in self.buf.iter_mut().zip(chunk) {
                        *b = g711::from_linear(law, s);
                    }
                }
            }
            self.append(n)?;
        }
        Ok(())
    }

    /// Appends a stereo frame run from separate channels (`left` and `right` of equal length;
    /// the shorter one is padded with silence).
    pub fn write_stereo(&mut self, left: &[i16], right: &[i16]) -> Result<(), AudioError> {
        if self.channels != 2 {
            return Err(AudioError::InvalidParameter(
                "write_stereo needs a stereo file",
            ));
        }
        let frames = left.len().max(right.len());
        let mut pair = [0i16; CHUNK / 2];
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(pair.len() / 2);
            for i in 0..n {
                pair[2 * i] = left.get(done + i).copied().unwrap_or(0);
                pair[2 * i + 1] = right.get(done + i).copied().unwrap_or(0);
            }
            self.write_samples(&pair[..2 * n])?;
            done += n;
        }
        Ok(())
    }

    /// Appends bytes already in the file's encoding: G.711 payloads as received, or 16-bit
    /// little-endian PCM.
    pub fn write_encoded(&mut self, bytes: &[u8]) -> Result<(), AudioError> {
        self.check_room(bytes.len())?;
        self.out.write_all(bytes)?;
        self.data_bytes += bytes.len() as u64;
        Ok(())
    }

    /// Frames (samples per channel) written so far.
    pub fn frames(&self) -> u64 {
        self.data_bytes / u64::from(self.channels * self.encoding.bytes_per_sample())
    }

    /// Writes the sizes into the header (and the pad byte an odd-sized data chunk needs) and
    /// returns the output.
    pub fn finish(mut self) -> Result<W, AudioError> {
        let pad = self.data_bytes % 2;
        if pad == 1 {
            self.out.write_all(&[0])?;
        }
        let riff = (self.header_len - 8 + self.data_bytes + pad) as u32;
        let start = self.start;
        self.out.seek(SeekFrom::Start(start + RIFF_SIZE_AT))?;
        self.out.write_all(&riff.to_le_bytes())?;
        if let Some(at) = self.fact_at {
            self.out.seek(SeekFrom::Start(start + at))?;
            self.out.write_all(&(self.frames() as u32).to_le_bytes())?;
        }
        self.out
            .seek(SeekFrom::Start(start + self.header_len - 4))?;
        self.out
            .write_all(&(self.data_bytes as u32).to_le_bytes())?;
        self.out.seek(SeekFrom::Start(
            start + self.header_len + self.data_bytes + pad,
        ))?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn append(&mut self, n: usize) -> Result<(), AudioError> {
        self.check_room(n)?;
        self.out.write_all(&self.buf[..n])?;
        self.data_bytes += n as u64;
        Ok(())
    }

    /// Refuses data past what the 32-bit RIFF sizes can describe.
    fn check_room(&self, more: usize) -> Result<(), AudioError> {
        let total = self.header_len + self.data_bytes + more as u64 + 1;
        if total > u64::from(u32::MAX) {
            return Err(AudioError::InvalidParameter("recording too large for WAV"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
