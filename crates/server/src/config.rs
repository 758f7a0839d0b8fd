//! Settings: built-in defaults, then the TOML file, then `WEFT_*` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use weft_media::MediaConfig;

/// Everything `weft` can be told. See `config/weft.toml` for the documented version.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Plain HTTP listener (REST, health) for local tools.
    pub http_listen: SocketAddr,
    /// Prometheus metrics listener (`/metrics`, `/healthz`).
    pub metrics_listen: SocketAddr,
    /// HTTPS + WSS listener for `relay.<domain>` and `fabric.<domain>`.
    pub tls_listen: SocketAddr,
    /// The public domain; the SDK derives `relay.<domain>` and `fabric.<domain>` from tokens.
    pub domain: String,
    /// Where the embedded database, TLS files and other state live.
    pub data_dir: PathBuf,
    /// `sqlite:…` or `postgres:…`; default: SQLite in the data dir.
    pub database_url: Option<String>,
    /// `error`, `warn`, `info`, `debug`, `trace`, or a full tracing filter.
    pub log_level: String,
    /// `text` or `json`.
    pub log_format: String,
    pub tls: TlsConfig,
    pub tokens: TokenConfig,
    pub http: HttpConfig,
    pub bootstrap: BootstrapConfig,
    pub oauth: OAuthSettings,
    /// Media engine: UDP sockets, advertised addresses, shards (see `weft_media::MediaConfig`).
    pub media: MediaConfig,
    pub signaling: SignalingSettings,
    /// SIP: listeners, registration bounds, limits and trusted trunks.
    pub sip: crate::sip::SipSettings,
}

/// Fabric signaling (JSON-RPC over WebSocket): timings, limits and the ICE servers clients get.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalingSettings {
    /// How long a session and its calls survive a dropped socket, waiting for a resume or a
    /// reattach after a page reload.
    pub session_grace_secs: u64,
    /// How long an inbound call rings before the caller's call ends with `NO_ANSWER`.
    pub ring_timeout_secs: u64,
    /// Live sessions per subscriber (or guest token).
    pub max_sessions_per_subscriber: usize,
    /// Calls one session may have at a time.
    pub max_calls_per_session: usize,
    /// Largest accepted WebSocket message, in bytes.
    pub max_frame_bytes: usize,
    /// Sustained client requests per second per socket, and the burst above it.
    pub requests_per_sec: f64,
    pub request_burst: f64,
    /// `ice_servers` handed to clients on connect (passed to `RTCPeerConnection`), e.g.
    /// `[{ urls = ["turn:turn.example.com:3478"], username = "u", credential = "p" }]`.
    pub ice_servers: Vec<serde_json::Value>,
}

impl Default for SignalingSettings {
    fn default() -> Self {
        let session = weft_signaling::session::SessionConfig::default();
        let hub = weft_signaling::hub::HubConfig::default();
        let controller = weft_calls::ControllerConfig::default();
        SignalingSettings {
            session_grace_secs: hub.session_grace.as_secs(),
            ring_timeout_secs: controller.ring_timeout.as_secs(),
            max_sessions_per_subscriber: hub.max_sessions_per_subject,
            max_calls_per_session: hub.max_calls_per_session,
            max_frame_bytes: session.max_frame_bytes,
            requests_per_sec: session.requests_per_sec,
            request_burst: session.request_burst,
            ice_servers: Vec::new(),
        }
    }
}

impl SignalingSettings {
    /// The call controller's configuration; rooms hold as many members as the media engine takes.
    pub fn controller_config(&self, media: &MediaConfig) -> Result<weft_calls::ControllerConfig> {
        if self.ring_timeout_secs == 0 {
            bail!("signaling: ring_timeout_secs must be > 0");
        }
        Ok(weft_calls::ControllerConfig {
            ring_timeout: std::time::Duration::from_secs(self.ring_timeout_secs),
            max_members_per_room: media.max_members_per_room,
            ..weft_calls::ControllerConfig::default()
        })
    }

