package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/causeway-rca/causeway"
)

// createIncident is CreateIncident within a transaction (an inline scope's
// incident is created with its investigation, or not at all).
func createIncident(ctx context.Context, q querier, inc *causeway.Incident) error {
	if err := checkWindow(inc); err != nil {
		return err
	}
	err := q.QueryRow(ctx, `
		INSERT INTO incidents (key, title, window_start, window_end, question)
		VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at`,
		nullString(inc.Key), cleanText(inc.Title), nullTime(inc.WindowStart), nullTime(inc.WindowEnd), cleanText(inc.Question),
	).Scan(&inc.ID, &inc.CreatedAt)
	if isUniqueViolation(err) {
		return causeway.Errorf(causeway.ECONFLICT, "incident %q already exists", inc.Key)
	}
	if err != nil {
		return fmt.Errorf("create incident: %w", err)
	}
	return nil
}

func checkWindow(inc *causeway.Incident) error {
	if !inc.WindowStart.IsZero() && !inc.WindowEnd.IsZero() && inc.WindowEnd.Before(inc.WindowStart) {
		return causeway.Errorf(causeway.EINVALID, "incident window ends (%s) before it starts (%s)",
			inc.WindowEnd.Format(time.RFC3339), inc.WindowStart.Format(time.RFC3339))
	}
	return nil
}

// UpdateIncident stores inc's title, window and question.
func (db *DB) UpdateIncident(ctx context.Context, inc *causeway.Incident) error {
	if err := checkWindow(inc); err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, `UPDATE incidents SET title = $2, window_start = $3, window_end = $4, question = $5 WHERE id = $1`,
		inc.ID, cleanText(inc.Title), nullTime(inc.WindowStart), nullTime(inc.WindowEnd), cleanText(inc.Question))
	if err != nil {
		return fmt.Errorf("update incident %d: %w", inc.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return causeway.Errorf(causeway.ENOTFOUND, "incident %d", inc.ID)
	}
	return nil
}

// isForeignKeyViolation reports whether err is a foreign key violation: a
// row refers to one that does not exist.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}
