package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/causeway-rca/causeway"
)

var _ causeway.LineSink = (*DB)(nil)

var stageCols = []string{"source_id", "seq", "ts", "ts_inferred", "kind", "text", "template", "tokens", "attrs"}

// WriteLines implements causeway.LineSink: it registers src and stores lines
// with COPY, handing out short ids in (source, seq) order. A batch that
// continues its source (every seq above the source's last, in order) is
// copied straight into the lines table; any other goes through a staging
// table that skips lines whose (source, seq) is already stored, so
// importing the same bundle twice adds nothing.
func (db *DB) WriteLines(ctx context.Context, src *causeway.Source, lines []causeway.Line) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := ensureSource(ctx, tx, src); err != nil {
			return err
		}
		if len(lines) == 0 {
			return nil
		}
		// The incident row lock serializes writers, so short ids never collide.
		var base, lastSeq int64
		err := tx.QueryRow(ctx, `
			SELECT i.next_line, coalesce((SELECT max(seq) FROM lines WHERE incident_id = i.id AND source_id = $2), -1)
			FROM incidents i WHERE i.id = $1 FOR UPDATE`, src.IncidentID, src.ID).Scan(&base, &lastSeq)
		if err != nil {
			return notFound(err, "incident %d", src.IncidentID)
		}
		var n int64
		if appends(lines, lastSeq) {
			n, err = copyLines(ctx, tx, src, lines, base)
		} else {
			n, err = mergeLines(ctx, tx, src, lines, base)
		}
		if err != nil || n == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE incidents SET next_line = next_line + $2 WHERE id = $1`, src.IncidentID, n); err != nil {
			return fmt.Errorf("advance line ids: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE sources SET lines = lines + $2 WHERE id = $1`, src.ID, n); err != nil {
			return fmt.Errorf("count lines: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write %d lines of source %s: %w", len(lines), src.Name, err)
	}
	return nil
}

// appends reports whether lines continue a source whose last stored seq is
// lastSeq: strictly increasing seqs, all above it.
func appends(lines []causeway.Line, lastSeq int64) bool {
	prev := lastSeq
	for i := range lines {
		if lines[i].Seq <= prev {
			return false
		}
		prev = lines[i].Seq
	}
	return true
}

func lineRow(src *causeway.Source, l *causeway.Line) ([]any, error) {
	attrs, err := json.Marshal(nonNil(l.Attrs))
	if err != nil {
		return nil, fmt.Errorf("line %d attrs: %w", l.Seq, err)
	}
	return []any{src.ID, l.Seq, nullTime(l.Time), l.TimeInferred, string(l.Kind), cleanText(l.Text), l.Template, l.Tokens, attrs}, nil
}

// copyLines copies lines straight into the lines table, numbered from base+1.
func copyLines(ctx context.Context, tx pgx.Tx, src *causeway.Source, lines []causeway.Line, base int64) (int64, error) {
	i := 0
	rows := pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(lines) {
			return nil, nil
		}
		row, err := lineRow(src, &lines[i])
		if err != nil {
			return nil, err
		}
		i++
		return append([]any{src.IncidentID, base + int64(i)}, row...), nil
	})
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"lines"}, append([]string{"incident_id", "num"}, stageCols...), rows)
	if err != nil {
		return 0, fmt.Errorf("copy: %w", err)
	}
	return n, nil
}

// mergeLines stages lines and inserts those not stored yet, numbered from
// base+1 in seq order.
func mergeLines(ctx context.Context, tx pgx.Tx, src *causeway.Source, lines []causeway.Line, base int64) (int64, error) {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE line_stage (
		source_id bigint, seq bigint, ts timestamptz, ts_inferred boolean, kind text,
		text text, template text, tokens integer, attrs jsonb) ON COMMIT DROP`); err != nil {
		return 0, fmt.Errorf("stage: %w", err)
	}
	i := 0
	rows := pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(lines) {
			return nil, nil
		}
		i++
		return lineRow(src, &lines[i-1])
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"line_stage"}, stageCols, rows); err != nil {
		return 0, fmt.Errorf("copy: %w", err)
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO lines (incident_id, num, source_id, seq, ts, ts_inferred, kind, text, template, tokens, attrs)
		SELECT $1, $2 + row_number() OVER (ORDER BY s.seq), s.source_id, s.seq, s.ts, s.ts_inferred, s.kind,
		       s.text, s.template, s.tokens, s.attrs
		FROM (SELECT DISTINCT ON (seq) * FROM line_stage ORDER BY seq) s
		WHERE NOT EXISTS (SELECT 1 FROM lines l WHERE l.incident_id = $1 AND l.source_id = s.source_id AND l.seq = s.seq)`,
		src.IncidentID, base)
	if err != nil {
		return 0, fmt.Errorf("insert: %w", err)
	}
	return tag.RowsAffected(), nil
}

