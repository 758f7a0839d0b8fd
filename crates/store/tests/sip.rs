//! SIP accounts, digest secrets and registration bindings, on a real SQLite file and, when
//! `WEFT_TEST_POSTGRES_URL` names a PostgreSQL server, on a fresh database there too.

use serde_json::{Value, json};
use weft_core::ResourceKind;
use weft_store::resources::{Login, NewResource, Resource};
use weft_store::sip_accounts::{SipAccountKind, SipDigest};
use weft_store::sip_bindings::SipBindingRow;
use weft_store::sip_endpoints::SipSecrets;
use weft_store::{Store, StoreError};

mod common;

use common::{Backend, database_url, on_every_backend};

fn digest(tag: &str) -> SipDigest {
    SipDigest {
        realm: "sip.example.test".into(),
        md5: Some(format!("md5-{tag}")),
        sha256: Some(format!("sha256-{tag}")),
    }
}

fn secrets(tag: &str) -> SipSecrets {
    SipSecrets {
        password_hash: format!("$argon2id$fake-{tag}"),
        digest: digest(tag),
    }
}

async fn sip_endpoint_resource(
    store: &Store,
    project: &str,
    username: &str,
    body: Value,
) -> Resource {
    let mut body = body;
    body["username"] = json!(username);
    store
        .create_resource(
            project,
            NewResource {
                kind: ResourceKind::SipEndpoint,
                name: username.into(),
                display_name: format!("{username} desk"),
                body,
                login: None,
            },
        )
        .await
        .unwrap()
}

async fn subscriber(store: &Store, project: &str, name: &str) -> Resource {
    let email = format!("{name}@example.com");
    store
        .create_resource(
            project,
            NewResource {
                kind: ResourceKind::Subscriber,
                name: name.into(),
                display_name: format!("{name} display"),
                body: json!({"email": email}),
                login: Some(Login {
                    email,
                    password_hash: None,
                }),
            },
        )
        .await
        .unwrap()
}

fn binding(id: &str, account_id: &str, project_id: &str, expires_at: i64) -> SipBindingRow {
    SipBindingRow {
        id: id.into(),
        account_id: account_id.into(),
        project_id: project_id.into(),
        expires_at,
        data: format!("{{\"contact\":\"sip:{id}@127.0.0.1\"}}"),
        updated_at: 1_000,
    }
}

