//! Call recordings through the REST API (`/api/relay/rest/recordings`): rows made through the
//! store, files written in a temporary data directory, read, paged, downloaded and deleted with
//! project credentials only.

use std::path::PathBuf;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tower::ServiceExt;
use weft_api::ApiConfig;
use weft_store::recordings::{
    NewRecording, Recording, RecordingFormat, RecordingStatus, RecordingTrack,
};
use weft_store::{Store, StoreError};

mod common;

const RECORDINGS: &str = "/api/relay/rest/recordings";
const PUBLIC_URL: &str = "https://fabric.example.test:8443";

/// Every key of SignalWire's recording shape plus Weft's `format` and `call_id`.
const KEYS: [&str; 17] = [
    "id",
    "project_id",
    "created_at",
    "updated_at",
    "duration_in_seconds",
    "error_code",
    "price",
    "price_unit",
    "status",
    "url",
    "stereo",
    "byte_size",
    "track",
    "format",
    "call_id",
    "relay_webrtc_leg_id",
    "relay_sip_leg_id",
];

/// An answer: status, headers, body bytes and the body as JSON (`Null` when it is not JSON).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Bytes,
    json: Value,
}

struct Api {
    router: Router,
    store: Store,
    recordings_dir: PathBuf,
    /// Basic credentials of project `p`.
    basic: String,
    /// Basic credentials of project `q`.
    other_basic: String,
}

impl Api {
    /// A store with projects `p` and `q`, and the API over a fresh data directory.
    async fn new() -> Self {
        Self::with_recordings_dir(true).await
    }

    async fn with_recordings_dir(configured: bool) -> Self {
        let projects = [("p", "token-p"), ("q", "token-q")];
        let (router, store, dir) = common::api("weft-api-rec", &projects, |dir| ApiConfig {
            public_url: PUBLIC_URL.into(),
            recordings_dir: configured.then(|| dir.join("recordings")),
            ..ApiConfig::default()
        })
        .await;
        let recordings_dir = dir.join("recordings");
        std::fs::create_dir_all(&recordings_dir).unwrap();
        Api {
            router,
            store,
            recordings_dir,
            basic: format!("Basic {}", STANDARD.encode("p:token-p")),
            other_basic: format!("Basic {}", STANDARD.encode("q:token-q")),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Body) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(authorization) = authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        (parts.status, parts.headers, body)
    }

    async fn call_as(&self, method: &str, path: &str, authorization: Option<&str>) -> Answer {
        let (status, headers, body) = self.send(method, path, authorization, None).await;
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            bytes,
            json,
        }
    }

    /// A request with project `p`'s credentials.
    async fn call(&self, method: &str, path: &str) -> Answer {
        self.call_as(method, path, Some(self.basic.as_str())).await
    }

    /// Registers a recording of project `project` whose file `<id>.<ext>` holds `content`
    /// (`None`: no file), finished with `status` unless that is `InProgress`.
    async fn recording(
        &self,
        project: &str,
        id: &str,
        format: RecordingFormat,
        content: Option<&[u8]>,
        status: RecordingStatus,
    ) -> Recording {
        let path = format!("{project}/{id}.{}", format.as_str());
        let created = self
            .store
            .create_recording(NewRecording {
                id: id.into(),
                project_id: project.into(),
                call_id: format!("leg-{id}"),
                resource_id: Some("script".into()),
                track: RecordingTrack::Both,
                format,
                path: path.clone(),
                status: RecordingStatus::InProgress,
            })
            .await
            .unwrap();
        if let Some(content) = content {
            let file = self.recordings_dir.join(&path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, content).unwrap();
        }
        if status == RecordingStatus::InProgress {
            return created;
        }
        let size = content.map_or(0, |c| c.len() as i64);
        self.store
            .finish_recording(id, 61_500, size, status)
            .await
            .unwrap()
    }

    fn file(&self, project: &str, id: &str, format: RecordingFormat) -> PathBuf {
        self.recordings_dir
            .join(project)
            .join(format!("{id}.{}", format.as_str()))
    }
}

