//! What each resource kind accepts: field names, types and limits, checked in one pass.

use serde_json::{Map, Value, json};
use weft_core::ResourceKind;
use weft_core::address::is_valid_name;

use crate::body::{Fields, MAX_STRING, MAX_TEXT};
use crate::error::ApiError;

/// A field's type and limits.
#[derive(Clone, Copy)]
enum Ty {
    Str(usize),
    Choice(&'static [&'static str]),
    Int(i64, i64),
    Bool,
    /// A list drawn from a fixed vocabulary; values may carry `@`-parameters (`OPUS@48000h@20i`).
    Vocabulary(&'static [&'static str]),
    Json(usize),
}

/// One accepted field.
struct Field {
    key: &'static str,
    ty: Ty,
    required: bool,
}

const fn f(key: &'static str, ty: Ty) -> Field {
    Field {
        key,
        ty,
        required: false,
    }
}

const fn req(key: &'static str, ty: Ty) -> Field {
    Field {
        key,
        ty,
        required: true,
    }
}

const URL: Ty = Ty::Str(2048);
const S: Ty = Ty::Str(MAX_STRING);
const METHOD: Ty = Ty::Choice(&["GET", "POST"]);
const CODECS: Ty = Ty::Vocabulary(&[
    "PCMU",
    "PCMA",
    "G722",
    "G729",
    "G7221",
    "OPUS",
    "AMR-WB",
    "GSM",
    "ILBC",
    "SPEEX",
    "VP8",
    "VP9",
    "H264",
    "H263",
    "AV1",
    "TELEPHONE-EVENT",
]);
const CIPHERS: Ty = Ty::Vocabulary(&[
    "AEAD_AES_256_GCM_8",
    "AES_256_CM_HMAC_SHA1_80",
    "AES_CM_128_HMAC_SHA1_80",
    "AES_256_CM_HMAC_SHA1_32",
    "AES_CM_128_HMAC_SHA1_32",
]);

const SUBSCRIBER: &[Field] = &[
    f("first_name", S),
    f("last_name", S),
    f("display_name", S),
    f("job_title", S),
    f("timezone", S),
    f("country", S),
    f("region", S),
    f("company_name", S),
];

const SWML_SCRIPT: &[Field] = &[
    f("script_type", Ty::Choice(&["calling", "messaging"])),
    f("status_callback_url", URL),
    f("status_callback_method", METHOD),
];

const CONFERENCE_ROOM: &[Field] = &[
    f("description", Ty::Str(4096)),
    f("max_members", Ty::Int(1, 1000)),
    f("quality", Ty::Choice(&["720p", "1080p"])),
    f("fps", Ty::Int(1, 60)),
    f("layout", S),
    f("join_from", S),
    f("join_until", S),
    f("remove_at", S),
    f("remove_after_seconds_elapsed", Ty::Int(0, i32::MAX as i64)),
    f("record_on_start", Ty::Bool),
    f("enable_room_previews", Ty::Bool),
    f("meta", Ty::Json(MAX_TEXT)),
    f("sync_audio_video", Ty::Bool),
    f("tone_on_entry_and_exit", Ty::Bool),
    f("room_join_video_off", Ty::Bool),
    f("user_join_video_off", Ty::Bool),
];

const SIP_ENDPOINT: &[Field] = &[
    f("caller_id", S),
    f("send_as", S),
    f("ciphers", CIPHERS),
    f("codecs", CODECS),
    f(
        "encryption",
        Ty::Choice(&["required", "optional", "default"]),
    ),
    f(
        "call_handler",
        Ty::Choice(&[
            "default",
            "passthrough",
            "block-pstn",
            "resource",
            "relay_context",
            "relay_topic",
            "relay_application",
            "relay_connector",
            "relay_script",
            "laml_webhooks",
            "laml_application",
            "dialogflow",
            "video_room",
            "call_flow",
            "ai_agent",
        ]),
    ),
    f("calling_handler_resource_id", S),
];

