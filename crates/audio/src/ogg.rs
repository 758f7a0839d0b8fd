//! Ogg pages (RFC 3533): the page CRC, a page writer, and a tolerant page reader (for the end
//! of an Opus stream, and for checking recordings).

use std::io::{self, Write};

/// The capture pattern that starts every page.
const CAPTURE: &[u8; 4] = b"OggS";
/// Bytes of a page header before its segment table.
const HEADER_LEN: usize = 27;
/// Most lacing values (segments) in one page.
pub(crate) const MAX_SEGMENTS: usize = 255;
/// Page flag: first page of a logical stream.
pub(crate) const BOS: u8 = 0x02;
/// Page flag: last page of a logical stream.
pub(crate) const EOS: u8 = 0x04;
/// The granule position of a page on which no packet ends.
pub(crate) const NO_GRANULE: u64 = u64::MAX;

/// The CRC-32 of Ogg: polynomial 0x04C11DB7, not reflected, initial value 0, no final XOR.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    crc32_update(0, bytes)
}

fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        crc = (crc << 8) ^ CRC_TABLE[((crc >> 24) as u8 ^ b) as usize];
    }
    crc
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04C1_1DB7
            } else {
                r << 1
            };
            bit += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
};

/// Lacing values for a packet of `len` bytes (the last one below 255 ends the packet).
fn lacing_len(len: usize) -> usize {
    len / 255 + 1
}

/// Collects whole packets into one page of one logical stream and writes it out.
#[derive(Debug)]
pub(crate) struct PageWriter {
    serial: u32,
    sequence: u32,
    header: [u8; HEADER_LEN + MAX_SEGMENTS],
    segments: usize,
    body: Vec<u8>,
}

impl PageWriter {
    /// A writer for the stream `serial`, its pages numbered from 0.
    pub(crate) fn new(serial: u32) -> Self {
        Self {
            serial,
            sequence: 0,
            header: [0; HEADER_LEN + MAX_SEGMENTS],
            segments: 0,
            // The largest page body: 255 segments of 255 bytes.
            body: Vec::with_capacity(MAX_SEGMENTS * 255),
        }
    }

    /// Whether a packet of `len` bytes fits in the page being built.
    pub(crate) fn fits(&self, len: usize) -> bool {
        self.segments + lacing_len(len) <= MAX_SEGMENTS
    }

    /// Whether the page being built holds no packet.
    pub(crate) fn is_empty(&self) -> bool {
        self.segments == 0
    }

    /// Adds a packet to the page being built; `false` (and nothing added) when it does not fit.
    pub(crate) fn push(&mut self, packet: &[u8]) -> bool {
        if !self.fits(packet.len()) {
            return false;
        }
        let full = packet.len() / 255;
        let table = &mut self.header[HEADER_LEN + self.segments..];
        table[..full].fill(255);
        table[full] = (packet.len() % 255) as u8;
        self.segments += full + 1;
        self.body.extend_from_slice(packet);
        true
    }

    /// Writes the page being built with `granule` and `flags`, and starts an empty one.
    pub(crate) fn write_page(
        &mut self,
        out: &mut impl Write,
        granule: u64,
        flags: u8,
    ) -> io::Result<()> {
        let h = &mut self.header;
        h[..4].copy_from_slice(CAPTURE);
        h[4] = 0;
        h[5] = flags;
        h[6..14].copy_from_slice(&granule.to_le_bytes());
        h[14..18].copy_from_slice(&self.serial.to_le_bytes());
        h[18..22].copy_from_slice(&self.sequence.to_le_bytes());
        h[22..26].fill(0);
        h[26] = self.segments as u8;
        let header = &h[..HEADER_LEN + self.segments];
        let crc = crc32_update(crc32(header), &self.body);
        h[22..26].copy_from_slice(&crc.to_le_bytes());
        out.write_all(&h[..HEADER_LEN + self.segments])?;
        out.write_all(&self.body)?;
        self.sequence = self.sequence.wrapping_add(1);
        self.segments = 0;
        self.body.clear();
        Ok(())
    }
}

/// One page as read back.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// Header flags: 0x01 continued packet, 0x02 first page, 0x04 last page.
    pub flags: u8,
    /// The granule position (`u64::MAX` when no packet ends on the page).
    pub granule: u64,
    /// The logical stream's serial number.
    pub serial: u32,
    /// The page's sequence number within its stream.
    pub sequence: u32,
    /// Whether the stored CRC matches the page ([`pages`] yields only such pages).
    pub crc_ok: bool,
    /// The segment table.
    pub lacing: &'a [u8],
    /// The page's packet data.
    pub body: &'a [u8],
}

