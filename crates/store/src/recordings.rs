//! Call recordings: one row per file a script records under the data directory's `recordings`
//! folder, kept by path relative to that folder.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::keyset::{Bind, QueryParts, SortOrder, finish_page};
use crate::{Page, Result, Store, StoreError};
use weft_core::Cursor;
use weft_core::time::now_ms;

/// The longest relative path kept, in bytes.
const MAX_PATH: usize = 1024;
/// The longest id kept, in bytes.
const MAX_ID: usize = 64;

/// Which side of a call a recording holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingTrack {
    /// What the caller says.
    Caller,
    /// What the callee says.
    Callee,
    /// Both sides.
    Both,
}

impl RecordingTrack {
    /// The stored and shown value: `caller`, `callee` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingTrack::Caller => "caller",
            RecordingTrack::Callee => "callee",
            RecordingTrack::Both => "both",
        }
    }

    /// The track a stored value names.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "caller" => Some(RecordingTrack::Caller),
            "callee" => Some(RecordingTrack::Callee),
            "both" => Some(RecordingTrack::Both),
            _ => None,
        }
    }
}

/// The container of a recording file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingFormat {
    /// Ogg Opus.
    Ogg,
    /// RIFF WAVE.
    Wav,
}

impl RecordingFormat {
    /// The stored and shown value, which is also the file extension: `ogg` or `wav`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingFormat::Ogg => "ogg",
            RecordingFormat::Wav => "wav",
        }
    }

    /// The format a stored value names.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "ogg" => Some(RecordingFormat::Ogg),
            "wav" => Some(RecordingFormat::Wav),
            _ => None,
        }
    }
}

/// Where a recording stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingStatus {
    /// The file is still being written.
    InProgress,
    /// The file is whole.
    Completed,
    /// Recording stopped on an error; the file may be partial or missing.
    Failed,
}

impl RecordingStatus {
    /// The stored and shown value: `in-progress`, `completed` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingStatus::InProgress => "in-progress",
            RecordingStatus::Completed => "completed",
            RecordingStatus::Failed => "failed",
        }
    }

    /// The status a stored value names.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "in-progress" => Some(RecordingStatus::InProgress),
            "completed" => Some(RecordingStatus::Completed),
            "failed" => Some(RecordingStatus::Failed),
            _ => None,
        }
    }
}

/// A recording to register, usually `InProgress` when its writer opens the file.
#[derive(Debug, Clone)]
pub struct NewRecording {
    /// Its id: 1–64 ASCII letters, digits, `-` or `_` (e.g. [`crate::new_id`]).
    pub id: String,
    pub project_id: String,
    /// The id of the recorded call leg.
    pub call_id: String,
    /// The resource whose script records, if any.
    pub resource_id: Option<String>,
    pub track: RecordingTrack,
    pub format: RecordingFormat,
    /// The file's path relative to the recordings directory (see [`is_safe_relative_path`]).
    pub path: String,
    pub status: RecordingStatus,
}

/// A stored recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    pub id: String,
    pub project_id: String,
    /// The id of the recorded call leg.
    pub call_id: String,
    /// The resource whose script recorded, if any.
    pub resource_id: Option<String>,
    pub track: RecordingTrack,
    pub format: RecordingFormat,
    /// The file's path relative to the recordings directory; always passed
    /// [`is_safe_relative_path`] when stored.
    pub path: String,
    pub status: RecordingStatus,
    /// Length in milliseconds (0 until finished).
    pub duration_ms: i64,
    /// File size in bytes (0 until finished).
    pub byte_size: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Whether `path` stays inside the directory it is joined to: relative, non-empty, at most 1024
/// bytes, `/`-separated names none of which is empty, `.` or `..`, and no NUL or backslash.
pub fn is_safe_relative_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= MAX_PATH
        && !path.contains(['\0', '\\'])
        && path
            .split('/')
            .all(|name| !name.is_empty() && name != "." && name != "..")
}

fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

const COLUMNS: &str = "id, project_id, call_id, resource_id, track, format, path, status, \
                       duration_ms, byte_size, created_at, updated_at";

/// A stored value no variant names: the row is unreadable, as a column that fails to decode is.
fn undecodable(column: &str) -> StoreError {
    StoreError::Database(sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: "unknown value".into(),
    })
}

