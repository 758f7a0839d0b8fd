//! The synthetic peer: setup (offer or answer) and its thread.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt, Rid, Simulcast, SimulcastLayer};
use str0m::net::{DatagramRecv, Protocol, Receive, TcpType};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

use super::media::{
    SIMULCAST_LAYERS, VP8_KEYFRAME_INTERVAL, audio_payload, layer_of, payload_type, picture_id_of,
    tag_of, video_payload, vp8_layer_payload,
};
use super::report::StreamReport;
use super::tone::{ToneSink, ToneSource};

const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
const VIDEO_INTERVAL: Duration = Duration::from_millis(33);
const AUDIO_PAYLOAD: usize = 80;
const MAX_TIMESTAMPS: usize = 64;
/// Decoded audio kept per tone peer (4 s).
const MAX_PCM: usize = 4 * 48_000;

/// What a synthetic peer offers and sends.
#[derive(Debug, Clone)]
pub struct PeerSpec {
    /// Sender tag written into every payload.
    pub tag: u32,
    /// Send audio on a sendrecv audio m-line.
    pub audio: bool,
    /// Send video on a sendrecv video m-line.
    pub video: bool,
    /// Extra receive-only audio m-lines (0 for an SDK-shaped peer).
    pub extra_audio_slots: usize,
    /// Extra receive-only video m-lines.
    pub extra_video_slots: usize,
    /// Send a real Opus tone of this frequency (Hz) instead of synthetic audio payloads, and decode
    /// received audio (see [`TestPeer::received_pcm`]).
    pub tone: Option<f32>,
    /// Send video as three simulcast layers (rids of [`super::SIMULCAST_LAYERS`]).
    pub simulcast: bool,
    /// Time between video frames (one packet each).
    pub video_interval: Duration,
    /// Count and drop received RTP media without decrypting it (cheap load-test subscribers).
    pub discard_media: bool,
    /// Use ICE-TCP only (an active TCP candidate, RFC 4571 framing) instead of UDP.
    pub tcp: bool,
    /// Offer RED (RFC 2198) for Opus and, when negotiated, send audio as RED (each packet
    /// carrying the previous one as a redundant block).
    pub red: bool,
    /// Send audio as Opus DTX does: one second of 20 ms packets, then one second of silence with
    /// one small packet every 400 ms ([`DTX_INTERVAL`]); timestamps keep running.
    pub dtx: bool,
    /// Offer only this video codec (and send it); `None` offers str0m's defaults and sends VP8.
    pub video_codec: Option<Codec>,
}

/// Time between the packets of a DTX silence.
pub const DTX_INTERVAL: Duration = Duration::from_millis(400);
/// Payload size of a DTX silence packet.
pub const DTX_PAYLOAD: usize = 5;

impl PeerSpec {
    /// An SDK-shaped peer: one sendrecv audio and one sendrecv video m-line.
    pub fn sdk(tag: u32) -> Self {
        Self {
            tag,
            audio: true,
            video: true,
            extra_audio_slots: 0,
            extra_video_slots: 0,
            tone: None,
            simulcast: false,
            video_interval: VIDEO_INTERVAL,
            discard_media: false,
            tcp: false,
            red: false,
            dtx: false,
            video_codec: None,
        }
    }

    /// A peer publishing simulcast video (and audio), with one receive slot of each kind.
    pub fn simulcast(tag: u32) -> Self {
        Self {
            simulcast: true,
            ..Self::sdk(tag)
        }
    }

    /// An SDK-shaped peer sending an Opus tone of `freq` Hz.
    pub fn sdk_tone(tag: u32, freq: f32) -> Self {
        Self {
            tone: Some(freq),
            ..Self::sdk(tag)
        }
    }

    /// A multi-slot peer: sendrecv audio and video plus `extra` receive-only m-lines of each kind.
    pub fn multi(tag: u32, extra: usize) -> Self {
        Self {
            extra_audio_slots: extra,
            extra_video_slots: extra,
            ..Self::sdk(tag)
        }
    }
}

/// A peer that made its offer and waits for the answer.
pub struct PendingPeer {
    spec: PeerSpec,
    rtc: Rtc,
    socket: UdpSocket,
    pending: SdpPendingOffer,
    mids: Vec<Mid>,
}

impl PendingPeer {
    /// Applies the server's answer and starts the peer thread.
    pub fn connect(mut self, answer_sdp: &str) -> Result<TestPeer, String> {
        let answer = SdpAnswer::from_sdp_string(answer_sdp).map_err(|e| e.to_string())?;
        self.rtc
            .sdp_api()
            .accept_answer(self.pending, answer)
            .map_err(|e| e.to_string())?;
        TestPeer::spawn(self.spec, self.rtc, self.socket, self.mids)
    }
}

