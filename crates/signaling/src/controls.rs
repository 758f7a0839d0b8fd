//! Parsing of the SDK's `call.*` room control requests (spec §7).

use serde_json::{Map, Value};

use weft_calls::media::MediaKind;
use weft_calls::room::{Control, Target};

use crate::rpc::RpcError;

/// Parses a `call.*` control request into the control and its target member (or `All`).
/// Returns `None` for methods that are not room controls.
pub fn parse_control(method: &str, params: &Value) -> Option<Result<(Control, Target), RpcError>> {
    let control = match method {
        "call.mute" | "call.unmute" => channels(params).map(|c| {
            if method == "call.mute" {
                Control::Mute(c)
            } else {
                Control::Unmute(c)
            }
        }),
        "call.deaf" => Ok(Control::Deaf),
        "call.undeaf" => Ok(Control::Undeaf),
        "call.member.list" => Ok(Control::MemberList),
        "call.layout.list" => Ok(Control::LayoutList),
        "call.layout.set" => layout_set(params),
        "call.member.position.set" => position_targets(params).map(Control::PositionSet),
        "call.microphone.volume.set" => number(params, "volume").map(Control::InputVolume),
        "call.speaker.volume.set" => number(params, "volume").map(Control::OutputVolume),
        "call.microphone.sensitivity.set" => {
            number(params, "sensitivity").map(Control::InputSensitivity)
        }
        "call.raisehand" => Ok(Control::RaiseHand),
        "call.lowerhand" => Ok(Control::LowerHand),
        "call.audioflags.set" => Ok(Control::AudioFlags {
            echo_cancellation: params.get("echo_cancellation").and_then(Value::as_bool),
            auto_gain: params.get("auto_gain").and_then(Value::as_bool),
            noise_suppression: params.get("noise_suppression").and_then(Value::as_bool),
        }),
        "call.member.remove" => Ok(Control::Remove),
        "call.lock" => Ok(Control::Lock),
        "call.unlock" => Ok(Control::Unlock),
        "call.end" => Ok(Control::End),
        _ => return None,
    };
    Some(control.and_then(|c| Ok((c, target(params)?))))
}

/// The actor's `self.call_id` of a control request.
pub fn self_call_id(params: &Value) -> Result<&str, RpcError> {
    params
        .pointer("/self/call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("self.call_id is required"))
}

fn target(params: &Value) -> Result<Target, RpcError> {
    let target = params
        .pointer("/target/member_id")
        .or_else(|| params.pointer("/self/member_id"))
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("target.member_id is required"))?;
    Ok(if target == "all" {
        Target::All
    } else {
        Target::Member(target.to_owned())
    })
}

fn channels(params: &Value) -> Result<Vec<MediaKind>, RpcError> {
    let list = params
        .get("channels")
        .and_then(Value::as_array)
        .ok_or_else(|| RpcError::invalid_params("channels must be a list"))?;
    let mut kinds = Vec::new();
    for c in list {
        let kind = match c.as_str() {
            Some("audio") => MediaKind::Audio,
            Some("video") => MediaKind::Video,
            _ => {
                return Err(RpcError::invalid_params(
                    "channels may hold audio and video",
                ));
            }
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        return Err(RpcError::invalid_params("channels must not be empty"));
    }
    Ok(kinds)
}

fn number(params: &Value, key: &str) -> Result<f64, RpcError> {
    params
        .get(key)
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite())
        .ok_or_else(|| RpcError::invalid_params(format!("{key} must be a number")))
}

fn layout_set(params: &Value) -> Result<Control, RpcError> {
    let layout = params
        .get("layout")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("layout must be a string"))?;
    let mut positions = Vec::new();
    if let Some(map) = params.get("positions").and_then(Value::as_object) {
        positions = position_map(map)?;
    }
    Ok(Control::LayoutSet {
        layout: layout.to_owned(),
        positions,
    })
}

fn position_map(map: &Map<String, Value>) -> Result<Vec<(String, String)>, RpcError> {
    map.iter()
        .map(|(k, v)| match v.as_str() {
            Some(p) => Ok((k.clone(), p.to_owned())),
            None => Err(RpcError::invalid_params(
                "positions must map member ids to strings",
            )),
        })
        .collect()
}

fn position_targets(params: &Value) -> Result<Vec<(String, String)>, RpcError> {
    let list = params
        .get("targets")
        .and_then(Value::as_array)
        .ok_or_else(|| RpcError::invalid_params("targets must be a list"))?;
    list.iter()
        .map(|t| {
            let id = t.pointer("/target/member_id").and_then(Value::as_str);
            let pos = t.get("position").and_then(Value::as_str);
            match (id, pos) {
                (Some(id), Some(pos)) => Ok((id.to_owned(), pos.to_owned())),
                _ => Err(RpcError::invalid_params(
                    "each target needs target.member_id and position",
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_sdk_control_frames() {
        let p = json!({"channels":["audio"],"self":{"member_id":"a","call_id":"c","node_id":"n"},
                       "target":{"member_id":"all","call_id":"c","node_id":"n"}});
        let (c, t) = parse_control("call.mute", &p).unwrap().unwrap();
        assert_eq!(c, Control::Mute(vec![MediaKind::Audio]));
        assert_eq!(t, Target::All);
        assert_eq!(self_call_id(&p).unwrap(), "c");
        assert!(parse_control("call.nope", &p).is_none());
        let bad = json!({"channels":["smell"],"self":{"member_id":"a"}});
        assert!(parse_control("call.mute", &bad).unwrap().is_err());
        let vol = json!({"volume":"loud","self":{"member_id":"a"}});
        assert!(
            parse_control("call.microphone.volume.set", &vol)
                .unwrap()
                .is_err()
        );
        let pos = json!({"self":{"member_id":"a"},"targets":[{"target":{"member_id":"a"},"position":"auto"}]});
        let (c, _) = parse_control("call.member.position.set", &pos)
            .unwrap()
            .unwrap();
        assert_eq!(c, Control::PositionSet(vec![("a".into(), "auto".into())]));
    }
}
