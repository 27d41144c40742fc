package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/causeway-rca/causeway"
)

const incidentCols = `id, coalesce(key, ''), title, coalesce(window_start, 'epoch'), coalesce(window_end, 'epoch'), question, created_at`

func scanIncident(row pgx.Row) (*causeway.Incident, error) {
	var inc causeway.Incident
	if err := row.Scan(&inc.ID, &inc.Key, &inc.Title, &inc.WindowStart, &inc.WindowEnd, &inc.Question, &inc.CreatedAt); err != nil {
		return nil, err
	}
	if inc.WindowStart.Equal(time.Unix(0, 0)) {
		inc.WindowStart = time.Time{}
	}
	if inc.WindowEnd.Equal(time.Unix(0, 0)) {
		inc.WindowEnd = time.Time{}
	}
	return &inc, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CreateIncident stores a new incident and sets its ID and CreatedAt. An
// incident whose Key is taken is an ECONFLICT error.
func (db *DB) CreateIncident(ctx context.Context, inc *causeway.Incident) error {
	return createIncident(ctx, db.pool, inc)
}

// Incident returns the incident with the given id.
func (db *DB) Incident(ctx context.Context, id int64) (*causeway.Incident, error) {
	inc, err := scanIncident(db.pool.QueryRow(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "incident %d", id)
	}
	return inc, nil
}

// IncidentByKey returns the incident with the given external key.
func (db *DB) IncidentByKey(ctx context.Context, key string) (*causeway.Incident, error) {
	inc, err := scanIncident(db.pool.QueryRow(ctx, `SELECT `+incidentCols+` FROM incidents WHERE key = $1`, key))
	if err != nil {
		return nil, notFound(err, "incident %q", key)
	}
	return inc, nil
}

// Incidents lists incidents, newest first.
func (db *DB) Incidents(ctx context.Context, limit int) ([]*causeway.Incident, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.pool.Query(ctx, `SELECT `+incidentCols+` FROM incidents ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	incs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*causeway.Incident, error) { return scanIncident(r) })
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return incs, nil
}

// DeleteIncident removes an incident and everything collected for it.
func (db *DB) DeleteIncident(ctx context.Context, id int64) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM incidents WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete incident %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return causeway.Errorf(causeway.ENOTFOUND, "incident %d", id)
	}
	return nil
}

// Sources lists an incident's sources by name.
func (db *DB) Sources(ctx context.Context, incidentID int64) ([]*causeway.Source, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT id, incident_id, name, kind, labels, query, lines, error
		FROM sources WHERE incident_id = $1 ORDER BY name`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list sources of incident %d: %w", incidentID, err)
	}
	srcs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*causeway.Source, error) {
		var s causeway.Source
		var labels []byte
		if err := r.Scan(&s.ID, &s.IncidentID, &s.Name, &s.Kind, &labels, &s.Query, &s.Lines, &s.Error); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(labels, &s.Labels); err != nil {
			return nil, fmt.Errorf("source %s labels: %w", s.Name, err)
		}
		return &s, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sources of incident %d: %w", incidentID, err)
	}
	return srcs, nil
}

// EnsureSource registers src under its incident by Name (creating it or
// updating its kind, labels, query and error) and sets src.ID.
func (db *DB) EnsureSource(ctx context.Context, src *causeway.Source) error {
	return ensureSource(ctx, db.pool, src)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func ensureSource(ctx context.Context, q querier, src *causeway.Source) error {
	if src.IncidentID == 0 {
		return causeway.Errorf(causeway.EINVALID, "source %q has no incident", src.Name)
	}
	if src.Name == "" {
		return causeway.Errorf(causeway.EINVALID, "source without a name")
	}
	labels, err := json.Marshal(nonNil(src.Labels))
	if err != nil {
		return fmt.Errorf("source %s labels: %w", src.Name, err)
	}
	err = q.QueryRow(ctx, `
		INSERT INTO sources (incident_id, name, kind, labels, query, error) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (incident_id, name) DO UPDATE
		SET kind = excluded.kind, labels = excluded.labels, query = excluded.query, error = excluded.error
		RETURNING id`, src.IncidentID, src.Name, string(src.Kind), labels, src.Query, cleanText(src.Error)).Scan(&src.ID)
	if err != nil {
		return fmt.Errorf("register source %s: %w", src.Name, err)
	}
	return nil
}

// SetSourceError records why a source could not be (fully) read, so that the
// answer can report it; an empty msg clears it.
func (db *DB) SetSourceError(ctx context.Context, src *causeway.Source, msg string) error {
	if src.ID == 0 {
		if err := db.EnsureSource(ctx, src); err != nil {
			return err
		}
	}
	if _, err := db.pool.Exec(ctx, `UPDATE sources SET error = $2 WHERE id = $1`, src.ID, msg); err != nil {
		return fmt.Errorf("record error of source %s: %w", src.Name, err)
	}
	src.Error = msg
	return nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
