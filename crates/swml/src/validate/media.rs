//! Parameters of the media methods: `play`, `prompt`, `record`, `record_call`,
//! `stop_record_call`, `send_digits`, `denoise`, `stop_denoise`, `tap`, `stop_tap`, `stream`,
//! `stop_stream`.

use serde_json::Value;

use super::path::Path;
use super::shape::{
    Check, INT, Kind, NUM, Param, describe, exactly_one, fields, has_var, is_var, kinds, known,
    param, string,
};
use super::structure::Cx;

/// Gain in dB, -40 to 40.
const VOLUME: Kind = Kind::Num {
    min: -40.0,
    max: 40.0,
};

const SAY: &[Param] = &[
    param("volume", VOLUME),
    param("say_voice", Kind::Str),
    param("say_language", Kind::Str),
    param("say_gender", Kind::Str),
    param("status_url", Kind::Str),
];

const PLAY: &[Param] = &[
    param("url", Kind::With(playable)),
    param("urls", Kind::With(playables)),
    param("auto_answer", Kind::Bool),
];

/// `play {url* | urls*, volume, say_voice, say_language, say_gender, auto_answer, status_url}`.
pub(crate) fn play(value: &Value, at: &Path, cx: &Cx) -> Check {
    let map = known(value, at, "`play`", &[PLAY, SAY])?;
    exactly_one(map, at, &["url", "urls"])?;
    kinds(map, at, &[PLAY, SAY], cx)
}

const PROMPT: &[Param] = &[
    param("play", Kind::With(prompt_play)),
    param(
        "max_digits",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
    ),
    param("terminators", Kind::With(terminators)),
    param("digit_timeout", NUM),
    param("initial_timeout", NUM),
    param("speech_timeout", NUM),
    param("speech_end_timeout", NUM),
    param("speech_language", Kind::Str),
    param("speech_hints", Kind::Strings),
    param("speech_engine", Kind::Str),
];

/// `prompt {play*, max_digits, terminators, digit_timeout, initial_timeout, speech_*, volume,
/// say_*, status_url}`.
pub(crate) fn prompt(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`prompt`", &[PROMPT, SAY], &["play"], cx)
}

/// What `prompt` plays: one playable URL or an array of them.
fn prompt_play(value: &Value, at: &Path, cx: &Cx) -> Check {
    match value {
        Value::Array(_) => playables(value, at, cx),
        _ => playable(value, at, cx),
    }
}

/// A non-empty array of playable URLs.
fn playables(value: &Value, at: &Path, cx: &Cx) -> Check {
    match value {
        Value::Array(urls) if !urls.is_empty() => {
            for (index, url) in urls.iter().enumerate() {
                playable(url, &at.index(index), cx)?;
            }
            Ok(())
        }
        other => Err(at.invalid(format!(
            "expected a non-empty array of playable URLs, got {}",
            describe(other)
        ))),
    }
}

/// A playable URL: `http(s)://…`, `say:<text>`, `silence:<seconds>`,
/// `ring:[<seconds>:]<country>`, or one with a `%{…}` variable in it.
fn playable(value: &Value, at: &Path, _cx: &Cx) -> Check {
    let url = string(value, at)?;
    if is_playable(url) || has_var(url) {
        return Ok(());
    }
    Err(at.invalid(format!(
        "expected a playable URL (http:// or https://…, say:<text>, silence:<seconds>, ring:[<seconds>:]<country code>) or a variable, got {}",
        describe(value)
    )))
}

/// The schema's `play_url` pattern:
/// `^(http://.*|https://.*|ring: ?[0-9.]*: ?[a-zA-Z]{2}|say: ?.*|silence: ?[0-9.]*|ring: ?[a-zA-Z]{2})$`.
fn is_playable(url: &str) -> bool {
    let seconds = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let country = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic());
    let after = |prefix: &str| {
        url.strip_prefix(prefix)
            .map(|rest| rest.strip_prefix(' ').unwrap_or(rest))
    };
    if url.starts_with("http://") || url.starts_with("https://") || url.starts_with("say:") {
        return true;
    }
    if let Some(rest) = after("silence:") {
        return seconds(rest);
    }
    if let Some(rest) = after("ring:") {
        return country(rest)
            || rest.split_once(':').is_some_and(|(secs, code)| {
                seconds(secs) && country(code.strip_prefix(' ').unwrap_or(code))
            });
    }
    false
}

/// DTMF keys that may end input: `0-9`, `*`, `#`, `A-D`.
fn terminators(value: &Value, at: &Path, _cx: &Cx) -> Check {
    dtmf(value, at, crate::dtmf::KEYS, "DTMF keys (0-9, *, #, A-D)")
}

/// A string of the characters in `allowed` (or with a variable in it).
fn dtmf(value: &Value, at: &Path, allowed: &str, expected: &str) -> Check {
    let text = string(value, at)?;
    if has_var(text) || text.chars().all(|c| allowed.contains(c)) {
        return Ok(());
    }
    Err(at.invalid(format!("expected {expected}, got {}", describe(value))))
}

const RECORDING: &[Param] = &[
    param("stereo", Kind::Bool),
    param("format", Kind::OneOf(&["wav", "mp3", "mp4"])),
    param("terminators", Kind::With(terminators)),
    param("beep", Kind::Bool),
    param("input_sensitivity", NUM),
    param("initial_timeout", NUM),
    param("end_silence_timeout", NUM),
    param("max_length", NUM),
    param("status_url", Kind::Str),
];

