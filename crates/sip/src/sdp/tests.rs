//! Tests of the SDP module against offers shaped like those real SIP peers send.

use std::net::{IpAddr, SocketAddr};

use super::*;

const BARESIP_PLAIN: &str = include_str!("fixtures/baresip_plain.sdp");
const BARESIP_SRTP_MAND: &str = include_str!("fixtures/baresip_srtp_mand.sdp");
const BARESIP_SRTP_BEST_EFFORT: &str = include_str!("fixtures/baresip_srtp_best_effort.sdp");
const SIPP_UAC: &str = include_str!("fixtures/sipp_uac.sdp");
const SIPP_UAC_PCAP: &str = include_str!("fixtures/sipp_uac_pcap.sdp");
const ASTERISK: &str = include_str!("fixtures/asterisk_like.sdp");
const ASTERISK_SRTP: &str = include_str!("fixtures/asterisk_like_srtp.sdp");
const FREESWITCH: &str = include_str!("fixtures/freeswitch_like.sdp");
const FREESWITCH_SRTP: &str = include_str!("fixtures/freeswitch_like_srtp.sdp");
const AUDIO_VIDEO_HOLD: &str = include_str!("fixtures/audio_video_hold.sdp");
const IPV6_TWO_AUDIO: &str = include_str!("fixtures/ipv6_two_audio.sdp");

const FIXTURES: [&str; 11] = [
    BARESIP_PLAIN,
    BARESIP_SRTP_MAND,
    BARESIP_SRTP_BEST_EFFORT,
    SIPP_UAC,
    SIPP_UAC_PCAP,
    ASTERISK,
    ASTERISK_SRTP,
    FREESWITCH,
    FREESWITCH_SRTP,
    AUDIO_VIDEO_HOLD,
    IPV6_TWO_AUDIO,
];

/// SDES key parameters with 30 bytes of AES-CM key and salt.
const KEY_30: &str = "inline:Y2hhbmdlIG1lOiBub3QgYSByZWFsIGtleSEhISEh";
/// Other 30-byte key parameters.
const KEY_30_B: &str = "inline:QW5vdGhlciB0ZXN0IGtleSwgbm90IHJlYWwhISEh";
/// SDES key parameters with 28 bytes of AES-GCM key and salt.
const KEY_28: &str = "inline:R0NNIGtleSBhbmQgc2FsdCwgdGVzdHMgb25seQ==";

fn policy(codecs: &[Codec], encryption: Encryption) -> LegPolicy {
    LegPolicy {
        codecs: codecs.to_vec(),
        encryption,
    }
}

fn all_codecs(encryption: Encryption) -> LegPolicy {
    policy(&[Codec::Opus, Codec::Pcmu, Codec::Pcma], encryption)
}

fn answer(offer: &str, policy: &LegPolicy) -> Result<AudioAnswer, NegotiationError> {
    negotiate_answer(&parse(offer).unwrap(), policy)
}

