//! The fetcher against real HTTP servers on loopback.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{any, get};
use base64::Engine as _;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use weft_fetch::{AddressClass, FetchConfig, FetchError, Fetcher, Method, Request, TimeoutKind};

/// A generous cap for anything that should take a few hundred milliseconds.
const CAP: Duration = Duration::from_secs(5);

fn fetcher(allow: &str) -> Fetcher {
    let config = FetchConfig {
        allow: FetchConfig::parse_allow(allow).expect("allow rules"),
        ..FetchConfig::default()
    };
    Fetcher::new(config).expect("fetcher")
}

/// Serves the test routes on `ip`, port chosen by the system; counts the requests it answers.
async fn serve(ip: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route("/hello", get(|| async { ([("x-test", "yes")], "hello") }))
        .route("/echo", any(echo))
        .route("/auth", get(authorization))
        .route("/redirect", get(redirect))
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "no") }))
        .route("/big", get(big))
        .route("/chunked", get(chunked))
        .route("/endless", get(endless))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&hits),
            count,
        ));
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (address, hits)
}

async fn count(
    State(hits): State<Arc<AtomicUsize>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    hits.fetch_add(1, Ordering::SeqCst);
    next.run(request).await
}

async fn echo(method: axum::http::Method, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    (
        [
            ("x-echo-method", method.to_string()),
            ("x-echo-custom", get("x-custom")),
            ("x-echo-content-type", get("content-type")),
            ("x-echo-user-agent", get("user-agent")),
        ],
        body,
    )
}

async fn authorization(headers: HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("none")
        .to_owned()
}

async fn redirect(Query(query): Query<HashMap<String, String>>) -> Redirect {
    Redirect::to(query.get("to").map_or("/hello", String::as_str))
}

async fn big(Query(query): Query<HashMap<String, String>>) -> Vec<u8> {
    let size = query.get("size").and_then(|s| s.parse().ok()).unwrap_or(0);
    vec![7u8; size]
}

/// Three 1000-byte chunks, no Content-Length.
async fn chunked() -> Body {
    let chunks = (0..3).map(|_| Ok::<_, Infallible>(Bytes::from(vec![1u8; 1000])));
    Body::from_stream(futures_util::stream::iter(chunks))
}

/// A body that never ends, no Content-Length.
async fn endless() -> Body {
    let chunk = Bytes::from(vec![2u8; 8192]);
    Body::from_stream(futures_util::stream::repeat_with(move || {
        Ok::<_, Infallible>(chunk.clone())
    }))
}

/// A server that accepts connections, optionally writes `prefix`, and then never says more;
/// it holds each connection until the client closes it.
async fn silent_server(prefix: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(prefix).await;
                while matches!(socket.read(&mut request).await, Ok(n) if n > 0) {}
            });
        }
    });
    address
}