/// Shared between the peer thread and the test.
#[derive(Default)]
struct Shared {
    connected: AtomicBool,
    closed: AtomicBool,
    keyframe_requests: AtomicU64,
    sent_packets: AtomicU64,
    sent_audio: AtomicU64,
    drop_video: AtomicU32,
    discarded: AtomicU64,
    audio_level: AtomicU8,
    tone_amplitude: AtomicU32,
    pcm: Mutex<Vec<f32>>,
    sending: AtomicBool,
    streams: Mutex<HashMap<String, StreamReport>>,
    /// The last STUN binding request the peer sent over UDP, and where to.
    last_binding_request: Mutex<Option<(SocketAddr, Vec<u8>)>>,
    /// Simulcast layers not to send: bit `i` is layer `i` of [`SIMULCAST_LAYERS`].
    paused_layers: AtomicU8,
    /// Video packets sent on each simulcast layer.
    sent_per_layer: [AtomicU64; 3],
}

enum PeerCommand {
    SendRaw(Vec<u8>),
    AddVideo(mpsc::Sender<Result<String, String>>),
    Answer(String, mpsc::Sender<Result<(), String>>),
    Stop,
}

/// A running synthetic peer. Dropping it stops its thread.
pub struct TestPeer {
    tag: u32,
    local: SocketAddr,
    shared: Arc<Shared>,
    commands: mpsc::Sender<PeerCommand>,
    thread: Option<JoinHandle<()>>,
    /// A handle on the peer's UDP socket, for [`TestPeer::into_socket`].
    socket: Option<UdpSocket>,
}

