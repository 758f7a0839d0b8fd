//! Parameters of `connect` (to one destination or to `serial`, `parallel` or
//! `serial_parallel` lists) and `join_room`.

use serde_json::Value;

use super::flow::result;
use super::path::Path;
use super::shape::{
    Check, INT, Kind, Param, describe, exactly_one, fields, has_var, kinds, known, object, one_of,
    param, string,
};
use super::structure::{Cx, method_list};

/// Options of a destination, in a list or at the top level.
const DESTINATION: &[Param] = &[
    param("from", Kind::Str),
    param("from_name", Kind::Str),
    param("headers", Kind::With(headers)),
    param("codecs", Kind::Str),
    param("webrtc_media", Kind::Bool),
    param(
        "session_timeout",
        Kind::Int {
            min: 1,
            max: i64::MAX,
        },
    ),
    param("timeout", INT),
    param("username", Kind::Str),
    param("password", Kind::Str),
    param("call_state_url", Kind::Str),
    param("call_state_events", Kind::With(call_state_events)),
    param("confirm", Kind::With(confirm)),
    param("confirm_timeout", INT),
    param(
        "encryption",
        Kind::OneOf(&["mandatory", "optional", "forbidden"]),
    ),
];

/// Options of a `stream:wss://…` destination.
const STREAM_DESTINATION: &[Param] = &[
    param("name", Kind::Str),
    param("codec", Kind::Str),
    param("realtime", Kind::Bool),
    param("status_url_method", Kind::OneOf(&["GET", "POST"])),
    param("authorization_bearer_token", Kind::Str),
    param("custom_parameters", Kind::StrMap),
];

/// Options of the whole `connect`, whatever its destinations.
const WHOLE: &[Param] = &[
    param("ringback", Kind::Strings),
    param("result", Kind::With(result)),
    param("max_duration", INT),
    param("answer_on_bridge", Kind::Bool),
    param("transfer_after_bridge", Kind::Str),
    param("status_url", Kind::Str),
];

const TO: &[Param] = &[param("to", Kind::Str)];
const SERIAL: &[Param] = &[param("serial", Kind::With(destinations))];
const PARALLEL: &[Param] = &[param("parallel", Kind::With(destinations))];
const SERIAL_PARALLEL: &[Param] = &[param("serial_parallel", Kind::With(groups))];

/// `connect {to* | serial* | parallel* | serial_parallel*, …options}`: exactly one of the four.
pub(crate) fn connect(value: &Value, at: &Path, cx: &Cx) -> Check {
    let map = object(value, at)?;
    let form: &[&[Param]] =
        match exactly_one(map, at, &["to", "serial", "parallel", "serial_parallel"])? {
            "to" => &[TO, DESTINATION, STREAM_DESTINATION, WHOLE],
            "serial" => &[SERIAL, DESTINATION, WHOLE],
            "parallel" => &[PARALLEL, DESTINATION, WHOLE],
            _ => &[SERIAL_PARALLEL, DESTINATION, WHOLE],
        };
    let map = known(value, at, "`connect`", form)?;
    kinds(map, at, form, cx)
}

/// A non-empty array of destinations, each `{to*, …options}`.
fn destinations(value: &Value, at: &Path, cx: &Cx) -> Check {
    let Value::Array(items) = value else {
        return Err(at.invalid(format!(
            "expected an array of destinations {{\"to\": …}}, got {}",
            describe(value)
        )));
    };
    if items.is_empty() {
        return Err(at.invalid("expected at least one destination"));
    }
    for (index, item) in items.iter().enumerate() {
        fields(
            item,
            &at.index(index),
            "a destination",
            &[TO, DESTINATION, STREAM_DESTINATION],
            &["to"],
            cx,
        )?;
    }
    Ok(())
}

/// `serial_parallel`: a non-empty array of destination arrays, tried in turn, each in parallel.
fn groups(value: &Value, at: &Path, cx: &Cx) -> Check {
    let Value::Array(items) = value else {
        return Err(at.invalid(format!(
            "expected an array of arrays of destinations, got {}",
            describe(value)
        )));
    };
    if items.is_empty() {
        return Err(at.invalid("expected at least one group of destinations"));
    }
    for (index, item) in items.iter().enumerate() {
        destinations(item, &at.index(index), cx)?;
    }
    Ok(())
}

const HEADER: &[Param] = &[param("name", Kind::Str), param("value", Kind::Str)];

/// SIP headers: `[{name*, value*}, …]`.
fn headers(value: &Value, at: &Path, cx: &Cx) -> Check {
    let Value::Array(items) = value else {
        return Err(at.invalid(format!(
            "expected an array of {{name, value}} headers, got {}",
            describe(value)
        )));
    };
    for (index, item) in items.iter().enumerate() {
        fields(
            item,
            &at.index(index),
            "a header",
            &[HEADER],
            &["name", "value"],
            cx,
        )?;
    }
    Ok(())
}

/// Call states to report: `created`, `ringing`, `answered`, `ended`.
fn call_state_events(value: &Value, at: &Path, _cx: &Cx) -> Check {
    let Value::Array(items) = value else {
        return Err(at.invalid(format!(
            "expected an array of call states, got {}",
            describe(value)
        )));
    };
    for (index, item) in items.iter().enumerate() {
        one_of(
            item,
            &at.index(index),
            &["created", "ringing", "answered", "ended"],
        )?;
    }
    Ok(())
}

/// What the callee runs before being connected: a URL (string) or an array of methods.
fn confirm(value: &Value, at: &Path, cx: &Cx) -> Check {
    match value {
        Value::String(_) => Ok(()),
        _ => method_list(value, at, cx),
    }
}

const JOIN_ROOM: &[Param] = &[param("name", Kind::With(room_name))];

/// `join_room {name*}`.
pub(crate) fn join_room(value: &Value, at: &Path, cx: &Cx) -> Check {
    fields(value, at, "`join_room`", &[JOIN_ROOM], &["name"], cx)
}

/// A room name: letters, digits, `_` and `-` (or with a variable in it).
fn room_name(value: &Value, at: &Path, _cx: &Cx) -> Check {
    let name = string(value, at)?;
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain || has_var(name) {
        return Ok(());
    }
    Err(at.invalid(format!(
        "expected a room name of letters, digits, _ and -, got {}",
        describe(value)
    )))
}
