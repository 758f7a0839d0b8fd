//! Reading and writing SIP messages (rsipstack's message types, used as plain data): the
//! headers the core needs, responses built from requests, and requests within dialogs.

use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
use rsipstack::sip::{Header, Headers, Method, Request, Response, StatusCode, Uri, Version};

/// The `Server` / `User-Agent` value Weft sends.
pub const AGENT: &str = "Weft";
/// The methods Weft accepts (`Allow`).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER";
/// The bodies Weft accepts (`Accept`).
pub const ACCEPT: &str = "application/sdp, application/dtmf-relay, application/dtmf";
/// What Weft supports (`Supported`).
pub const SUPPORTED: &str = "timer";
/// Largest body Weft reads (an SDP or a DTMF INFO); larger requests get 413.
pub const MAX_BODY: usize = 16 * 1024;

/// The headers that identify a request's transaction and dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    /// `Call-ID`.
    pub call_id: String,
    /// The `From` tag.
    pub from_tag: String,
    /// The `To` tag, in a dialog.
    pub to_tag: Option<String>,
    /// The `CSeq` number.
    pub cseq: u32,
}

/// Why a request is malformed (answered with 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// A required header is missing or unreadable.
    #[error("missing or malformed {0}")]
    Header(&'static str),
    /// `Content-Length` does not match the body (a truncated datagram).
    #[error("Content-Length does not match the body")]
    Length,
}

/// The ids of a request, or why they are unusable.
pub fn ids(req: &Request) -> Result<Ids, Malformed> {
    let call_id = req
        .call_id_header()
        .map(|c| c.value().trim().to_owned())
        .ok()
        .filter(|c| !c.is_empty())
        .ok_or(Malformed::Header("Call-ID"))?;
    let from_tag = req
        .from_header()
        .ok()
        .and_then(|f| f.tag().ok().flatten())
        .map(|t| t.to_string())
        .ok_or(Malformed::Header("From tag"))?;
    let to_tag = req
        .to_header()
        .map_err(|_| Malformed::Header("To"))?
        .tag()
        .ok()
        .flatten()
        .map(|t| t.to_string());
    let cseq = req
        .cseq_header()
        .ok()
        .and_then(|c| c.seq().ok())
        .ok_or(Malformed::Header("CSeq"))?;
    Ok(Ids {
        call_id,
        from_tag,
        to_tag,
        cseq,
    })
}

/// Checks that a message's `Content-Length`, when present, matches its body: rsipstack accepts
/// datagrams it had to truncate, which must not be read as complete.
pub fn length_matches(headers: &Headers, body: &[u8]) -> bool {
    let declared = headers.iter().find_map(|h| match h {
        Header::ContentLength(l) => Some(l.value().trim().parse::<usize>().ok()),
        _ => None,
    });
    match declared {
        None => true,
        Some(Some(n)) => n == body.len(),
        Some(None) => false,
    }
}

/// The value of a header by name (compact forms included), trimmed.
pub fn header(req: &impl HeadersExt, name: &str) -> Option<String> {
    req.header_value(name)
}

/// The user part of a URI, percent-decoded poorly on purpose: only what an address name can
/// hold is accepted later.
pub fn user_of(uri: &Uri) -> Option<String> {
    uri.auth
        .as_ref()
        .map(|a| a.user.clone())
        .filter(|u| !u.is_empty())
}

/// The URI of the first `Contact` header, if it parses.
pub fn contact_uri(msg: &impl HeadersExt) -> Option<Uri> {
    msg.typed_contact_headers()
        .ok()?
        .into_iter()
        .next()
        .map(|c| c.uri)
}

/// The display name and URI of the `From` header.
pub fn from_identity(req: &Request) -> (Option<String>, Option<Uri>) {
    match req.from_header().ok().and_then(|f| f.typed().ok()) {
        Some(f) => (f.display_name.filter(|n| !n.trim().is_empty()), Some(f.uri)),
        None => (None, None),
    }
}

/// Whether the request's body is of `content_type` (ignoring parameters and case).
pub fn body_is(req: &Request, content_type: &str) -> bool {
    header(req, "Content-Type").is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(content_type))
    })
}

