//! Weft media: a str0m-based SFU.
//!
//! The engine runs one **shard** thread per core. Each shard owns a UDP socket, the str0m `Rtc`s
//! of its members (ICE-lite, RTP mode), its rooms, and a timer heap; a room lives on one shard, so
//! forwarding is a loop without locks or hand-offs, until it has
//! [`MediaConfig::room_members_per_shard`] members there: then further members go to other
//! shards, each packet crosses to each of the room's other shards once (one batched message per
//! shard and pass), and every shard forwards, mixes and switches for its own members. Datagrams
//! are demultiplexed by remote address, then by STUN username. Payloads are shared (`Arc<[u8]>`)
//! between subscribers and shards, never copied. A panic inside one peer's `Rtc` closes that peer
//! only.
//!
//! Signaling drives the engine through [`MediaEngine`], a cheap-to-clone `Send + Sync` handle with
//! async methods; it reports back through [`MediaEngine::events`]. SDP travels as plain strings;
//! no signaling concept (JSON-RPC, Verto) lives here.
//!
//! - A **room** is created with [`MediaEngine::create_room`]; a 1:1 call is a room of two.
//! - A WebRTC client **joins** with its offer ([`MediaEngine::join`] returns the answer: ICE-lite,
//!   all candidates inline, no trickle). For an **inbound call leg** the engine makes the offer
//!   ([`MediaEngine::create_offer`]) and takes the answer ([`MediaEngine::accept_answer`]).
//! - Each member receives as many streams as its offer has receive slots. In a 1:1 call the two
//!   members' streams are forwarded directly. In a room of three or more, a member with one audio
//!   slot (the browser SDK's shape) hears **mix-minus** Opus (everyone but itself; the three loudest
//!   are mixed) and a member with one video slot sees the **active speaker** (the speaker sees the
//!   previous one), switched on a keyframe with SSRC, sequence, timestamp and VP8 picture-id
//!   continuity. Members with more slots get the other members' streams individually (last-N).
//! - Simulcast publishers: each subscriber gets the highest layer its bandwidth estimate (TWCC,
//!   capped by [`LayerPreference`]) allows, switched on that layer's keyframe. Layers nobody
//!   has received for two seconds are reported paused ([`MediaEvent::LayersWanted`], the layers
//!   an SFU-aware publisher need still send); a subscriber choosing one resumes it.
//! - Keyframes: late joiners and switches ask the publisher (PLI, throttled); NACKs from
//!   subscribers are answered from str0m's RTX cache.
//! - With [`MediaConfig::ice_tcp`], shards also accept ICE-TCP (passive, RFC 4571 framing).
//! - A **plain-RTP leg** (SIP media: Opus, PCMU or PCMA; in the clear or SDES-SRTP) joins with
//!   [`MediaEngine::add_rtp_leg`], which returns the local address for the leg's SDP; a leg made
//!   before the answer picked the codec takes it with [`MediaEngine::configure_rtp_leg`]. A G.711
//!   leg is transcoded to and from Opus for WebRTC members that did not negotiate its codec (a
//!   1:1 call), and in rooms of three or more it is mixed like a one-slot member, hearing its
//!   mix-minus as G.711 ([`g711`], [`resample`]). Its RFC 4733 key presses become
//!   [`MediaEvent::Dtmf`]; [`MediaEngine::send_dtmf`] sends it key presses as RFC 4733 events on
//!   its own stream. **Latching** (against "RTP bleed"): the leg sends to the address of its SDP;
//!   only within a learning window ([`MediaConfig::rtp_latch_window_ms`], 2 s by default) after
//!   it gets that address (or is created without one) may the first valid RTP packet of its
//!   payload type or telephone-event type lock another source (symmetric RTP, for phones behind
//!   NAT). Afterwards datagrams from any other address are dropped and counted
//!   ([`ShardCounters::leg_foreign_dropped`], [`MemberStats::foreign_dropped`]). A shard reads a
//!   bounded share of each leg's datagrams per loop turn, so a flood on one leg's port starves
//!   nothing.
//! - **SRTP legs** (RFC 3711, keyed by SDES, RFC 4568; AES_CM_128_HMAC_SHA1_80,
//!   AES_CM_128_HMAC_SHA1_32 and AEAD_AES_128_GCM, RFC 7714, via [`srtp`]) carry [`LegSrtp`]
//!   keys in [`RtpLegOptions::srtp`] / [`RtpLegConfig::srtp`]. Every datagram a leg receives is
//!   unprotected first (muxed RTCP by RFC 5761, then ignored like plain RTCP); one that does not
//!   authenticate is dropped and counted ([`ShardCounters::leg_srtp_failed`],
//!   [`MemberStats::srtp_failed`]) and latches nothing, while one that does may move the lock at
//!   any time (a phone changing address). Everything the leg sends (audio, key presses) is
//!   protected in its reusable buffer. A re-INVITE's [`MediaEngine::configure_rtp_leg`] keeps
//!   the SRTP state of a key that did not change (rollover counters, replay windows) and starts
//!   a new key's direction afresh.
//! - Opus DTX passes through as sent; RED (RFC 2198) is negotiated with peers that offer it,
//!   forwarded as RED to subscribers that negotiated it and as its primary Opus to the rest.
//! - **Scripts** (SWML IVRs): a **source member** ([`MediaEngine::add_source`]) is audio the
//!   engine is handed as encoded 20 ms frames ([`AudioSource`]) and writes into the first audio
//!   slot of the room's other members; a **tap** ([`MediaEngine::tap`]) copies the audio a member
//!   sends ([`AudioTap`], for recording); [`MediaEngine::move_member`] moves a member into
//!   another room with its connection kept.
//! - [`MediaEngine::update_media`] renegotiates; [`MediaEngine::set_muted`],
//!   [`MediaEngine::set_deaf`] and [`MediaEngine::set_layer_preference`] change forwarding;
//!   [`MediaEngine::remove_member`] frees everything the member had.
//!
//! ```no_run
//! use weft_media::{MediaConfig, MediaEngine, MediaEvent, MediaKind, MemberId, MemberOptions, RoomId, RoomOptions};
//!
//! # async fn example(offer_from_browser: String) -> Result<(), weft_media::MediaError> {
//! let engine = MediaEngine::start(MediaConfig::default())?;
//! let mut events = engine.events();
//! let room = RoomId::from("room-1");
//! engine.create_room(&room, RoomOptions::default()).await?;
//!
//! // verto.invite → answer SDP for verto.answer / verto.media
//! let alice = MemberId::from("call-id-of-alice");
//! let answer_sdp = engine.join(&room, &alice, &offer_from_browser, MemberOptions::default()).await?;
//! # let _ = answer_sdp;
//!
//! // member.audio_mute
//! engine.set_muted(&alice, MediaKind::Audio, true).await?;
//!
//! // events → signaling notifications
//! tokio::spawn(async move {
//!     while let Some(event) = events.recv().await {
//!         match event {
//!             MediaEvent::MemberState { member, state, .. } => println!("{member}: {state:?}"),
//!             MediaEvent::Talking { member, talking, .. } => println!("{member} talking={talking}"),
//!             _ => {}
//!         }
//!     }
//! });
//!
//! // verto.bye
//! engine.remove_member(&alice).await?;
//! engine.close_room(&room).await?;
//! # Ok(())
//! # }
//! ```
//!
//! [`testkit`] has a synthetic str0m client peer for end-to-end tests (also usable by other crates).

