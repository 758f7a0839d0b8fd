//! Text-to-speech through an external command, for SWML's `say:`.
//!
//! The command (`[swml] tts_command`; by default `espeak-ng` when it is installed) is run
//! directly, never through a shell, with espeak-ng's arguments:
//!
//! ```text
//! <program> <fixed arguments> --stdout [-v <voice>] -- <text>
//! ```
//!
//! It must write one WAV file to its standard output. Another synthesizer can stand in through a
//! wrapper script that takes these arguments; the wrapper should `exec` the synthesizer, since a
//! timeout kills the command itself, not its children.
//!
//! # Voices
//!
//! SWML's `say_voice` names a cloud voice (`Polly.Salli`, `gcloud.en-US-Standard-C`,
//! `en-US-Wavenet-D`) that espeak-ng does not have, so it is ignored, except for
//! `espeak.<name>`, which selects the espeak-ng voice `<name>` (for example `espeak.en-us+f3`;
//! letters, digits, `-`, `_` and `+` only). Otherwise `say_language`, a BCP 47 tag, chooses the
//! voice ([`language_voice`]):
//!
//! | `say_language` | espeak-ng voice |
//! | --- | --- |
//! | `en-US` | `en-us` |
//! | `en-GB` | `en-gb` |
//! | other English (`en-AU`, `en-IN`, `en`) | `en` |
//! | `es-ES`, `es` | `es` |
//! | Spanish of any other region (`es-MX`, `es-US`, `es-419`) | `es-419` |
//! | `pt-BR` | `pt-br` |
//! | `fr-BE`, `fr-CH` | `fr-be`, `fr-ch` |
//! | `zh-HK`, `zh-MO`, `yue…` | `yue` (Cantonese) |
//! | other Chinese (`zh-CN`, `zh-TW`, `zh`, `cmn…`) | `cmn` (Mandarin) |
//! | anything else (`fr-FR`, `fr-CA`, `pt-PT`, `de-DE`, `ja-JP`) | the language subtag (`fr`, `pt`, `de`, `ja`) |
//!
//! A value that is not a language tag is ignored. With neither, no `-v` is passed and espeak-ng
//! speaks with its default voice (English).

use std::borrow::Cow;
use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use crate::decode::{DEFAULT_MAX_DURATION, DecodeOptions, decode_with};
use crate::error::AudioError;
use crate::pcm::{Pcm, rate_supported};

/// The command used when none is configured, if it is installed.
pub const DEFAULT_PROGRAM: &str = "espeak-ng";
/// Longest text synthesized at once, in bytes (UTF-8).
pub const MAX_TEXT_BYTES: usize = 4096;
/// The `say_voice` prefix that names an espeak-ng voice (`espeak.en-us+f3`).
pub const ESPEAK_VOICE_PREFIX: &str = "espeak.";
/// Longest voice name or language tag used.
const MAX_NAME_LEN: usize = 64;
/// How much of the command's standard error an error message keeps, in bytes.
const STDERR_KEPT: usize = 512;

/// Why text-to-speech failed.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    /// The configured command line does not parse.
    #[error("invalid command line: {0}")]
    BadCommand(String),
    /// The text is empty or white space only.
    #[error("there is no text to say")]
    EmptyText,
    /// The text is longer than [`MAX_TEXT_BYTES`].
    #[error("text of {size} bytes exceeds the limit of {limit} bytes")]
    TextTooLong {
        /// The text's size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The command could not be started (not installed, not executable).
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why it did not start.
        source: std::io::Error,
    },
    /// The command did not finish in time; it was killed.
    #[error("`{program}` did not finish within {} s", limit.as_secs_f64())]
    Timeout {
        /// The program.
        program: String,
        /// The time it was given.
        limit: Duration,
    },
    /// The command wrote more than the byte limit; it was killed.
    #[error("`{program}` wrote more than {limit} bytes")]
    OutputTooLarge {
        /// The program.
        program: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The command exited unsuccessfully.
    #[error("`{program}` failed ({status}): {stderr}")]
    Failed {
        /// The program.
        program: String,
        /// How it exited.
        status: ExitStatus,
        /// The start of what it wrote to standard error.
        stderr: String,
    },
    /// The command succeeded but wrote nothing.
    #[error("`{program}` wrote no audio")]
    NoAudio {
        /// The program.
        program: String,
    },
}

