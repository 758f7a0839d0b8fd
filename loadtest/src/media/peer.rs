//! One synthetic media peer: a str0m `Rtc` (full ICE, controlling, RTP mode) on its own loopback
//! UDP socket. Publishers send synthetic VP8 (optionally three simulcast layers, periodic
//! keyframes and keyframes on PLI) and Opus-shaped audio built by `weft_media::testkit`; every
//! peer accounts what it receives per m-line. It never decodes media.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::config::DtlsCert;
use str0m::format::Codec;
use str0m::media::{
    Direction, KeyframeRequestKind, MediaKind, Mid, Pt, Rid, Simulcast, SimulcastLayer,
};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, Ssrc};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use weft_media::testkit::{
    SIMULCAST_LAYERS, audio_payload, payload_type, tag_of, vp8_layer_payload, vp8_payload,
};

use super::Counters;
use crate::stats::StreamStats;

mod answer;

/// Audio packet interval (Opus 20 ms frames) and size.
const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
const AUDIO_PAYLOAD: usize = 80;
/// RTP timestamp steps: 20 ms at 48 kHz, 1/30 s at 90 kHz.
const AUDIO_TS_STEP: u32 = 960;
const VIDEO_TS_STEP: u32 = 3000;
/// Audio level sent with every audio packet (−dBov): loud enough to count as talking.
const AUDIO_LEVEL: i8 = -30;
/// High 16 bits of every sender tag, so tags are told apart from other payload bytes.
const TAG_MAGIC: u32 = 0x4c54_0000;

/// The sender tag of peer `id`.
pub fn tag_for(id: usize) -> u32 {
    TAG_MAGIC | (id as u32 & 0xffff)
}

/// The peer id in a payload's sender tag, if it carries one of ours.
pub fn origin_of(payload: &[u8], video: bool) -> Option<u32> {
    tag_of(payload, video).filter(|t| t & 0xffff_0000 == TAG_MAGIC)
}

/// What a peer offers and sends.
#[derive(Debug, Clone)]
pub struct MediaPlan {
    /// The peer's id (its sender tag is derived from it).
    pub id: usize,
    /// The room carries audio / video m-lines.
    pub audio: bool,
    /// See `audio`.
    pub video: bool,
    /// The peer publishes (sendrecv first m-lines) rather than only receiving (recvonly).
    pub publish: bool,
    /// Publish three simulcast layers.
    pub simulcast: bool,
    /// Receive slots (m-lines) per kind.
    pub slots: usize,
    /// Time between frames of video (one packet per frame and layer).
    pub video_interval: Duration,
    /// Time between unprompted keyframes.
    pub keyframe_interval: Duration,
    /// Simulcast layers the server said nobody receives (bit `i`: layer `i` of
    /// `SIMULCAST_LAYERS`); set by the signaling session, read by the media worker.
    pub paused_layers: Arc<AtomicU8>,
}

impl MediaPlan {
    /// Pauses every simulcast layer not in `rids` (the server's `weft.layers` event), as an
    /// SFU-aware client does.
    pub fn send_only_layers(&self, rids: &[String]) {
        let paused = SIMULCAST_LAYERS
            .iter()
            .enumerate()
            .filter(|(_, (rid, _))| !rids.iter().any(|r| r == rid))
            .fold(0u8, |mask, (i, _)| mask | 1 << i);
        self.paused_layers.store(paused, Ordering::Relaxed);
    }
}

/// Join milestones written by the media worker, in nanoseconds since the run's start (0 = not yet).
#[derive(Debug, Default)]
pub struct Milestones {
    /// ICE connected (a nominated pair).
    pub ice: AtomicU64,
    /// ICE and DTLS connected (`Event::Connected`).
    pub connected: AtomicU64,
    /// First RTP packet received.
    pub first_media: AtomicU64,
    /// The `Rtc` closed or failed.
    pub closed: AtomicU64,
}

/// Nanoseconds from `epoch` to `now`, at least 1 (0 means "not yet").
fn since(epoch: Instant, now: Instant) -> u64 {
    (now.saturating_duration_since(epoch).as_nanos() as u64).max(1)
}

/// A peer that made its offer and waits for the answer.
pub struct PendingMedia {
    plan: MediaPlan,
    sending: Vec<(Mid, MediaKind)>,
    rtc: Rtc,
    socket: std::net::UdpSocket,
    local: SocketAddr,
    pending: SdpPendingOffer,
}