mod audio_source;
mod config;
mod directory;
pub mod dtmf;
pub mod egress;
mod engine;
mod error;
mod event;
mod event_bus;
pub use weft_audio::g711;
pub mod hotpath;
mod ids;
mod leg_keys;
pub mod mixer;
mod negotiate;
mod options;
pub mod red;
pub mod resample;
pub mod rewrite;
pub mod rtx_ring;
pub mod sdp_sections;
mod shard;
pub mod speech;
mod tap;
pub mod testkit;
mod transcode;

pub use audio_source::{AudioSource, SOURCE_QUEUE};
pub use config::MediaConfig;
pub use engine::MediaEngine;
pub use error::MediaError;
pub use event::{MediaEvent, MemberState, MemberStats};
pub use event_bus::EventReceiver;
pub use ids::{MemberId, RoomId};
pub use leg_keys::LegSrtp;
pub use negotiate::MAX_OFFER_SECTIONS;
pub use options::{
    LayerPreference, MediaKind, MemberOptions, OfferOptions, RoomOptions, RtpCodec, RtpLegConfig,
    RtpLegOptions, VideoLayer,
};
pub use shard::{
    LATENCY_BUCKETS_US, LatencyHistogram, ShardCounters, WAKEUP_REASONS, WakeupReasons,
};
pub use tap::{AudioTap, TAP_QUEUE, TapPacket};
/// The SRTP implementation of SRTP legs: its [`srtp::MasterKey`] and [`srtp::Profile`] make a
/// [`LegSrtp`].
pub use weft_srtp as srtp;
