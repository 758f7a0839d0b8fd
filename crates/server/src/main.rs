//! `weft`: a self-hosted Call Fabric server.

mod admin;
mod bootstrap;
mod config;
mod directory;
mod listeners;
mod memory;
mod metrics;
mod scripts;
mod serve;
mod sip;
mod tls;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::Config;

/// Weft: a self-hosted Call Fabric server (subscribers, addresses, calls, video rooms).
#[derive(Debug, Parser)]
#[command(name = "weft", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// Where settings come from.
#[derive(Debug, Args, Clone, Default)]
struct Settings {
    /// A TOML settings file (see config/weft.toml); WEFT_* variables override it.
    #[arg(long, global = true, env = "WEFT_CONFIG")]
    config: Option<PathBuf>,
    /// The data directory (embedded database, development certificate).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default when no command is given).
    Serve {
        #[command(flatten)]
        settings: Settings,
    },
    /// Administrative helpers that work on the same storage.
    Admin {
        #[command(flatten)]
        settings: Settings,
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
}

/// The SIP stack logs every message it sends or receives in full at `info`, digest credentials
/// included: keep it to warnings unless the filter names it.
fn quiet_sip_stack(filter: &str) -> String {
    if filter.contains("rsipstack") {
        filter.to_owned()
    } else {
        format!("{filter},rsipstack=warn")
    }
}

fn init_logging(config: &Config) {
    let filter = std::env::var(EnvFilter::DEFAULT_ENV)
        .ok()
        .and_then(|f| EnvFilter::try_new(quiet_sip_stack(&f)).ok())
        .or_else(|| EnvFilter::try_new(quiet_sip_stack(&config.log_level)).ok())
        .unwrap_or_else(|| EnvFilter::new(quiet_sip_stack("info")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command.unwrap_or(Command::Serve {
        settings: Settings::default(),
    }) {
        Command::Serve { settings } => {
            let config = Config::load(settings.config.as_deref(), settings.data_dir.as_deref())?;
            init_logging(&config);
            runtime.block_on(serve::run(config))
        }
        Command::Admin { settings, command } => {
            let config = Config::load(settings.config.as_deref(), settings.data_dir.as_deref())?;
            runtime.block_on(admin::run(config, command))
        }
    }
}