    /// The signaling crate's configuration.
    pub fn signaling_config(&self) -> Result<weft_signaling::SignalingConfig> {
        if self.session_grace_secs == 0 {
            bail!("signaling: session_grace_secs must be > 0");
        }
        if self.max_frame_bytes < 16 * 1024 {
            bail!("signaling: max_frame_bytes must be at least 16384 (SDP offers are large)");
        }
        if !(self.requests_per_sec > 0.0 && self.request_burst >= 1.0) {
            bail!("signaling: requests_per_sec must be > 0 and request_burst >= 1");
        }
        let mut config = weft_signaling::SignalingConfig::default();
        config.hub.session_grace = std::time::Duration::from_secs(self.session_grace_secs);
        config.hub.max_sessions_per_subject = self.max_sessions_per_subscriber;
        config.hub.max_calls_per_session = self.max_calls_per_session;
        config.session.max_frame_bytes = self.max_frame_bytes;
        config.session.max_sdp_bytes = config.session.max_sdp_bytes.min(self.max_frame_bytes);
        config.session.requests_per_sec = self.requests_per_sec;
        config.session.request_burst = self.request_burst;
        config.session.ice_servers = serde_json::Value::Array(self.ice_servers.clone());
        Ok(config)
    }
}

/// TLS certificate and the port the public reaches.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain; when unset a development certificate is generated in the data dir.
    pub cert: Option<PathBuf>,
    /// PEM private key for `cert`.
    pub key: Option<PathBuf>,
    /// The port clients use (put into tokens); default: the TLS listener's port.
    pub public_port: Option<u16>,
}

/// Token lifetimes.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenConfig {
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
}

/// HTTP limits and CORS.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub cors_origins: Vec<String>,
    pub max_body_bytes: usize,
}

/// Credentials for the project created on first start.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BootstrapConfig {
    pub project_id: Option<String>,
    pub api_token: Option<String>,
}

/// Subscriber login (OAuth2 + PKCE, OpenID Connect).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthSettings {
    /// The issuer URL; default `https://fabric.<domain>[:public port]`.
    pub issuer: Option<String>,
    /// Authorization-code lifetime in seconds (1–60).
    pub code_ttl_secs: i64,
    /// Failed logins allowed per account, and per client address, within `failure_window_secs`.
    pub max_failures_per_account: u32,
    pub max_failures_per_address: u32,
    pub failure_window_secs: u64,
    /// Public clients defined here (read-only for the REST API).
    pub clients: Vec<OAuthClientSettings>,
}

/// One OAuth client in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClientSettings {
    pub client_id: String,
    /// A display name for the login page; default: the client id.
    pub name: Option<String>,
    /// The project whose subscribers log in; default: the first (bootstrap) project.
    pub project_id: Option<String>,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        OAuthSettings {
            issuer: None,
            code_ttl_secs: 60,
            max_failures_per_account: 5,
            max_failures_per_address: 20,
            failure_window_secs: 900,
            clients: Vec::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http_listen: ([127, 0, 0, 1], 8080).into(),
            metrics_listen: ([127, 0, 0, 1], 9100).into(),
            tls_listen: ([127, 0, 0, 1], 8443).into(),
            domain: "weft.localhost".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            log_level: "info".into(),
            log_format: "text".into(),
            tls: TlsConfig::default(),
            tokens: TokenConfig::default(),
            http: HttpConfig::default(),
            bootstrap: BootstrapConfig::default(),
            oauth: OAuthSettings::default(),
            media: MediaConfig::default(),
            signaling: SignalingSettings::default(),
            sip: crate::sip::SipSettings::default(),
        }
    }
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            access_ttl_secs: 7200,
            refresh_ttl_secs: 7500,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            cors_origins: vec!["*".into()],
            max_body_bytes: 1024 * 1024,
        }
    }
}

