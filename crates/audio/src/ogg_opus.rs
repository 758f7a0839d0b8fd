//! A streaming Ogg Opus writer (RFC 7845) for recordings of Opus legs: the encoded packets are
//! stored as received, with no transcoding. Pages carry granule positions at 48 kHz and the Ogg
//! CRC; each page holds up to a configurable duration so a cut-off recording loses little.

use std::io::Write;

use crate::error::AudioError;
use crate::ogg::{BOS, EOS, NO_GRANULE, PageWriter};
use crate::opus_packet::packet_samples;

/// How an Ogg Opus recording is labelled and paged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OggOpusConfig {
    /// Channels the packets decode to: 1 or 2.
    pub channels: u8,
    /// Samples at 48 kHz a player drops at the start (the encoder's look-ahead; 312 for
    /// libopus and `opus-rs` at 48 kHz).
    pub pre_skip: u16,
    /// The rate of the audio before encoding (informational; 48000 for WebRTC legs).
    pub input_rate: u32,
    /// The logical stream's serial number.
    pub serial: u32,
    /// Most audio per page, in milliseconds.
    pub max_page_ms: u32,
    /// The vendor string in OpusTags.
    pub vendor: String,
}

impl Default for OggOpusConfig {
    fn default() -> Self {
        Self {
            channels: 1,
            pre_skip: 312,
            input_rate: 48_000,
            serial: 0x5745_4654,
            max_page_ms: 1_000,
            vendor: "Weft".to_owned(),
        }
    }
}

/// Writes one Ogg Opus stream packet by packet.
#[derive(Debug)]
pub struct OggOpusWriter<W: Write> {
    out: W,
    page: PageWriter,
    /// Samples at 48 kHz of every packet written (the granule position after the last one).
    granule: u64,
    /// Samples at 48 kHz in the page being built.
    page_samples: u64,
    max_page_samples: u64,
}

impl<W: Write> OggOpusWriter<W> {
    /// Starts a stream on `out`: writes the OpusHead and OpusTags pages.
    pub fn new(mut out: W, config: &OggOpusConfig) -> Result<Self, AudioError> {
        if !(1..=2).contains(&config.channels) {
            return Err(AudioError::InvalidParameter(
                "Ogg Opus channels must be 1 or 2",
            ));
        }
        let mut page = PageWriter::new(config.serial);
        let mut head = [0u8; 19];
        head[..8].copy_from_slice(b"OpusHead");
        head[8] = 1;
        head[9] = config.channels;
        head[10..12].copy_from_slice(&config.pre_skip.to_le_bytes());
        head[12..16].copy_from_slice(&config.input_rate.to_le_bytes());
        // Output gain 0 dB and channel mapping family 0 (mono or stereo) stay zero.
        page.push(&head);
        page.write_page(&mut out, 0, BOS)?;

        let vendor = config.vendor.as_bytes();
        let mut tags = Vec::with_capacity(16 + vendor.len());
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor);
        tags.extend_from_slice(&0u32.to_le_bytes());
        if !page.push(&tags) {
            return Err(AudioError::InvalidParameter("vendor string too long"));
        }
        page.write_page(&mut out, 0, 0)?;
        Ok(Self {
            out,
            page,
            granule: 0,
            page_samples: 0,
            max_page_samples: u64::from(config.max_page_ms.max(20)) * 48,
        })
    }

    /// Appends one Opus packet as given; refuses an empty or malformed one (its duration must
    /// be readable from its TOC).
    pub fn write_packet(&mut self, packet: &[u8]) -> Result<(), AudioError> {
        let samples =
            packet_samples(packet).ok_or(AudioError::InvalidParameter("not an Opus packet"))?;
        if !self.page.fits(packet.len()) || self.page_samples >= self.max_page_samples {
            self.flush_page(0)?;
        }
        if !self.page.push(packet) {
            return Err(AudioError::InvalidParameter("Opus packet too large"));
        }
        self.granule += u64::from(samples);
        self.page_samples += u64::from(samples);
        Ok(())
    }

    /// Audio written so far, in samples at 48 kHz (pre-skip included).
    pub fn granule(&self) -> u64 {
        self.granule
    }

    /// Writes the last page (end of stream) and returns the output.
    pub fn finish(mut self) -> Result<W, AudioError> {
        if self.page.is_empty() {
            // No packet ends on an empty page.
            self.page.write_page(&mut self.out, NO_GRANULE, EOS)?;
        } else {
            self.flush_page(EOS)?;
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn flush_page(&mut self, flags: u8) -> Result<(), AudioError> {
        if !self.page.is_empty() {
            self.page.write_page(&mut self.out, self.granule, flags)?;
            self.page_samples = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
