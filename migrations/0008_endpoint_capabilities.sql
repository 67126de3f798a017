-- What an endpoint was found to accept, probed once per (base_url, model) and remembered across runs:
-- structured = 1 when it answered a request carrying response_format json_schema with JSON, 0 when it
-- refused the parameter (or ignored it). base_url is stored without credentials.
CREATE TABLE endpoint_capabilities (
    base_url TEXT NOT NULL,
    model TEXT NOT NULL,
    structured INTEGER NOT NULL,
    detail TEXT,                               -- what the probe saw, in one line
    probed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (base_url, model)
);
