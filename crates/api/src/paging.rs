//! List paging: `page_size` (1–1000, default 50), opaque `page_token`, and `links`.

use serde_json::{Value, json};
use weft_core::{Cursor, PageSize};
use weft_store::Page;

use crate::body::Params;
use crate::error::ApiError;

/// A validated page request.
pub struct PageRequest {
    pub size: u32,
    pub after: Option<Cursor>,
}

/// Reads `page_size` and `page_token`, refusing values out of range.
pub fn page_request(params: &Params) -> Result<PageRequest, ApiError> {
    let size = PageSize::parse(params.get("page_size"))
        .map_err(|e| ApiError::invalid("page_size", "invalid_parameter", e.to_string()))?;
    let after = match params.get("page_token").filter(|t| !t.is_empty()) {
        None => None,
        Some(token) => Some(Cursor::decode(token).ok_or_else(|| {
            ApiError::invalid("page_token", "invalid_parameter", "page_token is not valid")
        })?),
    };
    Ok(PageRequest {
        size: size.get(),
        after,
    })
}

fn link(path: &str, params: &Params, page_token: Option<&str>) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .0
        .iter()
        .filter(|(k, _)| k.as_str() != "page_token")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort();
    if let Some(token) = page_token {
        pairs.push(("page_token", token));
    }
    if pairs.is_empty() {
        return path.to_owned();
    }
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("{path}?{}", query.join("&"))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The list body `{data, links{self, first, next, prev}}`.
pub fn list_body<T>(
    path: &str,
    params: &Params,
    page: Page<T>,
    view: impl Fn(&T) -> Value,
) -> Value {
    let next = page.next.map(|c| link(path, params, Some(&c.encode())));
    json!({
        "data": page.rows.iter().map(view).collect::<Vec<_>>(),
        "links": {
            "self": link(path, params, params.get("page_token")),
            "first": link(path, params, None),
            "next": next,
            "prev": Value::Null,
        }
    })
}
