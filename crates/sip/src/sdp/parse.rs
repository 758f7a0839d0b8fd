//! A tolerant SDP parser for SIP audio legs.
//!
//! Only the lines an audio leg needs are interpreted; every other line type, unknown attribute
//! and malformed optional attribute is skipped. Errors are reserved for input that cannot be
//! a usable description (no `v=0`, a malformed `m=` or `c=` line) and for the size limits.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

use super::model::{
    CryptoAttribute, Direction, Fmtp, MediaDescription, MediaKind, Origin, Proto, RtcpAttribute,
    RtpMap, SessionDescription,
};

/// The largest SDP accepted, in bytes.
pub const MAX_SDP_LEN: usize = 16 * 1024;
/// The most `m=` lines accepted.
pub const MAX_MEDIA_LINES: usize = 64;
/// The most formats accepted across all `m=` lines.
pub const MAX_FORMATS: usize = 128;

/// Why an SDP could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SdpError {
    /// The SDP is larger than [`MAX_SDP_LEN`].
    #[error("SDP is {0} bytes, over the limit of {MAX_SDP_LEN}")]
    TooLarge(usize),
    /// The SDP has more than [`MAX_MEDIA_LINES`] `m=` lines.
    #[error("SDP has more than {MAX_MEDIA_LINES} m= lines")]
    TooManyMediaLines,
    /// The SDP lists more than [`MAX_FORMATS`] formats in total.
    #[error("SDP lists more than {MAX_FORMATS} formats in total")]
    TooManyFormats,
    /// The first line is not `v=0`.
    #[error("SDP does not start with v=0")]
    MissingVersion,
    /// An `m=` line lacks its media, port, proto or formats.
    #[error("line {line}: malformed m= line")]
    InvalidMediaLine {
        /// The 1-based line number.
        line: usize,
    },
    /// A `c=` line is malformed or not an `IN IP4`/`IN IP6` address literal.
    #[error(
        "line {line}: malformed or unsupported c= line (need IN IP4/IP6 and an address literal)"
    )]
    InvalidConnection {
        /// The 1-based line number.
        line: usize,
    },
}

/// Parses an SDP body. Lines may end in CRLF or LF; never panics.
pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
    if text.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLarge(text.len()));
    }
    let mut sdp = SessionDescription::default();
    let mut seen_version = false;
    let mut total_formats = 0usize;
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        let Some((kind, value)) = split_line(raw) else {
            continue;
        };
        if !seen_version {
            if kind != "v" || value.trim() != "0" {
                return Err(SdpError::MissingVersion);
            }
            seen_version = true;
            continue;
        }
        match kind {
            "o" if sdp.media.is_empty() && sdp.origin.is_none() => {
                sdp.origin = parse_origin(value);
            }
            "c" => {
                let address =
                    parse_connection(value).ok_or(SdpError::InvalidConnection { line })?;
                let slot = match sdp.media.last_mut() {
                    Some(media) => &mut media.connection,
                    None => &mut sdp.connection,
                };
                slot.get_or_insert(address);
            }
            "m" => {
                if sdp.media.len() == MAX_MEDIA_LINES {
                    return Err(SdpError::TooManyMediaLines);
                }
                let media = parse_media(value).ok_or(SdpError::InvalidMediaLine { line })?;
                total_formats += media.formats.len();
                if total_formats > MAX_FORMATS {
                    return Err(SdpError::TooManyFormats);
                }
                sdp.media.push(media);
            }
            "a" => match sdp.media.last_mut() {
                Some(media) => apply_media_attribute(media, value),
                None => apply_session_attribute(&mut sdp, value),
            },
            _ => {}
        }
    }
    if seen_version {
        Ok(sdp)
    } else {
        Err(SdpError::MissingVersion)
    }
}

/// Splits `x=value` into its one-letter type and value; `None` for blank or malformed lines.
fn split_line(raw: &str) -> Option<(&str, &str)> {
    let (kind, value) = raw.trim().split_once('=')?;
    (kind.len() == 1).then_some((kind, value))
}

