//! Settings: built-in defaults, then the TOML file, then `WEFT_*` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Deserializer};
use weft_audio::tts::TtsCommand;
use weft_fetch::{AllowRule, FetchConfig};
use weft_media::MediaConfig;
use weft_swml::Limits;

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
    /// SWML call flows: fetches, text-to-speech and the interpreter's limits.
    pub swml: SwmlSettings,
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

/// SWML call flows: what scripts may fetch, text-to-speech, and the interpreter's limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwmlSettings {
    /// Hosts and networks (CIDRs) scripts may fetch from although their addresses are refused by
    /// default (loopback, private, link-local, …); e.g. `["10.0.0.0/8", "media.example.com"]`.
    #[serde(deserialize_with = "allow_rules")]
    pub fetch_allow: Vec<AllowRule>,
    /// How long one fetch may take in all, and how long connecting may take, in seconds.
    pub fetch_timeout_secs: u64,
    pub fetch_connect_timeout_secs: u64,
    /// The largest body a fetch accepts, in bytes.
    pub fetch_max_bytes: usize,
    /// Room for the cache of fetched media files (`play` URLs), in bytes.
    pub media_cache_bytes: usize,
    /// The text-to-speech command for `say:` (see `weft_audio::tts`); empty: none. Default:
    /// `espeak-ng` when it is found in `PATH` at start.
    pub tts_command: String,
    /// How long one text-to-speech run may take, in seconds.
    pub tts_timeout_secs: u64,
    /// Methods one call's script may run in all, and how deep `execute` may nest.
    pub max_steps: u32,
    pub max_execute_depth: u32,
}

impl Default for SwmlSettings {
    fn default() -> Self {
        let fetch = FetchConfig::default();
        let limits = Limits::default();
        let playback = weft_playback::LoaderConfig::default();
        let tts = weft_audio::tts::DEFAULT_PROGRAM;
        SwmlSettings {
            fetch_allow: fetch.allow,
            fetch_timeout_secs: fetch.timeout.as_secs(),
            fetch_connect_timeout_secs: fetch.connect_timeout.as_secs(),
            fetch_max_bytes: fetch.max_body_bytes,
            media_cache_bytes: playback.cache_bytes,
            tts_command: if weft_audio::tts::installed(tts) {
                tts.to_owned()
            } else {
                String::new()
            },
            tts_timeout_secs: playback.tts_timeout.as_secs(),
            max_steps: limits.max_steps,
            max_execute_depth: limits.max_depth,
        }
    }
}

impl SwmlSettings {
    /// The fetcher's configuration.
    pub fn fetch_config(&self) -> Result<FetchConfig> {
        if self.fetch_timeout_secs == 0 || self.fetch_connect_timeout_secs == 0 {
            bail!("swml: fetch_timeout_secs and fetch_connect_timeout_secs must be > 0");
        }
        if self.fetch_max_bytes == 0 {
            bail!("swml: fetch_max_bytes must be > 0");
        }
        Ok(FetchConfig {
            allow: self.fetch_allow.clone(),
            connect_timeout: Duration::from_secs(self.fetch_connect_timeout_secs),
            timeout: Duration::from_secs(self.fetch_timeout_secs),
            max_body_bytes: self.fetch_max_bytes,
            ..FetchConfig::default()
        })
    }

    /// The `play` loader's configuration.
    pub fn loader_config(&self) -> Result<weft_playback::LoaderConfig> {
        Ok(weft_playback::LoaderConfig {
            tts: self.tts()?,
            tts_timeout: Duration::from_secs(self.tts_timeout_secs),
            cache_bytes: self.media_cache_bytes,
            max_file_bytes: self.fetch_max_bytes,
            ..weft_playback::LoaderConfig::default()
        })
    }

    /// The interpreter's limits.
    pub fn limits(&self) -> Result<Limits> {
        if self.max_steps == 0 || self.max_execute_depth == 0 {
            bail!("swml: max_steps and max_execute_depth must be > 0");
        }
        Ok(Limits {
            max_steps: self.max_steps,
            max_depth: self.max_execute_depth,
        })
    }

