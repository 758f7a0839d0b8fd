//! Store behaviour on a real SQLite file (and PostgreSQL when `WEFT_TEST_POSTGRES_URL` names one).

use serde_json::json;
use weft_core::ResourceKind;
use weft_store::resources::{Login, NewResource};
use weft_store::tokens::{NewRefreshToken, RefreshOutcome};
use weft_store::{Store, StoreError};

async fn sqlite_store() -> (Store, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("weft-store-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("weft.db").display());
    (Store::connect(&url).await.unwrap(), dir)
}

fn room(name: &str) -> NewResource {
    NewResource {
        kind: ResourceKind::VideoRoom,
        name: name.into(),
        display_name: name.into(),
        body: json!({"max_members": 5}),
        login: None,
    }
}

#[tokio::test]
async fn resources_page_and_names_are_unique() {
    let (store, _dir) = sqlite_store().await;
    store.create_project("p1", "one").await.unwrap();
    store.create_project("p2", "two").await.unwrap();
    for i in 0..7 {
        store
            .create_resource("p1", room(&format!("room{i}")))
            .await
            .unwrap();
    }
    let dup = store.create_resource("p1", room("room3")).await;
    assert!(matches!(dup, Err(StoreError::Conflict("name"))));
    // The same name in another project is fine.
    store.create_resource("p2", room("room3")).await.unwrap();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_resources("p1", Some(ResourceKind::VideoRoom), after.as_ref(), 3)
            .await
            .unwrap();
        seen.extend(page.rows.iter().map(|r| r.name.clone()));
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 7);
}

#[tokio::test]
async fn deleting_a_subscriber_removes_its_address_and_login() {
    let (store, _dir) = sqlite_store().await;
    store.create_project("p", "p").await.unwrap();
    let sub = store
        .create_resource(
            "p",
            NewResource {
                kind: ResourceKind::Subscriber,
                name: "alice".into(),
                display_name: "Alice".into(),
                body: json!({"email": "alice@example.com"}),
                login: Some(Login {
                    email: "alice@example.com".into(),
                    password_hash: None,
                }),
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .subscriber_by_email("p", "alice@example.com")
            .await
            .unwrap()
            .is_some()
    );
    store.delete_resource("p", &sub.id).await.unwrap();
    assert!(
        store
            .subscriber_by_email("p", "alice@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .address_by_name("p", "public", "alice")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.free_address_name("p", "alice").await.unwrap(),
        "alice"
    );
}

#[tokio::test]
async fn refresh_tokens_are_single_use_and_reuse_revokes_the_family() {
    let (store, _dir) = sqlite_store().await;
    store.create_project("p", "p").await.unwrap();
    let token = |hash: &str| NewRefreshToken {
        token_hash: hash.into(),
        family_id: "fam".into(),
        project_id: "p".into(),
        grant_json: "{}".into(),
        expires_at: weft_core::time::now_ms() + 60_000,
    };
    store.add_refresh_token(&token("h1")).await.unwrap();
    assert!(matches!(
        store.consume_refresh_token("h1").await.unwrap(),
        RefreshOutcome::Valid { .. }
    ));
    store.add_refresh_token(&token("h2")).await.unwrap();
    assert_eq!(
        store.consume_refresh_token("h1").await.unwrap(),
        RefreshOutcome::Reused
    );
    assert_eq!(
        store.consume_refresh_token("h2").await.unwrap(),
        RefreshOutcome::Invalid
    );
    assert_eq!(
        store.consume_refresh_token("nope").await.unwrap(),
        RefreshOutcome::Invalid
    );
}