const AI_AGENT: &[Field] = &[
    req("prompt", Ty::Json(MAX_TEXT)),
    f("global_data", Ty::Json(MAX_TEXT)),
    f("hints", Ty::Json(MAX_TEXT)),
    f("languages", Ty::Json(MAX_TEXT)),
    f("multilingual", Ty::Bool),
    f("params", Ty::Json(MAX_TEXT)),
    f("post_prompt", Ty::Json(MAX_TEXT)),
    f("post_prompt_url", URL),
    f("pronounce", Ty::Json(MAX_TEXT)),
    f("SWAIG", Ty::Json(MAX_TEXT)),
];

const SWML_WEBHOOK: &[Field] = &[
    req("primary_request_url", URL),
    f("primary_request_method", METHOD),
    f("fallback_request_url", URL),
    f("fallback_request_method", METHOD),
    f("status_callback_url", URL),
    f("status_callback_method", METHOD),
    f("used_for", Ty::Choice(&["calling"])),
];

/// The fields of a nested subscriber SIP endpoint (besides `username` and `password`).
const SUBSCRIBER_SIP_ENDPOINT: &[Field] = &[
    f("caller_id", S),
    f("send_as", S),
    f("ciphers", CIPHERS),
    f("codecs", CODECS),
    f(
        "encryption",
        Ty::Choice(&["required", "optional", "default"]),
    ),
];

fn fields_of(kind: ResourceKind) -> &'static [Field] {
    match kind {
        ResourceKind::Subscriber => SUBSCRIBER,
        ResourceKind::SwmlScript => SWML_SCRIPT,
        ResourceKind::VideoRoom => CONFERENCE_ROOM,
        ResourceKind::SipEndpoint => SIP_ENDPOINT,
        ResourceKind::AiAgent => AI_AGENT,
        ResourceKind::SwmlWebhook => SWML_WEBHOOK,
    }
}

/// A list of words from `words` (compared without case, ignoring `@`-parameters).
fn vocabulary(
    fields: &mut Fields,
    key: &str,
    required: bool,
    words: &[&str],
) -> Option<Vec<String>> {
    let values = fields.strings(key, required, 32, 64)?;
    let known = |v: &String| {
        let base = v.split('@').next().unwrap_or_default();
        words.iter().any(|w| w.eq_ignore_ascii_case(base))
    };
    if let Some(unknown) = values.iter().find(|v| !known(v)) {
        fields.reject(
            key,
            "invalid_parameter",
            format!("{unknown:?} is not one of: {}", words.join(", ")),
        );
        return None;
    }
    Some(values)
}

/// Reads the listed fields into `out`. On updates (`partial`) nothing is required.
fn read(fields: &mut Fields, specs: &[Field], partial: bool, out: &mut Map<String, Value>) {
    for spec in specs {
        let required = spec.required && !partial;
        let value = match spec.ty {
            Ty::Str(max) => fields.string(spec.key, required, max).map(Value::from),
            Ty::Choice(allowed) => fields.choice(spec.key, required, allowed).map(Value::from),
            Ty::Int(min, max) => fields
                .integer(spec.key, required, min, max)
                .map(Value::from),
            Ty::Bool => fields.boolean(spec.key, required).map(Value::from),
            Ty::Vocabulary(words) => vocabulary(fields, spec.key, required, words).map(Value::from),
            Ty::Json(bytes) => fields.json(spec.key, required, bytes),
        };
        if let Some(value) = value {
            out.insert(spec.key.to_owned(), value);
        }
    }
}

/// A validated create or update of a resource.
#[derive(Debug, Default)]
pub struct ResourceInput {
    /// The new name (and default address), if given.
    pub name: Option<String>,
    pub display_name: Option<String>,
    /// Type-specific fields given in this request.
    pub fields: Map<String, Value>,
    /// A subscriber's email.
    pub email: Option<String>,
    /// A plain password to hash (subscribers, SIP endpoints).
    pub password: Option<String>,
}