    /// The text-to-speech command, or `None` when `tts_command` is empty.
    pub fn tts(&self) -> Result<Option<TtsCommand>> {
        if self.tts_timeout_secs == 0 {
            bail!("swml: tts_timeout_secs must be > 0");
        }
        if self.tts_command.trim().is_empty() {
            return Ok(None);
        }
        TtsCommand::parse(&self.tts_command)
            .map(Some)
            .with_context(|| format!("swml: tts_command {:?}", self.tts_command))
    }

    /// Checks every setting, so that a bad one stops `weft` at start.
    fn check(&self) -> Result<()> {
        self.fetch_config()?;
        self.limits()?;
        self.tts()?;
        Ok(())
    }
}

/// `fetch_allow` from the file: a list of rules, each as in `WEFT_SWML_FETCH_ALLOW`.
fn allow_rules<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<AllowRule>, D::Error> {
    let entries = Vec::<String>::deserialize(deserializer)?;
    AllowRule::parse_list(&entries.join(","))
        .map_err(|e| serde::de::Error::custom(format!("swml.fetch_allow: {e}")))
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
            swml: SwmlSettings::default(),
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
        config.swml.check()?;
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
        if let Some(v) = opt("WEFT_SWML_FETCH_ALLOW") {
            self.swml.fetch_allow = AllowRule::parse_list(&v)
                .map_err(|e| anyhow::anyhow!("WEFT_SWML_FETCH_ALLOW: {e}"))?;
        }
        if let Some(v) = opt("WEFT_SWML_FETCH_TIMEOUT_SECS") {
            self.swml.fetch_timeout_secs = parse("WEFT_SWML_FETCH_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = opt("WEFT_SWML_FETCH_CONNECT_TIMEOUT_SECS") {
            self.swml.fetch_connect_timeout_secs =
                parse("WEFT_SWML_FETCH_CONNECT_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = opt("WEFT_SWML_FETCH_MAX_BYTES") {
            self.swml.fetch_max_bytes = parse("WEFT_SWML_FETCH_MAX_BYTES", v)?;
        }
        if let Some(v) = opt("WEFT_SWML_MEDIA_CACHE_BYTES") {
            self.swml.media_cache_bytes = parse("WEFT_SWML_MEDIA_CACHE_BYTES", v)?;
        }
        // Set but empty turns text-to-speech off.
        if let Some(v) = var("WEFT_SWML_TTS_COMMAND") {
            self.swml.tts_command = v;
        }
        if let Some(v) = opt("WEFT_SWML_TTS_TIMEOUT_SECS") {
            self.swml.tts_timeout_secs = parse("WEFT_SWML_TTS_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = opt("WEFT_SWML_MAX_STEPS") {
            self.swml.max_steps = parse("WEFT_SWML_MAX_STEPS", v)?;
        }
        if let Some(v) = opt("WEFT_SWML_MAX_EXECUTE_DEPTH") {
            self.swml.max_execute_depth = parse("WEFT_SWML_MAX_EXECUTE_DEPTH", v)?;
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
        let (file, built_in) = (&config.swml, &defaults.swml);
        assert_eq!(file.fetch_allow, built_in.fetch_allow);
        assert_eq!(file.fetch_timeout_secs, built_in.fetch_timeout_secs);
        assert_eq!(
            file.fetch_connect_timeout_secs,
            built_in.fetch_connect_timeout_secs
        );
        assert_eq!(file.fetch_max_bytes, built_in.fetch_max_bytes);
        assert_eq!(file.media_cache_bytes, built_in.media_cache_bytes);
        assert_eq!(file.tts_command, built_in.tts_command);
        assert_eq!(file.tts_timeout_secs, built_in.tts_timeout_secs);
        assert_eq!(file.max_steps, built_in.max_steps);
        assert_eq!(file.max_execute_depth, built_in.max_execute_depth);
    }

    #[test]
    fn swml_defaults_are_the_fetchers_and_the_interpreters() {
        let swml = SwmlSettings::default();
        assert!(swml.fetch_allow.is_empty());
        assert_eq!(swml.fetch_timeout_secs, 10);
        assert_eq!(swml.fetch_connect_timeout_secs, 5);
        assert_eq!(swml.fetch_max_bytes, 16 * 1024 * 1024);
        assert_eq!(swml.media_cache_bytes, 64 * 1024 * 1024);
        assert_eq!(swml.tts_timeout_secs, 10);
        assert_eq!((swml.max_steps, swml.max_execute_depth), (10_000, 32));
        assert_eq!(swml.fetch_config().unwrap(), FetchConfig::default());
        assert_eq!(swml.limits().unwrap(), Limits::default());
        if weft_audio::tts::installed("espeak-ng") {
            assert_eq!(swml.tts_command, "espeak-ng");
            assert_eq!(swml.tts().unwrap().unwrap().program(), "espeak-ng");
        } else {
            assert_eq!(swml.tts_command, "");
            assert!(swml.tts().unwrap().is_none());
        }
    }

    #[test]
    fn swml_settings_come_from_the_file() {
        let text = r#"
            [swml]
            fetch_allow = ["127.0.0.1/32", "10.0.0.0/8, media.example.test", "::1"]
            fetch_timeout_secs = 20
            fetch_connect_timeout_secs = 2
            fetch_max_bytes = 1000000
            media_cache_bytes = 5000000
            tts_command = "/opt/tts/say -s 150 --voice 'a b'"
            tts_timeout_secs = 3
            max_steps = 500
            max_execute_depth = 4
        "#;
        let config: Config = toml::from_str(text).unwrap();
        let swml = &config.swml;
        let fetch = swml.fetch_config().unwrap();
        let allow: Vec<String> = fetch.allow.iter().map(ToString::to_string).collect();
        assert_eq!(
            allow,
            [
                "127.0.0.1/32",
                "10.0.0.0/8",
                "media.example.test",
                "::1/128"
            ]
        );
        assert_eq!(fetch.timeout, Duration::from_secs(20));
        assert_eq!(fetch.connect_timeout, Duration::from_secs(2));
        assert_eq!(fetch.max_body_bytes, 1_000_000);
        assert_eq!(fetch.max_redirects, FetchConfig::default().max_redirects);
        assert_eq!(swml.media_cache_bytes, 5_000_000);
        assert_eq!(swml.tts_timeout_secs, 3);
        let tts = swml.tts().unwrap().unwrap();
        assert_eq!(tts.program(), "/opt/tts/say");
        assert_eq!(tts.fixed_arguments(), ["-s", "150", "--voice", "a b"]);
        let limits = swml.limits().unwrap();
        assert_eq!((limits.max_steps, limits.max_depth), (500, 4));
        let off: Config = toml::from_str("[swml]\ntts_command = \"\"\n").unwrap();
        assert!(off.swml.tts().unwrap().is_none());
        let partial: Config = toml::from_str("[swml]\nmax_steps = 7\n").unwrap();
        assert_eq!(partial.swml.max_steps, 7);
        assert_eq!(partial.swml.fetch_timeout_secs, 10);
    }

    #[test]
    fn swml_settings_come_from_the_environment() {
        let mut config: Config = toml::from_str("[swml]\ntts_command = \"say\"\n").unwrap();
        config
            .apply_env(|k| match k {
                "WEFT_SWML_FETCH_ALLOW" => Some(" 127.0.0.0/8, media.example.test ,".into()),
                "WEFT_SWML_FETCH_TIMEOUT_SECS" => Some("30".into()),
                "WEFT_SWML_FETCH_CONNECT_TIMEOUT_SECS" => Some("3".into()),
                "WEFT_SWML_FETCH_MAX_BYTES" => Some("2048".into()),
                "WEFT_SWML_MEDIA_CACHE_BYTES" => Some("4096".into()),
                "WEFT_SWML_TTS_TIMEOUT_SECS" => Some("4".into()),
                "WEFT_SWML_MAX_STEPS" => Some("100".into()),
                "WEFT_SWML_MAX_EXECUTE_DEPTH" => Some("2".into()),
                _ => None,
            })
            .unwrap();
        let fetch = config.swml.fetch_config().unwrap();
        let allow: Vec<String> = fetch.allow.iter().map(ToString::to_string).collect();
        assert_eq!(allow, ["127.0.0.0/8", "media.example.test"]);
        assert_eq!(fetch.timeout, Duration::from_secs(30));
        assert_eq!(fetch.connect_timeout, Duration::from_secs(3));
        assert_eq!(fetch.max_body_bytes, 2048);
        assert_eq!(config.swml.media_cache_bytes, 4096);
        assert_eq!(config.swml.tts_timeout_secs, 4);
        assert_eq!(config.swml.tts_command, "say", "unset: the file's value");
        let limits = config.swml.limits().unwrap();
        assert_eq!((limits.max_steps, limits.max_depth), (100, 2));
        config
            .apply_env(|k| (k == "WEFT_SWML_TTS_COMMAND").then(|| "espeak-ng -s 140".into()))
            .unwrap();
        let tts = config.swml.tts().unwrap().unwrap();
        assert_eq!(
            (tts.program(), tts.fixed_arguments()),
            ("espeak-ng", &["-s".to_owned(), "140".to_owned()][..])
        );
        config
            .apply_env(|k| (k == "WEFT_SWML_TTS_COMMAND").then(String::new))
            .unwrap();
        assert!(config.swml.tts().unwrap().is_none(), "set but empty: off");
        let bad = config.apply_env(|k| (k == "WEFT_SWML_MAX_STEPS").then(|| "many".into()));
        assert!(bad.unwrap_err().to_string().contains("WEFT_SWML_MAX_STEPS"));
    }

    #[test]
    fn bad_swml_settings_are_refused_with_the_settings_name() {
        let file = toml::from_str::<Config>("[swml]\nfetch_allow = [\"10.0.0.0/40\"]\n");
        let message = file.unwrap_err().to_string();
        assert!(
            message.contains("swml.fetch_allow: invalid fetch allow rule `10.0.0.0/40`"),
            "{message}"
        );
        let mut config = Config::default();
        let env = config.apply_env(|k| {
            (k == "WEFT_SWML_FETCH_ALLOW").then(|| "127.0.0.1/32,10.0.0.0/40".into())
        });
        let message = env.unwrap_err().to_string();
        assert!(
            message.starts_with(
                "WEFT_SWML_FETCH_ALLOW: invalid fetch allow rule `10.0.0.0/40`: prefix"
            ),
            "{message}"
        );
        assert!(config.swml.fetch_allow.is_empty(), "left as it was");
        let refused = |edit: fn(&mut SwmlSettings), name: &str| {
            let mut swml = SwmlSettings {
                tts_command: "espeak-ng".into(),
                ..SwmlSettings::default()
            };
            assert!(swml.check().is_ok());
            edit(&mut swml);
            let message = format!("{:#}", swml.check().unwrap_err());
            assert!(message.contains(name), "{name}: {message}");
        };
        refused(|s| s.fetch_timeout_secs = 0, "fetch_timeout_secs");
        refused(
            |s| s.fetch_connect_timeout_secs = 0,
            "fetch_connect_timeout_secs",
        );
        refused(|s| s.fetch_max_bytes = 0, "fetch_max_bytes");
        refused(|s| s.max_steps = 0, "max_steps");
        refused(|s| s.max_execute_depth = 0, "max_execute_depth");
        refused(|s| s.tts_timeout_secs = 0, "tts_timeout_secs");
        refused(|s| s.tts_command = "say 'oops".into(), "tts_command");
    }

    #[test]
    fn loading_refuses_a_file_with_bad_swml_settings() {
        let dir = std::env::temp_dir().join(format!("weft-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("weft.toml");
        std::fs::write(&path, "[swml]\nmax_execute_depth = 0\n").unwrap();
        let loaded = Config::load(Some(&path), Some(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
        let message = format!("{:#}", loaded.unwrap_err());
        assert!(message.contains("max_execute_depth"), "{message}");
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
