//! Shards: one thread per core owning its peers, its rooms and its UDP socket.

mod commands;
mod counters;
mod demux;
mod drive;
mod egress;
mod feeds;
mod forward;
mod io;
mod latch;
mod leg;
mod leg_crypto;
mod legs;
mod members;
mod mixing;
mod moves;
mod outbox;
mod peer;
mod relay;
mod replica;
mod room;
mod rtcp_stats;
mod simulcast;
mod slab;
mod taps;
mod tcp;
mod timers;
mod wakeups;
mod worker;

use std::net::SocketAddr;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use str0m::Rtc;
use str0m::change::SdpOffer;
use tokio::sync::oneshot;

use crate::audio_source::FrameQueue;
use crate::directory::Directory;
use crate::egress::EgressKeys;
use crate::error::MediaError;
use crate::event_bus::EventBus;
use crate::ids::{MemberId, RoomId};
use crate::negotiate::{AnswerParts, PendingOffer};
use crate::options::{
    LayerPreference, MediaKind, MemberOptions, RtpCodec, RtpLegConfig, RtpLegOptions,
};
use crate::tap::TapSender;

pub use counters::{LATENCY_BUCKETS_US, LatencyHistogram, ShardCounters};
pub(crate) use latch::LATCH_WINDOW;
pub(crate) use relay::{Link, RelayBatch};
pub use wakeups::{WAKEUP_REASONS, WakeupReasons};

/// Reply channel of a command.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, MediaError>>;

/// A request from the control plane to a shard.
pub(crate) enum Command {
    /// Creates a room, or a replica of a room that spans shards (see [`replica`]).
    CreateRoom {
        room: RoomId,
        max_members: usize,
        /// The room's other shards (empty for a new room).
        replicas: Vec<usize>,
        /// Whether this shard is the room's home (it emits the room-level events).
        home: bool,
        reply: Reply<()>,
    },
    /// `shard` now holds a replica of `room`: send it the room's members here, then their media.
    AddReplica {
        room: RoomId,
        shard: usize,
        reply: Reply<()>,
    },
    /// The links to the other shards (sent once, at start).
    Links(Vec<Option<Link>>),
    CloseRoom {
        room: RoomId,
        reply: Reply<()>,
    },
    AddPeer {
        room: RoomId,
        member: MemberId,
        rtc: Box<Rtc>,
        /// The handle on its SRTP keys when the shard seals what it sends.
        keys: Option<EgressKeys>,
        pending_offer: Option<PendingOffer>,
        /// A second transport for the member's other m-line (an unbundled engine offer).
        companion: Option<(Box<Rtc>, Option<EgressKeys>, PendingOffer)>,
        opts: MemberOptions,
        reply: Reply<()>,
    },
    AddLeg {
        room: RoomId,
        member: MemberId,
        socket: std::net::UdpSocket,
        opts: RtpLegOptions,
        reply: Reply<()>,
    },
    SetLegRemote {
        member: MemberId,
        remote: SocketAddr,
        reply: Reply<()>,
    },
    ConfigureLeg {
        member: MemberId,
        config: RtpLegConfig,
        reply: Reply<()>,
    },
    /// Sends RFC 4733 event codes (checked) to a leg.
    SendDtmf {
        member: MemberId,
        events: Vec<u8>,
        reply: Reply<()>,
    },
    AcceptAnswer {
        member: MemberId,
        answer: AnswerParts,
        reply: Reply<()>,
    },
    UpdateMedia {
        member: MemberId,
        offer: SdpOffer,
        reply: Reply<String>,
    },
    SetMuted {
        member: MemberId,
        kind: MediaKind,
        muted: bool,
        reply: Reply<()>,
    },
    SetDeaf {
        member: MemberId,
        deaf: bool,
        reply: Reply<()>,
    },
    SetLayerPreference {
        member: MemberId,
        pref: LayerPreference,
        reply: Reply<()>,
    },
    RemoveMember {
        member: MemberId,
        reply: Reply<()>,
    },
    /// Adds a source member (audio the engine produces) to a room.
    AddSource {
        room: RoomId,
        member: MemberId,
        codec: RtpCodec,
        frames: FrameQueue,
        reply: Reply<()>,
    },
    /// A source's producer cleared its queue: free the places of the cleared frames.
    ClearSource {
        member: MemberId,
    },
    /// Copies what a member sends of audio to `tap` (replacing an earlier tap).
    Tap {
        member: MemberId,
        tap: TapSender,
        reply: Reply<()>,
    },
    /// Moves a member, its transports and slots kept, into another room on this shard.
    MoveMember {
        member: MemberId,
        to: RoomId,
        reply: Reply<()>,
    },
    Counters {
        reply: Reply<ShardCounters>,
    },
    /// Test-only: make a member's next drive panic.
    #[cfg(test)]
    InjectFault {
        member: MemberId,
        reply: Reply<()>,
    },
    Shutdown,
}

