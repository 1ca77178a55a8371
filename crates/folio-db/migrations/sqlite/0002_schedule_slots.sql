-- Scheduled tasks (cleanup, reaper) run once per time slot even when several
-- processes share the database: the process whose INSERT created the row runs it.
CREATE TABLE schedule_slots (
    task       TEXT NOT NULL,
    slot_start INTEGER NOT NULL,             -- ms since the epoch, start of the slot
    PRIMARY KEY (task, slot_start)
);
