package prometheus

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
)

// The recorded window: an hour in which pod web-1's memory spikes once at
// 03:20:00 and its container restarts at 03:21, while web-2 stays flat.
var (
	windowStart = time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC)
	windowEnd   = time.Date(2025, 8, 21, 4, 0, 0, 0, time.UTC)
	spikeAt     = time.Date(2025, 8, 21, 3, 20, 0, 0, time.UTC)
)

const mib = 1 << 20

// openMetrics writes the window's samples, every 15 s, in the OpenMetrics
// text format promtool backfills from.
func openMetrics() []byte {
	var b bytes.Buffer
	each := func(f func(t time.Time)) {
		for t := windowStart.Add(-10 * time.Minute); !t.After(windowEnd); t = t.Add(15 * time.Second) {
			f(t)
		}
	}
	b.WriteString("# TYPE container_memory_working_set_bytes gauge\n")
	for _, pod := range []string{"web-1", "web-2"} {
		each(func(t time.Time) {
			v := 100 * mib
			if pod == "web-2" {
				v = 200 * mib
			}
			if pod == "web-1" && t.Equal(spikeAt) {
				v = 900 * mib
			}
			fmt.Fprintf(&b, "container_memory_working_set_bytes{namespace=\"shop\",pod=%q,container=\"app\"} %d %d\n", pod, v, t.Unix())
		})
	}
	b.WriteString("# TYPE kube_pod_container_status_restarts_total counter\n")
	for _, pod := range []string{"web-1", "web-2"} {
		each(func(t time.Time) {
			v := 0
			if pod == "web-1" && !t.Before(spikeAt.Add(time.Minute)) {
				v = 1
			}
			fmt.Fprintf(&b, "kube_pod_container_status_restarts_total{namespace=\"shop\",pod=%q,container=\"app\"} %d %d\n", pod, v, t.Unix())
		})
	}
	b.WriteString("# EOF\n")
	return b.Bytes()
}

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error
	serverStop func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	if serverStop != nil {
		serverStop()
	}
	os.Exit(code)
}

// realPrometheus starts Debian's prometheus once per test binary on a free
// port, over a temporary data directory backfilled with openMetrics by
// promtool, and returns its URL.
func realPrometheus(t *testing.T) string {
	t.Helper()
	for _, bin := range []string{"prometheus", "promtool"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed: run scripts/setup-prometheus (make test does) to test against a real Prometheus", bin)
		}
	}
	serverOnce.Do(func() { serverURL, serverStop, serverErr = startPrometheus() })
	if serverErr != nil {
		t.Fatal(serverErr)
	}
	return serverURL
}

func startPrometheus() (string, func(), error) {
	dir, err := os.MkdirTemp("", "causeway-prometheus-")
	if err != nil {
		return "", nil, err
	}
	cleanupDir := func() { os.RemoveAll(dir) }
	data := filepath.Join(dir, "data")
	om := filepath.Join(dir, "samples.om")
	if err := os.WriteFile(om, openMetrics(), 0o644); err != nil {
		cleanupDir()
		return "", nil, err
	}
	if out, err := exec.Command("promtool", "tsdb", "create-blocks-from", "openmetrics", om, data).CombinedOutput(); err != nil {
		cleanupDir()
		return "", nil, fmt.Errorf("promtool backfill: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1h\n"), 0o644); err != nil {
		cleanupDir()
		return "", nil, err
	}
	// The port is picked free and then handed to prometheus, so another
	// process may take it in between: try again on a fresh one.
	var lastErr error
	for range 3 {
		url, stop, err := serve(cfg, data)
		if err == nil {
			return url, func() { stop(); cleanupDir() }, nil
		}
		lastErr = err
	}
	cleanupDir()
	return "", nil, lastErr
}

// serve starts prometheus on a free port and waits until it is ready or
// has exited.
func serve(cfg, data string) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	cmd := exec.Command("prometheus", "--config.file="+cfg, "--storage.tsdb.path="+data,
		"--web.listen-address="+addr, "--storage.tsdb.retention.time=100y")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start prometheus: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	url := "http://" + addr
	for range 300 {
		select {
		case err := <-exited:
			return "", nil, fmt.Errorf("prometheus on %s exited: %v\n%s", addr, err, logs.String())
		default:
		}
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, stop, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("prometheus on %s not ready after 30 s:\n%s", addr, logs.String())
}

