//! OAuth 2.0 authorization code + PKCE and OpenID Connect for subscriber login.
//!
//! A web page (e.g. with `oidc-client-ts`) sends the subscriber to `GET /login/oauth/authorize`,
//! where Weft shows its own login form; the form's `POST` checks the subscriber's email and
//! password and redirects back with a single-use code, which `POST /oauth/token` exchanges for
//! the same access token (SAT) and rotating refresh token the REST API issues, plus an `id_token`.
//! Discovery, JWKS, userinfo and sign-out complete the OIDC surface; clients come from the
//! configuration file, `/api/weft/oauth_clients` and `weft admin oauth-client`.

mod authorize;
pub mod clients;
mod clients_api;
mod code;
mod csrf;
mod discovery;
mod id_token;
mod limiter;
mod logout;
mod page;
mod params;
mod pkce;
mod request;
mod token;
mod userinfo;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Method, header};
use axum::routing::{get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use clients::{OAuthClient, Registry, create_client};
pub use limiter::Limits;

use crate::ApiState;

/// The largest OAuth request body, in bytes.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// OAuth settings.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The issuer URL, e.g. `https://fabric.weft.localhost:8443`; endpoints hang off it.
    pub issuer: String,
    /// Authorization-code lifetime in seconds (at most 60).
    pub code_ttl_secs: i64,
    /// `id_token` lifetime in seconds.
    pub id_token_ttl_secs: i64,
    /// Clients from the configuration file.
    pub clients: Vec<OAuthClient>,
    /// Failed-login limits.
    pub limits: Limits,
}

impl OAuthConfig {
    /// Defaults for an issuer.
    pub fn new(issuer: String) -> Self {
        OAuthConfig {
            issuer: issuer.trim_end_matches('/').to_owned(),
            code_ttl_secs: 60,
            id_token_ttl_secs: 3600,
            clients: Vec::new(),
            limits: Limits::default(),
        }
    }

    /// An absolute endpoint URL under the issuer.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// Shared state of the OAuth handlers.
#[derive(Clone)]
pub struct OAuthState {
    pub api: ApiState,
    pub config: Arc<OAuthConfig>,
    pub registry: Registry,
    limiter: Arc<Mutex<limiter::FailureLimiter>>,
    csrf: Arc<csrf::CsrfKey>,
    started: Instant,
}

impl OAuthState {
    pub fn new(api: ApiState, config: OAuthConfig) -> Self {
        let registry = Registry::new(config.clients.clone(), api.store.clone());
        OAuthState {
            limiter: Arc::new(Mutex::new(limiter::FailureLimiter::new(config.limits))),
            api,
            registry,
            config: Arc::new(config),
            csrf: Arc::new(csrf::CsrfKey::default()),
            started: Instant::now(),
        }
    }

    /// Seconds on a monotonic clock (for the failure limiter).
    fn monotonic_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, limiter::FailureLimiter> {
        self.limiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The OAuth/OIDC routes, to be merged into the server's router.
pub fn router(state: OAuthState) -> Router {
    let cors = cors_layer(state.registry.clone());
    let browser = Router::new()
        .route("/oauth/token", post(token::token))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::configuration),
        )
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route(
            "/oauth/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .layer(cors);
    Router::new()
        .route(
            "/login/oauth/authorize",
            get(authorize::show).post(authorize::submit),
        )
        .route("/oauth/logout", get(logout::logout))
        .merge(browser)
        .merge(clients_api::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// CORS for the browser-facing endpoints: only origins some client registered.
fn cors_layer(registry: Registry) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::async_predicate(move |origin, _parts| {
            let registry = registry.clone();
            async move {
                match origin.to_str() {
                    Ok(origin) => registry.origin_allowed(origin).await,
                    Err(_) => false,
                }
            }
        }))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("dpop"),
        ])
        .max_age(Duration::from_secs(600))
}