/// A response to `req` with `status`: Via, From, To (with `to_tag` added when the request's To
/// has none and the status is not 100), Call-ID and CSeq copied, plus `Server`.
pub fn response(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
    let mut headers = Headers::default();
    for h in req.headers.iter() {
        match h {
            Header::Via(_) | Header::CallId(_) | Header::From(_) | Header::CSeq(_) => {
                headers.push(h.clone())
            }
            Header::To(to) => {
                let has_tag = to.tag().ok().flatten().is_some();
                match to_tag {
                    Some(tag) if !has_tag && status != 100 => headers.push(Header::To(
                        to.with_tag(rsipstack::sip::param::Tag::new(tag)),
                    )),
                    _ => headers.push(h.clone()),
                }
            }
            _ => {}
        }
    }
    headers.push(Header::Server(AGENT.into()));
    headers.push(Header::ContentLength(0u32.into()));
    Response {
        status_code: StatusCode::from(status),
        wire_reason: None,
        version: Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// Adds a header to a response (before its `Content-Length`).
pub fn add(resp: &mut Response, header: Header) {
    let at = resp
        .headers
        .iter()
        .position(|h| matches!(h, Header::ContentLength(_)))
        .unwrap_or(resp.headers.len());
    resp.headers.0.insert(at, header);
}

/// Sets an SDP body on a message's headers and body, with its type and length.
pub fn set_sdp(headers: &mut Headers, body: &mut Vec<u8>, sdp: String) {
    headers.retain(|h| !matches!(h, Header::ContentLength(_) | Header::ContentType(_)));
    headers.push(Header::ContentType("application/sdp".into()));
    headers.push(Header::ContentLength((sdp.len() as u32).into()));
    *body = sdp.into_bytes();
}

/// An `Other` header.
pub fn other(name: &str, value: impl Into<String>) -> Header {
    Header::Other(name.to_owned(), value.into())
}

/// What a request within a dialog (or an initial INVITE) is made of; Via is the shell's.
#[derive(Debug, Clone)]
pub struct RequestParts {
    /// The method.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
    /// The `From` header value (ours, with our tag).
    pub from: String,
    /// The `To` header value (theirs, with their tag once known).
    pub to: String,
    /// `Call-ID`.
    pub call_id: String,
    /// The `CSeq` number.
    pub cseq: u32,
    /// Our `Contact` URI, for requests that carry one.
    pub contact: Option<String>,
    /// `Route` values, in order.
    pub route: Vec<String>,
}

/// Builds a request (without Via: the shell adds its own with a fresh branch).
pub fn request(parts: RequestParts) -> Request {
    let mut headers = Headers::default();
    for route in parts.route {
        headers.push(Header::Route(route.into()));
    }
    headers.push(Header::MaxForwards(70u32.into()));
    headers.push(Header::From(parts.from.into()));
    headers.push(Header::To(parts.to.into()));
    headers.push(Header::CallId(parts.call_id.into()));
    headers.push(Header::CSeq(
        format!("{} {}", parts.cseq, parts.method).into(),
    ));
    if let Some(contact) = parts.contact {
        headers.push(Header::Contact(format!("<{contact}>").into()));
    }
    headers.push(Header::UserAgent(AGENT.into()));
    headers.push(Header::ContentLength(0u32.into()));
    Request {
        method: parts.method,
        uri: parts.uri,
        version: Version::V2,
        headers,
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> Request {
        let raw = "INVITE sip:room@weft.test SIP/2.0\r\n\
                   Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1\r\n\
                   f: \"Alice\" <sip:alice@weft.test>;tag=abc\r\n\
                   t: <sip:room@weft.test>\r\n\
                   i: call-1\r\n\
                   CSeq: 7 INVITE\r\n\
                   m: <sip:alice@127.0.0.1:5080>\r\n\
                   Content-Type: application/sdp\r\n\
                   Content-Length: 4\r\n\r\nv=0\n";
        Request::try_from(raw).unwrap()
    }

    #[test]
    fn reads_ids_and_identity_with_compact_headers() {
        let req = invite();
        let ids = ids(&req).unwrap();
        assert_eq!(ids.call_id, "call-1");
        assert_eq!(ids.from_tag, "abc");
        assert_eq!(ids.to_tag, None);
        assert_eq!(ids.cseq, 7);
        assert_eq!(user_of(&req.uri).as_deref(), Some("room"));
        assert_eq!(from_identity(&req).0.as_deref(), Some("Alice"));
        assert_eq!(
            contact_uri(&req).unwrap().to_string(),
            "sip:alice@127.0.0.1:5080"
        );
        assert!(body_is(&req, "application/sdp"));
        assert!(length_matches(&req.headers, &req.body));
        assert!(!length_matches(&req.headers, b"v="));
    }

    #[test]
    fn responses_copy_the_transaction_headers_and_tag_the_dialog() {
        let req = invite();
        let resp = response(&req, 180, Some("weft1"));
        let to = resp.to_header().unwrap();
        assert_eq!(to.tag().unwrap().unwrap().to_string(), "weft1");
        assert_eq!(resp.call_id_header().unwrap().value(), "call-1");
        assert_eq!(resp.status_code.code(), 180);
        let trying = response(&req, 100, Some("weft1"));
        assert!(trying.to_header().unwrap().tag().unwrap().is_none());
        let text = resp.to_string();
        assert!(text.starts_with("SIP/2.0 180 Ringing\r\n"), "{text}");
        assert!(text.contains("Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1"));
    }
}
