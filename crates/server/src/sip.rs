//! The SIP server's settings (`[sip]`), its store (accounts and bindings on Weft's database) and
//! its start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use weft_calls::Calls;
use weft_core::time::now_ms;
use weft_metrics::Metrics;
use weft_sip::account::{Account, Binding, EncryptionSetting, MediaPolicy};
use weft_sip::cidr::Cidr;
use weft_sip::core::{AuthLimits, CoreConfig, SIP_CALL_STATES, SipSnapshot, StoreChange, Trunk};
use weft_sip::digest::{Algorithm, Ha1Set};
use weft_sip::shell::{SipConfig, SipObserver, SipServer, SipStore};
use weft_store::Store;
use weft_store::sip_bindings::SipBindingRow;

/// SIP: phones register and call, trunks reach addresses (`[sip]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipSettings {
    /// Serve SIP at all.
    pub enabled: bool,
    /// UDP and TCP listener.
    pub listen: SocketAddr,
    /// TLS listener (the HTTPS certificate); none by default.
    pub tls_listen: Option<SocketAddr>,
    /// Registration bounds, seconds: shorter requests get 423, longer ones are shortened.
    pub min_expires: u32,
    pub max_expires: u32,
    /// Contacts one account may register.
    pub max_contacts_per_account: usize,
    /// Calls one account may have at once.
    pub max_calls_per_account: usize,
    /// Messages a second per source address (trunks are exempt), and the burst above it.
    pub messages_per_sec: f64,
    pub message_burst: f64,
    /// Failed authentications from one address within `auth_window_secs` that block it for
    /// `auth_block_secs`.
    pub auth_max_failures: usize,
    pub auth_window_secs: u64,
    pub auth_block_secs: u64,
    /// Session timers (RFC 4028): the interval Weft asks for, and the shortest it accepts.
    pub session_expires_secs: u32,
    pub min_session_expires_secs: u32,
    /// Digest algorithms offered in challenges, in order (`MD5`, `SHA-256`). Both are verified;
    /// offer SHA-256 only where every client handles it (baresip 1.0.0 and SIPp 3.6 refuse a
    /// response with any SHA-256 challenge).
    pub digest_algorithms: Vec<String>,
    /// Trusted trunks: calls from their networks need no credentials.
    pub trunks: Vec<TrunkSettings>,
}

/// One trusted trunk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkSettings {
    pub name: String,
    /// Source networks, e.g. `["192.0.2.0/24"]`.
    pub cidrs: Vec<Cidr>,
    /// The project its calls go to; default: the bootstrap project.
    pub project_id: Option<String>,
    /// `required`, `optional` or `default` (plain RTP unless the offer is SRTP-only).
    #[serde(default)]
    pub encryption: Option<String>,
    /// Allowed codecs in order (`OPUS`, `PCMU`, `PCMA`); empty: all.
    #[serde(default)]
    pub codecs: Vec<String>,
    /// Calls it may have at once.
    #[serde(default = "default_trunk_calls")]
    pub max_calls: usize,
}

fn default_trunk_calls() -> usize {
    500
}

impl Default for SipSettings {
    fn default() -> Self {
        let core = CoreConfig::default();
        let auth = AuthLimits::default();
        Self {
            enabled: true,
            listen: ([127, 0, 0, 1], 5060).into(),
            tls_listen: None,
            min_expires: core.min_expires,
            max_expires: core.max_expires,
            max_contacts_per_account: core.max_bindings_per_account,
            max_calls_per_account: core.max_calls_per_account,
            messages_per_sec: 50.0,
            message_burst: 200.0,
            auth_max_failures: auth.max_failures,
            auth_window_secs: auth.window.as_secs(),
            auth_block_secs: auth.block.as_secs(),
            session_expires_secs: core.session_expires,
            min_session_expires_secs: core.min_session_expires,
            digest_algorithms: core
                .digest_algorithms
                .iter()
                .map(|a| a.name().to_owned())
                .collect(),
            trunks: Vec::new(),
        }
    }
}