// cleanText makes text storable: Postgres text holds no NUL byte and only
// valid UTF-8.
func cleanText(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

const lineCols = `l.incident_id, l.source_id, s.name, l.num, l.ts, l.ts_inferred, l.seq, l.kind, l.text, l.template, l.tokens, l.attrs`

func scanLine(row pgx.Row) (causeway.Line, error) {
	var l causeway.Line
	var ts *time.Time
	var attrs []byte
	if err := row.Scan(&l.IncidentID, &l.SourceID, &l.Source, &l.Num, &ts, &l.TimeInferred, &l.Seq, &l.Kind, &l.Text, &l.Template, &l.Tokens, &attrs); err != nil {
		return l, err
	}
	if ts != nil {
		l.Time = ts.UTC()
	}
	if len(attrs) > 2 {
		if err := json.Unmarshal(attrs, &l.Attrs); err != nil {
			return l, fmt.Errorf("line %s attrs: %w", l.ID(), err)
		}
	}
	return l, nil
}

// LineFilter narrows ScanLines. Zero values select everything.
type LineFilter struct {
	From, To time.Time // inclusive bounds on time; lines without a time are always included
	// InForce keeps status conditions that took effect before From: an
	// object's condition is dated by its last transition, so one that
	// turned False an hour before the window is still False during it.
	InForce bool
}

// ScanLines calls fn for every line of the incident that passes f, in
// (source name, seq) order, streaming rather than loading them all.
func (db *DB) ScanLines(ctx context.Context, incidentID int64, f LineFilter, fn func(causeway.Line) error) error {
	rows, err := db.pool.Query(ctx, `
		SELECT `+lineCols+`
		FROM lines l JOIN sources s ON s.id = l.source_id
		WHERE l.incident_id = $1
		  AND ($2::timestamptz IS NULL OR l.ts IS NULL OR l.ts >= $2 OR ($4 AND l.kind = 'condition'))
		  AND ($3::timestamptz IS NULL OR l.ts IS NULL OR l.ts <= $3)
		ORDER BY s.name, l.seq`, incidentID, nullTime(f.From), nullTime(f.To), f.InForce)
	if err != nil {
		return fmt.Errorf("scan lines of incident %d: %w", incidentID, err)
	}
	defer rows.Close()
	for rows.Next() {
		l, err := scanLine(rows)
		if err != nil {
			return fmt.Errorf("scan lines of incident %d: %w", incidentID, err)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan lines of incident %d: %w", incidentID, err)
	}
	return nil
}

// LinesByNum returns the incident's lines with the given short ids; ids that
// do not exist are absent from the map.
func (db *DB) LinesByNum(ctx context.Context, incidentID int64, nums []int64) (map[int64]causeway.Line, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+lineCols+`
		FROM lines l JOIN sources s ON s.id = l.source_id
		WHERE l.incident_id = $1 AND l.num = ANY($2)`, incidentID, nums)
	if err != nil {
		return nil, fmt.Errorf("look up lines of incident %d: %w", incidentID, err)
	}
	out := make(map[int64]causeway.Line, len(nums))
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		l, err := scanLine(r)
		if err == nil {
			out[l.Num] = l
		}
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("look up lines of incident %d: %w", incidentID, err)
	}
	return out, nil
}

// LineContext returns the line with short id num and up to n neighbours on
// each side from the same source, in source order.
func (db *DB) LineContext(ctx context.Context, incidentID, num int64, n int) ([]causeway.Line, error) {
	var sourceID, seq int64
	err := db.pool.QueryRow(ctx, `SELECT source_id, seq FROM lines WHERE incident_id = $1 AND num = $2`, incidentID, num).Scan(&sourceID, &seq)
	if err != nil {
		return nil, notFound(err, "line %s of incident %d", causeway.LineID(num), incidentID)
	}
	rows, err := db.pool.Query(ctx, `
		SELECT `+lineCols+`
		FROM lines l JOIN sources s ON s.id = l.source_id
		WHERE l.incident_id = $1 AND l.source_id = $2 AND l.seq BETWEEN $3 AND $4
		ORDER BY l.seq`, incidentID, sourceID, seq-int64(n), seq+int64(n))
	if err != nil {
		return nil, fmt.Errorf("context of line %s: %w", causeway.LineID(num), err)
	}
	lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (causeway.Line, error) { return scanLine(r) })
	if err != nil {
		return nil, fmt.Errorf("context of line %s: %w", causeway.LineID(num), err)
	}
	return lines, nil
}

// LineCount returns how many lines the incident has.
func (db *DB) LineCount(ctx context.Context, incidentID int64) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM lines WHERE incident_id = $1`, incidentID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count lines of incident %d: %w", incidentID, err)
	}
	return n, nil
}

// ScanWindow streams the incident's lines inside its window (all of them
// when it has none), in (source name, seq) order. Lines without a time are
// kept: their place in the source is their time. So are conditions in
// force when the window starts.
func (db *DB) ScanWindow(ctx context.Context, inc *causeway.Incident, fn func(causeway.Line) error) error {
	return db.ScanLines(ctx, inc.ID, LineFilter{From: inc.WindowStart, To: inc.WindowEnd, InForce: true}, fn)
}
