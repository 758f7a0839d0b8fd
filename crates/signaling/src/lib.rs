//! Weft signaling: the Fabric JSON-RPC protocol over WebSocket, as the unmodified
//! `@signalwire/js` 3.30.0 speaks it (`shared/spec/fabric-protocol.md`), and the Verto
//! front-end of the call controller (`weft-calls`).
//!
//! Layers:
//! - [`rpc`]: JSON-RPC 2.0 codec with size limits; [`verto`], [`handshake`], [`controls`]:
//!   small protocol helpers.
//! - [`session`]: the sans-IO per-connection state machine (handshake, event acks, pings,
//!   replies within the deadline, duplicate ids, rate and garbage limits).
//! - [`hub`]: the sans-IO switch between sessions (resume by `protocol`, presence, queued
//!   events) and the Verto front-end of calls: requests become the controller's commands, its
//!   events become Verto messages and Fabric events.
//! - [`directory`]: the token check the server implements; [`observe`]: the counts it may
//!   report as metrics.
//! - [`shell`]: the thin tokio/axum shell.
//!
//! Wiring it into a server:
//! 1. Implement [`directory::Directory`] (token verification) and start the call controller
//!    (`weft_calls::Calls::start`).
//! 2. `let signaling = Signaling::start(config, Arc::new(directory), calls.clone());` inside the
//!    tokio runtime, and mount [`router`]`(signaling.clone())` for the `relay.<domain>` host.
//! 3. Call [`Signaling::shutdown`] before stopping the listener.

pub mod controls;
pub mod directory;
pub mod handshake;
pub mod hub;
pub mod message;
pub mod observe;
pub mod rpc;
pub mod session;
pub mod shell;
pub mod verto;

pub use shell::{Signaling, SignalingConfig, router};
