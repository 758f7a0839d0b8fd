//! Forwarding: media lines, slot assignment (last-N), fan-out with rewriting, keyframe requests,
//! talking and active-speaker tracking.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec;
use str0m::media::{Direction, KeyframeRequestKind, Mid, Rid};
use str0m::rtp::RtpPacket;

use super::counters::ShardCounters;
use super::egress::PeerEgress;
use super::outbox::Outbox;
use super::peer::{Line, Peer, Slot, Transport};
use super::relay::Relay;
use super::room::{LayerStat, Source};
use super::taps::tap_packet;
use super::worker::Worker;
use crate::error::MediaError;
use crate::event::{MediaEvent, MemberState};
use crate::hotpath::{Forwarded, PlainHeader};
use crate::ids::{MemberId, RoomId};
use crate::negotiate::{AnswerParts, guarded};
use crate::options::{MediaKind, RtpCodec};
use crate::transcode::Adapted;

/// How much louder (0–100 scale) a member must be to take over from a talking active speaker.
const SPEAKER_MARGIN: u8 = 5;

/// Least time between two keyframe requests to one source.
const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(300);

impl Worker {
    pub(super) fn handle_media_added(&mut self) {
        let added = std::mem::take(&mut self.io.queues.media_added);
        for (peer, media) in added {
            self.register_line(peer, media.mid, media.kind.into(), media.direction);
        }
    }

