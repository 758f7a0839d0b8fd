//! The failed-authentication limiter: a source that fails digest authentication too often in a
//! window is blocked for a while. Each failure and each block is logged with the source address
//! in the message, for fail2ban:
//!
//! ```text
//! SIP authentication failed for user "alice" from 192.0.2.7
//! SIP source 192.0.2.7 blocked for 300 s after 5 failed authentications
//! ```

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How many failures in which window block a source, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// Failures within `window` that block the source.
    pub max_failures: usize,
    /// The window failures are counted in.
    pub window: Duration,
    /// How long a blocked source is ignored.
    pub block: Duration,
}

impl Default for AuthLimits {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_secs(60),
            block: Duration::from_secs(300),
        }
    }
}

/// Failures and blocks per source address.
#[derive(Debug)]
pub(super) struct AuthFailures {
    limits: AuthLimits,
    failures: HashMap<IpAddr, VecDeque<Instant>>,
    blocked: HashMap<IpAddr, Instant>,
}

impl AuthFailures {
    pub fn new(limits: AuthLimits) -> Self {
        Self {
            limits,
            failures: HashMap::new(),
            blocked: HashMap::new(),
        }
    }

    /// Whether `ip` is blocked now.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.blocked.get(&ip).is_some_and(|until| *until > now)
    }

    /// Records a failure of `user` from `ip`; returns the end of a block it causes.
    pub fn failed(&mut self, ip: IpAddr, user: &str, now: Instant) -> Option<Instant> {
        let user: String = user
            .chars()
            .filter(|c| !c.is_control() && *c != '"')
            .take(64)
            .collect();
        tracing::warn!("SIP authentication failed for user \"{user}\" from {ip}");
        let window = self.limits.window;
        let list = self.failures.entry(ip).or_default();
        list.retain(|t| now.saturating_duration_since(*t) < window);
        list.push_back(now);
        if list.len() < self.limits.max_failures {
            return None;
        }
        let count = list.len();
        self.failures.remove(&ip);
        let until = now + self.limits.block;
        self.blocked.insert(ip, until);
        tracing::warn!(
            "SIP source {ip} blocked for {} s after {count} failed authentications",
            self.limits.block.as_secs()
        );
        Some(until)
    }

    /// Forgets failures outside the window and blocks that ended.
    pub fn forget_old(&mut self, now: Instant) {
        let window = self.limits.window;
        self.failures.retain(|_, list| {
            list.retain(|t| now.saturating_duration_since(*t) < window);
            !list.is_empty()
        });
        self.blocked.retain(|_, until| *until > now);
    }

    /// When something can be forgotten next.
    pub fn next_deadline(&self) -> Option<Instant> {
        let failures = self
            .failures
            .values()
            .filter_map(|l| l.front())
            .map(|t| *t + self.limits.window);
        failures.chain(self.blocked.values().copied()).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_failing_too_often_is_blocked_for_a_while() {
        let mut f = AuthFailures::new(AuthLimits {
            max_failures: 3,
            window: Duration::from_secs(10),
            block: Duration::from_secs(60),
        });
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(f.failed(ip, "alice", t0), None);
        // A failure outside the window does not count.
        assert_eq!(f.failed(ip, "alice", t0 + Duration::from_secs(11)), None);
        assert_eq!(f.failed(ip, "alice", t0 + Duration::from_secs(12)), None);
        let until = f.failed(ip, "x\"y\n", t0 + Duration::from_secs(13));
        assert_eq!(until, Some(t0 + Duration::from_secs(73)));
        assert!(f.blocked(ip, t0 + Duration::from_secs(14)));
        assert!(!f.blocked(other, t0 + Duration::from_secs(14)));
        assert!(!f.blocked(ip, t0 + Duration::from_secs(74)));
        f.forget_old(t0 + Duration::from_secs(74));
        assert_eq!(f.next_deadline(), None);
    }
}
