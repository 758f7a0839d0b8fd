//! The server side of the WebSocket opening handshake (RFC 6455 §4.2) over HTTP/1.1: checks the
//! request, answers `101 Switching Protocols` and hands the upgraded connection over as a
//! tokio-tungstenite stream. Taking the upgrade here rather than through axum's
//! `WebSocketUpgrade` gives the shell tungstenite's raw frames (`Message::Frame`), which it needs
//! to fragment long messages.
//!
//! WebSocket over HTTP/2 (RFC 8441) is not served: it needs extended CONNECT, which weft's
//! listeners do not announce, so browsers open an HTTP/1.1 connection for the socket.

use std::future::Future;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{
    CONNECTION, HeaderName, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// A server WebSocket over an upgraded HTTP/1.1 connection.
pub(super) type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Why a request is not a WebSocket opening handshake: the status and text it is answered with
/// (for HTTP/1.x, those of axum's `WebSocketUpgrade`).
type Refusal = (StatusCode, &'static str);

/// Answers a WebSocket opening handshake with `101 Switching Protocols` and, once hyper has
/// upgraded the connection, runs `serve` with the socket (configured by `config`) on a task of
/// its own. Any other request is answered with a 4xx status and nothing is run. No subprotocol
/// is selected.
pub(super) fn accept<F, Fut>(mut request: Request, config: WebSocketConfig, serve: F) -> Response
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let key = match check(&request) {
        Ok(key) => key.clone(),
        Err(refusal) => return refusal.into_response(),
    };
    // hyper leaves no upgrade handle on a request it cannot upgrade (HTTP/1.0).
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        let refusal = (
            StatusCode::UPGRADE_REQUIRED,
            "WebSocket request couldn't be upgraded since no upgrade state was present",
        );
        return refusal.into_response();
    };
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(error = %e, "WebSocket upgrade failed");
                return;
            }
        };
        let io = TokioIo::new(upgraded);
        serve(WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await).await;
    });
    switching_protocols(&key)
}

/// The client's `Sec-WebSocket-Key`, if `request` is a valid opening handshake (checked in the
/// order axum checks).
fn check(request: &Request) -> Result<&HeaderValue, Refusal> {
    if request.version() > Version::HTTP_11 {
        return Err((
            StatusCode::BAD_REQUEST,
            "WebSocket is served over HTTP/1.1 only",
        ));
    }
    if request.method() != Method::GET {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            "Request method must be `GET`",
        ));
    }
    let headers = request.headers();
    if !has_token(headers, &CONNECTION, "upgrade") {
        return Err((
            StatusCode::BAD_REQUEST,
            "Connection header did not include 'upgrade'",
        ));
    }
    if !has_token(headers, &UPGRADE, "websocket") {
        return Err((
            StatusCode::BAD_REQUEST,
            "`Upgrade` header did not include 'websocket'",
        ));
    }
    let key = headers.get(SEC_WEBSOCKET_KEY).ok_or((
        StatusCode::BAD_REQUEST,
        "`Sec-WebSocket-Key` header missing",
    ))?;
    if headers
        .get(SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err((
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Version` header did not include '13'",
        ));
    }
    Ok(key)
}

/// Whether a comma-separated `name` header lists `token` (case-insensitively).
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// The `101` answer accepting the handshake of `key`.
fn switching_protocols(key: &HeaderValue) -> Response {
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(CONNECTION, "upgrade")
        .header(UPGRADE, "websocket")
        .header(SEC_WEBSOCKET_ACCEPT, derive_accept_key(key.as_bytes()))
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake() -> axum::http::request::Builder {
        Request::builder()
            .uri("/")
            .header(CONNECTION, "keep-alive, Upgrade")
            .header(UPGRADE, "websocket")
            .header(SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .header(SEC_WEBSOCKET_VERSION, "13")
    }

    fn refusal(request: axum::http::request::Builder) -> StatusCode {
        match check(&request.body(Body::empty()).unwrap()) {
            Ok(_) => panic!("accepted"),
            Err((status, _)) => status,
        }
    }

    #[test]
    fn accepts_an_opening_handshake() {
        let request = handshake().body(Body::empty()).unwrap();
        assert_eq!(
            check(&request),
            Ok(&HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="))
        );
        let mut lone_token = handshake();
        lone_token
            .headers_mut()
            .unwrap()
            .insert(CONNECTION, HeaderValue::from_static("upgrade"));
        assert!(check(&lone_token.body(Body::empty()).unwrap()).is_ok());
    }

    #[test]
    fn refuses_what_is_not_an_http11_opening_handshake() {
        assert_eq!(
            refusal(handshake().method(Method::POST)),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            refusal(handshake().version(Version::HTTP_2)),
            StatusCode::BAD_REQUEST
        );
        let mut no_connection = handshake();
        no_connection.headers_mut().unwrap().remove(CONNECTION);
        assert_eq!(refusal(no_connection), StatusCode::BAD_REQUEST);
        let mut other_connection = handshake();
        other_connection
            .headers_mut()
            .unwrap()
            .insert(CONNECTION, HeaderValue::from_static("keep-alive, upgraded"));
        assert_eq!(refusal(other_connection), StatusCode::BAD_REQUEST);
        let mut other_upgrade = handshake();
        other_upgrade
            .headers_mut()
            .unwrap()
            .insert(UPGRADE, HeaderValue::from_static("h2c"));
        assert_eq!(refusal(other_upgrade), StatusCode::BAD_REQUEST);
        let mut no_key = handshake();
        no_key.headers_mut().unwrap().remove(SEC_WEBSOCKET_KEY);
        assert_eq!(refusal(no_key), StatusCode::BAD_REQUEST);
        let mut old_version = handshake();
        old_version
            .headers_mut()
            .unwrap()
            .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("8"));
        assert_eq!(refusal(old_version), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn accept_key_is_the_rfc_6455_example() {
        let response = switching_protocols(&HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let headers = response.headers();
        assert_eq!(
            headers[SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(has_token(headers, &UPGRADE, "websocket"));
        assert!(has_token(headers, &CONNECTION, "upgrade"));
    }
}
