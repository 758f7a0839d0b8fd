//! Interoperability with an independent implementation: rtc-srtp 0.21.1 (the SRTP of the
//! webrtc-rs stack the workspace pins), on its ring/RustCrypto provider so that not even the
//! primitives are shared with ours. It supports all four profiles.

mod common;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rtc::crypto::RTCCryptoProvider;
use rtc::crypto::providers::RingProvider;
use rtc::srtp::context::Context;
use rtc::srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use rtc::srtp::protection_profile::ProtectionProfile;
use weft_srtp::{MasterKey, Profile, SrtpSession};

use common::{random_rtcp, random_rtp};

fn their_profile(profile: Profile) -> ProtectionProfile {
    match profile {
        Profile::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        Profile::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        Profile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        Profile::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
    }
}

/// An rtc-srtp context (one direction, replay protection on) keyed like `master`.
fn their_context(master: &MasterKey) -> Context {
    Context::new(
        master.key(),
        master.salt(),
        their_profile(master.profile()),
        Some(srtp_replay_protection(64)),
        Some(srtcp_replay_protection(64)),
        RingProvider::new().crypto(),
    )
    .unwrap()
}

#[test]
fn rtp_we_protect_they_unprotect_and_the_bytes_match_theirs() {
    let mut rng = StdRng::seed_from_u64(0x1e70_0001);
    for profile in Profile::ALL {
        let master = MasterKey::random(profile).unwrap();
        let mut ours = SrtpSession::new(&master).unwrap();
        let mut their_sender = their_context(&master);
        let mut their_receiver = their_context(&master);
        // Start near the end of the sequence space so that the stream wraps (ROC 0 -> 1).
        for step in 0..200u16 {
            let sequence = 65_436u16.wrapping_add(step);
            let (plain, _) = random_rtp(&mut rng, 0x0bad_cafe, sequence);
            let mut packet = plain.clone();
            ours.protect_rtp(&mut packet).unwrap();

            let theirs = their_sender.encrypt_rtp(&plain).unwrap();
            assert_eq!(packet, theirs[..], "{profile}: sequence {sequence}");

            let decrypted = their_receiver.decrypt_rtp(&packet).unwrap();
            assert_eq!(decrypted[..], plain[..], "{profile}: sequence {sequence}");
        }
        assert_eq!(ours.rollover_counter(0x0bad_cafe), Some(1));
    }
}

#[test]
fn rtp_we_seal_into_a_buffer_they_unprotect() {
    let mut rng = StdRng::seed_from_u64(0x1e70_0004);
    for profile in Profile::ALL {
        let master = MasterKey::random(profile).unwrap();
        let mut ours = SrtpSession::new(&master).unwrap();
        let mut theirs = their_context(&master);
        let mut out = [0u8; 1500];
        for step in 0..200u16 {
            let sequence = 65_436u16.wrapping_add(step);
            let (plain, header_len) = random_rtp(&mut rng, 0x5ea1_ed00, sequence);
            let (header, payload) = plain.split_at(header_len);
            let len = ours.seal_rtp(header, payload, &mut out).unwrap();
            let decrypted = theirs.decrypt_rtp(&out[..len]).unwrap();
            assert_eq!(decrypted[..], plain[..], "{profile}: sequence {sequence}");
        }
        assert_eq!(ours.rollover_counter(0x5ea1_ed00), Some(1));
    }
}

#[test]
fn rtp_they_protect_we_unprotect() {
    let mut rng = StdRng::seed_from_u64(0x1e70_0002);
    for profile in Profile::ALL {
        let master = MasterKey::random(profile).unwrap();
        let mut theirs = their_context(&master);
        let mut ours = SrtpSession::new(&master).unwrap();
        for step in 0..200u16 {
            let sequence = 65_500u16.wrapping_add(step);
            let ssrc = rng.gen_range(1..=3);
            let (plain, _) = random_rtp(&mut rng, ssrc, sequence);
            let mut packet = theirs.encrypt_rtp(&plain).unwrap().to_vec();
            let len = ours.unprotect_rtp(&mut packet).unwrap();
            assert_eq!(packet[..len], plain[..], "{profile}: sequence {sequence}");
        }
    }
}

#[test]
fn rtcp_both_ways() {
    let mut rng = StdRng::seed_from_u64(0x1e70_0003);
    for profile in Profile::ALL {
        let master = MasterKey::random(profile).unwrap();
        let mut ours_out = SrtpSession::new(&master).unwrap();
        let mut ours_in = SrtpSession::new(&master).unwrap();
        let mut theirs_out = their_context(&master);
        let mut theirs_in = their_context(&master);
        for _ in 0..50 {
            let ssrc = rng.gen_range(1..=3);
            let plain = random_rtcp(&mut rng, ssrc);

            let mut packet = plain.clone();
            ours_out.protect_rtcp(&mut packet).unwrap();
            let decrypted = theirs_in.decrypt_rtcp(&packet).unwrap();
            assert_eq!(decrypted[..], plain[..], "{profile}: ours to theirs");

            let mut packet = theirs_out.encrypt_rtcp(&plain).unwrap().to_vec();
            let len = ours_in.unprotect_rtcp(&mut packet).unwrap();
            assert_eq!(packet[..len], plain[..], "{profile}: theirs to ours");
        }
    }
}
