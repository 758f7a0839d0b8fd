//! What the interpreter asks the call controller to do, read from a method's substituted
//! parameters with the defaults of the SWML reference.

use std::time::Duration;

use serde_json::{Map, Value};

use super::Ending;
use super::params::{ParamError, Params, text};

/// What the interpreter asks the call controller to do.
///
/// The controller carries out every action except [`Action::Finished`] and then calls
/// [`Interpreter::resume`](super::Interpreter::resume) with its [`Outcome`](super::Outcome)
/// before the next [`Interpreter::next_action`](super::Interpreter::next_action). Each variant says which
/// outcomes it expects; [`Outcome::Done`](super::Outcome::Done) is always understood, and
/// calling `next_action` without `resume` counts as `Done`.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `answer`: answer the call. Outcome: `Done`, or `Failed` (the script goes on).
    Answer {
        /// The longest the call may last (`max_duration`, 4 hours by default).
        max_duration: Duration,
        /// The codecs to offer, in order (`codecs`, comma-separated); empty: the server's choice.
        codecs: Vec<String>,
    },
    /// `hangup`: end the call. Outcome: `Done` once it is hung up; the next `next_action` is
    /// `Finished` with [`Ending::Hangup`].
    Hangup {
        /// The reason (`reason`).
        reason: HangupReason,
    },
    /// `play`: play the URLs in order. Outcome: `Done` once played, or `Failed` (the script
    /// goes on).
    Play(Play),
    /// `prompt`: play while collecting DTMF digits. Outcome: `Digits` (empty digits: no
    /// input), or `Failed`; sets `prompt_result`, `prompt_value`, `prompt_digit_terminator`.
    Prompt(Prompt),
    /// `sleep`: wait. Outcome: `Done` when the time is up.
    Sleep {
        /// How long; `None` is forever (`-1`).
        duration: Option<Duration>,
    },
    /// `record`: a foreground, voicemail-style recording. Outcome: `Recorded` when it ends,
    /// or `Failed`; sets `record_url`, `record_result`.
    Record(Record),
    /// `record_call`: start a background recording and go on at once. Outcome:
    /// `RecordingStarted`, or `Failed`; sets `record_call_url`, `record_call_result`,
    /// `record_control_id`.
    RecordCall(RecordCall),
    /// `stop_record_call`: stop a background recording. Outcome: `Done`.
    StopRecordCall {
        /// Which one (`control_id`); `None`: the most recent one.
        control_id: Option<String>,
    },
    /// `send_digits`: send DTMF (`0-9*#ABCD`; `w` waits 0.5 s, `W` 1 s). Outcome: `Done`.
    SendDigits {
        /// The digits (`digits`).
        digits: String,
    },
    /// `connect`: dial and bridge; the outcome comes when the bridge has ended (or the dial
    /// failed). Outcome: `Done` (connected) or `Failed` with the reason; sets
    /// `connect_result`, `connect_failed_reason`, `return_value`, then runs `result`.
    Connect(Connect),
    /// `join_room`: put the caller into a video room until it leaves. Outcome: `Done`
    /// (joined) or `Failed`; sets `join_room_result`.
    JoinRoom {
        /// The room's name (`name`, `A-Za-z0-9_-`).
        name: String,
    },
    /// `request`: an HTTP request. Outcome: `Response`, or `Failed` (no response: refused,
    /// timed out); sets `request_*` (and `request_response.*` with `save_variables`).
    Request(Request),
    /// `execute`/`transfer` to an http(s) URL: POST `payload` (the webhook payload
    /// `{call, vars, envs, params}`) to `url` and parse the reply as SWML. Outcome:
    /// `Document`, or `Failed` (the fetch failed or the reply is not valid SWML), which ends
    /// the script.
    Fetch {
        /// Where to POST.
        url: String,
        /// The JSON body.
        payload: Value,
    },
    /// `user_event`: send an event to the client. Outcome: `Done`.
    UserEvent {
        /// The event (`event`), any JSON.
        event: Value,
    },
    /// `denoise`: may be a no-op. Outcome: `Done`.
    Denoise,
    /// `stop_denoise`: may be a no-op. Outcome: `Done`.
    StopDenoise,
    /// A method Weft does not run (e.g. `tap`, `ai`, `send_sms`): the controller logs it.
    /// Outcome: `Done`; the script goes on with the next method.
    Unsupported {
        /// The method's name.
        method: String,
    },
    /// The script has ended; no outcome. Every later `next_action` returns this again.
    Finished {
        /// Why.
        ending: Ending,
    },
}

