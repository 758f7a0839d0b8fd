//! Runs the signaling shell and the `weft-media` engine on loopback with an in-memory directory,
//! for checking the protocol and media with real clients (the browser SDK):
//! `cargo run -p weft-signaling --example loopback_relay -- 127.0.0.1:8099`.
//! Every token is accepted; its last `.`-separated segment names the subscriber.
//! `/public/<name>` is a subscriber for `alice`/`bob`, else a video room.

use std::sync::Arc;

use weft_calls::directory::{Resolver, Target, TargetKind};
use weft_calls::engine::forward_events;
use weft_calls::{Calls, ControllerConfig};
use weft_core::Address;
use weft_media::{MediaConfig, MediaEngine};
use weft_signaling::directory::{Directory, DirectoryError, Identity, Subject};
use weft_signaling::{Signaling, SignalingConfig, router};

struct AnyToken;

impl Directory for AnyToken {
    async fn verify_token(&self, token: &str) -> Result<Identity, DirectoryError> {
        let who = token.rsplit('.').next().unwrap_or(token).to_owned();
        Ok(Identity {
            project_id: "project".into(),
            subject: Subject::Subscriber {
                subscriber_id: who.clone(),
            },
            jti: format!("jti{}", who.len()),
            expires_at: 4_000_000_000,
            scopes: vec![],
            display_name: who,
            application_id: None,
        })
    }
}

impl Resolver for AnyToken {
    async fn resolve_address(
        &self,
        _project: &str,
        address: &Address,
    ) -> Result<Option<Target>, DirectoryError> {
        let kind = match address.name.as_str() {
            "alice" | "bob" => TargetKind::Subscriber,
            _ => TargetKind::VideoRoom,
        };
        Ok(Some(Target {
            kind,
            resource_id: address.name.clone(),
            address_id: address.name.clone(),
            name: address.name.clone(),
            display_name: address.name.clone(),
        }))
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".into());
    let engine = MediaEngine::start(MediaConfig::loopback(1)).map_err(std::io::Error::other)?;
    let calls = Calls::start(
        ControllerConfig::default(),
        Arc::new(AnyToken),
        Arc::new(engine.clone()),
        Arc::new(()),
    );
    let signaling = Signaling::start(
        SignalingConfig::default(),
        Arc::new(AnyToken),
        calls.clone(),
    );
    tokio::spawn(forward_events(&engine, calls));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!(
        "signaling on ws://{}, media on {:?}",
        listener.local_addr()?,
        engine.local_addrs()
    );
    axum::serve(listener, router(signaling)).await
}
