//! Acceptance 7: garbage shaped like STUN, DTLS, RTP and RTCP crashes nothing and the room keeps
//! forwarding.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::{Harness, SETTLE};
use weft_media::testkit::{PeerSpec, TestPeer, wait_until};

const DATAGRAMS: usize = 100_000;

/// Deterministic xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, out: &mut Vec<u8>, n: usize) {
        out.extend((0..n).map(|_| self.next() as u8));
    }
}

/// One garbage datagram of a random shape, possibly truncated.
fn garbage(rng: &mut Rng, ufrag: &str) -> Vec<u8> {
    let mut d = Vec::new();
    match rng.below(5) {
        0 => {
            // STUN binding request, random attributes, sometimes our USERNAME.
            d.extend_from_slice(&[0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]);
            rng.bytes(&mut d, 12);
            if rng.below(2) == 0 {
                let name = format!("{ufrag}:x{}", rng.below(100));
                d.extend_from_slice(&[0x00, 0x06, 0x00, name.len() as u8]);
                d.extend_from_slice(name.as_bytes());
                while d.len() % 4 != 0 {
                    d.push(0);
                }
            }
            let n = rng.below(120);
            rng.bytes(&mut d, n);
            let len = (d.len() - 20) as u16;
            d[2..4].copy_from_slice(&len.to_be_bytes());
        }
        1 => {
            // DTLS record: content type 20..=25, DTLS 1.2 version, random body.
            d.push(20 + rng.below(6) as u8);
            d.extend_from_slice(&[0xfe, 0xfd]);
            let n = 10 + rng.below(300);
            rng.bytes(&mut d, n);
        }
        2 => {
            // RTP: version 2, random everything else.
            d.push(0x80 | (rng.next() as u8 & 0x3f));
            d.push(rng.next() as u8 & 0x7f);
            let n = 10 + rng.below(1200);
            rng.bytes(&mut d, n);
        }
        3 => {
            // RTCP: version 2, PT 200..=206.
            d.push(0x80 | (rng.next() as u8 & 0x1f));
            d.push(200 + rng.below(7) as u8);
            let n = 2 + rng.below(200);
            rng.bytes(&mut d, n);
        }
        _ => {
            let n = rng.below(1500);
            rng.bytes(&mut d, n);
        }
    }
    if rng.below(3) == 0 && !d.is_empty() {
        let keep = rng.below(d.len());
        d.truncate(keep);
    }
    d
}

fn ufrag_of(sdp: &str) -> String {
    sdp.lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn received_from_others(p: &TestPeer) -> u64 {
    p.received(false)
        .iter()
        .chain(p.received(true).iter())
        .map(|s| s.packets)
        .sum()
}

#[test]
fn hundred_thousand_garbage_datagrams_crash_nothing_and_forwarding_goes_on() {
    let h = Harness::new(1);
    let (target, answer) = h.join_with_answer(PeerSpec::multi(1, 1));
    let others = [h.join(PeerSpec::multi(2, 1)), h.join(PeerSpec::multi(3, 1))];
    let ufrag = ufrag_of(&answer);
    assert!(!ufrag.is_empty());
    assert!(wait_until(SETTLE, || others
        .iter()
        .all(|p| received_from_others(p) > 50)));

    let shard = h.engine.local_addrs()[0];
    let stranger = UdpSocket::bind("127.0.0.1:0").expect("socket");
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for i in 0..DATAGRAMS {
        let d = garbage(&mut rng, &ufrag);
        if i % 5 < 2 {
            // From a member's own address: reaches that member's str0m instance.
            target.send_raw(d);
        } else {
            stranger.send_to(&d, shard).expect("send");
        }
        if i % 500 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    let before: Vec<u64> = others.iter().map(received_from_others).collect();
    assert!(wait_until(SETTLE, || {
        others
            .iter()
            .zip(&before)
            .all(|(p, b)| received_from_others(p) > b + 100)
    }));
    assert!(target.is_connected() && !target.is_closed());
    let target_before = received_from_others(&target);
    assert!(wait_until(SETTLE, || received_from_others(&target)
        > target_before + 100));

    let counters =
        h.rt.block_on(h.engine.shard_counters())
            .expect("shard answers");
    assert_eq!(counters[0].panics, 0);
    assert_eq!(counters[0].peers, 3);
    assert!(
        counters[0].datagrams_in > 50_000,
        "garbage reached the shard: {counters:?}"
    );
}
