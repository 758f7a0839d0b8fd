//! Random RTP and RTCP packets for the property and interop tests.

use rand::Rng;

/// A plain RTP packet with random marker, payload type, timestamp, CSRCs, one-byte header
/// extension elements (RFC 8285, padded to a word), payload and RTP padding.
///
/// Returns the packet and the length of its header (what SRTP leaves in clear).
pub fn random_rtp(rng: &mut impl Rng, ssrc: u32, sequence: u16) -> (Vec<u8>, usize) {
    let csrc_count = if rng.gen_bool(0.3) {
        rng.gen_range(1..=15)
    } else {
        0
    };
    let has_extension = rng.gen_bool(0.5);
    let padding = rng.gen_bool(0.3).then(|| rng.gen_range(1..=16u8));

    let mut first = 0x80 | csrc_count;
    if has_extension {
        first |= 0x10;
    }
    if padding.is_some() {
        first |= 0x20;
    }
    let mut packet = vec![first, rng.r#gen::<u8>()];
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(&rng.r#gen::<u32>().to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    for _ in 0..csrc_count {
        packet.extend_from_slice(&rng.r#gen::<u32>().to_be_bytes());
    }
    if has_extension {
        let mut elements = Vec::new();
        for _ in 0..rng.gen_range(1..=4) {
            let len = rng.gen_range(1..=4u8);
            elements.push((rng.gen_range(1..=14u8) << 4) | (len - 1));
            elements.extend((0..len).map(|_| rng.r#gen::<u8>()));
        }
        while elements.len() % 4 != 0 {
            elements.push(0);
        }
        packet.extend_from_slice(&[0xbe, 0xde]);
        packet.extend_from_slice(&((elements.len() / 4) as u16).to_be_bytes());
        packet.extend_from_slice(&elements);
    }
    let header_len = packet.len();
    let payload_len = rng.gen_range(0..=300);
    packet.extend((0..payload_len).map(|_| rng.r#gen::<u8>()));
    if let Some(padding) = padding {
        packet.extend(std::iter::repeat_n(0, usize::from(padding) - 1));
        packet.push(padding);
    }
    (packet, header_len)
}

/// A plain receiver report from `ssrc` with a random body of whole words.
pub fn random_rtcp(rng: &mut impl Rng, ssrc: u32) -> Vec<u8> {
    let words = rng.gen_range(0..=40usize);
    let mut packet = vec![0x80, 201];
    packet.extend_from_slice(&((words + 1) as u16).to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend((0..words * 4).map(|_| rng.r#gen::<u8>()));
    packet
}
