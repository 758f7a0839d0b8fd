//! Call recordings on a real SQLite file and, when `WEFT_TEST_POSTGRES_URL` names a PostgreSQL
//! server, on a fresh database there too.

use weft_store::recordings::{
    NewRecording, Recording, RecordingFormat, RecordingStatus, RecordingTrack,
};
use weft_store::{Store, StoreError};

mod common;

use common::{Backend, on_every_backend};

fn new_recording(project_id: &str, id: &str) -> NewRecording {
    NewRecording {
        id: id.into(),
        project_id: project_id.into(),
        call_id: format!("call-{id}"),
        resource_id: Some("script-1".into()),
        track: RecordingTrack::Both,
        format: RecordingFormat::Ogg,
        path: format!("{project_id}/{id}.ogg"),
        status: RecordingStatus::InProgress,
    }
}

#[tokio::test]
async fn a_recording_is_created_finished_read_and_deleted_in_its_project() {
    on_every_backend(async |b: &Backend| {
        let store = &b.store;
        store.create_project("p1", "one").await.unwrap();
        store.create_project("p2", "two").await.unwrap();
        let created = store
            .create_recording(new_recording("p1", "r1"))
            .await
            .unwrap();
        assert_eq!(created.status, RecordingStatus::InProgress);
        assert_eq!((created.duration_ms, created.byte_size), (0, 0));
        assert_eq!(store.recording("p1", "r1").await.unwrap(), created);

        let finished = store
            .finish_recording("r1", 61_500, 4_096, RecordingStatus::Completed)
            .await
            .unwrap();
        assert_eq!(finished.status, RecordingStatus::Completed);
        assert_eq!((finished.duration_ms, finished.byte_size), (61_500, 4_096));
        assert_eq!(finished.created_at, created.created_at);
        assert!(finished.updated_at >= created.updated_at);
        assert_eq!(store.recording("p1", "r1").await.unwrap(), finished);
        // The finished row is on disk: a new connection (a restarted server) reads it.
        let reopened = Store::connect(&b.url).await.unwrap();
        assert_eq!(reopened.recording("p1", "r1").await.unwrap(), finished);
        reopened.close().await;
        assert!(matches!(
            store
                .finish_recording("nope", 1, 1, RecordingStatus::Failed)
                .await,
            Err(StoreError::NotFound)
        ));

        // Another project sees nothing and deletes nothing.
        assert!(matches!(
            store.recording("p2", "r1").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.delete_recording("p2", "r1").await.unwrap(), None);
        assert!(
            store
                .list_recordings("p2", None, 10)
                .await
                .unwrap()
                .rows
                .is_empty()
        );

        assert_eq!(
            store.delete_recording("p1", "r1").await.unwrap(),
            Some(finished)
        );
        assert!(matches!(
            store.recording("p1", "r1").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.delete_recording("p1", "r1").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn a_recording_without_a_resource_keeps_its_fields() {
    on_every_backend(async |b: &Backend| {
        let store = &b.store;
        store.create_project("p", "p").await.unwrap();
        let new = NewRecording {
            resource_id: None,
            track: RecordingTrack::Callee,
            format: RecordingFormat::Wav,
            path: "r.wav".into(),
            ..new_recording("p", "r")
        };
        store.create_recording(new).await.unwrap();
        let read = store.recording("p", "r").await.unwrap();
        assert_eq!(read.resource_id, None);
        assert_eq!(read.track, RecordingTrack::Callee);
        assert_eq!(read.format, RecordingFormat::Wav);
        assert_eq!(read.path, "r.wav");
        assert_eq!(read.call_id, "call-r");
        let failed = store
            .finish_recording("r", -5, -1, RecordingStatus::Failed)
            .await
            .unwrap();
        assert_eq!((failed.duration_ms, failed.byte_size), (0, 0));
        assert_eq!(failed.status, RecordingStatus::Failed);
    })
    .await;
}

#[tokio::test]
async fn unsafe_paths_bad_ids_and_reused_ids_are_refused() {
    on_every_backend(async |b: &Backend| {
        let store = &b.store;
        store.create_project("p", "p").await.unwrap();
        for path in [
            "../escape.ogg",
            "/abs/r.ogg",
            "a/../../r.ogg",
            "",
            "a//r.ogg",
        ] {
            let new = NewRecording {
                path: path.into(),
                ..new_recording("p", "r")
            };
            assert!(
                matches!(
                    store.create_recording(new).await,
                    Err(StoreError::Invalid("path"))
                ),
                "{path:?} accepted"
            );
        }
        for id in ["", "a\"b", "a/b"] {
            let new = NewRecording {
                path: "ok.ogg".into(),
                ..new_recording("p", id)
            };
            assert!(
                matches!(
                    store.create_recording(new).await,
                    Err(StoreError::Invalid("id"))
                ),
                "{id:?} accepted"
            );
        }
        assert!(
            store
                .list_recordings("p", None, 10)
                .await
                .unwrap()
                .rows
                .is_empty()
        );
        store
            .create_recording(new_recording("p", "r"))
            .await
            .unwrap();
        assert!(matches!(
            store.create_recording(new_recording("p", "r")).await,
            Err(StoreError::Conflict("id"))
        ));
    })
    .await;
}

#[tokio::test]
async fn recordings_page_newest_first_without_repeats() {
    on_every_backend(async |b: &Backend| {
        let store = &b.store;
        store.create_project("p", "p").await.unwrap();
        store.create_project("q", "q").await.unwrap();
        for i in 0..7 {
            store
                .create_recording(new_recording("p", &format!("r{i}")))
                .await
                .unwrap();
        }
        store
            .create_recording(new_recording("q", "other"))
            .await
            .unwrap();

        let mut seen: Vec<Recording> = Vec::new();
        let mut after = None;
        let mut pages = 0;
        loop {
            let page = store.list_recordings("p", after.as_ref(), 3).await.unwrap();
            pages += 1;
            assert!(page.rows.len() <= 3);
            seen.extend(page.rows);
            match page.next {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        let mut ids: Vec<&str> = seen.iter().map(|r| r.id.as_str()).collect();
        assert!(
            seen.windows(2)
                .all(|w| (w[0].created_at, &w[0].id) > (w[1].created_at, &w[1].id)),
            "not newest first: {ids:?}"
        );
        ids.sort();
        assert_eq!(ids, ["r0", "r1", "r2", "r3", "r4", "r5", "r6"]);
    })
    .await;
}
