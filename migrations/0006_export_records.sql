-- What `lion export` wrote (a delta folder, a data file and its pairs file), so that `lion init
-- --force` clears the exports of a replaced project that lie inside its folder. path: relative to
-- the project folder when inside it (store/paths.py), absolute otherwise.
CREATE TABLE export_records (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                        -- delta | data | pairs
    path TEXT NOT NULL,
    iteration INTEGER,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
