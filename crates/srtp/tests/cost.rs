//! Per-packet cost, for the record: run in release with
//! `cargo test -p weft-srtp --release --test cost -- --ignored --nocapture`.

use std::hint::black_box;
use std::time::Instant;

use weft_srtp::{MasterKey, Profile, SrtpSession};

/// Packets timed per profile and direction.
const PACKETS: usize = 200_000;

/// A 172-byte RTP packet: 12-byte header and 160 bytes of payload (20 ms of G.711).
fn plain_packet(sequence: u16) -> [u8; 172] {
    let mut packet = [0x33u8; 172];
    packet[..12].copy_from_slice(&[0x80, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    packet[2..4].copy_from_slice(&sequence.to_be_bytes());
    packet
}

#[test]
#[ignore = "timing report, not a check; run in release"]
fn nanoseconds_per_172_byte_rtp_packet() {
    for profile in Profile::ALL {
        let master = MasterKey::random(profile).unwrap();
        let mut sender = SrtpSession::new(&master).unwrap();
        let mut receiver = SrtpSession::new(&master).unwrap();

        let mut protected = Vec::with_capacity(PACKETS);
        let mut packet = Vec::with_capacity(200);
        let start = Instant::now();
        for number in 0..PACKETS {
            packet.clear();
            packet.extend_from_slice(&plain_packet(number as u16));
            sender.protect_rtp(&mut packet).unwrap();
            black_box(&packet);
        }
        let protect_ns = start.elapsed().as_nanos() / PACKETS as u128;

        let mut sender = SrtpSession::new(&master).unwrap();
        for number in 0..PACKETS {
            let mut packet = plain_packet(number as u16).to_vec();
            sender.protect_rtp(&mut packet).unwrap();
            protected.push(packet);
        }
        let start = Instant::now();
        for packet in &mut protected {
            black_box(receiver.unprotect_rtp(packet).unwrap());
        }
        let unprotect_ns = start.elapsed().as_nanos() / PACKETS as u128;

        println!("{profile}: protect {protect_ns} ns/packet, unprotect {unprotect_ns} ns/packet");
    }
}

#[test]
#[ignore = "timing report, not a check; run in release"]
fn nanoseconds_per_1200_byte_seal_into_a_buffer() {
    let payload = [0x5au8; 1200];
    let mut out = [0u8; 1500];
    for profile in Profile::ALL {
        let master = MasterKey::random(profile).unwrap();
        let mut sealer = SrtpSession::new(&master).unwrap();
        let mut header = [0x80, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let start = Instant::now();
        for number in 0..PACKETS {
            header[2..4].copy_from_slice(&(number as u16).to_be_bytes());
            black_box(sealer.seal_rtp(&header, &payload, &mut out).unwrap());
        }
        let seal_ns = start.elapsed().as_nanos() / PACKETS as u128;
        println!("{profile}: seal_rtp {seal_ns} ns per 1200-byte payload");
    }
}
