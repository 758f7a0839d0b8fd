//! A receive-only peer that answers the server's offer, for servers that offer to their
//! subscribers (Janus's VideoRoom does; Weft's subscribers offer instead).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::change::SdpOffer;
use str0m::config::DtlsCert;

use super::{MediaPeer, MediaPlan, Milestones, bind_rtc};

impl MediaPeer {
    /// Answers `offer_sdp` on a new socket bound to `ip` (the candidate inline); returns the peer,
    /// ready for a media worker, and the answer. The peer sends no media, whatever `plan` says.
    pub fn answer(
        plan: MediaPlan,
        ip: IpAddr,
        cert: &DtlsCert,
        offer_sdp: &str,
        epoch: Instant,
        milestones: Arc<Milestones>,
    ) -> Result<(Self, String), String> {
        let (mut rtc, socket, local) = bind_rtc(ip, cert)?;
        let offer = SdpOffer::from_sdp_string(offer_sdp).map_err(|e| format!("offer: {e}"))?;
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| format!("answering: {e}"))?;
        let peer = Self::running(plan, Vec::new(), rtc, socket, local, epoch, milestones);
        Ok((peer, answer.to_sdp_string()))
    }
}
