-- The job table is the queue: one row per job, claimed by updating its state.
-- Times are integer milliseconds since the Unix epoch (UTC).
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    operation        TEXT NOT NULL,
    spec             TEXT NOT NULL,          -- JSON, folio_jobs::JobSpec (versioned)
    priority         INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3,
    progress         REAL NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    run_after        INTEGER NOT NULL,       -- not claimable before (retry backoff)
    lease_until      INTEGER,                -- running: the claim holds until then
    fence            INTEGER NOT NULL DEFAULT 0, -- +1 per claim; older claims are refused
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error            TEXT,                   -- JSON {code, message, retryable}
    report           TEXT,                   -- JSON, the engine's report
    result           TEXT,                   -- JSON, folio_jobs::ResultRef
    bytes_in         INTEGER NOT NULL DEFAULT 0,
    cache_key        TEXT,
    expires_at       INTEGER NOT NULL,
    purged           INTEGER NOT NULL DEFAULT 0,
    event_seq        INTEGER NOT NULL DEFAULT 0
);

-- Claim: the best queued job whose backoff has passed.
CREATE INDEX jobs_claim ON jobs (state, priority DESC, created_at, id);
-- Reaper: running jobs whose lease expired.
CREATE INDEX jobs_lease ON jobs (state, lease_until);
-- Result cache look-ups.
CREATE INDEX jobs_cache ON jobs (cache_key) WHERE cache_key IS NOT NULL;
-- Cleanup: expired, not yet purged.
CREATE INDEX jobs_expiry ON jobs (purged, expires_at);
