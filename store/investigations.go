package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/causeway-rca/causeway"
)

const investigationCols = `id, incident_id, question, budget_tokens, model, prompt_version, status, context_hash,
	answer, verdict, usage, timings, error, raw_reply, created_at, updated_at`

func scanInvestigation(row pgx.Row) (*causeway.Investigation, error) {
	var inv causeway.Investigation
	var answer, verdict, usage, timings []byte
	if err := row.Scan(&inv.ID, &inv.IncidentID, &inv.Question, &inv.Budget, &inv.Model, &inv.PromptVersion, &inv.Status,
		&inv.ContextHash, &answer, &verdict, &usage, &timings, &inv.Error, &inv.RawReply, &inv.CreatedAt, &inv.UpdatedAt); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		raw []byte
		dst any
	}{{usage, &inv.Usage}, {timings, &inv.Timings}} {
		if err := json.Unmarshal(f.raw, f.dst); err != nil {
			return nil, fmt.Errorf("investigation %d: %w", inv.ID, err)
		}
	}
	if answer != nil {
		inv.Answer = new(causeway.Answer)
		if err := json.Unmarshal(answer, inv.Answer); err != nil {
			return nil, fmt.Errorf("investigation %d answer: %w", inv.ID, err)
		}
	}
	if verdict != nil {
		inv.Verdict = new(causeway.Verdict)
		if err := json.Unmarshal(verdict, inv.Verdict); err != nil {
			return nil, fmt.Errorf("investigation %d verdict: %w", inv.ID, err)
		}
	}
	return &inv, nil
}

// CreateInvestigation stores a new investigation (status queued unless set)
// and sets its ID and times.
func (db *DB) CreateInvestigation(ctx context.Context, inv *causeway.Investigation) error {
	if inv.Status == "" {
		inv.Status = causeway.StatusQueued
	}
	err := db.pool.QueryRow(ctx, `
		INSERT INTO investigations (incident_id, question, budget_tokens, model, status)
		VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at, updated_at`,
		inv.IncidentID, inv.Question, inv.Budget, inv.Model, inv.Status,
	).Scan(&inv.ID, &inv.CreatedAt, &inv.UpdatedAt)
	if err != nil {
		return fmt.Errorf("create investigation of incident %d: %w", inv.IncidentID, err)
	}
	return nil
}

// SetInvestigationStatus moves an investigation to status.
func (db *DB) SetInvestigationStatus(ctx context.Context, id int64, status string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE investigations SET status = $2, updated_at = now() WHERE id = $1`, id, status)
	if err != nil {
		return fmt.Errorf("set status of investigation %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return causeway.Errorf(causeway.ENOTFOUND, "investigation %d", id)
	}
	return nil
}

// FinishInvestigation stores everything an investigation produced: status,
// answer, verdict, usage, timings, error, the raw reply and the short ids of
// the lines that were in the context sent.
func (db *DB) FinishInvestigation(ctx context.Context, inv *causeway.Investigation, contextLines []int64) error {
	answer, err := jsonOrNil(inv.Answer)
	if err != nil {
		return err
	}
	verdict, err := jsonOrNil(inv.Verdict)
	if err != nil {
		return err
	}
	usage, _ := json.Marshal(inv.Usage)
	timings, _ := json.Marshal(inv.Timings)
	if contextLines == nil {
		contextLines = []int64{}
	}
	err = db.pool.QueryRow(ctx, `
		UPDATE investigations SET status = $2, prompt_version = $3, context_hash = $4, context_lines = $5,
			answer = $6, verdict = $7, usage = $8, timings = $9, error = $10, raw_reply = $11, updated_at = now()
		WHERE id = $1 RETURNING updated_at`,
		inv.ID, inv.Status, inv.PromptVersion, inv.ContextHash, contextLines, answer, verdict, usage, timings,
		cleanText(inv.Error), cleanText(inv.RawReply)).Scan(&inv.UpdatedAt)
	if err != nil {
		return notFound(err, "finish investigation %d", inv.ID)
	}
	return nil
}

func jsonOrNil(v any) ([]byte, error) {
	switch x := v.(type) {
	case *causeway.Answer:
		if x == nil {
			return nil, nil
		}
	case *causeway.Verdict:
		if x == nil {
			return nil, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

// Investigation returns the investigation with the given id.
func (db *DB) Investigation(ctx context.Context, id int64) (*causeway.Investigation, error) {
	inv, err := scanInvestigation(db.pool.QueryRow(ctx, `SELECT `+investigationCols+` FROM investigations WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "investigation %d", id)
	}
	return inv, nil
}

// ContextLines returns the short ids of the lines sent to the model for an
// investigation.
func (db *DB) ContextLines(ctx context.Context, id int64) ([]int64, error) {
	var nums []int64
	if err := db.pool.QueryRow(ctx, `SELECT context_lines FROM investigations WHERE id = $1`, id).Scan(&nums); err != nil {
		return nil, notFound(err, "investigation %d", id)
	}
	return nums, nil
}

// Investigations lists an incident's investigations, newest first.
func (db *DB) Investigations(ctx context.Context, incidentID int64) ([]*causeway.Investigation, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+investigationCols+` FROM investigations WHERE incident_id = $1 ORDER BY id DESC`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list investigations of incident %d: %w", incidentID, err)
	}
	invs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*causeway.Investigation, error) { return scanInvestigation(r) })
	if err != nil {
		return nil, fmt.Errorf("list investigations of incident %d: %w", incidentID, err)
	}
	return invs, nil
}
