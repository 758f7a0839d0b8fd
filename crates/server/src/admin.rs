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
    /// Manage OAuth clients (web or mobile apps whose subscribers log in through Weft).
    #[command(subcommand)]
    OauthClient(OAuthClientCommand),
}

/// `weft admin oauth-client …`.
#[derive(Debug, Subcommand)]
pub enum OAuthClientCommand {
    /// Register a public client; prints it as JSON.
    Create {
        /// The id the web or mobile app sends as `client_id`.
        #[arg(long)]
        client_id: String,
        /// An exact redirect URI the client may use (repeat for more).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A browser origin allowed to call the token endpoint (repeat for more).
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// The project whose subscribers log in; default: the first (bootstrap) project.
        #[arg(long)]
        project_id: Option<String>,
        /// The name shown on the login page; default: the client id.
        #[arg(long)]
        name: Option<String>,
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
        AdminCommand::OauthClient(OAuthClientCommand::Create {
            client_id,
            redirect_uris,
            origins,
            project_id,
            name,
        }) => {
            let project_id = match project_id {
                Some(p) if store.project_exists(&p).await? => p,
                Some(p) => bail!("no project {p}"),
                None => store
                    .first_project_id()
                    .await?
                    .context("no project exists yet: start the server once or create one")?,
            };
            let client = weft_api::oauth::OAuthClient {
                name: name.unwrap_or_else(|| client_id.clone()),
                client_id,
                project_id: Some(project_id.clone()),
                redirect_uris,
                allowed_origins: origins,
                from_config: false,
            };
            let configured = config.oauth_config(443).clients;
            weft_api::oauth::create_client(&store, &configured, client, &project_id)
                .await
                .map_err(|e| match e {
                    weft_api::ApiError::Validation(problems) => anyhow::anyhow!(
                        "the OAuth client is not valid: {}",
                        problems
                            .iter()
                            .map(|p| p.message.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    other => anyhow::anyhow!("registering the OAuth client: {other:?}"),
                })?
                .to_json()
        }
    };
    println!("{output}");
    store.close().await;
    Ok(())
}
