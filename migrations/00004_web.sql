-- +goose Up
-- Web UI sessions: an API token exchanged for a session cookie. Only a hash
-- of the cookie's secret is kept, like a token's. A session of a stored
-- token ends when the token is revoked (the lookup joins api_tokens) or
-- deleted (cascade); one of a token from the environment ends at expiry.
CREATE TABLE web_sessions (
    hash       bytea PRIMARY KEY,
    token_id   bigint REFERENCES api_tokens ON DELETE CASCADE,  -- NULL for a token from the environment
    name       text NOT NULL,
    scope      text NOT NULL CHECK (scope IN ('read','write','admin')),
    csrf       text NOT NULL,                                   -- sent back in X-CSRF-Token on changes
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- The timeline's markers (Warning events, terminations, chat, tickets) are
-- found among an incident's few non-log lines; without this index every
-- timeline would read all of a million-line incident's logs twice.
CREATE INDEX lines_markers ON lines (incident_id, ts) WHERE kind <> 'log';

-- +goose Down
DROP INDEX lines_markers;
DROP TABLE web_sessions;
