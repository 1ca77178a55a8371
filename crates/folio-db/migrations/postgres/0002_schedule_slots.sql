-- Scheduled tasks (cleanup, reaper) run on every node, but each time slot is
-- claimed by exactly one of them: the node whose INSERT created the row.
CREATE TABLE schedule_slots (
    task       TEXT NOT NULL,
    slot_start BIGINT NOT NULL,              -- ms since the epoch, start of the slot
    PRIMARY KEY (task, slot_start)
);
