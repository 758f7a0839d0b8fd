//! `weft admin …`: operator helpers that work on the same storage, also while the server runs.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::{Map, json};
use weft_auth::secret::new_secret;
use weft_store::Store;

use crate::bootstrap;
use crate::config::Config;

/// Admin commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a project; prints its id and API token as JSON.
    CreateProject {
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// Create another API token for a project; prints it as JSON.
    CreateApiToken {
        #[arg(long)]
        project_id: String,
    },
    /// Create a subscriber (a user who can log in); prints it as JSON.
    CreateSubscriber {
        #[arg(long)]
        project_id: String,
        #[arg(long)]
        email: String,
        /// The login password (or set WEFT_SUBSCRIBER_PASSWORD to keep it out of the process list).
        #[arg(long, env = "WEFT_SUBSCRIBER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long)]
        first_name: Option<String>,
        #[arg(long)]
        last_name: Option<String>,
    },
}

/// Runs one admin command.
pub async fn run(config: Config, command: AdminCommand) -> Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store = Store::connect(&config.database_url())
        .await
        .context("opening the database")?;
    let output = match command {
        AdminCommand::CreateProject { name } => {
            let c = bootstrap::create_project(&store, &name, None, None).await?;
            json!({"project_id": c.project_id, "api_token": c.api_token})
        }
        AdminCommand::CreateApiToken { project_id } => {
            if !store.project_exists(&project_id).await? {
                bail!("no project {project_id}");
            }
            let token = new_secret("PT");
            bootstrap::add_api_token(&store, &project_id, &token).await?;
            json!({"project_id": project_id, "api_token": token})
        }
        AdminCommand::CreateSubscriber {
            project_id,
            email,
            password,
            first_name,
            last_name,
        } => {
            if !store.project_exists(&project_id).await? {
                bail!("no project {project_id}");
            }
            let mut profile = Map::new();
            if let Some(v) = first_name {
                profile.insert("first_name".into(), json!(v));
            }
            if let Some(v) = last_name {
                profile.insert("last_name".into(), json!(v));
            }
            let r = weft_api::create_subscriber(
                &store,
                &project_id,
                email.trim().to_lowercase(),
                password,
                profile,
            )
            .await
            .map_err(|e| anyhow::anyhow!("creating the subscriber: {e:?}"))?;
            json!({"id": r.id, "subscriber_id": r.inner_id, "email": r.body["email"], "address": format!("/public/{}", r.name)})
        }
    };
    println!("{output}");
    store.close().await;
    Ok(())
}
