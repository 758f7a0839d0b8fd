//! Issue 12, acceptance 1: RTP that Weft seals itself, with the keys its key capture took from
//! str0m's DTLS handshake, is accepted by an independent receiver, a second str0m `Rtc` in
//! memory; and the capture's receiving key opens the SRTCP that receiver sends back.
//!
//! Both `Rtc`s run in one thread on a simulated clock; datagrams pass between them in a loop.
//! Only public API is used.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::crypto::dtls::SrtpProfile;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::rtp::{RtpPacket, Ssrc};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use weft_media::egress::{EgressKeys, build_with_key_capture};
use weft_media::hotpath::server_config;
use weft_media::srtp::{Profile, SrtpSession};
use weft_media::testkit::deliver;

/// Most 1 ms steps for ICE and DTLS to connect.
const MAX_CONNECT_STEPS: usize = 5_000;
/// Simulated time within which the receiver must send a receiver report.
const REPORT_WITHIN: Duration = Duration::from_secs(12);
/// RTP header length: no CSRCs, no extension.
const HEADER_LEN: usize = 12;

/// The Weft side (server configuration, keys captured) and an independent str0m peer.
struct Link {
    weft: Rtc,
    peer: Rtc,
    keys: EgressKeys,
    weft_addr: SocketAddr,
    peer_addr: SocketAddr,
    now: Instant,
    /// The m-line Weft sends on.
    mid: Mid,
    /// RTP packets the peer delivered.
    delivered: Vec<RtpPacket>,
    /// Copies of the RTCP datagrams (SRTCP) the peer sent to Weft.
    rtcp_to_weft: Vec<Vec<u8>>,
    /// RTP datagrams str0m sent from the Weft side by itself.
    rtp_from_weft_str0m: usize,
}

/// What a datagram is, by its first two bytes (RFC 7983, RFC 5761).
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Rtp,
    Rtcp,
    Other,
}

fn kind(datagram: &[u8]) -> Kind {
    match (datagram.first(), datagram.get(1)) {
        (Some(128..=191), Some(192..=223)) => Kind::Rtcp,
        (Some(128..=191), Some(_)) => Kind::Rtp,
        _ => Kind::Other,
    }
}

impl Link {
    /// Connects Weft and the peer, one m-line of `media` on which Weft sends and the peer
    /// receives; Weft makes the offer when `weft_offers`, else the peer does.
    fn connect(weft_offers: bool, media: MediaKind) -> Link {
        let now = Instant::now();
        let cert = str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
            .expect("certificate");
        let (mut weft, keys) = build_with_key_capture(server_config(&cert), now);
        let mut peer = RtcConfig::new().set_rtp_mode(true).build(now);
        let weft_addr: SocketAddr = "127.0.0.1:40001".parse().expect("address");
        let peer_addr: SocketAddr = "127.0.0.1:40002".parse().expect("address");
        weft.add_local_candidate(Candidate::host(weft_addr, "udp").expect("candidate"));
        peer.add_local_candidate(Candidate::host(peer_addr, "udp").expect("candidate"));

        let mid = if weft_offers {
            negotiate(&mut weft, &mut peer, media, Direction::SendOnly)
        } else {
            negotiate(&mut peer, &mut weft, media, Direction::RecvOnly)
        };
        let mut link = Link {
            weft,
            peer,
            keys,
            weft_addr,
            peer_addr,
            now,
            mid,
            delivered: Vec::new(),
            rtcp_to_weft: Vec::new(),
            rtp_from_weft_str0m: 0,
        };
        let (mut weft_up, mut peer_up) = (false, false);
        for _ in 0..MAX_CONNECT_STEPS {
            let (weft_connected, peer_connected) = link.step(Duration::from_millis(1));
            weft_up |= weft_connected;
            peer_up |= peer_connected;
            if weft_up && peer_up {
                return link;
            }
        }
        panic!("ICE and DTLS did not connect");
    }

