//! Driving one peer's str0m `Rtc`: feed it an input, drain what it outputs into the shard's
//! queues, inside `catch_unwind`, so a panic in str0m closes only that peer; and reading the
//! feedback members send about the streams Weft seals.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use str0m::media::{KeyframeRequest, KeyframeRequestKind};
use str0m::net::Protocol;
use str0m::{Event, IceConnectionState, Input, Output};

use super::counters::ShardCounters;
use super::egress::StreamFeedback;
use super::io::{Io, Queues};
use super::peer::Peer;
use super::slab::Slab;
use super::timers::{Due, TimerHeap};
use crate::event::MemberState;

/// Feeds `input` (if any) to one peer and drains its output, all inside `catch_unwind`: a panic
/// in str0m marks only this peer dead.
pub(super) fn drive(
    peers: &mut Slab<Peer>,
    io: &mut Io,
    timers: &mut TimerHeap,
    index: usize,
    input: Option<Input>,
) {
    let Some(peer) = peers.get_mut(index).filter(|p| p.rtc().is_some()) else {
        return;
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| drain_peer(index, peer, io, input)));
    let state = match outcome {
        Ok(Ok(next)) => {
            if peer.timer_at != Some(next) {
                peer.timer_at = Some(next);
                timers.schedule(Due {
                    at: next,
                    peer: index,
                    generation: peer.generation,
                });
            }
            if peer.rtc().is_some_and(|rtc| rtc.is_alive()) {
                return;
            }
            MemberState::Closed
        }
        Ok(Err(e)) => MemberState::Failed(format!("rtc error: {e}")),
        Err(_) => {
            io.counters.panics += 1;
            MemberState::Failed("internal error".into())
        }
    };
    io.queues.dead.push((index, peer.generation, state));
}

pub(super) fn drain_peer(
    index: usize,
    peer: &mut Peer,
    io: &mut Io,
    input: Option<Input>,
) -> Result<Instant, String> {
    #[cfg(test)]
    assert!(!peer.fault, "injected fault");
    let Some(rtc) = peer.rtc_mut() else {
        return Err("not a WebRTC member".into());
    };
    if let Some(input) = input
        && let Err(e) = rtc.handle_input(input)
    {
        tracing::debug!(member = %peer.member, "input rejected: {e}");
    }
    loop {
        let Some(rtc) = peer.rtc_mut() else {
            return Err("not a WebRTC member".into());
        };
        match rtc.poll_output().map_err(|e| e.to_string())? {
            Output::Timeout(at) => return Ok(at),
            Output::Transmit(t) => {
                if let Some(egress) = peer.egress.as_deref_mut() {
                    egress.note_transmit(t.destination, &t.contents, t.proto == Protocol::Tcp);
                }
                if !peer.addrs.contains(&t.destination) {
                    io.queues.learned.push((index, t.destination));
                }
                if t.proto == Protocol::Tcp {
                    io.queues.tcp_out.push((t.destination, t.contents.into()));
                    continue;
                }
                io.outbox.push(t.destination, t.contents.into());
            }
            Output::Event(event) => queue_event(index, peer, io, event),
        }
    }
}

/// Feedback a peer sent about the streams Weft seals for it: keyframe requests join str0m's,
/// lost packets are queued for resending.
pub(super) fn read_egress_feedback(
    peers: &mut Slab<Peer>,
    queues: &mut Queues,
    counters: &mut ShardCounters,
    index: usize,
    datagram: &[u8],
    now: Instant,
) {
    let Some(p) = peers.get_mut(index) else {
        return;
    };
    let Some(egress) = p.egress.as_deref_mut() else {
        return;
    };
    egress.read_rtcp(datagram, now, |feedback| match feedback {
        StreamFeedback::Keyframe(mid, kind) => {
            counters.rtcp_in[if kind == KeyframeRequestKind::Fir {
                2
            } else {
                1
            }] += 1;
            queues.keyframe_requests.push((
                index,
                KeyframeRequest {
                    mid,
                    rid: None,
                    kind,
                },
            ));
        }
        StreamFeedback::Nacked(_) => counters.rtcp_in[0] += 1,
        StreamFeedback::Lost(mid, seq) => queues.lost.push((index, mid, seq)),
    });
    if egress.sealing() {
        p.stats.bwe_bps = Some(egress.estimate_bps());
    }
}

pub(super) fn queue_event(index: usize, peer: &mut Peer, io: &mut Io, event: Event) {
    let queues = &mut io.queues;
    match event {
        Event::Connected => queues.connected.push(index),
        Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
            queues.dead.push((
                index,
                peer.generation,
                MemberState::Failed("ICE disconnected".into()),
            ));
        }
        Event::Closed => queues
            .dead
            .push((index, peer.generation, MemberState::Closed)),
        Event::RtpPacket(packet) => {
            peer.stats.packets_in += 1;
            peer.stats.bytes_in += packet.payload.len() as u64;
            io.counters.rtp_in += 1;
            queues.rtp.push((index, packet));
        }
        Event::KeyframeRequest(request) => queues.keyframe_requests.push((index, request)),
        Event::MediaEgressStats(stats) => peer.feedback.egress(&stats, &mut io.counters),
        Event::MediaIngressStats(stats) => peer.feedback.ingress(&stats, &mut io.counters),
        Event::MediaAdded(added) => queues.media_added.push((index, added)),
        Event::EgressBitrateEstimate(str0m::bwe::BweKind::Twcc { estimate, .. }) => {
            peer.stats.bwe_bps = Some(estimate.as_u64());
        }
        _ => {}
    }
}