    /// Records an m-line of `peer`: a source if the peer sends on it, a slot if we can.
    pub(super) fn register_line(
        &mut self,
        peer: usize,
        mid: Mid,
        kind: MediaKind,
        direction: Direction,
    ) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        if p.line_of(mid).is_some() {
            return;
        }
        let room = p.room;
        // str0m 0.25 makes no send stream on an m-line the client sends simulcast on (it makes
        // one per simulcast layer *we* send), so such a line, though sendrecv, is no slot.
        let can_send = match &mut p.transport {
            Transport::WebRtc(rtc) => rtc.direct_api().stream_tx_by_mid(mid, None).is_some(),
            _ => true,
        };
        let slot = direction.is_sending() && can_send;
        if slot && let (Transport::WebRtc(rtc), Some(egress)) = (&mut p.transport, &mut p.egress) {
            egress.own(rtc, mid);
        }
        p.lines.push(Line {
            mid,
            kind,
            source: None,
            slot: slot.then(Slot::default),
        });
        let line = p.lines.len() - 1;
        if direction.is_receiving() {
            self.publish_line(peer, line);
        }
        self.fill_free_slots(peer);
        self.apply_policy(room);
    }

    /// Makes `peer`'s line `line` a source of the peer's room: the room's members' free slots
    /// take it, and the room's other shards learn about it.
    pub(super) fn publish_line(&mut self, peer: usize, line: usize) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let Some(l) = p.lines.get_mut(line) else {
            return;
        };
        let Some(r) = self.rooms.get_mut(p.room) else {
            return;
        };
        let (source, _) = r.sources.insert(Source {
            publisher: peer,
            mid: l.mid,
            kind: l.kind,
            subscribers: Vec::new(),
            keyframe_wanted: false,
            last_keyframe_request: None,
            layers: Vec::new(),
            relay_to: Vec::new(),
            wanted_here: false,
            history: Vec::new(),
        });
        l.source = Some(source);
        let members = r.members.clone();
        for member in members {
            if member != peer {
                self.fill_free_slots(member);
            }
        }
        self.announce_source(peer, line);
    }

    /// Gives `peer`'s free slots the room's sources it does not receive yet (last-N).
    pub(super) fn fill_free_slots(&mut self, peer: usize) {
        let last_n = self.last_n;
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let Some(r) = self.rooms.get_mut(p.room) else {
            return;
        };
        let partner = p.companion.or(p.companion_of);
        // A fed member's first audio slot carries the room's source member's frames.
        let reserved = p.fed.then(|| p.first_slot(MediaKind::Audio)).flatten();
        let candidates: Vec<(usize, MediaKind)> = r
            .sources
            .iter()
            .filter(|(i, s)| {
                s.publisher != peer && Some(s.publisher) != partner && !p.subscribes(*i)
            })
            .map(|(i, s)| (i, s.kind))
            .collect();
        for (source, kind) in candidates {
            if p.used_slots(kind) >= last_n || (kind == MediaKind::Audio && p.mixed) {
                continue;
            }
            let free = p.lines.iter().enumerate().position(|(i, l)| {
                Some(i) != reserved
                    && l.kind == kind
                    && l.slot.as_ref().is_some_and(|s| s.source.is_none())
            });
            let Some(line) = free else { continue };
            let Some(slot) = p.lines[line].slot.as_mut() else {
                continue;
            };
            slot.source = Some(source);
            slot.writer.restart(kind == MediaKind::Video);
            slot.layer = None;
            slot.target = None;
            if let Some(s) = r.sources.get_mut(source) {
                s.subscribers.push((peer, line));
                s.keyframe_wanted |= kind == MediaKind::Video;
            }
            self.io.interest_changed = true;
        }
    }

    /// Removes every trace of `peer` from `room`, `sources` being the room sources it
    /// published; returns the room id.
    pub(super) fn detach_from_room(
        &mut self,
        peer: usize,
        room: usize,
        sources: Vec<usize>,
    ) -> Option<RoomId> {
        let r = self.rooms.get_mut(room)?;
        r.members.retain(|m| *m != peer);
        let mut freed = Vec::new();
        for source in sources {
            if let Some(source) = r.sources.remove(source) {
                freed.extend(source.subscribers);
            }
        }
        for (_, source) in r.sources.iter_mut() {
            source.subscribers.retain(|(p, _)| *p != peer);
        }
        self.io.interest_changed = true;
        if r.active_speaker == Some(peer) {
            r.active_speaker = None;
        }
        if r.previous_speaker == Some(peer) {
            r.previous_speaker = None;
        }
        if let Some(mixer) = r.mixer.as_mut() {
            mixer.remove(peer);
        }
        let room_id = r.id.clone();
        self.refill(freed);
        Some(room_id)
    }

    /// Removes one source from `room`; its subscribers' slots take other sources.
    pub(super) fn free_source(&mut self, room: usize, source: usize) {
        if let Some(s) = self
            .rooms
            .get_mut(room)
            .and_then(|r| r.sources.remove(source))
        {
            self.refill(s.subscribers);
        }
    }

    /// Empties the `(subscriber, line)` slots of removed sources and gives them other sources.
    fn refill(&mut self, freed: Vec<(usize, usize)>) {
        for (subscriber, line) in &freed {
            if let Some(slot) = self
                .peers
                .get_mut(*subscriber)
                .and_then(|p| p.lines.get_mut(*line))
                .and_then(|l| l.slot.as_mut())
            {
                slot.source = None;
            }
        }
        for (subscriber, _) in freed {
            self.fill_free_slots(subscriber);
        }
    }

    /// Fans out the publisher packets queued while draining.
    pub(super) fn forward_queued(&mut self, now: Instant) {
        let mut queue = std::mem::take(&mut self.io.queues.rtp);
        for (publisher, packet) in queue.drain(..) {
            self.forward(publisher, &packet, now);
        }
        if self.io.queues.rtp.is_empty() {
            self.io.queues.rtp = queue;
        }
    }

    /// A WebRTC publisher's packet: find its line and codec, then fan it out.
    fn forward(&mut self, publisher: usize, packet: &RtpPacket, now: Instant) {
        let Some(p) = self.peers.get_mut(publisher) else {
            return;
        };
        let Some(rtc) = p.rtc_mut() else { return };
        let Some((mid, rid)) = rtc
            .direct_api()
            .stream_rx(&packet.header.ssrc)
            .map(|rx| (rx.mid(), rx.rid()))
        else {
            return;
        };
        let pt = packet.header.payload_type;
        // A RED payload type belongs to its primary codec.
        let Some((spec, main_pt)) = rtc
            .codec_config()
            .iter()
            .find(|c| c.pt() == pt || c.red() == Some(pt))
            .map(|c| (c.spec(), c.pt()))
        else {
            return;
        };
        let Some(line) = p.line_of(mid) else { return };
        let video = p.lines[line].kind == MediaKind::Video;
        let mut forwarded = Forwarded::from_rtp(packet, spec, video);
        if pt != main_pt && !forwarded.unwrap_red(main_pt) {
            return;
        }
        forwarded.rid = rid;
        self.fan_out(publisher, line, &forwarded, now);
    }

    /// Sends a publisher's packet on `line` to everyone receiving it: talking detection, mute,
    /// the room's mixer, then each subscriber slot.
    pub(super) fn fan_out(
        &mut self,
        publisher: usize,
        line: usize,
        forwarded: &Forwarded,
        now: Instant,
    ) {
        let Some(p) = self.peers.get_mut(publisher) else {
            return;
        };
        let (kind, source, mid) = (p.lines[line].kind, p.lines[line].source, p.lines[line].mid);
        let k = ShardCounters::kind_index(kind);
        self.io.counters.received[k] += 1;
        let Some(source) = source else { return };
        // A remote member's talking events come from its own shard.
        let local = p.remote().is_none();
        if kind == MediaKind::Audio && p.tap.is_some() {
            tap_packet(&mut p.tap, forwarded);
        }
        if kind == MediaKind::Audio
            && !p.audio_muted
            && let Some(level) = forwarded.audio_level
            && let Some(talking) = p.speech.observe(level.unsigned_abs(), now)
            && local
        {
            let (member, level) = (p.member.clone(), p.speech.level());
            if let Some(r) = self.rooms.get(p.room) {
                self.io.emit(MediaEvent::Talking {
                    room: r.id.clone(),
                    member,
                    talking,
                    level,
                });
            }
        }
        if p.muted(kind) {
            return;
        }
        let (room, origin) = (p.room, p.companion_of.unwrap_or(publisher));
        let Some(r) = self.rooms.get_mut(room) else {
            return;
        };
        if local {
            // Audio goes to every shard (mixing, talking, the active speaker); video only where
            // subscribers want it.
            let wanted = r.sources.get(source).map_or(&[][..], |s| &s.relay_to[..]);
            for &shard in &r.replicas {
                if kind == MediaKind::Video && !wanted.contains(&shard) {
                    continue;
                }
                self.io.relay.push(
                    shard,
                    Relay::Rtp {
                        from: origin,
                        mid,
                        packet: forwarded.clone(),
                    },
                );
            }
        }
        if kind == MediaKind::Audio
            && let Some(mixer) = r.mixer.as_mut()
            && let Some(codec) = RtpCodec::of(forwarded.spec.codec)
        {
            let level = forwarded.audio_level.map_or(127, i8::unsigned_abs);
            mixer.push(publisher, codec, forwarded.payload.clone(), level);
        }
        let Some(s) = r.sources.get_mut(source) else {
            return;
        };
        if forwarded.keyframe {
            s.keyframe_wanted = false;
        }
        if forwarded.video && self.owned_egress {
            s.remember(forwarded);
        }
        if let Some(rid) = forwarded.rid {
            count_layer(&mut s.layers, rid, forwarded.payload.len(), now);
        }
        let peers = &mut self.peers;
        let io = &mut self.io;
        for &(subscriber, sub_line) in &s.subscribers {
            let Some(sub) = peers.get_mut(subscriber) else {
                continue;
            };
            if !sub.connected || (kind == MediaKind::Audio && sub.deaf) {
                continue;
            }
            let result = catch_unwind(AssertUnwindSafe(|| {
                write_slot(sub, sub_line, forwarded, now, &mut io.outbox)
            }));
            match result {
                Ok(Written::Queued) => {
                    io.counters.count_forwarded(k, forwarded.payload.len());
                    sub.stats.packets_out += 1;
                    sub.stats.bytes_out += forwarded.payload.len() as u64;
                    if !sub.dirty {
                        sub.dirty = true;
                        io.queues.dirty.push(subscriber);
                    }
                }
                Ok(written @ (Written::Sent | Written::Sealed)) => {
                    if let Written::Sealed = written {
                        io.counters.sealed += 1;
                    }
                    io.counters.count_forwarded(k, forwarded.payload.len());
                    sub.stats.packets_out += 1;
                    sub.stats.bytes_out += forwarded.payload.len() as u64;
                }
                Ok(Written::No | Written::NoCodec) => {}
                Err(_) => {
                    io.counters.panics += 1;
                    io.queues.dead.push((
                        subscriber,
                        sub.generation,
                        MemberState::Failed("internal error".into()),
                    ));
                }
            }
        }
    }

    /// A subscriber asked for a keyframe (PLI/FIR): pass it on to the publisher, throttled.
    pub(super) fn handle_keyframe_requests(&mut self, now: Instant) {
        let requests = std::mem::take(&mut self.io.queues.keyframe_requests);
        for (subscriber, request) in requests {
            let Some(p) = self.peers.get(subscriber) else {
                continue;
            };
            let Some(line) = p.line_of(request.mid) else {
                continue;
            };
            let Some(slot) = p.lines[line].slot.as_ref() else {
                continue;
            };
            let (Some(source), layer) = (slot.source, slot.layer) else {
                continue;
            };
            let room = p.room;
            if let Some(rid) = layer {
                self.request_layer_keyframe(room, source, rid, now);
                continue;
            }
            if let Some(s) = self
                .rooms
                .get_mut(room)
                .and_then(|r| r.sources.get_mut(source))
            {
                s.keyframe_wanted = true;
            }
            self.request_keyframe(room, source, now);
        }
    }

    /// Resends what peers reported lost on streams Weft seals, from their sources' rings, as
    /// RTX where negotiated.
    pub(super) fn resend_lost(&mut self, now: Instant) {
        let lost = std::mem::take(&mut self.io.queues.lost);
        for &(peer, mid, seq) in &lost {
            let Some(p) = self.peers.get_mut(peer) else {
                continue;
            };
            let Some(line) = p.line_of(mid) else {
                continue;
            };
            let Some(source) = p.lines[line].slot.as_ref().and_then(|s| s.source) else {
                continue;
            };
            let Some(s) = self.rooms.get(p.room).and_then(|r| r.sources.get(source)) else {
                continue;
            };
            let (Transport::WebRtc(rtc), Some(egress), Some(slot)) = (
                &mut p.transport,
                p.egress.as_deref_mut(),
                p.lines[line].slot.as_ref(),
            ) else {
                continue;
            };
            let Some(out) = slot
                .writer
                .source_seq(seq)
                .and_then(|original| s.recent(slot.layer, original))
                .and_then(|packet| slot.writer.prepare_resend(rtc, packet, seq))
            else {
                continue;
            };
            let rtx_pt = rtc
                .codec_config()
                .iter()
                .find(|c| c.pt() == out.pt)
                .and_then(|c| c.resend());
            if egress.resend(mid, &out, rtx_pt, now, &mut self.io.outbox) {
                self.io.counters.retransmitted += 1;
            }
        }
        let mut lost = lost;
        lost.clear();
        if self.io.queues.lost.is_empty() {
            self.io.queues.lost = lost;
        }
    }

    /// Re-sends keyframe requests for sources still waiting for one.
    pub(super) fn retry_keyframe_requests(&mut self, now: Instant) {
        let wanted: Vec<(usize, usize)> = self
            .rooms
            .iter()
            .flat_map(|(ri, r)| {
                r.sources
                    .iter()
                    .filter(|(_, s)| s.keyframe_wanted && !s.subscribers.is_empty())
                    .map(move |(si, _)| (ri, si))
            })
            .collect();
        for (room, source) in wanted {
            self.request_keyframe(room, source, now);
        }
    }

    pub(super) fn request_keyframe(&mut self, room: usize, source: usize, now: Instant) {
        let Some(r) = self.rooms.get_mut(room) else {
            return;
        };
        let Some(s) = r.sources.get_mut(source) else {
            return;
        };
        if s.kind != MediaKind::Video
            || s.last_keyframe_request
                .is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_REQUEST_INTERVAL)
        {
            return;
        }
        let (publisher, mid) = (s.publisher, s.mid);
        if self.send_keyframe_request(publisher, mid, None)
            && let Some(s) = self
                .rooms
                .get_mut(room)
                .and_then(|r| r.sources.get_mut(source))
        {
            s.last_keyframe_request = Some(now);
        }
    }

    /// Asks `publisher` for a keyframe on `mid` (layer `rid`): through the member's own shard when
    /// it is a remote member, else as a PLI from its `Rtc`, reported as `KeyframeRequested`.
    /// `false` if nothing could be sent.
    pub(super) fn send_keyframe_request(
        &mut self,
        publisher: usize,
        mid: Mid,
        rid: Option<Rid>,
    ) -> bool {
        if self.relay_keyframe_request(publisher, mid, rid) {
            return true;
        }
        let Some(p) = self.peers.get_mut(publisher) else {
            return false;
        };
        let (member, room) = (p.member.clone(), p.room);
        let Some(rtc) = p.rtc_mut() else { return false };
        let sent = catch_unwind(AssertUnwindSafe(|| {
            let mut api = rtc.direct_api();
            let rx = api.stream_rx_by_mid(mid, rid)?;
            rx.request_keyframe(KeyframeRequestKind::Pli);
            Some(())
        }))
        .ok()
        .flatten()
        .is_some();
        if !sent {
            return false;
        }
        self.drain(publisher);
        if let Some(r) = self.rooms.get(room) {
            self.io.emit(MediaEvent::KeyframeRequested {
                room: r.id.clone(),
                member,
            });
        }
        true
    }

    /// Ends talking for silent members, picks each room's active speaker and switches the video
    /// of one-slot members accordingly.
    pub(super) fn update_speakers(&mut self, now: Instant) {
        let mut changed = Vec::new();
        for (ri, r) in self.rooms.iter_mut() {
            let mut loudest: Option<(u8, usize)> = None;
            for &m in &r.members {
                let Some(p) = self.peers.get_mut(m) else {
                    continue;
                };
                if let Some(talking) = p.speech.idle(now)
                    && p.remote().is_none()
                {
                    self.io.emit(MediaEvent::Talking {
                        room: r.id.clone(),
                        member: p.member.clone(),
                        talking,
                        level: p.speech.level(),
                    });
                }
                if p.speech.talking() && loudest.is_none_or(|(l, _)| p.speech.level() > l) {
                    loudest = Some((p.speech.level(), m));
                }
            }
            let Some((level, loudest)) = loudest else {
                continue;
            };
            let current = r
                .active_speaker
                .and_then(|a| self.peers.get(a).map(|p| (a, p)));
            let keep = current.is_some_and(|(a, p)| {
                a == loudest
                    || (p.speech.talking()
                        && level < p.speech.level().saturating_add(SPEAKER_MARGIN))
            });
            if keep {
                continue;
            }
            r.previous_speaker = r.active_speaker.replace(loudest);
            let member_of =
                |i: Option<usize>| i.and_then(|i| self.peers.get(i)).map(|p| p.member.clone());
            if r.home
                && let Some(member) = member_of(Some(loudest))
            {
                self.io.emit(MediaEvent::ActiveSpeaker {
                    room: r.id.clone(),
                    member,
                    previous: member_of(r.previous_speaker),
                });
            }
            changed.push(ri);
        }
        for room in changed {
            self.switch_videos(room, now);
        }
    }

    /// Applies the remote answer to a member's pending offer: each transport takes the answer
    /// part for its m-line (one part when the member has one transport).
    pub(super) fn accept_answer(
        &mut self,
        member: &MemberId,
        parts: AnswerParts,
    ) -> Result<(), MediaError> {
        let transports = self.transports_of(member)?;
        let mut chosen = Vec::with_capacity(transports.len());
        for &index in &transports {
            let offered = self
                .peers
                .get(index)
                .and_then(|p| p.pending_offer.as_ref())
                .ok_or_else(|| MediaError::State("no offer pending".into()))?;
            let part = match (transports.len(), parts.len()) {
                (1, 1) => 0,
                (1, _) => {
                    return Err(MediaError::Sdp(
                        "the offer was one transport; the answer must BUNDLE its m-lines".into(),
                    ));
                }
                _ => parts
                    .iter()
                    .position(|(mid, _)| {
                        mid.as_deref()
                            .is_some_and(|m| offered.1.iter().any(|(o, _)| &**o == m))
                    })
                    .ok_or_else(|| {
                        MediaError::Sdp("the answer lacks a section for an offered m-line".into())
                    })?,
            };
            chosen.push((index, part));
        }
        let mut parts: Vec<Option<SdpAnswer>> = parts.into_iter().map(|(_, a)| Some(a)).collect();
        for (index, part) in chosen {
            let answer = parts[part]
                .take()
                .ok_or_else(|| MediaError::Sdp("one answer section for two m-lines".into()))?;
            self.accept_answer_on(member, index, answer)?;
        }
        Ok(())
    }

    fn accept_answer_on(
        &mut self,
        member: &MemberId,
        index: usize,
        answer: SdpAnswer,
    ) -> Result<(), MediaError> {
        let p = self
            .peers
            .get_mut(index)
            .ok_or_else(|| MediaError::NoSuchMember(member.clone()))?;
        let (pending, offered) = p
            .pending_offer
            .take()
            .ok_or_else(|| MediaError::State("no offer pending".into()))?;
        p.lend_streams();
        let rtc = p.rtc_mut().ok_or_else(not_webrtc)?;
        let accepted = guarded(|| rtc.sdp_api().accept_answer(pending, answer));
        p.reclaim_streams();
        let accepted = accepted?;
        self.drain(index);
        accepted.map_err(|e| MediaError::Sdp(e.to_string()))?;
        for (mid, kind) in offered {
            let direction = self
                .peers
                .get(index)
                .and_then(|p| p.rtc())
                .and_then(|rtc| rtc.media(mid))
                .map(|m| m.direction());
            if let Some(direction) = direction {
                self.register_line(index, mid, kind, direction);
            }
        }
        Ok(())
    }

    pub(super) fn update_media(
        &mut self,
        member: &MemberId,
        offer: SdpOffer,
    ) -> Result<String, MediaError> {
        let index = self.peer_of(member)?;
        self.drop_companion(index);
        let p = self
            .peers
            .get_mut(index)
            .ok_or_else(|| MediaError::NoSuchMember(member.clone()))?;
        p.lend_streams();
        let rtc = p.rtc_mut().ok_or_else(not_webrtc)?;
        let answer = guarded(|| rtc.sdp_api().accept_offer(offer));
        p.reclaim_streams();
        let answer = answer?;
        self.drain(index);
        Ok(answer
            .map_err(|e| MediaError::Sdp(e.to_string()))?
            .to_sdp_string())
    }

    /// Mutes or unmutes what a member sends of `kind`, on each of its transports.
    pub(super) fn set_muted(
        &mut self,
        member: &MemberId,
        kind: MediaKind,
        muted: bool,
    ) -> Result<(), MediaError> {
        let transports = self.transports_of(member)?;
        for &index in &transports {
            self.set_muted_on(index, kind, muted);
        }
        self.announce_muted(transports[0], kind, muted);
        Ok(())
    }

    /// Mutes or unmutes what one transport (or remote member) sends of `kind`.
    pub(super) fn set_muted_on(&mut self, index: usize, kind: MediaKind, muted: bool) {
        let Some(p) = self.peers.get_mut(index) else {
            return;
        };
        match kind {
            MediaKind::Audio => p.audio_muted = muted,
            MediaKind::Video => p.video_muted = muted,
        }
        if muted {
            return;
        }
        // Unmuted: subscribers continue seamlessly from a fresh mapping (and a keyframe for video).
        let sources: Vec<usize> = p
            .lines
            .iter()
            .filter(|l| l.kind == kind)
            .filter_map(|l| l.source)
            .collect();
        let Some(r) = self.rooms.get_mut(p.room) else {
            return;
        };
        for source in sources {
            let Some(s) = r.sources.get_mut(source) else {
                continue;
            };
            s.keyframe_wanted |= kind == MediaKind::Video;
            for &(subscriber, line) in &s.subscribers {
                if let Some(slot) = self
                    .peers
                    .get_mut(subscriber)
                    .and_then(|p| p.lines.get_mut(line))
                    .and_then(|l| l.slot.as_mut())
                {
                    slot.writer.restart(kind == MediaKind::Video);
                }
            }
        }
    }

    pub(super) fn set_deaf(&mut self, member: &MemberId, deaf: bool) -> Result<(), MediaError> {
        for index in self.transports_of(member)? {
            let p = self
                .peers
                .get_mut(index)
                .ok_or_else(|| MediaError::NoSuchMember(member.clone()))?;
            p.deaf = deaf;
            if !deaf {
                for line in p.lines.iter_mut().filter(|l| l.kind == MediaKind::Audio) {
                    if let Some(slot) = line.slot.as_mut() {
                        slot.writer.restart(false);
                    }
                }
            }
        }
        Ok(())
    }
}