/// The reason of a `hangup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HangupReason {
    /// A normal hangup (the default).
    #[default]
    Hangup,
    /// The callee is busy.
    Busy,
    /// The call is declined.
    Decline,
}

/// Text-to-speech settings for `say:` URLs: the method's `say_*` parameters, else the
/// variables of the same names, else the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Say {
    /// `say_voice` (`Polly.Salli`).
    pub voice: String,
    /// `say_language` (`en-US`).
    pub language: String,
    /// `say_gender` (`female`).
    pub gender: String,
}

/// `play`.
#[derive(Debug, Clone, PartialEq)]
pub struct Play {
    /// What to play, in order (`url` or `urls`): http(s) files, `say:<text>`,
    /// `silence:<seconds>`, `ring:<seconds>[:<country>]`.
    pub urls: Vec<String>,
    /// Gain in dB, -40 to 40 (`volume`, 0).
    pub volume: f64,
    /// For `say:` URLs.
    pub say: Say,
    /// Answer the call first if it is not answered yet (`auto_answer`, true).
    pub auto_answer: bool,
}

/// `prompt` (DTMF; the speech parameters are not read).
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// What to play while waiting (`play`), as in [`Play::urls`].
    pub play: Vec<String>,
    /// Gain in dB (`volume`, 0).
    pub volume: f64,
    /// For `say:` URLs.
    pub say: Say,
    /// How many digits to collect (`max_digits`, 1).
    pub max_digits: u32,
    /// Digits that end the input early (`terminators`, none).
    pub terminators: String,
    /// The longest wait between digits (`digit_timeout`, 5 s).
    pub digit_timeout: Duration,
    /// The longest wait for the first digit (`initial_timeout`, 5 s).
    pub initial_timeout: Duration,
}

/// Which audio a recording takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// What the caller says.
    Speak,
    /// What the caller hears.
    Listen,
    /// Both.
    Both,
}

/// `record`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Play a beep first (`beep`, false).
    pub beep: bool,
    /// Digits that end the recording (`terminators`, `#`).
    pub terminators: String,
    /// The longest wait for speech to start (`initial_timeout`, 4 s).
    pub initial_timeout: Duration,
    /// The silence that ends the recording (`end_silence_timeout`, 5 s).
    pub end_silence_timeout: Duration,
    /// The longest recording (`max_length`); `None`: no limit but the call's.
    pub max_length: Option<Duration>,
    /// The requested format (`format`, `wav`).
    pub format: String,
    /// What to record (`direction`, speak).
    pub direction: Direction,
    /// Two channels (`stereo`, false).
    pub stereo: bool,
}

/// `record_call`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordCall {
    /// The recording's id (`control_id`); `None`: the controller makes one.
    pub control_id: Option<String>,
    /// What to record (`direction`, both).
    pub direction: Direction,
    /// The requested format (`format`, `wav`).
    pub format: String,
    /// Two channels (`stereo`, false).
    pub stereo: bool,
    /// Play a beep first (`beep`, false).
    pub beep: bool,
    /// Digits that stop the recording (`terminators`, none).
    pub terminators: String,
}

/// One destination of a `connect`.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    /// A Fabric address (`/public/room`), a `sip:` URI, a number, …
    pub to: String,
    /// This destination's caller id, over [`Connect::from`].
    pub from: Option<String>,
    /// This destination's answer timeout, over [`Connect::timeout`].
    pub timeout: Option<Duration>,
}

