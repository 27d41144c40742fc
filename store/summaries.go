package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/causeway-rca/causeway"
)

// IncidentSummary is an incident as a list of incidents shows it: its
// sources at a glance and where its latest investigation stands.
type IncidentSummary struct {
	Incident *causeway.Incident
	Sources  int
	Lines    int64
	// SourceErrors are the sources that could not be (fully) read or
	// collected, by name.
	SourceErrors []SourceError
	// Latest is the newest investigation; nil when there is none.
	Latest *InvestigationSummary
}

// SourceError is why a source could not be (fully) read.
type SourceError struct {
	Name  string `json:"name"`
	Error string `json:"error"`
}

// InvestigationSummary is an investigation without its answer.
type InvestigationSummary struct {
	ID        int64
	Status    string
	Model     string
	Error     string
	CreatedAt time.Time
	// Verified of Total citations checked out; both 0 before the verdict.
	Verified, Total int
}

// IncidentSummaries lists the newest limit incidents with their sources'
// counts and errors and their latest investigation, in one query.
func (db *DB) IncidentSummaries(ctx context.Context, limit int) ([]*IncidentSummary, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.pool.Query(ctx, `
		SELECT i.*, coalesce(s.n, 0), coalesce(s.lines, 0), coalesce(s.errors, '[]'),
			inv.id, inv.status, inv.model, inv.error, inv.created_at,
			coalesce((inv.verdict->>'verified')::int, 0), coalesce((inv.verdict->>'total')::int, 0)
		FROM (SELECT `+incidentCols+` FROM incidents ORDER BY id DESC LIMIT $1) i
		LEFT JOIN LATERAL (
			SELECT count(*) AS n, sum(lines)::bigint AS lines,
				jsonb_agg(jsonb_build_object('name', name, 'error', error) ORDER BY name) FILTER (WHERE error <> '') AS errors
			FROM sources WHERE incident_id = i.id) s ON true
		LEFT JOIN LATERAL (
			SELECT id, status, model, error, created_at, verdict FROM investigations
			WHERE incident_id = i.id ORDER BY id DESC LIMIT 1) inv ON true
		ORDER BY i.id DESC`, limit)
	if err != nil {
		return nil, fmt.Errorf("summarize incidents: %w", err)
	}
	sums, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*IncidentSummary, error) {
		var inc causeway.Incident
		var s IncidentSummary
		var errs []byte
		var invID *int64
		var status, model, invErr *string
		var created *time.Time
		var verified, total int
		if err := r.Scan(&inc.ID, &inc.Key, &inc.Title, &inc.WindowStart, &inc.WindowEnd, &inc.Question, &inc.CreatedAt,
			&s.Sources, &s.Lines, &errs, &invID, &status, &model, &invErr, &created, &verified, &total); err != nil {
			return nil, err
		}
		if inc.WindowStart.Equal(time.Unix(0, 0)) {
			inc.WindowStart = time.Time{}
		}
		if inc.WindowEnd.Equal(time.Unix(0, 0)) {
			inc.WindowEnd = time.Time{}
		}
		s.Incident = &inc
		if err := json.Unmarshal(errs, &s.SourceErrors); err != nil {
			return nil, fmt.Errorf("incident %d source errors: %w", inc.ID, err)
		}
		if invID != nil {
			s.Latest = &InvestigationSummary{ID: *invID, Status: *status, Model: *model, Error: *invErr, CreatedAt: *created,
				Verified: verified, Total: total}
		}
		return &s, nil
	})
	if err != nil {
		return nil, fmt.Errorf("summarize incidents: %w", err)
	}
	return sums, nil
}
