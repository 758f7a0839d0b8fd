//! Runs the signaling shell on a loopback port with an in-memory directory and a media stub, for
//! checking the protocol with a real client: `cargo run -p weft-signaling --example
//! loopback_relay -- 127.0.0.1:8099`. Every token is accepted; its last `.`-separated segment
//! names the subscriber. `/public/<name>` is a subscriber for `alice`/`bob`, else a video room.
//! The media stub answers with a fixed SDP, so no media flows.

use std::sync::Arc;

use weft_signaling::address::Address;
use weft_signaling::directory::{Directory, DirectoryError, Identity, Subject, Target, TargetKind};
use weft_signaling::media::{Media, MediaFailure, MediaKind};
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

struct NoMedia;

const SDP: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

impl Media for NoMedia {
    async fn add_member(&self, _: &str, _: &str, _: &str) -> Result<String, MediaFailure> {
        Ok(SDP.into())
    }
    async fn offer_member(
        &self,
        _: &str,
        _: &str,
        _: bool,
        _: bool,
    ) -> Result<String, MediaFailure> {
        Ok(SDP.into())
    }
    async fn accept_answer(&self, _: &str, _: &str) -> Result<(), MediaFailure> {
        Ok(())
    }
    async fn renegotiate(&self, _: &str, _: &str) -> Result<String, MediaFailure> {
        Ok(SDP.into())
    }
    async fn set_muted(&self, _: &str, _: MediaKind, _: bool) -> Result<(), MediaFailure> {
        Ok(())
    }
    async fn set_deaf(&self, _: &str, _: bool) -> Result<(), MediaFailure> {
        Ok(())
    }
    async fn remove_member(&self, _: &str) -> Result<(), MediaFailure> {
        Ok(())
    }
    async fn close_room(&self, _: &str) -> Result<(), MediaFailure> {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".into());
    let signaling = Signaling::start(
        SignalingConfig::default(),
        Arc::new(AnyToken),
        Arc::new(NoMedia),
    );
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("signaling on ws://{}", listener.local_addr()?);
    axum::serve(listener, router(signaling)).await
}