impl PendingMedia {
    /// Builds the `Rtc` on a new socket bound to `ip` and makes the offer (all candidates inline).
    pub fn offer(plan: MediaPlan, ip: IpAddr, cert: &DtlsCert) -> Result<(Self, String), String> {
        let (mut rtc, socket, local) = bind_rtc(ip, cert)?;
        let mut api = rtc.sdp_api();
        let first = if plan.publish {
            Direction::SendRecv
        } else {
            Direction::RecvOnly
        };
        let slots = plan.slots.max(1);
        let mut sending = Vec::new();
        if plan.audio {
            let mid = api.add_media(MediaKind::Audio, first, None, None, None);
            sending.push((mid, MediaKind::Audio));
            for _ in 1..slots {
                api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
            }
        }
        if plan.video {
            let simulcast = (plan.publish && plan.simulcast).then(|| {
                let mut s = Simulcast::new();
                for (rid, _) in SIMULCAST_LAYERS {
                    s.add_send_layer(SimulcastLayer::new(rid));
                }
                s
            });
            let mid = api.add_media(MediaKind::Video, first, None, None, simulcast);
            sending.push((mid, MediaKind::Video));
            for _ in 1..slots {
                api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
            }
        }
        let (offer, pending) = api.apply().ok_or("nothing to offer")?;
        let sdp = offer.to_sdp_string();
        if !plan.publish {
            sending.clear();
        }
        Ok((
            Self {
                plan,
                sending,
                rtc,
                socket,
                local,
                pending,
            },
            sdp,
        ))
    }

    /// Applies the server's answer; the peer is then ready for a media worker.
    pub fn accept(
        mut self,
        answer_sdp: &str,
        epoch: Instant,
        milestones: Arc<Milestones>,
    ) -> Result<MediaPeer, String> {
        let answer = SdpAnswer::from_sdp_string(answer_sdp).map_err(|e| e.to_string())?;
        self.rtc
            .sdp_api()
            .accept_answer(self.pending, answer)
            .map_err(|e| e.to_string())?;
        Ok(MediaPeer::running(
            self.plan,
            self.sending,
            self.rtc,
            self.socket,
            self.local,
            epoch,
            milestones,
        ))
    }
}

/// A new `Rtc` (RTP mode, the shared certificate) on a new non-blocking socket bound to `ip`,
/// with that socket as its one host candidate.
fn bind_rtc(ip: IpAddr, cert: &DtlsCert) -> Result<(Rtc, std::net::UdpSocket, SocketAddr), String> {
    let socket = std::net::UdpSocket::bind((ip, 0)).map_err(|e| format!("bind {ip}: {e}"))?;
    socket.set_nonblocking(true).map_err(|e| e.to_string())?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let mut rtc = RtcConfig::new()
        .set_rtp_mode(true)
        .set_dtls_cert(cert.clone())
        .set_stats_interval(Some(Duration::from_secs(1)))
        .build(Instant::now());
    let candidate = Candidate::host(local, "udp").map_err(|e| e.to_string())?;
    rtc.add_local_candidate(candidate);
    Ok((rtc, socket, local))
}

/// A publisher's send stream on one m-line.
#[derive(Debug, Clone, Copy)]
struct Sender {
    mid: Mid,
    pt: Pt,
    seq: u64,
    ts: u32,
}

/// Feedback counters from str0m's stats: `(nacks, plis, firs)`.
type Feedback = (u64, u64, u64);

/// What a peer saw, returned when the run ends.
#[derive(Debug, Clone)]
pub struct PeerReport {
    /// The peer's id.
    pub id: usize,
    /// Received streams, one per m-line that got packets.
    pub streams: Vec<StreamStats>,
    /// NACKs and PLIs (and FIRs) this peer sent as a receiver.
    pub sent_feedback: Feedback,
    /// NACKs and PLIs (and FIRs) this peer received as a sender.
    pub received_feedback: Feedback,
    /// Keyframe requests the publisher acted on.
    pub keyframe_requests: u64,
    /// RTP packets sent.
    pub sent_packets: u64,
}

