//! Weft signaling: the Fabric JSON-RPC protocol over WebSocket, as the unmodified
//! `@signalwire/js` 3.30.0 speaks it (`shared/spec/fabric-protocol.md`).
//!
//! Layers:
//! - [`rpc`]: JSON-RPC 2.0 codec with size limits; [`verto`], [`handshake`]:
//!   small protocol helpers.
//! - [`session`]: the sans-IO per-connection state machine (handshake, event acks, pings,
//!   replies within the deadline, duplicate ids, rate and garbage limits).
//! - [`hub`]: the sans-IO switch between sessions (resume by `protocol`, presence, routing by
//!   address, ringing, rooms); [`room`]: the room model and its controls.
//! - [`directory`] and [`media`]: the boundaries the server implements; [`observe`]: the counts
//!   it may report as metrics.
//! - [`shell`]: the thin tokio/axum shell.
//!
//! Wiring it into a server:
//! 1. Implement [`directory::Directory`] (token verification, address resolution).
//!    [`media::Media`] is implemented for `weft_media::MediaEngine` ([`engine`]).
//! 2. `let signaling = Signaling::start(config, Arc::new(directory), Arc::new(engine.clone()));`
//!    inside the tokio runtime, and mount [`router`]`(signaling.clone())` for the
//!    `relay.<domain>` host.
//! 3. Spawn [`engine::forward_events`]`(&engine, signaling.clone())`; call
//!    [`Signaling::shutdown`] before stopping the listener.

pub mod directory;
pub mod engine;
pub mod handshake;
pub mod hub;
pub mod media;
pub mod message;
pub mod observe;
pub mod room;
pub mod rpc;
pub mod session;
pub mod shell;
pub mod verto;

pub use shell::{Signaling, SignalingConfig, router};
