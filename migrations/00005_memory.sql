-- +goose Up
-- Memory: what the organization already knows, for investigations to start
-- from. An item is one runbook section or one confirmed past incident; its
-- vectors live apart, one per embedder, so that changing the embedder adds
-- vectors of the new space beside the old ones (re-embedded in the
-- background) and a search never compares vectors of two spaces.
CREATE TABLE memory_items (
    id               bigserial PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('doc','incident')),
    key              text NOT NULL UNIQUE,       -- stable identity: "doc:<source>#<n>", "investigation:<id>"
    title            text NOT NULL DEFAULT '',
    body             text NOT NULL,
    source           text NOT NULL DEFAULT '',   -- document name, or the incident's title
    hash             text NOT NULL,              -- of title and body: a changed item is re-embedded
    incident_id      bigint REFERENCES incidents ON DELETE CASCADE,
    investigation_id bigint REFERENCES investigations ON DELETE CASCADE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX memory_items_source ON memory_items (kind, source);
CREATE INDEX memory_items_incident ON memory_items (incident_id);

-- The column has no fixed dimension, because each embedder has its own;
-- dim is stored and checked. Each (embedder, dim) gets its own partial HNSW
-- index over the column cast to that dimension, created by the store when
-- the embedder is first used (store.EnsureMemoryIndex); searches use the
-- same cast and predicate, so the planner picks that index.
CREATE TABLE memory_vectors (
    item_id    bigint NOT NULL REFERENCES memory_items ON DELETE CASCADE,
    embedder   text NOT NULL,
    dim        integer NOT NULL CHECK (dim > 0),
    hash       text NOT NULL,                    -- the item's hash when it was embedded
    embedding  vector NOT NULL CHECK (vector_dims(embedding) = dim),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, embedder)
);
CREATE INDEX memory_vectors_embedder ON memory_vectors (embedder, dim);

-- An engineer's verdict on an investigation's answer. Only answers marked
-- correct feed the similar-incident memory.
CREATE TABLE investigation_feedback (
    investigation_id bigint PRIMARY KEY REFERENCES investigations ON DELETE CASCADE,
    verdict          text NOT NULL CHECK (verdict IN ('correct','wrong')),
    note             text NOT NULL DEFAULT '',
    author           text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE investigation_feedback;
DROP TABLE memory_vectors;
DROP TABLE memory_items;