/// A SIP header to add to the INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header's name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// `connect`.
#[derive(Debug, Clone, PartialEq)]
pub struct Connect {
    /// The dial plan: groups tried one after the other; the destinations of a group are
    /// called at the same time and the first to answer wins. `to` is one group of one,
    /// `serial` groups of one, `parallel` one group, `serial_parallel` as written.
    pub dial: Vec<Vec<Destination>>,
    /// How long to wait for an answer (`timeout`, 60 s).
    pub timeout: Duration,
    /// Answer the caller only when the callee answers (`answer_on_bridge`, false).
    pub answer_on_bridge: bool,
    /// The caller id (`from`); `None`: the caller's.
    pub from: Option<String>,
    /// SIP headers (`headers`, `[{name, value}]`).
    pub headers: Vec<Header>,
    /// What to play while ringing (`ringback`), as in [`Play::urls`]; empty: a ring tone.
    pub ringback: Vec<String>,
}

/// The method of a `request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
}

/// `request`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The URL (`url`).
    pub url: String,
    /// The method (`method`).
    pub method: HttpMethod,
    /// Headers (`headers`, an object), in the script's order.
    pub headers: Vec<(String, String)>,
    /// The body (`body`): a string as written, an object or array as JSON text. Without a
    /// `Content-Type` header the controller picks one from the first non-blank character.
    pub body: Option<String>,
    /// The longest wait for the response (`timeout`, 5 s).
    pub timeout: Duration,
    /// The longest wait for the connection (`connect_timeout`, 5 s).
    pub connect_timeout: Duration,
}

/// The action for a method that is not flow control, from its substituted `params`; `vars`
/// supplies the `say_*` defaults.
pub(super) fn parse(
    method: &str,
    params: &Value,
    vars: &Map<String, Value>,
) -> Result<Action, ParamError> {
    let action = match method {
        "answer" => answer(&Params::new(params)?)?,
        "hangup" => hangup(&Params::new(params)?)?,
        "play" => Action::Play(play(&Params::new(params)?, vars)?),
        "prompt" => Action::Prompt(prompt(&Params::new(params)?, vars)?),
        "sleep" => sleep(params)?,
        "record" => Action::Record(record(&Params::new(params)?)?),
        "record_call" => Action::RecordCall(record_call(&Params::new(params)?)?),
        "stop_record_call" => Action::StopRecordCall {
            control_id: Params::new(params)?
                .string("control_id")?
                .filter(|s| !s.is_empty()),
        },
        "send_digits" => send_digits(&Params::new(params)?)?,
        "connect" => Action::Connect(connect(&Params::new(params)?)?),
        "join_room" => join_room(&Params::new(params)?)?,
        "request" => Action::Request(request(&Params::new(params)?)?),
        "user_event" => Action::UserEvent {
            event: Params::new(params)?
                .get("event")
                .cloned()
                .ok_or_else(|| ParamError::new("event", "is required"))?,
        },
        "denoise" => Action::Denoise,
        "stop_denoise" => Action::StopDenoise,
        other => Action::Unsupported {
            method: other.to_owned(),
        },
    };
    Ok(action)
}

fn answer(p: &Params) -> Result<Action, ParamError> {
    let codecs = p
        .string("codecs")?
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Action::Answer {
        max_duration: p.seconds("max_duration", Duration::from_secs(14_400))?,
        codecs,
    })
}

fn hangup(p: &Params) -> Result<Action, ParamError> {
    let reason = match p.string("reason")?.as_deref() {
        None | Some("" | "hangup") => HangupReason::Hangup,
        Some("busy") => HangupReason::Busy,
        Some("decline") => HangupReason::Decline,
        Some(_) => return Err(ParamError::new("reason", "expects hangup, busy or decline")),
    };
    Ok(Action::Hangup { reason })
}

