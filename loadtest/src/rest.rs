//! The REST calls a load test makes with the project's credentials (HTTP Basic
//! `project_id:api_token`): video rooms and subscriber tokens.

use anyhow::{Context, Result, bail};
use base64::Engine;
use serde_json::{Value, json};

use crate::http::{HttpUrl, request};

/// A REST client for one project.
#[derive(Debug, Clone)]
pub struct Rest {
    base: HttpUrl,
    authorization: String,
}

impl Rest {
    /// A client for the server at `base` (plain HTTP listener).
    pub fn new(base: HttpUrl, project_id: &str, api_token: &str) -> Self {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{project_id}:{api_token}"));
        Self {
            base,
            authorization: format!("Basic {basic}"),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let url = self.base.with_path(path);
        let (status, bytes) =
            request(method, &url, Some(&self.authorization), body.as_ref()).await?;
        if !(200..300).contains(&status) {
            bail!(
                "{method} {path}: HTTP {status} {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        serde_json::from_slice(&bytes).with_context(|| format!("{method} {path}: not JSON"))
    }

    /// Creates a video room (`conference_rooms`, type `video_room`); returns its video address,
    /// `/public/<name>?channel=video`.
    pub async fn create_room(&self, name: &str) -> Result<String> {
        let room = self
            .call(
                "POST",
                "/api/fabric/resources/conference_rooms",
                Some(json!({"name": name, "display_name": name})),
            )
            .await?;
        let id = room["id"].as_str().context("room without an id")?;
        let addresses = self
            .call(
                "GET",
                &format!("/api/fabric/resources/conference_rooms/{id}/addresses"),
                None,
            )
            .await?;
        let video = addresses["data"][0]["channels"]["video"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("/public/{name}?channel=video"));
        Ok(video)
    }

    /// A subscriber access token for `reference` (the subscriber is created if new).
    pub async fn subscriber_token(&self, reference: &str) -> Result<String> {
        let body = self
            .call(
                "POST",
                "/api/fabric/subscribers/tokens",
                Some(json!({"reference": reference})),
            )
            .await?;
        body["token"]
            .as_str()
            .map(str::to_owned)
            .context("token response without a token")
    }
}
