-- +goose Up
-- Line templates (Drain) per source, with how often and when their lines
-- occur. Lines carry their template's text; this table is rebuilt from the
-- lines after each import (store.DB.RefreshTemplates), so counts stay exact
-- however often a bundle or a window is imported again.
CREATE TABLE templates (
    incident_id  bigint NOT NULL REFERENCES incidents ON DELETE CASCADE,
    source_id    bigint NOT NULL REFERENCES sources ON DELETE CASCADE,
    -- The key: a template can be longer than a btree entry may be.
    hash         bigint NOT NULL,             -- hashtextextended(template, 0)
    template     text NOT NULL,
    lines        bigint NOT NULL,
    tokens       bigint NOT NULL,             -- sum of its lines' token counts
    first_seen   timestamptz,                 -- NULL when none of its lines has a time
    last_seen    timestamptz,
    first_num    bigint NOT NULL,             -- short id of its first line: an example to cite
    -- Per-minute histogram, sparse: hist_counts[i] lines in the minute that
    -- starts hist_minutes[i] minutes after the Unix epoch.
    hist_minutes integer[] NOT NULL DEFAULT '{}',
    hist_counts  integer[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (incident_id, source_id, hash),
    CHECK (cardinality(hist_minutes) = cardinality(hist_counts))
);

-- +goose Down
DROP TABLE templates;