// memSink keeps what it is given, skipping a (source, seq) it holds.
type memSink struct {
	sources map[string]*causeway.Source
	lines   map[string][]causeway.Line
	seen    map[string]bool
}

func newMemSink() *memSink {
	return &memSink{sources: map[string]*causeway.Source{}, lines: map[string][]causeway.Line{}, seen: map[string]bool{}}
}

func (s *memSink) WriteLines(_ context.Context, src *causeway.Source, lines []causeway.Line) error {
	cp := *src
	s.sources[src.Name] = &cp
	for _, l := range lines {
		if l.IncidentID != src.IncidentID {
			return fmt.Errorf("line of incident %d in source of incident %d", l.IncidentID, src.IncidentID)
		}
		key := fmt.Sprintf("%s#%d", src.Name, l.Seq)
		if !s.seen[key] {
			s.seen[key] = true
			s.lines[src.Name] = append(s.lines[src.Name], l)
		}
	}
	return nil
}

func (s *memSink) dump() string {
	var b strings.Builder
	for name, ls := range s.lines {
		for _, l := range ls {
			fmt.Fprintf(&b, "%s %s %s\n", name, l.Time.UTC().Format(time.RFC3339), l.Text)
		}
	}
	for name, src := range s.sources {
		if src.Error != "" {
			fmt.Fprintf(&b, "%s error: %s\n", name, src.Error)
		}
	}
	return b.String()
}

func incident() *causeway.Incident {
	return &causeway.Incident{ID: 9, WindowStart: windowStart, WindowEnd: windowEnd}
}

func TestKnownSpikeComesOutAtItsTime(t *testing.T) {
	url := realPrometheus(t)
	sink := newMemSink()
	c := New(Config{URL: url, Namespaces: []string{"shop"}})
	if err := c.Collect(context.Background(), incident(), sink); err != nil {
		t.Fatal(err)
	}
	mem := sink.lines["prometheus/memory"]
	var spike *causeway.Line
	for i, l := range mem {
		if strings.Contains(l.Text, `pod="web-1"`) && strings.Contains(l.Text, "spike to") {
			spike = &mem[i]
		}
	}
	if spike == nil {
		t.Fatalf("no spike line for web-1's memory; collected:\n%s", sink.dump())
	}
	if !spike.Time.Equal(spikeAt) || !strings.Contains(spike.Text, "spike to 943718400 at 03:20:00 (median 104857600)") {
		t.Errorf("spike line = %s %q, want at %s: spike to 943718400 at 03:20:00 (median 104857600)", spike.Time, spike.Text, spikeAt)
	}
	if spike.Attrs["pod"] != "web-1" || spike.Attrs["namespace"] != "shop" || spike.Kind != causeway.LineMetric {
		t.Errorf("spike line attrs %v kind %s", spike.Attrs, spike.Kind)
	}
	// 1 h at the 15 s minimum step is 241 samples, the summary says so.
	if len(mem) == 0 || !strings.Contains(mem[0].Text, "241 samples 03:00:00–04:00:00") {
		t.Errorf("memory lines = %v, want a summary of 241 samples first", mem)
	}
	if src := sink.sources["prometheus/memory"]; src == nil || !strings.Contains(src.Query, `namespace=~"shop"`) || src.Error != "" {
		t.Errorf("memory source = %+v", src)
	}

	// The restart counter moved for web-1 only; web-2's flat zero is dropped.
	restarts := sink.lines["prometheus/restarts"]
	if len(restarts) == 0 {
		t.Fatalf("no restart lines; collected:\n%s", sink.dump())
	}
	for _, l := range restarts {
		if !strings.Contains(l.Text, `pod="web-1"`) {
			t.Errorf("restart line about another pod: %q", l.Text)
		}
	}
	// Queries over metrics the server lacks add no source.
	if _, ok := sink.sources["prometheus/hpa-current"]; ok {
		t.Errorf("a query with no series registered a source")
	}

	// Collecting again adds nothing.
	before := len(sink.seen)
	if err := c.Collect(context.Background(), incident(), sink); err != nil {
		t.Fatal(err)
	}
	if len(sink.seen) != before {
		t.Errorf("collecting again added %d lines", len(sink.seen)-before)
	}
}

