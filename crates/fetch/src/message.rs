//! A fetch request and its response.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;

/// The HTTP methods a call flow may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    #[default]
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// The method's name in upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A method name that is not GET, POST, PUT or DELETE.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unsupported HTTP method `{0}` (expected GET, POST, PUT or DELETE)")]
pub struct UnsupportedMethod(pub String);

impl FromStr for Method {
    type Err = UnsupportedMethod;

    /// Parses a method name, ignoring case.
    fn from_str(text: &str) -> Result<Method, UnsupportedMethod> {
        [Method::Get, Method::Post, Method::Put, Method::Delete]
            .into_iter()
            .find(|method| method.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnsupportedMethod(text.to_owned()))
    }
}

/// One fetch. Limits left `None` take the [`FetchConfig`](crate::FetchConfig) values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// An http or https URL; `user:password@` in it is sent as Basic authentication.
    pub url: String,
    /// Extra headers, in order. A name may repeat. An `Authorization` header here wins over
    /// credentials in the URL.
    pub headers: Vec<(String, String)>,
    /// The request body, if any.
    pub body: Option<Bytes>,
    /// The total timeout for this fetch instead of the configured one.
    pub timeout: Option<Duration>,
    /// The connect timeout for this fetch instead of the configured one. A value different
    /// from the configured one uses a fresh connection.
    pub connect_timeout: Option<Duration>,
    /// A body cap for this fetch; it can only lower the configured cap.
    pub max_body_bytes: Option<usize>,
}

impl Request {
    /// A request with `method` to `url`, no headers, no body and the configured limits.
    pub fn new(method: Method, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            ..Request::default()
        }
    }

    /// A GET of `url`.
    pub fn get(url: impl Into<String>) -> Request {
        Request::new(Method::Get, url)
    }
}

/// A response, whatever its status (4xx and 5xx are responses too, not errors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers in the order received, names in lower case; values that are not UTF-8
    /// have their invalid bytes replaced.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Bytes,
    /// The URL that answered, after redirects, without credentials.
    pub final_url: String,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse_ignoring_case() {
        assert_eq!("post".parse(), Ok(Method::Post));
        assert_eq!("Delete".parse(), Ok(Method::Delete));
        assert_eq!(
            "PATCH".parse::<Method>(),
            Err(UnsupportedMethod("PATCH".into()))
        );
    }
}