/// Checks a recording's JSON against its row.
fn assert_recording_json(json: &Value, row: &Recording) {
    let object = json.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort();
    let mut expected = KEYS.to_vec();
    expected.sort();
    assert_eq!(keys, expected, "{json}");
    assert_eq!(json["id"], row.id);
    assert_eq!(json["project_id"], row.project_id);
    assert_eq!(json["call_id"], row.call_id);
    assert_eq!(json["status"], row.status.as_str());
    assert_eq!(json["track"], "both");
    assert_eq!(json["format"], row.format.as_str());
    assert_eq!(json["byte_size"], row.byte_size);
    assert_eq!(
        json["duration_in_seconds"],
        (row.duration_ms + 500) / 1000,
        "{json}"
    );
    assert_eq!(
        json["url"],
        format!("{PUBLIC_URL}{RECORDINGS}/{}/download", row.id)
    );
    assert_eq!(json["price"], 0.0);
    assert_eq!(json["price_unit"], "USD");
    assert_eq!(json["stereo"], false);
    for null in ["error_code", "relay_webrtc_leg_id", "relay_sip_leg_id"] {
        assert!(json[null].is_null(), "{null}: {json}");
    }
    for time in ["created_at", "updated_at"] {
        let value = json[time].as_str().unwrap();
        assert!(value.len() == 20 && value.ends_with('Z'), "{time}: {value}");
    }
}

#[tokio::test]
async fn a_recording_is_listed_read_downloaded_and_deleted() {
    let api = Api::new().await;
    let audio: Vec<u8> = (0..200_003u32).map(|i| (i % 251) as u8).collect();
    let ogg = api
        .recording(
            "p",
            "rec-ogg",
            RecordingFormat::Ogg,
            Some(&audio),
            RecordingStatus::Completed,
        )
        .await;
    let wav = api
        .recording(
            "p",
            "rec-wav",
            RecordingFormat::Wav,
            Some(b"RIFF....WAVE"),
            RecordingStatus::Completed,
        )
        .await;

    let list = api.call("GET", RECORDINGS).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.json);
    let data = list.json["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{}", list.json);
    for item in data {
        let row = if item["id"] == ogg.id { &ogg } else { &wav };
        assert_recording_json(item, row);
    }
    assert_eq!(data[0]["duration_in_seconds"], 62);
    assert_eq!(list.json["links"]["self"], RECORDINGS);
    assert_eq!(list.json["links"]["first"], RECORDINGS);
    assert!(list.json["links"]["next"].is_null());

    let one = api.call("GET", &format!("{RECORDINGS}/rec-ogg")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_recording_json(&one.json, &ogg);

    // The file is streamed, not answered from one buffer.
    let (status, headers, body) = api
        .send(
            "GET",
            &format!("{RECORDINGS}/rec-ogg/download"),
            Some(&api.basic),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.size_hint().exact(), None);
    assert_eq!(headers[header::CONTENT_TYPE], "audio/ogg");
    assert_eq!(headers[header::CONTENT_LENGTH], audio.len().to_string());
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"rec-ogg.ogg\""
    );
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    assert!(bytes == audio, "the downloaded bytes differ from the file");

    let wav_download = api
        .call("GET", &format!("{RECORDINGS}/rec-wav/download"))
        .await;
    assert_eq!(wav_download.status, StatusCode::OK);
    assert_eq!(wav_download.headers[header::CONTENT_TYPE], "audio/wav");
    assert_eq!(
        wav_download.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"rec-wav.wav\""
    );
    assert_eq!(&wav_download.bytes[..], b"RIFF....WAVE");

    let deleted = api.call("DELETE", &format!("{RECORDINGS}/rec-ogg")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.bytes.is_empty());
    assert!(!api.file("p", "rec-ogg", RecordingFormat::Ogg).exists());
    assert!(api.file("p", "rec-wav", RecordingFormat::Wav).exists());
    for (method, path) in [
        ("GET", format!("{RECORDINGS}/rec-ogg")),
        ("GET", format!("{RECORDINGS}/rec-ogg/download")),
        ("DELETE", format!("{RECORDINGS}/rec-ogg")),
    ] {
        let answer = api.call(method, &path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(answer.json, json!({"error": "Not Found"}));
    }
    let list = api.call("GET", RECORDINGS).await;
    let ids: Vec<&Value> = list.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, [&json!("rec-wav")]);
}

