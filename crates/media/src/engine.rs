//! The control handle: `MediaEngine`.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use crate::audio_source::{AudioSource, frame_queue};
use crate::config::MediaConfig;
use crate::directory::{Directory, Placement};
use crate::error::MediaError;
use crate::event_bus::{EventBus, EventReceiver};
use crate::ids::{MemberId, RoomId};
use crate::negotiate::{RtcFactory, parse_answer, parse_offer};
use crate::options::{
    LayerPreference, MediaKind, MemberOptions, OfferOptions, RoomOptions, RtpCodec, RtpLegConfig,
    RtpLegOptions,
};
use crate::sdp_sections::join_unbundled;
use crate::shard::{Command, Link, ShardCounters, ShardHandle, ShardSetup};
use crate::tap::AudioTap;

/// Cheap-to-clone, `Send + Sync` handle on the media engine. Dropping the last clone stops the
/// shard threads.
#[derive(Clone)]
pub struct MediaEngine {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Vec<ShardHandle>,
    factories: Vec<RtcFactory>,
    directory: Arc<Directory>,
    events: EventBus,
    next_shard: AtomicUsize,
    max_members_per_room: usize,
    /// Serialises member placement, so a new replica exists before anyone joins it.
    placement: tokio::sync::Mutex<()>,
    stopped: Mutex<bool>,
    /// Where plain-RTP leg sockets bind: the configuration and the next port to try.
    config: MediaConfig,
    next_leg_port: Mutex<u16>,
}