fn not_webrtc() -> MediaError {
    MediaError::State("not a WebRTC member".into())
}

/// Adds a packet to its layer's bitrate window.
fn count_layer(layers: &mut Vec<LayerStat>, rid: Rid, bytes: usize, now: Instant) {
    match layers.iter_mut().find(|l| l.rid == rid) {
        Some(layer) => layer.bytes += bytes as u64,
        None => layers.push(LayerStat {
            bytes: bytes as u64,
            ..LayerStat::new(rid, now)
        }),
    }
}

/// What writing to a subscriber did.
pub(super) enum Written {
    /// Queued in the subscriber's `Rtc`: it needs a tick to go out.
    Queued,
    /// Sent directly (plain-RTP leg).
    Sent,
    /// Sealed by Weft into the shard's send buffer (owned egress).
    Sealed,
    /// Not written (gated, no codec, stale).
    No,
    /// Not written: the subscriber takes no audio of the generated frame's codec.
    NoCodec,
}

/// The codec a subscriber needs for audio of `codec`: `Ok(None)` if it takes `codec` itself,
/// `Err(())` if it takes none of ours.
fn audio_codec_for(transport: &Transport, codec: Codec) -> Result<Option<RtpCodec>, ()> {
    if let Transport::Rtp(leg) = transport {
        return Ok((leg.codec.codec() != codec).then_some(leg.codec));
    }
    let Transport::WebRtc(rtc) = transport else {
        return Err(());
    };
    let has = |c: Codec| rtc.codec_config().iter().any(|p| p.spec().codec == c);
    if has(codec) {
        Ok(None)
    } else if RtpCodec::of(codec).is_none() {
        Err(())
    } else {
        [RtpCodec::Opus, RtpCodec::Pcmu, RtpCodec::Pcma]
            .into_iter()
            .find(|c| has(c.codec()))
            .map(Some)
            .ok_or(())
    }
}