/// The control plane's handle on one shard thread.
pub(crate) struct ShardHandle {
    commands: mpsc::Sender<Command>,
    waker: Arc<mio::Waker>,
    local_addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

/// A way to send commands to a shard from outside the engine (a source's producer).
#[derive(Clone)]
pub(crate) struct CommandSender {
    commands: mpsc::Sender<Command>,
    waker: Arc<mio::Waker>,
}

impl CommandSender {
    /// Sends a command and wakes the shard.
    pub(crate) fn send(&self, command: Command) -> Result<(), MediaError> {
        self.commands
            .send(command)
            .map_err(|_| MediaError::Stopped)?;
        self.waker.wake().map_err(|_| MediaError::Stopped)
    }

    /// A sender to no shard, and the inbox its commands arrive in (for tests).
    #[cfg(test)]
    pub(crate) fn detached() -> (Self, mpsc::Receiver<Command>) {
        let (commands, inbox) = mpsc::channel();
        let poll = mio::Poll::new().expect("poll");
        let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).expect("waker"));
        (Self { commands, waker }, inbox)
    }
}

/// What a shard needs from the engine.
pub(crate) struct ShardSetup {
    pub index: usize,
    pub socket: std::net::UdpSocket,
    pub advertised: Vec<SocketAddr>,
    pub advertised_tcp: Vec<SocketAddr>,
    pub tcp: Option<std::net::TcpListener>,
    pub directory: Arc<Directory>,
    pub events: EventBus,
    pub last_n: usize,
    /// Messages from the other shards (rooms that span shards).
    pub relays: mpsc::Receiver<RelayBatch>,
    /// The core to pin the shard thread to, if any.
    pub pin_core: Option<usize>,
    /// The learning window of plain-RTP legs (see [`latch`]).
    pub latch_window: std::time::Duration,
    /// Peers may have Weft-owned egress: video sources keep a retransmission ring.
    pub owned_egress: bool,
}

impl ShardHandle {
    /// Starts a shard thread on an already bound socket.
    pub(crate) fn spawn(setup: ShardSetup) -> Result<Self, MediaError> {
        let local_addr = setup
            .socket
            .local_addr()
            .map_err(|e| MediaError::Config(format!("socket address: {e}")))?;
        let (commands, inbox) = mpsc::channel();
        let pin_core = setup.pin_core;
        let worker = worker::Worker::new(setup, inbox)?;
        let waker = worker.waker();
        let thread = std::thread::Builder::new()
            .name(format!("weft-media-shard-{}", worker.index()))
            .spawn(move || {
                if let Some(id) = pin_core
                    && !core_affinity::set_for_current(core_affinity::CoreId { id })
                {
                    tracing::warn!(core = id, "could not pin the media shard to its core");
                }
                worker.run()
            })
            .map_err(|e| MediaError::Config(format!("spawn shard: {e}")))?;
        Ok(Self {
            commands,
            waker,
            local_addr,
            thread: Some(thread),
        })
    }

    /// A sender of commands to the shard, for handles that outlive a request.
    pub(crate) fn sender(&self) -> CommandSender {
        CommandSender {
            commands: self.commands.clone(),
            waker: self.waker.clone(),
        }
    }

    /// The waker of the shard's loop.
    pub(crate) fn waker(&self) -> Arc<mio::Waker> {
        self.waker.clone()
    }

    /// The shard's bound UDP address.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Sends a command and wakes the shard.
    pub(crate) fn send(&self, command: Command) -> Result<(), MediaError> {
        self.commands
            .send(command)
            .map_err(|_| MediaError::Stopped)?;
        self.waker.wake().map_err(|_| MediaError::Stopped)
    }

    /// Sends a command carrying a reply channel and waits for the reply.
    pub(crate) async fn request<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, MediaError> {
        let (reply, answer) = oneshot::channel();
        self.send(make(reply))?;
        answer.await.map_err(|_| MediaError::Stopped)?
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(&mut self) {
        let _ = self.send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
