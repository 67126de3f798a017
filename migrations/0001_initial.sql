-- The whole loop's state. Every unit of paid or slow work has a unique key, so a resumed run
-- does only what is missing (docs/architecture.md).

CREATE TABLE project (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- One row per `lion run` / `lion resume` invocation, with the settings it ran under.
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'running',   -- running | done | failed | interrupted | paused
    pid INTEGER,
    host TEXT,
    settings_json TEXT NOT NULL,
    lion_version TEXT NOT NULL
);

-- At most one live `lion run` per project. A row whose pid is dead (same host) or whose
-- heartbeat is stale is taken over.
CREATE TABLE run_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    run_id INTEGER,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    acquired_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    heartbeat_at REAL NOT NULL
);

CREATE TABLE iterations (
    iteration INTEGER PRIMARY KEY,
    status TEXT NOT NULL DEFAULT 'pending',   -- pending | running | done
    started_at TEXT,
    finished_at TEXT,
    student_path TEXT                          -- the model folder this iteration's student lives in
);

CREATE TABLE stages (
    iteration INTEGER NOT NULL REFERENCES iterations(iteration),
    stage TEXT NOT NULL,                       -- imitation | discrimination | generation
    status TEXT NOT NULL DEFAULT 'pending',    -- pending | running | done | failed
    step TEXT NOT NULL DEFAULT '',             -- the sub-step in progress (e.g. 'teacher', 'train')
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    finished_at TEXT,
    detail_json TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (iteration, stage)
);