/// A peer's egress with its stream of `mid`, when Weft seals that stream.
pub(super) fn sealed_stream(
    egress: &mut Option<Box<PeerEgress>>,
    mid: Mid,
) -> Option<(&mut PeerEgress, usize)> {
    let egress = egress.as_deref_mut()?;
    let stream = egress.sealed_stream(mid)?;
    Some((egress, stream))
}

/// Writes a forwarded packet into one of a subscriber's slots.
fn write_slot(
    sub: &mut Peer,
    line: usize,
    forwarded: &Forwarded,
    now: Instant,
    outbox: &mut Outbox,
) -> Written {
    let Some(l) = sub.lines.get_mut(line) else {
        return Written::No;
    };
    let mid = l.mid;
    let Some(slot) = l.slot.as_mut() else {
        return Written::No;
    };
    if let Transport::Rtp(leg) = &sub.transport
        && leg.dtmf_out.sending()
    {
        // Key presses are being sent on the leg's stream: its audio waits.
        return Written::No;
    }
    // Audio in a codec the subscriber did not negotiate (a G.711 leg and an Opus member).
    let converted;
    let forwarded = if forwarded.video {
        forwarded
    } else {
        match slot
            .codec
            .adapt(forwarded, |codec| audio_codec_for(&sub.transport, codec))
        {
            Adapted::AsIs => forwarded,
            Adapted::Converted(f) => {
                converted = f;
                &converted
            }
            Adapted::Drop => return Written::No,
        }
    };
    if let Some(rid) = forwarded.rid
        && slot.layer != Some(rid)
    {
        // Simulcast: switch to the target layer on its keyframe; other layers are not for us.
        if slot.target != Some(rid) || !forwarded.keyframe {
            return Written::No;
        }
        slot.layer = Some(rid);
        slot.writer.restart(true);
    }
    match &mut sub.transport {
        Transport::WebRtc(rtc) => match sealed_stream(&mut sub.egress, mid) {
            Some((egress, stream)) => match slot.writer.prepare(rtc, forwarded, now) {
                Some(out) if egress.seal(stream, &out, now, outbox) => Written::Sealed,
                _ => Written::No,
            },
            None if slot.writer.write(rtc, mid, forwarded, now) => Written::Queued,
            None => Written::No,
        },
        Transport::Remote(_) => Written::No,
        Transport::Rtp(leg) => {
            let header = PlainHeader {
                pt: leg.pt,
                ssrc: leg.ssrc,
            };
            if slot
                .writer
                .write_plain(forwarded, header, now, &mut leg.out)
                && leg.send_out()
            {
                Written::Sent
            } else {
                Written::No
            }
        }
    }
}