/// A running peer, owned by one media worker.
pub struct MediaPeer {
    plan: MediaPlan,
    sending: Vec<(Mid, MediaKind)>,
    rtc: Rtc,
    pub(super) socket: mio::net::UdpSocket,
    local: SocketAddr,
    epoch: Instant,
    milestones: Arc<Milestones>,
    alive: bool,
    connected: bool,
    rtc_timeout: Instant,
    audio: Option<Sender>,
    video: Option<Sender>,
    next_audio: Instant,
    next_video: Instant,
    last_keyframe: Option<Instant>,
    keyframe_due: bool,
    picture_id: u16,
    layer_seq: [u64; 3],
    /// The paused-layer mask of the last frame, to start resumed layers on a keyframe.
    paused_layers: u8,
    streams: Vec<(Mid, StreamStats)>,
    by_ssrc: HashMap<Ssrc, usize>,
    ingress: HashMap<(Mid, Option<Rid>), Feedback>,
    egress: HashMap<(Mid, Option<Rid>), Feedback>,
    keyframe_requests: u64,
    sent_packets: u64,
}

impl MediaPeer {
    /// A peer whose SDP exchange is done, ready for a media worker.
    fn running(
        plan: MediaPlan,
        sending: Vec<(Mid, MediaKind)>,
        rtc: Rtc,
        socket: std::net::UdpSocket,
        local: SocketAddr,
        epoch: Instant,
        milestones: Arc<Milestones>,
    ) -> Self {
        let now = Instant::now();
        Self {
            plan,
            sending,
            rtc,
            socket: mio::net::UdpSocket::from_std(socket),
            local,
            epoch,
            milestones,
            alive: true,
            connected: false,
            rtc_timeout: now,
            audio: None,
            video: None,
            next_audio: now,
            next_video: now,
            last_keyframe: None,
            keyframe_due: true,
            picture_id: 0,
            layer_seq: [1000, 1000, 1000],
            paused_layers: 0,
            streams: Vec::new(),
            by_ssrc: HashMap::new(),
            ingress: HashMap::new(),
            egress: HashMap::new(),
            keyframe_requests: 0,
            sent_packets: 0,
        }
    }

    /// Whether the `Rtc` is still usable.
    pub fn alive(&self) -> bool {
        self.alive
    }

    /// When the peer next needs [`MediaPeer::tick`].
    pub fn next_wake(&self) -> Instant {
        let mut at = self.rtc_timeout;
        if self.connected {
            if self.audio.is_some() {
                at = at.min(self.next_audio);
            }
            if self.video.is_some() {
                at = at.min(self.next_video);
            }
        }
        at
    }

    /// Reads every datagram waiting on the socket and feeds them in.
    pub fn read_socket(&mut self, buf: &mut [u8], now: Instant, counters: &Counters) {
        while self.alive {
            let (n, source) = match self.socket.recv_from(buf) {
                Ok(r) => r,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            let Ok(contents) = DatagramRecv::try_from(&buf[..n]) else {
                continue;
            };
            // RFC 7983: DTLS records start with 20–63.
            if (20..64).contains(&buf[0]) && self.milestones.ice.load(Ordering::Relaxed) == 0 {
                counters.early_dtls.fetch_add(1, Ordering::Relaxed);
            }
            let input = Input::Receive(
                now,
                Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: self.local,
                    contents,
                },
            );
            if self.rtc.handle_input(input).is_err() && !self.rtc.is_alive() {
                return self.close(now);
            }
            self.drain(now, counters);
        }
    }

    /// Sends due media, then lets str0m run its timers (and release what was written).
    pub fn tick(&mut self, now: Instant, counters: &Counters) {
        if !self.alive {
            return;
        }
        if self.connected {
            self.send_media(now, counters);
        }
        if self.rtc.handle_input(Input::Timeout(now)).is_err() && !self.rtc.is_alive() {
            return self.close(now);
        }
        self.drain(now, counters);
    }

    /// Closes the `Rtc` (end of the run).
    pub fn shutdown(&mut self, now: Instant, counters: &Counters) {
        if self.alive {
            self.rtc.disconnect();
            self.drain(now, counters);
        }
    }

