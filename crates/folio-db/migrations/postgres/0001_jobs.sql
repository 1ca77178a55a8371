-- The job table is the queue: one row per job, claimed by updating its state
-- (SELECT ... FOR UPDATE SKIP LOCKED). Same columns and meaning as the SQLite
-- schema; times are integer milliseconds since the Unix epoch (UTC).
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    operation        TEXT NOT NULL,
    spec             TEXT NOT NULL,          -- JSON, folio_jobs::JobSpec (versioned)
    priority         INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3,
    progress         DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    run_after        BIGINT NOT NULL,        -- not claimable before (retry backoff)
    lease_until      BIGINT,                 -- running: the claim holds until then
    fence            BIGINT NOT NULL DEFAULT 0, -- +1 per claim; older claims are refused
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    error            TEXT,                   -- JSON {code, message, retryable}
    report           TEXT,                   -- JSON, the engine's report
    result           TEXT,                   -- JSON, folio_jobs::ResultRef
    bytes_in         BIGINT NOT NULL DEFAULT 0,
    cache_key        TEXT,
    expires_at       BIGINT NOT NULL,
    purged           BOOLEAN NOT NULL DEFAULT FALSE,
    event_seq        BIGINT NOT NULL DEFAULT 0
);

-- Claim: the best queued job whose backoff has passed.
CREATE INDEX jobs_claim ON jobs (priority DESC, created_at, id) WHERE state = 'queued';
-- Reaper: running jobs whose lease expired.
CREATE INDEX jobs_lease ON jobs (lease_until) WHERE state = 'running';
-- Result cache look-ups.
CREATE INDEX jobs_cache ON jobs (cache_key) WHERE cache_key IS NOT NULL;
-- Cleanup: expired, not yet purged.
CREATE INDEX jobs_expiry ON jobs (expires_at) WHERE NOT purged;

-- Wake idle workers on every node when a job becomes claimable (new, retried,
-- re-queued by the reaper, released at shutdown). Notifications are sent at
-- commit, and duplicates within one transaction are folded into one.
CREATE FUNCTION folio_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('folio_jobs', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_queued_notify
    AFTER INSERT OR UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.state = 'queued')
    EXECUTE FUNCTION folio_jobs_notify();
