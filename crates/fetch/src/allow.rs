//! Allow rules (`[swml] fetch_allow`): host names and networks that a fetch may reach even though
//! their addresses are refused by default.

use std::fmt;
use std::net::IpAddr;

use crate::cidr::{Cidr, CidrError};

/// One allow rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowRule {
    /// A host name, matched exactly and case-insensitively against the URL's host (a trailing
    /// dot is ignored). Every address it resolves to is allowed.
    Host(String),
    /// A network; a bare address is a one-address network (`/32`, `/128`). Allows the addresses
    /// in it, whatever name led to them. IPv4-mapped IPv6 addresses match IPv4 networks.
    Network(Cidr),
}

/// Why an allow rule does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid fetch allow rule `{rule}`: {reason}")]
pub struct AllowRuleError {
    /// The rule as written.
    pub rule: String,
    /// What is wrong with it.
    pub reason: String,
}

impl AllowRule {
    /// Parses one rule: a CIDR (`10.0.0.0/8`, `::1/128`), an IP address (`127.0.0.1`, `::1`,
    /// `[::1]`) or a host name (`media.example.com`). Surrounding white space is ignored.
    pub fn parse(text: &str) -> Result<AllowRule, AllowRuleError> {
        let rule = text.trim();
        let error = |reason: String| AllowRuleError {
            rule: rule.to_owned(),
            reason,
        };
        if rule.is_empty() {
            return Err(error("it is empty".into()));
        }
        if rule.contains('/') {
            return Cidr::parse(rule)
                .map(AllowRule::Network)
                .map_err(|e: CidrError| error(e.to_string()));
        }
        let unbracketed = rule
            .strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'))
            .unwrap_or(rule);
        if let Ok(address) = unbracketed.parse::<IpAddr>() {
            return Ok(AllowRule::Network(Cidr::host(address)));
        }
        let host = normalize_host(rule);
        let valid = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(error(
                "expected a host name, an IP address or a CIDR (no scheme, port or path)".into(),
            ));
        }
        let numeric_tail = host
            .rsplit('.')
            .next()
            .is_some_and(|label| label.bytes().all(|b| b.is_ascii_digit()));
        if numeric_tail {
            return Err(error("it is neither an IP address nor a host name".into()));
        }
        Ok(AllowRule::Host(host))
    }

    /// Parses a comma-separated list of rules, as in `[swml] fetch_allow`. Empty entries (an
    /// empty string, a trailing comma) are skipped.
    pub fn parse_list(text: &str) -> Result<Vec<AllowRule>, AllowRuleError> {
        text.split(',')
            .filter(|entry| !entry.trim().is_empty())
            .map(AllowRule::parse)
            .collect()
    }

    /// Whether this rule allows every address of `host` (a URL host name).
    pub fn allows_host(&self, host: &str) -> bool {
        match self {
            AllowRule::Host(name) => *name == normalize_host(host),
            AllowRule::Network(_) => false,
        }
    }

    /// Whether this rule allows connecting to `address`.
    pub fn allows_address(&self, address: IpAddr) -> bool {
        match self {
            AllowRule::Host(_) => false,
            AllowRule::Network(network) => network.contains(address.to_canonical()),
        }
    }
}

impl fmt::Display for AllowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowRule::Host(host) => f.write_str(host),
            AllowRule::Network(network) => network.fmt(f),
        }
    }
}

fn normalize_host(host: &str) -> String {
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    #[test]
    fn parses_the_documented_example() {
        let rules = AllowRule::parse_list("127.0.0.1/32,10.0.0.0/8, Media.Example.com. ,::1/128")
            .expect("valid list");
        let shown: Vec<String> = rules.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["127.0.0.1/32", "10.0.0.0/8", "media.example.com", "::1/128"]
        );
    }

    #[test]
    fn bare_addresses_are_single_address_networks() {
        let v4 = AllowRule::parse("127.0.0.1").expect("valid");
        assert!(v4.allows_address(ip("127.0.0.1")));
        assert!(!v4.allows_address(ip("127.0.0.2")));
        let v6 = AllowRule::parse("[::1]").expect("valid");
        assert_eq!(v6.to_string(), "::1/128");
        assert!(v6.allows_address(ip("::1")));
    }

    #[test]
    fn networks_match_ipv4_mapped_addresses() {
        let rule = AllowRule::parse("10.0.0.0/8").expect("valid");
        assert!(rule.allows_address(ip("::ffff:10.9.8.7")));
        assert!(!rule.allows_address(ip("::ffff:11.0.0.1")));
        assert!(!rule.allows_host("10.0.0.1"));
    }

    #[test]
    fn host_rules_match_exactly_and_ignore_case() {
        let rule = AllowRule::parse("media.example.com").expect("valid");
        assert!(rule.allows_host("media.example.com"));
        assert!(rule.allows_host("MEDIA.example.COM."));
        assert!(!rule.allows_host("evil-media.example.com"));
        assert!(!rule.allows_host("media.example.com.evil.net"));
        assert!(!rule.allows_host("example.com"));
        assert!(!rule.allows_address(ip("127.0.0.1")));
    }

    #[test]
    fn empty_entries_are_skipped() {
        assert_eq!(AllowRule::parse_list(""), Ok(Vec::new()));
        assert_eq!(AllowRule::parse_list(" , ,").map(|r| r.len()), Ok(0));
        assert_eq!(AllowRule::parse_list("localhost,").map(|r| r.len()), Ok(1));
    }

    #[test]
    fn bad_rules_are_errors() {
        for text in [
            "10.0.0.0/33",
            "10.0.0.0/",
            "300.1.1.1/8",
            "300.1.1.1",
            "10.1",
            "::/200",
            "fc00::/x",
            "http://media.example.com",
            "media.example.com:8080",
            "media example.com",
            "a..b",
            "",
            "*.example.com",
        ] {
            assert!(
                AllowRule::parse(text).is_err(),
                "{text:?} should be refused"
            );
        }
        let error = AllowRule::parse_list("127.0.0.1/32, 10.0.0.0/40").expect_err("bad CIDR");
        assert_eq!(error.rule, "10.0.0.0/40");
        assert_eq!(
            error.to_string(),
            "invalid fetch allow rule `10.0.0.0/40`: prefix `40` is not a number from 0 to 32"
        );
    }
}