/// Reads an address name field, checking it can stand in `/public/<name>`.
pub fn address_name(fields: &mut Fields, key: &str, required: bool) -> Option<String> {
    let name = fields.string(key, required, MAX_STRING)?;
    if is_valid_name(&name) {
        Some(name)
    } else {
        fields.reject(
            key,
            "invalid_parameter",
            format!("{key} may not contain '/', '?', '#', '&' or whitespace"),
        );
        None
    }
}

/// Reads an email address.
pub fn email(fields: &mut Fields, key: &str, required: bool) -> Option<String> {
    let email = fields.string(key, required, 254)?;
    let trimmed = email.trim();
    let looks_right = trimmed
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !trimmed.chars().any(char::is_whitespace);
    if looks_right {
        Some(trimmed.to_lowercase())
    } else {
        fields.reject(
            key,
            "invalid_parameter",
            format!("{key} must be an email address"),
        );
        None
    }
}

/// Checks SWML `contents`: a valid SWML document (`weft_swml`'s validator), as an object or
/// as JSON or YAML text. An invalid one is rejected with the JSON path of the first problem,
/// e.g. `contents: sections.main[2].play.url: …`.
fn swml_contents(fields: &mut Fields, partial: bool) -> Option<Value> {
    let value = fields.json("contents", !partial, 512 * 1024)?;
    let checked = match &value {
        Value::String(text) => weft_swml::Document::parse(text),
        Value::Object(_) => weft_swml::Document::from_value(&value),
        _ => {
            fields.reject(
                "contents",
                "invalid_parameter",
                "contents must be a SWML document: an object, or JSON or YAML text of one",
            );
            return None;
        }
    };
    match checked {
        Ok(_) => Some(value),
        Err(invalid) => {
            fields.reject(
                "contents",
                "invalid_parameter",
                format!("contents is not a valid SWML document: {invalid}"),
            );
            None
        }
    }
}

