//! SIP endpoints' digest credentials through the REST API: HA1 values for the configured realm are
//! stored on create and on every password change, never shown, and a rename needs the password.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tower::ServiceExt;
use weft_api::ApiConfig;
use weft_sip::digest::Ha1Set;
use weft_store::Store;
use weft_store::sip_accounts::{SipAccountKind, SipAccountRow};
use weft_store::sip_bindings::SipBindingRow;

mod common;

const REALM: &str = "sip.example.test";
const SIP_ENDPOINTS: &str = "/api/fabric/resources/sip_endpoints";
const SUBSCRIBERS: &str = "/api/fabric/resources/subscribers";

struct Api {
    router: Router,
    store: Store,
    authorization: String,
}

impl Api {
    async fn new() -> Self {
        let (router, store, _) =
            common::api("weft-api-sip", &[("p", "api-token")], |_| ApiConfig {
                sip_realm: REALM.into(),
                ..ApiConfig::default()
            })
            .await;
        Api {
            router,
            store,
            authorization: format!("Basic {}", STANDARD.encode("p:api-token")),
        }
    }

    /// Sends a request; returns the status, the body as JSON (`Null` when empty) and its text.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, &self.authorization)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, json, text)
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> (Value, String) {
        let (status, json, text) = self.call(method, path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        (json, text)
    }

    async fn account(&self, username: &str) -> SipAccountRow {
        let mut accounts = self.store.sip_accounts(username).await.unwrap();
        assert_eq!(accounts.len(), 1, "{accounts:?}");
        accounts.remove(0)
    }
}

/// The account's stored HA1 values are those of this username and password in the realm.
fn assert_ha1(account: &SipAccountRow, username: &str, password: &str) {
    let expected = Ha1Set::compute(username, REALM, password);
    assert_eq!(account.username, username);
    assert_eq!(account.realm.as_deref(), Some(REALM));
    assert_eq!(account.ha1_md5, expected.md5);
    assert_eq!(account.ha1_sha256, expected.sha256);
}

/// No answer shows a password, its hash or its HA1 values.
fn assert_no_secrets(text: &str, account: &SipAccountRow, password: &str) {
    for secret in [
        Some("_digest"),
        Some("_password_hash"),
        Some("argon2"),
        Some(password),
        account.ha1_md5.as_deref(),
        account.ha1_sha256.as_deref(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(!text.contains(secret), "{secret:?} shown in {text}");
    }
}

fn assert_needs_password(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["type"], "validation_error");
    assert_eq!(errors[0]["code"], "missing_parameter");
    assert_eq!(errors[0]["attribute"], "password");
    assert!(errors[0]["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(errors[0]["url"].is_string());
}

#[tokio::test]
async fn sip_endpoint_resources_keep_ha1_values_for_the_realm() {
    let api = Api::new().await;
    let (created, text) = api
        .ok(
            "POST",
            SIP_ENDPOINTS,
            Some(json!({"username": "alice", "password": "Pw-one-1", "codecs": ["PCMU"], "encryption": "optional"})),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let account = api.account("alice").await;
    assert_eq!(account.kind, SipAccountKind::Resource);
    assert_eq!(account.id, id);
    assert_eq!(account.resource_id, id);
    assert_eq!(account.codecs, ["PCMU"]);
    assert_eq!(account.encryption.as_deref(), Some("optional"));
    assert_ha1(&account, "alice", "Pw-one-1");
    assert_no_secrets(&text, &account, "Pw-one-1");
    for path in [
        format!("{SIP_ENDPOINTS}/{id}"),
        format!("/api/fabric/resources/{id}"),
        SIP_ENDPOINTS.to_owned(),
        "/api/fabric/resources".to_owned(),
    ] {
        let (_, text) = api.ok("GET", &path, None).await;
        assert!(text.contains("alice"), "{path}: {text}");
        assert_no_secrets(&text, &account, "Pw-one-1");
    }

    // Other fields, and the same username again, leave the HA1 values alone.
    api.ok(
        "PATCH",
        &format!("{SIP_ENDPOINTS}/{id}"),
        Some(json!({"caller_id": "+15550001111"})),
    )
    .await;
    api.ok(
        "PUT",
        &format!("{SIP_ENDPOINTS}/{id}"),
        Some(json!({"username": "alice", "send_as": "+1555"})),
    )
    .await;
    let account = api.account("alice").await;
    assert_eq!(account.caller_id.as_deref(), Some("+15550001111"));
    assert_ha1(&account, "alice", "Pw-one-1");

    // A new password, new values.
    let (_, text) = api
        .ok(
            "PATCH",
            &format!("{SIP_ENDPOINTS}/{id}"),
            Some(json!({"password": "Pw-two-2"})),
        )
        .await;
    let account = api.account("alice").await;
    assert_ha1(&account, "alice", "Pw-two-2");
    assert_no_secrets(&text, &account, "Pw-two-2");

    // A rename without the password is refused and changes nothing.
    let (status, body, _) = api
        .call(
            "PATCH",
            &format!("{SIP_ENDPOINTS}/{id}"),
            Some(json!({"username": "alice2", "caller_id": "+1"})),
        )
        .await;
    assert_needs_password(status, &body);
    assert!(api.store.sip_accounts("alice2").await.unwrap().is_empty());
    let account = api.account("alice").await;
    assert_eq!(account.caller_id.as_deref(), Some("+15550001111"));
    assert_ha1(&account, "alice", "Pw-two-2");

    // With the password it is renamed, with values for the new username.
    let (renamed, _) = api
        .ok(
            "PUT",
            &format!("{SIP_ENDPOINTS}/{id}"),
            Some(json!({"username": "alice2", "password": "Pw-three-3"})),
        )
        .await;
    assert_eq!(renamed["sip_endpoint"]["username"], "alice2");
    assert!(api.store.sip_accounts("alice").await.unwrap().is_empty());
    assert_ha1(&api.account("alice2").await, "alice2", "Pw-three-3");
}

#[tokio::test]
async fn subscriber_sip_endpoints_keep_ha1_values_for_the_realm() {
    let api = Api::new().await;
    let (subscriber, _) = api
        .ok(
            "POST",
            SUBSCRIBERS,
            Some(json!({"email": "bob@example.com", "first_name": "Bob"})),
        )
        .await;
    let sub_id = subscriber["id"].as_str().unwrap();
    let inner_id = subscriber["subscriber"]["id"].as_str().unwrap();
    let nested = format!("{SUBSCRIBERS}/{sub_id}/sip_endpoints");
    let (status, created, text) = api
        .call(
            "POST",
            &nested,
            Some(json!({"username": "bob", "password": "Pw-one-1", "codecs": ["OPUS"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let id = created["id"].as_str().unwrap().to_owned();
    let account = api.account("bob").await;
    assert_eq!(account.kind, SipAccountKind::Subscriber);
    assert_eq!(account.id, id);
    assert_eq!(account.resource_id, inner_id);
    assert_eq!(account.subscriber_id.as_deref(), Some(inner_id));
    assert_eq!(account.display_name, "Bob");
    assert_eq!(account.codecs, ["OPUS"]);
    assert_ha1(&account, "bob", "Pw-one-1");
    assert_no_secrets(&text, &account, "Pw-one-1");
    for path in [format!("{nested}/{id}"), nested.clone()] {
        let (_, text) = api.ok("GET", &path, None).await;
        assert!(text.contains("bob"), "{path}: {text}");
        assert_no_secrets(&text, &account, "Pw-one-1");
    }

    api.ok(
        "PATCH",
        &format!("{nested}/{id}"),
        Some(json!({"caller_id": "+15550002222"})),
    )
    .await;
    let account = api.account("bob").await;
    assert_eq!(account.caller_id.as_deref(), Some("+15550002222"));
    assert_ha1(&account, "bob", "Pw-one-1");

    let (_, text) = api
        .ok(
            "PATCH",
            &format!("{nested}/{id}"),
            Some(json!({"password": "Pw-two-2"})),
        )
        .await;
    let account = api.account("bob").await;
    assert_ha1(&account, "bob", "Pw-two-2");
    assert_no_secrets(&text, &account, "Pw-two-2");

    let (status, body, _) = api
        .call(
            "PATCH",
            &format!("{nested}/{id}"),
            Some(json!({"username": "bob2"})),
        )
        .await;
    assert_needs_password(status, &body);
    assert!(api.store.sip_accounts("bob2").await.unwrap().is_empty());
    assert_ha1(&api.account("bob").await, "bob", "Pw-two-2");

    api.ok(
        "PUT",
        &format!("{nested}/{id}"),
        Some(json!({"username": "bob2", "password": "Pw-three-3"})),
    )
    .await;
    assert!(api.store.sip_accounts("bob").await.unwrap().is_empty());
    assert_ha1(&api.account("bob2").await, "bob2", "Pw-three-3");
}

#[tokio::test]
async fn deleting_endpoints_through_the_api_removes_their_bindings() {
    let api = Api::new().await;
    let (resource, _) = api
        .ok(
            "POST",
            SIP_ENDPOINTS,
            Some(json!({"username": "carol", "password": "Pw-one-1"})),
        )
        .await;
    let resource_id = resource["id"].as_str().unwrap();
    let (subscriber, _) = api
        .ok(
            "POST",
            SUBSCRIBERS,
            Some(json!({"email": "dave@example.com"})),
        )
        .await;
    let sub_id = subscriber["id"].as_str().unwrap();
    let nested = format!("{SUBSCRIBERS}/{sub_id}/sip_endpoints");
    let mut nested_ids = Vec::new();
    for username in ["dave-a", "dave-b"] {
        let (endpoint, _) = api
            .ok(
                "POST",
                &nested,
                Some(json!({"username": username, "password": "Pw-one-1"})),
            )
            .await;
        nested_ids.push(endpoint["id"].as_str().unwrap().to_owned());
    }
    for (id, account_id) in [
        ("resource", resource_id),
        ("nested-a", nested_ids[0].as_str()),
        ("nested-b", nested_ids[1].as_str()),
    ] {
        api.store
            .save_sip_binding(&SipBindingRow {
                id: id.into(),
                account_id: account_id.into(),
                project_id: "p".into(),
                expires_at: i64::MAX,
                data: "{}".into(),
                updated_at: 0,
            })
            .await
            .unwrap();
    }
    let remaining = async || {
        let mut ids: Vec<String> = api
            .store
            .sip_bindings()
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.id)
            .collect();
        ids.sort();
        ids
    };

    api.ok("DELETE", &format!("{SIP_ENDPOINTS}/{resource_id}"), None)
        .await;
    assert_eq!(remaining().await, ["nested-a", "nested-b"]);
    api.ok("DELETE", &format!("{nested}/{}", nested_ids[0]), None)
        .await;
    assert_eq!(remaining().await, ["nested-b"]);
    api.ok("DELETE", &format!("{SUBSCRIBERS}/{sub_id}"), None)
        .await;
    assert!(remaining().await.is_empty());
}