fn say(p: &Params, vars: &Map<String, Value>) -> Result<Say, ParamError> {
    let setting = |key: &str, default: &str| -> Result<String, ParamError> {
        let from_vars = vars.get(key).and_then(text).filter(|s| !s.is_empty());
        Ok(p.string(key)?
            .filter(|s| !s.is_empty())
            .or(from_vars)
            .unwrap_or_else(|| default.to_owned()))
    };
    Ok(Say {
        voice: setting("say_voice", "Polly.Salli")?,
        language: setting("say_language", "en-US")?,
        gender: setting("say_gender", "female")?,
    })
}

fn volume(p: &Params) -> Result<f64, ParamError> {
    p.number_in("volume", -40.0, 40.0, 0.0)
}

/// A non-empty list of playable URLs.
fn playable(list: Option<Vec<String>>, key: &str) -> Result<Vec<String>, ParamError> {
    match list {
        Some(urls) if !urls.is_empty() && urls.iter().all(|u| !u.trim().is_empty()) => Ok(urls),
        _ => Err(ParamError::new(
            key,
            "expects a playable URL or a list of them",
        )),
    }
}

fn play(p: &Params, vars: &Map<String, Value>) -> Result<Play, ParamError> {
    let urls = match (p.get("url"), p.get("urls")) {
        (Some(_), Some(_)) => return Err(ParamError::new("urls", "give url or urls, not both")),
        (Some(_), None) => playable(p.strings("url")?, "url")?,
        (None, _) => playable(p.strings("urls")?, "urls")?,
    };
    Ok(Play {
        urls,
        volume: volume(p)?,
        say: say(p, vars)?,
        auto_answer: p.boolean("auto_answer", true)?,
    })
}

fn prompt(p: &Params, vars: &Map<String, Value>) -> Result<Prompt, ParamError> {
    Ok(Prompt {
        play: playable(p.strings("play")?, "play")?,
        volume: volume(p)?,
        say: say(p, vars)?,
        max_digits: p.count("max_digits", 1, 1)?,
        terminators: p.string("terminators")?.unwrap_or_default(),
        digit_timeout: p.seconds("digit_timeout", Duration::from_secs(5))?,
        initial_timeout: p.seconds("initial_timeout", Duration::from_secs(5))?,
    })
}

/// `sleep`: milliseconds as a number, a string or `{duration}`; `-1` is forever.
fn sleep(params: &Value) -> Result<Action, ParamError> {
    let raw = match params {
        Value::Object(_) => Params::new(params)?.number("duration")?,
        other => super::params::number(other),
    };
    let duration = match raw {
        Some(-1.0) => None,
        Some(ms) if ms >= 0.0 => Some(
            Duration::try_from_secs_f64(ms / 1000.0)
                .map_err(|_| ParamError::new("duration", "is too long"))?,
        ),
        _ => {
            return Err(ParamError::new(
                "duration",
                "expects milliseconds ≥ 0, or -1 for ever",
            ));
        }
    };
    Ok(Action::Sleep { duration })
}

fn direction(p: &Params, default: Direction) -> Result<Direction, ParamError> {
    match p.string("direction")?.as_deref() {
        None | Some("") => Ok(default),
        Some("speak") => Ok(Direction::Speak),
        Some("listen") => Ok(Direction::Listen),
        Some("both") => Ok(Direction::Both),
        Some(_) => Err(ParamError::new(
            "direction",
            "expects speak, listen or both",
        )),
    }
}

fn format(p: &Params) -> Result<String, ParamError> {
    match p.string("format")?.as_deref() {
        None | Some("") => Ok("wav".to_owned()),
        Some(f @ ("wav" | "mp3" | "mp4")) => Ok(f.to_owned()),
        Some(_) => Err(ParamError::new("format", "expects wav, mp3 or mp4")),
    }
}