impl Config {
    /// Loads defaults, then `file` (if any), then the environment, then `data_dir` (the CLI flag).
    pub fn load(file: Option<&Path>, data_dir: Option<&Path>) -> Result<Self> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(|key| std::env::var(key).ok())?;
        if let Some(dir) = data_dir {
            config.data_dir = dir.to_owned();
        }
        Ok(config)
    }

    /// Overrides settings from `WEFT_*` variables.
    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<()> {
        fn parse<T: std::str::FromStr>(key: &str, value: String) -> Result<T> {
            match value.trim().parse() {
                Ok(v) => Ok(v),
                Err(_) => bail!("{key}={value:?} is not valid"),
            }
        }
        let opt = |key: &str| var(key).filter(|v| !v.is_empty());
        if let Some(v) = opt("WEFT_HTTP_LISTEN") {
            self.http_listen = parse("WEFT_HTTP_LISTEN", v)?;
        }
        if let Some(v) = opt("WEFT_METRICS_LISTEN") {
            self.metrics_listen = parse("WEFT_METRICS_LISTEN", v)?;
        }
        if let Some(v) = opt("WEFT_TLS_LISTEN") {
            self.tls_listen = parse("WEFT_TLS_LISTEN", v)?;
        }
        if let Some(v) = opt("WEFT_DOMAIN") {
            self.domain = v;
        }
        if let Some(v) = opt("WEFT_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = opt("WEFT_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = opt("WEFT_LOG_LEVEL") {
            self.log_level = v;
        }
        if let Some(v) = opt("WEFT_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = opt("WEFT_TLS_CERT") {
            self.tls.cert = Some(v.into());
        }
        if let Some(v) = opt("WEFT_TLS_KEY") {
            self.tls.key = Some(v.into());
        }
        if let Some(v) = opt("WEFT_TLS_PUBLIC_PORT") {
            self.tls.public_port = Some(parse("WEFT_TLS_PUBLIC_PORT", v)?);
        }
        if let Some(v) = opt("WEFT_ACCESS_TTL_SECS") {
            self.tokens.access_ttl_secs = parse("WEFT_ACCESS_TTL_SECS", v)?;
        }
        if let Some(v) = opt("WEFT_REFRESH_TTL_SECS") {
            self.tokens.refresh_ttl_secs = parse("WEFT_REFRESH_TTL_SECS", v)?;
        }
        if let Some(v) = opt("WEFT_CORS_ORIGINS") {
            self.http.cors_origins = v.split(',').map(|s| s.trim().to_owned()).collect();
        }
        if let Some(v) = opt("WEFT_MAX_BODY_BYTES") {
            self.http.max_body_bytes = parse("WEFT_MAX_BODY_BYTES", v)?;
        }
        if let Some(v) = opt("WEFT_BOOTSTRAP_PROJECT_ID") {
            self.bootstrap.project_id = Some(v);
        }
        if let Some(v) = opt("WEFT_BOOTSTRAP_API_TOKEN") {
            self.bootstrap.api_token = Some(v);
        }
        if let Some(v) = opt("WEFT_SIP_ENABLED") {
            self.sip.enabled = parse("WEFT_SIP_ENABLED", v)?;
        }
        if let Some(v) = opt("WEFT_SIP_LISTEN") {
            self.sip.listen = parse("WEFT_SIP_LISTEN", v)?;
        }
        if let Some(v) = opt("WEFT_SIP_TLS_LISTEN") {
            self.sip.tls_listen = Some(parse("WEFT_SIP_TLS_LISTEN", v)?);
        }
        if let Some(v) = opt("WEFT_SIP_MESSAGES_PER_SEC") {
            self.sip.messages_per_sec = parse("WEFT_SIP_MESSAGES_PER_SEC", v)?;
        }
        if let Some(v) = opt("WEFT_SIP_TRUNKS") {
            self.sip.trunks = serde_json::from_str(&v)
                .with_context(|| format!("WEFT_SIP_TRUNKS={v:?} is not a JSON list of trunks"))?;
        }
        if let Some(v) = opt("WEFT_MEDIA_BIND_IP") {
            self.media.bind_ip = parse("WEFT_MEDIA_BIND_IP", v)?;
        }
        if let Some(v) = opt("WEFT_MEDIA_ADVERTISED_IPS") {
            self.media.advertised_ips = v
                .split(',')
                .map(|ip| parse("WEFT_MEDIA_ADVERTISED_IPS", ip.to_owned()))
                .collect::<Result<_>>()?;
        }
        if let Some(v) = opt("WEFT_MEDIA_UDP_PORT_MIN") {
            self.media.udp_port_min = parse("WEFT_MEDIA_UDP_PORT_MIN", v)?;
        }
        if let Some(v) = opt("WEFT_MEDIA_UDP_PORT_MAX") {
            self.media.udp_port_max = parse("WEFT_MEDIA_UDP_PORT_MAX", v)?;
        }
        if let Some(v) = opt("WEFT_MEDIA_SHARDS") {
            self.media.shards = parse("WEFT_MEDIA_SHARDS", v)?;
        }
        if let Some(v) = opt("WEFT_MEDIA_BANDWIDTH_ESTIMATION") {
            self.media.bandwidth_estimation = parse("WEFT_MEDIA_BANDWIDTH_ESTIMATION", v)?;
        }
        if let Some(v) = opt("WEFT_MEDIA_OWNED_EGRESS") {
            self.media.owned_egress = parse("WEFT_MEDIA_OWNED_EGRESS", v)?;
        }
        if let Some(v) = opt("WEFT_OAUTH_ISSUER") {
            self.oauth.issuer = Some(v);
        }
        if let Some(v) = opt("WEFT_SIGNALING_SESSION_GRACE_SECS") {
            self.signaling.session_grace_secs = parse("WEFT_SIGNALING_SESSION_GRACE_SECS", v)?;
        }
        if let Some(v) = opt("WEFT_SIGNALING_RING_TIMEOUT_SECS") {
            self.signaling.ring_timeout_secs = parse("WEFT_SIGNALING_RING_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = opt("WEFT_SIGNALING_ICE_SERVERS") {
            self.signaling.ice_servers = serde_json::from_str(&v)
                .context("WEFT_SIGNALING_ICE_SERVERS: expected a JSON array of ICE servers")?;
        }
        Ok(())
    }

    /// The OAuth settings for the API; the issuer defaults to `https://fabric.<domain>[:port]`.
    pub fn oauth_config(&self, public_port: u16) -> weft_api::oauth::OAuthConfig {
        let issuer = self
            .oauth
            .issuer
            .clone()
            .unwrap_or_else(|| match public_port {
                443 => format!("https://fabric.{}", self.domain),
                port => format!("https://fabric.{}:{port}", self.domain),
            });
        let mut oauth = weft_api::oauth::OAuthConfig::new(issuer);
        oauth.code_ttl_secs = self.oauth.code_ttl_secs;
        oauth.id_token_ttl_secs = self.tokens.access_ttl_secs;
        oauth.limits = weft_api::oauth::Limits {
            per_account: self.oauth.max_failures_per_account,
            per_address: self.oauth.max_failures_per_address,
            window_secs: self.oauth.failure_window_secs,
        };
        oauth.clients = self
            .oauth
            .clients
            .iter()
            .map(|c| weft_api::oauth::OAuthClient {
                client_id: c.client_id.clone(),
                project_id: c.project_id.clone(),
                name: c.name.clone().unwrap_or_else(|| c.client_id.clone()),
                redirect_uris: c.redirect_uris.clone(),
                allowed_origins: c.allowed_origins.clone(),
                from_config: true,
            })
            .collect();
        oauth
    }

    /// Checks the configured OAuth clients (ids, redirect URIs, origins).
    pub fn check_oauth_clients(&self) -> Result<()> {
        for client in self.oauth_config(443).clients {
            if let Err(e) = weft_api::oauth::clients::check_client(&client) {
                bail!("[[oauth.clients]] {}: {e:?}", client.client_id);
            }
        }
        Ok(())
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("weft.db").display()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_file_parses_and_matches_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/weft.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let config: Config = toml::from_str(&text).unwrap();
        let defaults = Config::default();
        assert_eq!(config.http_listen, defaults.http_listen);
        assert_eq!(config.tls_listen, defaults.tls_listen);
        assert_eq!(config.domain, defaults.domain);
        let (file, built_in) = (&config.signaling, &defaults.signaling);
        assert_eq!(file.session_grace_secs, built_in.session_grace_secs);
        assert_eq!(file.ring_timeout_secs, built_in.ring_timeout_secs);
        assert_eq!(file.max_frame_bytes, built_in.max_frame_bytes);
        assert_eq!(file.requests_per_sec, built_in.requests_per_sec);
        assert_eq!(config.media.pin_shards, defaults.media.pin_shards);
        assert_eq!(config.media.owned_egress, defaults.media.owned_egress);
    }

    #[test]
    fn media_binds_to_loopback_unless_told_otherwise_even_with_a_partial_table() {
        let loopback: std::net::IpAddr = std::net::Ipv4Addr::LOCALHOST.into();
        assert_eq!(Config::default().media.bind_ip, loopback);
        let partial: Config = toml::from_str("[media]\nshards = 2\n").unwrap();
        assert_eq!(partial.media.shards, 2);
        assert_eq!(partial.media.bind_ip, loopback);
        assert_eq!(partial.media.advertised(), vec![loopback]);
        let public: Config = toml::from_str("[media]\nbind_ip = \"0.0.0.0\"\n").unwrap();
        assert!(public.media.bind_ip.is_unspecified());
    }

    #[test]
    fn oauth_clients_and_issuer_come_from_the_file() {
        let text = r#"
            domain = "example.test"
            [oauth]
            code_ttl_secs = 30
            [[oauth.clients]]
            client_id = "web"
            redirect_uris = ["https://app.example.test/cb"]
            allowed_origins = ["https://app.example.test"]
        "#;
        let config: Config = toml::from_str(text).unwrap();
        let oauth = config.oauth_config(8443);
        assert_eq!(oauth.issuer, "https://fabric.example.test:8443");
        assert_eq!(
            config.oauth_config(443).issuer,
            "https://fabric.example.test"
        );
        assert_eq!(oauth.code_ttl_secs, 30);
        assert_eq!(oauth.clients[0].name, "web");
        assert!(oauth.clients[0].from_config && oauth.clients[0].project_id.is_none());
        assert!(config.check_oauth_clients().is_ok());
        let mut bad = config.clone();
        bad.oauth.clients[0].redirect_uris = vec!["http://example.test/cb".into()];
        assert!(bad.check_oauth_clients().is_err());
        let mut custom = config;
        custom
            .apply_env(|k| (k == "WEFT_OAUTH_ISSUER").then(|| "https://id.example.test".into()))
            .unwrap();
        assert_eq!(custom.oauth_config(8443).issuer, "https://id.example.test");
    }

    #[test]
    fn environment_overrides_and_rejects_garbage() {
        let mut config = Config::default();
        config
            .apply_env(|k| match k {
                "WEFT_DOMAIN" => Some("example.test".into()),
                "WEFT_HTTP_LISTEN" => Some("127.0.0.1:9000".into()),
                "WEFT_CORS_ORIGINS" => Some("http://a, http://b".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.domain, "example.test");
        assert_eq!(config.http_listen.port(), 9000);
        assert_eq!(config.http.cors_origins, vec!["http://a", "http://b"]);
        let bad = config.apply_env(|k| (k == "WEFT_TLS_LISTEN").then(|| "nope".into()));
        assert!(bad.is_err());
    }

    #[test]
    fn signaling_settings_reach_the_signaling_and_controller_configs() {
        let text = r#"
            [signaling]
            session_grace_secs = 45
            ring_timeout_secs = 20
            max_sessions_per_subscriber = 3
            ice_servers = [{ urls = ["turn:turn.example.test:3478"], username = "u", credential = "p" }]
            [media]
            max_members_per_room = 300
        "#;
        let config: Config = toml::from_str(text).unwrap();
        let signaling = config.signaling.signaling_config().unwrap();
        let controller = config.signaling.controller_config(&config.media).unwrap();
        assert_eq!(signaling.hub.session_grace.as_secs(), 45);
        assert_eq!(controller.ring_timeout.as_secs(), 20);
        assert_eq!(signaling.hub.max_sessions_per_subject, 3);
        assert_eq!(
            controller.max_members_per_room, 300,
            "rooms hold what media takes"
        );
        assert_eq!(
            signaling.session.ice_servers[0]["urls"][0],
            "turn:turn.example.test:3478"
        );
        let defaults = Config::default().signaling.signaling_config().unwrap();
        assert_eq!(defaults.session.ice_servers, serde_json::json!([]));
        let mut env = Config::default();
        env.apply_env(|k| match k {
            "WEFT_SIGNALING_RING_TIMEOUT_SECS" => Some("5".into()),
            "WEFT_MEDIA_BANDWIDTH_ESTIMATION" => Some("false".into()),
            "WEFT_SIGNALING_ICE_SERVERS" => Some(r#"[{"urls":"stun:127.0.0.1:3478"}]"#.into()),
            _ => None,
        })
        .unwrap();
        let signaling = env.signaling.signaling_config().unwrap();
        let controller = env.signaling.controller_config(&env.media).unwrap();
        assert_eq!(controller.ring_timeout.as_secs(), 5);
        assert!(!env.media.bandwidth_estimation);
        assert_eq!(
            signaling.session.ice_servers[0]["urls"],
            "stun:127.0.0.1:3478"
        );
        let bad = env.apply_env(|k| (k == "WEFT_SIGNALING_ICE_SERVERS").then(|| "{".into()));
        assert!(bad.is_err());
        env.signaling.ring_timeout_secs = 0;
        assert!(env.signaling.controller_config(&env.media).is_err());
    }
}
