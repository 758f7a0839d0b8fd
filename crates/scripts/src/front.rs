//! The [`SCRIPTS`] front-end: one task attached to the call controller, starting a script
//! call per ring and routing each leg's events to it.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;
use weft_calls::{Calls, FrontEvent, LegId, SCRIPTS};
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
                    calls.retain(|_, tx| !tx.is_closed());
                    let (tx, events) = unbounded_channel();
                    calls.insert(ring.leg.clone(), tx);
                    tokio::spawn(ScriptCall::new(env.clone(), *ring, events).run());
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
