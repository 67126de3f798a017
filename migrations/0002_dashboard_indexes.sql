-- Indexes for the dashboard's reads (lion_cli/tui/queries.py), so a refresh never scans a table.

-- Generation panel: accepted / rejected by reason per iteration, counted from the index alone.
CREATE INDEX candidates_reason ON candidates(iteration, accepted, reject_reason);

-- Instruction detail screen: an instruction's labels in every iteration.
CREATE INDEX labels_instruction ON labels(instruction_id);

-- Discrimination panel: the gap histogram, order flips and mean gap of an iteration, read from the
-- index alone and already grouped by gap (no sort of the iteration's labels).
CREATE INDEX labels_gap ON labels(iteration, gap, label, order_flip);

-- API panel's referee retry rate: the few verdicts with attempt > 0, without visiting the rest.
CREATE INDEX judgements_retries ON judgements(iteration) WHERE attempt > 0;
