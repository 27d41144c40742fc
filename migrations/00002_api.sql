-- +goose Up
-- API tokens: only a hash of each token is kept, so a database dump holds no
-- usable credential. Tokens are random (256 bits), so a plain sha256 is as
-- good as a slow password hash here and keeps the lookup an index probe.
CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL CHECK (name <> ''),
    scope        text NOT NULL CHECK (scope IN ('read','write','admin')),
    hash         bytea NOT NULL UNIQUE,
    prefix       text NOT NULL,               -- the token's first characters, to recognize it in lists
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
-- A name names one live token; a revoked token's name can be reused.
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- The investigations table is the job queue: workers claim rows with
-- FOR UPDATE SKIP LOCKED and hold a lease (lease_until) that they renew
-- while they run; a row whose lease ran out belongs to a dead worker and is
-- claimed again.
ALTER TABLE investigations
    ADD COLUMN scope            jsonb,                  -- sources to collect before packing (inline scope)
    ADD COLUMN request_hash     text NOT NULL DEFAULT '', -- what an Idempotency-Key was first used for
    ADD COLUMN worker           text NOT NULL DEFAULT '', -- the worker holding (or last holding) the lease
    ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false,
    ADD COLUMN started_at       timestamptz,
    ADD COLUMN finished_at      timestamptz;
CREATE INDEX investigations_leases ON investigations (lease_until)
    WHERE status IN ('collecting','packing','asking','verifying');

-- Progress of an investigation as it runs, so that any replica can stream
-- it (SSE) and a client can resume after the last event it saw.
CREATE TABLE investigation_events (
    id               bigserial PRIMARY KEY,
    investigation_id bigint NOT NULL REFERENCES investigations ON DELETE CASCADE,
    type             text NOT NULL,
    data             jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX investigation_events_investigation ON investigation_events (investigation_id, id);

ALTER TABLE chat_messages
    ADD COLUMN model        text NOT NULL DEFAULT '',
    ADD COLUMN usage        jsonb,
    ADD COLUMN error        text NOT NULL DEFAULT '',
    ADD COLUMN context_hash text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE chat_messages DROP COLUMN model, DROP COLUMN usage, DROP COLUMN error, DROP COLUMN context_hash;
DROP TABLE investigation_events;
DROP INDEX investigations_leases;
ALTER TABLE investigations DROP COLUMN scope, DROP COLUMN request_hash, DROP COLUMN worker,
    DROP COLUMN cancel_requested, DROP COLUMN started_at, DROP COLUMN finished_at;
DROP TABLE api_tokens;
