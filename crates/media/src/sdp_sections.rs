//! Text-level SDP surgery for offers with one transport per m-line (no BUNDLE): joining
//! single-section SDPs into one, and splitting a multi-section SDP into single-section ones.
//!
//! str0m speaks BUNDLE only, so an inbound call leg the browser SDK must answer (it cannot answer a
//! BUNDLEd offer with two m-lines, see `fabric-protocol.md` §6.3) is built from one `Rtc` per
//! m-line; these helpers turn their offers into one SDP and the remote answer back into parts.

/// An SDP split at its `m=` lines: the session part and each media section (line endings kept).
struct Sections<'a> {
    session: Vec<&'a str>,
    media: Vec<Vec<&'a str>>,
}

fn sections(sdp: &str) -> Sections<'_> {
    let mut session = Vec::new();
    let mut media: Vec<Vec<&str>> = Vec::new();
    for line in sdp.split_inclusive('\n') {
        if line.starts_with("m=") {
            media.push(vec![line]);
        } else if let Some(current) = media.last_mut() {
            current.push(line);
        } else {
            session.push(line);
        }
    }
    Sections { session, media }
}

fn is_bundle_group(line: &str) -> bool {
    line.starts_with("a=group:BUNDLE")
}

/// Whether `sdp` groups its m-lines with BUNDLE.
pub fn is_bundled(sdp: &str) -> bool {
    sdp.lines().any(is_bundle_group)
}

/// The `a=mid` of a media section.
fn mid_of(section: &[&str]) -> Option<String> {
    section
        .iter()
        .find_map(|l| l.trim_end().strip_prefix("a=mid:"))
        .map(str::to_owned)
}

/// One SDP carrying every media section of `parts` in order, under the session part of the first,
/// without a BUNDLE group: each m-line keeps its own transport (ICE credentials, candidates,
/// fingerprint are per section in str0m's output).
pub fn join_unbundled(parts: &[String]) -> String {
    let mut out = String::new();
    let Some(first) = parts.first() else {
        return out;
    };
    for line in sections(first).session {
        if !is_bundle_group(line) {
            out.push_str(line);
        }
    }
    for part in parts {
        for section in sections(part).media {
            section.iter().for_each(|l| out.push_str(l));
        }
    }
    out
}

/// Splits an SDP into one SDP per media section, each with the section's `a=mid`: the session
/// part repeated, its BUNDLE group replaced by a group of just that section (str0m parses only
/// BUNDLEd SDP; a group of one is the same single transport).
pub fn split_sections(sdp: &str) -> Vec<(Option<String>, String)> {
    let parsed = sections(sdp);
    let session: String = parsed
        .session
        .iter()
        .filter(|l| !is_bundle_group(l))
        .copied()
        .collect();
    parsed
        .media
        .iter()
        .map(|section| {
            let mid = mid_of(section);
            let mut part = session.clone();
            if let Some(mid) = &mid {
                let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
                part.push_str(&format!("a=group:BUNDLE {mid}{eol}"));
            }
            section.iter().for_each(|l| part.push_str(l));
            (mid, part)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUDIO: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a1\r\na=ice-lite\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:one\r\na=mid:a1\r\n";
    const VIDEO: &str = "v=0\r\no=- 3 4 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE v1\r\na=ice-lite\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:two\r\na=mid:v1\r\n";

    #[test]
    fn joins_sections_under_the_first_session_without_bundle() {
        let joined = join_unbundled(&[AUDIO.to_owned(), VIDEO.to_owned()]);
        assert!(!is_bundled(&joined));
        assert!(joined.starts_with("v=0\r\no=- 1 2 IN IP4"));
        assert_eq!(joined.matches("m=").count(), 2);
        assert!(joined.find("m=audio").unwrap() < joined.find("m=video").unwrap());
        assert!(joined.contains("a=ice-ufrag:one\r\n") && joined.contains("a=ice-ufrag:two\r\n"));
        assert_eq!(joined.matches("a=ice-lite").count(), 1);
    }

    #[test]
    fn splits_back_into_parts_with_their_mids() {
        let joined = join_unbundled(&[AUDIO.to_owned(), VIDEO.to_owned()]);
        let parts = split_sections(&joined);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].0.as_deref(), Some("a1"));
        assert_eq!(parts[1].0.as_deref(), Some("v1"));
        assert!(parts[1].1.starts_with("v=0\r\n"));
        assert!(parts[1].1.contains("m=video") && !parts[1].1.contains("m=audio"));
        assert!(
            parts[1].1.contains("a=group:BUNDLE v1\r\nm=video"),
            "{}",
            parts[1].1
        );
    }

    #[test]
    fn tolerates_sdp_without_sections_or_mids() {
        assert!(split_sections("v=0\r\n").is_empty());
        assert_eq!(split_sections("v=0\nm=audio 9 RTP/AVP 0\n")[0].0, None);
        assert_eq!(join_unbundled(&[]), "");
    }
}
