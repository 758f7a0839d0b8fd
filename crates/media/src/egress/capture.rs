//! Capturing a peer's SRTP keys through str0m's public crypto provider API.
//!
//! One static [`DtlsProvider`] stands in for the DTLS part of the provider str0m would use
//! anyway (`str0m::crypto::from_feature_flags`, whose DTLS is dimpl on aws-lc-rs). Each
//! instance it makes is a dimpl `Dtls`, configured as that backend configures it, and passes
//! every output through unchanged; it only keeps a copy of `DtlsOutput::KeyingMaterial` and of
//! the role str0m set. str0m makes the instance inside `RtcConfig::build`, so
//! [`build_with_key_capture`] puts the peer's [`EgressKeys`] in a thread-local slot for exactly
//! that call, and the instance takes it from there.
//!
//! The dimpl configuration is built once per MTU and shared by every instance
//! ([`shared_config`]): building one validates the crypto provider with test key exchanges and
//! a signature, about 0.6 ms, which the backend pays for every `Rtc`.
//!
//! Cost: nothing is leaked; per peer, one small shared allocation (the [`EgressKeys`] cell)
//! and the boxed instance, both freed with the `Rtc` and the handle.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
};
use str0m::crypto::{CryptoError, CryptoProvider};
use str0m::{Rtc, RtcConfig};

use super::keys::EgressKeys;

thread_local! {
    /// The keys of the `Rtc` this thread is building, for the next DTLS instance made on it.
    static BUILDING: RefCell<Option<EgressKeys>> = const { RefCell::new(None) };
}

/// The provider every capturing `Rtc` uses for DTLS.
static KEY_CAPTURE: KeyCapture = KeyCapture;

/// Builds `config` into an `Rtc` whose DTLS keys the returned handle captures.
///
/// This is `config.build(start)` with str0m's default crypto provider (which Weft uses) in
/// place of any provider set on `config`; only the DTLS part is wrapped, and str0m still
/// protects the media it sends itself. The handle must be paired at build time, which is why
/// this builds rather than only configuring: the DTLS instance is made inside `build`.
pub fn build_with_key_capture(config: RtcConfig, start: Instant) -> (Rtc, EgressKeys) {
    let keys = EgressKeys::default();
    let armed = Armed::new(keys.clone());
    let rtc = config
        .set_crypto_provider(capturing_provider())
        .build(start);
    drop(armed);
    (rtc, keys)
}

/// The crypto provider str0m would pick for Weft: from the enabled backend feature.
fn backend() -> &'static CryptoProvider {
    static BACKEND: OnceLock<CryptoProvider> = OnceLock::new();
    BACKEND.get_or_init(str0m::crypto::from_feature_flags)
}

/// The backend's provider with DTLS through [`KEY_CAPTURE`], made once and shared.
///
/// Every server-side `Rtc` uses it ([`crate::hotpath::server_config`]), so that all of them
/// share one DTLS configuration; only those built by [`build_with_key_capture`] keep keys.
pub fn capturing_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            Arc::new(CryptoProvider {
                dtls_provider: &KEY_CAPTURE,
                ..backend().clone()
            })
        })
        .clone()
}

/// Keeps `keys` in this thread's slot until dropped, also when `build` panics.
struct Armed;

impl Armed {
    fn new(keys: EgressKeys) -> Armed {
        BUILDING.with(|slot| *slot.borrow_mut() = Some(keys));
        Armed
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        BUILDING.with(|slot| slot.borrow_mut().take());
    }
}

/// The DTLS provider that wraps the backend's and pairs each instance with the slot's keys.
#[derive(Debug)]
struct KeyCapture;

impl DtlsProvider for KeyCapture {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        backend().dtls_provider.generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        dtls_version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let config = shared_config(mtu)?;
        let cert = cert.clone();
        let inner = match dtls_version {
            DtlsVersion::Dtls12 => dimpl::Dtls::new_12(config, cert, now),
            DtlsVersion::Dtls13 => dimpl::Dtls::new_13(config, cert, now),
            DtlsVersion::Auto => dimpl::Dtls::new_auto(config, cert, now),
            other => {
                return Err(CryptoError::Other(format!(
                    "unsupported DTLS version: {other}"
                )));
            }
        };
        let keys = BUILDING.with(|slot| slot.borrow_mut().take());
        Ok(Box::new(CapturingDtls {
            inner,
            keys,
            active: None,
        }))
    }
}