#[tokio::test]
async fn recordings_page_through_links_newest_first() {
    let api = Api::new().await;
    for i in 0..5 {
        api.recording(
            "p",
            &format!("r{i}"),
            RecordingFormat::Ogg,
            Some(b"x"),
            RecordingStatus::Completed,
        )
        .await;
    }
    api.recording(
        "q",
        "elsewhere",
        RecordingFormat::Ogg,
        Some(b"x"),
        RecordingStatus::Completed,
    )
    .await;
    let mut path = format!("{RECORDINGS}?page_size=2");
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut pages = 0;
    loop {
        let page = api.call("GET", &path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.json);
        pages += 1;
        let data = page.json["data"].as_array().unwrap();
        assert!(data.len() <= 2, "{}", page.json);
        seen.extend(data.iter().map(|r| {
            (
                r["created_at"].as_str().unwrap().to_owned(),
                r["id"].as_str().unwrap().to_owned(),
            )
        }));
        match page.json["links"]["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&format!("{RECORDINGS}?")), "{next}");
                path = next.to_owned();
            }
            None => break,
        }
        assert!(pages < 10, "links.next never ends");
    }
    assert_eq!(pages, 3);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "not newest first: {seen:?}"
    );
    let mut ids: Vec<&str> = seen.iter().map(|(_, id)| id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["r0", "r1", "r2", "r3", "r4"]);

    let bad = api.call("GET", &format!("{RECORDINGS}?page_size=0")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json["errors"][0]["attribute"], "page_size");
    let bad = api
        .call("GET", &format!("{RECORDINGS}?page_token=nope"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json["errors"][0]["attribute"], "page_token");
}

