//! Weft's SIP front-end: desk phones, softphones and trunks reach the call controller
//! (`weft-calls`) as they would reach SignalWire.
//!
//! - [`core`]: the sans-IO core: registrar, digest authentication, dialogs, the B2BUA's legs and
//!   their SDP, session timers and limits. Messages, store answers, controller events and time
//!   in; responses, requests, store work and controller commands out. RFC 3261 transactions
//!   belong to the shell's stack.
//! - [`shell`]: the tokio shell on rsipstack (UDP, TCP and TLS listeners, transactions).
//! - Pure helpers: [`sdp`] (the audio leg's SDP), [`digest`] (server-side digest auth),
//!   [`msg`] (reading and writing messages), [`causes`] (SIP statuses and hang-up causes),
//!   [`account`] (accounts, media policies, bindings), [`cidr`].

pub mod account;
pub mod causes;
pub mod cidr;
pub mod core;
pub mod digest;
pub mod msg;
pub mod sdp;
pub mod shell;
