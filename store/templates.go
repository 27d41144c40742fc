package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Template is one line template of a source (Drain, computed at ingest by
// chunking.Annotator) with how often and when its lines occur.
//
// It belongs in the root package as causeway.Template once the lead adds
// it there; until then it lives with the table it reads.
type Template struct {
	SourceID  int64     `json:"source_id"`
	Source    string    `json:"source"`
	Template  string    `json:"template"`
	Lines     int64     `json:"lines"`
	Tokens    int64     `json:"tokens"`
	FirstSeen time.Time `json:"first_seen,omitzero"` // zero when none of its lines has a time
	LastSeen  time.Time `json:"last_seen,omitzero"`
	FirstNum  int64     `json:"first_num"` // short id of its first line
	// Histogram counts its lines per minute, in time order, skipping empty
	// minutes.
	Histogram []MinuteCount `json:"histogram,omitempty"`
}

// MinuteCount is one bar of a template's histogram.
type MinuteCount struct {
	Minute time.Time `json:"minute"`
	Lines  int64     `json:"lines"`
}

// TemplateFix replaces an outdated template on the lines of one source
// between two seqs: Drain generalizes a template as lines arrive, so lines
// stored before the change carry an older text.
type TemplateFix struct {
	From, To string
	FirstSeq int64
	LastSeq  int64
}

// FixLineTemplates applies fixes to the lines of one source of an incident.
func (db *DB) FixLineTemplates(ctx context.Context, incidentID, sourceID int64, fixes []TemplateFix) error {
	if len(fixes) == 0 {
		return nil
	}
	from := make([]string, len(fixes))
	to := make([]string, len(fixes))
	lo := make([]int64, len(fixes))
	hi := make([]int64, len(fixes))
	for i, f := range fixes {
		from[i], to[i], lo[i], hi[i] = f.From, f.To, f.FirstSeq, f.LastSeq
	}
	_, err := db.pool.Exec(ctx, `
		UPDATE lines l SET template = f.to_t
		FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[]) AS f(from_t, to_t, lo, hi)
		WHERE l.incident_id = $1 AND l.source_id = $2 AND l.seq BETWEEN f.lo AND f.hi AND l.template = f.from_t`,
		incidentID, sourceID, from, to, lo, hi)
	if err != nil {
		return fmt.Errorf("fix %d line templates of source %d: %w", len(fixes), sourceID, err)
	}
	return nil
}

// RefreshTemplates rebuilds the templates of the given sources of an
// incident from their lines: counts, tokens, first and last time, first
// line and per-minute histogram. Counting in the database rather than at
// ingest keeps the counts exact when the same lines are imported twice.
func (db *DB) RefreshTemplates(ctx context.Context, incidentID int64, sourceIDs []int64) error {
	if len(sourceIDs) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM templates WHERE incident_id = $1 AND source_id = ANY($2)`, incidentID, sourceIDs); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO templates (incident_id, source_id, hash, template, lines, tokens, first_seen, last_seen, first_num,
			                       hist_minutes, hist_counts)
			SELECT $1, source_id, hashtextextended(template, 0), template, sum(n), sum(tokens), min(first), max(last), min(first_num),
			       coalesce(array_agg(minute ORDER BY minute) FILTER (WHERE minute IS NOT NULL), '{}'),
			       coalesce(array_agg(n ORDER BY minute) FILTER (WHERE minute IS NOT NULL), '{}')
			FROM (
				SELECT source_id, template, floor(extract(epoch FROM ts) / 60)::integer AS minute,
				       count(*)::integer AS n, sum(tokens) AS tokens, min(ts) AS first, max(ts) AS last, min(num) AS first_num
				FROM lines WHERE incident_id = $1 AND source_id = ANY($2)
				GROUP BY source_id, template, minute
			) m
			GROUP BY source_id, template`, incidentID, sourceIDs)
		return err
	})
	if err != nil {
		return fmt.Errorf("refresh templates of %d sources of incident %d: %w", len(sourceIDs), incidentID, err)
	}
	return nil
}

// Templates lists an incident's templates by source name, most frequent
// first.
func (db *DB) Templates(ctx context.Context, incidentID int64) ([]Template, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT t.source_id, s.name, t.template, t.lines, t.tokens, t.first_seen, t.last_seen, t.first_num,
		       t.hist_minutes, t.hist_counts
		FROM templates t JOIN sources s ON s.id = t.source_id
		WHERE t.incident_id = $1
		ORDER BY s.name, t.lines DESC, t.first_num`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list templates of incident %d: %w", incidentID, err)
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Template, error) {
		var t Template
		var first, last *time.Time
		var minutes, counts []int32
		if err := r.Scan(&t.SourceID, &t.Source, &t.Template, &t.Lines, &t.Tokens, &first, &last, &t.FirstNum, &minutes, &counts); err != nil {
			return t, err
		}
		if first != nil {
			t.FirstSeen, t.LastSeen = first.UTC(), last.UTC()
		}
		t.Histogram = make([]MinuteCount, len(minutes))
		for i, m := range minutes {
			t.Histogram[i] = MinuteCount{Minute: time.Unix(int64(m)*60, 0).UTC(), Lines: int64(counts[i])}
		}
		return t, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list templates of incident %d: %w", incidentID, err)
	}
	return ts, nil
}
