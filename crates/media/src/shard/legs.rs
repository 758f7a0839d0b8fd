//! The shard side of plain-RTP legs: adding and configuring them, reading their sockets under
//! the latching rules of [`super::latch`] (a bounded number of datagrams per loop turn; on SRTP
//! legs each unprotected first), and sending them key presses paced by the shard's timer heap.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use mio::net::UdpSocket;
use mio::{Interest, Token};
use str0m::media::{Direction, Mid, Pt};
use weft_srtp::SrtpError;

use super::latch::Admission;
use super::leg::{RtpLeg, parse_rtp};
use super::peer::{Peer, Transport};
use super::timers::Due;
use super::worker::{LEGS, Worker};
use crate::dtmf::Digit;
use crate::error::MediaError;
use crate::event::MediaEvent;
use crate::hotpath::{Forwarded, PlainHeader};
use crate::ids::{MemberId, RoomId};
use crate::options::{MediaKind, RtpLegConfig, RtpLegOptions};
use crate::transcode::SlotCodec;

/// The m-line id given to a leg's one audio line.
const LEG_MID: &str = "leg";
/// Most datagrams read from one leg's socket in one loop turn. Readiness is edge-triggered, so a
/// leg that may hold more is read again on the next turn: a flood on one leg's port cannot
/// starve the shard's other sockets, commands, timers and mixes.
const LEG_READS_PER_TURN: usize = 64;

impl Worker {
    pub(super) fn add_leg(
        &mut self,
        room: RoomId,
        member: MemberId,
        socket: std::net::UdpSocket,
        opts: &RtpLegOptions,
        now: Instant,
    ) -> Result<(), MediaError> {
        let room_index = self.admit(room, &member)?;
        let config_err = |e: std::io::Error| MediaError::Config(format!("leg socket: {e}"));
        socket.set_nonblocking(true).map_err(config_err)?;
        let socket = UdpSocket::from_std(socket);
        let ssrc = leg_ssrc(&member, now);
        let leg = RtpLeg::new(socket, &opts.config(), ssrc, now, self.latch_window)
            .map_err(keying_failed)?;
        let (index, generation) = self.peers.insert(Peer::new(
            Transport::Rtp(Box::new(leg)),
            0,
            member.clone(),
            room_index,
            String::new(),
            &opts.member,
            now,
        ));
        let registered = match self.peers.get_mut(index).map(|p| {
            p.generation = generation;
            &mut p.transport
        }) {
            Some(Transport::Rtp(leg)) => self
                .poll
                .registry()
                .register(&mut leg.socket, Token(LEGS + index), Interest::READABLE)
                .map_err(config_err),
            _ => Err(MediaError::State("leg vanished".into())),
        };
        if let Err(e) = registered {
            self.peers.remove(index);
            return Err(e);
        }
        self.members.insert(member, index);
        if let Some(r) = self.rooms.get_mut(room_index) {
            r.members.push(index);
        }
        self.announce_joined(index);
        self.register_line(
            index,
            Mid::from(LEG_MID),
            MediaKind::Audio,
            Direction::SendRecv,
        );
        if opts.remote.is_some() {
            self.io.queues.connected.push(index);
        }
        Ok(())
    }

    /// The remote SDP named the leg's address: it sends there, and a new learning window opens.
    pub(super) fn set_leg_remote(
        &mut self,
        member: &MemberId,
        remote: SocketAddr,
        now: Instant,
    ) -> Result<(), MediaError> {
        let index = self.peer_of(member)?;
        let p = self.peers.get_mut(index).ok_or_else(|| not_a_leg(member))?;
        let Transport::Rtp(leg) = &mut p.transport else {
            return Err(not_a_leg(member));
        };
        leg.latch.set_remote(Some(remote), now);
        if !p.connected {
            self.io.queues.connected.push(index);
        }
        Ok(())
    }