fn local(address: &str, srtp_key_params: Option<&str>) -> LocalMedia {
    LocalMedia {
        address: address.parse().unwrap(),
        rtp_port: 40000,
        session_id: 42,
        session_version: 1,
        srtp_key_params: srtp_key_params.map(str::to_owned),
    }
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn offer_spec(encryption: Encryption, crypto: Vec<LocalCrypto>) -> OfferSpec {
    OfferSpec {
        address: "192.0.2.1".parse().unwrap(),
        rtp_port: 40000,
        session_id: 7,
        session_version: 3,
        codecs: vec![Codec::Pcmu, Codec::Opus],
        encryption,
        crypto,
        direction: Direction::SendRecv,
        rtcp_mux: true,
    }
}

fn local_crypto(tag: u32, suite: CryptoSuite, key_params: &str) -> LocalCrypto {
    LocalCrypto {
        tag,
        suite,
        key_params: key_params.to_owned(),
    }
}

#[test]
fn fixtures_parse_identically_with_lf_and_crlf() {
    for fixture in FIXTURES {
        let lf = parse(fixture).unwrap();
        let crlf = parse(&fixture.replace('\n', "\r\n")).unwrap();
        assert_eq!(lf, crlf);
        assert!(!lf.media.is_empty());
        assert!(lf.origin.is_some());
    }
}

#[test]
fn baresip_plain_offer_is_answered_with_its_first_allowed_codec() {
    let result = answer(BARESIP_PLAIN, &all_codecs(Encryption::Optional)).unwrap();
    let audio = &result.audio;
    assert_eq!((audio.codec, audio.payload_type), (Codec::Opus, 96));
    assert_eq!(audio.codec_fmtp.as_deref(), Some("stereo=1;sprop-stereo=1"));
    assert_eq!(audio.telephone_event_pt, Some(101));
    assert_eq!(audio.remote_ptime, Some(20));
    assert_eq!(audio.remote_rtp, addr("127.0.0.1:20034"));
    assert_eq!(audio.remote_rtcp, addr("127.0.0.1:20035"));
    assert!(!audio.rtcp_mux);
    assert_eq!(audio.direction, Direction::SendRecv);
    assert_eq!(audio.crypto, None);
    assert_eq!(result.proto, Proto::RtpAvp);
    assert_eq!(result.media_lines, vec![AnswerMedia::Audio]);

    let text = build_answer(&result, local("192.0.2.1", None)).unwrap();
    assert_eq!(
        text,
        "v=0\r\no=weft 42 1 IN IP4 192.0.2.1\r\ns=weft\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP 96 101\r\na=rtpmap:96 opus/48000/2\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
    );

    let g711_only = answer(
        BARESIP_PLAIN,
        &policy(&[Codec::Pcma, Codec::Pcmu], Encryption::Forbidden),
    )
    .unwrap();
    assert_eq!(
        (g711_only.audio.codec, g711_only.audio.payload_type),
        (Codec::Pcmu, 0)
    );
}

#[test]
fn baresip_mandatory_srtp_offer_needs_encryption_allowed() {
    for encryption in [Encryption::Required, Encryption::Optional] {
        let result = answer(BARESIP_SRTP_MAND, &all_codecs(encryption)).unwrap();
        assert_eq!(result.proto, Proto::RtpSavp);
        let crypto = result.audio.crypto.clone().unwrap();
        assert_eq!(
            crypto,
            RemoteCrypto {
                tag: 1,
                suite: CryptoSuite::AesCm128HmacSha1_32,
                key_params: "inline:zajnFEoE+2+XcgePRwb88ezeuW1CBmikNMwx4V4q".into(),
            }
        );
        assert!(result.audio.rtcp_mux);
        assert_eq!(result.audio.remote_rtcp, result.audio.remote_rtp);

        let text = build_answer(&result, local("192.0.2.1", Some(KEY_30))).unwrap();
        assert!(text.contains("m=audio 40000 RTP/SAVP 96 101\r\n"));
        assert!(text.contains("a=rtcp-mux\r\n"));
        assert!(text.contains(&format!("a=crypto:1 AES_CM_128_HMAC_SHA1_32 {KEY_30}\r\n")));
    }
    assert_eq!(
        answer(BARESIP_SRTP_MAND, &all_codecs(Encryption::Forbidden)),
        Err(NegotiationError::EncryptionForbidden)
    );
}

#[test]
fn best_effort_srtp_offer_is_encrypted_only_when_required() {
    let required = answer(BARESIP_SRTP_BEST_EFFORT, &all_codecs(Encryption::Required)).unwrap();
    assert_eq!(required.proto, Proto::RtpAvp);
    assert_eq!(
        required.audio.crypto.as_ref().map(|c| (c.tag, c.suite)),
        Some((1, CryptoSuite::AesCm128HmacSha1_32))
    );
    let text = build_answer(&required, local("192.0.2.1", Some(KEY_30))).unwrap();
    assert!(text.contains("m=audio 40000 RTP/AVP 0 101\r\n"));
    assert!(text.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:"));

    for encryption in [Encryption::Optional, Encryption::Forbidden] {
        let plain = answer(BARESIP_SRTP_BEST_EFFORT, &all_codecs(encryption)).unwrap();
        assert_eq!(plain.audio.crypto, None);
        let text = build_answer(&plain, local("192.0.2.1", None)).unwrap();
        assert!(!text.contains("a=crypto"));
    }
}

#[test]
fn sipp_offers_negotiate_g711_and_dtmf() {
    let pcmu = answer(SIPP_UAC, &policy(&[Codec::Pcmu], Encryption::Optional)).unwrap();
    assert_eq!(
        (pcmu.audio.codec, pcmu.audio.payload_type),
        (Codec::Pcmu, 0)
    );
    assert_eq!(pcmu.audio.telephone_event_pt, None);
    assert_eq!(pcmu.audio.remote_rtp, addr("127.0.0.1:6000"));
    assert_eq!(
        answer(
            SIPP_UAC,
            &policy(&[Codec::Pcma, Codec::Opus], Encryption::Optional)
        ),
        Err(NegotiationError::NoCommonCodec)
    );
    assert_eq!(
        answer(SIPP_UAC, &all_codecs(Encryption::Required)),
        Err(NegotiationError::EncryptionRequired)
    );

    let pcma = answer(SIPP_UAC_PCAP, &all_codecs(Encryption::Forbidden)).unwrap();
    assert_eq!(
        (pcma.audio.codec, pcma.audio.payload_type),
        (Codec::Pcma, 8)
    );
    assert_eq!(pcma.audio.telephone_event_pt, Some(101));
}

#[test]
fn asterisk_like_offers() {
    let plain = answer(ASTERISK, &all_codecs(Encryption::Optional)).unwrap();
    assert_eq!(
        (plain.audio.codec, plain.audio.payload_type),
        (Codec::Opus, 107)
    );
    assert_eq!(plain.audio.codec_fmtp.as_deref(), Some("useinbandfec=1"));
    assert_eq!(plain.audio.remote_maxptime, Some(150));
    assert_eq!(plain.audio.remote_rtp, addr("203.0.113.10:12000"));

    let srtp = answer(ASTERISK_SRTP, &policy(&[Codec::Pcma], Encryption::Optional)).unwrap();
    assert_eq!(
        (srtp.audio.codec, srtp.audio.payload_type),
        (Codec::Pcma, 8)
    );
    assert_eq!(
        srtp.audio.crypto.as_ref().map(|c| (c.tag, c.suite)),
        Some((1, CryptoSuite::AesCm128HmacSha1_80))
    );
}

#[test]
fn freeswitch_like_offers() {
    let plain = answer(
        FREESWITCH,
        &policy(&[Codec::Pcma, Codec::Pcmu], Encryption::Optional),
    )
    .unwrap();
    assert_eq!(
        (plain.audio.codec, plain.audio.payload_type),
        (Codec::Pcmu, 0)
    );
    assert_eq!(plain.audio.remote_rtcp, addr("198.51.100.20:16385"));

    // Its only suite Weft knows carries an MKI, which Weft's SRTP does not do: refused (488).
    assert_eq!(
        answer(FREESWITCH_SRTP, &all_codecs(Encryption::Required)).unwrap_err(),
        NegotiationError::NoSupportedCryptoSuite
    );
    let without_mki = FREESWITCH_SRTP.replace("|2^31|1:1", "|2^31");
    let srtp = answer(&without_mki, &all_codecs(Encryption::Required)).unwrap();
    assert_eq!(
        srtp.audio.crypto,
        Some(RemoteCrypto {
            tag: 3,
            suite: CryptoSuite::AesCm128HmacSha1_80,
            key_params: "inline:EMHhfOW5rO0S54jvYNrCQh72S9T6FmT4zB6M7K2O|2^31".into(),
        })
    );
    assert_eq!(srtp.audio.remote_rtcp, addr("198.51.100.20:16391"));
}

#[test]
fn other_media_are_rejected_in_order_and_hold_is_mirrored() {
    let offer = parse(AUDIO_VIDEO_HOLD).unwrap();
    assert!(is_hold(&offer));
    let result = negotiate_answer(&offer, &all_codecs(Encryption::Optional)).unwrap();
    assert_eq!(result.audio.remote_rtp, addr("192.0.2.50:49170"));
    assert_eq!(result.audio.direction, Direction::RecvOnly);
    assert_eq!(result.audio.telephone_event_pt, None);
    assert_eq!(result.media_lines.len(), 4);
    assert_eq!(result.media_lines[1], AnswerMedia::Audio);

    let text = build_answer(&result, local("192.0.2.1", None)).unwrap();
    let m_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("m=")).collect();
    assert_eq!(
        m_lines,
        [
            "m=video 0 RTP/AVP 31",
            "m=audio 40000 RTP/AVP 0",
            "m=video 0 RTP/AVP 99",
            "m=application 0 UDP/BFCP *",
        ]
    );
    assert!(text.contains("a=recvonly\r\n"));

    let reparsed = parse(&text).unwrap();
    assert_eq!(reparsed.media.len(), offer.media.len());
}

#[test]
fn a_later_audio_stream_is_taken_when_the_first_does_not_fit() {
    let forbidden = answer(IPV6_TWO_AUDIO, &all_codecs(Encryption::Forbidden)).unwrap();
    assert_eq!(forbidden.proto, Proto::RtpAvp);
    assert_eq!(forbidden.media_lines[1], AnswerMedia::Audio);
    assert!(matches!(
        &forbidden.media_lines[0],
        AnswerMedia::Rejected { kind: MediaKind::Audio, proto: Proto::RtpSavp, formats } if formats == &["0"]
    ));
    assert_eq!(forbidden.audio.remote_rtp, addr("[2001:db8::10]:30002"));
    assert!(forbidden.audio.rtcp_mux);
    assert_eq!(forbidden.audio.remote_rtcp, forbidden.audio.remote_rtp);
    assert_eq!(forbidden.audio.direction, Direction::SendOnly);

    let text = build_answer(&forbidden, local("2001:db8::1", None)).unwrap();
    assert!(text.contains("o=weft 42 1 IN IP6 2001:db8::1\r\n"));
    assert!(text.contains("c=IN IP6 2001:db8::1\r\n"));
    assert!(text.contains("m=audio 0 RTP/SAVP 0\r\nm=audio 40000 RTP/AVP 0\r\n"));

    let required = answer(IPV6_TWO_AUDIO, &all_codecs(Encryption::Required)).unwrap();
    assert_eq!(required.media_lines[0], AnswerMedia::Audio);
    assert_eq!(required.audio.remote_rtcp, addr("[2001:db8::10]:30001"));

    assert_eq!(
        answer(
            IPV6_TWO_AUDIO,
            &policy(&[Codec::Opus], Encryption::Optional)
        ),
        Err(NegotiationError::NoCommonCodec)
    );
}

#[test]
fn old_style_and_inactive_hold() {
    let zero =
        "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\nm=audio 4000 RTP/AVP 0\n";
    assert!(is_hold(&parse(zero).unwrap()));
    assert_eq!(
        answer(zero, &all_codecs(Encryption::Optional))
            .unwrap()
            .audio
            .direction,
        Direction::RecvOnly
    );

    let inactive = "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\na=inactive\n";
    assert!(is_hold(&parse(inactive).unwrap()));
    assert_eq!(
        answer(inactive, &all_codecs(Encryption::Optional))
            .unwrap()
            .audio
            .direction,
        Direction::Inactive
    );

    let recvonly = "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\na=recvonly\n";
    assert!(!is_hold(&parse(recvonly).unwrap()));
    assert_eq!(
        answer(recvonly, &all_codecs(Encryption::Optional))
            .unwrap()
            .audio
            .direction,
        Direction::SendOnly
    );

    assert!(!is_hold(&parse(SIPP_UAC).unwrap()));
    assert!(!is_hold(&parse("v=0\nm=audio 0 RTP/AVP 0\n").unwrap()));
}

#[test]
fn unusable_offers_give_clear_errors() {
    let cases = [
        (
            "v=0\nc=IN IP4 10.0.0.1\nm=video 4000 RTP/AVP 96\n",
            NegotiationError::NoAudio,
        ),
        (
            "v=0\nc=IN IP4 10.0.0.1\nm=audio 0 RTP/AVP 0\n",
            NegotiationError::NoAudio,
        ),
        (
            "v=0\nc=IN IP4 10.0.0.1\nm=audio 9 UDP/TLS/RTP/SAVP 0\n",
            NegotiationError::UnsupportedTransport("UDP/TLS/RTP/SAVP".into()),
        ),
        (
            "v=0\nm=audio 4000 RTP/AVP 0\n",
            NegotiationError::NoConnectionAddress,
        ),
        (
            "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/SAVP 0\n\
             a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc KDR=1\n\
             a=crypto:2 AES_CM_128_HMAC_SHA1_80 uri:sip:keys.example\n\
             a=crypto:3 F8_128_HMAC_SHA1_80 inline:abc\n",
            NegotiationError::NoSupportedCryptoSuite,
        ),
        (
            "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/SAVP 0\n",
            NegotiationError::NoSupportedCryptoSuite,
        ),
        (
            "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 96\na=rtpmap:96 opus/48000/1\n",
            NegotiationError::NoCommonCodec,
        ),
    ];
    for (offer, expected) in cases {
        assert_eq!(
            answer(offer, &all_codecs(Encryption::Optional)),
            Err(expected),
            "{offer}"
        );
    }
}

#[test]
fn answer_keys_are_checked() {
    let result = answer(ASTERISK_SRTP, &all_codecs(Encryption::Required)).unwrap();
    assert_eq!(
        build_answer(&result, local("192.0.2.1", None)),
        Err(BuildError::MissingSrtpKey)
    );
    let bare = KEY_30.trim_start_matches("inline:");
    let with_lifetime = format!("{KEY_30}|2^31");
    for bad in [
        KEY_28,
        bare,
        &with_lifetime,
        "inline:not base64!",
        "",
        "inline:",
        "inline:QUJD\r\na=x",
    ] {
        assert_eq!(
            build_answer(&result, local("192.0.2.1", Some(bad))),
            Err(BuildError::InvalidSrtpKey {
                suite: "AES_CM_128_HMAC_SHA1_80",
                expected: 30
            })
        );
    }
}

#[test]
fn offers_follow_the_encryption_policy() {
    let plain = build_offer(&offer_spec(
        Encryption::Forbidden,
        vec![local_crypto(1, CryptoSuite::AesCm128HmacSha1_80, KEY_30)],
    ))
    .unwrap();
    assert_eq!(
        plain,
        "v=0\r\no=weft 7 3 IN IP4 192.0.2.1\r\ns=weft\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP 0 96 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 opus/48000/2\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n\
         a=rtcp-mux\r\n"
    );

    let crypto = vec![
        local_crypto(1, CryptoSuite::AesCm128HmacSha1_80, KEY_30),
        local_crypto(2, CryptoSuite::AeadAes128Gcm, KEY_28),
    ];
    let optional = build_offer(&offer_spec(Encryption::Optional, crypto.clone())).unwrap();
    assert!(optional.contains("m=audio 40000 RTP/AVP 0 96 101\r\n"));
    assert!(optional.contains(&format!(
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 {KEY_30}\r\n\
         a=crypto:2 AEAD_AES_128_GCM {KEY_28}\r\n"
    )));
    let required = build_offer(&offer_spec(Encryption::Required, crypto)).unwrap();
    assert!(required.contains("m=audio 40000 RTP/SAVP 0 96 101\r\n"));
    assert!(required.contains("a=crypto:2 AEAD_AES_128_GCM inline:"));

    assert_eq!(
        build_offer(&offer_spec(Encryption::Required, Vec::new())),
        Err(BuildError::NoCrypto)
    );
    assert_eq!(
        build_offer(&offer_spec(
            Encryption::Optional,
            vec![local_crypto(1, CryptoSuite::AeadAes128Gcm, KEY_30)]
        )),
        Err(BuildError::InvalidSrtpKey {
            suite: "AEAD_AES_128_GCM",
            expected: 28
        })
    );
    let mut no_codecs = offer_spec(Encryption::Forbidden, Vec::new());
    no_codecs.codecs.clear();
    assert_eq!(build_offer(&no_codecs), Err(BuildError::NoCodecs));
}

#[test]
fn our_offer_answered_by_our_own_answerer_round_trips() {
    for (encryption, peer_encryption) in [
        (Encryption::Forbidden, Encryption::Optional),
        (Encryption::Optional, Encryption::Required),
        (Encryption::Optional, Encryption::Optional),
        (Encryption::Required, Encryption::Optional),
    ] {
        let spec = offer_spec(
            encryption,
            vec![
                local_crypto(1, CryptoSuite::AeadAes128Gcm, KEY_28),
                local_crypto(2, CryptoSuite::AesCm128HmacSha1_80, KEY_30),
            ],
        );
        let offer_text = build_offer(&spec).unwrap();
        let peer = answer(&offer_text, &policy(&[Codec::Opus], peer_encryption)).unwrap();
        let peer_key = peer.audio.crypto.as_ref().map(|c| match c.suite {
            CryptoSuite::AeadAes128Gcm => KEY_28,
            _ => KEY_30_B,
        });
        let peer_local = LocalMedia {
            address: "198.51.100.7".parse().unwrap(),
            rtp_port: 50000,
            session_id: 99,
            session_version: 1,
            srtp_key_params: peer_key.map(str::to_owned),
        };
        let answer_text = build_answer(&peer, peer_local).unwrap();
        let ours = parse_answer(&answer_text, &spec).unwrap();
        assert_eq!((ours.codec, ours.payload_type), (Codec::Opus, 96));
        assert_eq!(ours.telephone_event_pt, Some(101));
        assert_eq!(ours.remote_rtp, addr("198.51.100.7:50000"));
        assert!(ours.rtcp_mux);
        assert_eq!(ours.remote_rtcp, ours.remote_rtp);
        assert_eq!(ours.direction, Direction::SendRecv);
        let encrypted = encryption == Encryption::Required
            || (encryption == Encryption::Optional && peer_encryption == Encryption::Required);
        assert_eq!(
            ours.crypto.map(|c| (c.tag, c.suite, c.key_params)),
            encrypted.then(|| (1, CryptoSuite::AeadAes128Gcm, KEY_28.to_owned())),
            "{encryption:?} answered under {peer_encryption:?}"
        );
    }
}

fn peer_answer(m_line: &str, extra: &str) -> String {
    format!(
        "v=0\r\no=phone 1 1 IN IP4 192.0.2.77\r\ns=-\r\nc=IN IP4 192.0.2.77\r\nt=0 0\r\n{m_line}\r\n\
         a=rtpmap:0 PCMU/8000\r\na=rtpmap:9 G722/8000\r\na=rtpmap:111 opus/48000/2\r\n\
         a=rtpmap:101 telephone-event/8000\r\n{extra}"
    )
}

#[test]
fn peer_answers_are_checked_against_our_offer() {
    let plain = offer_spec(Encryption::Forbidden, Vec::new());
    let optional = offer_spec(
        Encryption::Optional,
        vec![local_crypto(5, CryptoSuite::AesCm128HmacSha1_80, KEY_30)],
    );
    let required = offer_spec(
        Encryption::Required,
        vec![local_crypto(5, CryptoSuite::AesCm128HmacSha1_80, KEY_30)],
    );
    let crypto_5 = format!("a=crypto:5 AES_CM_128_HMAC_SHA1_80 {KEY_30_B}\r\n");

    // The peer renumbers Opus: Weft sends with the peer's payload type.
    let renumbered = parse_answer(
        &peer_answer("m=audio 5000 RTP/AVP 111 101", "a=sendonly\r\n"),
        &plain,
    )
    .unwrap();
    assert_eq!(
        (renumbered.codec, renumbered.payload_type),
        (Codec::Opus, 111)
    );
    assert_eq!(renumbered.direction, Direction::RecvOnly);
    assert!(!renumbered.rtcp_mux);
    assert_eq!(renumbered.remote_rtcp, addr("192.0.2.77:5001"));

    let optional_plain =
        parse_answer(&peer_answer("m=audio 5000 RTP/AVP 0", ""), &optional).unwrap();
    assert_eq!(optional_plain.crypto, None);
    let optional_srtp =
        parse_answer(&peer_answer("m=audio 5000 RTP/AVP 0", &crypto_5), &optional).unwrap();
    assert_eq!(optional_srtp.crypto.map(|c| c.tag), Some(5));
    let required_srtp = parse_answer(
        &peer_answer("m=audio 5000 RTP/SAVP 0", &crypto_5),
        &required,
    )
    .unwrap();
    assert_eq!(
        required_srtp.crypto.map(|c| c.key_params),
        Some(KEY_30_B.to_owned())
    );
    let ignored = parse_answer(&peer_answer("m=audio 5000 RTP/AVP 0", &crypto_5), &plain).unwrap();
    assert_eq!(ignored.crypto, None);

    let errors = [
        (
            peer_answer("m=audio 5000 RTP/AVP 9", ""),
            &plain,
            AnswerError::NoOfferedCodec,
        ),
        (
            peer_answer("m=audio 0 RTP/AVP 0", ""),
            &plain,
            AnswerError::Rejected,
        ),
        (
            peer_answer("m=video 5000 RTP/AVP 0", ""),
            &plain,
            AnswerError::NotAudio,
        ),
        (
            peer_answer("m=audio 5000 RTP/AVP 0\r\nm=video 0 RTP/AVP 0", ""),
            &plain,
            AnswerError::MediaCountMismatch(2),
        ),
        (
            peer_answer("m=audio 5000 RTP/SAVP 0", &crypto_5),
            &plain,
            AnswerError::UnexpectedTransport("RTP/SAVP".into()),
        ),
        (
            peer_answer("m=audio 5000 RTP/SAVP 0", ""),
            &required,
            AnswerError::EncryptionRequired,
        ),
        (
            peer_answer("m=audio 5000 RTP/AVP 0", ""),
            &required,
            AnswerError::EncryptionRequired,
        ),
        (
            peer_answer("m=audio 5000 RTP/SAVP 0", ""),
            &optional,
            AnswerError::EncryptionRequired,
        ),
        (
            peer_answer(
                "m=audio 5000 RTP/SAVP 0",
                &format!("a=crypto:6 AES_CM_128_HMAC_SHA1_80 {KEY_30_B}\r\n"),
            ),
            &required,
            AnswerError::CryptoMismatch,
        ),
        (
            peer_answer(
                "m=audio 5000 RTP/SAVP 0",
                &format!("a=crypto:5 AES_CM_128_HMAC_SHA1_32 {KEY_30_B}\r\n"),
            ),
            &required,
            AnswerError::CryptoMismatch,
        ),
        (
            "v=0\r\nm=audio 5000 RTP/AVP 0\r\n".to_owned(),
            &plain,
            AnswerError::NoConnectionAddress,
        ),
        (
            "".to_owned(),
            &plain,
            AnswerError::Sdp(SdpError::MissingVersion),
        ),
    ];
    for (text, spec, expected) in errors {
        assert_eq!(parse_answer(&text, spec), Err(expected), "{text}");
    }
}

/// A small deterministic generator for the robustness test (xorshift64*).
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
}

