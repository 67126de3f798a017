-- One api_calls row per attempt: every request sent is a row (a retry is its own row), besides the
-- cache hits. `attempt` is which try of its logical call the row is (1 = the first; 0 = a cache hit,
-- nothing sent); `final` marks the row that ended the call (its answer, its last failure, a cache
-- hit, or the request cancelled in flight). Each row counts itself: retries = 1 on a retry,
-- rate_limited = 1 on a 429. Rows from before this migration hold a whole call each (retries and 429s
-- folded in): attempt 1, final 1 keeps every sum right for them.
ALTER TABLE api_calls ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE api_calls ADD COLUMN final INTEGER NOT NULL DEFAULT 1;

-- api_usage (migration 0003): calls and failed count logical calls (final rows), attempts counts the
-- requests sent (every row that is not a cache hit).
ALTER TABLE api_usage ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
UPDATE api_usage SET attempts = (
    SELECT COALESCE(SUM(CASE WHEN cached = 0 THEN 1 + retries ELSE 0 END), 0) FROM api_calls
    WHERE api_calls.role = api_usage.role);

DROP TRIGGER api_usage_add;
CREATE TRIGGER api_usage_add AFTER INSERT ON api_calls
BEGIN
    INSERT OR IGNORE INTO api_usage (role) VALUES (NEW.role);
    UPDATE api_usage SET
        calls = calls + NEW.final,
        cached = cached + NEW.cached,
        prompt_tokens = prompt_tokens + NEW.prompt_tokens,
        completion_tokens = completion_tokens + NEW.completion_tokens,
        cost_usd = cost_usd + CASE WHEN NEW.cached = 0 THEN NEW.cost_usd ELSE 0 END,
        retries = retries + NEW.retries,
        rate_limited = rate_limited + NEW.rate_limited,
        failed = failed + NEW.final * (1 - NEW.ok),
        attempts = attempts + (1 - NEW.cached),
        last_call_id = MAX(last_call_id, NEW.id)
    WHERE role = NEW.role;
END;
