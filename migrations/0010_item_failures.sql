-- Items a request failed for, for a reason that will not change by asking again (HTTP 400 such as
-- context_length_exceeded, 413, 422, a content filter): the stage went on without them. A mark is
-- active while cleared_at is NULL, and the loop does not send that request again; `lion retry-failed`
-- clears it (the row stays, for the record) and the next `lion resume` sends it where it is still needed.
CREATE TABLE item_failures (
    id INTEGER PRIMARY KEY,
    role TEXT NOT NULL,                        -- teacher | referee | generator
    item_key TEXT NOT NULL,                    -- the unit of work, unique per role (store/failures.py)
    iteration INTEGER NOT NULL,                -- where it failed
    stage TEXT NOT NULL,
    instruction_id INTEGER REFERENCES instructions(id),
    model TEXT NOT NULL,
    status INTEGER,                            -- the HTTP status (NULL: a 200 stopped by a content filter)
    reason TEXT NOT NULL,
    failed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    cleared_at TEXT
);
CREATE UNIQUE INDEX item_failures_active ON item_failures(role, item_key) WHERE cleared_at IS NULL;
CREATE INDEX item_failures_iteration ON item_failures(iteration, stage);
