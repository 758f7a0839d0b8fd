//! The server-side request forgery guard: decides whether a URL's host, and each address a
//! connection would go to, may be reached. IP-literal hosts are checked here before a request
//! and on every redirect; host names are checked on the addresses they resolve to, by
//! [`GuardedResolver`](crate::resolver::GuardedResolver), right before connecting.

use std::net::IpAddr;

use reqwest::Url;

use crate::allow::AllowRule;
use crate::classify::classify;
use crate::error::{FetchError, Refusal};

/// The allow rules and the checks that use them.
#[derive(Debug)]
pub(crate) struct Guard {
    rules: Vec<AllowRule>,
}

impl Guard {
    pub(crate) fn new(rules: Vec<AllowRule>) -> Guard {
        Guard { rules }
    }

    /// Whether a host-name rule allows every address of `host`.
    pub(crate) fn allows_host(&self, host: &str) -> bool {
        self.rules.iter().any(|rule| rule.allows_host(host))
    }

    /// Whether `host` may be reached at `address`.
    pub(crate) fn check_address(&self, host: &str, address: IpAddr) -> Result<(), Refusal> {
        if self.rules.iter().any(|rule| rule.allows_address(address)) {
            return Ok(());
        }
        match classify(address) {
            Some(class) => Err(Refusal {
                host: host.to_owned(),
                address,
                class,
            }),
            None => Ok(()),
        }
    }

    /// Checks a URL about to be requested (the first one or a redirect target): the scheme,
    /// and the address if the host is an IP literal. Host names pass here; their addresses are
    /// checked when they are resolved.
    pub(crate) fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(FetchError::UnsupportedScheme(scheme.to_owned()));
        }
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| FetchError::InvalidUrl("the URL has no host".into()))?;
        let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
        match unbracketed.parse::<IpAddr>() {
            Ok(address) => Ok(self.check_address(unbracketed, address)?),
            Err(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::AddressClass;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("test URL")
    }

    fn refusal_class(result: Result<(), FetchError>) -> Option<AddressClass> {
        match result {
            Err(FetchError::Refused(refusal)) => Some(refusal.class),
            _ => None,
        }
    }

    #[test]
    fn literal_hosts_are_checked_in_every_spelling() {
        let guard = Guard::new(Vec::new());
        for text in [
            "http://127.0.0.1/",
            "http://127.1:8080/",
            "http://127.0.0.1./",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "https://[::1]:8443/x",
        ] {
            assert_eq!(
                refusal_class(guard.check_url(&url(text))),
                Some(AddressClass::Loopback),
                "{text}"
            );
        }
        assert_eq!(
            refusal_class(guard.check_url(&url("http://169.254.169.254/latest/meta-data"))),
            Some(AddressClass::LinkLocal)
        );
        assert_eq!(guard.check_url(&url("https://93.184.216.34/")), Ok(()));
        assert_eq!(guard.check_url(&url("https://media.example.com/")), Ok(()));
    }

    #[test]
    fn other_schemes_are_refused() {
        let guard = Guard::new(Vec::new());
        for (text, scheme) in [
            ("file:///etc/passwd", "file"),
            ("ftp://example.com/a", "ftp"),
            ("gopher://example.com/", "gopher"),
            ("data:text/plain,hi", "data"),
        ] {
            assert_eq!(
                guard.check_url(&url(text)),
                Err(FetchError::UnsupportedScheme(scheme.into())),
                "{text}"
            );
        }
    }

    #[test]
    fn allow_rules_let_addresses_through() {
        let guard = Guard::new(
            AllowRule::parse_list("127.0.0.1/32,fd00::/8,media.internal").expect("rules"),
        );
        assert_eq!(guard.check_url(&url("http://127.0.0.1:9/")), Ok(()));
        assert_eq!(
            guard.check_url(&url("http://[::ffff:127.0.0.1]:9/")),
            Ok(())
        );
        assert_eq!(guard.check_url(&url("http://[fd00::5]/")), Ok(()));
        assert_eq!(
            refusal_class(guard.check_url(&url("http://127.0.0.2/"))),
            Some(AddressClass::Loopback)
        );
        assert!(guard.allows_host("MEDIA.internal"));
        assert!(!guard.allows_host("other.internal"));
    }
}
