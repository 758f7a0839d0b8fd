//! What one-slot members receive in rooms of three or more: mix-minus audio and the active
//! speaker's video.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use str0m::media::Pt;

use super::forward::{Written, sealed_stream};
use super::peer::Transport;
use super::worker::Worker;
use crate::event::MemberState;
use crate::hotpath::{Generated, PlainHeader};
use crate::mixer::{FRAME, FRAME_8K, MixedFrame, Mixer};
use crate::options::{MediaKind, RtpCodec};

/// Mixer frame interval.
pub(super) const MIX_INTERVAL: Duration = Duration::from_millis(20);
/// Phase step between the mixers of one shard: 7 ms is coprime with 20, so successive rooms
/// take every whole millisecond of the interval before any two share one, and one room's mix,
/// not all of them back to back, is what a packet may wait behind.
const MIX_STAGGER: Duration = Duration::from_millis(7);
/// Room size from which one-slot members are mixed and voice-switched.
const MIX_FROM_MEMBERS: usize = 3;

impl Worker {
    /// Decides, for every member of `room`, whether its one audio slot is mixed and its one video
    /// slot follows the active speaker; creates or drops the room's mixer.
    pub(super) fn apply_policy(&mut self, room: usize) {
        let Some(r) = self.rooms.get(room) else {
            return;
        };
        let big = r.headcount() >= MIX_FROM_MEMBERS;
        let fed_room = r.feed.is_some();
        let members = r.members.clone();
        let mut any_mixed = false;
        for m in members {
            let Some(p) = self.peers.get_mut(m) else {
                continue;
            };
            p.switched = big && p.slots(MediaKind::Video) == 1;
            let mixed = big && p.slots(MediaKind::Audio) == 1;
            let fed = fed_room && p.first_slot(MediaKind::Audio).is_some();
            any_mixed |= mixed && !fed;
            if (mixed, fed) == (p.mixed, p.fed) {
                continue;
            }
            (p.mixed, p.fed) = (mixed, fed);
            if mixed {
                self.unsubscribe(m, MediaKind::Audio);
            }
            if fed {
                self.release_first_audio(m);
            }
            self.fill_free_slots(m);
            // The slot's output changes origin: continue its sequence seamlessly.
            if let Some(slot) = self
                .peers
                .get_mut(m)
                .and_then(|p| p.first_slot(MediaKind::Audio).map(|l| (p, l)))
                .and_then(|(p, l)| p.lines[l].slot.as_mut())
            {
                slot.writer.restart(false);
            }
        }
        let Some(r) = self.rooms.get_mut(room) else {
            return;
        };
        if !any_mixed {
            r.mixer = None;
        } else if r.mixer.is_none() {
            match Mixer::new() {
                Ok(mixer) => r.mixer = Some(mixer),
                Err(e) => tracing::error!("mixer: {e}"),
            }
        }
    }

