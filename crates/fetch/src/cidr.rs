//! An IP network in CIDR notation (`10.0.0.0/8`, `fc00::/7`) and whether it contains an address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IPv4 or IPv6 network: an address with its host bits cleared and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a CIDR text is not a network.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The part before `/` is not an IP address.
    #[error("`{0}` is not an IP address")]
    Address(String),
    /// The part after `/` is not a number within the address family's length.
    #[error("prefix `{prefix}` is not a number from 0 to {max}")]
    Prefix {
        /// The prefix as written.
        prefix: String,
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },
}

impl Cidr {
    /// The IPv4 network `address/prefix`, host bits cleared. `prefix` must be at most 32.
    pub const fn v4(address: Ipv4Addr, prefix: u8) -> Cidr {
        let bits = address.to_bits() & mask_v4(prefix);
        Cidr {
            network: IpAddr::V4(Ipv4Addr::from_bits(bits)),
            prefix,
        }
    }

    /// The IPv6 network `address/prefix`, host bits cleared. `prefix` must be at most 128.
    pub const fn v6(address: Ipv6Addr, prefix: u8) -> Cidr {
        let bits = address.to_bits() & mask_v6(prefix);
        Cidr {
            network: IpAddr::V6(Ipv6Addr::from_bits(bits)),
            prefix,
        }
    }

    /// The network with only `address` in it (`/32` or `/128`).
    pub const fn host(address: IpAddr) -> Cidr {
        match address {
            IpAddr::V4(v4) => Cidr::v4(v4, 32),
            IpAddr::V6(v6) => Cidr::v6(v6, 128),
        }
    }

    /// Parses `address/prefix`. Host bits set in `address` are cleared (`10.1.2.3/8` is
    /// `10.0.0.0/8`); a prefix longer than the family allows is an error.
    pub fn parse(text: &str) -> Result<Cidr, CidrError> {
        let (address, prefix) = text.split_once('/').unwrap_or((text, ""));
        let address: IpAddr = address
            .parse()
            .map_err(|_| CidrError::Address(address.to_owned()))?;
        let max = match address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let bad_prefix = || CidrError::Prefix {
            prefix: prefix.to_owned(),
            max,
        };
        let all_digits = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit());
        if !all_digits {
            return Err(bad_prefix());
        }
        let length: u8 = prefix.parse().map_err(|_| bad_prefix())?;
        if length > max {
            return Err(bad_prefix());
        }
        Ok(match address {
            IpAddr::V4(v4) => Cidr::v4(v4, length),
            IpAddr::V6(v6) => Cidr::v6(v6, length),
        })
    }

    /// Whether `address` is in this network. An IPv4 network never contains an IPv6 address
    /// and the other way round; callers canonicalise IPv4-mapped addresses first if they want
    /// them treated as IPv4.
    pub const fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                address.to_bits() & mask_v4(self.prefix) == network.to_bits()
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                address.to_bits() & mask_v6(self.prefix) == network.to_bits()
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

const fn mask_v4(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix as u32)
    }
}

const fn mask_v6(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    #[test]
    fn parses_and_clears_host_bits() {
        let cidr = Cidr::parse("10.1.2.3/8").expect("valid");
        assert_eq!(cidr.to_string(), "10.0.0.0/8");
        assert!(cidr.contains(ip("10.255.0.1")));
        assert!(!cidr.contains(ip("11.0.0.1")));
        let v6 = Cidr::parse("fc00::1/7").expect("valid");
        assert_eq!(v6.to_string(), "fc00::/7");
        assert!(v6.contains(ip("fdff::1")));
        assert!(!v6.contains(ip("fe00::1")));
    }

    #[test]
    fn zero_and_full_prefixes() {
        let everything = Cidr::parse("0.0.0.0/0").expect("valid");
        assert!(everything.contains(ip("203.0.113.9")));
        assert!(!everything.contains(ip("::1")), "families never mix");
        let one = Cidr::parse("::1/128").expect("valid");
        assert!(one.contains(ip("::1")));
        assert!(!one.contains(ip("::2")));
    }

    #[test]
    fn bad_cidrs_are_errors() {
        for text in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/x",
            "10.0.0.0/+8",
            "10.0.0/8",
            "example.com/8",
            "10.0.0.0/8/8",
            "/8",
        ] {
            assert!(Cidr::parse(text).is_err(), "{text} should be refused");
        }
        assert_eq!(
            Cidr::parse("10.0.0.0/33"),
            Err(CidrError::Prefix {
                prefix: "33".into(),
                max: 32
            })
        );
    }
}