/// A text-to-speech command: a program and fixed arguments, run without a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtsCommand {
    program: String,
    args: Vec<String>,
}

impl TtsCommand {
    /// Parses a command line such as `espeak-ng -s 150` or `/opt/tts/say --voice 'my voice'`:
    /// words split at white space; `'…'` quotes literally; `"…"` quotes with `\"` and `\\`
    /// escapes; a backslash outside quotes escapes the next character. Nothing else is special:
    /// there is no shell, so `;`, `|`, `$` and `*` are ordinary characters.
    pub fn parse(command_line: &str) -> Result<TtsCommand, AudioError> {
        let mut words = split_words(command_line).map_err(TtsError::BadCommand)?;
        if words.is_empty() {
            return Err(TtsError::BadCommand("it is empty".into()).into());
        }
        let program = words.remove(0);
        if program.is_empty() {
            return Err(TtsError::BadCommand("the program name is empty".into()).into());
        }
        Ok(TtsCommand {
            program,
            args: words,
        })
    }

    /// The program: a name looked up in `PATH`, or a path.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The fixed arguments given after the program.
    pub fn fixed_arguments(&self) -> &[String] {
        &self.args
    }

    /// The arguments after the program for saying `text`: the fixed arguments, `--stdout`,
    /// `-v <voice>` when [`espeak_voice`] finds one, `--`, and the text as one argument, with
    /// control characters (line breaks, NUL) turned into spaces.
    pub fn arguments(
        &self,
        voice: Option<&str>,
        language: Option<&str>,
        text: &str,
    ) -> Vec<OsString> {
        let mut argv: Vec<OsString> = self.args.iter().map(OsString::from).collect();
        argv.push("--stdout".into());
        if let Some(voice) = espeak_voice(voice, language) {
            argv.push("-v".into());
            argv.push(voice.into());
        }
        argv.push("--".into());
        argv.push(speakable(text).into_owned().into());
        argv
    }

    /// Says `text` and returns the speech at `rate` Hz. The command runs with no standard input
    /// and is killed when `timeout` passes, when it writes more than `max_bytes`, or when the
    /// returned future is dropped. A failure's error carries the start of its standard error.
    pub async fn synthesize(
        &self,
        text: &str,
        voice: Option<&str>,
        language: Option<&str>,
        rate: u32,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Pcm, AudioError> {
        check_text(text)?;
        if !rate_supported(rate) {
            return Err(AudioError::InvalidParameter("output rate out of range"));
        }
        let mut child = Command::new(&self.program)
            .args(self.arguments(voice, language, text))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| TtsError::Spawn {
                program: self.program.clone(),
                source,
            })?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            stop(&mut child).await;
            return Err(AudioError::Io(std::io::Error::other(
                "the command's output pipes are missing",
            )));
        };
        let run = async {
            let (wav, errors) = tokio::try_join!(
                read_capped(stdout, max_bytes, &self.program),
                read_head(stderr, STDERR_KEPT),
            )?;
            let status = child.wait().await?;
            Ok::<_, AudioError>((wav, errors, status))
        };
        let (wav, errors, status) = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(finished)) => finished,
            Ok(Err(error)) => {
                stop(&mut child).await;
                return Err(error);
            }
            Err(_) => {
                stop(&mut child).await;
                return Err(TtsError::Timeout {
                    program: self.program.clone(),
                    limit: timeout,
                }
                .into());
            }
        };
        if !status.success() {
            return Err(TtsError::Failed {
                program: self.program.clone(),
                status,
                stderr: summarize(&errors),
            }
            .into());
        }
        if wav.is_empty() {
            return Err(TtsError::NoAudio {
                program: self.program.clone(),
            }
            .into());
        }
        let options = DecodeOptions {
            max_bytes,
            max_duration: DEFAULT_MAX_DURATION,
            rate: Some(rate),
        };
        decode_with(&wav, Some("wav"), &options)
    }
}

/// Whether `text` can be said: not empty, at most [`MAX_TEXT_BYTES`].
pub fn check_text(text: &str) -> Result<(), TtsError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(TtsError::TextTooLong {
            size: text.len(),
            limit: MAX_TEXT_BYTES,
        });
    }
    if text.trim().is_empty() {
        return Err(TtsError::EmptyText);
    }
    Ok(())
}

