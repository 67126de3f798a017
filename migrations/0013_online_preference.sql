-- Online DPO ([preference] online = true): each round of an iteration's preference stage, the current
-- student answers every prompt of the round k times (sample 0 .. k-1, each with its own seed), and the
-- referee scores each sample against the teacher's answer in both orders. One row per unit of work,
-- keyed, so a killed round resumes without generating or asking anything again.
CREATE TABLE online_samples (
    iteration INTEGER NOT NULL,
    round INTEGER NOT NULL,
    instruction_id INTEGER NOT NULL REFERENCES instructions(id),
    sample INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    model_path TEXT NOT NULL,                  -- the student that answered (that round's policy)
    text TEXT NOT NULL,
    finish_reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (iteration, round, instruction_id, sample)
);
CREATE TABLE online_scores (
    iteration INTEGER NOT NULL,
    round INTEGER NOT NULL,
    instruction_id INTEGER NOT NULL,
    sample INTEGER NOT NULL,
    order_name TEXT NOT NULL,                  -- teacher_first | student_first (the sample as the student)
    attempt INTEGER NOT NULL,                  -- the referee's sample index, as in judgements
    referee_model TEXT NOT NULL,
    raw_text TEXT NOT NULL,
    teacher_score REAL,
    sample_score REAL,                         -- NULL: the reply was unreadable
    parse_error TEXT,
    PRIMARY KEY (iteration, round, instruction_id, sample, order_name, attempt),
    FOREIGN KEY (iteration, round, instruction_id, sample)
        REFERENCES online_samples(iteration, round, instruction_id, sample)
);
