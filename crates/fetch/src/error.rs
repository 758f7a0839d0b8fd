//! What can go wrong with a fetch. No message carries a URL's credentials, path or query.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::classify::AddressClass;

/// A fetch that did not produce a response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL does not parse or has no host.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The URL (or a redirect) uses a scheme other than http and https.
    #[error("refused: scheme `{0}` is not supported (only http and https)")]
    UnsupportedScheme(String),
    /// The server-side request forgery guard refused the destination.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A request header name or value is invalid.
    #[error("invalid request header: {0}")]
    InvalidHeader(String),
    /// Connecting or the whole fetch took too long.
    #[error("timed out {kind} after {} ms", after.as_millis())]
    Timeout {
        /// Which limit was hit.
        kind: TimeoutKind,
        /// The limit.
        after: Duration,
    },
    /// The response body is larger than the cap (by its Content-Length or as it arrived).
    #[error("response body exceeds the cap of {limit} bytes")]
    TooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// More redirects than allowed.
    #[error("more than {max} redirects")]
    TooManyRedirects {
        /// The redirect limit.
        max: usize,
    },
    /// Resolving the host, connecting or the TLS handshake failed.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The connection broke or the server spoke bad HTTP.
    #[error("transfer failed: {0}")]
    Transfer(String),
    /// The HTTP client could not be set up.
    #[error("fetcher setup failed: {0}")]
    Setup(String),
}

/// Which timeout a [`FetchError::Timeout`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Establishing a connection (TCP and TLS) took longer than the connect timeout.
    Connect,
    /// The fetch as a whole took longer than the total timeout.
    Total,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connecting",
            TimeoutKind::Total => "fetching",
        })
    }
}

/// A destination the guard refused: the host as written in the URL, the address it is or
/// resolved to, and why that address is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Refusal {
    /// The URL's host (a name or an address).
    pub host: String,
    /// The refused address.
    pub address: IpAddr,
    /// Why it is refused.
    pub class: AddressClass,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let is_literal = self
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|host| host == self.address);
        if is_literal {
            write!(f, "refused: {} is {}", self.address, self.class)?;
        } else {
            write!(
                f,
                "refused: {} resolves to {}, {}",
                self.host, self.address, self.class
            )?;
        }
        f.write_str(" (allow it with [swml] fetch_allow)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_address_and_the_rule() {
        let literal = Refusal {
            host: "127.0.0.1".into(),
            address: "127.0.0.1".parse().expect("address"),
            class: AddressClass::Loopback,
        };
        assert_eq!(
            literal.to_string(),
            "refused: 127.0.0.1 is a loopback address (allow it with [swml] fetch_allow)"
        );
        let named = Refusal {
            host: "metadata.internal".into(),
            address: "169.254.169.254".parse().expect("address"),
            class: AddressClass::LinkLocal,
        };
        assert_eq!(
            named.to_string(),
            "refused: metadata.internal resolves to 169.254.169.254, a link-local address \
             (allow it with [swml] fetch_allow)"
        );
    }

    #[test]
    fn timeouts_say_which() {
        let connect = FetchError::Timeout {
            kind: TimeoutKind::Connect,
            after: Duration::from_millis(300),
        };
        assert_eq!(connect.to_string(), "timed out connecting after 300 ms");
    }
}
