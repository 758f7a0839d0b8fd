//! The TLS client configuration: rustls with the aws-lc-rs provider (the one the rest of Weft
//! uses), trusting the system's certificate store (so an operator's own CA works for
//! webhooks), HTTP/1.1 only.

use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};

use crate::error::FetchError;

/// Builds the client configuration. A missing or unreadable system store is logged, not an
/// error: plain http still works, and https fails per request with a certificate error.
pub(crate) fn client_config() -> Result<ClientConfig, FetchError> {
    let mut roots = RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    for error in &loaded.errors {
        tracing::warn!(%error, "reading the system certificate store");
    }
    let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
    if ignored > 0 {
        tracing::debug!(ignored, "system certificates rustls cannot use");
    }
    if added == 0 {
        tracing::warn!("no trusted CA certificates found; https fetches will fail");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| FetchError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
