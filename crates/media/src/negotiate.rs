//! Builds server-side `Rtc`s and runs the first offer/answer outside the shards
//! (`Rtc::build` costs 1–2 ms of CPU; the shard loop should not pay it).

use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use str0m::bwe::Bitrate;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::config::DtlsCert;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::TcpType;
use str0m::{Candidate, Rtc};

use crate::egress::{EgressKeys, build_with_key_capture};
use crate::error::MediaError;
use crate::hotpath::server_config;
use crate::options::{MediaKind as Kind, OfferOptions};
use crate::sdp_sections;

/// Most media sections (m-lines) a remote offer may have. The browser SDK sends two; multi-slot
/// clients send one per receive slot. Larger offers are refused before str0m parses them: every
/// section becomes send and receive state for the whole call.
pub const MAX_OFFER_SECTIONS: usize = 64;

/// Most media sections an answer to the engine's offer may have: the engine offers one audio and
/// one video m-line at most ([`crate::MediaEngine::create_offer`]), and an answer has exactly
/// the offer's sections.
const MAX_ANSWER_SECTIONS: usize = 2;

/// Starting egress bandwidth estimate per peer (TWCC refines it; simulcast selection uses it).
const INITIAL_ESTIMATE: Bitrate = Bitrate::kbps(2500);

/// An offer waiting for its answer, with the m-lines it added.
pub(crate) type PendingOffer = (SdpPendingOffer, Vec<(Mid, Kind)>);

/// Makes `Rtc`s for one shard: ICE-lite, RTP mode, the engine's shared certificate and the shard's
/// advertised host candidates.
#[derive(Clone)]
pub(crate) struct RtcFactory {
    cert: DtlsCert,
    candidates: Vec<SocketAddr>,
    tcp_candidates: Vec<SocketAddr>,
    bwe: bool,
    owned_egress: bool,
}

/// A new `Rtc`, with the handle on its SRTP keys when Weft seals what it sends.
pub(crate) type BuiltRtc = (Rtc, Option<EgressKeys>);

impl RtcFactory {
    pub(crate) fn new(
        cert: DtlsCert,
        candidates: Vec<SocketAddr>,
        tcp_candidates: Vec<SocketAddr>,
        bwe: bool,
        owned_egress: bool,
    ) -> Self {
        Self {
            cert,
            candidates,
            tcp_candidates,
            bwe,
            owned_egress,
        }
    }

    /// With owned egress no peer runs str0m's estimator (it needs str0m's send path): members
    /// get a loss-based estimate from their receiver reports instead.
    fn build(&self, bwe: bool) -> Result<BuiltRtc, MediaError> {
        let config = server_config(&self.cert);
        let (mut rtc, keys) = if self.owned_egress {
            let (rtc, keys) = build_with_key_capture(config, Instant::now());
            (rtc, Some(keys))
        } else if bwe {
            (
                config
                    .enable_bwe(Some(INITIAL_ESTIMATE))
                    .build(Instant::now()),
                None,
            )
        } else {
            (config.build(Instant::now()), None)
        };
        for addr in &self.candidates {
            let candidate = Candidate::host(*addr, "udp")
                .map_err(|e| MediaError::Config(format!("candidate {addr}: {e}")))?;
            rtc.add_local_candidate(candidate);
        }
        for addr in &self.tcp_candidates {
            let candidate = Candidate::builder()
                .tcp()
                .host(*addr)
                .tcptype(TcpType::Passive)
                .build()
                .map_err(|e| MediaError::Config(format!("TCP candidate {addr}: {e}")))?;
            rtc.add_local_candidate(candidate);
        }
        Ok((rtc, keys))
    }

    /// A new `Rtc` that has accepted `offer_sdp`; returns it with the answer SDP.
    pub(crate) fn answer(&self, offer_sdp: &str) -> Result<(BuiltRtc, String), MediaError> {
        let offer = parse_offer(offer_sdp)?;
        let (mut rtc, keys) = self.build(self.bwe && receives_several_videos(offer_sdp))?;
        let answer = guarded(|| rtc.sdp_api().accept_offer(offer))?
            .map_err(|e| MediaError::Sdp(e.to_string()))?;
        Ok(((rtc, keys), answer.to_sdp_string()))
    }

    /// New `Rtc`s with pending offers for an inbound call leg: one sendrecv m-line per requested
    /// kind, each on its own `Rtc` (one transport per m-line, no BUNDLE: the shape the browser SDK
    /// can answer, `fabric-protocol.md` §6.3). The parts share one media stream id, so the client
    /// plays them as one stream; their mids differ. Join their SDPs with
    /// [`crate::sdp_sections::join_unbundled`].
    pub(crate) fn offer(&self, opts: OfferOptions) -> Result<Vec<OfferPart>, MediaError> {
        let kinds: Vec<Kind> = [(opts.audio, Kind::Audio), (opts.video, Kind::Video)]
            .into_iter()
            .filter_map(|(wanted, kind)| wanted.then_some(kind))
            .collect();
        if kinds.is_empty() {
            return Err(MediaError::State("an offer needs audio or video".into()));
        }
        let stream = stream_id();
        let mut parts: Vec<OfferPart> = Vec::new();
        for kind in kinds {
            // Mids are random three-character strings: retry the rare clash with an earlier part.
            let mut attempts = 0;
            let part = loop {
                let part = self.offer_one(kind, &stream)?;
                attempts += 1;
                let clash = parts.iter().any(|p| p.mid() == part.mid());
                if !clash || attempts >= 8 {
                    break part;
                }
            };
            parts.push(part);
        }
        Ok(parts)
    }

