//! Shared pieces of Weft's fuzz targets (`fuzz_targets/*.rs`): the fixed world the inputs meet
//! (accounts, peers, time), the network's path into the SIP core, a harness around the core,
//! digest signing so that authenticated paths are reachable, and what each target does with
//! its input.
//!
//! What a target exercises depends on its input only; the random tags and keys the core draws
//! differ between runs.

pub mod fixtures;
pub mod harness;
pub mod network;
pub mod scenarios;
pub mod sign;
pub mod swml;

// Tests built with cargo-fuzz's flags (scripts/lib/fuzz.sh runs them so) need libFuzzer's
// coverage hooks linked in.
#[cfg(test)]
use libfuzzer_sys as _;
