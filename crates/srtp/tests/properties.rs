//! Property-style tests over seeded random packets: round trips, single-bit forgeries,
//! replays and rollover-counter wraps, for every profile.

mod common;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use weft_srtp::{MasterKey, Profile, SrtpError, SrtpSession};

use common::{random_rtcp, random_rtp};

/// A sender and a receiver under one random master key.
fn pair(profile: Profile) -> (SrtpSession, SrtpSession) {
    let master = MasterKey::random(profile).unwrap();
    (
        SrtpSession::new(&master).unwrap(),
        SrtpSession::new(&master).unwrap(),
    )
}

#[test]
fn random_rtp_packets_round_trip() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0001);
    for profile in Profile::ALL {
        let (mut sender, mut receiver) = pair(profile);
        let mut sequence: u16 = rng.r#gen();
        for _ in 0..300 {
            let ssrc = rng.gen_range(1..=4);
            sequence = sequence.wrapping_add(1);
            let (plain, header_len) = random_rtp(&mut rng, ssrc, sequence);

            let mut packet = Vec::with_capacity(plain.len() + profile.rtp_auth_tag_len());
            packet.extend_from_slice(&plain);
            let capacity = packet.capacity();
            sender.protect_rtp(&mut packet).unwrap();
            assert_eq!(packet.capacity(), capacity, "the spare capacity is reused");
            assert_eq!(packet.len(), plain.len() + profile.rtp_auth_tag_len());
            assert_eq!(
                packet[..header_len],
                plain[..header_len],
                "header, CSRCs and extension stay in clear"
            );
            if plain.len() - header_len >= 8 {
                assert_ne!(
                    packet[header_len..plain.len()],
                    plain[header_len..],
                    "payload and padding are encrypted"
                );
            }

            let len = receiver.unprotect_rtp(&mut packet).unwrap();
            assert_eq!(packet[..len], plain[..]);
        }
    }
}

#[test]
fn random_rtcp_packets_round_trip() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0002);
    for profile in Profile::ALL {
        let (mut sender, mut receiver) = pair(profile);
        for _ in 0..200 {
            let ssrc = rng.gen_range(1..=4);
            let plain = random_rtcp(&mut rng, ssrc);
            let mut packet = plain.clone();
            sender.protect_rtcp(&mut packet).unwrap();
            assert_eq!(packet.len(), plain.len() + profile.rtcp_overhead());
            assert_eq!(packet[..8], plain[..8], "the first header stays in clear");
            let len = receiver.unprotect_rtcp(&mut packet).unwrap();
            assert_eq!(packet[..len], plain[..]);
        }
    }
}

#[test]
fn every_single_bit_flip_is_refused_and_moves_no_state() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0003);
    for profile in Profile::ALL {
        let (mut sender, mut receiver) = pair(profile);
        for sequence in 1..=4 {
            let (plain, _) = random_rtp(&mut rng, 0xfeed, sequence);
            let mut protected = plain.clone();
            sender.protect_rtp(&mut protected).unwrap();
            for bit in 0..protected.len() * 8 {
                let mut forged = protected.clone();
                forged[bit / 8] ^= 1 << (bit % 8);
                assert!(
                    receiver.unprotect_rtp(&mut forged).is_err(),
                    "{profile}: RTP bit {bit} flipped was accepted"
                );
            }
            let len = receiver.unprotect_rtp(&mut protected).unwrap();
            assert_eq!(protected[..len], plain[..]);

            let plain = random_rtcp(&mut rng, 0xfeed);
            let mut protected = plain.clone();
            sender.protect_rtcp(&mut protected).unwrap();
            for bit in 0..protected.len() * 8 {
                let mut forged = protected.clone();
                forged[bit / 8] ^= 1 << (bit % 8);
                assert!(
                    receiver.unprotect_rtcp(&mut forged).is_err(),
                    "{profile}: RTCP bit {bit} flipped was accepted"
                );
            }
            let len = receiver.unprotect_rtcp(&mut protected).unwrap();
            assert_eq!(protected[..len], plain[..]);
        }
    }
}

