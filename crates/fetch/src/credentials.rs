//! `user:password@host` in a URL: taken out of the URL (so it is never logged, sent as a
//! Referer or reported in `final_url`) and turned into a Basic `Authorization` header.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;
use reqwest::Url;
use reqwest::header::HeaderValue;

/// Removes the user name and password from `url` and returns the matching Basic
/// `Authorization` value (marked sensitive), or `None` if the URL had neither.
pub(crate) fn take_basic_auth(url: &mut Url) -> Option<HeaderValue> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    // `%XX` escapes are decoded; a `%` not followed by two hex digits stays as it is.
    let mut pair: Vec<u8> = percent_decode_str(url.username()).collect();
    pair.push(b':');
    pair.extend(percent_decode_str(url.password().unwrap_or("")));
    strip_credentials(url);
    let mut value = HeaderValue::try_from(format!("Basic {}", STANDARD.encode(pair))).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Removes the user name and password from `url`, if any.
pub(crate) fn strip_credentials(url: &mut Url) {
    // Both only fail for URLs that cannot have credentials, which then have none to strip.
    let _ = url.set_username("");
    let _ = url.set_password(None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_become_basic_auth_and_leave_the_url() {
        let mut url =
            Url::parse("https://al%40ice:p%3Ass%2Fw%zz@media.example.com/a?b=c").expect("test URL");
        let header = take_basic_auth(&mut url).expect("credentials");
        assert_eq!(url.as_str(), "https://media.example.com/a?b=c");
        let expected = format!("Basic {}", STANDARD.encode("al@ice:p:ss/w%zz"));
        assert_eq!(header.to_str().expect("ascii"), expected);
        assert!(header.is_sensitive());
    }

    #[test]
    fn user_without_password() {
        let mut url = Url::parse("http://token@example.com/").expect("test URL");
        let header = take_basic_auth(&mut url).expect("credentials");
        let expected = format!("Basic {}", STANDARD.encode("token:"));
        assert_eq!(header.to_str().expect("ascii"), expected);
        assert_eq!(url.as_str(), "http://example.com/");
    }

    #[test]
    fn no_credentials_no_header() {
        let mut url = Url::parse("http://example.com/").expect("test URL");
        assert_eq!(take_basic_auth(&mut url), None);
    }
}
