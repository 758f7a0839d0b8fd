-- Weft's schema. Portable SQL: it runs unchanged on SQLite and PostgreSQL.
-- Ids are UUID text; times are Unix milliseconds; secrets are stored hashed.

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    id TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    private_pkcs8 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE resources (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    inner_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX resources_project_created ON resources (project_id, created_at, id);
CREATE INDEX resources_project_kind_created ON resources (project_id, kind, created_at, id);

CREATE TABLE subscribers (
    resource_id TEXT PRIMARY KEY REFERENCES resources(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT,
    UNIQUE (project_id, email)
);

CREATE TABLE addresses (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    context TEXT NOT NULL,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    address_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (project_id, context, name)
);
CREATE INDEX addresses_resource ON addresses (resource_id);

CREATE TABLE subscriber_sip_endpoints (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    subscriber_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project_id, username)
);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    family_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    grant_json TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    device_type TEXT NOT NULL,
    device_token TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
