//! Arbitrary bytes as an `Authorization` / `Proxy-Authorization` value (UTF-8 only, as header
//! values are): parsed, then verified by the core's challenger (and one that sets `opaque`) as
//! sent and signed with the account's password, so the stale and accepted paths run too.
//! Nothing may panic.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use weft_fuzz::fixtures::{NOW_UNIX, PASSWORD, REALM};
use weft_fuzz::sign::sign;
use weft_sip::core::CoreConfig;
use weft_sip::digest::{Challenger, Ha1Set, parse_credentials};

/// The core's challenger (its default secret and nonce age), and one with `opaque`.
static CHALLENGERS: LazyLock<[Challenger; 2]> = LazyLock::new(|| {
    let cfg = CoreConfig::default();
    let core = Challenger::new(REALM, cfg.secret).with_max_nonce_age(cfg.nonce_max_age);
    [core.clone(), core.with_opaque("fuzz-opaque")]
});

static HA1: LazyLock<Ha1Set> = LazyLock::new(|| Ha1Set::compute("alice", REALM, PASSWORD));

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    verify(value);
    if let Some(signed) = sign(value, "REGISTER") {
        verify(&signed);
    }
});

/// Parses `value` and verifies it for a REGISTER with every challenger.
fn verify(value: &str) {
    let Ok(credentials) = parse_credentials(value) else {
        return;
    };
    for challenger in CHALLENGERS.iter() {
        std::hint::black_box(challenger.verify(&credentials, "REGISTER", &HA1, NOW_UNIX));
    }
}