#[test]
fn payload_bit_flips_fail_authentication() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0004);
    for profile in Profile::ALL {
        let (mut sender, mut receiver) = pair(profile);
        let (plain, header_len) = random_rtp(&mut rng, 7, 100);
        let mut protected = plain.clone();
        sender.protect_rtp(&mut protected).unwrap();
        for bit in header_len * 8..protected.len() * 8 {
            let mut forged = protected.clone();
            forged[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                receiver.unprotect_rtp(&mut forged),
                Err(SrtpError::AuthenticationFailed),
                "{profile}: bit {bit}"
            );
        }
    }
}

#[test]
fn replays_are_refused_and_old_packets_fall_out_of_the_window() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0005);
    for profile in Profile::ALL {
        let (mut sender, mut receiver) = pair(profile);
        let mut sent = Vec::new();
        for sequence in 65_500..65_500 + 100u32 {
            let (plain, _) = random_rtp(&mut rng, 42, sequence as u16);
            let mut packet = plain;
            sender.protect_rtp(&mut packet).unwrap();
            sent.push(packet);
        }
        // Deliver all but every fifth packet, each pair swapped.
        for pair in (0..sent.len()).collect::<Vec<_>>().chunks(2) {
            for &number in pair.iter().rev() {
                if number % 5 != 0 {
                    receiver.unprotect_rtp(&mut sent[number].clone()).unwrap();
                }
            }
        }
        for (number, packet) in sent.iter().enumerate() {
            let result = receiver.unprotect_rtp(&mut packet.clone());
            let behind = sent.len() - 1 - number;
            if behind >= 64 {
                assert_eq!(result, Err(SrtpError::TooOld), "{profile}: packet {number}");
            } else if number % 5 != 0 {
                assert_eq!(
                    result,
                    Err(SrtpError::Replayed),
                    "{profile}: packet {number}"
                );
            } else {
                assert!(
                    result.is_ok(),
                    "{profile}: late packet {number} within the window"
                );
            }
        }
    }
}

#[test]
fn sequence_numbers_wrap_past_65535_with_reordering_and_loss() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0006);
    for profile in Profile::ALL {
        let (mut sender, mut receiver) = pair(profile);
        let mut sequence: u16 = 65_000;
        let mut in_flight: Option<Vec<u8>> = None;
        let mut plain_of_held = Vec::new();
        // Steps below 64 keep a packet that arrives one late inside the replay window.
        for _ in 0..8_000 {
            sequence = sequence.wrapping_add(rng.gen_range(1..=63));
            let (plain, _) = random_rtp(&mut rng, 3, sequence);
            let mut packet = plain.clone();
            sender.protect_rtp(&mut packet).unwrap();
            if in_flight.is_none() && rng.gen_bool(0.05) {
                continue; // lost
            }
            if in_flight.is_none() && rng.gen_bool(0.2) {
                in_flight = Some(packet); // delivered after the next one
                plain_of_held = plain;
                continue;
            }
            let len = receiver.unprotect_rtp(&mut packet).unwrap();
            assert_eq!(packet[..len], plain[..]);
            if let Some(mut late) = in_flight.take() {
                let len = receiver.unprotect_rtp(&mut late).unwrap();
                assert_eq!(late[..len], plain_of_held[..]);
            }
        }
        let roc = sender.rollover_counter(3).unwrap();
        assert!(roc >= 3, "{profile}: only {roc} wraps");
        assert_eq!(receiver.rollover_counter(3), Some(roc));
    }
}

#[test]
fn a_contiguous_stream_wraps_many_times() {
    for profile in Profile::ALL {
        let (mut sender, mut receiver) = pair(profile);
        let plain_of = |sequence: u16| {
            let mut packet = vec![0x80, 0x00];
            packet.extend_from_slice(&sequence.to_be_bytes());
            packet.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9]);
            packet.extend_from_slice(&sequence.to_le_bytes());
            packet
        };
        for step in 0..3 * 65_536u32 + 10 {
            let sequence = (65_530 + step) as u16;
            let plain = plain_of(sequence);
            let mut packet = plain.clone();
            sender.protect_rtp(&mut packet).unwrap();
            let len = receiver.unprotect_rtp(&mut packet).unwrap();
            assert_eq!(packet[..len], plain[..]);
        }
        assert_eq!(receiver.rollover_counter(9), Some(4));
    }
}