    fn offer_one(&self, kind: Kind, stream: &str) -> Result<OfferPart, MediaError> {
        // Inbound call legs are browser SDK clients: one video stream, nothing to choose from.
        let (mut rtc, keys) = self.build(false)?;
        let mut mid = None;
        let applied = guarded(|| {
            let mut api = rtc.sdp_api();
            let str0m_kind = match kind {
                Kind::Audio => MediaKind::Audio,
                Kind::Video => MediaKind::Video,
            };
            let stream = Some(stream.to_owned());
            mid = Some(api.add_media(str0m_kind, Direction::SendRecv, stream, None, None));
            api.apply()
        })?;
        let (offer, pending) = applied.ok_or_else(|| MediaError::State("empty offer".into()))?;
        let mid = mid.ok_or_else(|| MediaError::State("empty offer".into()))?;
        Ok(OfferPart {
            rtc,
            keys,
            pending: (pending, vec![(mid, kind)]),
            sdp: offer.to_sdp_string(),
        })
    }
}

/// One `Rtc` of an engine offer, its pending offer and its SDP.
pub(crate) struct OfferPart {
    pub rtc: Rtc,
    pub keys: Option<EgressKeys>,
    pub pending: PendingOffer,
    pub sdp: String,
}

impl OfferPart {
    fn mid(&self) -> Option<Mid> {
        self.pending.1.first().map(|(mid, _)| *mid)
    }
}

/// A fresh media stream id (`a=msid`), shared by the parts of one offer.
fn stream_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    format!("weft{:016x}", RandomState::new().hash_one(Instant::now()))
}

/// Whether an offer has more than one video m-line: a multi-slot (SFU-aware) client that gets
/// last-N streams and simulcast layers chosen from its bandwidth estimate. Only such members run
/// str0m's TWCC estimator, whose pacer keeps every peer padded to at least 50 kbit/s even when
/// idle (≈ 100× the timer wake-ups of a peer without it); one-slot members (the browser SDK)
/// receive a single video and have no layer to choose.
fn receives_several_videos(offer_sdp: &str) -> bool {
    offer_sdp
        .lines()
        .filter(|l| l.starts_with("m=video") && !l.starts_with("m=video 0 "))
        .count()
        > 1
}

/// Parses a remote offer of at most [`MAX_OFFER_SECTIONS`] media sections.
pub(crate) fn parse_offer(sdp: &str) -> Result<SdpOffer, MediaError> {
    check_sections(sdp, MAX_OFFER_SECTIONS, "an offer")?;
    SdpOffer::from_sdp_string(sdp).map_err(|e| MediaError::Sdp(e.to_string()))
}

/// The number of media sections (`m=` lines) of `sdp`.
pub(crate) fn media_sections(sdp: &str) -> usize {
    sdp.lines().filter(|l| l.starts_with("m=")).count()
}

/// Refuses an SDP with more than `max` media sections, before anything is built from it.
fn check_sections(sdp: &str, max: usize, what: &str) -> Result<usize, MediaError> {
    let sections = media_sections(sdp);
    if sections > max {
        return Err(MediaError::Sdp(format!(
            "{what} has {sections} media sections; at most {max} are accepted"
        )));
    }
    Ok(sections)
}

/// A remote answer, one part per transport: the whole answer (no mid) when it is one BUNDLE
/// transport or a single m-line, otherwise one part per m-line with the mid it answers.
pub(crate) type AnswerParts = Vec<(Option<String>, SdpAnswer)>;

/// Parses a remote answer into its transports.
pub(crate) fn parse_answer(sdp: &str) -> Result<AnswerParts, MediaError> {
    let parse =
        |sdp: &str| SdpAnswer::from_sdp_string(sdp).map_err(|e| MediaError::Sdp(e.to_string()));
    let m_lines = check_sections(sdp, MAX_ANSWER_SECTIONS, "an answer")?;
    if m_lines <= 1 || sdp_sections::is_bundled(sdp) {
        return Ok(vec![(None, parse(sdp)?)]);
    }
    sdp_sections::split_sections(sdp)
        .into_iter()
        .map(|(mid, part)| Ok((mid, parse(&part)?)))
        .collect()
}

/// Runs `f`, turning a panic inside str0m into an error.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, MediaError> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|_| MediaError::Sdp("negotiation failed internally".into()))
}
