package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/causeway-rca/causeway"
)

// Investigation event types. An investigation's events end with exactly
// one EventEnd, written with its final status.
const (
	EventStatus      = "status"       // {"status", "attempt", "worker"}: a stage started
	EventSourceError = "source_error" // {"source", "error"}: a source could not be collected
	EventPacked      = "packed"       // {"lines", "tokens", "total_lines", "dropped_lines", "sources"}
	EventToken       = "token"        // {"text"}: reply text as the model generates it
	EventEnd         = "end"          // {"status", "error", "verified", "citations"}: the investigation ended
)

// Event is one step of an investigation's progress. IDs increase, across
// investigations, in the order events were stored.
type Event struct {
	ID              int64           `json:"id"`
	InvestigationID int64           `json:"investigation_id"`
	Type            string          `json:"type"`
	Data            json.RawMessage `json:"data"`
	CreatedAt       time.Time       `json:"created_at"`
}

// AppendEvent stores an event of investigation id and notifies listeners
// on ChannelEvents. It returns the event's id.
//
// Progress events are committed without waiting for the disk flush
// (synchronous_commit off): a crash may lose the last few, which the next
// attempt repeats, but a job's many events no longer cost a flush each. An
// investigation's end event is written with its final status, durably.
func (db *DB) AppendEvent(ctx context.Context, id int64, typ string, data any) (int64, error) {
	var eventID int64
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return fmt.Errorf("append %s event of investigation %d: %w", typ, id, err)
		}
		var err error
		eventID, err = appendEvent(ctx, tx, id, typ, data)
		return err
	})
	return eventID, err
}

func appendEvent(ctx context.Context, q querier, id int64, typ string, data any) (int64, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return 0, fmt.Errorf("encode %s event of investigation %d: %w", typ, id, err)
	}
	var eventID int64
	err = q.QueryRow(ctx, `
		WITH e AS (INSERT INTO investigation_events (investigation_id, type, data) VALUES ($1, $2, $3) RETURNING id)
		SELECT e.id FROM e, pg_notify($4, $5)`, id, typ, raw, ChannelEvents, strconv.FormatInt(id, 10)).Scan(&eventID)
	if err != nil {
		return 0, fmt.Errorf("append %s event of investigation %d: %w", typ, id, err)
	}
	return eventID, nil
}

// Events returns up to limit events of investigation id after event after,
// oldest first.
func (db *DB) Events(ctx context.Context, id, after int64, limit int) ([]Event, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT id, investigation_id, type, data, created_at FROM investigation_events
		WHERE investigation_id = $1 AND id > $2 ORDER BY id LIMIT $3`, id, after, limit)
	if err != nil {
		return nil, fmt.Errorf("events of investigation %d: %w", id, err)
	}
	evs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Event])
	if err != nil {
		return nil, fmt.Errorf("events of investigation %d: %w", id, err)
	}
	return evs, nil
}

// endData is the data of an investigation's EventEnd.
func endData(inv *causeway.Investigation) map[string]any {
	d := map[string]any{"status": inv.Status}
	if inv.Error != "" {
		d["error"] = inv.Error
	}
	if inv.Verdict != nil {
		d["verified"], d["citations"] = inv.Verdict.Verified, inv.Verdict.Total
	}
	return d
}

// Listen calls fn with every notification on channels until ctx ends or the
// connection fails; the caller decides whether to listen again. It holds
// one connection of the pool while it runs.
func (db *DB) Listen(ctx context.Context, fn func(channel, payload string), channels ...string) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer conn.Release()
	for _, ch := range channels {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return fmt.Errorf("listen on %s: %w", ch, err)
		}
	}
	defer func() {
		// The connection goes back to the pool; it must not keep listening.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "UNLISTEN *")
	}()
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		fn(n.Channel, n.Payload)
	}
}
