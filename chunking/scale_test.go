package chunking_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/store"
	"github.com/causeway-rca/causeway/store/storetest"
)

// benchLines is the size of the scale benchmarks: CAUSEWAY_BENCH_LINES,
// 2,000,000 by default (the scale); 0 skips them.
func benchLines(tb testing.TB) int {
	tb.Helper()
	n := 2_000_000
	if v := os.Getenv("CAUSEWAY_BENCH_LINES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			tb.Fatalf("CAUSEWAY_BENCH_LINES=%q: %v", v, err)
		}
	}
	if n <= 0 || testing.Short() {
		tb.Skip("scale benchmarks skipped (CAUSEWAY_BENCH_LINES=0 or -short)")
	}
	return n
}

// generateBundle writes a bundle of n log lines over two hours from five
// services, deterministic for a seed: healthy JSON access logs, app logs
// with levels and ids, a klog-style controller, a worker and a database
// proxy whose pool runs out at 70% of the window, after which the gateway
// answers 503. About 25 tokens a line.
func generateBundle(tb testing.TB, dir string, n int) {
	tb.Helper()
	start := time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC)
	window := 2 * time.Hour
	spec := fmt.Sprintf("id: scale\ntitle: generated scale incident\nwindow:\n  start: %q\n  end: %q\nquestion: Why does the gateway return 503 for orders?\n",
		start.Format(time.RFC3339), start.Add(window).Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(dir, "incident.yaml"), []byte(spec), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		tb.Fatal(err)
	}
	services := []struct {
		name  string
		share float64
		line  func(r *rand.Rand, t time.Time, i int, late bool) string
	}{
		{"api-gateway.log", 0.45, func(r *rand.Rand, t time.Time, i int, late bool) string {
			code, flags, host := 200, "-", fmt.Sprintf(`"10.244.%d.%d:8080"`, r.IntN(4), r.IntN(250))
			if late && r.IntN(3) == 0 {
				code, flags, host = 503, "UH", "null"
			}
			return fmt.Sprintf(`{"ts":"%s","method":"%s","path":"/api/v1/orders/%d","response_code":%d,"response_flags":"%s","duration":%d,"upstream_host":%s,"x-request-id":"%08x-%04x-4%03x-8%03x-%012x"}`,
				t.Format(time.RFC3339Nano), []string{"GET", "POST", "GET", "GET"}[r.IntN(4)], r.IntN(100000), code, flags, r.IntN(900), host,
				r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Uint64()&(1<<48-1))
		}},
		{"orders.log", 0.25, func(r *rand.Rand, t time.Time, i int, late bool) string {
			ts := t.Format(time.RFC3339Nano)
			switch k := r.IntN(20); {
			case late && k < 3:
				return ts + " ERROR orders: query failed: dial db-proxy:5432: connection refused (order " + strconv.Itoa(r.IntN(1e6)) + ")"
			case k < 2:
				return ts + " WARN orders: slow query took " + strconv.Itoa(200+r.IntN(800)) + "ms for customer " + strconv.Itoa(r.IntN(1e5))
			case k < 10:
				return fmt.Sprintf("%s INFO orders: created order %d for customer %d total %d.%02d EUR", ts, r.IntN(1e7), r.IntN(1e5), r.IntN(500), r.IntN(100))
			default:
				return fmt.Sprintf("%s INFO orders: GET /api/v1/orders/%d 200 in %dms", ts, r.IntN(1e7), r.IntN(90))
			}
		}},
		{"payments.log", 0.15, func(r *rand.Rand, t time.Time, i int, late bool) string {
			return fmt.Sprintf("I%s %7d payments.go:%d] reconciled batch %d: %d payments, %d refunds in %dms",
				t.Format("0102 15:04:05.000000"), 1000+r.IntN(50), 100+r.IntN(300), i, r.IntN(500), r.IntN(20), r.IntN(2000))
		}},
		{"worker.log", 0.10, func(r *rand.Rand, t time.Time, i int, late bool) string {
			return fmt.Sprintf("%s INFO worker-%d: job %08x done: sent %d emails, queue depth %d",
				t.Format(time.RFC3339Nano), r.IntN(8), r.Uint32(), r.IntN(40), r.IntN(300))
		}},
		{"db-proxy.log", 0.05, func(r *rand.Rand, t time.Time, i int, late bool) string {
			ts := t.Format(time.RFC3339Nano)
			if late && r.IntN(50) == 0 {
				return ts + " ERROR pool exhausted: too many connections (100 of 100) for database orders-primary"
			}
			return fmt.Sprintf("%s INFO pool stats: %d active, %d idle, %d waiting for orders-primary", ts, 20+r.IntN(60), r.IntN(20), r.IntN(3))
		}},
	}
	for si, s := range services {
		f, err := os.Create(filepath.Join(dir, "logs", s.name))
		if err != nil {
			tb.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		r := rand.New(rand.NewPCG(uint64(si), 42))
		m := int(float64(n) * s.share)
		for i := 0; i < m; i++ {
			at := time.Duration(float64(window) * float64(i) / float64(m))
			w.WriteString(s.line(r, start.Add(at), i, at > window*7/10))
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkScale measures the scale in one run: importing a
// generated bundle of CAUSEWAY_BENCH_LINES lines (parse, redact, template,
// token count, COPY, templates) next to a raw COPY of the same rows into
// the same table; and packing a 1M-token context from it next to a plain
// SELECT of the same rows, each in a process of its own so that its peak
// RSS is its own.
func BenchmarkScale(b *testing.B) {
	n := benchLines(b)
	ctx := context.Background()
	url := storetest.NewDatabase(b)
	db, err := store.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	generateBundle(b, dir, n)
	tok := chunking.MustTokenizer("")

	var inc *causeway.Incident
	var imported int64
	b.Run("ingest/causeway", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			inc = importBundle(b, db, tok, dir)
		}
		var err error
		if imported, err = db.LineCount(ctx, inc.ID); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(imported*int64(b.N))/b.Elapsed().Seconds(), "lines/s")
	})
	if inc == nil {
		b.Fatal("ingest did not run")
	}
	b.Run("ingest/baseline-raw-copy", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			rawCopy(b, url, db, inc)
		}
		b.ReportMetric(float64(imported*int64(b.N))/b.Elapsed().Seconds(), "lines/s")
	})
	for _, mode := range []string{"causeway", "baseline-select"} {
		b.Run("pack-1M/"+mode, func(b *testing.B) {
			var rss int64
			for i := 0; i < b.N; i++ {
				rss = max(rss, subprocess(b, url, inc.ID, mode))
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/op")
			b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(float64(imported), "lines")
		})
	}
}

