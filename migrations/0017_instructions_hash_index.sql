-- lion: foreign keys off
-- instructions.content_hash unique through a named index instead of the column's UNIQUE constraint, so
-- that `lion init` can fill a fresh store's instructions first and build the index once after (SQLite
-- sorts the keys then; the column's own index is filled row by row in random hash order, the largest part
-- of a 52K-row import). Same columns, same ids, same rows.
-- SQLite's table rebuild (https://www.sqlite.org/lang_altertable.html, "other kinds of table schema
-- changes"): the first line above makes the migration runner turn foreign keys off around this
-- transaction and run PRAGMA foreign_key_check before it commits; the tables that reference
-- instructions(id) name the table, so they reference the rebuilt one.
CREATE TABLE instructions_rebuilt (
    id INTEGER PRIMARY KEY,
    content_hash TEXT NOT NULL,                -- sha256(text \0 input): exact duplicates share it (unique: the index below)
    text TEXT NOT NULL,
    input TEXT NOT NULL DEFAULT '',
    seed_output TEXT NOT NULL DEFAULT '',      -- the output a seed file carried, if any (never trained on)
    origin TEXT NOT NULL,                      -- seed | hard | easy
    parent_id INTEGER REFERENCES instructions(id),
    iteration INTEGER NOT NULL,                -- the iteration that created it (0 = seed)
    tokens TEXT,                               -- ROUGE-L tokens, space-joined, cached for novelty
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO instructions_rebuilt (id, content_hash, text, input, seed_output, origin, parent_id, iteration, tokens,
                                  created_at)
    SELECT id, content_hash, text, input, seed_output, origin, parent_id, iteration, tokens, created_at
    FROM instructions;
DROP TABLE instructions;
ALTER TABLE instructions_rebuilt RENAME TO instructions;
CREATE UNIQUE INDEX instructions_content_hash ON instructions(content_hash);
CREATE INDEX instructions_origin ON instructions(origin, iteration);
