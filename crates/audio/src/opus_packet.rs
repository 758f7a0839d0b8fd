//! The duration of an Opus packet from its table of contents (RFC 6716 §3.1).

/// Longest Opus packet, in samples at 48 kHz (120 ms).
pub const MAX_PACKET_SAMPLES: u32 = 5_760;

/// The samples at 48 kHz that `packet` decodes to; `None` for an empty packet, a code 3 packet
/// without its frame count, or more than 120 ms.
pub fn packet_samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = usize::from(toc >> 3);
    let frame = match config {
        // SILK: 10, 20, 40, 60 ms.
        0..=11 => [480, 960, 1_920, 2_880][config % 4],
        // Hybrid: 10, 20 ms.
        12..=15 => [480, 960][config % 2],
        // CELT: 2.5, 5, 10, 20 ms.
        _ => [120, 240, 480, 960][config % 4],
    };
    let frames = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3F),
    };
    let total = frame * frames;
    (frames > 0 && total <= MAX_PACKET_SAMPLES).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_from_the_toc() {
        // Config 1 (SILK NB 20 ms), code 0.
        assert_eq!(packet_samples(&[1 << 3, 0xAA]), Some(960));
        // Config 31 (CELT FB 20 ms), code 1: two frames.
        assert_eq!(packet_samples(&[(31 << 3) | 1, 0, 0]), Some(1_920));
        // Config 16 (CELT 2.5 ms), code 3 with 48 frames: 120 ms.
        assert_eq!(packet_samples(&[(16 << 3) | 3, 48]), Some(5_760));
        // Config 3 (SILK 60 ms), code 3 with 3 frames: 180 ms, too long.
        assert_eq!(packet_samples(&[(3 << 3) | 3, 3]), None);
        // Code 3 needs its frame count; zero frames is invalid.
        assert_eq!(packet_samples(&[(31 << 3) | 3]), None);
        assert_eq!(packet_samples(&[(31 << 3) | 3, 0]), None);
        assert_eq!(packet_samples(&[]), None);
        // A DTX packet (TOC only) lasts its frame.
        assert_eq!(packet_samples(&[(15 << 3)]), Some(960));
    }
}
