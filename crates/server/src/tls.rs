//! TLS: the operator's certificate, or a development certificate generated once into the data dir.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;

/// The development certificate's files inside the data dir.
pub fn dev_cert_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// The names a development certificate covers for `domain`.
fn dev_names(domain: &str) -> Vec<String> {
    vec![
        format!("relay.{domain}"),
        format!("fabric.{domain}"),
        domain.to_owned(),
        format!("*.{domain}"),
        "localhost".into(),
        "127.0.0.1".into(),
        "::1".into(),
    ]
}

/// Writes a self-signed development certificate unless one for this domain exists.
fn ensure_dev_cert(data_dir: &Path, domain: &str) -> Result<(PathBuf, PathBuf)> {
    let (cert_path, key_path) = dev_cert_paths(data_dir);
    let marker = data_dir.join("tls").join("domain");
    let current = std::fs::read_to_string(&marker).ok();
    if cert_path.exists() && key_path.exists() && current.as_deref() == Some(domain) {
        return Ok((cert_path, key_path));
    }
    let dir = data_dir.join("tls");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let certified = rcgen::generate_simple_self_signed(dev_names(domain))
        .context("generating the development certificate")?;
    std::fs::write(&cert_path, certified.cert.pem())?;
    write_private(&key_path, &certified.signing_key.serialize_pem())?;
    std::fs::write(&marker, domain)?;
    tracing::info!(cert = %cert_path.display(), domain, "generated a development TLS certificate");
    Ok((cert_path, key_path))
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> Result<()> {
    Ok(std::fs::write(path, contents)?)
}

/// The certificate and key files: the operator's, or the development certificate.
fn cert_paths(config: &Config) -> Result<(PathBuf, PathBuf)> {
    match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => Ok((cert.clone(), key.clone())),
        (None, None) => ensure_dev_cert(&config.data_dir, &config.domain),
        _ => Err(anyhow!("tls.cert and tls.key must be given together")),
    }
}

/// The certificate chain and key as PEM text (for SIP over TLS, which serves the same
/// certificate as HTTPS).
pub fn cert_pem(config: &Config) -> Result<(Vec<u8>, Vec<u8>)> {
    let (cert_path, key_path) = cert_paths(config)?;
    let cert =
        std::fs::read(&cert_path).with_context(|| format!("reading {}", cert_path.display()))?;
    let key =
        std::fs::read(&key_path).with_context(|| format!("reading {}", key_path.display()))?;
    Ok((cert, key))
}

/// The rustls server configuration for the TLS listener (HTTP/1.1, which WebSockets need).
pub fn server_config(config: &Config) -> Result<Arc<ServerConfig>> {
    let (cert_path, key_path) = cert_paths(config)?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut BufReader::new(
        std::fs::File::open(&cert_path)
            .with_context(|| format!("opening {}", cert_path.display()))?,
    ))
    .collect::<Result<_, _>>()
    .with_context(|| format!("reading {}", cert_path.display()))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut BufReader::new(
        std::fs::File::open(&key_path)
            .with_context(|| format!("opening {}", key_path.display()))?,
    ))
    .with_context(|| format!("reading {}", key_path.display()))?
    .ok_or_else(|| anyhow!("no private key in {}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("loading the TLS certificate and key")?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(server))
}