impl MediaEngine {
    /// Binds one UDP socket per shard and starts the shard threads.
    pub fn start(config: MediaConfig) -> Result<Self, MediaError> {
        config.validate()?;
        let provider = str0m::crypto::from_feature_flags();
        let cert = provider
            .dtls_provider
            .generate_certificate()
            .ok_or_else(|| MediaError::Config("cannot generate a DTLS certificate".into()))?;
        let count = config.shard_count();
        let directory = Arc::new(Directory::new(count, config.room_members_per_shard));
        let events = EventBus::new();
        let advertised_ips = config.advertised();
        // The cores this process may run on (a cpuset or `taskset` narrows them), in order.
        let pin_cores = config
            .pin_shards
            .then(core_affinity::get_core_ids)
            .flatten()
            .filter(|cores| !cores.is_empty())
            .map(|cores| cores.into_iter().map(|c| c.id).collect::<Vec<_>>());
        let mut shards = Vec::new();
        let mut factories = Vec::new();
        let mut next_port = config.udp_port_min;
        let (relay_senders, relay_receivers): (Vec<_>, Vec<_>) =
            (0..count).map(|_| mpsc::channel()).unzip();
        for (index, relays) in relay_receivers.into_iter().enumerate() {
            let socket = bind_in_range(&config, &mut next_port)?;
            enlarge_buffers(&socket);
            let port = socket
                .local_addr()
                .map_err(|e| MediaError::Config(e.to_string()))?
                .port();
            let advertised: Vec<SocketAddr> = advertised_ips
                .iter()
                .map(|ip| SocketAddr::new(*ip, port))
                .collect();
            // ICE-TCP listens on the same port number as the shard's UDP socket.
            let tcp = if config.ice_tcp {
                let listener = TcpListener::bind(SocketAddr::new(config.bind_ip, port))
                    .map_err(|e| MediaError::Config(format!("ICE-TCP bind on port {port}: {e}")))?;
                Some(listener)
            } else {
                None
            };
            let advertised_tcp = if tcp.is_some() {
                advertised.clone()
            } else {
                Vec::new()
            };
            factories.push(RtcFactory::new(
                cert.clone(),
                advertised.clone(),
                advertised_tcp.clone(),
                config.bandwidth_estimation,
                config.owned_egress,
            ));
            shards.push(ShardHandle::spawn(ShardSetup {
                index,
                socket,
                advertised,
                advertised_tcp,
                tcp,
                directory: directory.clone(),
                events: events.clone(),
                last_n: config.last_n,
                relays,
                pin_core: pin_cores.as_ref().map(|cores| cores[index % cores.len()]),
                latch_window: config.rtp_latch_window(),
                owned_egress: config.owned_egress,
            })?);
        }
        for (index, shard) in shards.iter().enumerate() {
            let links = relay_senders
                .iter()
                .zip(&shards)
                .enumerate()
                .map(|(other, (sender, handle))| {
                    (other != index).then(|| Link {
                        sender: sender.clone(),
                        waker: handle.waker(),
                    })
                })
                .collect();
            shard.send(Command::Links(links))?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                shards,
                factories,
                directory,
                events,
                next_shard: AtomicUsize::new(0),
                max_members_per_room: config.max_members_per_room,
                placement: tokio::sync::Mutex::new(()),
                stopped: Mutex::new(false),
                config,
                next_leg_port: Mutex::new(next_port),
            }),
        })
    }

    /// The shards' bound UDP addresses, one per shard.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.inner
            .shards
            .iter()
            .map(ShardHandle::local_addr)
            .collect()
    }

    /// A new receiver of engine events (member state, talking, active speaker, keyframes,
    /// layers, key presses: all of them; stats: the latest ones).
    pub fn events(&self) -> EventReceiver {
        self.inner.events.subscribe()
    }

    /// Creates a room. A 1:1 call is a room with two members.
    pub async fn create_room(&self, room: &RoomId, opts: RoomOptions) -> Result<(), MediaError> {
        // An existing room must not take a turn of the round robin: callers that create rooms
        // on demand (once per member) would otherwise put every 1:1 call on the same shard.
        if self.inner.directory.room_shards(room).is_ok() {
            return Err(MediaError::RoomExists(room.clone()));
        }
        let count = self.inner.shards.len();
        let shard = self.inner.next_shard.fetch_add(1, Ordering::Relaxed) % count;
        let max_members = opts.max_members.unwrap_or(self.inner.max_members_per_room);
        self.inner.directory.add_room(room, shard, max_members)?;
        let result = self.inner.shards[shard]
            .request(|reply| Command::CreateRoom {
                room: room.clone(),
                max_members,
                replicas: Vec::new(),
                home: true,
                reply,
            })
            .await;
        if result.is_err() {
            self.inner.directory.remove_room(room);
        }
        result
    }

    /// Closes a room, disconnecting all its members (each gets a `Closed` state event); a room
    /// that spans shards closes on each of them.
    pub async fn close_room(&self, room: &RoomId) -> Result<(), MediaError> {
        let shards = self.inner.directory.room_shards(room)?;
        let mut result = Ok(());
        for (i, shard) in shards.into_iter().enumerate() {
            let closed = self.inner.shards[shard]
                .request(|reply| Command::CloseRoom {
                    room: room.clone(),
                    reply,
                })
                .await;
            // The home's answer is the room's; a replica may be gone already.
            if i == 0 {
                result = closed;
            }
        }
        self.inner.directory.remove_room(room);
        result
    }

    /// Reserves `member` in `room` and returns its shard; creates the room's replica there first
    /// when the member is the first of the room on that shard.
    async fn place(&self, room: &RoomId, member: &MemberId) -> Result<usize, MediaError> {
        let _serial = self.inner.placement.lock().await;
        let placement = self.inner.directory.reserve_member(room, member)?;
        if placement.new_replica
            && let Err(e) = self.add_replica(room, &placement).await
        {
            self.inner.directory.remove_member(member);
            return Err(e);
        }
        Ok(placement.shard)
    }

    /// Creates a replica of `room` on the placement's shard and links the room's other shards
    /// to it (they send it their members, then their media).
    async fn add_replica(&self, room: &RoomId, placement: &Placement) -> Result<(), MediaError> {
        self.inner.shards[placement.shard]
            .request(|reply| Command::CreateRoom {
                room: room.clone(),
                max_members: placement.max_members,
                replicas: placement.others.clone(),
                home: false,
                reply,
            })
            .await?;
        for &other in &placement.others {
            self.inner.shards[other]
                .request(|reply| Command::AddReplica {
                    room: room.clone(),
                    shard: placement.shard,
                    reply,
                })
                .await?;
        }
        Ok(())
    }

    /// Adds a member to `room` from its SDP offer; returns the SDP answer (ICE-lite, all candidates
    /// inline, no trickle).
    pub async fn join(
        &self,
        room: &RoomId,
        member: &MemberId,
        offer_sdp: &str,
        opts: MemberOptions,
    ) -> Result<String, MediaError> {
        let shard = self.place(room, member).await?;
        let result = self.join_on(shard, room, member, offer_sdp, opts).await;
        if result.is_err() {
            self.inner.directory.remove_member(member);
        }
        result
    }

    async fn join_on(
        &self,
        shard: usize,
        room: &RoomId,
        member: &MemberId,
        offer_sdp: &str,
        opts: MemberOptions,
    ) -> Result<String, MediaError> {
        let ((rtc, keys), answer) = self.inner.factories[shard].answer(offer_sdp)?;
        self.inner.shards[shard]
            .request(|reply| Command::AddPeer {
                room: room.clone(),
                member: member.clone(),
                rtc: Box::new(rtc),
                keys,
                pending_offer: None,
                companion: None,
                opts,
                reply,
            })
            .await?;
        Ok(answer)
    }

    /// Adds a member for an inbound call leg: returns the engine's SDP offer (one sendrecv audio
    /// and/or video m-line, candidates inline). With both kinds, each m-line has its own
    /// transport and there is no BUNDLE group: the browser SDK cannot answer a BUNDLEd offer with
    /// two m-lines. Complete it with [`MediaEngine::accept_answer`].
    pub async fn create_offer(
        &self,
        room: &RoomId,
        member: &MemberId,
        offer: OfferOptions,
        opts: MemberOptions,
    ) -> Result<String, MediaError> {
        let shard = self.place(room, member).await?;
        let result = async {
            let parts = self.inner.factories[shard].offer(offer)?;
            let sdp = match parts.as_slice() {
                [one] => one.sdp.clone(),
                _ => join_unbundled(&parts.iter().map(|p| p.sdp.clone()).collect::<Vec<_>>()),
            };
            let mut parts = parts.into_iter();
            let first = parts
                .next()
                .ok_or_else(|| MediaError::State("empty offer".into()))?;
            let companion = parts.next().map(|p| (Box::new(p.rtc), p.keys, p.pending));
            self.inner.shards[shard]
                .request(|reply| Command::AddPeer {
                    room: room.clone(),
                    member: member.clone(),
                    rtc: Box::new(first.rtc),
                    keys: first.keys,
                    pending_offer: Some(first.pending),
                    companion,
                    opts,
                    reply,
                })
                .await?;
            Ok(sdp)
        }
        .await;
        if result.is_err() {
            self.inner.directory.remove_member(member);
        }
        result
    }

    /// Adds a plain-RTP leg (e.g. the media of a SIP call) to `room`: binds a UDP socket and
    /// returns the address to put in the leg's SDP. The leg sends to `opts.remote` when given.
    /// Within its learning window ([`MediaConfig::rtp_latch_window_ms`], from now or from when
    /// it gets its remote) the first valid RTP packet of its payload type or telephone-event type
    /// locks the source the leg accepts media from and sends to (symmetric RTP, for phones behind
    /// NAT); datagrams from any other address are dropped and counted
    /// ([`ShardCounters::leg_foreign_dropped`], [`crate::MemberStats::foreign_dropped`]). A leg
    /// made before the codec is known takes it with [`MediaEngine::configure_rtp_leg`]. With
    /// `opts.srtp` the leg speaks SRTP: what does not unprotect under the remote key is dropped
    /// and counted ([`ShardCounters::leg_srtp_failed`]), and a source whose packets do may move
    /// the lock at any time. Fails with [`MediaError::Srtp`] if the keys cannot be used.
    pub async fn add_rtp_leg(
        &self,
        room: &RoomId,
        member: &MemberId,
        opts: RtpLegOptions,
    ) -> Result<SocketAddr, MediaError> {
        let shard = self.place(room, member).await?;
        let result = async {
            let socket = {
                let mut next = self
                    .inner
                    .next_leg_port
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                bind_in_range(&self.inner.config, &mut next)?
            };
            let port = socket
                .local_addr()
                .map_err(|e| MediaError::Config(e.to_string()))?
                .port();
            self.inner.shards[shard]
                .request(|reply| Command::AddLeg {
                    room: room.clone(),
                    member: member.clone(),
                    socket,
                    opts,
                    reply,
                })
                .await?;
            Ok(SocketAddr::new(self.inner.config.advertised()[0], port))
        }
        .await;
        if result.is_err() {
            self.inner.directory.remove_member(member);
        }
        result
    }

    /// Sets where a plain-RTP leg sends (from the remote SDP) and opens a new learning window,
    /// in which the first valid RTP packet may latch the leg onto its source instead.
    pub async fn set_rtp_leg_remote(
        &self,
        member: &MemberId,
        remote: SocketAddr,
    ) -> Result<(), MediaError> {
        self.shard_of(member)?
            .request(|reply| Command::SetLegRemote {
                member: member.clone(),
                remote,
                reply,
            })
            .await
    }

    /// Applies what the remote SDP negotiated for a plain-RTP leg (codec, payload types, remote
    /// address, SRTP keys), replacing what the leg was created with: codec state (transcoding,
    /// mixing) starts afresh, key presses still being sent are dropped, and a new learning window
    /// opens. The leg's output keeps its SSRC and sequence unless the clock rate changes (a new
    /// SSRC then). An SRTP key equal to the leg's current one keeps its direction's state
    /// (rollover counters, replay windows); a new key starts it afresh; `srtp: None` makes the
    /// leg plain RTP. If the keys cannot be used ([`MediaError::Srtp`]) nothing changes.
    pub async fn configure_rtp_leg(
        &self,
        member: &MemberId,
        config: RtpLegConfig,
    ) -> Result<(), MediaError> {
        self.shard_of(member)?
            .request(|reply| Command::ConfigureLeg {
                member: member.clone(),
                config,
                reply,
            })
            .await
    }

    /// Sends key presses to a plain-RTP leg as RFC 4733 telephone-events on the leg's own SSRC
    /// and sequence: `digits` holds 1 to 64 keys of `0`–`9`, `*`, `#`, `A`–`D` (either case),
    /// each sent as a 100 ms event with 60 ms between keys. Keys sent while others play are
    /// appended. The leg's audio pauses while keys are being sent. Fails with
    /// [`MediaError::Dtmf`] for other characters or when the leg negotiated no telephone-event,
    /// and with [`MediaError::State`] when it has no remote address yet.
    pub async fn send_dtmf(&self, member: &MemberId, digits: &str) -> Result<(), MediaError> {
        let events = crate::dtmf::events_of(digits).map_err(MediaError::Dtmf)?;
        self.shard_of(member)?
            .request(|reply| Command::SendDtmf {
                member: member.clone(),
                events,
                reply,
            })
            .await
    }

    /// Applies the remote answer to the offer made by [`MediaEngine::create_offer`].
    pub async fn accept_answer(
        &self,
        member: &MemberId,
        answer_sdp: &str,
    ) -> Result<(), MediaError> {
        let answer = parse_answer(answer_sdp)?;
        self.shard_of(member)?
            .request(|reply| Command::AcceptAnswer {
                member: member.clone(),
                answer,
                reply,
            })
            .await
    }

    /// Renegotiates a member (`updateMedia`) from a new remote offer; returns the answer.
    pub async fn update_media(
        &self,
        member: &MemberId,
        offer_sdp: &str,
    ) -> Result<String, MediaError> {
        let offer = parse_offer(offer_sdp)?;
        self.shard_of(member)?
            .request(|reply| Command::UpdateMedia {
                member: member.clone(),
                offer,
                reply,
            })
            .await
    }

    /// Mutes or unmutes what a member sends: a muted kind is not forwarded and leaves the mix.
    pub async fn set_muted(
        &self,
        member: &MemberId,
        kind: MediaKind,
        muted: bool,
    ) -> Result<(), MediaError> {
        self.shard_of(member)?
            .request(|reply| Command::SetMuted {
                member: member.clone(),
                kind,
                muted,
                reply,
            })
            .await
    }

    /// Makes a member deaf (receives no audio) or hearing again.
    pub async fn set_deaf(&self, member: &MemberId, deaf: bool) -> Result<(), MediaError> {
        self.shard_of(member)?
            .request(|reply| Command::SetDeaf {
                member: member.clone(),
                deaf,
                reply,
            })
            .await
    }

    /// Sets a subscriber's simulcast layer preference.
    pub async fn set_layer_preference(
        &self,
        member: &MemberId,
        pref: LayerPreference,
    ) -> Result<(), MediaError> {
        self.shard_of(member)?
            .request(|reply| Command::SetLayerPreference {
                member: member.clone(),
                pref,
                reply,
            })
            .await
    }

    /// Removes a member: stops all forwarding to and from it and frees its state.
    pub async fn remove_member(&self, member: &MemberId) -> Result<(), MediaError> {
        self.shard_of(member)?
            .request(|reply| Command::RemoveMember {
                member: member.clone(),
                reply,
            })
            .await
    }

    /// Adds a **source member** to `room`: audio the engine produces (a script's prompts), fed
    /// through the returned [`AudioSource`] as 20 ms frames already encoded in `codec`. Every
    /// 20 ms the source writes its next queued frame, if any, into the first audio slot of every
    /// other member of the room on its shard (WebRTC peers and plain-RTP legs) as the slot's
    /// own continuing stream: its SSRC, the next sequence number, a timestamp that advances by
    /// one frame every 20 ms whether or not a frame was queued (the marker bit set on the first
    /// frame after a gap), and an RFC 6464 level where the slot negotiated it (measured for
    /// G.711, 127 for Opus). Listeners that do not take `codec` are skipped and counted
    /// ([`ShardCounters::source_codec_skipped`]): nothing is transcoded.
    ///
    /// While a room has a source, its members' first audio slots carry only the source's frames
    /// (neither forwarded nor mixed audio from other publishers); their other slots are
    /// unchanged. A source is not a peer: it does not count in the room's headcount for mixing,
    /// publishes nothing to forward and takes no slot; it emits no `Connected` state, and a
    /// `Closed` state when it goes. A room has at most one source ([`MediaError::State`] for a
    /// second); the member id is unique like any member's, and the member counts against the
    /// room's member limit. [`MediaEngine::remove_member`] and [`MediaEngine::close_room`]
    /// remove it; sends on its handle then fail. Sources do not move
    /// ([`MediaEngine::move_member`]).
    pub async fn add_source(
        &self,
        room: &RoomId,
        member: &MemberId,
        codec: RtpCodec,
    ) -> Result<AudioSource, MediaError> {
        let shard = self.place(room, member).await?;
        let (frames, epoch, queue) = frame_queue();
        let result = self.inner.shards[shard]
            .request(|reply| Command::AddSource {
                room: room.clone(),
                member: member.clone(),
                codec,
                frames: queue,
                reply,
            })
            .await;
        if let Err(e) = result {
            self.inner.directory.remove_member(member);
            return Err(e);
        }
        Ok(AudioSource::new(
            member.clone(),
            codec,
            frames,
            epoch,
            self.inner.shards[shard].sender(),
        ))
    }

    /// Taps the audio `member` sends: a copy of each audio packet it sends (Opus from a WebRTC
    /// peer as str0m hands it over, the primary block of RED; a plain-RTP leg's payloads after
    /// SRTP), muted or not, with its extended sequence number, RTP timestamp and codec. The
    /// payload is shared with forwarding, never copied. The tap holds [`crate::TAP_QUEUE`]
    /// packets; when full, the shard drops further packets and counts them
    /// ([`AudioTap::dropped`]) rather than wait. A member has one tap: tapping it again ends
    /// the earlier tap. Dropping the [`AudioTap`] ends the tap; it ends by itself when the
    /// member goes. A move keeps the tap. Source members cannot be tapped
    /// ([`MediaError::State`]).
    pub async fn tap(&self, member: &MemberId) -> Result<AudioTap, MediaError> {
        let (sender, tap) = crate::tap::tap();
        self.shard_of(member)?
            .request(|reply| Command::Tap {
                member: member.clone(),
                tap: sender,
                reply,
            })
            .await?;
        Ok(tap)
    }

    /// Moves `member` (a WebRTC peer, with its companion transport if any, or a plain-RTP
    /// leg) into room `to`, keeping its transports (ICE, DTLS, SRTP), SSRCs and slots. It leaves
    /// its room as on removal (the others stop receiving it and it them; mixing policy re-applied;
    /// the room's other shards told) and joins `to` as on a join: [`MediaError::NoSuchRoom`]
    /// or [`MediaError::RoomFull`] leave it where it was. It stays on its shard: if `to` lives
    /// elsewhere, `to` gets a replica on the member's shard. Its slots are then filled from
    /// `to`'s publishers (continuing their sequence numbers), and what it publishes goes to
    /// `to`'s members. Events: no `Closed` (the member is not gone); a talking member gets
    /// `Talking { talking: false }` in its old room; a connected member gets a `Connected` state
    /// event naming `to`. Moving to the member's own room does nothing. Source members do not
    /// move ([`MediaError::Unsupported`]).
    pub async fn move_member(&self, member: &MemberId, to: &RoomId) -> Result<(), MediaError> {
        let _serial = self.inner.placement.lock().await;
        let (placement, from) = self.inner.directory.move_member(member, to)?;
        if from == *to {
            return Ok(());
        }
        let result = async {
            if placement.new_replica {
                self.add_replica(to, &placement).await?;
            }
            self.inner.shards[placement.shard]
                .request(|reply| Command::MoveMember {
                    member: member.clone(),
                    to: to.clone(),
                    reply,
                })
                .await
        }
        .await;
        if result.is_err() {
            // Undo: the member is where it was (its old room has its place free still).
            let _ = self.inner.directory.move_member(member, &from);
        }
        result
    }

    /// Number of members the engine knows (all rooms).
    pub fn member_count(&self) -> usize {
        self.inner.directory.member_count()
    }

    /// Per-shard counters (peers, rooms, packets), for tests and metrics.
    pub async fn shard_counters(&self) -> Result<Vec<ShardCounters>, MediaError> {
        let mut all = Vec::with_capacity(self.inner.shards.len());
        for shard in &self.inner.shards {
            all.push(shard.request(|reply| Command::Counters { reply }).await?);
        }
        Ok(all)
    }

    /// Stops all shards now (also done when the last handle is dropped).
    pub fn shutdown(&self) {
        self.inner.stop();
    }

    /// Test-only: makes str0m work for `member` panic on its shard.
    #[cfg(test)]
    pub(crate) async fn inject_fault(&self, member: &MemberId) -> Result<(), MediaError> {
        self.shard_of(member)?
            .request(|reply| Command::InjectFault {
                member: member.clone(),
                reply,
            })
            .await
    }

    fn shard_of(&self, member: &MemberId) -> Result<&ShardHandle, MediaError> {
        let shard = self.inner.directory.member_shard(member)?;
        Ok(&self.inner.shards[shard])
    }
}

