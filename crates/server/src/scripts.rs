//! The SWML front-end's wiring: scripts come from the store (`swml_scripts`' contents,
//! `swml_webhooks`' URLs), and every script call shares one loader, fetcher and sound cache.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use weft_calls::Calls;
use weft_core::ResourceKind;
use weft_fetch::Fetcher;
use weft_media::MediaEngine;
use weft_playback::Loader;
use weft_scripts::frames::FrameCache;
use weft_scripts::recorder::Format;
use weft_scripts::store::{Done, Load};
use weft_scripts::{RecordingRow, RecordingStore, ScriptBody, ScriptStore, Scripts, ScriptsEnv};
use weft_store::Store;
use weft_store::recordings::{NewRecording, RecordingFormat, RecordingStatus, RecordingTrack};
use weft_swml::Document;

use crate::config::SwmlSettings;

/// How long an encoded sound is reused before it is loaded again.
const SOUND_MAX_AGE: Duration = Duration::from_secs(300);

/// Scripts and their recordings in the store.
struct StoreScripts {
    store: Store,
    public_url: String,
}

impl RecordingStore for StoreScripts {
    fn create_recording(&self, row: RecordingRow) -> Done<'_, String> {
        Box::pin(async move {
            let format = match row.format {
                Format::Ogg => RecordingFormat::Ogg,
                Format::Wav => RecordingFormat::Wav,
            };
            let new = NewRecording {
                id: row.id,
                project_id: row.project_id,
                call_id: row.call_id,
                resource_id: Some(row.resource_id),
                track: RecordingTrack::Caller,
                format,
                path: row.path,
                status: RecordingStatus::InProgress,
            };
            let created = self
                .store
                .create_recording(new)
                .await
                .map_err(|e| format!("registering the recording: {e}"))?;
            Ok(format!(
                "{}/api/relay/rest/recordings/{}/download",
                self.public_url.trim_end_matches('/'),
                created.id
            ))
        })
    }

    fn finish_recording<'a>(
        &'a self,
        id: &'a str,
        duration: Duration,
        bytes: u64,
        ok: bool,
    ) -> Done<'a, ()> {
        Box::pin(async move {
            let status = if ok {
                RecordingStatus::Completed
            } else {
                RecordingStatus::Failed
            };
            let duration_ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
            let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
            self.store
                .finish_recording(id, duration_ms, bytes, status)
                .await
                .map(|_| ())
                .map_err(|e| format!("completing the recording: {e}"))
        })
    }
}

impl ScriptStore for StoreScripts {
    fn load<'a>(&'a self, project_id: &'a str, resource_id: &'a str) -> Load<'a> {
        Box::pin(async move {
            let resource = self
                .store
                .resource(project_id, resource_id)
                .await
                .map_err(|e| format!("script {resource_id}: {e}"))?;
            match resource.kind {
                ResourceKind::SwmlScript => {
                    let contents = &resource.body["contents"];
                    let document = match contents.as_str() {
                        Some(text) => Document::parse(text),
                        None => Document::from_value(contents),
                    };
                    document
                        .map(ScriptBody::Swml)
                        .map_err(|e| format!("script {resource_id} is invalid: {e}"))
                }
                ResourceKind::SwmlWebhook => resource.body["primary_request_url"]
                    .as_str()
                    .map(|url| ScriptBody::Webhook(url.to_owned()))
                    .ok_or_else(|| format!("webhook {resource_id} has no primary_request_url")),
                other => Err(format!(
                    "resource {resource_id} is a {}, not a script",
                    other.type_value()
                )),
            }
        })
    }
}

/// Where scripts and their recordings live.
pub struct Places {
    /// The store.
    pub store: Store,
    /// The public base URL of the REST API (recordings' download URLs).
    pub public_url: String,
    /// Where recording files are written.
    pub recordings_dir: Option<std::path::PathBuf>,
}

/// Starts the SWML front-end.
pub fn start(
    settings: &SwmlSettings,
    places: Places,
    calls: Calls,
    engine: MediaEngine,
    observer: Arc<dyn weft_scripts::ScriptsObserver>,
) -> Result<()> {
    let fetch = settings.fetch_config()?;
    let env = ScriptsEnv {
        calls,
        engine: Arc::new(engine),
        store: Arc::new(StoreScripts {
            store: places.store,
            public_url: places.public_url,
        }),
        loader: Loader::new(
            Fetcher::new(fetch.clone()).context("starting the SWML fetcher")?,
            settings.loader_config()?,
        ),
        fetcher: Fetcher::new(fetch).context("starting the SWML fetcher")?,
        frames: FrameCache::new(settings.media_cache_bytes, SOUND_MAX_AGE),
        limits: settings.limits()?,
        recordings_dir: places.recordings_dir,
        observer,
    };
    Scripts::start(Arc::new(env));
    Ok(())
}
