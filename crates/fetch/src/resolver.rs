//! Name resolution that only hands the HTTP client addresses the guard allows, so the check
//! applies to the very addresses connected to (no window for DNS rebinding between a check and
//! the connection), on the first request and on every redirect.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::error::{FetchError, Refusal};
use crate::guard::Guard;

/// Resolves with the system resolver, then drops the addresses the guard refuses. If none is
/// left, resolution fails with the first [`Refusal`].
pub(crate) struct GuardedResolver {
    guard: Arc<Guard>,
}

impl GuardedResolver {
    pub(crate) fn new(guard: Arc<Guard>) -> GuardedResolver {
        GuardedResolver { guard }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = Arc::clone(&self.guard);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let allowed = resolve_allowed(&guard, &host).await?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

async fn resolve_allowed(
    guard: &Guard,
    host: &str,
) -> Result<Vec<SocketAddr>, Box<dyn Error + Send + Sync>> {
    let resolved = tokio::net::lookup_host((host, 0)).await?.collect();
    Ok(filter(guard, host, resolved)?)
}

/// The addresses of `host` that may be connected to, or why none may.
fn filter(
    guard: &Guard,
    host: &str,
    resolved: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, FetchError> {
    if guard.allows_host(host) {
        return Ok(resolved);
    }
    let mut first_refusal: Option<Refusal> = None;
    let mut allowed = Vec::with_capacity(resolved.len());
    for address in resolved {
        match guard.check_address(host, address.ip()) {
            Ok(()) => allowed.push(address),
            Err(refusal) => {
                first_refusal.get_or_insert(refusal);
            }
        }
    }
    match (allowed.is_empty(), first_refusal) {
        (true, Some(refusal)) => Err(FetchError::Refused(refusal)),
        (true, None) => Err(FetchError::Connect(format!("{host} has no addresses"))),
        (false, _) => Ok(allowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allow::AllowRule;
    use crate::classify::AddressClass;

    fn addresses(list: &[&str]) -> Vec<SocketAddr> {
        list.iter()
            .map(|text| SocketAddr::new(text.parse().expect("test address"), 0))
            .collect()
    }

    #[test]
    fn keeps_only_allowed_addresses() {
        let guard = Guard::new(Vec::new());
        let kept = filter(
            &guard,
            "mixed.example",
            addresses(&["10.0.0.1", "93.184.216.34"]),
        )
        .expect("one public address");
        assert_eq!(kept, addresses(&["93.184.216.34"]));
    }

    #[test]
    fn refuses_when_nothing_is_left() {
        let guard = Guard::new(Vec::new());
        let error = filter(&guard, "localhost", addresses(&["127.0.0.1", "::1"]))
            .expect_err("all loopback");
        match error {
            FetchError::Refused(refusal) => {
                assert_eq!(refusal.class, AddressClass::Loopback);
                assert_eq!(refusal.host, "localhost");
                assert_eq!(refusal.address.to_string(), "127.0.0.1");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(matches!(
            filter(&guard, "nothing.example", Vec::new()),
            Err(FetchError::Connect(_))
        ));
    }

    #[test]
    fn host_and_network_rules_apply() {
        let by_name = Guard::new(AllowRule::parse_list("LocalHost").expect("rules"));
        assert_eq!(
            filter(&by_name, "localhost", addresses(&["127.0.0.1", "::1"])).map(|a| a.len()),
            Ok(2)
        );
        let by_network = Guard::new(AllowRule::parse_list("::1/128").expect("rules"));
        assert_eq!(
            filter(&by_network, "localhost", addresses(&["127.0.0.1", "::1"])),
            Ok(addresses(&["::1"]))
        );
    }
}