impl Inner {
    fn stop(&self) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        if *stopped {
            return;
        }
        *stopped = true;
        for shard in &self.shards {
            let _ = shard.send(Command::Shutdown);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop();
        for shard in &mut self.shards {
            shard.stop();
        }
    }
}

fn bind_in_range(config: &MediaConfig, next_port: &mut u16) -> Result<UdpSocket, MediaError> {
    let (min, max) = (config.udp_port_min, config.udp_port_max);
    if min == 0 {
        return UdpSocket::bind(SocketAddr::new(config.bind_ip, 0))
            .map_err(|e| MediaError::Config(format!("bind {}: {e}", config.bind_ip)));
    }
    // Round the range from the cursor: ports of legs that ended are used again, as late as
    // possible (stray packets of an old call must not meet a new leg in its latch window).
    for _ in 0..=u32::from(max.saturating_sub(min)) {
        let port = if (min..=max).contains(next_port) {
            *next_port
        } else {
            min
        };
        *next_port = if port >= max { min } else { port + 1 };
        if let Ok(socket) = UdpSocket::bind(SocketAddr::new(config.bind_ip, port)) {
            return Ok(socket);
        }
    }
    Err(MediaError::Config(format!(
        "no free UDP port in {}..={}",
        config.udp_port_min, config.udp_port_max
    )))
}

