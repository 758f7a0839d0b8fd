//! Which addresses a fetch may not reach by default: loopback, private, link-local, shared
//! (CGNAT), unspecified, multicast, broadcast, documentation, benchmarking and reserved ranges
//! (the IANA special-purpose address registries, RFC 6890 and its updates), including IPv4
//! addresses embedded in IPv6 (IPv4-mapped, IPv4-compatible, NAT64 `64:ff9b::/96`, 6to4
//! `2002::/16`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::cidr::Cidr;

/// Why an address is refused by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressClass {
    /// `0.0.0.0`, `::`: connecting to it reaches the local host.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 ranges, IPv6 unique local `fc00::/7`, deprecated site-local `fec0::/10`,
    /// local-use NAT64 `64:ff9b:1::/48`.
    Private,
    /// `100.64.0.0/10`, carrier-grade NAT (RFC 6598).
    Shared,
    /// `169.254.0.0/16`, `fe80::/10` (cloud metadata services live here).
    LinkLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`, `2001:2::/48`.
    Benchmarking,
    /// Everything else that is not global unicast: `0.0.0.0/8`, `192.0.0.0/24`,
    /// `192.88.99.0/24`, `240.0.0.0/4`, IPv6 outside `2000::/3`, `2001::/23`, `5f00::/16`.
    Reserved,
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressClass::Unspecified => "an unspecified address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private address",
            AddressClass::Shared => "a shared (carrier-grade NAT) address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::Multicast => "a multicast address",
            AddressClass::Broadcast => "the broadcast address",
            AddressClass::Documentation => "a documentation address",
            AddressClass::Benchmarking => "a benchmarking address",
            AddressClass::Reserved => "a reserved address",
        })
    }
}

/// The IPv4 special-purpose ranges, most specific first.
const V4_RANGES: &[(Cidr, AddressClass)] = &[
    (
        Cidr::v4(Ipv4Addr::UNSPECIFIED, 32),
        AddressClass::Unspecified,
    ),
    (Cidr::v4(Ipv4Addr::BROADCAST, 32), AddressClass::Broadcast),
    (
        Cidr::v4(Ipv4Addr::new(0, 0, 0, 0), 8),
        AddressClass::Reserved,
    ),
    (
        Cidr::v4(Ipv4Addr::new(10, 0, 0, 0), 8),
        AddressClass::Private,
    ),
    (
        Cidr::v4(Ipv4Addr::new(100, 64, 0, 0), 10),
        AddressClass::Shared,
    ),
    (
        Cidr::v4(Ipv4Addr::new(127, 0, 0, 0), 8),
        AddressClass::Loopback,
    ),
    (
        Cidr::v4(Ipv4Addr::new(169, 254, 0, 0), 16),
        AddressClass::LinkLocal,
    ),
    (
        Cidr::v4(Ipv4Addr::new(172, 16, 0, 0), 12),
        AddressClass::Private,
    ),
    (
        Cidr::v4(Ipv4Addr::new(192, 0, 0, 0), 24),
        AddressClass::Reserved,
    ),
    (
        Cidr::v4(Ipv4Addr::new(192, 0, 2, 0), 24),
        AddressClass::Documentation,
    ),
    (
        Cidr::v4(Ipv4Addr::new(192, 88, 99, 0), 24),
        AddressClass::Reserved,
    ),
    (
        Cidr::v4(Ipv4Addr::new(192, 168, 0, 0), 16),
        AddressClass::Private,
    ),
    (
        Cidr::v4(Ipv4Addr::new(198, 18, 0, 0), 15),
        AddressClass::Benchmarking,
    ),
    (
        Cidr::v4(Ipv4Addr::new(198, 51, 100, 0), 24),
        AddressClass::Documentation,
    ),
    (
        Cidr::v4(Ipv4Addr::new(203, 0, 113, 0), 24),
        AddressClass::Documentation,
    ),
    (
        Cidr::v4(Ipv4Addr::new(224, 0, 0, 0), 4),
        AddressClass::Multicast,
    ),
    (
        Cidr::v4(Ipv4Addr::new(240, 0, 0, 0), 4),
        AddressClass::Reserved,
    ),
];

/// The IPv6 special-purpose ranges that carry no IPv4 address, most specific first.
const V6_RANGES: &[(Cidr, AddressClass)] = &[
    (
        Cidr::v6(Ipv6Addr::UNSPECIFIED, 128),
        AddressClass::Unspecified,
    ),
    (Cidr::v6(Ipv6Addr::LOCALHOST, 128), AddressClass::Loopback),
    (Cidr::v6(v6(0x0064, 0xff9b, 1), 48), AddressClass::Private),
    (Cidr::v6(v6(0x0100, 0, 0), 64), AddressClass::Reserved),
    (
        Cidr::v6(v6(0x2001, 0x0002, 0), 48),
        AddressClass::Benchmarking,
    ),
    (Cidr::v6(v6(0x2001, 0, 0), 23), AddressClass::Reserved),
    (
        Cidr::v6(v6(0x2001, 0x0db8, 0), 32),
        AddressClass::Documentation,
    ),
    (Cidr::v6(v6(0x3fff, 0, 0), 20), AddressClass::Documentation),
    (Cidr::v6(v6(0x5f00, 0, 0), 16), AddressClass::Reserved),
    (Cidr::v6(v6(0xfc00, 0, 0), 7), AddressClass::Private),
    (Cidr::v6(v6(0xfe80, 0, 0), 10), AddressClass::LinkLocal),
    (Cidr::v6(v6(0xfec0, 0, 0), 10), AddressClass::Private),
    (Cidr::v6(v6(0xff00, 0, 0), 8), AddressClass::Multicast),
];

/// IPv6 global unicast; everything outside it not listed above is reserved.
const V6_GLOBAL_UNICAST: Cidr = Cidr::v6(v6(0x2000, 0, 0), 3);
/// `::/96`: IPv4-compatible addresses (deprecated; `::` and `::1` are listed separately).
const V6_IPV4_COMPATIBLE: Cidr = Cidr::v6(Ipv6Addr::UNSPECIFIED, 96);
/// `64:ff9b::/96`: the NAT64 well-known prefix, IPv4 address in the last 32 bits.
const V6_NAT64: Cidr = Cidr::v6(v6(0x0064, 0xff9b, 0), 96);
/// `2002::/16`: 6to4, IPv4 address in bits 16 to 47.
const V6_6TO4: Cidr = Cidr::v6(v6(0x2002, 0, 0), 16);

const fn v6(a: u16, b: u16, c: u16) -> Ipv6Addr {
    Ipv6Addr::new(a, b, c, 0, 0, 0, 0, 0)
}

/// The class of `address` if a fetch must not reach it by default; `None` for global unicast.
pub fn classify(address: IpAddr) -> Option<AddressClass> {
    match address {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(address: Ipv4Addr) -> Option<AddressClass> {
    lookup(V4_RANGES, IpAddr::V4(address))
}

fn classify_v6(address: Ipv6Addr) -> Option<AddressClass> {
    if let Some(v4) = address.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if let Some(class) = lookup(V6_RANGES, IpAddr::V6(address)) {
        return Some(class);
    }
    let bits = address.to_bits();
    let low32 = Ipv4Addr::from_bits(bits as u32);
    if V6_IPV4_COMPATIBLE.contains(IpAddr::V6(address)) {
        return Some(classify_v4(low32).unwrap_or(AddressClass::Reserved));
    }
    if V6_NAT64.contains(IpAddr::V6(address)) {
        return classify_v4(low32);
    }
    if V6_6TO4.contains(IpAddr::V6(address)) {
        return classify_v4(Ipv4Addr::from_bits((bits >> 80) as u32));
    }
    if !V6_GLOBAL_UNICAST.contains(IpAddr::V6(address)) {
        return Some(AddressClass::Reserved);
    }
    None
}

fn lookup(ranges: &[(Cidr, AddressClass)], address: IpAddr) -> Option<AddressClass> {
    ranges
        .iter()
        .find(|(range, _)| range.contains(address))
        .map(|&(_, class)| class)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_of(text: &str) -> Option<AddressClass> {
        classify(text.parse().expect("test address"))
    }

    #[test]
    fn ipv4_table() {
        use AddressClass::*;
        let cases: &[(&str, Option<AddressClass>)] = &[
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Reserved)),
            ("10.0.0.1", Some(Private)),
            ("10.255.255.255", Some(Private)),
            ("100.63.255.255", None),
            ("100.64.0.1", Some(Shared)),
            ("100.127.255.255", Some(Shared)),
            ("100.128.0.0", None),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.0.9", Some(Loopback)),
            ("169.254.169.254", Some(LinkLocal)),
            ("172.15.255.255", None),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.32.0.0", None),
            ("192.0.0.8", Some(Reserved)),
            ("192.0.2.10", Some(Documentation)),
            ("192.88.99.1", Some(Reserved)),
            ("192.167.255.255", None),
            ("192.168.1.1", Some(Private)),
            ("198.17.255.255", None),
            ("198.18.0.1", Some(Benchmarking)),
            ("198.19.255.255", Some(Benchmarking)),
            ("198.20.0.0", None),
            ("198.51.100.7", Some(Documentation)),
            ("203.0.113.200", Some(Documentation)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("240.0.0.1", Some(Reserved)),
            ("255.255.255.254", Some(Reserved)),
            ("255.255.255.255", Some(Broadcast)),
            ("1.1.1.1", None),
            ("8.8.8.8", None),
            ("93.184.216.34", None),
            ("223.255.255.255", None),
        ];
        for &(address, expected) in cases {
            assert_eq!(class_of(address), expected, "{address}");
        }
    }

    #[test]
    fn ipv6_table() {
        use AddressClass::*;
        let cases: &[(&str, Option<AddressClass>)] = &[
            ("::", Some(Unspecified)),
            ("::1", Some(Loopback)),
            ("::2", Some(Reserved)),
            ("100::1", Some(Reserved)),
            ("2001::1", Some(Reserved)),
            ("2001:2::1", Some(Benchmarking)),
            ("2001:db8::1", Some(Documentation)),
            ("3fff:0fff::1", Some(Documentation)),
            ("3fff:1000::1", None),
            ("5f00::1", Some(Reserved)),
            ("fc00::1", Some(Private)),
            ("fd12:3456::1", Some(Private)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("fec0::1", Some(Private)),
            ("ff02::1", Some(Multicast)),
            ("4000::1", Some(Reserved)),
            ("2606:4700:4700::1111", None),
            ("2a00:1450::1", None),
        ];
        for &(address, expected) in cases {
            assert_eq!(class_of(address), expected, "{address}");
        }
    }

    #[test]
    fn ipv4_embedded_in_ipv6() {
        use AddressClass::*;
        let cases: &[(&str, Option<AddressClass>)] = &[
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.1.2.3", Some(Private)),
            ("::ffff:169.254.169.254", Some(LinkLocal)),
            ("::ffff:0.0.0.0", Some(Unspecified)),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some(Loopback)),
            ("::192.168.0.1", Some(Private)),
            ("::8.8.8.8", Some(Reserved)),
            ("64:ff9b::127.0.0.1", Some(Loopback)),
            ("64:ff9b::10.0.0.1", Some(Private)),
            ("64:ff9b::8.8.8.8", None),
            ("64:ff9b:1::1", Some(Private)),
            ("2002:7f00:0001::1", Some(Loopback)),
            ("2002:a9fe:a9fe::", Some(LinkLocal)),
            ("2002:0808:0808::1", None),
        ];
        for &(address, expected) in cases {
            assert_eq!(class_of(address), expected, "{address}");
        }
    }

    #[test]
    fn messages_name_the_class() {
        assert_eq!(AddressClass::Loopback.to_string(), "a loopback address");
        assert_eq!(
            AddressClass::Shared.to_string(),
            "a shared (carrier-grade NAT) address"
        );
    }
}
