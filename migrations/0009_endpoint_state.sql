-- A request given up on after the server had it (a timeout, a dropped connection, cancelled in
-- flight) may still have been answered and billed: its api_calls row says so, and api_usage counts
-- them per role. 0: a row recorded before this column.
ALTER TABLE api_calls ADD COLUMN possibly_billed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_usage ADD COLUMN possibly_billed INTEGER NOT NULL DEFAULT 0;

-- Beside the trigger that keeps the other totals (0003, 0007), so each can change alone; it makes the
-- role's row itself, whichever of the two runs first.
CREATE TRIGGER api_usage_possibly_billed AFTER INSERT ON api_calls WHEN NEW.possibly_billed = 1
BEGIN
    INSERT OR IGNORE INTO api_usage (role) VALUES (NEW.role);
    UPDATE api_usage SET possibly_billed = possibly_billed + 1 WHERE role = NEW.role;
END;

-- What the engine is doing with each endpoint (its limit key: model, base_url without credentials,
-- key variable), written by the running engine at most once a second, for `lion status` and the
-- dashboard: requests in flight, the concurrency limit it found, why it is backing off.
CREATE TABLE endpoint_state (
    endpoint TEXT PRIMARY KEY,                 -- "model at base_url (KEY_VAR)"
    roles TEXT NOT NULL,                       -- the roles calling it, comma-separated
    in_flight INTEGER NOT NULL,
    concurrency_limit INTEGER NOT NULL,
    max_concurrency INTEGER NOT NULL,
    adaptive INTEGER NOT NULL,
    backing_off TEXT NOT NULL DEFAULT '',      -- why the limit was last cut ('' = not backing off)
    paused_s REAL NOT NULL DEFAULT 0,          -- the server asked for a pause this much longer
    completed INTEGER NOT NULL DEFAULT 0,      -- answered requests, this run
    given_up INTEGER NOT NULL DEFAULT 0,       -- given up on after sending, this run
    latency_s REAL,
    best_latency_s REAL,
    updated_at REAL NOT NULL                   -- unix time of the reading
) WITHOUT ROWID;