    /// Applies a negotiated codec, payload types and remote to a leg (see
    /// [`crate::MediaEngine::configure_rtp_leg`]).
    pub(super) fn configure_leg(
        &mut self,
        member: &MemberId,
        config: &RtpLegConfig,
        now: Instant,
    ) -> Result<(), MediaError> {
        let index = self.peer_of(member)?;
        let p = self.peers.get_mut(index).ok_or_else(|| not_a_leg(member))?;
        let Transport::Rtp(leg) = &mut p.transport else {
            return Err(not_a_leg(member));
        };
        let clock_changed = leg.codec.clock_rate() != config.codec.clock_rate();
        leg.configure(config, now).map_err(keying_failed)?;
        if clock_changed {
            // One SSRC, one clock (RFC 7160): the output in the new clock is a new stream.
            leg.ssrc = leg_ssrc(member, now);
        }
        // What the leg hears: a new codec decision, its output continuing where it was.
        for slot in p.lines.iter_mut().filter_map(|l| l.slot.as_mut()) {
            slot.codec = SlotCodec::default();
            slot.writer.restart(false);
        }
        let (room, connected) = (p.room, p.connected);
        if let Some(mixer) = self.rooms.get_mut(room).and_then(|r| r.mixer.as_mut()) {
            mixer.remove(index);
        }
        self.restart_subscribers(index);
        if config.remote.is_some() && !connected {
            self.io.queues.connected.push(index);
        }
        Ok(())
    }

    /// Queues key presses for a leg and sends what is due.
    pub(super) fn send_dtmf(
        &mut self,
        member: &MemberId,
        events: &[u8],
        now: Instant,
    ) -> Result<(), MediaError> {
        let index = self.peer_of(member)?;
        let p = self.peers.get_mut(index).ok_or_else(|| not_a_leg(member))?;
        let Transport::Rtp(leg) = &mut p.transport else {
            return Err(not_a_leg(member));
        };
        if leg.telephone_event.is_none() {
            return Err(MediaError::Dtmf(format!(
                "leg {member} negotiated no telephone-event"
            )));
        }
        if leg.latch.remote().is_none() {
            return Err(MediaError::State(format!(
                "leg {member} has no remote address yet"
            )));
        }
        if !leg.dtmf_out.enqueue(events, now) {
            return Err(MediaError::Dtmf(format!(
                "too many keys waiting to be sent to leg {member}"
            )));
        }
        self.send_due_dtmf(index, now);
        Ok(())
    }

    /// Sends the key-press packets due on a leg, on its output stream (the audio pauses from a
    /// burst's first packet to its last), and schedules the next one on the timer heap.
    pub(super) fn send_due_dtmf(&mut self, index: usize, now: Instant) {
        let Some(p) = self.peers.get_mut(index) else {
            return;
        };
        let line = p.first_slot(MediaKind::Audio);
        let Peer {
            transport: Transport::Rtp(leg),
            lines,
            stats,
            timer_at,
            generation,
            ..
        } = p
        else {
            return;
        };
        let slot = line.and_then(|l| lines[l].slot.as_mut());
        let (Some(pt), Some(slot)) = (leg.telephone_event, slot) else {
            leg.dtmf_out.cancel();
            return;
        };
        let header = PlainHeader { pt, ssrc: leg.ssrc };
        while let Some(event) = leg.dtmf_out.poll(now) {
            if event.first {
                slot.writer.restart(false);
            }
            if slot
                .writer
                .write_event_plain(&event, header, now, &mut leg.out)
                && leg.send_out()
            {
                stats.packets_out += 1;
                stats.bytes_out += event.payload.len() as u64;
            }
            if event.last {
                slot.writer.restart(false);
            }
        }
        if let Some(at) = leg.dtmf_out.next_due()
            && *timer_at != Some(at)
        {
            *timer_at = Some(at);
            self.timers.schedule(Due {
                at,
                peer: index,
                generation: *generation,
            });
        }
    }

    /// Reads the legs whose sockets became readable, and those that still held datagrams after
    /// their last turn's share.
    pub(super) fn read_legs(&mut self, now: Instant) {
        std::mem::swap(&mut self.legs_ready, &mut self.legs_reading);
        self.legs_reading.sort_unstable();
        self.legs_reading.dedup();
        for i in 0..self.legs_reading.len() {
            let index = self.legs_reading[i];
            if self.read_leg(index, now) {
                self.legs_ready.push(index);
            }
        }
        self.legs_reading.clear();
    }

