//! Opening the database and running migrations.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

use crate::Result;

/// A handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Connects to `sqlite:…` or `postgres:…` and applies pending migrations.
    ///
    /// SQLite runs in WAL mode with `synchronous=FULL`, so every acknowledged write survives a crash.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        // Each connection to an in-memory SQLite database has a database of its own.
        let in_memory = sqlite && url.contains(":memory:");
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            // SQLite in WAL mode: readers (token checks, address lookups) run beside the one
            // writer instead of queueing behind its fsync; writers, here or in another process
            // (the admin CLI), take turns on the busy timeout. Every transaction starts with its
            // write, so none has to upgrade a read snapshot (which the busy timeout cannot fix).
            .max_connections(match (sqlite, in_memory) {
                (true, true) => 1,
                (true, false) => 4,
                (false, _) => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Store { pool })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
