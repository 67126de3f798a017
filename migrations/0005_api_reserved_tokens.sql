-- The tokens the engine's limiter reserved for a call in its endpoint's tokens-per-minute bucket
-- (prompt estimate + max_tokens, counted as providers count them: core/api.py request_reservation),
-- so `lion status` and the API panel show the limiter's own accounting, not only the tokens used.
-- 0: a cache hit, or a call recorded before this column.
ALTER TABLE api_calls ADD COLUMN reserved_tokens INTEGER NOT NULL DEFAULT 0;
