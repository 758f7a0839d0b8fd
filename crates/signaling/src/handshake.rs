//! The `signalwire.connect` result and the `authorization` object (spec §3.1).

use serde_json::{Value, json};

use crate::directory::Identity;

/// The `jti` as sent to the client: the SDK only resumes when the protocol's second `_` field
/// equals it, so `_` is replaced.
pub fn wire_jti(jti: &str) -> String {
    jti.replace('_', "-")
}

/// A new session protocol: `signalwire_<wire jti>_<uuid>`.
pub fn new_protocol(jti: &str) -> String {
    format!("signalwire_{}_{}", wire_jti(jti), uuid::Uuid::new_v4())
}

/// The `authorization` object: `jti`, `project_id` and `fabric_subscriber`.
pub fn authorization(identity: &Identity) -> Value {
    let subject = identity.subject_id();
    json!({
        "jti": wire_jti(&identity.jti),
        "project_id": identity.project_id,
        "fabric_subscriber": {
            "version": 1,
            "expires_at": identity.expires_at,
            "subscriber_id": subject,
            "application_id": identity.application_id.as_deref().unwrap_or(subject),
            "project_id": identity.project_id,
            "space_id": identity.project_id,
        },
    })
}

/// The result of a successful `signalwire.connect`.
pub fn connect_result(identity: &Identity, protocol: &str, ice_servers: &Value) -> Value {
    json!({
        "identity": format!("{}@{}", identity.subject_id(), identity.project_id),
        "authorization": authorization(identity),
        "protocol": protocol,
        "ice_servers": ice_servers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Subject;

    #[test]
    fn protocol_embeds_jti_as_second_field() {
        let p = new_protocol("tok_1");
        assert_eq!(p.split('_').nth(1), Some("tok-1"));
        let p = new_protocol("abc");
        assert_eq!(p.split('_').nth(1), Some("abc"));
    }

    #[test]
    fn connect_result_has_the_fields_the_sdk_reads() {
        let id = Identity {
            project_id: "p".into(),
            subject: Subject::Subscriber {
                subscriber_id: "s".into(),
            },
            jti: "j".into(),
            expires_at: 10,
            scopes: vec![],
            display_name: "S".into(),
            application_id: None,
        };
        let r = connect_result(&id, "signalwire_j_x", &json!([]));
        assert_eq!(r["identity"], "s@p");
        assert_eq!(r["authorization"]["jti"], "j");
        assert_eq!(r["authorization"]["project_id"], "p");
        assert_eq!(
            r["authorization"]["fabric_subscriber"]["subscriber_id"],
            "s"
        );
        assert_eq!(r["authorization"]["fabric_subscriber"]["expires_at"], 10);
        assert_eq!(r["protocol"], "signalwire_j_x");
        assert_eq!(r["ice_servers"], json!([]));
    }
}
