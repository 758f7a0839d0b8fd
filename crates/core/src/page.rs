//! Paging: validated page sizes and opaque keyset cursors (`page_token`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// A page size in 1..=1000 (default 50).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u32);

/// A page size outside 1..=1000, or not a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("page_size must be an integer from 1 to 1000")]
pub struct PageSizeError;

impl PageSize {
    pub const DEFAULT: PageSize = PageSize(50);
    pub const MAX: u32 = 1000;

    /// Parses the `page_size` query value; `None` gives the default.
    pub fn parse(raw: Option<&str>) -> Result<Self, PageSizeError> {
        match raw {
            None => Ok(Self::DEFAULT),
            Some(s) => match s.trim().parse::<u32>() {
                Ok(n) if (1..=Self::MAX).contains(&n) => Ok(PageSize(n)),
                _ => Err(PageSizeError),
            },
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// Where the next page starts: the sort key and id of the last row shown.
///
/// Encoded as `PA` + base64url(JSON) so clients treat it as opaque, as SignalWire's tokens are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The last row's sort key (a timestamp or a name, as text).
    pub key: String,
    /// The last row's id, to break ties.
    pub id: String,
}

impl Cursor {
    /// The opaque `page_token` form.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("PA{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// Decodes a `page_token`; `None` if it is not one of ours.
    pub fn decode(token: &str) -> Option<Self> {
        let body = token.strip_prefix("PA")?;
        if body.len() > 2048 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_bounds() {
        assert_eq!(PageSize::parse(None).unwrap().get(), 50);
        assert_eq!(PageSize::parse(Some("1000")).unwrap().get(), 1000);
        assert!(PageSize::parse(Some("0")).is_err());
        assert!(PageSize::parse(Some("5000")).is_err());
        assert!(PageSize::parse(Some("x")).is_err());
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            key: "1700000000000".into(),
            id: "abc".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("PB123"), None);
        assert_eq!(Cursor::decode("PA!!!"), None);
    }
}