/// The dimpl configuration for `mtu`, built on first use and shared from then on.
///
/// It is the backend's configuration: aws-lc-rs crypto, no server cookie (ICE has checked
/// return routability before DTLS starts), and the MTU str0m asks for.
fn shared_config(mtu: Option<usize>) -> Result<Arc<dimpl::Config>, CryptoError> {
    static CONFIGS: OnceLock<Mutex<HashMap<Option<usize>, Arc<dimpl::Config>>>> = OnceLock::new();
    let mut configs = CONFIGS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(config) = configs.get(&mtu) {
        return Ok(config.clone());
    }
    let mut builder = dimpl::Config::builder().use_server_cookie(false);
    if let Some(mtu) = mtu {
        builder = builder.mtu(mtu);
    }
    let config = Arc::new(
        builder
            .build()
            .map_err(|e| CryptoError::Other(format!("DTLS configuration: {e}")))?,
    );
    configs.insert(mtu, config.clone());
    Ok(config)
}

/// A dimpl DTLS instance, plus what the capture keeps.
struct CapturingDtls {
    inner: dimpl::Dtls,
    /// Where exported keys go; `None` for an instance made outside [`build_with_key_capture`].
    keys: Option<EgressKeys>,
    /// The role str0m set: it sends with the client half when active, as str0m does.
    active: Option<bool>,
}

impl std::fmt::Debug for CapturingDtls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CapturingDtls")
            .field("keys", &self.keys)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl DtlsInstance for CapturingDtls {
    fn set_active(&mut self, active: bool) {
        self.active = Some(active);
        self.inner.set_active(active);
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.inner.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        let output = self.inner.poll_output(buf);
        if let (DtlsOutput::KeyingMaterial(material, profile), Some(keys)) = (&output, &self.keys) {
            let active = self.active.unwrap_or_else(|| self.inner.is_active());
            keys.record(*profile, material, active);
        }
        output
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.inner.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.inner.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.inner.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.inner.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.inner.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.inner.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_is_empty_after_a_build() {
        let (_rtc, keys) = build_with_key_capture(RtcConfig::new(), Instant::now());
        assert!(BUILDING.with(|slot| slot.borrow().is_none()));
        assert!(keys.keys().is_none(), "no handshake yet");
    }

    /// The slot arms exactly one instance: the first made after arming takes the keys, a
    /// later one (or one made without arming) captures nothing.
    #[test]
    fn one_armed_slot_pairs_one_instance() {
        let cert = KEY_CAPTURE.generate_certificate().expect("certificate");
        let make = || {
            let instance = KEY_CAPTURE
                .new_dtls(&cert, Instant::now(), DtlsVersion::Dtls12, None)
                .expect("instance");
            format!("{instance:?}")
        };
        let armed = Armed::new(EgressKeys::default());
        let first = make();
        let second = make();
        drop(armed);
        assert!(first.contains("keys: Some"), "{first}");
        assert!(second.contains("keys: None"), "{second}");
        assert!(make().contains("keys: None"));
    }

    #[test]
    fn peers_share_one_dtls_configuration_per_mtu() {
        let first = shared_config(Some(1150)).expect("config");
        let again = shared_config(Some(1150)).expect("config");
        let other = shared_config(Some(1400)).expect("config");
        assert!(Arc::ptr_eq(&first, &again));
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(other.mtu(), 1400);
    }

    #[test]
    fn the_slot_is_emptied_when_a_build_panics() {
        let result = std::panic::catch_unwind(|| {
            let _armed = Armed::new(EgressKeys::default());
            panic!("build failed");
        });
        assert!(result.is_err());
        assert!(BUILDING.with(|slot| slot.borrow().is_none()));
    }
}
