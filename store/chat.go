package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/causeway-rca/causeway"
)

// ChatMessage is one turn of the conversation about an incident: a user's
// question, or the model's answer to it with the verdict on its citations.
type ChatMessage struct {
	ID         int64 `json:"id"`
	IncidentID int64 `json:"incident_id"`
	// InvestigationID is the investigation whose packed context the answer
	// was grounded on; 0 when none.
	InvestigationID int64             `json:"investigation_id,omitempty"`
	Role            string            `json:"role"` // user, assistant
	Content         string            `json:"content"`
	Answer          *causeway.Answer  `json:"answer,omitempty"`
	Verdict         *causeway.Verdict `json:"verdict,omitempty"`
	Model           string            `json:"model,omitempty"`
	Usage           *causeway.Usage   `json:"usage,omitempty"`
	Error           string            `json:"error,omitempty"`
	ContextHash     string            `json:"context_hash,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
}

const chatCols = `id, incident_id, coalesce(investigation_id, 0), role, content, answer, verdict, model, usage, error, context_hash, created_at`

// AddChatMessage stores m and sets its ID and CreatedAt.
func (db *DB) AddChatMessage(ctx context.Context, m *ChatMessage) error {
	answer, err := jsonOrNil(m.Answer)
	if err != nil {
		return err
	}
	verdict, err := jsonOrNil(m.Verdict)
	if err != nil {
		return err
	}
	var usage []byte
	if m.Usage != nil {
		usage, _ = json.Marshal(m.Usage)
	}
	var inv *int64
	if m.InvestigationID != 0 {
		inv = &m.InvestigationID
	}
	err = db.pool.QueryRow(ctx, `
		INSERT INTO chat_messages (incident_id, investigation_id, role, content, answer, verdict, model, usage, error, context_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id, created_at`,
		m.IncidentID, inv, m.Role, cleanText(m.Content), answer, verdict, m.Model, usage, cleanText(m.Error), m.ContextHash,
	).Scan(&m.ID, &m.CreatedAt)
	if isForeignKeyViolation(err) {
		return causeway.Errorf(causeway.ENOTFOUND, "incident %d", m.IncidentID)
	}
	if err != nil {
		return fmt.Errorf("store chat message of incident %d: %w", m.IncidentID, err)
	}
	return nil
}

// ChatMessages returns the last limit messages of an incident's
// conversation, oldest first.
func (db *DB) ChatMessages(ctx context.Context, incidentID int64, limit int) ([]*ChatMessage, error) {
	if limit <= 0 {
		limit = 200
	}
	rows, err := db.pool.Query(ctx, `SELECT * FROM (
		SELECT `+chatCols+` FROM chat_messages WHERE incident_id = $1 ORDER BY id DESC LIMIT $2) m ORDER BY id`, incidentID, limit)
	if err != nil {
		return nil, fmt.Errorf("chat of incident %d: %w", incidentID, err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*ChatMessage, error) {
		var m ChatMessage
		var answer, verdict, usage []byte
		if err := r.Scan(&m.ID, &m.IncidentID, &m.InvestigationID, &m.Role, &m.Content, &answer, &verdict, &m.Model, &usage,
			&m.Error, &m.ContextHash, &m.CreatedAt); err != nil {
			return nil, err
		}
		for _, f := range []struct {
			raw []byte
			dst any
		}{{answer, &m.Answer}, {verdict, &m.Verdict}, {usage, &m.Usage}} {
			if f.raw != nil {
				if err := json.Unmarshal(f.raw, f.dst); err != nil {
					return nil, fmt.Errorf("chat message %d: %w", m.ID, err)
				}
			}
		}
		return &m, nil
	})
	if err != nil {
		return nil, fmt.Errorf("chat of incident %d: %w", incidentID, err)
	}
	return msgs, nil
}
