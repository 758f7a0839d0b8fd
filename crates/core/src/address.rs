//! Fabric addresses: `/context/name[?channel=audio|video|messaging]`.

use std::fmt;

/// The media a dial asks for (`?channel=` on an address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Audio,
    Video,
    Messaging,
}

impl Channel {
    /// The query value used in addresses.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Audio => "audio",
            Channel::Video => "video",
            Channel::Messaging => "messaging",
        }
    }
}

/// A parsed Fabric address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub context: String,
    pub name: String,
    pub channel: Option<Channel>,
}

/// Why an address string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("an address must look like /context/name")]
    Shape,
    #[error("unknown channel {0:?}; expected audio, video or messaging")]
    Channel(String),
    #[error("address names are 1 to 255 characters without '/', '?' or whitespace")]
    Name,
}

/// The context used when an address names none (`/Bob`).
pub const DEFAULT_CONTEXT: &str = "public";

impl Address {
    /// Parses `/context/name`, `/name` (public context) and an optional `?channel=` query.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let (path, query) = match input.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (input, None),
        };
        let path = path.strip_prefix('/').ok_or(AddressError::Shape)?;
        let (context, name) = match path.split_once('/') {
            Some((c, n)) => (c, n),
            None => (DEFAULT_CONTEXT, path),
        };
        if !is_valid_name(context) || !is_valid_name(name) {
            return Err(AddressError::Name);
        }
        let mut channel = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            if let Some(value) = pair.strip_prefix("channel=") {
                channel = Some(match value {
                    "audio" => Channel::Audio,
                    "video" => Channel::Video,
                    "messaging" => Channel::Messaging,
                    other => return Err(AddressError::Channel(other.to_owned())),
                });
            }
        }
        Ok(Address {
            context: context.to_owned(),
            name: name.to_owned(),
            channel,
        })
    }

    /// The address path without channel: `/context/name`.
    pub fn path(&self) -> String {
        format!("/{}/{}", self.context, self.name)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/{}", self.context, self.name)?;
        if let Some(channel) = self.channel {
            write!(f, "?channel={}", channel.as_str())?;
        }
        Ok(())
    }
}

/// Whether `name` can stand as one address segment.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.chars().any(|c| {
            c == '/' || c == '?' || c == '#' || c == '&' || c.is_whitespace() || c.is_control()
        })
}

/// Derives an address name from free text (an email's local part, a display name).
pub fn slug(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(200)
        .collect();
    out = out.trim_matches('-').to_owned();
    if out.is_empty() {
        "user".to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_address_with_channel() {
        let a = Address::parse("/public/room1?channel=video").unwrap();
        assert_eq!(a.context, "public");
        assert_eq!(a.name, "room1");
        assert_eq!(a.channel, Some(Channel::Video));
        assert_eq!(a.to_string(), "/public/room1?channel=video");
    }

    #[test]
    fn short_form_uses_public_context() {
        let a = Address::parse("/Bob").unwrap();
        assert_eq!(a.path(), "/public/Bob");
    }

    #[test]
    fn rejects_bad_shapes() {
        assert_eq!(Address::parse("public/x"), Err(AddressError::Shape));
        assert_eq!(Address::parse("/public/"), Err(AddressError::Name));
        assert_eq!(Address::parse("/a/b/c"), Err(AddressError::Name));
        assert!(matches!(
            Address::parse("/a/b?channel=fax"),
            Err(AddressError::Channel(_))
        ));
    }

    #[test]
    fn slug_keeps_safe_characters() {
        assert_eq!(slug("Alice Smith"), "alice-smith");
        assert_eq!(slug("  "), "user");
        assert_eq!(slug("bob.o_k"), "bob.o_k");
    }
}
