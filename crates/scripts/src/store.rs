//! Where a call's script comes from: the resource's stored SWML, or a webhook that answers
//! with SWML.

use std::future::Future;
use std::pin::Pin;

use weft_swml::Document;

/// A script resource's body.
#[derive(Debug, Clone)]
pub enum ScriptBody {
    /// A stored, valid script (`swml_scripts`).
    Swml(Document),
    /// A URL that answers a POST of the call's details with the SWML to run
    /// (`swml_webhooks`' `primary_request_url`).
    Webhook(String),
}

/// A future answering [`ScriptStore::load`].
pub type Load<'a> = Pin<Box<dyn Future<Output = Result<ScriptBody, String>> + Send + 'a>>;

/// Looks scripts up by resource and registers their recordings; implemented by the server on
/// its store.
pub trait ScriptStore: RecordingStore {
    /// The body of script resource `resource_id` of `project_id`; the error is logged with
    /// the call.
    fn load<'a>(&'a self, project_id: &'a str, resource_id: &'a str) -> Load<'a>;
}

/// A recording a script starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRow {
    /// Its id (`[0-9a-f]{32}`).
    pub id: String,
    /// The project.
    pub project_id: String,
    /// The recorded leg (the caller's call id).
    pub call_id: String,
    /// The script's resource id.
    pub resource_id: String,
    /// Ogg Opus or WAV.
    pub format: crate::recorder::Format,
    /// The file, relative to the recordings directory.
    pub path: String,
}

/// A future answering a recording request of [`RecordingStore`].
pub type Done<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// Where recordings are registered, so that the REST API lists and serves them.
pub trait RecordingStore: Send + Sync + 'static {
    /// Registers a recording being written; its download URL.
    fn create_recording(&self, row: RecordingRow) -> Done<'_, String>;

    /// Completes a recording's row: how long it is, its size, and whether it succeeded.
    fn finish_recording<'a>(
        &'a self,
        id: &'a str,
        duration: std::time::Duration,
        bytes: u64,
        ok: bool,
    ) -> Done<'a, ()>;
}