fn record(p: &Params) -> Result<Record, ParamError> {
    Ok(Record {
        beep: p.boolean("beep", false)?,
        terminators: p.string("terminators")?.unwrap_or_else(|| "#".to_owned()),
        initial_timeout: p.seconds("initial_timeout", Duration::from_secs(4))?,
        end_silence_timeout: p.seconds("end_silence_timeout", Duration::from_secs(5))?,
        max_length: p.optional_seconds("max_length")?,
        format: format(p)?,
        direction: direction(p, Direction::Speak)?,
        stereo: p.boolean("stereo", false)?,
    })
}

fn record_call(p: &Params) -> Result<RecordCall, ParamError> {
    Ok(RecordCall {
        control_id: p.string("control_id")?.filter(|s| !s.is_empty()),
        direction: direction(p, Direction::Both)?,
        format: format(p)?,
        stereo: p.boolean("stereo", false)?,
        beep: p.boolean("beep", false)?,
        terminators: p.string("terminators")?.unwrap_or_default(),
    })
}

fn send_digits(p: &Params) -> Result<Action, ParamError> {
    let digits = p.required_string("digits")?;
    if !digits.chars().all(|c| crate::dtmf::SEND_DIGITS.contains(c)) {
        return Err(ParamError::new("digits", "expects 0-9, *, #, A-D, w and W"));
    }
    Ok(Action::SendDigits { digits })
}

/// One destination: `"to"` or `{to, from, timeout}`.
fn destination(value: &Value, key: &str) -> Result<Destination, ParamError> {
    if let Some(to) = text(value).filter(|s| !s.is_empty()) {
        return Ok(Destination {
            to,
            from: None,
            timeout: None,
        });
    }
    let p = Params::new(value).map_err(|_| ParamError::new(key, "expects destinations"))?;
    let wrap = |e: ParamError| ParamError::new(key, format!("{}: {}", e.param, e.message));
    Ok(Destination {
        to: p.required_string("to").map_err(wrap)?,
        from: p.string("from").map_err(wrap)?.filter(|s| !s.is_empty()),
        timeout: p.optional_seconds("timeout").map_err(wrap)?,
    })
}

/// A non-empty array of destinations.
fn group(value: &Value, key: &str) -> Result<Vec<Destination>, ParamError> {
    match value {
        Value::Array(items) if !items.is_empty() => {
            items.iter().map(|v| destination(v, key)).collect()
        }
        _ => Err(ParamError::new(
            key,
            "expects a non-empty list of destinations",
        )),
    }
}

fn dial_plan(p: &Params) -> Result<Vec<Vec<Destination>>, ParamError> {
    let given: Vec<&str> = ["to", "serial", "parallel", "serial_parallel"]
        .into_iter()
        .filter(|k| p.get(k).is_some())
        .collect();
    let [key] = given.as_slice() else {
        return Err(ParamError::new(
            "to",
            "give exactly one of to, serial, parallel and serial_parallel",
        ));
    };
    let value = p.get(key).unwrap_or(&Value::Null);
    match *key {
        "to" => Ok(vec![vec![destination(value, key)?]]),
        "serial" => Ok(group(value, key)?.into_iter().map(|d| vec![d]).collect()),
        "parallel" => Ok(vec![group(value, key)?]),
        _ => match value {
            Value::Array(groups) if !groups.is_empty() => {
                groups.iter().map(|g| group(g, key)).collect()
            }
            _ => Err(ParamError::new(
                key,
                "expects a list of lists of destinations",
            )),
        },
    }
}

fn sip_headers(p: &Params) -> Result<Vec<Header>, ParamError> {
    let Some(value) = p.get("headers") else {
        return Ok(Vec::new());
    };
    let bad = || ParamError::new("headers", "expects a list of {name, value}");
    let Value::Array(items) = value else {
        return Err(bad());
    };
    items
        .iter()
        .map(|item| {
            let h = Params::new(item).map_err(|_| bad())?;
            Ok(Header {
                name: h.required_string("name").map_err(|_| bad())?,
                value: h.string("value").map_err(|_| bad())?.unwrap_or_default(),
            })
        })
        .collect()
}