fn parse_origin(value: &str) -> Option<Origin> {
    let mut fields = value.split_whitespace();
    let username = fields.next()?.to_owned();
    let session_id = fields.next()?.to_owned();
    let session_version = fields.next()?.to_owned();
    let address = fields.nth(2).unwrap_or_default().to_owned();
    Some(Origin {
        username,
        session_id,
        session_version,
        address,
    })
}

fn parse_connection(value: &str) -> Option<IpAddr> {
    let mut fields = value.split_whitespace();
    let net_type = fields.next()?;
    let addr_type = fields.next()?;
    let address = fields.next()?;
    if !net_type.eq_ignore_ascii_case("IN") {
        return None;
    }
    parse_address(addr_type, address)
}

/// Parses an address literal of the given SDP address type, dropping any `/ttl/count` suffix.
fn parse_address(addr_type: &str, address: &str) -> Option<IpAddr> {
    let literal = address.split('/').next()?;
    if addr_type.eq_ignore_ascii_case("IP4") {
        literal.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    } else if addr_type.eq_ignore_ascii_case("IP6") {
        literal.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        None
    }
}

fn parse_media(value: &str) -> Option<MediaDescription> {
    let mut fields = value.split_whitespace();
    let kind = MediaKind::from_token(fields.next()?);
    let port = fields.next()?.split('/').next()?.parse::<u16>().ok()?;
    let proto = Proto::from_token(fields.next()?);
    let formats: Vec<String> = fields.take(MAX_FORMATS + 1).map(str::to_owned).collect();
    if formats.is_empty() {
        return None;
    }
    Some(MediaDescription {
        kind,
        port,
        proto,
        formats,
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime: None,
        maxptime: None,
        direction: None,
        rtcp: None,
        rtcp_mux: false,
        crypto: Vec::new(),
    })
}

/// Splits an attribute into name and value (empty for property attributes).
fn split_attribute(value: &str) -> (&str, &str) {
    match value.split_once(':') {
        Some((name, rest)) => (name.trim(), rest.trim()),
        None => (value.trim(), ""),
    }
}

fn apply_session_attribute(sdp: &mut SessionDescription, value: &str) {
    let (name, _) = split_attribute(value);
    if let Some(direction) = Direction::from_attribute(name) {
        sdp.direction.get_or_insert(direction);
    }
}

fn apply_media_attribute(media: &mut MediaDescription, value: &str) {
    let (name, rest) = split_attribute(value);
    let name = name.to_ascii_lowercase();
    match name.as_str() {
        "rtpmap" => media.rtpmaps.extend(parse_rtpmap(rest)),
        "fmtp" => media.fmtps.extend(parse_fmtp(rest)),
        "ptime" if media.ptime.is_none() => media.ptime = parse_millis(rest),
        "maxptime" if media.maxptime.is_none() => media.maxptime = parse_millis(rest),
        "rtcp" if media.rtcp.is_none() => media.rtcp = parse_rtcp(rest),
        "rtcp-mux" => media.rtcp_mux = true,
        "crypto" => media.crypto.extend(parse_crypto(rest)),
        _ => {
            if let Some(direction) = Direction::from_attribute(&name) {
                media.direction.get_or_insert(direction);
            }
        }
    }
}

fn parse_payload_type(token: &str) -> Option<u8> {
    token.parse::<u8>().ok().filter(|pt| *pt <= 127)
}

fn parse_rtpmap(value: &str) -> Option<RtpMap> {
    let (pt, encoding) = value.split_once(char::is_whitespace)?;
    let mut parts = encoding.trim().split('/');
    let name = parts.next()?.trim();
    if name.is_empty() {
        return None;
    }
    let clock_rate = parts.next()?.trim().parse::<u32>().ok()?;
    let channels = match parts.next() {
        Some(channels) => Some(channels.trim().parse::<u8>().ok()?),
        None => None,
    };
    Some(RtpMap {
        payload_type: parse_payload_type(pt)?,
        encoding: name.to_owned(),
        clock_rate,
        channels,
    })
}

