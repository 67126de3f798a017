-- One row per batch sent to a provider's batch API (lion_cli/llm/batch.py), written as each of its ids is
-- created (the input file, the batch, then its status and result files), so a run killed in any phase
-- finds its batch again on resume and never submits a paid line twice.
CREATE TABLE provider_batches (
    chunk_key TEXT PRIMARY KEY,        -- hash of the batch's lines (custom_id and body of each)
    role TEXT NOT NULL,
    base_url TEXT NOT NULL,
    lines INTEGER NOT NULL,
    input_file_id TEXT,
    batch_id TEXT,
    status TEXT,
    output_file_id TEXT,
    error_file_id TEXT,
    completed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE INDEX provider_batches_role ON provider_batches(role, status);