impl TestPeer {
    /// Builds a peer and its SDP offer (all candidates inline).
    pub fn offer(spec: PeerSpec) -> Result<(PendingPeer, String), String> {
        let (mut rtc, socket) = new_rtc(&spec)?;
        let mut api = rtc.sdp_api();
        let mut mids = Vec::new();
        if spec.audio {
            mids.push(api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None));
        }
        if spec.video {
            let simulcast = spec.simulcast.then(|| {
                let mut s = Simulcast::new();
                for (rid, _) in SIMULCAST_LAYERS {
                    s.add_send_layer(SimulcastLayer::new(rid));
                }
                s
            });
            mids.push(api.add_media(MediaKind::Video, Direction::SendRecv, None, None, simulcast));
        }
        for _ in 0..spec.extra_audio_slots {
            mids.push(api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None));
        }
        for _ in 0..spec.extra_video_slots {
            mids.push(api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None));
        }
        let (offer, pending) = api.apply().ok_or("nothing to offer")?;
        let sdp = offer.to_sdp_string();
        Ok((
            PendingPeer {
                spec,
                rtc,
                socket,
                pending,
                mids,
            },
            sdp,
        ))
    }

    /// Builds a peer answering the server's offer (inbound call leg); returns it and the answer.
    pub fn answer(spec: PeerSpec, offer_sdp: &str) -> Result<(TestPeer, String), String> {
        let offer = SdpOffer::from_sdp_string(offer_sdp).map_err(|e| e.to_string())?;
        let (mut rtc, socket) = new_rtc(&spec)?;
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| e.to_string())?;
        let peer = TestPeer::spawn(spec, rtc, socket, Vec::new())?;
        Ok((peer, answer.to_sdp_string()))
    }

    fn spawn(
        spec: PeerSpec,
        rtc: Rtc,
        socket: UdpSocket,
        mids: Vec<Mid>,
    ) -> Result<TestPeer, String> {
        let local = socket.local_addr().map_err(|e| e.to_string())?;
        let handle = socket.try_clone().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared::default());
        shared.audio_level.store(30, Ordering::Relaxed);
        shared
            .tone_amplitude
            .store(0.1f32.to_bits(), Ordering::Relaxed);
        shared.sending.store(true, Ordering::Relaxed);
        let (commands, inbox) = mpsc::channel();
        let tag = spec.tag;
        let mut runner = Runner::new(spec, rtc, socket, shared.clone(), inbox, local);
        runner.mids = mids;
        let thread = std::thread::Builder::new()
            .name(format!("test-peer-{tag}"))
            .spawn(move || runner.run())
            .map_err(|e| e.to_string())?;
        Ok(TestPeer {
            tag,
            local,
            shared,
            commands,
            thread: Some(thread),
            socket: Some(handle),
        })
    }

    /// Stops the peer's thread and hands back its UDP socket, still bound: the server keeps
    /// sending to it until it notices the peer is gone, so a load generator can drain many peers'
    /// sockets from one thread instead of waking a thread per peer.
    pub fn into_socket(mut self) -> Option<UdpSocket> {
        let _ = self.commands.send(PeerCommand::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.socket.take()
    }

    /// The last STUN binding request the peer sent over UDP and its destination. Replaying it
    /// keeps the server's ICE agent seeing a live remote after [`TestPeer::into_socket`] (an
    /// ICE-lite server drops a remote that stops checking).
    pub fn last_binding_request(&self) -> Option<(SocketAddr, Vec<u8>)> {
        self.shared
            .last_binding_request
            .lock()
            .ok()
            .and_then(|last| last.clone())
    }

    /// The peer's sender tag.
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// The peer's UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Whether ICE and DTLS are up.
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// Whether the peer's `Rtc` closed (the server went away or removed it).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Relaxed)
    }

    /// Keyframe requests (PLI/FIR) this peer received as a publisher.
    pub fn keyframe_requests(&self) -> u64 {
        self.shared.keyframe_requests.load(Ordering::Relaxed)
    }

    /// Audio RTP packets this peer sent.
    pub fn sent_audio(&self) -> u64 {
        self.shared.sent_audio.load(Ordering::Relaxed)
    }

    /// RTP packets this peer sent.
    pub fn sent_packets(&self) -> u64 {
        self.shared.sent_packets.load(Ordering::Relaxed)
    }

    /// Sends only the simulcast layers named in `rids` (of [`SIMULCAST_LAYERS`]), as an
    /// SFU-aware client does when the server says which layers anyone receives. A resumed layer
    /// starts with a keyframe.
    pub fn set_active_layers(&self, rids: &[&str]) {
        let paused = SIMULCAST_LAYERS
            .iter()
            .enumerate()
            .filter(|(_, (rid, _))| !rids.contains(rid))
            .fold(0u8, |mask, (i, _)| mask | 1 << i);
        self.shared.paused_layers.store(paused, Ordering::Relaxed);
    }

    /// Video packets sent on each simulcast layer (in the order of [`SIMULCAST_LAYERS`]).
    pub fn sent_per_layer(&self) -> [u64; 3] {
        std::array::from_fn(|i| self.shared.sent_per_layer[i].load(Ordering::Relaxed))
    }

    /// What the peer received, by mid.
    pub fn streams(&self) -> HashMap<String, StreamReport> {
        self.shared
            .streams
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Received streams of one kind that carry packets, sorted by mid.
    pub fn received(&self, video: bool) -> Vec<StreamReport> {
        let mut v: Vec<StreamReport> = self
            .streams()
            .into_values()
            .filter(|s| s.video == video && s.packets > 0)
            .collect();
        v.sort_by(|a, b| a.mid.cmp(&b.mid));
        v
    }

    /// Drops the next `n` incoming video-sized RTP datagrams (to provoke NACKs).
    pub fn drop_incoming_video(&self, n: u32) {
        self.shared.drop_video.fetch_add(n, Ordering::Relaxed);
    }

    /// RTP media datagrams received and dropped unread (`discard_media` peers).
    pub fn discarded_media(&self) -> u64 {
        self.shared.discarded.load(Ordering::Relaxed)
    }

    /// Incoming video datagrams still to be dropped.
    pub fn pending_drops(&self) -> u32 {
        self.shared.drop_video.load(Ordering::Relaxed)
    }

    /// Sets the RFC 6464 audio level sent with audio (`-dBov`: 0 loudest, 127 silence).
    pub fn set_audio_level(&self, dbov: u8) {
        self.shared
            .audio_level
            .store(dbov.min(127), Ordering::Relaxed);
    }

    /// Sets the amplitude of the peer's tone (full scale 1.0; default 0.1).
    pub fn set_tone_amplitude(&self, amplitude: f32) {
        self.shared
            .tone_amplitude
            .store(amplitude.to_bits(), Ordering::Relaxed);
    }

    /// Decoded received audio (tone peers), oldest first, at most the last few seconds.
    pub fn received_pcm(&self) -> Vec<f32> {
        self.shared
            .pcm
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// Forgets the decoded audio received so far.
    pub fn clear_pcm(&self) {
        if let Ok(mut p) = self.shared.pcm.lock() {
            p.clear();
        }
    }

    /// Starts or stops sending media.
    pub fn set_sending(&self, sending: bool) {
        self.shared.sending.store(sending, Ordering::Relaxed);
    }

    /// Renegotiation, step 1: adds a sendrecv video m-line and returns the new offer.
    pub fn offer_video(&self) -> Result<String, String> {
        let (reply, answer) = mpsc::channel();
        self.commands
            .send(PeerCommand::AddVideo(reply))
            .map_err(|_| "peer stopped")?;
        answer.recv().map_err(|_| "peer stopped")?
    }

    /// Renegotiation, step 2: applies the server's answer; the new video m-line starts sending.
    pub fn accept_answer(&self, answer_sdp: &str) -> Result<(), String> {
        let (reply, answer) = mpsc::channel();
        self.commands
            .send(PeerCommand::Answer(answer_sdp.to_string(), reply))
            .map_err(|_| "peer stopped")?;
        answer.recv().map_err(|_| "peer stopped")?
    }

    /// Sends an arbitrary datagram to the server from this peer's socket.
    pub fn send_raw(&self, datagram: Vec<u8>) {
        let _ = self.commands.send(PeerCommand::SendRaw(datagram));
    }
}

impl Drop for TestPeer {
    fn drop(&mut self) {
        let _ = self.commands.send(PeerCommand::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// RTP (not RTCP) by RFC 7983 first byte and RFC 5761 payload type.
fn is_rtp_media(d: &[u8]) -> bool {
    d.len() > 12 && (128..192).contains(&d[0]) && !(192..224).contains(&d[1])
}

/// The address of an active TCP candidate (RFC 6544: port 9).
const TCP_ACTIVE: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9);

fn new_rtc(spec: &PeerSpec) -> Result<(Rtc, UdpSocket), String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let config = match spec.video_codec {
        None => RtcConfig::new(),
        Some(codec) => {
            let config = RtcConfig::new().clear_codecs();
            match codec {
                Codec::Vp9 => config.enable_vp9(true),
                Codec::H264 => config.enable_h264(true),
                Codec::Av1 => config.enable_av1(true),
                _ => config.enable_vp8(true),
            }
        }
    };
    let mut rtc = config
        .enable_opus(true, spec.red)
        .set_rtp_mode(true)
        .build(Instant::now());
    let candidate = if spec.tcp {
        Candidate::builder()
            .tcp()
            .host(TCP_ACTIVE)
            .tcptype(TcpType::Active)
            .build()
    } else {
        Candidate::host(local, "udp")
    };
    rtc.add_local_candidate(candidate.map_err(|e| e.to_string())?);
    Ok((rtc, socket))
}

/// The client end of an ICE-TCP connection.
struct TcpLink {
    stream: TcpStream,
    remote: SocketAddr,
    rbuf: Vec<u8>,
}

impl TcpLink {
    fn connect(remote: SocketAddr) -> Option<Self> {
        let stream = TcpStream::connect_timeout(&remote, Duration::from_secs(2)).ok()?;
        let _ = stream.set_nodelay(true);
        Some(Self {
            stream,
            remote,
            rbuf: Vec::new(),
        })
    }

    fn send(&mut self, datagram: &[u8]) {
        let Ok(len) = u16::try_from(datagram.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(datagram.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(datagram);
        let _ = self.stream.write_all(&framed);
    }

    /// Waits up to `wait` for data; returns the complete frames.
    fn receive(&mut self, wait: Duration) -> Vec<Vec<u8>> {
        let _ = self.stream.set_read_timeout(Some(wait));
        let mut chunk = [0u8; 4096];
        if let Ok(n) = self.stream.read(&mut chunk) {
            self.rbuf.extend_from_slice(&chunk[..n]);
        }
        let mut frames = Vec::new();
        while self.rbuf.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([self.rbuf[0], self.rbuf[1]]));
            if self.rbuf.len() < 2 + len {
                break;
            }
            frames.push(self.rbuf[2..2 + len].to_vec());
            self.rbuf.drain(..2 + len);
        }
        frames
    }
}

/// State of the peer thread.
struct Runner {
    spec: PeerSpec,
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    remote: Option<SocketAddr>,
    shared: Arc<Shared>,
    inbox: mpsc::Receiver<PeerCommand>,
    audio: Option<Sender>,
    video: Option<Sender>,
    next_audio: Instant,
    next_video: Instant,
    last_keyframe: Option<Instant>,
    keyframe_due: bool,
    picture_id: u16,
    /// The session's m-lines (offered, or learned from `MediaAdded`).
    mids: Vec<Mid>,
    tone: Option<ToneSource>,
    sink: ToneSink,
    /// Simulcast: per-layer keyframe requests and sequence numbers.
    layer_keyframe_due: [bool; 3],
    /// The paused-layer mask of the last frame, to start resumed layers on a keyframe.
    paused_layers: u8,
    layer_seq: [u64; 3],
    /// A renegotiation offer waiting for its answer.
    pending: Option<SdpPendingOffer>,
    /// The ICE-TCP connection (`tcp` peers), made on the first TCP transmit.
    tcp: Option<TcpLink>,
    /// Audio ticks (20 ms) so far, for the DTX pattern.
    audio_ticks: u64,
    /// The last audio payload sent, repeated as the redundant block of the next RED packet.
    previous_audio: Option<Arc<[u8]>>,
}

/// Sequence and timestamp state of one outgoing synthetic stream.
struct Sender {
    mid: Mid,
    pt: Pt,
    /// The RED payload type to send audio with, when RED was negotiated and wanted.
    red: Option<Pt>,
    seq: u64,
    ts: u32,
}

impl Runner {
    fn new(
        spec: PeerSpec,
        rtc: Rtc,
        socket: UdpSocket,
        shared: Arc<Shared>,
        inbox: mpsc::Receiver<PeerCommand>,
        local: SocketAddr,
    ) -> Self {
        let now = Instant::now();
        Self {
            rtc,
            socket,
            local,
            remote: None,
            shared,
            inbox,
            audio: None,
            video: None,
            next_audio: now,
            next_video: now,
            last_keyframe: None,
            keyframe_due: true,
            picture_id: 1,
            mids: Vec::new(),
            tone: spec.tone.map(|f| ToneSource::new(f, 0.1)),
            sink: ToneSink::default(),
            layer_keyframe_due: [true; 3],
            paused_layers: 0,
            layer_seq: [100, 20_000, 40_000],
            pending: None,
            tcp: None,
            audio_ticks: 0,
            previous_audio: None,
            spec,
        }
    }

    fn run(mut self) {
        let mut buf = vec![0u8; 2048];
        let mut timeout = Instant::now();
        loop {
            match self.inbox.try_recv() {
                Ok(PeerCommand::Stop) | Err(mpsc::TryRecvError::Disconnected) => break,
                Ok(PeerCommand::SendRaw(d)) => {
                    if let Some(remote) = self.remote {
                        let _ = self.socket.send_to(&d, remote);
                    }
                    continue;
                }
                Ok(PeerCommand::AddVideo(reply)) => {
                    let _ = reply.send(self.offer_video());
                    if self.drain().is_none() {
                        break;
                    }
                    continue;
                }
                Ok(PeerCommand::Answer(sdp, reply)) => {
                    let _ = reply.send(self.accept_answer(&sdp));
                    if self.drain().is_none() {
                        break;
                    }
                    continue;
                }
                Err(mpsc::TryRecvError::Empty) => {}
            }
            let now = Instant::now();
            let next = timeout.min(self.next_media()).max(now);
            let wait = (next - now).clamp(Duration::from_millis(1), Duration::from_millis(5));
            if self.spec.tcp {
                if !self.run_tcp(wait) {
                    break;
                }
                match self.drain_and_send() {
                    Some(t) => timeout = t,
                    None => break,
                }
                continue;
            }
            let _ = self.socket.set_read_timeout(Some(wait));
            let input = match self.socket.recv_from(&mut buf) {
                Ok((n, source)) => {
                    if self.should_drop(&buf[..n]) {
                        continue;
                    }
                    if self.spec.discard_media && is_rtp_media(&buf[..n]) {
                        self.shared.discarded.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    match DatagramRecv::try_from(&buf[..n]) {
                        Ok(contents) => Some(Input::Receive(
                            Instant::now(),
                            Receive {
                                proto: Protocol::Udp,
                                source,
                                destination: self.local,
                                contents,
                            },
                        )),
                        Err(_) => None,
                    }
                }
                Err(_) => None,
            };
            let result = match input {
                Some(input) => self.rtc.handle_input(input),
                None => self.rtc.handle_input(Input::Timeout(Instant::now())),
            };
            if result.is_err() && !self.rtc.is_alive() {
                break;
            }
            match self.drain_and_send() {
                Some(t) => timeout = t,
                None => break,
            }
        }
        self.shared.closed.store(true, Ordering::Relaxed);
    }

    /// Drains the `Rtc`, then, once connected and sending, writes the media that is due and
    /// drains again; returns the next timeout, or `None` when the peer is done.
    fn drain_and_send(&mut self) -> Option<Instant> {
        let timeout = self.drain()?;
        if !(self.shared.connected.load(Ordering::Relaxed)
            && self.shared.sending.load(Ordering::Relaxed))
        {
            return Some(timeout);
        }
        self.send_media(Instant::now());
        self.rtc.handle_input(Input::Timeout(Instant::now())).ok()?;
        self.drain()
    }

    fn offer_video(&mut self) -> Result<String, String> {
        let mut api = self.rtc.sdp_api();
        let mid = api.add_media(MediaKind::Video, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().ok_or("nothing to offer")?;
        self.mids.push(mid);
        self.pending = Some(pending);
        Ok(offer.to_sdp_string())
    }

    fn accept_answer(&mut self, sdp: &str) -> Result<(), String> {
        let pending = self.pending.take().ok_or("no offer pending")?;
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| e.to_string())?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| e.to_string())?;
        self.spec.video = true;
        self.setup_senders();
        Ok(())
    }

    /// One ICE-TCP loop turn: wait for frames and feed them in; `false` when the `Rtc` died.
    fn run_tcp(&mut self, wait: Duration) -> bool {
        let Some(link) = self.tcp.as_mut() else {
            std::thread::sleep(wait);
            return self
                .rtc
                .handle_input(Input::Timeout(Instant::now()))
                .is_ok()
                || self.rtc.is_alive();
        };
        let remote = link.remote;
        let frames = link.receive(wait);
        if frames.is_empty() {
            return self
                .rtc
                .handle_input(Input::Timeout(Instant::now()))
                .is_ok()
                || self.rtc.is_alive();
        }
        for frame in frames {
            let Ok(contents) = DatagramRecv::try_from(frame.as_slice()) else {
                continue;
            };
            let input = Input::Receive(
                Instant::now(),
                Receive {
                    proto: Protocol::Tcp,
                    source: remote,
                    destination: TCP_ACTIVE,
                    contents,
                },
            );
            if self.rtc.handle_input(input).is_err() && !self.rtc.is_alive() {
                return false;
            }
            if self.drain().is_none() {
                return false;
            }
        }
        true
    }

    fn next_media(&self) -> Instant {
        self.next_audio.min(self.next_video)
    }

    /// Drops a video-sized RTP datagram when asked to.
    fn should_drop(&self, datagram: &[u8]) -> bool {
        let rtp = datagram.len() > 500 && is_rtp_media(datagram);
        rtp && self
            .shared
            .drop_video
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Drains outputs; `None` when the `Rtc` died.
    fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => return Some(t),
                Ok(Output::Transmit(t)) => {
                    self.remote = Some(t.destination);
                    if t.proto == Protocol::Tcp {
                        if self.tcp.as_ref().is_none_or(|l| l.remote != t.destination) {
                            self.tcp = TcpLink::connect(t.destination);
                        }
                        if let Some(link) = self.tcp.as_mut() {
                            link.send(&t.contents);
                        }
                    } else {
                        if is_binding_request(&t.contents)
                            && let Ok(mut last) = self.shared.last_binding_request.lock()
                        {
                            *last = Some((t.destination, t.contents.to_vec()));
                        }
                        let _ = self.socket.send_to(&t.contents, t.destination);
                    }
                }
                Ok(Output::Event(e)) => self.on_event(e),
                Err(_) => return None,
            }
            if !self.rtc.is_alive() {
                return None;
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected => {
                self.shared.connected.store(true, Ordering::Relaxed);
                self.setup_senders();
            }
            Event::KeyframeRequest(_) => {
                self.shared
                    .keyframe_requests
                    .fetch_add(1, Ordering::Relaxed);
                self.keyframe_due = true;
            }
            Event::RtpPacket(packet) => self.record(&packet),
            Event::MediaAdded(added) => {
                self.mids.push(added.mid);
                if self.shared.connected.load(Ordering::Relaxed) {
                    self.setup_senders();
                }
            }
            _ => {}
        }
    }

    fn setup_senders(&mut self) {
        let mids: Vec<(Mid, MediaKind)> = self
            .mids
            .iter()
            .filter_map(|m| {
                self.rtc
                    .media(*m)
                    .map(|media| (*m, media.kind(), media.direction()))
            })
            .filter(|(_, _, d)| *d == Direction::SendRecv)
            .map(|(m, k, _)| (m, k))
            .collect();
        for (mid, kind) in mids {
            let (codec, wanted) = match kind {
                MediaKind::Audio => (Codec::Opus, self.spec.audio),
                MediaKind::Video => (self.video_codec(), self.spec.video),
            };
            let Some(pt) = payload_type(&self.rtc, codec) else {
                continue;
            };
            let red = self
                .rtc
                .codec_config()
                .iter()
                .find(|c| c.pt() == pt)
                .and_then(|c| c.red())
                .filter(|_| self.spec.red);
            let sender = Sender {
                mid,
                pt,
                red,
                seq: 1000 + u64::from(self.spec.tag % 1000),
                ts: 5000,
            };
            match kind {
                MediaKind::Audio if wanted && self.audio.is_none() => self.audio = Some(sender),
                MediaKind::Video if wanted && self.video.is_none() => self.video = Some(sender),
                _ => {}
            }
        }
    }

    fn send_media(&mut self, now: Instant) {
        let tag = self.spec.tag;
        if now >= self.next_audio {
            // A steady cadence, as a real sender's audio clock.
            self.next_audio = (self.next_audio + AUDIO_INTERVAL).max(now - AUDIO_INTERVAL);
            if let Some(a) = self.audio.as_mut() {
                // DTX: of every 100 ticks, the last 50 are silence with a packet every 20th.
                let tick = self.audio_ticks % 100;
                self.audio_ticks += 1;
                let silent = self.spec.dtx && tick >= 50;
                let per_dtx = (DTX_INTERVAL.as_millis() / AUDIO_INTERVAL.as_millis()) as u64;
                if silent && !(tick - 50).is_multiple_of(per_dtx) {
                    a.ts = a.ts.wrapping_add(960);
                    return self.send_video(now);
                }
                let (payload, level): (Arc<[u8]>, u8) = match self.tone.as_mut() {
                    _ if silent => (audio_payload(tag, DTX_PAYLOAD).into(), 127),
                    Some(tone) => {
                        let amplitude =
                            f32::from_bits(self.shared.tone_amplitude.load(Ordering::Relaxed));
                        tone.set_amplitude(amplitude);
                        (tone.next_packet(), tone.level())
                    }
                    None => (
                        audio_payload(tag, AUDIO_PAYLOAD).into(),
                        self.shared.audio_level.load(Ordering::Relaxed),
                    ),
                };
                let ext = ExtensionValues {
                    audio_level: Some(-(level.min(127) as i8)),
                    voice_activity: Some(level < 127),
                    ..ExtensionValues::default()
                };
                let (pt, payload) = match a.red {
                    Some(red_pt) => {
                        let previous = self.previous_audio.replace(payload.clone());
                        let red = crate::red::encode(
                            *a.pt,
                            &payload,
                            previous.as_deref().map(|p| (p, 960)),
                        );
                        (red_pt, Arc::from(red))
                    }
                    None => (a.pt, payload),
                };
                let write = RtpWrite::new(pt, a.seq.into(), a.ts, now, payload)
                    .marker(false)
                    .ext_vals(ext);
                a.seq += 1;
                a.ts = a.ts.wrapping_add(960);
                if let Some(tx) = self.rtc.direct_api().stream_tx_by_mid(a.mid, None) {
                    tx.write_rtp(write);
                    self.shared.sent_packets.fetch_add(1, Ordering::Relaxed);
                    self.shared.sent_audio.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.send_video(now);
    }

    fn send_video(&mut self, now: Instant) {
        let tag = self.spec.tag;
        if now >= self.next_video {
            self.next_video =
                (self.next_video + self.spec.video_interval).max(now - self.spec.video_interval);
            let periodic = self
                .last_keyframe
                .is_none_or(|t| now - t >= VP8_KEYFRAME_INTERVAL);
            let keyframe = self.keyframe_due || periodic;
            let codec = self.video_codec();
            if self.spec.simulcast {
                self.send_layers(now, keyframe);
            } else if let Some(v) = self.video.as_mut() {
                let write = RtpWrite::new(
                    v.pt,
                    v.seq.into(),
                    v.ts,
                    now,
                    video_payload(codec, self.picture_id, keyframe, tag),
                )
                .marker(true)
                .nackable(true);
                v.seq += 1;
                v.ts = v.ts.wrapping_add(3000);
                self.picture_id = (self.picture_id + 1) & 0x7fff;
                if let Some(tx) = self.rtc.direct_api().stream_tx_by_mid(v.mid, None) {
                    tx.write_rtp(write);
                    self.shared.sent_packets.fetch_add(1, Ordering::Relaxed);
                    if keyframe {
                        self.keyframe_due = false;
                        self.last_keyframe = Some(now);
                    }
                }
            }
        }
    }

    /// Sends one frame on each simulcast layer (each its own stream, picture ids and keyframes).
    fn send_layers(&mut self, now: Instant, periodic_keyframe: bool) {
        let Some(v) = self.video.as_mut() else { return };
        let (mid, pt, ts) = (v.mid, v.pt, v.ts);
        v.ts = v.ts.wrapping_add(3000);
        let picture_id = self.picture_id;
        self.picture_id = (self.picture_id + 1) & 0x7fff;
        if periodic_keyframe {
            self.last_keyframe = Some(now);
            self.keyframe_due = false;
        }
        let paused = self.shared.paused_layers.load(Ordering::Relaxed);
        let resumed = self.paused_layers & !paused;
        self.paused_layers = paused;
        for (i, (rid, _)) in SIMULCAST_LAYERS.iter().enumerate() {
            if paused & 1 << i != 0 {
                continue;
            }
            self.layer_keyframe_due[i] |= resumed & 1 << i != 0;
            let keyframe = periodic_keyframe || self.layer_keyframe_due[i];
            let layer_picture_id = (picture_id + 1000 * i as u16) & 0x7fff;
            let payload = vp8_layer_payload(layer_picture_id, keyframe, self.spec.tag, i as u8);
            let write = RtpWrite::new(pt, self.layer_seq[i].into(), ts, now, payload)
                .marker(true)
                .nackable(true);
            let mut api = self.rtc.direct_api();
            if let Some(tx) = api.stream_tx_by_mid(mid, Some(Rid::from(*rid))) {
                tx.write_rtp(write);
                self.layer_seq[i] += 1;
                self.layer_keyframe_due[i] &= !keyframe;
                self.shared.sent_packets.fetch_add(1, Ordering::Relaxed);
                self.shared.sent_per_layer[i].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The video codec this peer sends.
    fn video_codec(&self) -> Codec {
        self.spec.video_codec.unwrap_or(Codec::Vp8)
    }

    fn record(&mut self, packet: &RtpPacket) {
        let Some(mid) = self
            .rtc
            .direct_api()
            .stream_rx(&packet.header.ssrc)
            .map(|rx| rx.mid())
        else {
            return;
        };
        let video = self
            .rtc
            .media(mid)
            .is_some_and(|m| m.kind() == MediaKind::Video);
        let pt = packet.header.payload_type;
        let codec = self
            .rtc
            .codec_config()
            .iter()
            .find(|c| c.pt() == pt)
            .map(|c| c.spec().codec);
        let keyframe =
            video && codec.is_some_and(|c| crate::hotpath::is_keyframe(c, &packet.payload));
        // RED audio: what it carries is its primary block.
        let red = !video && self.rtc.codec_config().iter().any(|c| c.red() == Some(pt));
        let payload = match crate::red::primary(&packet.payload).filter(|_| red) {
            Some((_, range)) => &packet.payload[range],
            None => &packet.payload[..],
        };
        if !video
            && self.tone.is_some()
            && let Ok(mut pcm) = self.shared.pcm.lock()
        {
            self.sink.decode_into(payload, &mut pcm);
            if pcm.len() > MAX_PCM {
                let excess = pcm.len() - MAX_PCM;
                pcm.drain(..excess);
            }
        }
        let Ok(mut streams) = self.shared.streams.lock() else {
            return;
        };
        let report = streams
            .entry(mid.to_string())
            .or_insert_with(|| StreamReport {
                mid: mid.to_string(),
                video,
                ..StreamReport::default()
            });
        report.packets += 1;
        if report.first_is_keyframe.is_none() && video {
            report.first_is_keyframe = Some(keyframe);
        }
        report.keyframes += u64::from(keyframe);
        report.seqs.insert(*packet.seq_no);
        let ssrc = *packet.header.ssrc;
        if !report.ssrcs.contains(&ssrc) {
            report.ssrcs.push(ssrc);
        }
        if !report.payload_types.contains(&*pt) {
            report.payload_types.push(*pt);
        }
        if !video && payload.len() <= DTX_PAYLOAD {
            report.small_packets += 1;
        }
        if let Some(last) = report.last_timestamps.last() {
            let step = packet.header.timestamp.wrapping_sub(*last);
            if (step as i32) > 0 {
                *report.timestamp_steps.entry(step).or_default() += 1;
            }
        }
        if let Some(tag) = tag_of(payload, video) {
            if !report.origins.contains(&tag) {
                report.origins.push(tag);
            }
            if report.last_origin != Some(tag) {
                report.switches.push((tag, keyframe));
            }
            report.last_origin = Some(tag);
        }
        if let Some(last) = report.last_timestamps.last()
            && (packet.header.timestamp.wrapping_sub(*last) as i32) < 0
        {
            report.timestamp_regressions += 1;
        }
        if let Some(layer) = layer_of(&packet.payload).filter(|_| video) {
            if report.last_layer != Some(layer) {
                report.layer_switches.push((layer, keyframe));
            }
            report.last_layer = Some(layer);
        }
        if let Some(pid) = picture_id_of(&packet.payload).filter(|_| codec == Some(Codec::Vp8)) {
            if report
                .last_picture_id
                .is_some_and(|last| (last + 1) & 0x7fff != pid)
            {
                report.picture_id_jumps += 1;
            }
            report.last_picture_id = Some(pid);
        }
        if report.last_timestamps.len() == MAX_TIMESTAMPS {
            report.last_timestamps.remove(0);
        }
        report.last_timestamps.push(packet.header.timestamp);
    }
}

/// Whether a datagram is a STUN binding request (RFC 5389: type 0x0001 and the magic cookie).
fn is_binding_request(datagram: &[u8]) -> bool {
    datagram.len() >= 20
        && datagram[..2] == [0x00, 0x01]
        && datagram[4..8] == [0x21, 0x12, 0xa4, 0x42]
}
