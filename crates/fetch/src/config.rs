//! The fetcher's settings and their defaults.

use std::time::Duration;

use crate::allow::{AllowRule, AllowRuleError};

/// Default [`FetchConfig::connect_timeout`]: 5 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`FetchConfig::timeout`]: 10 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`FetchConfig::max_body_bytes`]: 16 MiB, enough for a few minutes of media.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Default [`FetchConfig::max_redirects`]: 5.
pub const DEFAULT_MAX_REDIRECTS: usize = 5;
/// Default [`FetchConfig::user_agent`]: `weft/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("weft/", env!("CARGO_PKG_VERSION"));

/// How the [`Fetcher`](crate::Fetcher) fetches. `FetchConfig::default()` has the documented
/// defaults and an empty allow list (every non-global address refused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchConfig {
    /// Hosts and networks reachable even though their addresses are refused by default
    /// (`[swml] fetch_allow`). See [`FetchConfig::parse_allow`].
    pub allow: Vec<AllowRule>,
    /// How long to wait for a TCP connection (and TLS handshake) to one address. Default 5 s.
    pub connect_timeout: Duration,
    /// How long a whole fetch may take: connecting, every redirect and reading the body.
    /// Default 10 s.
    pub timeout: Duration,
    /// The largest response body accepted, in bytes; a request can only lower it. Default
    /// 16 MiB.
    pub max_body_bytes: usize,
    /// How many redirects to follow before giving up. Default 5.
    pub max_redirects: usize,
    /// The `User-Agent` header. Default `weft/<version>`.
    pub user_agent: String,
}

impl Default for FetchConfig {
    fn default() -> FetchConfig {
        FetchConfig {
            allow: Vec::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
        }
    }
}

impl FetchConfig {
    /// Parses a comma-separated allow list such as
    /// `127.0.0.1/32,10.0.0.0/8,media.example.com,::1/128` (see [`AllowRule::parse`]).
    pub fn parse_allow(text: &str) -> Result<Vec<AllowRule>, AllowRuleError> {
        AllowRule::parse_list(text)
    }
}
