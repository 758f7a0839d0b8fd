//! Timestamps: stored as Unix milliseconds, shown as ISO 8601 UTC.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Formats Unix milliseconds as `2024-05-06T12:20:00Z`.
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc_seconds() {
        assert_eq!(super::iso8601(1_714_998_000_123), "2024-05-06T12:20:00Z");
    }
}
