package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/causeway-rca/causeway"
)

// Timeline is an incident's evidence over a window, aggregated for a
// picture of it: per source and time bucket the lines and how many were
// errors or warnings, the moments worth a marker, and the metric lines that
// summarize each series. Its size depends on the number of sources and
// buckets, not of lines, so a million-line incident draws as fast as a
// small one.
type Timeline struct {
	From, To time.Time
	Bucket   time.Duration
	Sources  []TimelineSource
	Markers  []Marker
	// MarkersLeftOut counts the markers past TimelineQuery.MaxMarkers.
	MarkersLeftOut int64
	Metrics        []MetricLine
	// Untimed counts the incident's lines without a time; Outside those
	// whose time falls outside the window.
	Untimed, Outside int64
}

// TimelineSource is one source's lane.
type TimelineSource struct {
	ID    int64
	Name  string
	Kind  causeway.SourceKind
	Lines int64 // all of the source's lines, in the window or not
	Error string
	// Buckets holds the buckets with lines, in time order.
	Buckets []Bucket
}

// Bucket counts a source's lines in the Index-th bucket of the window. A
// line is an error or a warning or neither, so Errors+Warnings <= Lines.
type Bucket struct {
	Index                   int
	Lines, Errors, Warnings int64
}

// Marker kinds.
const (
	MarkerAlert       = "alert"       // an alert fired (a chat or event line carrying "[FIRING")
	MarkerWarning     = "warning"     // a Kubernetes Warning event
	MarkerTermination = "termination" // a container terminated, or was killed or evicted
	MarkerChat        = "chat"        // a chat message
	MarkerTicket      = "ticket"      // a ticket comment
)

// Marker is one line worth pointing at on the timeline.
type Marker struct {
	Kind     string
	Time     time.Time
	SourceID int64
	Num      int64
	Text     string
}

// MetricLine is a line that summarizes a metric series (see the files
// collector): Stat is "summary", "spike", "dip", "step", "gap" or "value".
type MetricLine struct {
	SourceID int64
	Num      int64
	Time     time.Time
	Stat     string
	Metric   string
	Text     string
}

// TimelineQuery says which window to aggregate and how finely.
type TimelineQuery struct {
	From, To time.Time
	// Bucket is the width of a bucket; a minute when zero.
	Bucket time.Duration
	// MaxMarkers bounds the markers returned, earliest first; 2000 when
	// zero.
	MaxMarkers int
	// MaxMetricLines bounds the metric lines returned; 5000 when zero.
	MaxMetricLines int
}

// Line levels as the timeline counts them; the collectors write
// attrs.level, and Kubernetes marks events with attrs.type.
const (
	errorLevels = `('error','err','e','fatal','f','critical','crit','panic','emerg','alert')`
	warnLevels  = `('warn','warning','w')`
	// A container that stopped on its own terms (exit 0, Completed) is
	// not a termination worth a marker.
	terminated = `((l.kind = 'status' AND l.attrs->>'state' IN ('terminated','last-terminated')
		AND coalesce(l.attrs->>'reason', '') <> 'Completed' AND coalesce(l.attrs->>'exit_code', '') <> '0')
		OR (l.kind = 'event' AND l.attrs->>'reason' IN ('Killing','OOMKilling','Evicted','Preempted')))`
)

// Timeline aggregates the incident's lines between q.From and q.To (both
// required, From before To) into q.Bucket-wide buckets.
func (db *DB) Timeline(ctx context.Context, incidentID int64, q TimelineQuery) (*Timeline, error) {
	if q.Bucket <= 0 {
		q.Bucket = time.Minute
	}
	if q.MaxMarkers <= 0 {
		q.MaxMarkers = 2000
	}
	if q.MaxMetricLines <= 0 {
		q.MaxMetricLines = 5000
	}
	if q.From.IsZero() || !q.To.After(q.From) {
		return nil, causeway.Errorf(causeway.EINVALID, "a timeline needs a window: from %s to %s", q.From, q.To)
	}
	tl := &Timeline{From: q.From.UTC(), To: q.To.UTC(), Bucket: q.Bucket}
	srcs, err := db.Sources(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]int, len(srcs))
	for _, s := range srcs {
		byID[s.ID] = len(tl.Sources)
		tl.Sources = append(tl.Sources, TimelineSource{ID: s.ID, Name: s.Name, Kind: s.Kind, Lines: s.Lines, Error: s.Error})
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// One snapshot for every part, so that counts and markers agree
		// while an import goes on.
		if _, err := tx.Exec(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY`); err != nil {
			return err
		}
		if err := bucketLines(ctx, tx, incidentID, q, tl, byID); err != nil {
			return err
		}
		if err := markers(ctx, tx, incidentID, q, tl); err != nil {
			return err
		}
		return metricLines(ctx, tx, incidentID, q, tl)
	})
	if err != nil {
		return nil, fmt.Errorf("timeline of incident %d: %w", incidentID, err)
	}
	return tl, nil
}

// bucketLines counts lines per source and bucket in one pass over the
// window's lines (the lines_incident_ts index bounds it to the window),
// and the lines without a time or outside the window.
func bucketLines(ctx context.Context, tx pgx.Tx, incidentID int64, q TimelineQuery, tl *Timeline, byID map[int64]int) error {
	// The planner cannot guess how few buckets there are and would sort a
	// million rows to group them; hashing needs a few kilobytes. JIT
	// compiling costs more than this query saves by it.
	if _, err := tx.Exec(ctx, `SET LOCAL enable_sort = off; SET LOCAL jit = off`); err != nil {
		return err
	}
	// A line's severity: 2 error, 1 warning, 0 neither. Log lines, nearly
	// all of a big incident, need one attribute looked up; the few others
	// are classified in full.
	rows, err := tx.Query(ctx, `
		SELECT source_id, b, count(*), count(*) FILTER (WHERE sev = 2), count(*) FILTER (WHERE sev = 1)
		FROM (
			SELECT l.source_id, date_bin(make_interval(secs => $4), l.ts, $2) AS b,
				CASE WHEN l.kind = 'log' THEN
					CASE WHEN lower(l.attrs->>'level') IN `+errorLevels+` THEN 2
						WHEN lower(l.attrs->>'level') IN `+warnLevels+` THEN 1 ELSE 0 END
				WHEN lower(l.attrs->>'level') IN `+errorLevels+` OR `+terminated+` THEN 2
				WHEN lower(l.attrs->>'level') IN `+warnLevels+` OR (l.kind = 'event' AND l.attrs->>'type' = 'Warning') THEN 1
				ELSE 0 END AS sev
			FROM lines l
			WHERE l.incident_id = $1 AND l.ts >= $2 AND l.ts < $3) x
		GROUP BY 1, 2`, incidentID, q.From, q.To, q.Bucket.Seconds())
	if err != nil {
		return err
	}
	var inWindow int64
	var b Bucket
	var sourceID int64
	var start time.Time
	_, err = pgx.ForEachRow(rows, []any{&sourceID, &start, &b.Lines, &b.Errors, &b.Warnings}, func() error {
		inWindow += b.Lines
		b.Index = int(start.Sub(q.From) / q.Bucket)
		if i, ok := byID[sourceID]; ok {
			tl.Sources[i].Buckets = append(tl.Sources[i].Buckets, b)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `RESET enable_sort; RESET jit`); err != nil {
		return err
	}
	for i := range tl.Sources {
		slices.SortFunc(tl.Sources[i].Buckets, func(a, b Bucket) int { return cmp.Compare(a.Index, b.Index) })
	}
	// Lines without a time sit at the end of lines_incident_ts; the total
	// is the sources' own count, so neither reads the incident's lines.
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM lines WHERE incident_id = $1 AND ts IS NULL`, incidentID).Scan(&tl.Untimed); err != nil {
		return err
	}
	var total int64
	for _, s := range tl.Sources {
		total += s.Lines
	}
	tl.Outside = max(total-tl.Untimed-inWindow, 0)
	return nil
}