/// Validates a create (`partial == false`) or update body for a resource kind.
pub fn resource_input(
    kind: ResourceKind,
    body: &Map<String, Value>,
    partial: bool,
) -> Result<ResourceInput, ApiError> {
    let mut fields = Fields::new(body);
    let mut input = ResourceInput::default();
    read(&mut fields, fields_of(kind), partial, &mut input.fields);
    match kind {
        ResourceKind::Subscriber => {
            input.email = email(&mut fields, "email", !partial);
            input.password = fields.string("password", false, 1024);
            input.display_name = input
                .fields
                .get("display_name")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        ResourceKind::SipEndpoint => {
            input.name = address_name(&mut fields, "username", !partial);
            input.password = fields.string("password", !partial, 1024);
            input.display_name = fields.string("display_name", false, MAX_STRING);
        }
        ResourceKind::SwmlWebhook => {
            input.name = address_name(&mut fields, "name", false);
            input.display_name = fields.string("display_name", false, MAX_STRING);
        }
        _ => {
            input.name = address_name(&mut fields, "name", !partial);
            input.display_name = fields.string("display_name", false, MAX_STRING);
        }
    }
    if kind == ResourceKind::SwmlScript
        && let Some(contents) = swml_contents(&mut fields, partial)
    {
        input.fields.insert("contents".into(), contents);
    }
    fields.finish()?;
    Ok(input)
}

/// A validated nested subscriber SIP endpoint body.
pub struct SipEndpointInput {
    pub username: Option<String>,
    pub password: Option<String>,
    pub fields: Map<String, Value>,
}

/// Validates a nested subscriber SIP endpoint body.
pub fn sip_endpoint_input(
    body: &Map<String, Value>,
    partial: bool,
) -> Result<SipEndpointInput, ApiError> {
    let mut fields = Fields::new(body);
    let username = address_name(&mut fields, "username", !partial);
    let password = fields.string("password", !partial, 1024);
    let mut out = Map::new();
    read(&mut fields, SUBSCRIBER_SIP_ENDPOINT, partial, &mut out);
    fields.finish()?;
    Ok(SipEndpointInput {
        username,
        password,
        fields: out,
    })
}

/// Defaults shown for a new resource's type-specific object.
pub fn defaults(kind: ResourceKind) -> Map<String, Value> {
    let value = match kind {
        ResourceKind::Subscriber => json!({
            "email": null, "first_name": null, "last_name": null, "display_name": null,
            "job_title": null, "timezone": null, "country": null, "region": null, "company_name": null,
        }),
        ResourceKind::SwmlScript => json!({
            "script_type": "calling", "request_url": null, "status_callback_url": null,
            "status_callback_method": "POST",
        }),
        ResourceKind::VideoRoom => json!({
            "description": null, "max_members": 20, "quality": "720p", "fps": 20,
            "layout": "grid-responsive", "record_on_start": false, "enable_room_previews": false,
            "meta": {}, "sync_audio_video": false, "tone_on_entry_and_exit": true,
            "room_join_video_off": false, "user_join_video_off": false,
        }),
        ResourceKind::SipEndpoint => json!({
            "caller_id": null, "send_as": null, "ciphers": [], "codecs": ["OPUS", "PCMU", "PCMA", "VP8"],
            "encryption": "default", "call_handler": "default", "calling_handler_resource_id": null,
        }),
        ResourceKind::AiAgent => json!({}),
        ResourceKind::SwmlWebhook => json!({
            "primary_request_method": "POST", "fallback_request_url": null,
            "fallback_request_method": "POST", "status_callback_url": null,
            "status_callback_method": "POST", "used_for": "calling",
        }),
    };
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn swml_contents_accepts_json_yaml_and_objects() {
        for contents in [
            json!("{\"version\":\"1.0.0\",\"sections\":{\"main\":[{\"answer\":{}}]}}"),
            json!("version: 1.0.0\nsections:\n  main:\n    - answer: {}\n"),
            json!({"version": "1.0.0", "sections": {"main": [{"answer": {}}]}}),
        ] {
            let body = obj(json!({"name": "s", "contents": contents}));
            assert!(resource_input(ResourceKind::SwmlScript, &body, false).is_ok());
        }
        let body = obj(json!({"name": "s", "contents": "- just\n- a list"}));
        assert!(resource_input(ResourceKind::SwmlScript, &body, false).is_err());
    }

    #[test]
    fn an_invalid_swml_script_is_rejected_with_the_json_path() {
        let contents = json!({"sections": {"main": [{"answer": {}}, {"play": {"volume": 3}}]}});
        let body = obj(json!({"name": "s", "contents": contents}));
        let Err(ApiError::Validation(errors)) =
            resource_input(ResourceKind::SwmlScript, &body, false)
        else {
            panic!("expected a validation error");
        };
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].attribute, "contents");
        assert!(
            errors[0].message.contains("sections.main[1].play"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn every_problem_is_reported_by_attribute() {
        let body = obj(json!({"name": "a b", "max_members": "ten", "quality": "4k"}));
        let Err(ApiError::Validation(errors)) =
            resource_input(ResourceKind::VideoRoom, &body, false)
        else {
            panic!("expected validation errors");
        };
        let attributes: Vec<_> = errors.iter().map(|e| e.attribute.as_str()).collect();
        assert!(attributes.contains(&"name"));
        assert!(attributes.contains(&"max_members"));
        assert!(attributes.contains(&"quality"));
    }

    #[test]
    fn updates_require_nothing() {
        let body = obj(json!({"display_name": "New"}));
        let input = resource_input(ResourceKind::VideoRoom, &body, true).unwrap();
        assert_eq!(input.display_name.as_deref(), Some("New"));
        assert!(input.name.is_none());
    }
}