fn parse_fmtp(value: &str) -> Option<Fmtp> {
    let (pt, params) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    Some(Fmtp {
        payload_type: parse_payload_type(pt)?,
        params: params.trim().to_owned(),
    })
}

/// Parses a millisecond value, accepting a fractional part as some peers write (`20.0`).
fn parse_millis(value: &str) -> Option<u32> {
    let whole = value.split('.').next()?;
    whole.parse::<u32>().ok().filter(|ms| *ms > 0)
}

fn parse_rtcp(value: &str) -> Option<RtcpAttribute> {
    let mut fields = value.split_whitespace();
    let port = fields.next()?.parse::<u16>().ok()?;
    let address = match (fields.next(), fields.next(), fields.next()) {
        (Some(net_type), Some(addr_type), Some(address)) if net_type.eq_ignore_ascii_case("IN") => {
            parse_address(addr_type, address)
        }
        _ => None,
    };
    Some(RtcpAttribute { port, address })
}

fn parse_crypto(value: &str) -> Option<CryptoAttribute> {
    let mut fields = value.split_whitespace();
    let tag = fields.next()?;
    if tag.len() > 9 {
        return None;
    }
    let tag = tag.parse::<u32>().ok()?;
    let suite = fields.next()?.to_owned();
    let key_params = fields.next()?.to_owned();
    Some(CryptoAttribute {
        tag,
        suite,
        key_params,
        session_params: fields.map(str::to_owned).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_minimal_offer_with_lf_endings() {
        let sdp = parse(
            "v=0\no=- 1 2 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0 8\n",
        )
        .unwrap();
        assert_eq!(sdp.connection, Some("10.0.0.1".parse().unwrap()));
        let origin = sdp.origin.as_ref().unwrap();
        assert_eq!(
            (origin.session_id.as_str(), origin.session_version.as_str()),
            ("1", "2")
        );
        assert_eq!(origin.address, "10.0.0.1");
        assert_eq!(sdp.media.len(), 1);
        assert_eq!(sdp.media[0].formats, ["0", "8"]);
        assert_eq!(sdp.media[0].encoding_of(8), Some(("PCMA", 8000, None)));
        assert_eq!(sdp.media_direction(0), Direction::SendRecv);
    }

    #[test]
    fn media_level_connection_and_direction_win() {
        let sdp = parse(concat!(
            "v=0\r\n",
            "c=IN IP4 0.0.0.0\r\n",
            "a=sendonly\r\n",
            "m=audio 4000 RTP/AVP 0\r\n",
            "c=IN IP6 2001:db8::1\r\n",
            "a=recvonly\r\n",
            "m=audio 4002 RTP/AVP 0\r\n",
        ))
        .unwrap();
        assert_eq!(
            sdp.media_connection(0),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(sdp.media_connection(1), Some("0.0.0.0".parse().unwrap()));
        assert_eq!(sdp.media_direction(0), Direction::RecvOnly);
        assert_eq!(sdp.media_direction(1), Direction::SendOnly);
    }

    #[test]
    fn attributes_are_parsed_and_unknown_ones_skipped() {
        let sdp = parse(concat!(
            "v=0\n",
            "c=IN IP4 224.2.1.1/127/3\n",
            "m=audio 5004/2 RTP/SAVP 96 101 13\n",
            "a=rtpmap:96 opus/48000/2\n",
            "a=rtpmap:101 telephone-event/8000\n",
            "a=rtpmap:13 CN/8000\n",
            "a=rtpmap:bogus\n",
            "a=fmtp:96 useinbandfec=1; stereo=0\n",
            "a=fmtp:101 0-16\n",
            "a=PTIME:20.0\n",
            "a=maxptime:40\n",
            "a=rtcp:5005 IN IP4 192.0.2.9\n",
            "a=rtcp-mux\n",
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abcd|2^20|1:4 KDR=1 UNENCRYPTED_SRTCP\n",
            "a=crypto:2 AES_CM_128_HMAC_SHA1_32\n",
            "a=x-made-up:whatever\n",
            "a=ssrc:1 cname:x\n",
            "m=application 9 UDP/BFCP *\n",
            "m=video 0 RTP/AVP 31\n",
        ))
        .unwrap();
        assert_eq!(sdp.connection, Some("224.2.1.1".parse().unwrap()));
        let audio = &sdp.media[0];
        assert_eq!((audio.port, &audio.proto), (5004, &Proto::RtpSavp));
        assert_eq!(audio.rtpmaps.len(), 3);
        assert_eq!(audio.encoding_of(96), Some(("opus", 48000, Some(2))));
        assert_eq!(audio.fmtp(96), Some("useinbandfec=1; stereo=0"));
        assert_eq!(audio.fmtp(101), Some("0-16"));
        assert_eq!((audio.ptime, audio.maxptime), (Some(20), Some(40)));
        assert_eq!(
            audio.rtcp,
            Some(RtcpAttribute {
                port: 5005,
                address: Some("192.0.2.9".parse().unwrap())
            })
        );
        assert!(audio.rtcp_mux);
        assert_eq!(
            audio.crypto,
            vec![CryptoAttribute {
                tag: 1,
                suite: "AES_CM_128_HMAC_SHA1_80".into(),
                key_params: "inline:abcd|2^20|1:4".into(),
                session_params: vec!["KDR=1".into(), "UNENCRYPTED_SRTCP".into()],
            }]
        );
        assert_eq!(sdp.media[1].kind, MediaKind::Other("application".into()));
        assert_eq!(sdp.media[1].proto, Proto::Other("UDP/BFCP".into()));
        assert_eq!(sdp.media[2].kind, MediaKind::Video);
    }

    #[test]
    fn structural_errors_are_reported() {
        assert_eq!(parse(""), Err(SdpError::MissingVersion));
        assert_eq!(parse("s=x\nv=0\n"), Err(SdpError::MissingVersion));
        assert_eq!(parse("v=1\n"), Err(SdpError::MissingVersion));
        assert_eq!(
            parse("v=0\nm=audio x RTP/AVP 0\n"),
            Err(SdpError::InvalidMediaLine { line: 2 })
        );
        assert_eq!(
            parse("v=0\nm=audio 4000 RTP/AVP\n"),
            Err(SdpError::InvalidMediaLine { line: 2 })
        );
        assert_eq!(
            parse("v=0\nc=IN IP4 pbx.example.com\n"),
            Err(SdpError::InvalidConnection { line: 2 })
        );
        assert_eq!(
            parse("v=0\nc=IN IP4 ::1\n"),
            Err(SdpError::InvalidConnection { line: 2 })
        );
    }

    #[test]
    fn limits_are_enforced() {
        let big = format!("v=0\n{}", "a=x\n".repeat(MAX_SDP_LEN / 4));
        assert_eq!(parse(&big), Err(SdpError::TooLarge(big.len())));

        let many_media = format!(
            "v=0\n{}",
            "m=audio 0 RTP/AVP 0\n".repeat(MAX_MEDIA_LINES + 1)
        );
        assert_eq!(parse(&many_media), Err(SdpError::TooManyMediaLines));
        let max_media = format!("v=0\n{}", "m=audio 0 RTP/AVP 0\n".repeat(MAX_MEDIA_LINES));
        assert_eq!(parse(&max_media).unwrap().media.len(), MAX_MEDIA_LINES);

        let formats = |n: usize| (0..n).map(|i| (i % 128).to_string()).collect::<Vec<_>>();
        let too_many = format!(
            "v=0\nm=audio 1 RTP/AVP {}\nm=audio 2 RTP/AVP {}\n",
            formats(100).join(" "),
            formats(29).join(" ")
        );
        assert_eq!(parse(&too_many), Err(SdpError::TooManyFormats));
        let at_limit = format!(
            "v=0\nm=audio 1 RTP/AVP {}\n",
            formats(MAX_FORMATS).join(" ")
        );
        assert_eq!(
            parse(&at_limit).unwrap().media[0].formats.len(),
            MAX_FORMATS
        );
    }
}
