//! Weft's call controller: one place where calls are routed, rooms are run, endpoints are rung
//! and the media engine is driven, whichever front-end a call comes from.
//!
//! Front-ends (the Verto sessions of `weft-signaling`, the SIP dialogs of `weft-sip`, later SWML
//! and AI agents) translate their protocol into [`Command`]s and [`FrontEvent`]s back; none knows
//! another's types, and the controller knows neither JSON-RPC nor SIP.
//!
//! - [`controller`]: the sans-IO [`Controller`] (commands, lookups, media answers and time in;
//!   events and requests out), tested deterministically.
//! - [`room`]: the room model and its controls, rendered as Fabric room events.
//! - [`directory`] and [`media`]: the boundaries the server implements (`engine`, with the
//!   `engine` feature, implements [`media::Media`] for `weft_media::MediaEngine`); [`cause`]: why
//!   calls end.
//! - [`shell`]: the thin tokio shell running the controller, its lookups and media requests.

pub mod cause;
pub mod controller;
pub mod directory;
#[cfg(feature = "engine")]
pub mod engine;
pub mod media;
pub mod room;
pub mod shell;

pub use cause::Cause;
pub use controller::SCRIPTS;
pub use controller::{
    CallState, Command, Controller, ControllerConfig, Dial, EndpointId, FrontEvent, FrontId, LegId,
    Output, Party, Presence, Reply, ReplyError, ReqId, Ring,
};
pub use shell::{Calls, CallsObserver};

/// The Weft extension event that tells an SFU-aware publisher which of its simulcast layers
/// anyone receives (the official SDK sends no simulcast and never gets it).
pub const LAYERS_EVENT: &str = "weft.layers";

/// The Weft extension event that tells a member which keys another member of its call pressed.
pub const DTMF_EVENT: &str = "weft.dtmf";