    /// Detaches `peer`'s first audio slot from its source (the room's source member's frames
    /// take its place).
    fn release_first_audio(&mut self, peer: usize) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let Some(line) = p.first_slot(MediaKind::Audio) else {
            return;
        };
        let Some(source) = p.lines[line].slot.as_mut().and_then(|s| s.source.take()) else {
            return;
        };
        if let Some(s) = self
            .rooms
            .get_mut(p.room)
            .and_then(|r| r.sources.get_mut(source))
        {
            s.subscribers.retain(|&(sub, l)| (sub, l) != (peer, line));
            self.io.interest_changed = true;
        }
    }

    /// Detaches `peer`'s slots of `kind` from their sources.
    fn unsubscribe(&mut self, peer: usize, kind: MediaKind) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let Some(r) = self.rooms.get_mut(p.room) else {
            return;
        };
        for (line, l) in p.lines.iter_mut().enumerate() {
            if l.kind != kind {
                continue;
            }
            if let Some(source) = l.slot.as_mut().and_then(|s| s.source.take())
                && let Some(s) = r.sources.get_mut(source)
            {
                s.subscribers.retain(|&(sub, sl)| (sub, sl) != (peer, line));
                self.io.interest_changed = true;
            }
        }
    }

    /// When the next mix is due, if any room mixes; a new mixer gets the next phase.
    pub(super) fn schedule_mixes(&mut self, now: Instant) -> Option<Instant> {
        let mut earliest: Option<Instant> = None;
        for (_, r) in self.rooms.iter_mut() {
            if r.mixer.is_none() {
                r.next_mix = None;
                continue;
            }
            let due = *r.next_mix.get_or_insert_with(|| {
                let phase = (self.mix_phase + MIX_STAGGER).as_millis() % MIX_INTERVAL.as_millis();
                self.mix_phase = Duration::from_millis(phase as u64);
                now + self.mix_phase
            });
            earliest = Some(earliest.map_or(due, |e| e.min(due)));
        }
        earliest
    }

    /// Produces one mixed frame for every mixed listener of each room whose mix is due.
    pub(super) fn mix_tick(&mut self, now: Instant) {
        let mut frames: Vec<MixedFrame> = Vec::new();
        for room in self.rooms.indexes() {
            let Some(r) = self.rooms.get_mut(room) else {
                continue;
            };
            let Some(due) = r.next_mix.filter(|due| *due <= now) else {
                continue;
            };
            let Some(mixer) = r.mixer.as_mut() else {
                continue;
            };
            // A steady 20 ms cadence; after a stall, resynchronise instead of bursting.
            let next = due + MIX_INTERVAL;
            r.next_mix = Some(if next <= now {
                now + MIX_INTERVAL
            } else {
                next
            });
            let listeners: Vec<(usize, RtpCodec)> = r
                .members
                .iter()
                .filter_map(|m| {
                    let p = self.peers.get(*m)?;
                    let codec = match &p.transport {
                        Transport::Rtp(leg) => leg.codec,
                        _ => RtpCodec::Opus,
                    };
                    (p.mixed && !p.fed && p.connected && !p.deaf).then_some((*m, codec))
                })
                .collect();
            frames.clear();
            let mixed = catch_unwind(AssertUnwindSafe(|| mixer.mix(&listeners, &mut frames)));
            // Time always advances (a skipped frame is silence); the sequence only when sent.
            let (seq, ts) = (r.mix_seq, [r.mix_ts, r.mix_ts_8k]);
            r.mix_ts = r.mix_ts.wrapping_add(FRAME as u32);
            r.mix_ts_8k = r.mix_ts_8k.wrapping_add(FRAME_8K as u32);
            if !frames.is_empty() {
                r.mix_seq += 1;
            }
            match mixed {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(room = %r.id, "mix failed: {e}");
                    continue;
                }
                Err(_) => {
                    // A codec panic: start the room's mixer afresh.
                    self.io.counters.panics += 1;
                    r.mixer = Mixer::new().ok();
                    continue;
                }
            }
            for frame in frames.drain(..) {
                let ts = if frame.codec.law().is_some() {
                    ts[1]
                } else {
                    ts[0]
                };
                self.write_mixed(&frame, seq, ts, now);
            }
        }
    }

    /// Writes one mixed frame to its listener; `ts` is in the frame's codec clock.
    fn write_mixed(&mut self, frame: &MixedFrame, seq: u64, ts: u32, now: Instant) {
        let mut g = Generated {
            pt: Pt::new_with_value(0),
            seq,
            ts,
            clock_rate: frame.codec.clock_rate(),
            payload: frame.payload.clone(),
            level: frame.level,
            marker: false,
        };
        self.write_audio(frame.listener, frame.codec, &mut g, now);
    }

    /// Writes a generated audio frame of `codec` (`g`, its payload type set here to the
    /// listener's) into `listener`'s first audio slot, continuing the slot's sequence; `false`
    /// if the listener takes no `codec` (nothing is transcoded).
    pub(super) fn write_audio(
        &mut self,
        listener: usize,
        codec: RtpCodec,
        g: &mut Generated,
        now: Instant,
    ) -> bool {
        let Some(p) = self.peers.get_mut(listener) else {
            return true;
        };
        let Some(line) = p.first_slot(MediaKind::Audio) else {
            return true;
        };
        let mid = p.lines[line].mid;
        let bytes = g.payload.len() as u64;
        let Some(slot) = p.lines[line].slot.as_mut() else {
            return true;
        };
        let outbox = &mut self.io.outbox;
        let written = catch_unwind(AssertUnwindSafe(|| match &mut p.transport {
            Transport::WebRtc(rtc) => {
                let pt = rtc
                    .codec_config()
                    .iter()
                    .find(|c| c.spec().codec == codec.codec())
                    .map(|c| c.pt());
                let Some(pt) = pt else {
                    return Written::NoCodec;
                };
                g.pt = pt;
                match sealed_stream(&mut p.egress, mid) {
                    Some((egress, stream)) => match slot.writer.prepare_generated(g, now) {
                        Some(out) if egress.seal(stream, &out, now, outbox) => Written::Sealed,
                        _ => Written::No,
                    },
                    None if slot.writer.write_generated(rtc, mid, g, now) => Written::Queued,
                    None => Written::No,
                }
            }
            Transport::Remote(_) => Written::No,
            Transport::Rtp(leg) => {
                if leg.codec != codec {
                    return Written::NoCodec;
                }
                // Key presses being sent on the leg's stream hold its audio back.
                if leg.dtmf_out.sending() {
                    return Written::No;
                }
                let header = PlainHeader {
                    pt: leg.pt,
                    ssrc: leg.ssrc,
                };
                g.pt = Pt::new_with_value(leg.pt);
                if slot
                    .writer
                    .write_generated_plain(g, header, now, &mut leg.out)
                    && leg.send_out()
                {
                    Written::Sent
                } else {
                    Written::No
                }
            }
        }));
        match written {
            Ok(Written::Queued) => {
                p.stats.packets_out += 1;
                p.stats.bytes_out += bytes;
                if !p.dirty {
                    p.dirty = true;
                    self.io.queues.dirty.push(listener);
                }
            }
            Ok(written @ (Written::Sent | Written::Sealed)) => {
                if let Written::Sealed = written {
                    self.io.counters.sealed += 1;
                }
                p.stats.packets_out += 1;
                p.stats.bytes_out += bytes;
            }
            Ok(Written::No) => {}
            Ok(Written::NoCodec) => return false,
            Err(_) => {
                self.io.counters.panics += 1;
                self.io.queues.dead.push((
                    listener,
                    p.generation,
                    MemberState::Failed("internal error".into()),
                ));
            }
        }
        true
    }

    /// The video source a member publishes, on its own transport or its companion's.
    fn published_video(&self, peer: usize) -> Option<usize> {
        let p = self.peers.get(peer)?;
        p.published(MediaKind::Video).or_else(|| {
            p.companion
                .and_then(|c| self.peers.get(c))
                .and_then(|c| c.published(MediaKind::Video))
        })
    }

    /// Points the video slot of every voice-switched member of `room` at the active speaker (the
    /// active speaker itself sees the previous one), starting on a keyframe.
    pub(super) fn switch_videos(&mut self, room: usize, now: Instant) {
        let Some(r) = self.rooms.get(room) else {
            return;
        };
        let (active, previous) = (r.active_speaker, r.previous_speaker);
        let members = r.members.clone();
        for m in members {
            let Some(p) = self.peers.get(m) else { continue };
            if !p.switched {
                continue;
            }
            // Speakers are primaries (they carry the audio); a companion acts for its primary.
            let owner = p.companion_of.unwrap_or(m);
            let target = if Some(owner) == active {
                previous
            } else {
                active
            };
            let Some(source) = target
                .filter(|t| *t != owner)
                .and_then(|t| self.published_video(t))
            else {
                continue;
            };
            let Some(line) = p.first_slot(MediaKind::Video) else {
                continue;
            };
            if p.lines[line].slot.as_ref().and_then(|s| s.source) == Some(source) {
                continue;
            }
            self.unsubscribe(m, MediaKind::Video);
            let Some(p) = self.peers.get_mut(m) else {
                continue;
            };
            let Some(slot) = p.lines[line].slot.as_mut() else {
                continue;
            };
            slot.source = Some(source);
            slot.writer.restart(true);
            slot.layer = None;
            slot.target = None;
            if let Some(s) = self
                .rooms
                .get_mut(room)
                .and_then(|r| r.sources.get_mut(source))
            {
                s.subscribers.push((m, line));
                s.keyframe_wanted = true;
                self.io.interest_changed = true;
            }
            self.request_keyframe(room, source, now);
        }
    }
}