const RECORD: &[Param] = &[param("direction", Kind::OneOf(&["speak", "listen"]))];

/// `record {stereo, format, direction speak|listen, terminators, beep, input_sensitivity,
/// initial_timeout, end_silence_timeout, max_length, status_url}`.
pub(crate) fn record(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`record`", &[RECORD, RECORDING], &[], cx)
}

const RECORD_CALL: &[Param] = &[
    param("control_id", Kind::Str),
    param("direction", Kind::OneOf(&["speak", "listen", "both"])),
];

/// `record_call {control_id, direction speak|listen|both, and the options of `record`}`.
pub(crate) fn record_call(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(
        value,
        at,
        "`record_call`",
        &[RECORD_CALL, RECORDING],
        &[],
        cx,
    )
}

const CONTROL_ID: &[Param] = &[param("control_id", Kind::Str)];

/// `stop_record_call {control_id}`.
pub(crate) fn stop_record_call(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`stop_record_call`", &[CONTROL_ID], &[], cx)
}

const SEND_DIGITS: &[Param] = &[param("digits", Kind::With(digits))];

/// `send_digits {digits*}`.
pub(crate) fn send_digits(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`send_digits`", &[SEND_DIGITS], &["digits"], cx)
}

/// Digits to send: at least one of `0-9`, `*`, `#`, `A-D`, `W` (wait 1 s), `w` (wait 0.5 s).
fn digits(value: &Value, at: &Path, _cx: &Cx) -> Check {
    let expected = "digits to send (0-9, *, #, A-D; W waits 1 s, w 0.5 s)";
    if value.as_str().is_some_and(str::is_empty) {
        return Err(at.invalid(format!("expected {expected}, got an empty string")));
    }
    dtmf(value, at, crate::dtmf::SEND_DIGITS, expected)
}

/// `denoise {}`.
pub(crate) fn denoise(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`denoise`", &[], &[], cx)
}

/// `stop_denoise {}`.
pub(crate) fn stop_denoise(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`stop_denoise`", &[], &[], cx)
}

const TAP: &[Param] = &[
    param("uri", Kind::With(tap_uri)),
    param("control_id", Kind::Str),
    param("direction", Kind::OneOf(&["speak", "listen", "both"])),
    param("codec", Kind::OneOf(&["PCMU", "PCMA"])),
    param("rtp_ptime", INT),
    param("status_url", Kind::Str),
];

/// `tap {uri*, control_id, direction, codec, rtp_ptime, status_url}`.
pub(crate) fn tap(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`tap`", &[TAP], &["uri"], cx)
}

/// Where `tap` sends audio: `rtp://ip:port`, `ws://…` or `wss://…`.
fn tap_uri(value: &Value, at: &Path, _cx: &Cx) -> Check {
    scheme(value, at, &["rtp://", "ws://", "wss://"])
}

/// `stop_tap {control_id}`.
pub(crate) fn stop_tap(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`stop_tap`", &[CONTROL_ID], &[], cx)
}

const STREAM: &[Param] = &[
    param("url", Kind::With(stream_url)),
    param("control_id", Kind::Str),
    param("name", Kind::Str),
    param(
        "track",
        Kind::OneOf(&["inbound_track", "outbound_track", "both_tracks"]),
    ),
    param("codec", Kind::Str),
    param("status_url", Kind::Str),
    param("status_url_method", Kind::OneOf(&["GET", "POST"])),
    param("authorization_bearer_token", Kind::Str),
    param("custom_parameters", Kind::StrMap),
];

/// `stream {url*, control_id, name, track, codec, status_url, status_url_method,
/// authorization_bearer_token, custom_parameters}`.
pub(crate) fn stream(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`stream`", &[STREAM], &["url"], cx)
}

/// Where `stream` sends audio: a WebSocket URL.
fn stream_url(value: &Value, at: &Path, _cx: &Cx) -> Check {
    scheme(value, at, &["wss://", "ws://"])
}

/// `stop_stream {control_id}`.
pub(crate) fn stop_stream(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`stop_stream`", &[CONTROL_ID], &[], cx)
}

/// A URL with one of `schemes`, or a variable.
fn scheme(value: &Value, at: &Path, schemes: &[&str]) -> Check {
    let url = string(value, at)?;
    if is_var(url) || schemes.iter().any(|s| url.starts_with(s)) {
        return Ok(());
    }
    Err(at.invalid(format!(
        "expected a URL starting with {} or a variable, got {}",
        schemes.join(" or "),
        describe(value)
    )))
}

#[cfg(test)]
mod tests {
    use super::is_playable;

    #[test]
    fn playable_urls_follow_the_schema_pattern() {
        for ok in [
            "https://example.com/a.wav",
            "http://example.com/a.mp3",
            "say:Hello",
            "say: Hello",
            "silence:2",
            "silence: 1.5",
            "ring:us",
            "ring:20:us",
            "ring: 2.5: gb",
        ] {
            assert!(is_playable(ok), "{ok}");
        }
        for bad in [
            "ftp://example.com/a.wav",
            "/tmp/a.wav",
            "silence:x",
            "ring:20",
            "ring:usa",
            "Say:hi",
            "",
        ] {
            assert!(!is_playable(bad), "{bad}");
        }
    }
}
