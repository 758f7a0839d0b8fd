//! Which source addresses may send at all: a token bucket per address (trusted trunks exempt)
//! and the addresses the core blocked after failed authentications. Consulted by the SIP stack
//! for every UDP datagram and every TCP/TLS connection, before parsing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use crate::cidr::Cidr;

/// Most sources tracked at once; beyond it, full buckets are forgotten first.
const MAX_SOURCES: usize = 16_384;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The per-source gate.
#[derive(Debug)]
pub struct SourceLimiter {
    rate: f64,
    burst: f64,
    exempt: Vec<Cidr>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    buckets: HashMap<IpAddr, Bucket>,
    blocked: HashMap<IpAddr, Instant>,
}

impl SourceLimiter {
    /// `rate` messages a second with bursts of `burst` per source; `exempt` networks unlimited.
    pub fn new(rate: f64, burst: f64, exempt: Vec<Cidr>) -> Self {
        Self {
            rate,
            burst: burst.max(1.0),
            exempt,
            state: Mutex::new(State::default()),
        }
    }

    /// Blocks `ip` until `until`.
    pub fn block(&self, ip: IpAddr, until: Instant) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.blocked.insert(ip, until);
    }

    /// Whether a message (or connection) from `ip` may be handled now.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = s.blocked.get(&ip) {
            if *until > now {
                return false;
            }
            s.blocked.remove(&ip);
        }
        if self.exempt.iter().any(|c| c.contains(ip)) {
            return true;
        }
        if s.buckets.len() >= MAX_SOURCES && !s.buckets.contains_key(&ip) {
            let (rate, burst) = (self.rate, self.burst);
            s.buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
            });
        }
        let bucket = s.buckets.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn sources_are_limited_to_their_rate_and_blocked_ones_drop_everything() {
        let l = SourceLimiter::new(10.0, 5.0, vec!["10.0.0.0/8".parse().unwrap()]);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        let passed = (0..20).filter(|_| l.allow(ip, t0)).count();
        assert_eq!(passed, 5, "the burst");
        assert!(l.allow(ip, t0 + Duration::from_millis(100)), "refilled one");
        let trunk: IpAddr = "10.1.2.3".parse().unwrap();
        assert!((0..1000).all(|_| l.allow(trunk, t0)));
        l.block(trunk, t0 + Duration::from_secs(5));
        assert!(!l.allow(trunk, t0 + Duration::from_secs(1)));
        assert!(l.allow(trunk, t0 + Duration::from_secs(6)));
    }
}