// rawCopy copies the incident's rows, as stored, into the lines table under
// a fresh incident with the same sources, and times only the COPY: the
// floor any ingest path has to pay.
func rawCopy(b *testing.B, url string, db *store.DB, inc *causeway.Incident) {
	b.StopTimer()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	dst := &causeway.Incident{Title: "raw copy"}
	if err := db.CreateIncident(ctx, dst); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO sources (incident_id, name, kind) SELECT $2, name, kind FROM sources WHERE incident_id = $1`, inc.ID, dst.ID); err != nil {
		b.Fatal(err)
	}
	dump, err := os.CreateTemp(b.TempDir(), "lines-*.copy")
	if err != nil {
		b.Fatal(err)
	}
	defer dump.Close()
	_, err = conn.PgConn().CopyTo(ctx, dump, fmt.Sprintf(`COPY (
		SELECT %d, l.num, d.id, l.seq, l.ts, l.ts_inferred, l.kind, l.text, l.template, l.tokens, l.attrs
		FROM lines l JOIN sources s ON s.id = l.source_id JOIN sources d ON d.incident_id = %d AND d.name = s.name
		WHERE l.incident_id = %d ORDER BY l.num) TO STDOUT`, dst.ID, dst.ID, inc.ID))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := dump.Seek(0, 0); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	if _, err := conn.PgConn().CopyFrom(ctx, dump, `COPY lines (incident_id, num, source_id, seq, ts, ts_inferred, kind, text, template, tokens, attrs) FROM STDIN`); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if err := db.DeleteIncident(ctx, dst.ID); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}

// subprocess runs TestScaleChild in a process of its own and returns its
// peak RSS in bytes.
func subprocess(b *testing.B, url string, incident int64, mode string) int64 {
	args := []string{"-test.run=^TestScaleChild$", "-test.count=1"}
	if dir := os.Getenv("CAUSEWAY_SCALE_PROFILE"); dir != "" { // where to write each child's CPU profile
		args = append(args, "-test.cpuprofile="+filepath.Join(dir, mode+".cpu"))
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CAUSEWAY_SCALE_CHILD="+mode, "CAUSEWAY_SCALE_DB="+url, "CAUSEWAY_SCALE_INCIDENT="+strconv.FormatInt(incident, 10))
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s: %v\n%s", mode, err, out)
	}
	if !strings.Contains(string(out), "scale-child ok") {
		b.Fatalf("%s: the child ran no test:\n%s", mode, out)
	}
	b.Logf("%s: %s", mode, strings.TrimSpace(string(out)))
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		b.Fatal("no rusage")
	}
	return ru.Maxrss << 10 // KiB on Linux
}

// TestScaleChild is BenchmarkScale's child process: it packs a 1M-token
// context from the incident, or reads the same rows with a plain SELECT,
// and exits. Run on its own it does nothing.
func TestScaleChild(t *testing.T) {
	mode := os.Getenv("CAUSEWAY_SCALE_CHILD")
	if mode == "" {
		t.Skip("run by BenchmarkScale")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, os.Getenv("CAUSEWAY_SCALE_DB"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id, _ := strconv.ParseInt(os.Getenv("CAUSEWAY_SCALE_INCIDENT"), 10, 64)
	inc, err := db.Incident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	switch mode {
	case "causeway":
		pack, _, err := chunking.NewPacker(chunking.MustTokenizer("")).PackFor(ctx, inc, db, chunking.Request{Budget: chunking.DefaultBudget})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("packed %d of %d lines, %d tokens in %s\n", len(pack.Lines), pack.Total, pack.Tokens, time.Since(start).Round(time.Millisecond))
	default:
		rows, bytes := plainSelect(t, inc)
		fmt.Printf("selected %d rows, %d bytes in %s\n", rows, bytes, time.Since(start).Round(time.Millisecond))
	}
	fmt.Println("scale-child ok")
}

// plainSelect reads the rows the packer reads, with the packer's query,
// and throws them away.
func plainSelect(t *testing.T, inc *causeway.Incident) (rows, bytes int64) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv("CAUSEWAY_SCALE_DB"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rs, err := conn.Query(ctx, `
		SELECT l.incident_id, l.source_id, s.name, l.num, l.ts, l.ts_inferred, l.seq, l.kind, l.text, l.template, l.tokens, l.attrs
		FROM lines l JOIN sources s ON s.id = l.source_id
		WHERE l.incident_id = $1
		  AND ($2::timestamptz IS NULL OR l.ts IS NULL OR l.ts >= $2)
		  AND ($3::timestamptz IS NULL OR l.ts IS NULL OR l.ts <= $3)
		ORDER BY s.name, l.seq`, inc.ID, orNil(inc.WindowStart), orNil(inc.WindowEnd))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		rows++
		for _, v := range rs.RawValues() {
			bytes += int64(len(v))
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return rows, bytes
}

func orNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