    /// Drains both sides, delivers what they sent, advances the clock by `by` and hands both
    /// the timeout. Returns whether each side reported `Event::Connected` meanwhile.
    fn step(&mut self, by: Duration) -> (bool, bool) {
        let (to_peer, weft_connected) = drain(&mut self.weft, &mut Vec::new());
        let (to_weft, peer_connected) = drain(&mut self.peer, &mut self.delivered);
        self.now += by;
        for datagram in to_peer {
            if kind(&datagram) == Kind::Rtp {
                self.rtp_from_weft_str0m += 1;
            }
            self.deliver_to_peer(&datagram);
        }
        for datagram in to_weft {
            if kind(&datagram) == Kind::Rtcp {
                self.rtcp_to_weft.push(datagram.clone());
            }
            deliver(
                &mut self.weft,
                self.peer_addr,
                self.weft_addr,
                &datagram,
                self.now,
            )
            .expect("input");
        }
        for rtc in [&mut self.weft, &mut self.peer] {
            rtc.handle_input(Input::Timeout(self.now)).expect("timeout");
        }
        (weft_connected, peer_connected)
    }

    /// Delivers a datagram from Weft's address to the peer, as Weft's own socket would.
    fn deliver_to_peer(&mut self, datagram: &[u8]) {
        deliver(
            &mut self.peer,
            self.weft_addr,
            self.peer_addr,
            datagram,
            self.now,
        )
        .expect("input");
    }

    /// The SSRC str0m announced in the SDP for Weft's m-line, and the payload type negotiated
    /// for `codec`.
    fn announced_stream(&mut self, codec: Codec) -> (Ssrc, Pt) {
        let ssrc = self
            .weft
            .direct_api()
            .stream_tx_by_mid(self.mid, None)
            .expect("a send stream")
            .ssrc();
        let remote_pts = self.weft.media(self.mid).expect("the m-line").remote_pts();
        let pt = self
            .weft
            .codec_config()
            .params()
            .iter()
            .find(|p| p.spec().codec == codec && remote_pts.contains(&p.pt()))
            .expect("the codec was negotiated")
            .pt();
        (ssrc, pt)
    }

    /// Delivers one datagram from Weft and returns the packets the peer delivered for it.
    fn send(&mut self, datagram: &[u8]) -> Vec<RtpPacket> {
        self.delivered.clear();
        self.deliver_to_peer(datagram);
        self.step(Duration::from_millis(1));
        std::mem::take(&mut self.delivered)
    }
}

/// Offers one m-line of `media` in `direction` (the offerer's view) and completes the exchange
/// through SDP text; returns its mid.
fn negotiate(offerer: &mut Rtc, answerer: &mut Rtc, media: MediaKind, direction: Direction) -> Mid {
    let mut api = offerer.sdp_api();
    let mid = api.add_media(media, direction, None, None, None);
    let (offer, pending) = api.apply().expect("an offer");
    let offer = SdpOffer::from_sdp_string(&offer.to_sdp_string()).expect("offer parses");
    let answer = answerer
        .sdp_api()
        .accept_offer(offer)
        .expect("offer accepted");
    let answer = SdpAnswer::from_sdp_string(&answer.to_sdp_string()).expect("answer parses");
    offerer
        .sdp_api()
        .accept_answer(pending, answer)
        .expect("answer accepted");
    mid
}

/// Everything `rtc` wants to send, and whether it reported `Event::Connected`; RTP packets it
/// delivered go to `delivered`.
fn drain(rtc: &mut Rtc, delivered: &mut Vec<RtpPacket>) -> (Vec<Vec<u8>>, bool) {
    let mut out = Vec::new();
    let mut connected = false;
    loop {
        match rtc.poll_output().expect("output") {
            Output::Timeout(_) => return (out, connected),
            Output::Transmit(t) => out.push(t.contents.to_vec()),
            Output::Event(Event::Connected) => connected = true,
            Output::Event(Event::RtpPacket(packet)) => delivered.push(packet),
            Output::Event(_) => {}
        }
    }
}

/// A plain RTP header: version 2, no padding, extension or CSRCs.
fn rtp_header(pt: Pt, sequence: u16, timestamp: u32, ssrc: Ssrc) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[0] = 0x80;
    header[1] = *pt;
    header[2..4].copy_from_slice(&sequence.to_be_bytes());
    header[4..8].copy_from_slice(&timestamp.to_be_bytes());
    header[8..12].copy_from_slice(&ssrc.to_be_bytes());
    header
}

