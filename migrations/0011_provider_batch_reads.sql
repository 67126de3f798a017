-- The provider batches whose results have been written into the request cache (one row each, keyed like
-- provider_batches). A batch recorded there and not here was left by a run killed while it waited on it or
-- read it: the next run reads its results before it sends anything new, so none of its paid lines is sent
-- twice. A table of its own (not a column) because it may be applied before provider_batches exists.
CREATE TABLE provider_batch_reads (
    chunk_key TEXT PRIMARY KEY,
    read_at REAL NOT NULL
);
