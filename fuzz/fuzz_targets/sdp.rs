//! Arbitrary bytes as the SDP of a SIP call leg (UTF-8 only, as the core reads bodies): parsed,
//! negotiated as an offer under every encryption policy and answered, and read as a phone's
//! answer to Weft's plain and SRTP offers. Nothing may panic.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use weft_sip::sdp::{
    self, Codec, CryptoSuite, Direction, Encryption, LegPolicy, LocalCrypto, LocalMedia, OfferSpec,
};

/// The engine's address in Weft's SDP.
const ENGINE: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Weft's SDES keys (`inline:` and base64 of the suite's key-and-salt length).
const KEY_AES_CM: &str = "inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e";
const KEY_GCM: &str = "inline:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHA==";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    as_offer(text);
    as_answer(text);
});

/// The SDP as a peer's offer.
fn as_offer(text: &str) {
    let Ok(offer) = sdp::parse(text) else {
        return;
    };
    std::hint::black_box(sdp::is_hold(&offer));
    let all = vec![Codec::Opus, Codec::Pcmu, Codec::Pcma];
    let policies = [
        (all.clone(), Encryption::Required),
        (all.clone(), Encryption::Optional),
        (all, Encryption::Forbidden),
        (vec![Codec::Pcma], Encryption::Optional),
    ];
    for (codecs, encryption) in policies {
        let Ok(answer) = sdp::negotiate_answer(&offer, &LegPolicy { codecs, encryption }) else {
            continue;
        };
        let key = answer.audio.crypto.as_ref().map(|c| match c.suite {
            CryptoSuite::AeadAes128Gcm => KEY_GCM.to_owned(),
            _ => KEY_AES_CM.to_owned(),
        });
        let local = LocalMedia {
            address: ENGINE,
            rtp_port: 40000,
            session_id: 7,
            session_version: 2,
            srtp_key_params: key,
        };
        std::hint::black_box(sdp::build_answer(&answer, local).ok());
    }
}

/// The SDP as a phone's answer to Weft's offers: plain RTP, and SRTP with rtcp-mux.
fn as_answer(text: &str) {
    let plain = OfferSpec {
        address: ENGINE,
        rtp_port: 40000,
        session_id: 7,
        session_version: 1,
        codecs: vec![Codec::Opus, Codec::Pcmu, Codec::Pcma],
        encryption: Encryption::Forbidden,
        crypto: Vec::new(),
        direction: Direction::SendRecv,
        rtcp_mux: false,
    };
    let srtp = OfferSpec {
        encryption: Encryption::Optional,
        crypto: vec![
            LocalCrypto {
                tag: 1,
                suite: CryptoSuite::AesCm128HmacSha1_80,
                key_params: KEY_AES_CM.into(),
            },
            LocalCrypto {
                tag: 2,
                suite: CryptoSuite::AeadAes128Gcm,
                key_params: KEY_GCM.into(),
            },
        ],
        rtcp_mux: true,
        ..plain.clone()
    };
    for offer in [plain, srtp] {
        std::hint::black_box(sdp::parse_answer(text, &offer).ok());
    }
}