    /// Reads up to [`LEG_READS_PER_TURN`] datagrams from a leg's socket; `true` if it may hold
    /// more.
    fn read_leg(&mut self, index: usize, now: Instant) -> bool {
        let mut more = true;
        for _ in 0..LEG_READS_PER_TURN {
            let Some(Peer {
                transport: Transport::Rtp(leg),
                ..
            }) = self.peers.get_mut(index)
            else {
                more = false;
                break;
            };
            let (len, source) = match leg.socket.recv_from(&mut self.buf) {
                Ok(r) => r,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    more = false;
                    break;
                }
                // Interrupted, or an ICMP error surfacing on the socket: not fatal.
                Err(_) => continue,
            };
            self.io.counters.datagrams_in += 1;
            self.handle_leg_datagram(index, source, len, now);
        }
        self.settle(now);
        more
    }

    /// One datagram from a leg's socket: on an SRTP leg dropped unless it unprotects; dropped
    /// unless the latch admits its source (an authenticated one may move it); then a key press,
    /// or audio fanned out to the room.
    fn handle_leg_datagram(&mut self, index: usize, source: SocketAddr, len: usize, now: Instant) {
        let Some(p) = self.peers.get_mut(index) else {
            return;
        };
        let Transport::Rtp(leg) = &mut p.transport else {
            return;
        };
        let (len, authenticated) = match &mut leg.srtp {
            None => (len, false),
            Some(crypto) => match crypto.unprotect(&mut self.buf[..len]) {
                Ok(plain) => (plain, true),
                Err(_) => {
                    self.io.counters.leg_srtp_failed += 1;
                    p.stats.srtp_failed += 1;
                    return;
                }
            },
        };
        let rtp = parse_rtp(&self.buf[..len])
            .filter(|r| r.pt == leg.pt || leg.telephone_event == Some(r.pt));
        let ssrc = rtp.map(|r| r.ssrc);
        let new_stream = leg
            .latch
            .locked_ssrc()
            .is_some_and(|locked| ssrc.is_some_and(|s| s != locked));
        match leg.latch.admit(source, ssrc, authenticated, now) {
            Admission::Foreign => {
                self.io.counters.leg_foreign_dropped += 1;
                p.stats.foreign_dropped += 1;
                return;
            }
            Admission::Unmatched => {
                self.io.counters.datagrams_unmatched += 1;
                return;
            }
            Admission::Latched if !p.connected => self.io.queues.connected.push(index),
            Admission::Latched | Admission::Source => {}
        }
        let Some(rtp) = rtp else {
            self.io.counters.datagrams_unmatched += 1;
            return;
        };
        if new_stream {
            leg.seq.restart();
        }
        if leg.telephone_event == Some(rtp.pt) {
            let payload = &self.buf[rtp.payload.0..rtp.payload.1];
            if let Some(digit) = leg.dtmf.receive(payload, rtp.ts, crate::g711::RATE) {
                self.emit_dtmf(index, digit);
            }
            return;
        }
        let payload: Arc<[u8]> = Arc::from(&self.buf[rtp.payload.0..rtp.payload.1]);
        let forwarded = Forwarded {
            seq: leg.seq.extend(rtp.seq),
            ts: rtp.ts,
            pt: Pt::new_with_value(rtp.pt),
            marker: rtp.marker,
            audio_level: leg.audio_level(&payload),
            payload,
            voice_activity: None,
            video_orientation: None,
            received: now,
            rid: None,
            spec: leg.spec(),
            keyframe: false,
            video: false,
            red: None,
        };
        self.io.counters.rtp_in += 1;
        p.stats.packets_in += 1;
        p.stats.bytes_in += forwarded.payload.len() as u64;
        if new_stream {
            self.restart_subscribers(index);
        }
        self.handle_connected();
        self.fan_out(index, 0, &forwarded, now);
    }

    /// The leg's incoming stream starts afresh (a new codec or SSRC): each subscriber here takes
    /// it with a new codec decision, its output continuing where it was.
    fn restart_subscribers(&mut self, index: usize) {
        let Some((room, source)) = self
            .peers
            .get(index)
            .and_then(|p| Some((p.room, p.published(MediaKind::Audio)?)))
        else {
            return;
        };
        let Some(s) = self.rooms.get(room).and_then(|r| r.sources.get(source)) else {
            return;
        };
        for &(subscriber, line) in &s.subscribers {
            if let Some(slot) = self
                .peers
                .get_mut(subscriber)
                .and_then(|p| p.lines.get_mut(line))
                .and_then(|l| l.slot.as_mut())
            {
                slot.codec = SlotCodec::default();
                slot.writer.restart(false);
            }
        }
    }

    fn emit_dtmf(&self, index: usize, digit: Digit) {
        let Some(p) = self.peers.get(index) else {
            return;
        };
        if let Some(r) = self.rooms.get(p.room) {
            self.io.emit(MediaEvent::Dtmf {
                room: r.id.clone(),
                member: p.member.clone(),
                digit: digit.digit,
                duration_ms: digit.duration_ms,
            });
        }
    }
}