func TestBoundsAndBadQueries(t *testing.T) {
	url := realPrometheus(t)
	tests := []struct {
		name    string
		cfg     Config
		source  string
		errSub  string
		summary string
	}{
		{"step bounded by max points", Config{MaxPoints: 60, Queries: []Query{{Name: "raw", Expr: `container_memory_working_set_bytes{pod="web-1"}`}}},
			"prometheus/raw", "", "61 samples 03:00:00–04:00:00"},
		{"series limit", Config{MaxSeries: 1, Queries: []Query{{Name: "both", Expr: `container_memory_working_set_bytes`}}},
			"prometheus/both", "series limit: 2 series, kept the first 1", "241 samples"},
		{"bad PromQL", Config{Queries: []Query{{Name: "typo", Expr: `sum(rate(x[5m]`}}},
			"prometheus/typo", "bad_data", ""},
		{"response limit", Config{MaxBytes: 100, Queries: []Query{{Name: "big", Expr: `container_memory_working_set_bytes`}}},
			"prometheus/big", "response over the 100-byte limit", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.URL, cfg.NoDefaults = url, true
			sink := newMemSink()
			if err := New(cfg).Collect(context.Background(), incident(), sink); err != nil {
				t.Fatal(err)
			}
			src := sink.sources[tt.source]
			if src == nil {
				t.Fatalf("source %s not registered; got:\n%s", tt.source, sink.dump())
			}
			if (tt.errSub == "") != (src.Error == "") || !strings.Contains(src.Error, tt.errSub) {
				t.Errorf("error = %q, want %q", src.Error, tt.errSub)
			}
			lines := sink.lines[tt.source]
			if tt.summary != "" && (len(lines) == 0 || !strings.Contains(lines[0].Text, tt.summary)) {
				t.Errorf("lines = %v, want a summary with %q", lines, tt.summary)
			}
		})
	}
}

func TestUnreachableServerIsOneSourceError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	sink := newMemSink()
	if err := New(Config{URL: url}).Collect(context.Background(), incident(), sink); err != nil {
		t.Fatalf("Collect failed instead of reporting the source: %v", err)
	}
	if len(sink.sources) != 1 || sink.sources["prometheus"] == nil || !strings.Contains(sink.sources["prometheus"].Error, "reach "+url) {
		t.Errorf("sources = %s", sink.dump())
	}
}

func TestHeaderIsSent(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
	}))
	defer srv.Close()
	cfg := Config{URL: srv.URL, NoDefaults: true, Queries: []Query{{Name: "up", Expr: "up"}},
		Header: http.Header{"Authorization": {"Bearer s3cret"}}}
	if err := New(cfg).Collect(context.Background(), incident(), newMemSink()); err != nil {
		t.Fatal(err)
	}
	if got != "Bearer s3cret" {
		t.Errorf("Authorization = %q", got)
	}
}

func TestParseQueryAndDefaults(t *testing.T) {
	q, err := ParseQuery(`errors=sum(rate(http_requests_total{code=~"5.."}[1m]))`)
	if err != nil || q.Name != "errors" || q.Expr != `sum(rate(http_requests_total{code=~"5.."}[1m]))` {
		t.Errorf("ParseQuery = %+v, %v", q, err)
	}
	for _, bad := range []string{"noexpr", "=up", "bad name=up"} {
		if _, err := ParseQuery(bad); causeway.ErrorCode(err) != causeway.EINVALID {
			t.Errorf("ParseQuery(%q) error = %v, want invalid", bad, err)
		}
	}
	for _, q := range DefaultQueries([]string{"shop", "a.b"}) {
		if strings.Contains(q.Expr, nsMatcher) {
			t.Errorf("%s: placeholder left in %s", q.Name, q.Expr)
		}
		if strings.Contains(q.Expr, "namespace") && !strings.Contains(q.Expr, `namespace=~"shop|a\\.b"`) && q.Name != "disk-usage" {
			t.Errorf("%s is not scoped to the namespaces: %s", q.Name, q.Expr)
		}
	}
	c := New(Config{})
	if got := c.Step(windowStart, windowStart.Add(24*time.Hour)); got != 120*time.Second {
		t.Errorf("step of a day = %s, want 2m0s (720 points)", got)
	}
}
