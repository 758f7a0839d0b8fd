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

use crate::error::MediaError;
use crate::hotpath::server_config;
use crate::options::{MediaKind as Kind, OfferOptions};

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
}

impl RtcFactory {
    pub(crate) fn new(
        cert: DtlsCert,
        candidates: Vec<SocketAddr>,
        tcp_candidates: Vec<SocketAddr>,
        bwe: bool,
    ) -> Self {
        Self {
            cert,
            candidates,
            tcp_candidates,
            bwe,
        }
    }

    fn build(&self) -> Result<Rtc, MediaError> {
        let config = server_config(&self.cert);
        let config = if self.bwe {
            config.enable_bwe(Some(INITIAL_ESTIMATE))
        } else {
            config
        };
        let mut rtc = config.build(Instant::now());
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
        Ok(rtc)
    }

    /// A new `Rtc` that has accepted `offer_sdp`; returns it with the answer SDP.
    pub(crate) fn answer(&self, offer_sdp: &str) -> Result<(Rtc, String), MediaError> {
        let offer = parse_offer(offer_sdp)?;
        let mut rtc = self.build()?;
        let answer = guarded(|| rtc.sdp_api().accept_offer(offer))?
            .map_err(|e| MediaError::Sdp(e.to_string()))?;
        Ok((rtc, answer.to_sdp_string()))
    }

    /// A new `Rtc` with a pending offer of one sendrecv audio and/or video m-line.
    pub(crate) fn offer(
        &self,
        opts: OfferOptions,
    ) -> Result<(Rtc, PendingOffer, String), MediaError> {
        if !opts.audio && !opts.video {
            return Err(MediaError::State("an offer needs audio or video".into()));
        }
        let mut rtc = self.build()?;
        let mut offered = Vec::new();
        let applied = guarded(|| {
            let mut api = rtc.sdp_api();
            if opts.audio {
                let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
                offered.push((mid, Kind::Audio));
            }
            if opts.video {
                let mid = api.add_media(MediaKind::Video, Direction::SendRecv, None, None, None);
                offered.push((mid, Kind::Video));
            }
            api.apply()
        })?;
        let (offer, pending) = applied.ok_or_else(|| MediaError::State("empty offer".into()))?;
        Ok((rtc, (pending, offered), offer.to_sdp_string()))
    }
}

/// Parses a remote offer.
pub(crate) fn parse_offer(sdp: &str) -> Result<SdpOffer, MediaError> {
    SdpOffer::from_sdp_string(sdp).map_err(|e| MediaError::Sdp(e.to_string()))
}

/// Parses a remote answer.
pub(crate) fn parse_answer(sdp: &str) -> Result<SdpAnswer, MediaError> {
    SdpAnswer::from_sdp_string(sdp).map_err(|e| MediaError::Sdp(e.to_string()))
}

/// Runs `f`, turning a panic inside str0m into an error.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, MediaError> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|_| MediaError::Sdp("negotiation failed internally".into()))
}
