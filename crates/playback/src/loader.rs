//! Loading a playable URL: generated tones, speech and fetched files, with the cache.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weft_audio::tts::TtsCommand;
use weft_audio::{AudioError, DecodeOptions, Pcm, decode_with, ring, silence};
use weft_fetch::{FetchError, Fetcher, Request};

use crate::cache::PcmCache;
use crate::playable::{Playable, PlayableError};

/// What a [`Loader`] needs besides its fetcher.
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    /// The text-to-speech command (`[swml] tts_command`); `None`: `say:` is an error.
    pub tts: Option<TtsCommand>,
    /// How long one text-to-speech run may take.
    pub tts_timeout: Duration,
    /// Bytes of decoded samples the cache keeps (`[swml] media_cache_bytes`).
    pub cache_bytes: usize,
    /// How long a cached file is used before it is fetched again.
    pub cache_max_age: Duration,
    /// The largest file (or speech output) accepted, in bytes.
    pub max_file_bytes: usize,
    /// The longest audio accepted.
    pub max_duration: Duration,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self {
            tts: None,
            tts_timeout: Duration::from_secs(10),
            cache_bytes: 64 << 20,
            cache_max_age: Duration::from_secs(300),
            max_file_bytes: weft_fetch::config::DEFAULT_MAX_BODY_BYTES,
            max_duration: weft_audio::decode::DEFAULT_MAX_DURATION,
        }
    }
}

/// The voice of `say:` (SWML's `say_voice` and `say_language`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Speech {
    /// `say_voice`.
    pub voice: Option<String>,
    /// `say_language`.
    pub language: Option<String>,
}

/// Why a URL could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The URL is not one of the playable forms.
    #[error(transparent)]
    Playable(#[from] PlayableError),
    /// `say:` without a text-to-speech command.
    #[error("say: needs a text-to-speech command ([swml] tts_command); none is configured")]
    NoTts,
    /// The fetch failed (refused, timed out, too large, …).
    #[error("fetching {url}: {error}")]
    Fetch {
        /// The URL, without credentials or query.
        url: String,
        /// Why.
        error: FetchError,
    },
    /// The server answered with an error status.
    #[error("fetching {url}: HTTP status {status}")]
    Status {
        /// The URL, without credentials or query.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The file or speech is not audio this server decodes, or too long.
    #[error("{what}: {error}")]
    Audio {
        /// Which URL (without credentials or query) or `say:`.
        what: String,
        /// Why.
        error: AudioError,
    },
}

/// Loads playable URLs as PCM; one per server, shared by every call.
pub struct Loader {
    fetcher: Fetcher,
    config: LoaderConfig,
    cache: Mutex<PcmCache>,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Loader {
    /// A loader fetching through `fetcher`.
    pub fn new(fetcher: Fetcher, config: LoaderConfig) -> Self {
        let cache = Mutex::new(PcmCache::new(config.cache_bytes, config.cache_max_age));
        Self {
            fetcher,
            config,
            cache,
        }
    }

    /// `url` (a `play` URL, already substituted) as mono PCM at `rate`.
    pub async fn load(&self, url: &str, speech: &Speech, rate: u32) -> Result<Arc<Pcm>, LoadError> {
        let audio = |what: &str| {
            let what = what.to_owned();
            move |error| LoadError::Audio { what, error }
        };
        match Playable::parse(url)? {
            Playable::Silence(duration) => {
                Ok(Arc::new(silence(duration, rate).map_err(audio(url))?))
            }
            Playable::Ring { duration, country } => Ok(Arc::new(
                ring(duration, country.as_deref(), rate).map_err(audio(url))?,
            )),
            Playable::Say(text) => {
                let tts = self.config.tts.as_ref().ok_or(LoadError::NoTts)?;
                let pcm = tts
                    .synthesize(
                        &text,
                        speech.voice.as_deref(),
                        speech.language.as_deref(),
                        rate,
                        self.config.tts_timeout,
                        self.config.max_file_bytes,
                    )
                    .await
                    .map_err(audio("say:"))?;
                Ok(Arc::new(pcm))
            }
            Playable::File(url) => self.file(&url, rate).await,
        }
    }

    async fn file(&self, url: &str, rate: u32) -> Result<Arc<Pcm>, LoadError> {
        if let Some(pcm) = self.cached(url, rate) {
            return Ok(pcm);
        }
        let shown = shown(url);
        let response = self
            .fetcher
            .fetch(Request::get(url))
            .await
            .map_err(|error| LoadError::Fetch {
                url: shown.clone(),
                error,
            })?;
        if !(200..300).contains(&response.status) {
            return Err(LoadError::Status {
                url: shown,
                status: response.status,
            });
        }
        let options = DecodeOptions {
            max_bytes: self.config.max_file_bytes,
            max_duration: self.config.max_duration,
            rate: Some(rate),
        };
        let hint = url.rsplit('/').next().map(str::to_owned);
        let decoded = tokio::task::spawn_blocking(move || {
            decode_with(&response.body, hint.as_deref(), &options)
        })
        .await
        .map_err(|_| LoadError::Audio {
            what: shown.clone(),
            error: AudioError::Malformed("the decoder stopped".into()),
        })?
        .map_err(|error| LoadError::Audio {
            what: shown.clone(),
            error,
        })?;
        let pcm = Arc::new(decoded);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(url, pcm.clone(), Instant::now());
        }
        tracing::debug!(url = %shown, samples = pcm.samples.len(), rate, "playable file loaded");
        Ok(pcm)
    }

    fn cached(&self, url: &str, rate: u32) -> Option<Arc<Pcm>> {
        self.cache.lock().ok()?.get(url, rate, Instant::now())
    }
}

/// `url` for logs and errors: without credentials, query or fragment.
fn shown(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    match without_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => without_query.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_errors_carry_no_secrets() {
        assert_eq!(
            shown("https://user:pw@media.example.com/a.wav?token=x#t"),
            "https://media.example.com/a.wav"
        );
        assert_eq!(shown("http://h/a@b.wav"), "http://h/a@b.wav");
    }
}