impl<'a> Page<'a> {
    /// The page at the start of `bytes`, and its length; `None` if there is no whole page there.
    fn parse(bytes: &'a [u8]) -> Option<(Self, usize)> {
        let header = bytes.get(..HEADER_LEN)?;
        if &header[..4] != CAPTURE || header[4] != 0 {
            return None;
        }
        let segments = usize::from(header[26]);
        let lacing = bytes.get(HEADER_LEN..HEADER_LEN + segments)?;
        let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let len = HEADER_LEN + segments + body_len;
        let whole = bytes.get(..len)?;
        let stored = u32::from_le_bytes([header[22], header[23], header[24], header[25]]);
        let crc = crc32_update(crc32_update(crc32(&whole[..22]), &[0; 4]), &whole[26..]);
        let page = Self {
            flags: header[5],
            granule: u64::from_le_bytes(header[6..14].try_into().ok()?),
            serial: u32::from_le_bytes(header[14..18].try_into().ok()?),
            sequence: u32::from_le_bytes(header[18..22].try_into().ok()?),
            crc_ok: crc == stored,
            lacing,
            body: &whole[HEADER_LEN + segments..],
        };
        Some((page, len))
    }
}

/// The pages of `bytes` whose CRC verifies, in order; damaged stretches are skipped by searching
/// for the next capture pattern.
pub fn pages(bytes: &[u8]) -> impl Iterator<Item = Page<'_>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() {
            match Page::parse(&bytes[at..]) {
                Some((page, len)) if page.crc_ok => {
                    at += len;
                    return Some(page);
                }
                _ => {
                    let next = bytes[at + 1..]
                        .windows(4)
                        .position(|w| w == CAPTURE)
                        .map_or(bytes.len(), |p| at + 1 + p);
                    at = next;
                }
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_known_input() {
        // CRC-32/POSIX (cksum) without its final XOR: check value 0x765E7680 ^ 0xFFFFFFFF.
        assert_eq!(crc32(b"123456789"), 0x89A1_897F);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn pages_written_read_back_with_valid_crcs() {
        let mut w = PageWriter::new(0x1234_5678);
        let mut out = Vec::new();
        assert!(w.push(b"first"));
        assert!(w.push(&[7u8; 600]));
        w.write_page(&mut out, 42, BOS).unwrap();
        assert!(w.is_empty());
        assert!(w.push(&[]));
        w.write_page(&mut out, 43, EOS).unwrap();
        let read: Vec<Page<'_>> = pages(&out).collect();
        assert_eq!(read.len(), 2);
        assert!(read.iter().all(|p| p.crc_ok && p.serial == 0x1234_5678));
        assert_eq!(
            (read[0].flags, read[0].granule, read[0].sequence),
            (BOS, 42, 0)
        );
        assert_eq!(read[0].lacing, &[5, 255, 255, 90]);
        assert_eq!(read[0].body.len(), 605);
        assert_eq!(
            (read[1].flags, read[1].granule, read[1].sequence),
            (EOS, 43, 1)
        );
        assert_eq!(read[1].lacing, &[0]);
    }

    #[test]
    fn a_page_takes_at_most_255_segments() {
        let mut w = PageWriter::new(1);
        assert!(w.push(&vec![0u8; 254 * 255]));
        assert!(!w.fits(0));
        assert!(!w.push(b"x"));
        assert!(PageWriter::new(1).fits(255 * 255 - 1));
        assert!(!PageWriter::new(1).fits(255 * 255));
    }

    #[test]
    fn damaged_pages_are_skipped() {
        let mut w = PageWriter::new(9);
        let mut out = Vec::new();
        for g in 0..3 {
            w.push(b"packet");
            w.write_page(&mut out, g, 0).unwrap();
        }
        let page_len = out.len() / 3;
        out[page_len + 30] ^= 0xFF;
        let granules: Vec<u64> = pages(&out).map(|p| p.granule).collect();
        assert_eq!(granules, vec![0, 2]);
        let mut noisy = b"junk OggS junk".to_vec();
        noisy.extend_from_slice(&out);
        assert_eq!(pages(&noisy).count(), 2);
    }
}
