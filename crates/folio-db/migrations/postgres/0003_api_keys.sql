-- API keys (FOLIO_AUTH) and job ownership; same as the SQLite schema.
-- Only the SHA-256 of a key is stored (keys are 244-bit random strings).
CREATE TABLE api_keys (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL,
    key_hash            TEXT NOT NULL UNIQUE,   -- hex SHA-256 of the whole key
    admin               BOOLEAN NOT NULL DEFAULT FALSE,
    rate_limit_uploads  TEXT,                   -- overrides FOLIO_RATE_LIMIT_UPLOADS ('off' = none)
    rate_limit_reads    TEXT,                   -- overrides FOLIO_RATE_LIMIT_READS
    max_concurrent_jobs BIGINT,                 -- queued + running jobs at once; NULL = no cap
    created_at          BIGINT NOT NULL,
    revoked_at          BIGINT
);

-- The key that submitted the job (api_keys.id); NULL for anonymous jobs.
ALTER TABLE jobs ADD COLUMN owner TEXT;
CREATE INDEX jobs_owner ON jobs (owner, state);