CREATE TABLE instructions (
    id INTEGER PRIMARY KEY,
    content_hash TEXT NOT NULL UNIQUE,         -- sha256(text \0 input): exact duplicates share it
    text TEXT NOT NULL,
    input TEXT NOT NULL DEFAULT '',
    seed_output TEXT NOT NULL DEFAULT '',      -- the output a seed file carried, if any (never trained on)
    origin TEXT NOT NULL,                      -- seed | hard | easy
    parent_id INTEGER REFERENCES instructions(id),
    iteration INTEGER NOT NULL,                -- the iteration that created it (0 = seed)
    tokens TEXT,                               -- ROUGE-L tokens, space-joined, cached for novelty
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX instructions_origin ON instructions(origin, iteration);

-- Pool membership per iteration: the pools an iteration *starts* with.
CREATE TABLE pool_members (
    iteration INTEGER NOT NULL,
    pool TEXT NOT NULL,                        -- train | cache
    instruction_id INTEGER NOT NULL REFERENCES instructions(id),
    PRIMARY KEY (iteration, pool, instruction_id)
) WITHOUT ROWID;
CREATE INDEX pool_members_instruction ON pool_members(instruction_id);

-- Answers. Teacher answers are keyed by (instruction, model, settings) and reused forever;
-- student answers are keyed by the student's model label, which names its iteration.
CREATE TABLE responses (
    id INTEGER PRIMARY KEY,
    instruction_id INTEGER NOT NULL REFERENCES instructions(id),
    role TEXT NOT NULL,                        -- teacher | student
    model TEXT NOT NULL,
    settings_hash TEXT NOT NULL,
    iteration INTEGER NOT NULL,                -- the iteration that asked for it
    text TEXT NOT NULL,
    finish_reason TEXT NOT NULL DEFAULT '',
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (instruction_id, role, model, settings_hash)
);
CREATE INDEX responses_role_iter ON responses(role, iteration);

-- Referee verdicts: one row per (instruction, iteration, order, attempt).
CREATE TABLE judgements (
    id INTEGER PRIMARY KEY,
    instruction_id INTEGER NOT NULL REFERENCES instructions(id),
    iteration INTEGER NOT NULL,
    order_name TEXT NOT NULL,                  -- teacher_first | student_first
    attempt INTEGER NOT NULL DEFAULT 0,
    referee_model TEXT NOT NULL,
    raw_text TEXT NOT NULL,
    teacher_score REAL,                        -- NULL when the reply could not be parsed
    student_score REAL,
    parse_error TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (instruction_id, iteration, order_name, attempt)
);
CREATE INDEX judgements_iter ON judgements(iteration);

CREATE TABLE labels (
    iteration INTEGER NOT NULL,
    instruction_id INTEGER NOT NULL REFERENCES instructions(id),
    teacher_score REAL,
    student_score REAL,
    gap REAL,
    label TEXT NOT NULL,                       -- hard | easy | unscored
    order_flip INTEGER,                        -- 1 if the winner changed between the two orders
    PRIMARY KEY (iteration, instruction_id)
) WITHOUT ROWID;
CREATE INDEX labels_label ON labels(iteration, label);

-- Every generator output, accepted or not, with the reason it was rejected.
CREATE TABLE candidates (
    id INTEGER PRIMARY KEY,
    iteration INTEGER NOT NULL,
    slot INTEGER NOT NULL,                     -- the n-th generator call of this iteration
    kind TEXT NOT NULL,                        -- hard | easy (which seed set it came from)
    seed_instruction_id INTEGER NOT NULL REFERENCES instructions(id),
    raw_text TEXT NOT NULL,
    text TEXT NOT NULL,
    input TEXT NOT NULL DEFAULT '',
    finish_reason TEXT NOT NULL DEFAULT '',
    accepted INTEGER NOT NULL DEFAULT 0,
    reject_reason TEXT,
    max_rouge REAL,
    nearest_text TEXT,
    instruction_id INTEGER REFERENCES instructions(id),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (iteration, slot)
);
CREATE INDEX candidates_iter ON candidates(iteration, accepted);

-- The paid-answer cache: a request's hash (base_url, model, messages, sampling, sample index)
-- → the answer. A hit never reaches the network, across runs and after a crash.
CREATE TABLE request_cache (
    key TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    model TEXT NOT NULL,
    response_json TEXT NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT NOT NULL DEFAULT '',
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- One row per logical API call (retries counted in it), cache hits included with cached = 1.
CREATE TABLE api_calls (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,                          -- unix time the call finished
    role TEXT NOT NULL,
    model TEXT NOT NULL,
    base_url TEXT NOT NULL,
    cache_key TEXT,
    status INTEGER,                            -- final HTTP status (NULL: no response)
    ok INTEGER NOT NULL,
    cached INTEGER NOT NULL DEFAULT 0,
    latency_s REAL NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0,
    rate_limited INTEGER NOT NULL DEFAULT 0,   -- 429s seen while making this call
    finish_reason TEXT,
    error TEXT
);
CREATE INDEX api_calls_role_ts ON api_calls(role, ts);

CREATE TABLE train_jobs (
    id INTEGER PRIMARY KEY,
    iteration INTEGER,
    kind TEXT NOT NULL,                        -- train | generate | eval
    status TEXT NOT NULL DEFAULT 'running',    -- running | done | failed | cancelled
    spec_json TEXT NOT NULL,
    output_dir TEXT NOT NULL,
    total_steps INTEGER,
    started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at TEXT,
    exit_code INTEGER,
    error TEXT
);

CREATE TABLE train_metrics (
    job_id INTEGER NOT NULL REFERENCES train_jobs(id),
    step INTEGER NOT NULL,
    epoch REAL,
    loss REAL,
    lr REAL,
    tokens INTEGER,
    tokens_per_s REAL,
    ts REAL,
    PRIMARY KEY (job_id, step)
) WITHOUT ROWID;

CREATE TABLE eval_results (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    iteration INTEGER,
    benchmark TEXT NOT NULL,                   -- bbh | agieval | vicuna
    task TEXT NOT NULL,
    mode TEXT NOT NULL,                        -- generate | loglik | judge
    n INTEGER NOT NULL,
    correct REAL NOT NULL,
    accuracy REAL NOT NULL,
    skipped INTEGER NOT NULL DEFAULT 0,
    detail_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (model, benchmark, task, mode)
);

CREATE TABLE eval_samples (
    result_id INTEGER NOT NULL REFERENCES eval_results(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    reply TEXT NOT NULL,
    extracted TEXT,
    target TEXT,
    correct REAL,
    PRIMARY KEY (result_id, idx)
) WITHOUT ROWID;

-- The log the dashboard tails.
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    level TEXT NOT NULL DEFAULT 'info',
    iteration INTEGER,
    stage TEXT,
    message TEXT NOT NULL,
    data_json TEXT NOT NULL DEFAULT '{}'
);
