//! The fixed world every target runs in: the realm, the accounts and their passwords, the
//! peers messages come from, the trunk, the engine's media address and the time.

use std::net::SocketAddr;
use std::time::Instant;

use weft_sip::account::{Account, EncryptionSetting, MediaPolicy, Peer, Transport};
use weft_sip::core::{CoreConfig, Now, Trunk};
use weft_sip::digest::Ha1Set;

/// The SIP domain and digest realm (the core's default).
pub const REALM: &str = "weft.localhost";
/// Unix seconds the fuzzed messages arrive at; nonces in the seeds were issued then.
pub const NOW_UNIX: u64 = 1_800_000_000;
/// The password of every account (the signer knows it).
pub const PASSWORD: &str = "secret";
/// Accounts by username and their SRTP setting.
pub const ACCOUNTS: [(&str, EncryptionSetting); 2] = [
    ("alice", EncryptionSetting::Default),
    ("vault", EncryptionSetting::Required),
];
/// Where phones send from (no trunk covers it: digest authentication applies).
pub const PHONE: &str = "127.0.0.1:5080";
/// Where the trusted trunk sends from.
pub const TRUNK: &str = "127.0.0.2:5060";
/// The engine's RTP address for every leg.
pub const ENGINE: &str = "127.0.0.1:40000";

/// A UDP peer at `addr` (one of the constants above).
pub fn peer(addr: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: socket(addr),
    }
}

/// A socket address from one of the constants above.
pub fn socket(addr: &str) -> SocketAddr {
    addr.parse().expect("a fixture address")
}

/// The time: a fresh monotonic instant and [`NOW_UNIX`].
pub fn now() -> Now {
    Now {
        mono: Instant::now(),
        unix: NOW_UNIX,
    }
}

/// The core's default configuration, with the trusted trunk when `trunk` is set.
pub fn config(trunk: bool) -> CoreConfig {
    let trunks = if trunk {
        vec![Trunk {
            name: "carrier".into(),
            cidrs: vec![
                format!("{}/32", socket(TRUNK).ip())
                    .parse()
                    .expect("a CIDR"),
            ],
            project_id: "project".into(),
            media: MediaPolicy::default(),
            max_calls: 4,
        }]
    } else {
        Vec::new()
    };
    CoreConfig {
        trunks,
        ..CoreConfig::default()
    }
}

/// The accounts named `username` (case-insensitively), as the store would find them.
pub fn accounts(username: &str) -> Vec<Account> {
    ACCOUNTS
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(username))
        .map(|&(name, encryption)| Account {
            id: format!("endpoint-{name}"),
            username: name.into(),
            project_id: "project".into(),
            resource_id: format!("resource-{name}"),
            subscriber_id: None,
            display_name: name.to_uppercase(),
            ha1: Ha1Set::compute(name, REALM, PASSWORD),
            media: MediaPolicy {
                codecs: Vec::new(),
                encryption,
            },
        })
        .collect()
}