fn not_a_leg(member: &MemberId) -> MediaError {
    MediaError::State(format!("{member} is not a plain-RTP leg"))
}

fn keying_failed(e: SrtpError) -> MediaError {
    MediaError::Srtp(format!("cannot key the leg's sessions: {e}"))
}

/// An SSRC for a leg's outgoing stream, different per member and start time.
fn leg_ssrc(member: &MemberId, now: Instant) -> u32 {
    use std::hash::{BuildHasher, RandomState};
    let hash = RandomState::new().hash_one((member.as_str(), now));
    (hash as u32) | 1
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::directory::Directory;
    use crate::event_bus::EventBus;
    use crate::options::{MemberOptions, RtpCodec};
    use crate::shard::ShardSetup;

    fn worker() -> Worker {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = socket.local_addr().expect("addr");
        let setup = ShardSetup {
            index: 0,
            socket,
            advertised: vec![addr],
            advertised_tcp: Vec::new(),
            tcp: None,
            directory: Arc::new(Directory::new(1, 64)),
            events: EventBus::new(),
            last_n: 16,
            relays: mpsc::channel().1,
            pin_core: None,
            latch_window: Duration::from_secs(2),
            owned_egress: false,
        };
        Worker::new(setup, mpsc::channel().1).expect("worker")
    }

    #[test]
    fn a_busy_leg_is_read_a_share_per_turn_and_revisited_until_drained() {
        const SENT: u64 = 200;
        let mut w = worker();
        let now = Instant::now();
        let room = RoomId::from("r");
        w.create_room(room.clone(), 10, Vec::new(), true)
            .expect("room");
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let leg_addr = socket.local_addr().expect("addr");
        let opts = RtpLegOptions {
            codec: RtpCodec::Pcmu,
            payload_type: 0,
            remote: None,
            telephone_event: None,
            srtp: None,
            member: MemberOptions::default(),
        };
        w.add_leg(room, MemberId::from("leg"), socket, &opts, now)
            .expect("leg");
        let index = w.members[&MemberId::from("leg")];
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let mut datagram = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        datagram.extend_from_slice(&[0xff; 160]);
        for seq in 0..SENT as u16 {
            datagram[2..4].copy_from_slice(&seq.to_be_bytes());
            sender.send_to(&datagram, leg_addr).expect("send");
        }

        // The socket became readable once (edge-triggered): the loop queues the leg once.
        w.legs_ready.push(index);
        let mut reads = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while w.io.counters.datagrams_in < SENT && Instant::now() < deadline {
            let before = w.io.counters.datagrams_in;
            w.read_legs(Instant::now());
            reads.push((
                w.io.counters.datagrams_in - before,
                !w.legs_ready.is_empty(),
            ));
            if w.legs_ready.is_empty() {
                // Datagrams still on their way through loopback: their arrival is a new edge.
                std::thread::sleep(Duration::from_millis(1));
                w.legs_ready.push(index);
            }
        }
        assert_eq!(w.io.counters.datagrams_in, SENT, "turns: {reads:?}");
        assert!(
            reads.iter().all(|(n, _)| *n as usize <= LEG_READS_PER_TURN),
            "one share per turn: {reads:?}"
        );
        assert!(
            reads
                .iter()
                .any(|(n, again)| *n as usize == LEG_READS_PER_TURN && *again),
            "a leg read up to its share is visited again: {reads:?}"
        );
        assert_eq!(w.io.counters.rtp_in, SENT);
    }
}
