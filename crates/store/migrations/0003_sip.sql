-- SIP registrar: the digest HA1 values of subscribers' SIP endpoints (SIP endpoint resources keep
-- theirs in the body's hidden `_digest`), account lookups by username across projects, and the
-- contact bindings registrations create. Portable SQL.

ALTER TABLE subscriber_sip_endpoints ADD COLUMN digest_realm TEXT;
ALTER TABLE subscriber_sip_endpoints ADD COLUMN ha1_md5 TEXT;
ALTER TABLE subscriber_sip_endpoints ADD COLUMN ha1_sha256 TEXT;
CREATE INDEX subscriber_sip_endpoints_username ON subscriber_sip_endpoints (username);
CREATE INDEX resources_kind_name ON resources (kind, name);

-- `account_id` is a SIP endpoint resource's id or a subscriber SIP endpoint's id; a foreign key
-- cannot name both tables, so the store functions deleting either remove their bindings.
CREATE TABLE sip_bindings (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    data TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sip_bindings_account ON sip_bindings (account_id);
CREATE INDEX sip_bindings_expires ON sip_bindings (expires_at);
