//! Weft signaling: the Fabric JSON-RPC protocol over WebSocket.
//!
//! - [`rpc`]: JSON-RPC 2.0 codec with size limits.
//! - [`session`]: the sans-IO per-connection state machine.
//! - [`hub`]: the sans-IO switch between sessions (presence, calls, rooms).
//! - [`room`]: the room model and its controls.
//! - [`directory`] and [`media`]: the boundaries the server implements.
//! - [`shell`]: the thin tokio/axum shell.

pub mod address;
pub mod directory;
pub mod handshake;
pub mod hub;
pub mod media;
pub mod message;
pub mod room;
pub mod rpc;
pub mod session;
pub mod shell;
pub mod verto;

pub use shell::{Signaling, SignalingConfig, router};