impl SipSettings {
    /// The SIP server's configuration for `domain`, with the TLS certificate and key (PEM).
    pub fn sip_config(
        &self,
        domain: &str,
        tls: Option<(Vec<u8>, Vec<u8>)>,
        default_project: Option<&str>,
    ) -> Result<SipConfig> {
        if self.min_expires == 0 || self.min_expires > self.max_expires {
            bail!("sip: min_expires must be > 0 and <= max_expires");
        }
        if !(self.messages_per_sec > 0.0 && self.message_burst >= 1.0) {
            bail!("sip: messages_per_sec must be > 0 and message_burst >= 1");
        }
        if self.min_session_expires_secs < 90 {
            bail!("sip: min_session_expires_secs must be at least 90 (RFC 4028)");
        }
        let trunks = self
            .trunks
            .iter()
            .map(|t| {
                let project_id = t
                    .project_id
                    .clone()
                    .or_else(|| default_project.map(str::to_owned))
                    .with_context(|| format!("sip: trunk {:?} needs a project_id", t.name))?;
                Ok(Trunk {
                    name: t.name.clone(),
                    cidrs: t.cidrs.clone(),
                    project_id,
                    media: MediaPolicy {
                        codecs: t.codecs.clone(),
                        encryption: EncryptionSetting::from_field(t.encryption.as_deref()),
                    },
                    max_calls: t.max_calls,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let digest_algorithms = self
            .digest_algorithms
            .iter()
            .map(|name| {
                Algorithm::from_name(name)
                    .with_context(|| format!("sip: unknown digest algorithm {name:?}"))
            })
            .collect::<Result<Vec<_>>>()?;
        if digest_algorithms.is_empty() {
            bail!("sip: digest_algorithms needs MD5, SHA-256 or both");
        }
        let mut secret = [0u8; 32];
        rand::Rng::fill(&mut rand::thread_rng(), &mut secret);
        let core = CoreConfig {
            domain: domain.to_owned(),
            min_expires: self.min_expires,
            max_expires: self.max_expires,
            default_expires: self.max_expires,
            max_bindings_per_account: self.max_contacts_per_account,
            max_calls_per_account: self.max_calls_per_account,
            trunks,
            auth: AuthLimits {
                max_failures: self.auth_max_failures.max(1),
                window: Duration::from_secs(self.auth_window_secs),
                block: Duration::from_secs(self.auth_block_secs),
            },
            min_session_expires: self.min_session_expires_secs,
            session_expires: self.session_expires_secs.max(self.min_session_expires_secs),
            secret,
            digest_algorithms,
            ..CoreConfig::default()
        };
        let tls = match (self.tls_listen, tls) {
            (Some(addr), Some((cert, key))) => Some((addr, cert, key)),
            (Some(_), None) => bail!("sip: tls_listen needs the TLS certificate"),
            _ => None,
        };
        Ok(SipConfig {
            listen: self.listen,
            tls,
            messages_per_sec: self.messages_per_sec,
            message_burst: self.message_burst,
            core,
        })
    }
}

/// The SIP server's store: accounts (SIP endpoints with digest HA1 values for `realm`) and
/// bindings.
pub struct StoreSip {
    store: Store,
    realm: String,
}

impl StoreSip {
    pub fn new(store: Store, realm: String) -> Self {
        StoreSip { store, realm }
    }
}

impl SipStore for StoreSip {
    async fn accounts(&self, username: &str) -> Result<Vec<Account>, String> {
        let rows = self
            .store
            .sip_accounts(username)
            .await
            .map_err(|e| e.to_string())?;
        Ok(rows
            .into_iter()
            .filter(|r| r.realm.as_deref() == Some(self.realm.as_str()))
            .map(|r| Account {
                id: r.id,
                username: r.username,
                project_id: r.project_id,
                resource_id: r.resource_id,
                subscriber_id: r.subscriber_id,
                display_name: r.display_name,
                ha1: Ha1Set {
                    md5: r.ha1_md5,
                    sha256: r.ha1_sha256,
                },
                media: MediaPolicy {
                    codecs: r.codecs,
                    encryption: EncryptionSetting::from_field(r.encryption.as_deref()),
                },
            })
            .collect())
    }

    async fn apply(&self, changes: Vec<StoreChange>) -> Result<(), String> {
        for change in changes {
            match change {
                StoreChange::Save(b) => {
                    let row = SipBindingRow {
                        id: b.id.clone(),
                        account_id: b.account_id.clone(),
                        project_id: b.project_id.clone(),
                        expires_at: i64::try_from(b.expires_at)
                            .unwrap_or(i64::MAX / 1000)
                            .saturating_mul(1000),
                        data: serde_json::to_string(&b).map_err(|e| e.to_string())?,
                        updated_at: now_ms(),
                    };
                    self.store
                        .save_sip_binding(&row)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                StoreChange::Delete(id) => {
                    self.store
                        .delete_sip_binding(&id)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        Ok(())
    }

    async fn bindings(&self) -> Result<Vec<Binding>, String> {
        let rows = self.store.sip_bindings().await.map_err(|e| e.to_string())?;
        Ok(rows
            .into_iter()
            .filter_map(|r| match serde_json::from_str::<Binding>(&r.data) {
                Ok(b) => Some(b),
                Err(e) => {
                    tracing::warn!(binding = %r.id, error = %e, "unreadable SIP binding skipped");
                    None
                }
            })
            .collect())
    }
}

/// The SIP server's counts, recorded in the registry.
pub struct SipMetrics(pub Arc<Metrics>);

impl SipObserver for SipMetrics {
    fn answered(&self, method: &str, status: u16) {
        self.0.observe_sip(method, status);
    }

    fn snapshot(&self, snapshot: &SipSnapshot) {
        let calls: Vec<(&'static str, usize)> =
            SIP_CALL_STATES.into_iter().zip(snapshot.calls).collect();
        self.0.publish_sip(snapshot.registrations, &calls);
    }
}

/// Starts the SIP server unless it is disabled.
pub async fn start(
    cfg: SipConfig,
    store: Store,
    calls: Calls,
    metrics: Arc<Metrics>,
) -> Result<SipServer> {
    let realm = cfg.core.domain.clone();
    SipServer::start(
        cfg,
        Arc::new(StoreSip::new(store, realm)),
        calls,
        Arc::new(SipMetrics(metrics)),
    )
    .await
    .map_err(anyhow::Error::msg)
    .context("starting the SIP server")
}
