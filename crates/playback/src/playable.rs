//! The forms of a playable URL.

use std::time::Duration;

use weft_audio::tone::MAX_GENERATED;

/// One `play` URL, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Playable {
    /// `silence:<seconds>`.
    Silence(Duration),
    /// `ring:<seconds>[:<country>]`: the country's ringback cadence.
    Ring {
        /// How long.
        duration: Duration,
        /// ISO country code, e.g. `gb`; `None`: the US cadence.
        country: Option<String>,
    },
    /// `say:<text>`.
    Say(String),
    /// An `http://` or `https://` file.
    File(String),
}

/// Why a URL is not playable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlayableError {
    /// Not one of the forms.
    #[error("`{0}` is not playable: expected an http(s) URL, say:, silence: or ring:")]
    Unknown(String),
    /// A duration that is not a number of seconds from 0 to 600.
    #[error("`{0}`: the duration must be a number of seconds from 0 to 600")]
    Duration(String),
    /// `say:` with nothing to say.
    #[error("say: needs text")]
    EmptySay,
}

impl Playable {
    /// Parses a `play` URL (already substituted).
    pub fn parse(url: &str) -> Result<Playable, PlayableError> {
        let url = url.trim();
        let (scheme, rest) = url
            .split_once(':')
            .ok_or_else(|| PlayableError::Unknown(url.to_owned()))?;
        match scheme.to_ascii_lowercase().as_str() {
            "silence" => Ok(Playable::Silence(seconds(rest, url)?)),
            "ring" => {
                let (duration, country) = match rest.split_once(':') {
                    Some((d, c)) => (d, Some(c.trim().to_ascii_lowercase())),
                    None => (rest, None),
                };
                Ok(Playable::Ring {
                    duration: seconds(duration, url)?,
                    country: country.filter(|c| !c.is_empty()),
                })
            }
            "say" if rest.trim().is_empty() => Err(PlayableError::EmptySay),
            "say" => Ok(Playable::Say(rest.to_owned())),
            "http" | "https" => Ok(Playable::File(url.to_owned())),
            _ => Err(PlayableError::Unknown(url.to_owned())),
        }
    }
}

fn seconds(text: &str, url: &str) -> Result<Duration, PlayableError> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| PlayableError::Duration(url.to_owned()))?;
    if !(0.0..=MAX_GENERATED.as_secs_f64()).contains(&value) {
        return Err(PlayableError::Duration(url.to_owned()));
    }
    Ok(Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses() {
        assert_eq!(
            Playable::parse("silence:2.5"),
            Ok(Playable::Silence(Duration::from_millis(2_500)))
        );
        assert_eq!(
            Playable::parse("ring:10"),
            Ok(Playable::Ring {
                duration: Duration::from_secs(10),
                country: None
            })
        );
        assert_eq!(
            Playable::parse("ring:3:GB"),
            Ok(Playable::Ring {
                duration: Duration::from_secs(3),
                country: Some("gb".into())
            })
        );
        assert_eq!(
            Playable::parse("say:Hello: world"),
            Ok(Playable::Say("Hello: world".into()))
        );
        assert_eq!(
            Playable::parse(" https://media.example.com/a.wav "),
            Ok(Playable::File("https://media.example.com/a.wav".into()))
        );
    }

    #[test]
    fn what_is_not_playable_says_why() {
        for bad in ["", "tone:5", "/local/file.wav", "ftp://x/a.wav"] {
            assert!(
                matches!(Playable::parse(bad), Err(PlayableError::Unknown(_))),
                "{bad}"
            );
        }
        for bad in [
            "silence:",
            "silence:-1",
            "silence:601",
            "ring:x",
            "silence:NaN",
        ] {
            assert!(
                matches!(Playable::parse(bad), Err(PlayableError::Duration(_))),
                "{bad}"
            );
        }
        assert_eq!(Playable::parse("say:  "), Err(PlayableError::EmptySay));
    }
}
