//! The [`SCRIPTS`] front-end: one task attached to the call controller, starting a script
//! call per ring and routing each leg's events to it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;
use weft_calls::media::LocalMedia;
use weft_calls::{Calls, Cause, Command, FrontEvent, LegId, SCRIPTS};
use weft_fetch::Fetcher;
use weft_media::MediaEngine;
use weft_playback::Loader;
use weft_swml::Limits;

use crate::call::ScriptCall;
use crate::frames::FrameCache;
use crate::store::ScriptStore;

/// What every script call shares.
pub struct ScriptsEnv {
    /// The call controller.
    pub calls: Calls,
    /// The media engine, where scripts add their voices.
    pub engine: Arc<MediaEngine>,
    /// Where scripts come from.
    pub store: Arc<dyn ScriptStore>,
    /// Loads `play` URLs as PCM.
    pub loader: Loader,
    /// Fetches `request`s and webhooks' SWML.
    pub fetcher: Fetcher,
    /// Encoded sounds.
    pub frames: FrameCache,
    /// The step and depth limits of every script.
    pub limits: Limits,
    /// Where recordings are written (`<data dir>/recordings`); `None`: scripts cannot record.
    pub recordings_dir: Option<std::path::PathBuf>,
    /// Told about script calls, the methods they ran and what failed (metrics).
    pub observer: Arc<dyn ScriptsObserver>,
}

/// Receives the scripts' counts; implemented by the server with its metrics registry.
pub trait ScriptsObserver: Send + Sync + 'static {
    /// A call started running a script.
    fn started(&self);
    /// A call's script ended, having run `steps` methods by name.
    fn ended(&self, steps: &BTreeMap<String, u32>);
    /// A script stopped, or one of its methods failed, for `reason` (`step_limit`,
    /// `depth_limit`, `script_error`, `load_failed`, `play_failed`, `prompt_failed`,
    /// `connect_failed`, `request_failed`, `fetch_failed`, `record_failed`, `answer_failed`,
    /// `method_failed`).
    fn error(&self, reason: &'static str);
}

/// Reports nothing.
impl ScriptsObserver for () {
    fn started(&self) {}
    fn ended(&self, _: &BTreeMap<String, u32>) {}
    fn error(&self, _: &'static str) {}
}

/// The running front-end.
pub struct Scripts;

impl Scripts {
    /// Attaches to the controller and serves script calls until it stops.
    pub fn start(env: Arc<ScriptsEnv>) -> JoinHandle<()> {
        let mut rx = env.calls.attach(SCRIPTS);
        tokio::spawn(async move {
            let mut calls: HashMap<LegId, UnboundedSender<FrontEvent>> = HashMap::new();
            while let Some(event) = rx.recv().await {
                if let FrontEvent::Ring(ring) = event {
                    let LocalMedia::Source(spot) = ring.media.clone() else {
                        // The controller rings scripts with a source spot only.
                        tracing::warn!(call_id = %ring.leg, "a script was rung without a source spot");
                        env.calls.command(Command::Hangup {
                            leg: ring.leg,
                            cause: Cause::NormalTemporaryFailure,
                        });
                        continue;
                    };
                    calls.retain(|_, tx| !tx.is_closed());
                    let (tx, events) = unbounded_channel();
                    calls.insert(ring.leg.clone(), tx);
                    tokio::spawn(ScriptCall::new(env.clone(), *ring, spot, events).run());
                    continue;
                }
                let ended = matches!(event, FrontEvent::Ended { .. });
                let leg = event.leg().to_owned();
                if let Some(tx) = calls.get(&leg) {
                    let _ = tx.send(event);
                }
                if ended {
                    calls.remove(&leg);
                }
            }
        })
    }
}