fn recording_from_row(row: &AnyRow) -> Result<Recording> {
    let track: String = row.try_get("track")?;
    let format: String = row.try_get("format")?;
    let status: String = row.try_get("status")?;
    Ok(Recording {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        call_id: row.try_get("call_id")?,
        resource_id: row.try_get("resource_id")?,
        track: RecordingTrack::parse(&track).ok_or_else(|| undecodable("track"))?,
        format: RecordingFormat::parse(&format).ok_or_else(|| undecodable("format"))?,
        path: row.try_get("path")?,
        status: RecordingStatus::parse(&status).ok_or_else(|| undecodable("status"))?,
        duration_ms: row.try_get("duration_ms")?,
        byte_size: row.try_get("byte_size")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Registers a recording. An id or path that is not valid is `Invalid("id" | "path")`; an id
    /// already used is `Conflict("id")`.
    pub async fn create_recording(&self, new: NewRecording) -> Result<Recording> {
        if !is_valid_id(&new.id) {
            return Err(StoreError::Invalid("id"));
        }
        if !is_safe_relative_path(&new.path) {
            return Err(StoreError::Invalid("path"));
        }
        let now = now_ms();
        let recording = Recording {
            id: new.id,
            project_id: new.project_id,
            call_id: new.call_id,
            resource_id: new.resource_id,
            track: new.track,
            format: new.format,
            path: new.path,
            status: new.status,
            duration_ms: 0,
            byte_size: 0,
            created_at: now,
            updated_at: now,
        };
        sqlx::query(&format!(
            "INSERT INTO recordings ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&recording.id)
        .bind(&recording.project_id)
        .bind(&recording.call_id)
        .bind(recording.resource_id.clone())
        .bind(recording.track.as_str())
        .bind(recording.format.as_str())
        .bind(&recording.path)
        .bind(recording.status.as_str())
        .bind(recording.duration_ms)
        .bind(recording.byte_size)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::conflict_as(e, "id"))?;
        Ok(recording)
    }

    /// Records how a recording ended: its length, its file size (negative values count as 0) and
    /// its status. `NotFound` when no recording has this id.
    pub async fn finish_recording(
        &self,
        id: &str,
        duration_ms: i64,
        byte_size: i64,
        status: RecordingStatus,
    ) -> Result<Recording> {
        let row = sqlx::query(&format!(
            "UPDATE recordings SET duration_ms = $1, byte_size = $2, status = $3, updated_at = $4 \
             WHERE id = $5 RETURNING {COLUMNS}"
        ))
        .bind(duration_ms.max(0))
        .bind(byte_size.max(0))
        .bind(status.as_str())
        .bind(now_ms())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        recording_from_row(&row)
    }

    /// One of this project's recordings.
    pub async fn recording(&self, project_id: &str, id: &str) -> Result<Recording> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM recordings WHERE project_id = $1 AND id = $2"
        ))
        .bind(project_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        recording_from_row(&row)
    }

    /// A page of this project's recordings, newest first.
    pub async fn list_recordings(
        &self,
        project_id: &str,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Page<Recording>> {
        let mut q = QueryParts::new(&format!("SELECT {COLUMNS} FROM recordings WHERE 1 = 1"));
        q.and("project_id = $?", Bind::Text(project_id.to_owned()));
        q.page("created_at", true, SortOrder::Desc, after, limit);
        let rows = q.query().fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(recording_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(finish_page(rows, limit, |r| {
            (r.created_at.to_string(), r.id.clone())
        }))
    }

    /// Deletes one of this project's recordings and returns it (so the caller can remove its
    /// file), or `None` when there is no such recording.
    pub async fn delete_recording(&self, project_id: &str, id: &str) -> Result<Option<Recording>> {
        let row = sqlx::query(&format!(
            "DELETE FROM recordings WHERE project_id = $1 AND id = $2 RETURNING {COLUMNS}"
        ))
        .bind(project_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(recording_from_row).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_stay_inside() {
        for ok in ["a.ogg", "2024/05/abc.wav", "x..y.ogg", "..a", "a.."] {
            assert!(is_safe_relative_path(ok), "{ok:?} refused");
        }
        let long = "a".repeat(MAX_PATH + 1);
        for bad in [
            "",
            "/etc/passwd",
            "..",
            "../a.ogg",
            "a/../../b.ogg",
            "a/..",
            "./a.ogg",
            "a/./b.ogg",
            "a//b.ogg",
            "a/",
            "a\\..\\b",
            "a\0b",
            long.as_str(),
        ] {
            assert!(!is_safe_relative_path(bad), "{bad:?} accepted");
        }
    }

    #[test]
    fn ids_are_plain_tokens() {
        assert!(is_valid_id(&crate::new_id()));
        assert!(is_valid_id("rec_1"));
        for bad in ["", "a\"b", "a b", "a/b", "é", &"a".repeat(MAX_ID + 1)] {
            assert!(!is_valid_id(bad), "{bad:?} accepted");
        }
    }

    #[test]
    fn values_round_trip() {
        for t in [
            RecordingTrack::Caller,
            RecordingTrack::Callee,
            RecordingTrack::Both,
        ] {
            assert_eq!(RecordingTrack::parse(t.as_str()), Some(t));
        }
        for f in [RecordingFormat::Ogg, RecordingFormat::Wav] {
            assert_eq!(RecordingFormat::parse(f.as_str()), Some(f));
        }
        for s in [
            RecordingStatus::InProgress,
            RecordingStatus::Completed,
            RecordingStatus::Failed,
        ] {
            assert_eq!(RecordingStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(RecordingTrack::parse("Caller"), None);
        assert_eq!(RecordingFormat::parse("mp3"), None);
        assert_eq!(RecordingStatus::parse("done"), None);
    }
}