/// The SSRCs the report blocks of a compound RTCP packet report on: those of its sender and
/// receiver reports (RFC 3550 §6.4.1, §6.4.2).
fn reported_ssrcs(compound: &[u8]) -> Vec<u32> {
    let mut reported = Vec::new();
    let mut rest = compound;
    while rest.len() >= 4 {
        let count = usize::from(rest[0] & 0x1f);
        let len = 4 * (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1);
        let Some(packet) = rest.get(..len) else {
            break;
        };
        let blocks_at = match packet[1] {
            200 => 28,
            201 => 8,
            _ => len,
        };
        for block in packet
            .get(blocks_at..)
            .unwrap_or_default()
            .chunks_exact(24)
            .take(count)
        {
            reported.push(u32::from_be_bytes([block[0], block[1], block[2], block[3]]));
        }
        rest = &rest[len..];
    }
    reported
}

/// Seals RTP on the announced SSRC across the sequence number wrap, forges a tag, and checks
/// what the peer delivers; then opens the peer's reports with the receiving key.
fn weft_sealed_media_is_accepted(weft_offers: bool, media: MediaKind, codec: Codec) {
    let mut link = Link::connect(weft_offers, media);
    let keys = link.keys.keys().expect("keys captured");
    assert_eq!(
        link.keys.negotiated_profile(),
        Some(SrtpProfile::AEAD_AES_256_GCM),
        "the profile str0m peers agree on"
    );
    assert_eq!(keys.profile(), Profile::AeadAes256Gcm);
    assert_eq!(
        keys.is_dtls_client(),
        weft_offers,
        "the str0m answerer takes a=setup:passive"
    );

    let (ssrc, pt) = link.announced_stream(codec);
    let mut sealer = SrtpSession::new(keys.sending()).expect("session");
    let mut out = [0u8; 1500];
    let mut seal = |sequence: u16, payload: &[u8]| {
        let header = rtp_header(pt, sequence, 960 * u32::from(sequence), ssrc);
        let len = sealer.seal_rtp(&header, payload, &mut out).expect("sealed");
        out[..len].to_vec()
    };

    for (sequence, extended) in [
        (65_533u16, 65_533u64),
        (65_534, 65_534),
        (65_535, 65_535),
        (0, 65_536),
        (1, 65_537),
    ] {
        let payload = format!("weft payload {sequence}").into_bytes();
        let delivered = link.send(&seal(sequence, &payload));
        assert_eq!(delivered.len(), 1, "sequence {sequence}");
        let packet = &delivered[0];
        assert_eq!(packet.header.ssrc, ssrc);
        assert_eq!(packet.header.payload_type, pt);
        assert_eq!(*packet.seq_no, extended, "rollover counter");
        assert_eq!(packet.payload[..], payload[..]);
    }

    let good = seal(2, b"after the forgery");
    let mut forged = good.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    assert!(
        link.send(&forged).is_empty(),
        "a flipped tag bit is refused"
    );
    let delivered = link.send(&good);
    assert_eq!(delivered.len(), 1, "the genuine packet still passes");
    assert_eq!(delivered[0].payload[..], b"after the forgery"[..]);
    assert!(link.send(&good).is_empty(), "a replay is refused");

    let mut opener = SrtpSession::new(keys.receiving()).expect("session");
    let deadline = link.now + REPORT_WITHIN;
    let mut reported = false;
    while !reported && link.now < deadline {
        link.step(Duration::from_millis(10));
        for mut datagram in link.rtcp_to_weft.drain(..) {
            let len = opener
                .unprotect_rtcp(&mut datagram)
                .expect("the receiving key opens the peer's SRTCP");
            reported |= reported_ssrcs(&datagram[..len]).contains(&ssrc);
        }
    }
    assert!(reported, "the peer's SRTCP reported on the sealed stream");
    assert_eq!(
        link.rtp_from_weft_str0m, 0,
        "str0m sent no RTP of its own from the Weft side"
    );
}

#[test]
fn weft_answering_as_dtls_server_seals_media_a_str0m_peer_accepts() {
    weft_sealed_media_is_accepted(false, MediaKind::Audio, Codec::Opus);
    weft_sealed_media_is_accepted(false, MediaKind::Video, Codec::Vp8);
}

#[test]
fn weft_offering_as_dtls_client_seals_media_a_str0m_peer_accepts() {
    weft_sealed_media_is_accepted(true, MediaKind::Audio, Codec::Opus);
    weft_sealed_media_is_accepted(true, MediaKind::Video, Codec::Vp8);
}
