//! Limits on failed logins, per account and per client address, in memory and free of I/O: the
//! caller passes the time (seconds on a monotonic clock).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

/// The most keys each table tracks; beyond that, expired windows are dropped first.
const MAX_KEYS: usize = 100_000;

/// How many failures are allowed, and over how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_account: u32,
    pub per_address: u32,
    pub window_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_account: 5,
            per_address: 20,
            window_secs: 15 * 60,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: u64,
    failures: u32,
}

#[derive(Debug)]
struct Table<K> {
    windows: HashMap<K, Window>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new() -> Self {
        Table {
            windows: HashMap::new(),
        }
    }

    fn live(&self, key: &K, now: u64, window: u64) -> Option<Window> {
        self.windows
            .get(key)
            .copied()
            .filter(|w| now.saturating_sub(w.started) < window)
    }

    fn retry_after(&self, key: &K, now: u64, window: u64, max: u32) -> Option<u64> {
        let w = self.live(key, now, window)?;
        (w.failures >= max).then(|| (w.started + window).saturating_sub(now).max(1))
    }

    fn fail(&mut self, key: &K, now: u64, window: u64) {
        match self.live(key, now, window) {
            Some(mut w) => {
                w.failures = w.failures.saturating_add(1);
                self.windows.insert(key.clone(), w);
            }
            None => {
                if self.windows.len() >= MAX_KEYS {
                    self.windows
                        .retain(|_, w| now.saturating_sub(w.started) < window);
                    if self.windows.len() >= MAX_KEYS
                        && let Some(victim) = self.windows.keys().next().cloned()
                    {
                        self.windows.remove(&victim);
                    }
                }
                self.windows.insert(
                    key.clone(),
                    Window {
                        started: now,
                        failures: 1,
                    },
                );
            }
        }
    }
}

/// Counts failed logins and says when to refuse further attempts.
#[derive(Debug)]
pub struct FailureLimiter {
    limits: Limits,
    accounts: Table<String>,
    addresses: Table<IpAddr>,
}

/// An attempt refused for too many failures; retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    pub retry_after_secs: u64,
}

impl FailureLimiter {
    pub fn new(limits: Limits) -> Self {
        FailureLimiter {
            limits,
            accounts: Table::new(),
            addresses: Table::new(),
        }
    }

    /// Whether an attempt for `account` from `address` may go ahead at `now`.
    pub fn check(&self, account: &str, address: IpAddr, now: u64) -> Result<(), Blocked> {
        let l = self.limits;
        let by_account =
            self.accounts
                .retry_after(&account.to_owned(), now, l.window_secs, l.per_account);
        let by_address = self
            .addresses
            .retry_after(&address, now, l.window_secs, l.per_address);
        match by_account.max(by_address) {
            Some(retry_after_secs) => Err(Blocked { retry_after_secs }),
            None => Ok(()),
        }
    }

    /// Records a failed attempt.
    pub fn fail(&mut self, account: &str, address: IpAddr, now: u64) {
        let window = self.limits.window_secs;
        self.accounts.fail(&account.to_owned(), now, window);
        self.addresses.fail(&address, now, window);
    }

    /// Forgets an account's failures after a successful login (the address keeps its count).
    pub fn succeed(&mut self, account: &str) {
        self.accounts.windows.remove(account);
    }
}

/// The key failures of one login are counted under.
pub fn account_key(project_id: &str, email: &str) -> String {
    format!("{project_id}\n{}", email.trim().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    fn limiter() -> FailureLimiter {
        FailureLimiter::new(Limits {
            per_account: 3,
            per_address: 5,
            window_secs: 100,
        })
    }

    #[test]
    fn accounts_lock_after_their_limit_until_the_window_ends() {
        let mut l = limiter();
        for _ in 0..3 {
            assert!(l.check("acct", A, 10).is_ok());
            l.fail("acct", A, 10);
        }
        assert_eq!(
            l.check("acct", B, 50),
            Err(Blocked {
                retry_after_secs: 60
            })
        );
        assert!(l.check("other", B, 50).is_ok());
        assert!(l.check("acct", A, 110).is_ok());
    }

    #[test]
    fn addresses_lock_across_accounts() {
        let mut l = limiter();
        for i in 0..5 {
            l.fail(&format!("acct{i}"), A, 0);
        }
        assert!(l.check("fresh", A, 1).is_err());
        assert!(l.check("fresh", B, 1).is_ok());
    }

    #[test]
    fn success_clears_the_account() {
        let mut l = limiter();
        l.fail("acct", A, 0);
        l.fail("acct", A, 0);
        l.succeed("acct");
        l.fail("acct", B, 0);
        l.fail("acct", B, 0);
        assert!(l.check("acct", B, 0).is_ok());
        assert_eq!(account_key("p", " Ann@X.io "), "p\nann@x.io");
    }

    #[test]
    fn tables_stay_bounded() {
        let mut t: Table<u32> = Table::new();
        for i in 0..(MAX_KEYS as u32 + 10) {
            t.fail(&i, 0, 100);
        }
        assert!(t.windows.len() <= MAX_KEYS);
    }
}
