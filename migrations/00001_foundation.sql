-- +goose Up
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE incidents (
    id           bigserial PRIMARY KEY,
    key          text UNIQUE,                 -- external id (bundle id); NULL when none
    title        text NOT NULL DEFAULT '',
    window_start timestamptz,
    window_end   timestamptz,
    question     text NOT NULL DEFAULT '',
    next_line    bigint NOT NULL DEFAULT 0,   -- last short line id handed out in this incident
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (window_end IS NULL OR window_start IS NULL OR window_end >= window_start)
);

CREATE TABLE sources (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents ON DELETE CASCADE,
    name        text NOT NULL,
    kind        text NOT NULL,
    labels      jsonb NOT NULL DEFAULT '{}',
    query       text NOT NULL DEFAULT '',
    lines       bigint NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (incident_id, name)
);

-- Evidence lines. Every key starts with incident_id so that the table can be
-- partitioned (or distributed on Citus) by incident without changing a query.
CREATE TABLE lines (
    incident_id bigint NOT NULL REFERENCES incidents ON DELETE CASCADE,
    num         bigint NOT NULL,              -- short id within the incident: L<num>
    source_id   bigint NOT NULL REFERENCES sources ON DELETE CASCADE,
    seq         bigint NOT NULL,              -- order within the source
    ts          timestamptz,
    ts_inferred boolean NOT NULL DEFAULT false,
    kind        text NOT NULL,
    text        text NOT NULL,
    template    text NOT NULL DEFAULT '',
    tokens      integer NOT NULL DEFAULT 0,
    attrs       jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (incident_id, num),
    UNIQUE (incident_id, source_id, seq)
);
-- The packer reads an incident's lines inside its window in time order.
CREATE INDEX lines_incident_ts ON lines (incident_id, ts);

CREATE TABLE investigations (
    id              bigserial PRIMARY KEY,
    incident_id     bigint NOT NULL REFERENCES incidents ON DELETE CASCADE,
    question        text NOT NULL,
    budget_tokens   integer NOT NULL,
    model           text NOT NULL,
    prompt_version  text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued','collecting','packing','asking','verifying','done','failed','canceled')),
    context_hash    text NOT NULL DEFAULT '',
    context_lines   bigint[] NOT NULL DEFAULT '{}',  -- short ids of the lines sent to the model
    answer          jsonb,
    verdict         jsonb,
    usage           jsonb NOT NULL DEFAULT '{}',
    timings         jsonb NOT NULL DEFAULT '{}',
    error           text NOT NULL DEFAULT '',
    raw_reply       text NOT NULL DEFAULT '',
    idempotency_key text UNIQUE,
    lease_until     timestamptz,                     -- a worker's claim on a running job
    attempts        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX investigations_incident ON investigations (incident_id, created_at DESC);
CREATE INDEX investigations_queue ON investigations (created_at) WHERE status = 'queued';

CREATE TABLE chat_messages (
    id               bigserial PRIMARY KEY,
    incident_id      bigint NOT NULL REFERENCES incidents ON DELETE CASCADE,
    investigation_id bigint REFERENCES investigations ON DELETE SET NULL,
    role             text NOT NULL CHECK (role IN ('user','assistant','system')),
    content          text NOT NULL,
    answer           jsonb,
    verdict          jsonb,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_incident ON chat_messages (incident_id, id);

-- +goose Down
DROP TABLE chat_messages;
DROP TABLE investigations;
DROP TABLE lines;
DROP TABLE sources;
DROP TABLE incidents;
