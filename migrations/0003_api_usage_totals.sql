-- Running per-role totals of api_calls, kept by a trigger in the same transaction as each insert,
-- so the dashboard's first refresh and `lion status` read a handful of rows instead of summing every
-- call of a long run (184K rows took ~95 ms to sum).
CREATE TABLE api_usage (
    role TEXT PRIMARY KEY,
    calls INTEGER NOT NULL DEFAULT 0,
    cached INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,          -- paid calls only (a cache hit costs nothing)
    retries INTEGER NOT NULL DEFAULT 0,
    rate_limited INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    last_call_id INTEGER NOT NULL DEFAULT 0    -- the newest api_calls row counted
) WITHOUT ROWID;

INSERT INTO api_usage (role, calls, cached, prompt_tokens, completion_tokens, cost_usd, retries, rate_limited,
                       failed, last_call_id)
SELECT role, COUNT(*), SUM(cached), SUM(prompt_tokens), SUM(completion_tokens),
       SUM(CASE WHEN cached = 0 THEN cost_usd ELSE 0 END), SUM(retries), SUM(rate_limited), SUM(1 - ok), MAX(id)
FROM api_calls GROUP BY role;

CREATE TRIGGER api_usage_add AFTER INSERT ON api_calls
BEGIN
    INSERT OR IGNORE INTO api_usage (role) VALUES (NEW.role);
    UPDATE api_usage SET
        calls = calls + 1,
        cached = cached + NEW.cached,
        prompt_tokens = prompt_tokens + NEW.prompt_tokens,
        completion_tokens = completion_tokens + NEW.completion_tokens,
        cost_usd = cost_usd + CASE WHEN NEW.cached = 0 THEN NEW.cost_usd ELSE 0 END,
        retries = retries + NEW.retries,
        rate_limited = rate_limited + NEW.rate_limited,
        failed = failed + (1 - NEW.ok),
        last_call_id = MAX(last_call_id, NEW.id)
    WHERE role = NEW.role;
END;
