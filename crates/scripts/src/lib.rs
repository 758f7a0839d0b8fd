//! Weft's SWML front-end. Every call to a SWML script resource rings the [`SCRIPTS`] front-end
//! of the call controller; this crate answers it with a script run for that call:
//!
//! - [`front`]: attaches to the controller, starts a [`call`] task per ring and hands each
//!   its leg's events (key presses, the end of the call);
//! - [`call`]: one call: loads the script (stored SWML or a webhook's), runs `weft-swml`'s
//!   interpreter and carries out its actions; the script's voice is a source member of the
//!   media engine, and `connect`/`join_room` hand the caller on through the controller;
//! - [`frames`]: sounds as encoded 20 ms frames, cached per sound and codec;
//! - [`recording`] and [`recorder`]: `record_call` and `record`, written from a tap of the
//!   caller's audio as Ogg Opus or WAV;
//! - [`store`]: where scripts come from (implemented by the server on its store).

pub mod call;
pub mod frames;
pub mod front;
pub mod recorder;
pub mod recording;
pub mod store;

pub use front::{Scripts, ScriptsEnv, ScriptsObserver};
pub use store::{RecordingRow, RecordingStore, ScriptBody, ScriptStore};
pub use weft_calls::SCRIPTS;
