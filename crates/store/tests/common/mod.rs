//! The back ends the store's integration tests run on: a SQLite file, and a fresh PostgreSQL
//! database when `WEFT_TEST_POSTGRES_URL` names a server.

use sqlx::{AnyConnection, Connection, Executor};
use weft_store::Store;

/// A database for one test: a SQLite file, or a PostgreSQL database dropped afterwards.
pub struct Backend {
    pub store: Store,
    pub url: String,
    postgres: Option<(String, String)>,
}

fn sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!("weft-sip-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}?mode=rwc", dir.join("weft.db").display())
}

/// The URL of another database on the server `admin_url` names.
pub fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{server}/{name}{query}")
}

async fn backends() -> Vec<Backend> {
    let url = sqlite_url();
    let mut all = vec![Backend {
        store: Store::connect(&url).await.unwrap(),
        url,
        postgres: None,
    }];
    if let Ok(admin_url) = std::env::var("WEFT_TEST_POSTGRES_URL") {
        sqlx::any::install_default_drivers();
        let name = format!("weft_store_{}", uuid::Uuid::new_v4().simple());
        let mut admin = AnyConnection::connect(&admin_url).await.unwrap();
        admin
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = database_url(&admin_url, &name);
        all.push(Backend {
            store: Store::connect(&url).await.unwrap(),
            url,
            postgres: Some((admin_url, name)),
        });
    }
    all
}

/// Runs a test on every back end, dropping its PostgreSQL database afterwards.
pub async fn on_every_backend(test: impl AsyncFn(&Backend)) {
    for backend in backends().await {
        test(&backend).await;
        backend.store.close().await;
        if let Some((admin_url, name)) = &backend.postgres {
            let mut admin = AnyConnection::connect(admin_url).await.unwrap();
            admin
                .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                .await
                .unwrap();
            admin.close().await.unwrap();
        }
    }
}
