//! `/api/relay/rest/recordings`: a project's call recordings in SignalWire's REST shape, and
//! their files, for project credentials.

use std::io::ErrorKind;
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use tokio_util::io::ReaderStream;
use weft_store::recordings::{Recording, RecordingFormat, RecordingStatus, is_safe_relative_path};

use crate::auth::ProjectAuth;
use crate::body::Params;
use crate::error::ApiError;
use crate::paging::{list_body, page_request};
use crate::{ApiState, views};

/// The read size of a download, in bytes.
const CHUNK: usize = 64 * 1024;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/relay/rest/recordings", get(list))
        .route("/api/relay/rest/recordings/{id}", get(read).delete(delete))
        .route("/api/relay/rest/recordings/{id}/download", get(download))
}

async fn list(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    params: Params,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    let page = page_request(&params)?;
    let rows = state
        .store
        .list_recordings(&auth.project_id, page.after.as_ref(), page.size)
        .await?;
    let public_url = &state.config.public_url;
    Ok(Json(list_body(uri.path(), &params, rows, |r| {
        views::recording(r, public_url)
    })))
}

async fn read(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let recording = state.store.recording(&auth.project_id, &id).await?;
    Ok(Json(views::recording(&recording, &state.config.public_url)))
}

/// Deletes the row, then its file. Without a recordings directory only the row goes (still 204);
/// a file already gone is fine, and one that cannot be removed is logged.
async fn delete(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let recording = state
        .store
        .delete_recording(&auth.project_id, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if let Some(file) = file_path(&state, &recording) {
        match tokio::fs::remove_file(&file).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(recording_id = %recording.id, error = %e, "recording file not removed");
            }
        }
    }
    tracing::info!(recording_id = %recording.id, "recording deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Streams a finished recording's file: 409 while it is in progress, 404 when the row, the
/// recordings directory or the file is missing.
async fn download(
    State(state): State<ApiState>,
    auth: ProjectAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let recording = state.store.recording(&auth.project_id, &id).await?;
    if recording.status == RecordingStatus::InProgress {
        return Err(ApiError::Conflict(
            "the recording is still in progress".into(),
        ));
    }
    let path = file_path(&state, &recording).ok_or(ApiError::NotFound)?;
    let (file, length) = match open_inside(&state, &path).await {
        Ok(opened) => opened,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(ApiError::NotFound),
        Err(e) => {
            tracing::warn!(recording_id = %recording.id, error = %e, "recording file not opened");
            return Err(ApiError::Internal);
        }
    };
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}.{}\"",
        recording.id,
        recording.format.as_str()
    ))
    .map_err(|_| ApiError::Internal)?;
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(recording.format)),
        ),
        (header::CONTENT_LENGTH, HeaderValue::from(length)),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    let body = Body::from_stream(ReaderStream::with_capacity(file, CHUNK));
    Ok((headers, body).into_response())
}

fn content_type(format: RecordingFormat) -> &'static str {
    match format {
        RecordingFormat::Ogg => "audio/ogg",
        RecordingFormat::Wav => "audio/wav",
    }
}

/// The recording's file under the recordings directory; `None` without a directory or for a
/// stored path that could leave it.
fn file_path(state: &ApiState, recording: &Recording) -> Option<PathBuf> {
    let dir = state.config.recordings_dir.as_ref()?;
    if !is_safe_relative_path(&recording.path) {
        tracing::warn!(recording_id = %recording.id, "recording path refused");
        return None;
    }
    Some(dir.join(&recording.path))
}

/// Opens a regular file whose real path (symbolic links resolved) is inside the recordings
/// directory, with its length; anything else is `NotFound`.
async fn open_inside(
    state: &ApiState,
    path: &std::path::Path,
) -> std::io::Result<(tokio::fs::File, u64)> {
    let not_found = || std::io::Error::from(ErrorKind::NotFound);
    let dir = state.config.recordings_dir.as_ref().ok_or_else(not_found)?;
    let dir = tokio::fs::canonicalize(dir).await?;
    let real = tokio::fs::canonicalize(path).await?;
    if !real.starts_with(&dir) {
        return Err(not_found());
    }
    let file = tokio::fs::File::open(&real).await?;
    let metadata = file.metadata().await?;
    if !metadata.is_file() {
        return Err(not_found());
    }
    Ok((file, metadata.len()))
}
