//! A minimal HTTP/1.1 client over hyper (one connection per request, plain HTTP on loopback):
//! the REST calls and the `/metrics` scrapes.

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A parsed `http://host:port/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `host:port`.
    pub authority: String,
    /// The path (with query), at least `/`.
    pub path: String,
}

impl HttpUrl {
    /// Parses a plain `http://` URL (the port defaults to 80).
    pub fn parse(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("{url}: only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            bail!("{url}: no host");
        }
        let authority = if authority.contains(':') {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Ok(Self {
            authority,
            path: path.to_owned(),
        })
    }

    /// The same server with another path.
    pub fn with_path(&self, path: &str) -> Self {
        Self {
            authority: self.authority.clone(),
            path: path.to_owned(),
        }
    }
}

/// Sends one request; returns the status and body.
pub async fn request(
    method: &str,
    url: &HttpUrl,
    authorization: Option<&str>,
    json: Option<&serde_json::Value>,
) -> Result<(u16, Bytes)> {
    let stream = TcpStream::connect(&url.authority)
        .await
        .with_context(|| format!("connecting to {}", url.authority))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut builder = Request::builder()
        .method(method)
        .uri(&url.path)
        .header(HOST, &url.authority);
    if let Some(auth) = authorization {
        builder = builder.header(AUTHORIZATION, auth);
    }
    let body = match json {
        Some(v) => {
            builder = builder.header(CONTENT_TYPE, "application/json");
            Bytes::from(v.to_string())
        }
        None => Bytes::new(),
    };
    let response = sender.send_request(builder.body(Full::new(body))?).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_urls() {
        let u = HttpUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (u.authority.as_str(), u.path.as_str()),
            ("127.0.0.1:8080", "/")
        );
        let u = HttpUrl::parse("http://localhost/metrics?x=1").unwrap();
        assert_eq!(
            (u.authority.as_str(), u.path.as_str()),
            ("localhost:80", "/metrics?x=1")
        );
        assert_eq!(u.with_path("/a").path, "/a");
        assert!(HttpUrl::parse("https://x").is_err());
        assert!(HttpUrl::parse("http:///x").is_err());
    }
}
