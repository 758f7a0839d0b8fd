//! RTCP for the streams Weft seals and sends itself: parsing the feedback receivers send,
//! building the reports Weft sends. Sans-IO and free of per-packet allocation.
//!
//! Written from RFC 3550 (§6.4 sender and receiver reports, §6.5 SDES), RFC 4585 (§6.2.1
//! generic NACK, §6.3.1 PLI), RFC 5104 (§4.3.1 FIR) and RFC 5506 (reduced-size RTCP).
//!
//! - [`parse`] walks a plain compound packet (SRTCP already removed) and yields the
//!   reception report blocks of SR and RR packets, generic NACKs with their lost sequence
//!   numbers, PLIs and FIR entries; it skips SDES, BYE, APP, XR, TWCC, REMB and other types,
//!   and stops with an error at the first malformed packet.
//! - [`append_sender_report`] appends a sender report without report blocks and an SDES
//!   CNAME; [`append_nack`] and [`append_pli`] append feedback. Each appends to a
//!   caller-owned buffer, so nothing allocates when the buffer has capacity.
//!
//! ```
//! use weft_rtcp::{Feedback, SenderInfo, append_nack, append_sender_report, parse};
//!
//! let mut packet = Vec::with_capacity(1500);
//! let info = SenderInfo {
//!     ssrc: 0x1234,
//!     ntp_timestamp: weft_rtcp::ntp_timestamp(std::time::SystemTime::now()),
//!     rtp_timestamp: 90_000,
//!     packet_count: 10,
//!     octet_count: 12_000,
//! };
//! append_sender_report(&mut packet, &info, "weft")?;
//! append_nack(&mut packet, 0x1234, 0x5678, [100, 101, 103])?;
//!
//! for feedback in parse(&packet) {
//!     if let Feedback::Nack(nack) = feedback? {
//!         assert_eq!(nack.media_ssrc, 0x5678);
//!         assert!(nack.lost().eq([100, 101, 103]));
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod header;
mod keyframe;
mod nack;
mod parse;
mod report;
mod sender_report;

pub use error::{BuildError, ParseError};
pub use keyframe::{Fir, Pli, append_pli};
pub use nack::{LostSequences, Nack, append_nack};
pub use parse::{Feedback, Feedbacks, parse};
pub use report::ReceptionReport;
pub use sender_report::{SenderInfo, append_sender_report, ntp_timestamp};
