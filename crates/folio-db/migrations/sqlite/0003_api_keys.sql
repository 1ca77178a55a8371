-- API keys (FOLIO_AUTH) and job ownership.
-- Only the SHA-256 of a key is stored: keys are 256-bit random strings, so a
-- plain hash cannot be reversed and needs no per-key salt.
CREATE TABLE api_keys (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL,
    key_hash            TEXT NOT NULL UNIQUE,   -- hex SHA-256 of the whole key
    admin               INTEGER NOT NULL DEFAULT 0,
    rate_limit_uploads  TEXT,                   -- overrides FOLIO_RATE_LIMIT_UPLOADS ('off' = none)
    rate_limit_reads    TEXT,                   -- overrides FOLIO_RATE_LIMIT_READS
    max_concurrent_jobs INTEGER,                -- queued + running jobs at once; NULL = no cap
    created_at          INTEGER NOT NULL,
    revoked_at          INTEGER
);

-- The key that submitted the job (api_keys.id); NULL for anonymous jobs.
-- No foreign key: revoking (or deleting) a key must not touch its jobs.
ALTER TABLE jobs ADD COLUMN owner TEXT;
CREATE INDEX jobs_owner ON jobs (owner, state);
