package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store/storetest"
)

// BenchmarkIngest measures lines stored per second through WriteLines
// (staging table, dedup, short ids) next to a raw COPY of the same rows
// into a bare table, measured in the same run.
func BenchmarkIngest(b *testing.B) {
	const n, batch = 100_000, 2000
	ctx := context.Background()
	db := storetest.MustOpenDB(b)
	t0 := time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC)
	lines := make([]causeway.Line, n)
	for i := range lines {
		lines[i] = causeway.Line{Seq: int64(i), Time: t0.Add(time.Duration(i) * time.Millisecond), Kind: causeway.LineLog,
			Text:  fmt.Sprintf(`{"level":"info","msg":"GET /v1/models 200","duration_ms":%d,"pod":"web-%d"}`, i%97, i%13),
			Attrs: map[string]string{"namespace": "default", "pod": "web-1"}, Tokens: 20, Template: "x"}
	}
	b.Run("causeway", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			inc := &causeway.Incident{Title: "bench"}
			if err := db.CreateIncident(ctx, inc); err != nil {
				b.Fatal(err)
			}
			src := &causeway.Source{IncidentID: inc.ID, Name: "logs/app.log", Kind: causeway.KindLog}
			for j := 0; j < n; j += batch {
				if err := db.WriteLines(ctx, src, lines[j:j+batch]); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("baseline-raw-copy", func(b *testing.B) {
		conn, err := pgx.Connect(ctx, storetest.AdminURL())
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `CREATE TEMP TABLE raw_lines (incident_id bigint, num bigint, source_id bigint, seq bigint,
			ts timestamptz, ts_inferred boolean, kind text, text text, template text, tokens integer, attrs jsonb)`); err != nil {
			b.Fatal(err)
		}
		cols := []string{"incident_id", "num", "source_id", "seq", "ts", "ts_inferred", "kind", "text", "template", "tokens", "attrs"}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for j := 0; j < n; j += batch {
				rows := make([][]any, batch)
				for k := range rows {
					l := &lines[j+k]
					rows[k] = []any{int64(i), int64(j + k + 1), int64(1), l.Seq, l.Time, false, string(l.Kind), l.Text, l.Template, l.Tokens, []byte(`{"namespace":"default","pod":"web-1"}`)}
				}
				if _, err := conn.CopyFrom(ctx, pgx.Identifier{"raw_lines"}, cols, pgx.CopyFromRows(rows)); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