async fn binding_ids(store: &Store) -> Vec<String> {
    let mut ids: Vec<String> = store
        .sip_bindings()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn sip_accounts_find_both_kinds_in_every_project() {
    on_every_backend(async |b: &Backend| {
        let store = &b.store;
        store.create_project("p1", "one").await.unwrap();
        store.create_project("p2", "two").await.unwrap();
        let resource = sip_endpoint_resource(
            store,
            "p1",
            "alice",
            json!({
                "_password_hash": "$argon2id$fake",
                "_digest": digest("resource").to_json(),
                "codecs": ["PCMU", "OPUS@48000h"],
                "encryption": "required",
                "caller_id": "+15550001111",
            }),
        )
        .await;
        let sub = subscriber(store, "p2", "bob").await;
        let nested = store
            .create_sip_endpoint(
                "p2",
                &sub.id,
                "alice",
                &secrets("nested"),
                json!({"codecs": ["PCMA"], "encryption": "optional", "caller_id": null}),
            )
            .await
            .unwrap();
        store
            .create_sip_endpoint("p2", &sub.id, "other", &secrets("x"), json!({}))
            .await
            .unwrap();
        // Created before HA1 values were kept: no `_digest`.
        sip_endpoint_resource(
            store,
            "p2",
            "legacy",
            json!({"_password_hash": "$argon2id$old"}),
        )
        .await;

        let accounts = store.sip_accounts("alice").await.unwrap();
        assert_eq!(accounts.len(), 2, "{accounts:?}");
        let by_resource = &accounts[0];
        assert_eq!(by_resource.kind, SipAccountKind::Resource);
        assert_eq!(by_resource.id, resource.id);
        assert_eq!(by_resource.resource_id, resource.id);
        assert_eq!(by_resource.project_id, "p1");
        assert_eq!(by_resource.username, "alice");
        assert_eq!(by_resource.subscriber_id, None);
        assert_eq!(by_resource.display_name, "alice desk");
        assert_eq!(by_resource.realm.as_deref(), Some("sip.example.test"));
        assert_eq!(by_resource.ha1_md5.as_deref(), Some("md5-resource"));
        assert_eq!(by_resource.ha1_sha256.as_deref(), Some("sha256-resource"));
        assert_eq!(by_resource.encryption.as_deref(), Some("required"));
        assert_eq!(by_resource.codecs, ["PCMU", "OPUS@48000h"]);
        assert_eq!(by_resource.caller_id.as_deref(), Some("+15550001111"));

        let by_subscriber = &accounts[1];
        assert_eq!(by_subscriber.kind, SipAccountKind::Subscriber);
        assert_eq!(by_subscriber.id, nested.id);
        assert_eq!(by_subscriber.resource_id, sub.inner_id);
        assert_eq!(
            by_subscriber.subscriber_id.as_deref(),
            Some(sub.inner_id.as_str())
        );
        assert_eq!(by_subscriber.project_id, "p2");
        assert_eq!(by_subscriber.username, "alice");
        assert_eq!(by_subscriber.display_name, "bob display");
        assert_eq!(by_subscriber.realm.as_deref(), Some("sip.example.test"));
        assert_eq!(by_subscriber.ha1_md5.as_deref(), Some("md5-nested"));
        assert_eq!(by_subscriber.ha1_sha256.as_deref(), Some("sha256-nested"));
        assert_eq!(by_subscriber.encryption.as_deref(), Some("optional"));
        assert_eq!(by_subscriber.codecs, ["PCMA"]);
        assert_eq!(by_subscriber.caller_id, None);

        let legacy = store.sip_accounts("legacy").await.unwrap();
        assert_eq!(legacy.len(), 1);
        assert_eq!(
            (&legacy[0].realm, &legacy[0].ha1_md5, &legacy[0].ha1_sha256),
            (&None, &None, &None)
        );
        assert!(legacy[0].codecs.is_empty());
        assert!(store.sip_accounts("nobody").await.unwrap().is_empty());
        // Usernames match exactly: SIP user parts are case-sensitive.
        assert!(store.sip_accounts("Alice").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn nested_endpoint_secrets_change_only_when_given() {
    on_every_backend(async |b: &Backend| {
        let store = &b.store;
        store.create_project("p", "p").await.unwrap();
        let sub = subscriber(store, "p", "carol").await;
        let endpoint = store
            .create_sip_endpoint("p", &sub.id, "carol", &secrets("first"), json!({}))
            .await
            .unwrap();
        let ha1 = |accounts: Vec<weft_store::sip_accounts::SipAccountRow>| {
            accounts
                .into_iter()
                .map(|a| (a.username, a.ha1_md5, a.ha1_sha256))
                .collect::<Vec<_>>()
        };
        store
            .update_sip_endpoint(
                &sub.id,
                &endpoint.id,
                "carol",
                None,
                json!({"caller_id": "+1"}),
            )
            .await
            .unwrap();
        assert_eq!(
            ha1(store.sip_accounts("carol").await.unwrap()),
            [(
                "carol".to_owned(),
                Some("md5-first".to_owned()),
                Some("sha256-first".to_owned())
            )]
        );
        store
            .update_sip_endpoint(
                &sub.id,
                &endpoint.id,
                "carol2",
                Some(&secrets("second")),
                json!({}),
            )
            .await
            .unwrap();
        assert!(store.sip_accounts("carol").await.unwrap().is_empty());
        assert_eq!(
            ha1(store.sip_accounts("carol2").await.unwrap()),
            [(
                "carol2".to_owned(),
                Some("md5-second".to_owned()),
                Some("sha256-second".to_owned())
            )]
        );
    })
    .await;
}

#[tokio::test]
async fn bindings_round_trip_replace_and_expire() {
    on_every_backend(async |b: &Backend| {
        let store = &b.store;
        store.create_project("p", "p").await.unwrap();
        store.create_project("q", "q").await.unwrap();
        let endpoint = sip_endpoint_resource(store, "p", "dave", json!({})).await;
        let sub = subscriber(store, "p", "erin").await;
        let nested = store
            .create_sip_endpoint("p", &sub.id, "erin", &secrets("e"), json!({}))
            .await
            .unwrap();

        store
            .save_sip_binding(&binding("b1", &endpoint.id, "p", 5_000))
            .await
            .unwrap();
        store
            .save_sip_binding(&binding("b2", &endpoint.id, "p", 9_000))
            .await
            .unwrap();
        store
            .save_sip_binding(&binding("b3", &nested.id, "p", 7_000))
            .await
            .unwrap();
        let mut refreshed = binding("b1", &endpoint.id, "p", 20_000);
        refreshed.data = "{\"cseq\":2}".into();
        refreshed.updated_at = 2_000;
        store.save_sip_binding(&refreshed).await.unwrap();

        let all = store.sip_bindings().await.unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all.iter().find(|r| r.id == "b1"), Some(&refreshed));
        assert_eq!(
            all.iter().find(|r| r.id == "b3"),
            Some(&binding("b3", &nested.id, "p", 7_000))
        );

        // A binding needs an existing account of its project.
        for orphan in [
            binding("x1", "no-such-account", "p", 5_000),
            binding("x2", &endpoint.id, "q", 5_000),
            binding("x3", &nested.id, "q", 5_000),
            binding("x4", &sub.id, "p", 5_000),
        ] {
            assert!(
                matches!(
                    store.save_sip_binding(&orphan).await,
                    Err(StoreError::NotFound)
                ),
                "{orphan:?}"
            );
        }
        assert_eq!(binding_ids(store).await, ["b1", "b2", "b3"]);

        assert_eq!(store.delete_expired_sip_bindings(7_000).await.unwrap(), 1);
        assert_eq!(binding_ids(store).await, ["b1", "b2"]);
        assert!(store.delete_sip_binding("b2").await.unwrap());
        assert!(!store.delete_sip_binding("b2").await.unwrap());
        store
            .save_sip_binding(&binding("b4", &endpoint.id, "p", 30_000))
            .await
            .unwrap();
        store
            .save_sip_binding(&binding("b5", &nested.id, "p", 30_000))
            .await
            .unwrap();
        assert_eq!(
            store
                .delete_sip_bindings_of_account(&endpoint.id)
                .await
                .unwrap(),
            2
        );
        assert_eq!(binding_ids(store).await, ["b5"]);

        // A restart keeps them.
        store.close().await;
        let reopened = Store::connect(&b.url).await.unwrap();
        assert_eq!(
            reopened.sip_bindings().await.unwrap(),
            [binding("b5", &nested.id, "p", 30_000)]
        );
        reopened.close().await;
    })
    .await;
}

#[tokio::test]
async fn bindings_go_with_their_endpoint() {
    on_every_backend(async |b: &Backend| {
        let store = &b.store;
        store.create_project("p", "p").await.unwrap();
        let first = sip_endpoint_resource(store, "p", "frank", json!({})).await;
        let second = sip_endpoint_resource(store, "p", "grace", json!({})).await;
        let sub = subscriber(store, "p", "heidi").await;
        let other_sub = subscriber(store, "p", "ivan").await;
        let nested_a = store
            .create_sip_endpoint("p", &sub.id, "heidi-a", &secrets("a"), json!({}))
            .await
            .unwrap();
        let nested_b = store
            .create_sip_endpoint("p", &sub.id, "heidi-b", &secrets("b"), json!({}))
            .await
            .unwrap();
        let nested_c = store
            .create_sip_endpoint("p", &other_sub.id, "ivan", &secrets("c"), json!({}))
            .await
            .unwrap();
        for (id, account) in [
            ("first", &first.id),
            ("second", &second.id),
            ("nested-a", &nested_a.id),
            ("nested-b", &nested_b.id),
            ("nested-b2", &nested_b.id),
            ("nested-c", &nested_c.id),
        ] {
            store
                .save_sip_binding(&binding(id, account, "p", 60_000))
                .await
                .unwrap();
        }

        // A SIP endpoint resource, deleted by its inner id as the API allows.
        store.delete_resource("p", &first.inner_id).await.unwrap();
        assert_eq!(
            binding_ids(store).await,
            ["nested-a", "nested-b", "nested-b2", "nested-c", "second"]
        );
        // One nested endpoint.
        store
            .delete_sip_endpoint(&sub.id, &nested_a.id)
            .await
            .unwrap();
        assert_eq!(
            binding_ids(store).await,
            ["nested-b", "nested-b2", "nested-c", "second"]
        );
        // A missing endpoint deletes nothing.
        assert!(matches!(
            store.delete_sip_endpoint(&sub.id, &nested_c.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_resource("p", "no-such-resource").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            binding_ids(store).await,
            ["nested-b", "nested-b2", "nested-c", "second"]
        );
        // The subscriber owning nested endpoints.
        store.delete_resource("p", &sub.id).await.unwrap();
        assert_eq!(binding_ids(store).await, ["nested-c", "second"]);
        assert!(store.sip_accounts("heidi-b").await.unwrap().is_empty());
    })
    .await;
}

#[test]
fn database_urls_keep_the_server_and_options() {
    assert_eq!(
        database_url("postgres://u:pw@127.0.0.1:5432/postgres", "db1"),
        "postgres://u:pw@127.0.0.1:5432/db1"
    );
    assert_eq!(
        database_url(
            "postgres://u:pw@127.0.0.1:5432/postgres?sslmode=disable",
            "db1"
        ),
        "postgres://u:pw@127.0.0.1:5432/db1?sslmode=disable"
    );
    assert_eq!(
        database_url("postgres://127.0.0.1", "db1"),
        "postgres://127.0.0.1/db1"
    );
}