    fn close(&mut self, now: Instant) {
        self.alive = false;
        let _ = self.milestones.closed.compare_exchange(
            0,
            since(self.epoch, now),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Drains str0m's outputs (the invariant after every mutation).
    fn drain(&mut self, now: Instant, counters: &Counters) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.rtc_timeout = t;
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    if self.socket.send_to(&t.contents, t.destination).is_err() {
                        counters.send_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(Output::Event(e)) => self.on_event(e, now, counters),
                Err(_) => return self.close(now),
            }
            if !self.rtc.is_alive() {
                return self.close(now);
            }
        }
    }

    fn on_event(&mut self, event: Event, now: Instant, counters: &Counters) {
        match event {
            Event::Connected => {
                self.connected = true;
                self.milestones
                    .connected
                    .store(since(self.epoch, now), Ordering::Relaxed);
                counters.connected.fetch_add(1, Ordering::Relaxed);
                self.setup_senders(now);
            }
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => {
                let _ = self.milestones.ice.compare_exchange(
                    0,
                    since(self.epoch, now),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => self.close(now),
            Event::KeyframeRequest(_) => {
                self.keyframe_requests += 1;
                self.keyframe_due = true;
            }
            Event::RtpPacket(packet) => self.record(&packet, now, counters),
            Event::MediaIngressStats(s) => {
                self.ingress
                    .insert((s.mid, s.rid), (s.nacks, s.plis, s.firs));
            }
            Event::MediaEgressStats(s) => {
                self.egress
                    .insert((s.mid, s.rid), (s.nacks, s.plis, s.firs));
            }
            _ => {}
        }
    }

    /// Picks the Opus/VP8 payload types of our sendrecv m-lines once connected.
    fn setup_senders(&mut self, now: Instant) {
        for (mid, kind) in self.sending.clone() {
            let codec = match kind {
                MediaKind::Audio => Codec::Opus,
                MediaKind::Video => Codec::Vp8,
            };
            let Some(pt) = payload_type(&self.rtc, codec) else {
                continue;
            };
            let sender = Some(Sender {
                mid,
                pt,
                seq: 1000,
                ts: 5000,
            });
            match kind {
                MediaKind::Audio if self.audio.is_none() => self.audio = sender,
                MediaKind::Video if self.video.is_none() => self.video = sender,
                _ => {}
            }
        }
        self.next_audio = now;
        self.next_video = now;
    }

    fn send_media(&mut self, now: Instant, counters: &Counters) {
        let tag = tag_for(self.plan.id);
        if now >= self.next_audio
            && let Some(a) = self.audio
        {
            // A steady cadence, as a real sender's audio clock.
            self.next_audio = (self.next_audio + AUDIO_INTERVAL).max(now - AUDIO_INTERVAL);
            let ext = ExtensionValues {
                audio_level: Some(AUDIO_LEVEL),
                voice_activity: Some(true),
                ..ExtensionValues::default()
            };
            let payload = audio_payload(tag, AUDIO_PAYLOAD);
            let write = RtpWrite::new(a.pt, a.seq.into(), a.ts, now, payload).ext_vals(ext);
            self.audio = Some(Sender {
                seq: a.seq + 1,
                ts: a.ts.wrapping_add(AUDIO_TS_STEP),
                ..a
            });
            if let Some(tx) = self.rtc.direct_api().stream_tx_by_mid(a.mid, None) {
                tx.write_rtp(write);
                self.sent_packets += 1;
                counters.tx_packets.fetch_add(1, Ordering::Relaxed);
            }
        }
        if now >= self.next_video && self.video.is_some() {
            let interval = self.plan.video_interval;
            self.next_video = (self.next_video + interval).max(now - interval);
            let periodic = self
                .last_keyframe
                .is_none_or(|t| now - t >= self.plan.keyframe_interval);
            let keyframe = self.keyframe_due || periodic;
            self.send_video_frame(now, keyframe, tag, counters);
        }
    }

    /// One frame: one packet, or one packet on each simulcast layer.
    fn send_video_frame(&mut self, now: Instant, keyframe: bool, tag: u32, counters: &Counters) {
        let Some(v) = self.video else { return };
        let picture_id = self.picture_id;
        self.picture_id = (self.picture_id + 1) & 0x7fff;
        let mut frames = Vec::new();
        if self.plan.simulcast {
            // A resumed layer starts on a keyframe, as a browser's re-enabled encoding does.
            let paused = self.plan.paused_layers.load(Ordering::Relaxed);
            let resumed = self.paused_layers & !paused;
            self.paused_layers = paused;
            for (i, (rid, _)) in SIMULCAST_LAYERS.iter().enumerate() {
                if paused & 1 << i != 0 {
                    continue;
                }
                let layer = i as u8;
                let pid = (picture_id + 1000 * u16::from(layer)) & 0x7fff;
                let keyframe = keyframe || resumed & 1 << i != 0;
                let payload = vp8_layer_payload(pid, keyframe, tag, layer);
                frames.push((payload, Some(Rid::from(*rid)), self.layer_seq[i]));
                self.layer_seq[i] += 1;
            }
        } else {
            frames.push((vp8_payload(picture_id, keyframe, tag), None, v.seq));
        }
        self.video = Some(Sender {
            seq: v.seq + 1,
            ts: v.ts.wrapping_add(VIDEO_TS_STEP),
            ..v
        });
        let mut sent = false;
        for (payload, rid, seq) in frames {
            let write = RtpWrite::new(v.pt, seq.into(), v.ts, now, payload)
                .marker(true)
                .nackable(true);
            if let Some(tx) = self.rtc.direct_api().stream_tx_by_mid(v.mid, rid) {
                tx.write_rtp(write);
                sent = true;
                self.sent_packets += 1;
                counters.tx_packets.fetch_add(1, Ordering::Relaxed);
            }
        }
        if sent && keyframe {
            self.keyframe_due = false;
            self.last_keyframe = Some(now);
        }
    }

    fn record(&mut self, packet: &RtpPacket, now: Instant, counters: &Counters) {
        let ssrc = packet.header.ssrc;
        let index = match self.by_ssrc.get(&ssrc) {
            Some(i) => *i,
            None => {
                let Some(mid) = self.rtc.direct_api().stream_rx(&ssrc).map(|rx| rx.mid()) else {
                    return;
                };
                let video = self
                    .rtc
                    .media(mid)
                    .is_some_and(|m| m.kind() == MediaKind::Video);
                let i = match self.streams.iter().position(|(m, _)| *m == mid) {
                    Some(i) => i,
                    None => {
                        self.streams.push((mid, StreamStats::new(video)));
                        self.streams.len() - 1
                    }
                };
                self.by_ssrc.insert(ssrc, i);
                if video {
                    // Ask for a keyframe at start, as a browser's decoder does.
                    if let Some(rx) = self.rtc.direct_api().stream_rx(&ssrc) {
                        rx.request_keyframe(KeyframeRequestKind::Pli);
                    }
                }
                i
            }
        };
        let stream = &mut self.streams[index].1;
        let delta = stream.record(
            *packet.seq_no,
            packet.header.timestamp,
            packet.payload.len(),
            now,
        );
        if let Some(tag) = origin_of(&packet.payload, stream.video) {
            stream.note_origin(tag & 0xffff);
        }
        counters.rx_packets.fetch_add(1, Ordering::Relaxed);
        counters
            .rx_bytes
            .fetch_add(packet.payload.len() as u64, Ordering::Relaxed);
        counters
            .rx_expected
            .fetch_add(delta.expected, Ordering::Relaxed);
        if self.milestones.first_media.load(Ordering::Relaxed) == 0 {
            self.milestones
                .first_media
                .store(since(self.epoch, now), Ordering::Relaxed);
        }
    }

    /// What the peer saw.
    pub fn report(&self) -> PeerReport {
        let sum = |m: &HashMap<(Mid, Option<Rid>), Feedback>| {
            m.values()
                .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
        };
        PeerReport {
            id: self.plan.id,
            streams: self.streams.iter().map(|(_, s)| s.clone()).collect(),
            sent_feedback: sum(&self.ingress),
            received_feedback: sum(&self.egress),
            keyframe_requests: self.keyframe_requests,
            sent_packets: self.sent_packets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_identify_our_peers() {
        let p = vp8_payload(1, false, tag_for(77));
        assert_eq!(origin_of(&p, true), Some(tag_for(77)));
        assert_eq!(
            origin_of(&audio_payload(tag_for(3), 80), false),
            Some(tag_for(3))
        );
        assert_eq!(origin_of(&[0x78, 1, 2, 3, 4, 5], false), None);
        assert_eq!(tag_for(77) & 0xffff, 77);
    }
}
