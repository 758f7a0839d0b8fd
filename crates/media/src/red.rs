//! RFC 2198 redundant audio (RED, `red/48000/2` for Opus): finding the primary block of a RED
//! payload without allocating, and building one (for test publishers). str0m 0.25 negotiates RED
//! as a second payload type of the Opus codec and, in RTP mode, hands RED packets over as they
//! came; the engine forwards them to subscribers that negotiated RED and the primary to the rest.

use std::ops::Range;

/// Redundant block headers are 4 bytes with the F bit set; the primary's is 1 byte without.
const F_BIT: u8 = 0x80;

/// Redundant blocks accepted in one payload (browsers send one).
const MAX_REDUNDANT: usize = 32;

/// Where the primary block of a RED payload lies and its payload type; `None` if malformed.
pub fn primary(payload: &[u8]) -> Option<(u8, Range<usize>)> {
    let mut header = 0;
    let mut redundant_len = 0usize;
    for _ in 0..=MAX_REDUNDANT {
        let first = *payload.get(header)?;
        if first & F_BIT == 0 {
            let start = header + 1 + redundant_len;
            return (start <= payload.len()).then_some((first & 0x7f, start..payload.len()));
        }
        let block = payload.get(header + 2..header + 4)?;
        redundant_len += (usize::from(block[0] & 0x03) << 8) | usize::from(block[1]);
        header += 4;
    }
    None
}

/// A RED payload: one redundant block (`previous`, `ts_offset` earlier) and the primary, both of
/// payload type `pt`.
pub fn encode(pt: u8, primary: &[u8], previous: Option<(&[u8], u16)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(primary.len() + previous.map_or(0, |p| p.0.len()) + 5);
    if let Some((block, ts_offset)) = previous.filter(|p| p.0.len() < 1024 && p.1 < 0x4000) {
        let len = block.len() as u16;
        out.push(F_BIT | (pt & 0x7f));
        out.push((ts_offset >> 6) as u8);
        out.push((((ts_offset & 0x3f) << 2) as u8) | (len >> 8) as u8);
        out.push(len as u8);
        out.push(pt & 0x7f);
        out.extend_from_slice(block);
    } else {
        out.push(pt & 0x7f);
    }
    out.extend_from_slice(primary);
    out
}

/// Rewrites the payload type of every block (a subscriber numbering the primary codec
/// differently); `None` if malformed.
pub fn with_block_pt(payload: &[u8], pt: u8) -> Option<Vec<u8>> {
    primary(payload)?;
    let mut out = payload.to_vec();
    let mut header = 0;
    while let Some(first) = out.get_mut(header) {
        *first = (*first & F_BIT) | (pt & 0x7f);
        if *first & F_BIT == 0 {
            break;
        }
        header += 4;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_primary_behind_redundant_blocks() {
        let red = encode(111, b"now", Some((b"before", 960)));
        let (pt, range) = primary(&red).unwrap();
        assert_eq!((pt, &red[range]), (111, &b"now"[..]));
        let decoded = str0m::rtp::RedDecoder::decode(&red).unwrap();
        assert_eq!(decoded.len(), 2);
        assert_eq!(
            (decoded[0].payload, decoded[0].timestamp_offset),
            (&b"before"[..], 960)
        );
        assert_eq!(decoded[1].payload, b"now");

        let plain = encode(111, b"only", None);
        assert_eq!(&plain[primary(&plain).unwrap().1], b"only");
    }

    #[test]
    fn rejects_truncated_and_endless_headers() {
        let red = encode(111, b"now", Some((b"before", 960)));
        assert_eq!(primary(&red[..3]), None);
        assert_eq!(primary(&red[..7]), None);
        assert_eq!(primary(&[]), None);
        assert_eq!(primary(&[0xff; 400]), None);
    }

    #[test]
    fn block_payload_types_are_rewritten() {
        let red = encode(111, b"now", Some((b"before", 960)));
        let out = with_block_pt(&red, 109).unwrap();
        let decoded = str0m::rtp::RedDecoder::decode(&out).unwrap();
        assert!(decoded.iter().all(|b| b.pt == 109));
        assert_eq!(decoded[1].payload, b"now");
    }
}