fn refused(result: Result<weft_fetch::Response, FetchError>) -> weft_fetch::Refusal {
    match result {
        Err(FetchError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn get_and_post_to_an_allowed_loopback_server() {
    let (address, _) = serve("127.0.0.1").await;
    let fetcher = fetcher("127.0.0.1/32");

    let url = format!("http://{address}/hello");
    let response = fetcher.fetch(Request::get(&url)).await.expect("GET");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "hello");
    assert_eq!(response.header("X-Test"), Some("yes"));
    assert!(response.headers.iter().any(|(name, _)| name == "x-test"));
    assert_eq!(response.final_url, url);

    let request = Request {
        headers: vec![
            ("Content-Type".into(), "text/plain".into()),
            ("X-Custom".into(), "abc".into()),
        ],
        body: Some(Bytes::from_static(b"payload")),
        ..Request::new(Method::Post, format!("http://{address}/echo"))
    };
    let response = fetcher.fetch(request).await.expect("POST");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "payload");
    assert_eq!(response.header("x-echo-method"), Some("POST"));
    assert_eq!(response.header("x-echo-custom"), Some("abc"));
    assert_eq!(response.header("x-echo-content-type"), Some("text/plain"));
    let user_agent = response.header("x-echo-user-agent").unwrap_or_default();
    assert_eq!(user_agent, concat!("weft/", env!("CARGO_PKG_VERSION")));

    let missing = fetcher
        .fetch(Request::get(format!("http://{address}/missing")))
        .await
        .expect("a 404 is a response");
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn put_and_delete_with_a_per_request_connect_timeout() {
    let (address, _) = serve("127.0.0.1").await;
    let fetcher = fetcher("127.0.0.1");
    for method in [Method::Put, Method::Delete] {
        let request = Request {
            connect_timeout: Some(Duration::from_secs(2)),
            ..Request::new(method, format!("http://{address}/echo"))
        };
        let response = fetcher.fetch(request).await.expect("fetch");
        assert_eq!(response.header("x-echo-method"), Some(method.as_str()));
    }
}

#[tokio::test]
async fn loopback_is_refused_by_default() {
    let (address, hits) = serve("127.0.0.1").await;
    let result = fetcher("")
        .fetch(Request::get(format!("http://{address}/hello")))
        .await;
    let refusal = refused(result);
    assert_eq!(
        refusal.to_string(),
        "refused: 127.0.0.1 is a loopback address (allow it with [swml] fetch_allow)"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused() {
    let (address, hits) = serve("127.0.0.1").await;
    let result = fetcher("10.0.0.0/8")
        .fetch(Request::get(format!(
            "http://localhost:{}/hello",
            address.port()
        )))
        .await;
    let refusal = refused(result);
    assert_eq!(refusal.host, "localhost");
    assert_eq!(refusal.class, AddressClass::Loopback);
    assert!(
        refusal
            .to_string()
            .starts_with("refused: localhost resolves to "),
        "{refusal}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    let allowed_by_name = fetcher("localhost")
        .fetch(Request::get(format!(
            "http://localhost:{}/hello",
            address.port()
        )))
        .await
        .expect("a host rule allows the name");
    assert_eq!(allowed_by_name.body, "hello");
}

#[tokio::test]
async fn other_spellings_of_loopback_are_refused() {
    let (address, hits) = serve("127.0.0.1").await;
    let port = address.port();
    let fetcher = fetcher("");
    for url in [
        format!("http://[::ffff:127.0.0.1]:{port}/hello"),
        format!("http://2130706433:{port}/hello"),
        format!("http://127.1:{port}/hello"),
        format!("http://[::1]:{port}/hello"),
    ] {
        let refusal = refused(fetcher.fetch(Request::get(&url)).await);
        assert_eq!(refusal.class, AddressClass::Loopback, "{url}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn redirects_to_refused_destinations_are_refused() {
    let (allowed, _) = serve("127.0.0.2").await;
    let (target, target_hits) = serve("127.0.0.1").await;
    let fetcher = fetcher("127.0.0.2/32");

    let to_literal = format!("http://{allowed}/redirect?to=http://{target}/hello");
    let refusal = refused(fetcher.fetch(Request::get(&to_literal)).await);
    assert_eq!(refusal.address, "127.0.0.1".parse::<IpAddr>().expect("ip"));
    assert_eq!(refusal.class, AddressClass::Loopback);

    let to_name = format!(
        "http://{allowed}/redirect?to=http://localhost:{}/hello",
        target.port()
    );
    let refusal = refused(fetcher.fetch(Request::get(&to_name)).await);
    assert_eq!(refusal.host, "localhost");
    assert_eq!(target_hits.load(Ordering::SeqCst), 0);

    let both = self::fetcher("127.0.0.2/32,127.0.0.1/32");
    let response = both
        .fetch(Request::get(&to_literal))
        .await
        .expect("followed");
    assert_eq!(response.body, "hello");
    assert_eq!(response.final_url, format!("http://{target}/hello"));
    assert_eq!(target_hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn redirects_are_limited() {
    let (address, _) = serve("127.0.0.1").await;
    let fetcher = Fetcher::new(FetchConfig {
        allow: FetchConfig::parse_allow("127.0.0.1/32").expect("rules"),
        max_redirects: 3,
        ..FetchConfig::default()
    })
    .expect("fetcher");
    let result = fetcher
        .fetch(Request::get(format!("http://{address}/loop")))
        .await;
    assert_eq!(result, Err(FetchError::TooManyRedirects { max: 3 }));
}

#[tokio::test]
async fn url_credentials_become_basic_auth() {
    let (address, _) = serve("127.0.0.1").await;
    let url = format!("http://al%40ice:s3cr%3At@{address}/auth");
    let response = fetcher("127.0.0.1/32")
        .fetch(Request::get(url))
        .await
        .expect("fetch");
    let expected = base64::engine::general_purpose::STANDARD.encode("al@ice:s3cr:t");
    assert_eq!(response.body, format!("Basic {expected}"));
    assert_eq!(response.final_url, format!("http://{address}/auth"));
}

#[tokio::test]
async fn bodies_over_the_cap_are_too_large() {
    let (address, _) = serve("127.0.0.1").await;
    let fetcher = fetcher("127.0.0.1/32");
    let capped = |url: String, cap: usize| Request {
        max_body_bytes: Some(cap),
        ..Request::get(url)
    };

    let big = format!("http://{address}/big?size=2000");
    let exact = fetcher
        .fetch(capped(big.clone(), 2000))
        .await
        .expect("at the cap");
    assert_eq!(exact.body.len(), 2000);
    assert_eq!(exact.header("content-length"), Some("2000"));
    let result = fetcher.fetch(capped(big, 1999)).await;
    assert_eq!(result, Err(FetchError::TooLarge { limit: 1999 }));

    let chunked = format!("http://{address}/chunked");
    let whole = fetcher
        .fetch(capped(chunked.clone(), 3000))
        .await
        .expect("at the cap");
    assert_eq!(whole.body.len(), 3000);
    assert_eq!(whole.header("content-length"), None);
    assert_eq!(whole.header("transfer-encoding"), Some("chunked"));
    let result = fetcher.fetch(capped(chunked, 2500)).await;
    assert_eq!(result, Err(FetchError::TooLarge { limit: 2500 }));

    let endless = format!("http://{address}/endless");
    let result = fetcher.fetch(capped(endless, 64 * 1024)).await;
    assert_eq!(result, Err(FetchError::TooLarge { limit: 64 * 1024 }));
}

#[tokio::test]
async fn a_request_cannot_raise_the_configured_cap() {
    let (address, _) = serve("127.0.0.1").await;
    let fetcher = Fetcher::new(FetchConfig {
        allow: FetchConfig::parse_allow("127.0.0.1/32").expect("rules"),
        max_body_bytes: 1000,
        ..FetchConfig::default()
    })
    .expect("fetcher");
    let request = Request {
        max_body_bytes: Some(1_000_000),
        ..Request::get(format!("http://{address}/big?size=1001"))
    };
    assert_eq!(
        fetcher.fetch(request).await,
        Err(FetchError::TooLarge { limit: 1000 })
    );
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let fetcher = fetcher("127.0.0.1/32");
    let limit = Duration::from_millis(300);
    for prefix in [
        &b""[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly the start",
    ] {
        let address = silent_server(prefix).await;
        let request = Request {
            timeout: Some(limit),
            ..Request::get(format!("http://{address}/"))
        };
        let started = Instant::now();
        let result = fetcher.fetch(request).await;
        let elapsed = started.elapsed();
        assert_eq!(
            result,
            Err(FetchError::Timeout {
                kind: TimeoutKind::Total,
                after: limit
            })
        );
        assert!(elapsed >= limit, "{elapsed:?}");
        assert!(elapsed < CAP, "{elapsed:?}");
    }
}

#[tokio::test]
async fn other_schemes_and_bad_urls_are_refused() {
    let fetcher = fetcher("127.0.0.1/32");
    for (url, scheme) in [
        ("ftp://127.0.0.1/file", "ftp"),
        ("file:///etc/passwd", "file"),
        ("gopher://127.0.0.1:70/", "gopher"),
    ] {
        assert_eq!(
            fetcher.fetch(Request::get(url)).await,
            Err(FetchError::UnsupportedScheme(scheme.into()))
        );
    }
    assert!(matches!(
        fetcher.fetch(Request::get("not a url")).await,
        Err(FetchError::InvalidUrl(_))
    ));
    assert!(matches!(
        fetcher
            .fetch(Request {
                headers: vec![("bad name".into(), "v".into())],
                ..Request::get("http://127.0.0.1:9/")
            })
            .await,
        Err(FetchError::InvalidHeader(_))
    ));
}

/// A listener whose accept queue is full, so that a new connection attempt gets no answer:
/// its backlog is 0 and it never accepts; connections are made until one does not complete.
fn full_listener() -> (socket2::Socket, SocketAddr, Vec<std::net::TcpStream>) {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let any_port: SocketAddr = "127.0.0.1:0".parse().expect("address");
    socket.bind(&any_port.into()).expect("bind");
    socket.listen(0).expect("listen");
    let address = socket
        .local_addr()
        .ok()
        .and_then(|address| address.as_socket())
        .expect("address");
    let mut queued = Vec::new();
    for _ in 0..64 {
        match std::net::TcpStream::connect_timeout(&address, Duration::from_millis(500)) {
            Ok(stream) => queued.push(stream),
            Err(_) => return (socket, address, queued),
        }
    }
    panic!("the accept queue never filled");
}

#[tokio::test]
async fn a_connect_that_gets_no_answer_times_out() {
    let (_listener, address, _queued) = full_listener();
    let limit = Duration::from_millis(300);
    let request = Request {
        connect_timeout: Some(limit),
        ..Request::get(format!("http://{address}/"))
    };
    let started = Instant::now();
    let result = fetcher("127.0.0.1/32").fetch(request).await;
    assert_eq!(
        result,
        Err(FetchError::Timeout {
            kind: TimeoutKind::Connect,
            after: limit
        })
    );
    assert!(started.elapsed() < CAP);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error_without_secrets() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    let url = format!("http://user:hunter2@{closed}/path-secret?token=query-secret");
    let error = fetcher("127.0.0.1/32")
        .fetch(Request::get(url))
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, FetchError::Connect(_)), "{error:?}");
    let message = error.to_string();
    for secret in ["hunter2", "path-secret", "query-secret"] {
        assert!(!message.contains(secret), "{message}");
    }
}