/// What a shard socket asks the kernel to buffer in each direction: a shard serving hundreds of
/// members must ride out bursts (keyframes, a stalled loop turn) without the kernel dropping
/// datagrams. Linux caps the request at `net.core.rmem_max` / `wmem_max`.
const SHARD_SOCKET_BUFFER: usize = 4 << 20;

/// Asks for [`SHARD_SOCKET_BUFFER`] on a shard socket; warns when the kernel grants much less.
fn enlarge_buffers(socket: &UdpSocket) {
    let socket = socket2::SockRef::from(socket);
    let _ = socket.set_recv_buffer_size(SHARD_SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SHARD_SOCKET_BUFFER);
    let granted = socket.recv_buffer_size().unwrap_or(0);
    if granted < SHARD_SOCKET_BUFFER {
        tracing::warn!(
            granted,
            wanted = SHARD_SOCKET_BUFFER,
            "media socket receive buffer is small; raise net.core.rmem_max and net.core.wmem_max"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::event::{MediaEvent, MemberState};
    use crate::testkit::{PeerSpec, TestPeer, wait_until};

    #[test]
    fn ports_of_the_range_are_used_again_once_free() {
        let free = UdpSocket::bind("127.0.0.1:0").expect("a free port");
        let port = free.local_addr().expect("port").port();
        drop(free);
        let config = MediaConfig {
            udp_port_min: port,
            udp_port_max: port,
            ..MediaConfig::loopback(1)
        };
        let mut cursor = port;
        let first = bind_in_range(&config, &mut cursor).expect("the port");
        assert!(bind_in_range(&config, &mut cursor).is_err(), "taken");
        drop(first);
        assert!(bind_in_range(&config, &mut cursor).is_ok(), "free again");
    }

    #[test]
    fn an_existing_room_does_not_take_a_turn_of_the_shards() {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let engine = MediaEngine::start(MediaConfig::loopback(2)).expect("engine");
        rt.block_on(async {
            for call in ["a", "b", "c"] {
                let room = RoomId::from(call);
                engine
                    .create_room(&room, RoomOptions::default())
                    .await
                    .expect("new");
                // The second member of the call asks for its room too.
                assert!(matches!(
                    engine.create_room(&room, RoomOptions::default()).await,
                    Err(MediaError::RoomExists(_))
                ));
            }
        });
        let shard = |r: &str| {
            engine
                .inner
                .directory
                .room_shards(&RoomId::from(r))
                .unwrap()[0]
        };
        assert_ne!(shard("a"), shard("b"), "calls alternate between the shards");
        assert_eq!(shard("a"), shard("c"));
        engine.shutdown();
    }

    fn received(p: &TestPeer) -> u64 {
        p.received(false)
            .iter()
            .chain(p.received(true).iter())
            .map(|s| s.packets)
            .sum()
    }

    #[test]
    fn a_panic_in_one_peer_closes_only_that_peer() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let engine = MediaEngine::start(MediaConfig::loopback(1)).unwrap();
        let mut events = engine.events();
        let room = RoomId::from("r");
        rt.block_on(engine.create_room(&room, RoomOptions::default()))
            .unwrap();
        let peers: Vec<TestPeer> = (1..=3)
            .map(|tag| {
                let (pending, offer) = TestPeer::offer(PeerSpec::multi(tag, 1)).unwrap();
                let member = MemberId::from(format!("m{tag}"));
                let answer = rt
                    .block_on(engine.join(&room, &member, &offer, MemberOptions::default()))
                    .unwrap();
                pending.connect(&answer).unwrap()
            })
            .collect();
        assert!(wait_until(Duration::from_secs(10), || peers
            .iter()
            .all(|p| received(p) > 50)));

        rt.block_on(engine.inject_fault(&MemberId::from("m3")))
            .unwrap();

        let failed = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    match events.recv().await {
                        Some(MediaEvent::MemberState {
                            member,
                            state: MemberState::Failed(reason),
                            ..
                        }) => {
                            break (member, reason);
                        }
                        Some(_) => continue,
                        None => panic!("events closed"),
                    }
                }
            })
            .await
        });
        assert_eq!(
            failed.unwrap(),
            (MemberId::from("m3"), "internal error".to_string())
        );
        let counters = rt.block_on(engine.shard_counters()).unwrap();
        assert_eq!(counters[0].panics, 1);
        assert_eq!(counters[0].peers, 2);
        let before: Vec<u64> = peers[..2].iter().map(received).collect();
        assert!(wait_until(Duration::from_secs(10), || {
            peers[..2]
                .iter()
                .zip(&before)
                .all(|(p, b)| received(p) > b + 50)
        }));
    }
}
