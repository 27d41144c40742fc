package store

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
)

// ExplainMemorySearch returns the plan of SearchMemory's query for q, with
// sequential scans disabled when noSeqScan is set.
func (db *DB) ExplainMemorySearch(ctx context.Context, q MemoryQuery, noSeqScan bool) (string, error) {
	conn, err := db.vectorConn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Release()
	var plan []string
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if noSeqScan {
			if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `EXPLAIN `+memorySearchSQL(q.Embedder, len(q.Vector)),
			pgvector.NewVector(q.Vector), 40, []string{}, nullID(q.ExcludeIncident), q.Limit)
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return strings.Join(plan, "\n"), err
}
