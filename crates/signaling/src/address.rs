//! Parsing of dial strings: `/context/name[?channel=audio|video|messaging]`.

/// The channel requested by a dial string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Audio only.
    Audio,
    /// Audio and video.
    Video,
    /// Messaging.
    Messaging,
}

/// A parsed Fabric address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The context (e.g. `public`, `private`).
    pub context: String,
    /// The address name.
    pub name: String,
    /// The requested channel, if given.
    pub channel: Option<Channel>,
}

/// Why a dial string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not of the form `/context/name`.
    #[error("address must look like /context/name[?channel=audio|video]")]
    Malformed,
    /// Unknown `channel` value.
    #[error("unknown channel")]
    UnknownChannel,
}

const MAX_LEN: usize = 512;

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '@'))
}

impl Address {
    /// Parses a `destination_number`.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        if input.len() > MAX_LEN {
            return Err(AddressError::Malformed);
        }
        let (path, query) = match input.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (input, None),
        };
        let mut parts = path
            .strip_prefix('/')
            .ok_or(AddressError::Malformed)?
            .split('/');
        let (Some(context), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(AddressError::Malformed);
        };
        if !valid_segment(context) || !valid_segment(name) {
            return Err(AddressError::Malformed);
        }
        let mut channel = None;
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            if let Some(value) = pair.strip_prefix("channel=") {
                channel = Some(match value {
                    "audio" => Channel::Audio,
                    "video" => Channel::Video,
                    "messaging" => Channel::Messaging,
                    _ => return Err(AddressError::UnknownChannel),
                });
            }
        }
        Ok(Self {
            context: context.to_owned(),
            name: name.to_owned(),
            channel,
        })
    }

    /// `/context/name` without the query.
    pub fn path(&self) -> String {
        format!("/{}/{}", self.context, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_context_name_and_channel() {
        let a = Address::parse("/public/bob?channel=video").unwrap();
        assert_eq!(a.context, "public");
        assert_eq!(a.name, "bob");
        assert_eq!(a.channel, Some(Channel::Video));
        assert_eq!(a.path(), "/public/bob");
        assert_eq!(Address::parse("/private/room-1").unwrap().channel, None);
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in [
            "",
            "bob",
            "/public",
            "/a/b/c",
            "//bob",
            "/public/b b",
            "/p/<x>",
        ] {
            assert_eq!(Address::parse(bad), Err(AddressError::Malformed), "{bad}");
        }
        assert_eq!(
            Address::parse("/public/bob?channel=fax"),
            Err(AddressError::UnknownChannel)
        );
        assert!(Address::parse(&format!("/public/{}", "a".repeat(600))).is_err());
    }
}
