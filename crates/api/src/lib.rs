//! Weft's REST API, compatible with SignalWire's Fabric REST shapes.
//!
//! Project credentials (HTTP Basic `project_id:api_token`) manage resources and issue tokens;
//! subscriber access tokens (Bearer) read the subscriber's own info and the address book.

mod auth;
mod body;
mod error;
mod grants;
pub mod oauth;
mod paging;
mod routes;
mod schema;
mod sip_credentials;
mod views;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use error::ApiError;
pub use grants::{Grant, Grants, IssuedTokens};
pub use routes::resources::create_subscriber;

use weft_auth::TokenIssuer;
use weft_store::Store;

/// Settings the API needs.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Access-token lifetime in seconds (default two hours).
    pub access_ttl_secs: i64,
    /// Refresh-token lifetime in seconds (default two hours five minutes).
    pub refresh_ttl_secs: i64,
    /// Browser origins allowed by CORS; `*` allows any.
    pub cors_origins: Vec<String>,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The SIP digest realm (the server's domain): SIP endpoints' HA1 values are computed for it.
    pub sip_realm: String,
    /// The public origin of this API (`https://fabric.<domain>[:port]`, the OAuth issuer's), without
    /// a trailing `/`: absolute URLs in answers, such as a recording's `url`, start with it.
    pub public_url: String,
    /// The directory recording files live in (`<data dir>/recordings`); recordings' stored paths
    /// are relative to it. Without one, downloads answer 404 and deletes remove only the row.
    pub recordings_dir: Option<PathBuf>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            access_ttl_secs: 7200,
            refresh_ttl_secs: 7500,
            cors_origins: vec!["*".into()],
            max_body_bytes: 1024 * 1024,
            sip_realm: "weft.localhost".into(),
            public_url: "https://fabric.weft.localhost:8443".into(),
            recordings_dir: None,
        }
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub issuer: Arc<TokenIssuer>,
    pub config: Arc<ApiConfig>,
}

impl ApiState {
    /// Issues and refreshes tokens for this state's store and key.
    pub fn grants(&self) -> Grants {
        Grants::new(self.store.clone(), self.issuer.clone(), self.config.clone())
    }
}

/// The REST router: `/api/fabric/…`, `/api/relay/rest/recordings`, `/subscriber/devices`, `/healthz`,
/// `/readyz`.
pub fn router(state: ApiState) -> Router {
    let cors = cors_layer(&state.config.cors_origins);
    let limit = state.config.max_body_bytes;
    routes::routes()
        .fallback(error::not_found)
        .layer(axum::middleware::map_response(error::json_for_bare_errors))
        .layer(axum::middleware::from_fn(error::refuse_nul_in_path))
        .layer(axum::middleware::from_fn(move |req, next| {
            error::buffer_body(limit, req, next)
        }))
        .layer(DefaultBodyLimit::max(limit))
        .layer(cors)
        .with_state(state)
}

/// CORS for browser callers: the SDK sends `Authorization` (and `Content-Type` on POST), no cookies.
pub fn cors_layer(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::mirror_request()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        )
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("dpop"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}