/// Runs every entry point on `text`; the test passes if nothing panics.
fn exercise(text: &str) {
    let spec = offer_spec(
        Encryption::Optional,
        vec![local_crypto(1, CryptoSuite::AesCm128HmacSha1_80, KEY_30)],
    );
    let _ = parse_answer(text, &spec);
    let Ok(sdp) = parse(text) else {
        return;
    };
    let _ = is_hold(&sdp);
    for encryption in [
        Encryption::Required,
        Encryption::Optional,
        Encryption::Forbidden,
    ] {
        if let Ok(result) = negotiate_answer(&sdp, &all_codecs(encryption)) {
            let key = match result.audio.crypto.as_ref().map(|c| c.suite) {
                Some(CryptoSuite::AeadAes128Gcm) => Some(KEY_28),
                Some(_) => Some(KEY_30),
                None => None,
            };
            let text = build_answer(&result, local("::1", key)).unwrap();
            assert!(parse(&text).is_ok(), "{text}");
        }
    }
}

#[test]
fn never_panics_on_truncated_or_random_input() {
    let mut total = 0usize;
    for fixture in FIXTURES {
        for text in [fixture.to_owned(), fixture.replace('\n', "\r\n")] {
            for end in (0..=text.len()).filter(|i| text.is_char_boundary(*i)) {
                exercise(&text[..end]);
                exercise(&text[end..]);
                total += 2;
            }
        }
    }

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        exercise(&String::from_utf8_lossy(&bytes));
        total += 1;
    }

    let tokens = [
        "v=0",
        "\n",
        "\r\n",
        "m=audio ",
        "m=",
        "c=IN IP4 ",
        "c=IN IP6 ",
        "a=rtpmap:",
        "a=fmtp:",
        "a=crypto:",
        "a=rtcp:",
        "a=rtcp-mux",
        "a=ptime:",
        "a=sendonly",
        "a=inactive",
        "o=",
        "RTP/AVP",
        "RTP/SAVP",
        " ",
        "0",
        "8",
        "96",
        "101",
        "127",
        "128",
        "65535",
        "65536",
        "0.0.0.0",
        "::",
        "10.0.0.1",
        "opus/48000/2",
        "PCMU/8000",
        "telephone-event/8000",
        "/",
        ":",
        "=",
        "inline:",
        "AES_CM_128_HMAC_SHA1_80",
        KEY_30,
        "é",
        "\u{0}",
        "-1",
        "IN",
        "IP4",
    ];
    for _ in 0..20000 {
        let count = 1 + rng.below(40);
        let text: String = (0..count)
            .map(|_| tokens[rng.below(tokens.len())])
            .collect();
        exercise(&format!("v=0\n{text}"));
        total += 1;
    }
    assert!(total > 20000);
}

#[test]
fn offers_with_many_media_lines_are_answered_in_full() {
    let mut offer = String::from("v=0\nc=IN IP4 10.0.0.1\n");
    for _ in 0..(MAX_MEDIA_LINES - 1) {
        offer.push_str("m=video 5000 RTP/AVP 96\n");
    }
    offer.push_str("m=audio 4000 RTP/AVP 0\n");
    let result = answer(&offer, &all_codecs(Encryption::Optional)).unwrap();
    assert_eq!(result.media_lines.len(), MAX_MEDIA_LINES);
    let text = build_answer(&result, local("10.0.0.2", None)).unwrap();
    assert_eq!(parse(&text).unwrap().media.len(), MAX_MEDIA_LINES);
    assert_eq!(
        IpAddr::from([10, 0, 0, 2]),
        parse(&text).unwrap().connection.unwrap()
    );
}
