//! Weft's core vocabulary: resources, addresses, paging cursors and timestamps.
//!
//! Everything here is pure data and logic; no I/O.

pub mod address;
pub mod page;
pub mod resource;
pub mod time;

pub use address::{Address, AddressError, Channel};
pub use page::{Cursor, PageSize, PageSizeError};
pub use resource::ResourceKind;