/// The espeak-ng voice for SWML's `say_voice` and `say_language`: the voice when it is
/// `espeak.<name>`, else the language's voice ([`language_voice`]), else none.
pub fn espeak_voice(voice: Option<&str>, language: Option<&str>) -> Option<String> {
    voice
        .and_then(named_espeak_voice)
        .or_else(|| language.and_then(language_voice))
}

/// The espeak-ng voice for a BCP 47 language tag (`en-US` → `en-us`, `fr-FR` → `fr`; the table
/// is in the [module documentation](self)); `None` when `tag` is not a language tag.
pub fn language_voice(tag: &str) -> Option<String> {
    let tag = tag.trim().replace('_', "-").to_ascii_lowercase();
    let mut subtags = tag.split('-');
    let language = subtags.next()?;
    let region = subtags.next();
    let valid = tag.len() <= MAX_NAME_LEN
        && (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_lowercase())
        && tag
            .split('-')
            .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !valid {
        return None;
    }
    let voice = match (language, region) {
        ("en", Some("us")) => "en-us",
        ("en", Some("gb")) => "en-gb",
        ("es", None | Some("es")) => "es",
        ("es", Some(_)) => "es-419",
        ("pt", Some("br")) => "pt-br",
        ("fr", Some("be")) => "fr-be",
        ("fr", Some("ch")) => "fr-ch",
        ("zh", Some("hk" | "mo")) | ("yue", _) => "yue",
        ("zh" | "cmn", _) => "cmn",
        (language, _) => language,
    };
    Some(voice.to_owned())
}

/// Whether `program` is an executable file: a path as given, or a name in a directory of
/// `PATH`.
pub fn installed(program: &str) -> bool {
    if program.contains('/') {
        return is_executable(Path::new(program));
    }
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| is_executable(&dir.join(program)))
    })
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// `espeak.<name>` as `<name>`, when the name is a plain espeak-ng voice name.
fn named_espeak_voice(voice: &str) -> Option<String> {
    let voice = voice.trim();
    let prefix = voice.get(..ESPEAK_VOICE_PREFIX.len())?;
    if !prefix.eq_ignore_ascii_case(ESPEAK_VOICE_PREFIX) {
        return None;
    }
    let name = &voice[ESPEAK_VOICE_PREFIX.len()..];
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+'));
    valid.then(|| name.to_owned())
}

/// `text` with control characters replaced by spaces.
fn speakable(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(
            text.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// Splits a command line into words (see [`TtsCommand::parse`]).
fn split_words(line: &str) -> Result<Vec<String>, String> {
    if line.contains('\0') {
        return Err("it contains a NUL character".into());
    }
    let mut words = Vec::new();
    // `Some` once a word has started, so that `''` is an empty word.
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a single quote is not closed".into()),
                    }
                }
            }
            '"' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a double quote is not closed".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a double quote is not closed".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("it ends with a backslash".into()),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// Reads all of `out`, failing once it exceeds `limit` bytes.
async fn read_capped(
    out: impl AsyncRead + Unpin,
    limit: usize,
    program: &str,
) -> Result<Vec<u8>, AudioError> {
    let mut bytes = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    out.take(cap).read_to_end(&mut bytes).await?;
    if bytes.len() > limit {
        return Err(TtsError::OutputTooLarge {
            program: program.to_owned(),
            limit,
        }
        .into());
    }
    Ok(bytes)
}

/// Reads all of `out` (so that the command never blocks on it) and keeps the first `keep`
/// bytes, plus one when there was more.
async fn read_head(mut out: impl AsyncRead + Unpin, keep: usize) -> Result<Vec<u8>, AudioError> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = out.read(&mut buf).await?;
        if n == 0 {
            return Ok(kept);
        }
        let room = (keep + 1).saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
}

/// The start of a command's standard error as one line of text for an error message.
fn summarize(stderr: &[u8]) -> String {
    let truncated = stderr.len() > STDERR_KEPT;
    let text = String::from_utf8_lossy(&stderr[..stderr.len().min(STDERR_KEPT)]);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match (line.is_empty(), truncated) {
        (true, _) => "no error output".into(),
        (false, true) => format!("{line} …"),
        (false, false) => line,
    }
}

/// Kills the command and reaps it. An error means that it has exited already.
async fn stop(child: &mut Child) {
    let _ = child.kill().await;
}

#[cfg(test)]
mod tests;
