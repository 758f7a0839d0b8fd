-- Call recordings: one row per file a SWML `record_call` or `record` writes under the data
-- directory's `recordings` folder. Portable SQL.

-- `path` is relative to that folder, never absolute. `call_id` is the recorded leg's id and
-- `resource_id` the id of the resource whose script recorded it; neither is a foreign key, so a
-- recording outlives its call and its script: its file goes only when the recording is deleted.
CREATE TABLE recordings (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    call_id TEXT NOT NULL,
    resource_id TEXT,
    track TEXT NOT NULL,
    format TEXT NOT NULL,
    path TEXT NOT NULL,
    status TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    byte_size BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX recordings_project_created ON recordings (project_id, created_at, id);
