//! JSON shapes returned to clients: the resource envelope, addresses, SIP endpoints, recordings.

use serde_json::{Map, Value, json};
use weft_core::ResourceKind;
use weft_core::time::iso8601;
use weft_store::addresses::AddressRow;
use weft_store::recordings::Recording;
use weft_store::resources::Resource;
use weft_store::sip_endpoints::SubscriberSipEndpoint;

/// The envelope `{id, project_id, display_name, type, created_at, updated_at, <key>: {…}}`.
pub fn resource(r: &Resource) -> Value {
    let mut inner = match &r.body {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    // Secrets (stored hashed under `_` keys) never leave the server.
    inner.retain(|key, _| !key.starts_with('_'));
    inner.insert("id".into(), json!(r.inner_id));
    inner.insert("display_name".into(), json!(r.display_name));
    if r.kind != ResourceKind::Subscriber {
        inner.insert("name".into(), json!(r.name));
    }
    json!({
        "id": r.id,
        "project_id": r.project_id,
        "display_name": r.display_name,
        "type": r.kind.type_value(),
        "created_at": iso8601(r.created_at),
        "updated_at": iso8601(r.updated_at),
        r.kind.nested_key(): Value::Object(inner),
    })
}

/// A Fabric address with its `channels`.
pub fn address(a: &AddressRow) -> Value {
    let path = format!("/{}/{}", a.context, a.name);
    let kind = match a.address_type.as_str() {
        "subscriber" => ResourceKind::Subscriber,
        _ => ResourceKind::VideoRoom,
    };
    let channels: Map<String, Value> = kind
        .channels()
        .iter()
        .map(|c| {
            (
                c.as_str().to_owned(),
                json!(format!("{path}?channel={}", c.as_str())),
            )
        })
        .collect();
    json!({
        "id": a.id,
        "resource_id": a.resource_id,
        "name": a.name,
        "display_name": a.display_name,
        "type": a.address_type,
        "cover_url": Value::Null,
        "preview_url": Value::Null,
        "locked": false,
        "channels": channels,
        "created_at": iso8601(a.created_at),
    })
}

/// A subscriber's SIP endpoint (never its password).
pub fn sip_endpoint(e: &SubscriberSipEndpoint) -> Value {
    let mut map = match &e.body {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    map.insert("id".into(), json!(e.id));
    map.insert("username".into(), json!(e.username));
    map.insert("created_at".into(), json!(iso8601(e.created_at)));
    map.insert("updated_at".into(), json!(iso8601(e.updated_at)));
    Value::Object(map)
}

/// A recording in SignalWire's REST shape. SignalWire names the recorded leg in one of
/// `relay_pstn_leg_id`, `relay_sip_leg_id` or `relay_webrtc_leg_id`; Weft keeps the leg's id as
/// `call_id` and answers `null` for the SIP and WebRTC fields. `url` is the download route.
pub fn recording(r: &Recording, public_url: &str) -> Value {
    json!({
        "id": r.id,
        "project_id": r.project_id,
        "created_at": iso8601(r.created_at),
        "updated_at": iso8601(r.updated_at),
        "duration_in_seconds": (r.duration_ms.max(0) + 500) / 1000,
        "error_code": Value::Null,
        "price": 0.0,
        "price_unit": "USD",
        "status": r.status.as_str(),
        "url": format!("{public_url}/api/relay/rest/recordings/{}/download", r.id),
        "stereo": false,
        "byte_size": r.byte_size,
        "track": r.track.as_str(),
        "format": r.format.as_str(),
        "call_id": r.call_id,
        "relay_webrtc_leg_id": Value::Null,
        "relay_sip_leg_id": Value::Null,
    })
}