#[tokio::test]
async fn another_projects_recording_is_not_found_and_stays() {
    let api = Api::new().await;
    api.recording(
        "p",
        "mine",
        RecordingFormat::Ogg,
        Some(b"audio"),
        RecordingStatus::Completed,
    )
    .await;
    let other = Some(api.other_basic.as_str());
    for (method, path) in [
        ("GET", format!("{RECORDINGS}/mine")),
        ("GET", format!("{RECORDINGS}/mine/download")),
        ("DELETE", format!("{RECORDINGS}/mine")),
    ] {
        let answer = api.call_as(method, &path, other).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(answer.json, json!({"error": "Not Found"}));
    }
    let list = api.call_as("GET", RECORDINGS, other).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json["data"], json!([]));
    assert!(api.file("p", "mine", RecordingFormat::Ogg).exists());
    assert_eq!(
        api.call("GET", &format!("{RECORDINGS}/mine")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn subscribers_guests_and_strangers_are_refused() {
    let api = Api::new().await;
    api.recording(
        "p",
        "mine",
        RecordingFormat::Ogg,
        Some(b"audio"),
        RecordingStatus::Completed,
    )
    .await;
    let (status, _, body) = api
        .send(
            "POST",
            "/api/fabric/subscribers/tokens",
            Some(&api.basic),
            Some(json!({"reference": "alice@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let issued: Value =
        serde_json::from_slice(&axum::body::to_bytes(body, usize::MAX).await.unwrap()).unwrap();
    let subscriber = format!("Bearer {}", issued["token"].as_str().unwrap());
    let addresses = api.call("GET", "/api/fabric/addresses").await;
    let address_id = addresses.json["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, _, body) = api
        .send(
            "POST",
            "/api/fabric/guests/tokens",
            Some(&api.basic),
            Some(json!({"allowed_addresses": [address_id]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let issued: Value =
        serde_json::from_slice(&axum::body::to_bytes(body, usize::MAX).await.unwrap()).unwrap();
    let guest = format!("Bearer {}", issued["token"].as_str().unwrap());
    // The tokens are good: they read the address book.
    for token in [&subscriber, &guest] {
        let book = api
            .call_as("GET", "/api/fabric/addresses", Some(token))
            .await;
        assert_eq!(book.status, StatusCode::OK, "{}", book.json);
    }

    let wrong = format!("Basic {}", STANDARD.encode("p:token-q"));
    for authorization in [
        Some(subscriber.as_str()),
        Some(guest.as_str()),
        Some(wrong.as_str()),
        None,
    ] {
        for (method, path) in [
            ("GET", RECORDINGS.to_owned()),
            ("GET", format!("{RECORDINGS}/mine")),
            ("GET", format!("{RECORDINGS}/mine/download")),
            ("DELETE", format!("{RECORDINGS}/mine")),
        ] {
            let answer = api.call_as(method, &path, authorization).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {authorization:?}"
            );
            assert_eq!(answer.json, json!({"error": "Unauthorized"}));
        }
    }
    assert!(api.file("p", "mine", RecordingFormat::Ogg).exists());
    assert!(api.store.recording("p", "mine").await.is_ok());
}

#[tokio::test]
async fn a_recording_in_progress_is_not_downloaded_until_finished() {
    let api = Api::new().await;
    let row = api
        .recording(
            "p",
            "live",
            RecordingFormat::Wav,
            Some(b"partial"),
            RecordingStatus::InProgress,
        )
        .await;
    let read = api.call("GET", &format!("{RECORDINGS}/live")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_recording_json(&read.json, &row);
    assert_eq!(read.json["status"], "in-progress");
    assert_eq!(read.json["duration_in_seconds"], 0);

    let download = api
        .call("GET", &format!("{RECORDINGS}/live/download"))
        .await;
    assert_eq!(download.status, StatusCode::CONFLICT);
    assert_eq!(download.json["error"], "Conflict");
    assert!(
        download.json["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );

    api.store
        .finish_recording("live", 1_499, 7, RecordingStatus::Completed)
        .await
        .unwrap();
    let download = api
        .call("GET", &format!("{RECORDINGS}/live/download"))
        .await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(&download.bytes[..], b"partial");
    let read = api.call("GET", &format!("{RECORDINGS}/live")).await;
    assert_eq!(read.json["duration_in_seconds"], 1);
    assert_eq!(read.json["status"], "completed");
}

#[tokio::test]
async fn missing_files_are_not_found_and_paths_stay_inside_the_directory() {
    let api = Api::new().await;
    // A path leaving the recordings directory is refused when the row is made.
    for path in ["../weft.db", "/etc/passwd", "p/../../weft.db"] {
        let refused = api
            .store
            .create_recording(NewRecording {
                id: "escape".into(),
                project_id: "p".into(),
                call_id: "leg".into(),
                resource_id: None,
                track: RecordingTrack::Caller,
                format: RecordingFormat::Wav,
                path: path.into(),
                status: RecordingStatus::Completed,
            })
            .await;
        assert!(
            matches!(refused, Err(StoreError::Invalid("path"))),
            "{path:?}: {refused:?}"
        );
    }
    assert_eq!(
        api.call("GET", &format!("{RECORDINGS}/escape"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // A finished recording whose file is gone.
    api.recording(
        "p",
        "gone",
        RecordingFormat::Ogg,
        None,
        RecordingStatus::Failed,
    )
    .await;
    let answer = api
        .call("GET", &format!("{RECORDINGS}/gone/download"))
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json, json!({"error": "Not Found"}));
    assert_eq!(
        api.call("DELETE", &format!("{RECORDINGS}/gone"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    // A file that is a link out of the directory is not served.
    let outside = api.recordings_dir.parent().unwrap().join("secret.ogg");
    std::fs::write(&outside, b"secret").unwrap();
    api.recording(
        "p",
        "link",
        RecordingFormat::Ogg,
        None,
        RecordingStatus::Completed,
    )
    .await;
    let link = api.file("p", "link", RecordingFormat::Ogg);
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let answer = api
        .call("GET", &format!("{RECORDINGS}/link/download"))
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(!answer.bytes.windows(6).any(|w| w == b"secret"));
    // Deleting it removes the link, not what it points to.
    assert_eq!(
        api.call("DELETE", &format!("{RECORDINGS}/link"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert!(link.symlink_metadata().is_err());
    assert!(outside.exists());
}

#[tokio::test]
async fn without_a_recordings_directory_downloads_are_not_found_and_deletes_drop_the_row() {
    let api = Api::with_recordings_dir(false).await;
    api.recording(
        "p",
        "kept",
        RecordingFormat::Ogg,
        Some(b"audio"),
        RecordingStatus::Completed,
    )
    .await;
    let answer = api
        .call("GET", &format!("{RECORDINGS}/kept/download"))
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.call("DELETE", &format!("{RECORDINGS}/kept"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.call("GET", &format!("{RECORDINGS}/kept")).await.status,
        StatusCode::NOT_FOUND
    );
    // The file is left alone: the API does not know where files live.
    assert!(api.file("p", "kept", RecordingFormat::Ogg).exists());
}