// markers finds the lines worth a marker among the incident's non-log
// lines (the lines_markers index), earliest first.
func markers(ctx context.Context, tx pgx.Tx, incidentID int64, q TimelineQuery, tl *Timeline) error {
	rows, err := tx.Query(ctx, `
		WITH m AS (
			SELECT CASE
					WHEN l.kind IN ('chat','event') AND l.text LIKE '%[FIRING%' THEN 'alert'
					WHEN `+terminated+` THEN 'termination'
					WHEN l.kind = 'event' AND l.attrs->>'type' = 'Warning' THEN 'warning'
					WHEN l.kind = 'chat' THEN 'chat'
					WHEN l.kind = 'comment' THEN 'ticket'
				END AS kind, l.ts, l.source_id, l.num, left(l.text, 300) AS text
			FROM lines l
			WHERE l.incident_id = $1 AND l.kind <> 'log' AND l.ts >= $2 AND l.ts < $3)
		SELECT kind, ts, source_id, num, text, count(*) OVER () FROM m
		WHERE kind IS NOT NULL ORDER BY ts, num LIMIT $4`, incidentID, q.From, q.To, q.MaxMarkers)
	if err != nil {
		return err
	}
	var m Marker
	var total int64
	_, err = pgx.ForEachRow(rows, []any{&m.Kind, &m.Time, &m.SourceID, &m.Num, &m.Text, &total}, func() error {
		m.Time = m.Time.UTC()
		tl.Markers = append(tl.Markers, m)
		return nil
	})
	if err != nil {
		return err
	}
	tl.MarkersLeftOut = max(total-int64(len(tl.Markers)), 0)
	return nil
}

// metricLines returns the window's metric lines, series by series.
func metricLines(ctx context.Context, tx pgx.Tx, incidentID int64, q TimelineQuery, tl *Timeline) error {
	rows, err := tx.Query(ctx, `
		SELECT l.source_id, l.num, l.ts, coalesce(l.attrs->>'stat', ''), coalesce(l.attrs->>'metric', ''), l.text
		FROM lines l
		WHERE l.incident_id = $1 AND l.kind = 'metric' AND l.ts >= $2 AND l.ts < $3
		ORDER BY l.source_id, l.seq LIMIT $4`, incidentID, q.From, q.To, q.MaxMetricLines)
	if err != nil {
		return err
	}
	var m MetricLine
	_, err = pgx.ForEachRow(rows, []any{&m.SourceID, &m.Num, &m.Time, &m.Stat, &m.Metric, &m.Text}, func() error {
		m.Time = m.Time.UTC()
		tl.Metrics = append(tl.Metrics, m)
		return nil
	})
	return err
}

// LineSpan returns the times of the incident's first and last timed lines;
// both zero when it has none. A timeline of an incident without a window
// spans them.
func (db *DB) LineSpan(ctx context.Context, incidentID int64) (first, last time.Time, err error) {
	var f, l *time.Time
	if err := db.pool.QueryRow(ctx, `SELECT min(ts), max(ts) FROM lines WHERE incident_id = $1`, incidentID).Scan(&f, &l); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("time span of incident %d: %w", incidentID, err)
	}
	if f == nil || l == nil {
		return time.Time{}, time.Time{}, nil
	}
	return f.UTC(), l.UTC(), nil
}
