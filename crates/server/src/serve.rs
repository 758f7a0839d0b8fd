//! `weft serve`: open storage, bootstrap, and run the listeners until a signal arrives.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use weft_api::{ApiConfig, ApiState};
use weft_auth::TokenIssuer;
use weft_calls::Calls;
use weft_media::MediaEngine;
use weft_metrics::Metrics;
use weft_signaling::Signaling;
use weft_store::Store;

use axum::Router;
use axum::extract::Request;
use axum::http::header;
use tower::ServiceExt;

use crate::directory::StoreDirectory;

use crate::config::Config;
use crate::{bootstrap, listeners, tls};

/// How often expired refresh tokens and revocations are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// The relay host put in token headers: `relay.<domain>`, with the port unless it is 443.
pub fn relay_host(domain: &str, port: u16) -> String {
    if port == 443 {
        format!("relay.{domain}")
    } else {
        format!("relay.{domain}:{port}")
    }
}

/// Runs the server until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data dir {}", config.data_dir.display()))?;
    let url = config.database_url();
    let backend = url.split(':').next().unwrap_or_default().to_owned();
    let store = Store::connect(&url)
        .await
        .with_context(|| format!("opening the {backend} database"))?;
    tracing::info!(backend, "database ready, migrations applied");

    if let Some(credentials) = bootstrap::first_project(&store, &config).await? {
        println!(
            "Weft created its first project. Keep these credentials: the API token is not shown again.\n  \
             project id: {}\n  API token:  {}",
            credentials.project_id, credentials.api_token
        );
    }
    let key = bootstrap::signing_key(&store).await?;

    let http_listener = TcpListener::bind(config.http_listen)
        .await
        .with_context(|| format!("binding the HTTP listener {}", config.http_listen))?;
    let tls_listener = TcpListener::bind(config.tls_listen)
        .await
        .with_context(|| format!("binding the TLS listener {}", config.tls_listen))?;
    let http_addr = http_listener.local_addr()?;
    let tls_addr = tls_listener.local_addr()?;
    let public_port = config.tls.public_port.unwrap_or(tls_addr.port());
    let tls_config = tls::server_config(&config)?;

    let issuer = Arc::new(TokenIssuer::new(
        key,
        relay_host(&config.domain, public_port),
    ));
    let api = ApiState {
        store: store.clone(),
        issuer,
        config: Arc::new(ApiConfig {
            access_ttl_secs: config.tokens.access_ttl_secs,
            refresh_ttl_secs: config.tokens.refresh_ttl_secs,
            cors_origins: config.http.cors_origins.clone(),
            max_body_bytes: config.http.max_body_bytes,
            sip_realm: config.domain.clone(),
            public_url: config.oauth_config(public_port).issuer,
            recordings_dir: Some(config.data_dir.join("recordings")),
        }),
    };
    config.check_oauth_clients()?;
    let oauth = weft_api::oauth::OAuthState::new(api.clone(), config.oauth_config(public_port));
    let metrics = Metrics::new();
    let http_router = weft_api::router(api.clone())
        .merge(weft_api::oauth::router(oauth))
        .layer(axum::middleware::from_fn_with_state(
            metrics.clone(),
            crate::metrics::track_http,
        ));
    let metrics_listener = TcpListener::bind(config.metrics_listen)
        .await
        .with_context(|| format!("binding the metrics listener {}", config.metrics_listen))?;
    let metrics_addr = metrics_listener.local_addr()?;

    let media = MediaEngine::start(config.media.clone()).context("starting the media engine")?;
    let directory = Arc::new(StoreDirectory::new(store.clone(), api.issuer.clone()));
    let calls = Calls::start(
        config.signaling.controller_config(&config.media)?,
        directory.clone(),
        Arc::new(media.clone()),
        Arc::new(crate::metrics::CallMetrics(metrics.clone())),
    );
    tokio::spawn(weft_calls::engine::forward_events(&media, calls.clone()));
    crate::scripts::start(
        &config.swml,
        crate::scripts::Places {
            store: store.clone(),
            public_url: api.config.public_url.clone(),
            recordings_dir: api.config.recordings_dir.clone(),
        },
        calls.clone(),
        media.clone(),
        Arc::new(crate::metrics::ScriptMetrics::new(metrics.clone())),
    )?;
    let signaling = Signaling::start_observed(
        config.signaling.signaling_config()?,
        directory,
        calls.clone(),
        Arc::new(crate::metrics::SignalingMetrics(metrics.clone())),
    );
    let sip = if config.sip.enabled {
        let tls = match config.sip.tls_listen {
            Some(_) => Some(tls::cert_pem(&config)?),
            None => None,
        };
        let cfg =
            config
                .sip
                .sip_config(&config.domain, tls, config.bootstrap.project_id.as_deref())?;
        Some(crate::sip::start(cfg, store.clone(), calls.clone(), metrics.clone()).await?)
    } else {
        None
    };
    let sip_addrs: Vec<String> = sip
        .iter()
        .flat_map(|s| s.local_addrs())
        .map(|(t, a)| format!("{}:{a}", t.param()))
        .collect();
    let router = websocket_or_http(weft_signaling::router(signaling.clone()), http_router);

    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    {
        let (shutdown, signaling) = (shutdown.clone(), signaling.clone());
        tokio::spawn(async move {
            shutdown.cancelled().await;
            // Clients get `signalwire.disconnect` and will resume elsewhere or after a restart.
            signaling.shutdown();
            if let Some(sip) = sip {
                sip.shutdown();
            }
        });
    }
    tokio::spawn(purge_expired(store.clone(), shutdown.clone()));
    tokio::spawn(crate::memory::return_free_memory(shutdown.clone()));
    tokio::spawn(crate::metrics::publish_media(
        media.clone(),
        metrics.clone(),
        shutdown.clone(),
    ));

    tracing::info!(
        http = %http_addr,
        tls = %tls_addr,
        relay = %format!("relay.{}", config.domain),
        fabric = %format!("fabric.{}", config.domain),
        metrics = %metrics_addr,
        sip = %sip_addrs.join(","),
        "weft ready: listening http={http_addr} tls={tls_addr} metrics={metrics_addr} sip={}",
        sip_addrs.join(",")
    );
    tokio::spawn(listeners::serve_http(
        metrics_listener,
        crate::metrics::router(metrics),
        shutdown.clone(),
    ));
    let http = tokio::spawn(listeners::serve_http(
        http_listener,
        router.clone(),
        shutdown.clone(),
    ));
    listeners::serve_tls(tls_listener, tls_config, router, shutdown.clone()).await;
    http.await
        .context("HTTP listener task")?
        .context("HTTP listener")?;
    store.close().await;
    tracing::info!("weft stopped");
    Ok(())
}

/// Sends WebSocket upgrades (the SDK's `wss://relay.<domain>/`) to signaling and every other
/// request to the REST and OAuth routes, whatever the host name.
fn websocket_or_http(signaling: Router, http: Router) -> Router {
    Router::new().fallback_service(tower::service_fn(move |request: Request| {
        let is_websocket = request
            .headers()
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        let target = if is_websocket {
            signaling.clone()
        } else {
            http.clone()
        };
        target.oneshot(request)
    }))
}

/// Cancels `shutdown` on SIGTERM or SIGINT.
async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot watch SIGTERM");
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}

async fn purge_expired(store: Store, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PURGE_INTERVAL) => {}
        }
        match store.purge_expired_tokens().await {
            Ok(n) if n > 0 => tracing::debug!(rows = n, "purged expired tokens"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging expired tokens failed"),
        }
    }
}
