//! The command line.

use std::path::PathBuf;

use clap::Parser;
use serde::Serialize;

/// Most streams of one kind the engine forwards to a member individually (its default last-N).
pub const ENGINE_LAST_N: usize = 16;

/// Load-tests a Weft server with synthetic str0m peers that join video rooms through the real
/// REST API and Fabric signaling, publish synthetic VP8/Opus and account what they receive.
#[derive(Debug, Clone, Parser, Serialize)]
#[command(name = "weft-loadtest", version)]
pub struct Args {
    /// The server's plain HTTP listener (REST and WebSocket).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub http: String,
    /// The project id for HTTP Basic.
    #[arg(long, env = "WEFT_PROJECT_ID")]
    pub project_id: String,
    /// The project's API token for HTTP Basic.
    #[arg(long, env = "WEFT_API_TOKEN", hide_env_values = true)]
    #[serde(skip)]
    pub api_token: String,
    /// The server's Prometheus endpoint, scraped every second ("" to skip; `proc:<pid>` reads
    /// only that local process's CPU and resident memory from /proc).
    #[arg(long, default_value = "http://127.0.0.1:9100/metrics")]
    pub metrics: String,
    /// Load-test Janus's VideoRoom at this HTTP API URL (`http://host:port/janus`) instead of
    /// Weft (for the side-by-side benchmark; `--http` and the credentials are then unused).
    #[arg(long)]
    pub janus_url: Option<String>,
    /// Number of rooms.
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// Publishers per room.
    #[arg(long, default_value_t = 1)]
    pub publishers: usize,
    /// Subscribers (receive-only peers) per room.
    #[arg(long, default_value_t = 10)]
    pub subscribers: usize,
    /// Send and receive audio (default).
    #[arg(long, overrides_with = "no_audio")]
    #[serde(skip)]
    pub audio: bool,
    /// No audio m-lines.
    #[arg(long)]
    pub no_audio: bool,
    /// Send and receive video (default).
    #[arg(long, overrides_with = "no_video")]
    #[serde(skip)]
    pub video: bool,
    /// No video m-lines.
    #[arg(long)]
    pub no_video: bool,
    /// Publishers send three simulcast layers.
    #[arg(long)]
    pub simulcast: bool,
    /// Simulcast publishers keep sending layers the server says nobody receives (by default
    /// they pause them, as an SFU-aware client does).
    #[arg(long)]
    pub keep_unwanted_layers: bool,
    /// Receive m-lines per kind (1 = the browser SDK's shape: mixed audio and voice-switched
    /// video in rooms of 3+); default: one per publisher, at least 2, at most the engine's last-N.
    #[arg(long)]
    pub slots: Option<usize>,
    /// Join rate (peers per second).
    #[arg(long, default_value_t = 20.0)]
    pub ramp: f64,
    /// Seconds of media after every peer joined (or gave up).
    #[arg(long, default_value_t = 30.0)]
    pub duration: f64,
    /// Seconds a peer may take from its start to `call.joined` and ICE/DTLS connected.
    #[arg(long, default_value_t = 20.0)]
    pub join_timeout: f64,
    /// Video frames per second (one packet per frame and layer).
    #[arg(long, default_value_t = 30)]
    pub fps: u32,
    /// Seconds between unprompted keyframes.
    #[arg(long, default_value_t = 2.0)]
    pub keyframe_interval: f64,
    /// Media worker threads (each drives many peers).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Prefix of room names and subscriber references (default: a random one per run).
    #[arg(long)]
    pub name_prefix: Option<String>,
    /// Write the JSON report here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write the SVG plot here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

impl Args {
    /// Whether rooms carry audio.
    pub fn with_audio(&self) -> bool {
        !self.no_audio
    }

    /// Whether rooms carry video.
    pub fn with_video(&self) -> bool {
        !self.no_video
    }

    /// Receive slots per kind.
    pub fn slot_count(&self) -> usize {
        self.slots
            .unwrap_or_else(|| self.publishers.clamp(2, ENGINE_LAST_N))
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Args {
        let mut argv = vec!["weft-loadtest", "--project-id", "p", "--api-token", "t"];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).unwrap()
    }

    #[test]
    fn defaults_and_switches() {
        let a = parse(&[]);
        assert!(a.with_audio() && a.with_video());
        assert_eq!(
            (a.rooms, a.publishers, a.subscribers, a.slot_count()),
            (1, 1, 10, 2)
        );
        let a = parse(&[
            "--no-audio",
            "--publishers",
            "5",
            "--rooms",
            "3",
            "--subscribers",
            "2",
        ]);
        assert!(!a.with_audio() && a.with_video());
        assert_eq!((a.slot_count(), a.rooms), (5, 3));
        let a = parse(&["--no-video", "--video"]);
        assert!(a.with_video());
        assert_eq!(parse(&["--publishers", "40"]).slot_count(), ENGINE_LAST_N);
        assert_eq!(parse(&["--slots", "1"]).slot_count(), 1);
    }

    #[test]
    fn the_api_token_is_not_serialized() {
        let v = serde_json::to_value(parse(&[])).unwrap();
        assert!(v.get("api_token").is_none());
        assert_eq!(v["project_id"], "p");
    }
}
