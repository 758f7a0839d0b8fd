//! Weft's one outbound HTTP fetcher. Every fetch a call flow causes (`play` file URLs,
//! `request`, `swml_webhooks`, `execute`/`transfer` to a URL) goes through a [`Fetcher`], which
//! applies:
//!
//! - a server-side request forgery guard: by default no loopback, private, link-local, CGNAT,
//!   multicast, documentation or otherwise reserved destination ([`classify()`]), checked on the
//!   addresses actually connected to, after name resolution, for IP-literal URLs and on every
//!   redirect. [`AllowRule`]s (`[swml] fetch_allow`) let named hosts and networks through;
//! - a connect timeout and a total timeout ([`FetchError::Timeout`] says which);
//! - a body cap, checked against Content-Length and while streaming ([`FetchError::TooLarge`]);
//! - http and https only; `user:password@` in a URL becomes Basic authentication and is never
//!   logged.
//!
//! Modules: [`cidr`] (networks), [`mod@classify`] (the default-refused ranges), [`allow`] (allow
//! rules), [`config`] (settings and defaults), [`message`] (request and response), [`error`].

pub mod allow;
pub mod cidr;
pub mod classify;
pub mod config;
mod credentials;
pub mod error;
mod fetcher;
mod guard;
pub mod message;
mod resolver;
mod tls;

pub use allow::{AllowRule, AllowRuleError};
pub use cidr::{Cidr, CidrError};
pub use classify::{AddressClass, classify};
pub use config::FetchConfig;
pub use error::{FetchError, Refusal, TimeoutKind};
pub use fetcher::Fetcher;
pub use message::{Method, Request, Response, UnsupportedMethod};
