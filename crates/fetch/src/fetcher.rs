//! The fetcher: one HTTP client behind the guard, with the timeouts and the size cap applied to
//! every fetch.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Url, redirect};
use tracing::Instrument as _;

use crate::config::FetchConfig;
use crate::credentials;
use crate::error::{FetchError, TimeoutKind};
use crate::guard::Guard;
use crate::message::{Method, Request, Response};
use crate::resolver::GuardedResolver;
use crate::tls;

/// Fetches http(s) URLs for call flows, refusing destinations the guard does not allow and
/// enforcing the timeouts and the body cap. Cheap to share behind an `Arc`; connections to a
/// host are reused between fetches.
pub struct Fetcher {
    config: FetchConfig,
    guard: Arc<Guard>,
    tls: rustls::ClientConfig,
    client: reqwest::Client,
}

impl Fetcher {
    /// A fetcher with `config`. Fails only if the HTTP client cannot be set up.
    pub fn new(config: FetchConfig) -> Result<Fetcher, FetchError> {
        let guard = Arc::new(Guard::new(config.allow.clone()));
        let tls = tls::client_config()?;
        let client = build_client(&config, &guard, tls.clone(), config.connect_timeout)?;
        Ok(Fetcher {
            config,
            guard,
            tls,
            client,
        })
    }

    /// The configuration this fetcher was built with.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Fetches `request`, following redirects, and reads the whole body. Statuses other than
    /// 2xx are responses, not errors. The tracing span names the method and host only.
    pub async fn fetch(&self, request: Request) -> Result<Response, FetchError> {
        let mut url =
            Url::parse(&request.url).map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
        let basic_auth = credentials::take_basic_auth(&mut url);
        let span = tracing::debug_span!(
            "fetch",
            method = request.method.as_str(),
            host = url.host_str().unwrap_or_default(),
        );
        async {
            let started = Instant::now();
            let result = self.fetch_url(url, basic_auth, request).await;
            let elapsed_ms = started.elapsed().as_millis();
            match &result {
                Ok(response) => tracing::debug!(
                    status = response.status,
                    bytes = response.body.len(),
                    elapsed_ms,
                    "fetched"
                ),
                Err(error) => tracing::debug!(%error, elapsed_ms, "fetch failed"),
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn fetch_url(
        &self,
        url: Url,
        basic_auth: Option<HeaderValue>,
        request: Request,
    ) -> Result<Response, FetchError> {
        self.guard.check_url(&url)?;
        let headers = request_headers(basic_auth, &request.headers)?;
        let total = request.timeout.unwrap_or(self.config.timeout);
        let connect = request
            .connect_timeout
            .unwrap_or(self.config.connect_timeout);
        let cap = request
            .max_body_bytes
            .map_or(self.config.max_body_bytes, |cap| {
                cap.min(self.config.max_body_bytes)
            });
        let client = if connect == self.config.connect_timeout {
            self.client.clone()
        } else {
            build_client(&self.config, &self.guard, self.tls.clone(), connect)?
        };
        let mut builder = client
            .request(reqwest_method(request.method), url)
            .headers(headers);
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let limits = Limits {
            connect,
            total,
            cap,
        };
        let exchange = async {
            let response = builder.send().await.map_err(|e| limits.error_from(e))?;
            read_response(response, &limits).await
        };
        tokio::time::timeout(total, exchange)
            .await
            .unwrap_or(Err(FetchError::Timeout {
                kind: TimeoutKind::Total,
                after: total,
            }))
    }
}

/// The limits of one fetch.
struct Limits {
    connect: Duration,
    total: Duration,
    cap: usize,
}

impl Limits {
    /// Turns a client error into a [`FetchError`]: a guard decision raised inside the client
    /// (resolver, redirect policy) comes back as itself; the rest is described without URL.
    fn error_from(&self, error: reqwest::Error) -> FetchError {
        if let Some(inner) = guard_error(&error) {
            return inner;
        }
        if error.is_timeout() {
            let (kind, after) = if error.is_connect() {
                (TimeoutKind::Connect, self.connect)
            } else {
                (TimeoutKind::Total, self.total)
            };
            return FetchError::Timeout { kind, after };
        }
        let is_connect = error.is_connect();
        let message = describe(&error.without_url());
        if is_connect {
            FetchError::Connect(message)
        } else {
            FetchError::Transfer(message)
        }
    }
}

fn build_client(
    config: &FetchConfig,
    guard: &Arc<Guard>,
    tls: rustls::ClientConfig,
    connect_timeout: Duration,
) -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .dns_resolver(Arc::new(GuardedResolver::new(Arc::clone(guard))))
        .redirect(redirect_policy(Arc::clone(guard), config.max_redirects))
        .no_proxy()
        .referer(false)
        .connect_timeout(connect_timeout)
        .user_agent(config.user_agent.as_str())
        .build()
        .map_err(|e| FetchError::Setup(describe(&e)))
}

/// Follows at most `max` redirects, each to a URL the guard accepts (scheme and IP literal;
/// host names are checked by the resolver when connecting).
fn redirect_policy(guard: Arc<Guard>, max: usize) -> redirect::Policy {
    redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max {
            return attempt.error(FetchError::TooManyRedirects { max });
        }
        match guard.check_url(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(error) => attempt.error(error),
        }
    })
}

fn reqwest_method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Delete => reqwest::Method::DELETE,
    }
}

/// The request's headers; credentials from the URL unless the caller set `Authorization`.
/// Header values are never echoed in errors (they may be secrets).
fn request_headers(
    basic_auth: Option<HeaderValue>,
    headers: &[(String, String)],
) -> Result<HeaderMap, FetchError> {
    let mut map = HeaderMap::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| FetchError::InvalidHeader(format!("`{name}` is not a header name")))?;
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            FetchError::InvalidHeader(format!("the value of `{name}` is not a header value"))
        })?;
        if name == AUTHORIZATION {
            value.set_sensitive(true);
        }
        map.append(name, value);
    }
    if let Some(basic_auth) = basic_auth
        && !map.contains_key(AUTHORIZATION)
    {
        map.insert(AUTHORIZATION, basic_auth);
    }
    Ok(map)
}

/// Reads the status, headers and body, stopping as soon as the body exceeds the cap.
async fn read_response(
    mut response: reqwest::Response,
    limits: &Limits,
) -> Result<Response, FetchError> {
    let too_large = FetchError::TooLarge { limit: limits.cap };
    let declared = response.content_length();
    if declared.is_some_and(|length| length > limits.cap as u64) {
        return Err(too_large);
    }
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let mut final_url = response.url().clone();
    credentials::strip_credentials(&mut final_url);
    let expected = declared.map_or(0, |length| length as usize);
    let mut body = BytesMut::with_capacity(expected);
    while let Some(chunk) = response.chunk().await.map_err(|e| limits.error_from(e))? {
        if chunk.len() > limits.cap - body.len() {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        headers,
        body: body.freeze(),
        final_url: final_url.into(),
    })
}

/// The guard's own error, if one is in the chain of causes.
fn guard_error(error: &(dyn Error + 'static)) -> Option<FetchError> {
    let mut cause = error.source();
    while let Some(current) = cause {
        if let Some(inner) = current.downcast_ref::<FetchError>() {
            return Some(inner.clone());
        }
        cause = current.source();
    }
    None
}

/// An error and its causes on one line.
fn describe(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        text.push_str(": ");
        text.push_str(&current.to_string());
        cause = current.source();
    }
    text
}