fn connect(p: &Params) -> Result<Connect, ParamError> {
    Ok(Connect {
        dial: dial_plan(p)?,
        timeout: p.seconds("timeout", Duration::from_secs(60))?,
        answer_on_bridge: p.boolean("answer_on_bridge", false)?,
        from: p.string("from")?.filter(|s| !s.is_empty()),
        headers: sip_headers(p)?,
        ringback: p.strings("ringback")?.unwrap_or_default(),
    })
}

fn join_room(p: &Params) -> Result<Action, ParamError> {
    let name = p.required_string("name")?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ParamError::new("name", "expects A-Z, a-z, 0-9, _ and -"));
    }
    Ok(Action::JoinRoom { name })
}

fn request(p: &Params) -> Result<Request, ParamError> {
    let method = match p
        .string("method")?
        .unwrap_or_else(|| "GET".to_owned())
        .to_ascii_uppercase()
        .as_str()
    {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "DELETE" => HttpMethod::Delete,
        _ => {
            return Err(ParamError::new(
                "method",
                "expects GET, POST, PUT or DELETE",
            ));
        }
    };
    let headers = match p.get("headers") {
        None => Vec::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::Null => String::new(),
                    other => text(other).unwrap_or_else(|| other.to_string()),
                };
                (k.clone(), value)
            })
            .collect(),
        Some(_) => return Err(ParamError::new("headers", "expects an object")),
    };
    let body = p.get("body").map(|b| match b {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    Ok(Request {
        url: p.required_string("url")?,
        method,
        headers,
        body,
        timeout: p.seconds("timeout", Duration::from_secs(5))?,
        connect_timeout: p.seconds("connect_timeout", Duration::from_secs(5))?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn act(method: &str, params: Value) -> Result<Action, ParamError> {
        parse(method, &params, &Map::new())
    }

    #[test]
    fn defaults_come_from_the_reference() {
        let Ok(Action::Prompt(p)) = act("prompt", json!({"play": "say:hi"})) else {
            panic!("not a prompt");
        };
        assert_eq!(p.max_digits, 1);
        assert_eq!(p.digit_timeout, Duration::from_secs(5));
        assert_eq!(p.initial_timeout, Duration::from_secs(5));
        assert_eq!(p.terminators, "");
        assert_eq!(p.say.voice, "Polly.Salli");
        let Ok(Action::Record(r)) = act("record", json!({})) else {
            panic!("not a record");
        };
        assert_eq!(
            (
                r.terminators.as_str(),
                r.initial_timeout,
                r.end_silence_timeout
            ),
            ("#", Duration::from_secs(4), Duration::from_secs(5))
        );
        assert_eq!((r.direction, r.max_length), (Direction::Speak, None));
        let Ok(Action::RecordCall(rc)) = act("record_call", json!({})) else {
            panic!("not a record_call");
        };
        assert_eq!((rc.direction, rc.control_id), (Direction::Both, None));
        assert_eq!(
            act("answer", json!({})),
            Ok(Action::Answer {
                max_duration: Duration::from_secs(14_400),
                codecs: vec![]
            })
        );
        assert_eq!(
            act("hangup", json!({})),
            Ok(Action::Hangup {
                reason: HangupReason::Hangup
            })
        );
    }

    #[test]
    fn play_takes_url_or_urls_and_say_settings_from_vars() {
        let mut vars = Map::new();
        vars.insert("say_voice".into(), json!("gcloud.x"));
        let Ok(Action::Play(p)) = parse("play", &json!({"url": "say:hi", "volume": "6"}), &vars)
        else {
            panic!("not a play");
        };
        assert_eq!(p.urls, vec!["say:hi"]);
        assert_eq!(p.volume, 6.0);
        assert_eq!(p.say.voice, "gcloud.x");
        assert!(p.auto_answer);
        assert!(act("play", json!({"url": "a", "urls": ["b"]})).is_err());
        assert!(act("play", json!({"urls": []})).is_err());
        assert_eq!(act("play", json!({})).unwrap_err().param, "urls");
    }

    #[test]
    fn sleep_is_milliseconds_and_minus_one_is_forever() {
        assert_eq!(
            act("sleep", json!(1500)),
            Ok(Action::Sleep {
                duration: Some(Duration::from_millis(1500))
            })
        );
        assert_eq!(
            act("sleep", json!({"duration": "-1"})),
            Ok(Action::Sleep { duration: None })
        );
        assert!(act("sleep", json!(-5)).is_err());
        assert!(act("sleep", json!("soon")).is_err());
    }

    #[test]
    fn connect_dial_plans() {
        let to = |t: &str| Destination {
            to: t.into(),
            from: None,
            timeout: None,
        };
        let plan = |params: Value| match act("connect", params) {
            Ok(Action::Connect(c)) => Ok(c.dial),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(
            plan(json!({"to": "/public/room"})),
            Ok(vec![vec![to("/public/room")]])
        );
        assert_eq!(
            plan(json!({"serial": [{"to": "a"}, "b"]})),
            Ok(vec![vec![to("a")], vec![to("b")]])
        );
        assert_eq!(
            plan(json!({"parallel": ["a", {"to": "b"}]})),
            Ok(vec![vec![to("a"), to("b")]])
        );
        assert_eq!(
            plan(json!({"serial_parallel": [["a", "b"], ["c"]]})),
            Ok(vec![vec![to("a"), to("b")], vec![to("c")]])
        );
        let with = plan(json!({"serial": [{"to": "a", "from": "me", "timeout": 10}]})).unwrap();
        assert_eq!(with[0][0].from.as_deref(), Some("me"));
        assert_eq!(with[0][0].timeout, Some(Duration::from_secs(10)));
        assert!(plan(json!({"to": "a", "parallel": ["b"]})).is_err());
        assert!(plan(json!({})).is_err());
        assert!(plan(json!({"serial": []})).is_err());
        let Ok(Action::Connect(c)) = act(
            "connect",
            json!({"to": "sip:a@b", "headers": [{"name": "X-A", "value": "1"}], "ringback": "ring:5"}),
        ) else {
            panic!("not a connect");
        };
        assert_eq!(c.timeout, Duration::from_secs(60));
        assert_eq!(
            c.headers,
            vec![Header {
                name: "X-A".into(),
                value: "1".into()
            }]
        );
        assert_eq!(c.ringback, vec!["ring:5"]);
    }

    #[test]
    fn request_reads_method_headers_and_body() {
        let Ok(Action::Request(r)) = act(
            "request",
            json!({"url": "https://x/y", "method": "post", "headers": {"X-N": 1},
                   "body": {"a": 1}, "timeout": 2.5}),
        ) else {
            panic!("not a request");
        };
        assert_eq!(r.method, HttpMethod::Post);
        assert_eq!(r.headers, vec![("X-N".to_owned(), "1".to_owned())]);
        assert_eq!(r.body.as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(r.timeout, Duration::from_millis(2500));
        assert_eq!(r.connect_timeout, Duration::from_secs(5));
        assert!(act("request", json!({"url": "x", "method": "PATCH"})).is_err());
        assert!(act("request", json!({"method": "GET"})).is_err());
    }

    #[test]
    fn bad_values_are_errors_and_unknown_methods_unsupported() {
        assert!(act("send_digits", json!({"digits": "12x"})).is_err());
        assert!(act("join_room", json!({"name": "a b"})).is_err());
        assert!(act("hangup", json!({"reason": "bored"})).is_err());
        assert!(act("record", json!({"format": "ogg"})).is_err());
        assert!(act("user_event", json!({})).is_err());
        assert_eq!(
            act("tap", json!({"uri": "rtp://x"})),
            Ok(Action::Unsupported {
                method: "tap".into()
            })
        );
        assert_eq!(act("denoise", json!({})), Ok(Action::Denoise));
    }
}
