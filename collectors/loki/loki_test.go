package loki

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
)

var (
	t0  = time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC)
	inc = causeway.Incident{ID: 4, WindowStart: t0, WindowEnd: t0.Add(time.Hour)}
)

type testEntry struct {
	labels map[string]string
	ts     time.Time
	line   string
}

var (
	web1Out = map[string]string{"namespace": "shop", "pod": "web-1", "container": "app", "stream": "stdout", "node_name": "n1"}
	web1Err = map[string]string{"namespace": "shop", "pod": "web-1", "container": "app", "stream": "stderr", "node_name": "n1"}
	web2    = map[string]string{"namespace": "shop", "pod": "web-2", "container": "app", "stream": "stdout"}
)

// dataset has ten entries in three streams; three share 03:05:00, so a
// page of three ends in the middle of them.
var dataset = []testEntry{
	{web1Out, t0.Add(1 * time.Minute), `{"level":"info","msg":"listening","port":8080}`},
	{web2, t0.Add(2 * time.Minute), "GET /healthz 200"},
	{web1Out, t0.Add(5 * time.Minute), "GET /cart 200"},
	{web1Err, t0.Add(5 * time.Minute), "panic: runtime error: invalid memory address"},
	{web2, t0.Add(5 * time.Minute), "GET /cart 200"},
	{web1Err, t0.Add(6 * time.Minute), "goroutine 1 [running]:"},
	{web2, t0.Add(10 * time.Minute), "GET /checkout 503"},
	{web1Out, t0.Add(20 * time.Minute), "GET /cart 200"},
	{web2, t0.Add(30 * time.Minute), "GET /checkout 200"},
	{web1Out, t0.Add(59 * time.Minute), "shutting down"},
	{web1Out, t0.Add(61 * time.Minute), "after the window"},
}

// lokiServer speaks /loki/api/v1/query_range over dataset as Loki does:
// entries in [start, end) in time order, at most limit, grouped by stream.
// fail maps a request number (from 1) to the status it is answered with.
type lokiServer struct {
	*httptest.Server
	mu         sync.Mutex
	requests   []*http.Request
	fail       map[int]int
	retryAfter string
}

func newLokiServer(t *testing.T) *lokiServer {
	t.Helper()
	s := &lokiServer{fail: map[int]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *lokiServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	n := len(s.requests)
	code := s.fail[n]
	s.mu.Unlock()
	if r.URL.Path != "/loki/api/v1/query_range" {
		http.NotFound(w, r)
		return
	}
	switch code {
	case 0:
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", s.retryAfter)
		http.Error(w, "too many outstanding requests", code)
		return
	default:
		http.Error(w, "rpc error: code = Internal desc = querier unavailable", code)
		return
	}
	q := r.URL.Query()
	start, _ := strconv.ParseInt(q.Get("start"), 10, 64)
	end, _ := strconv.ParseInt(q.Get("end"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	if q.Get("direction") != "forward" || !strings.HasPrefix(q.Get("query"), "{") {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "parse error")
		return
	}
	var sel []testEntry
	for _, e := range dataset {
		if ts := e.ts.UnixNano(); ts >= start && ts < end {
			sel = append(sel, e)
		}
	}
	slices.SortStableFunc(sel, func(a, b testEntry) int { return a.ts.Compare(b.ts) })
	sel = sel[:min(limit, len(sel))]
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	var out []*stream
	for _, e := range sel {
		i := slices.IndexFunc(out, func(s *stream) bool { return fmt.Sprint(s.Stream) == fmt.Sprint(e.labels) })
		if i < 0 {
			out = append(out, &stream{Stream: e.labels})
			i = len(out) - 1
		}
		out[i].Values = append(out[i].Values, [2]string{strconv.FormatInt(e.ts.UnixNano(), 10), e.line})
	}
	slices.SortFunc(out, func(a, b *stream) int { return cmp.Compare(fmt.Sprint(a.Stream), fmt.Sprint(b.Stream)) })
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{
		"resultType": "streams", "result": out, "stats": map[string]any{"summary": map[string]any{"totalEntriesReturned": len(sel)}}}})
}

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
		key := src.Name + "#" + strconv.FormatInt(l.Seq, 10)
		if !s.seen[key] {
			s.seen[key] = true
			s.lines[src.Name] = append(s.lines[src.Name], l)
		}
	}
	return nil
}

func (s *memSink) texts(name string) []string {
	var out []string
	for _, l := range s.lines[name] {
		out = append(out, l.Time.Format("15:04")+" "+l.Text)
	}
	return out
}

type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func TestPagesThroughTheWindowOnce(t *testing.T) {
	srv := newLokiServer(t)
	sink := newMemSink()
	c := New(Config{URL: srv.URL, Namespaces: []string{"shop"}, PageLines: 3, TenantID: "team-a"})
	i := inc
	if err := c.Collect(context.Background(), &i, sink); err != nil {
		t.Fatal(err)
	}
	web1 := "loki/logs/shop/web-1/app"
	want := []string{
		`03:01 {"level":"info","msg":"listening","port":8080}`,
		"03:05 GET /cart 200",
		"03:05 panic: runtime error: invalid memory address",
		"03:06 goroutine 1 [running]:",
		"03:20 GET /cart 200",
		"03:59 shutting down",
	}
	if got := sink.texts(web1); !slices.Equal(got, want) {
		t.Errorf("%s =\n%q\nwant\n%q", web1, got, want)
	}
	if got := sink.texts("loki/logs/shop/web-2/app"); len(got) != 4 {
		t.Errorf("web-2 lines = %q, want 4", got)
	}
	src := sink.sources[web1]
	if src == nil || src.Error != "" || src.Labels["node"] != "n1" || src.Labels["pod"] != "web-1" || src.Query != `{namespace=~"shop"}` {
		t.Errorf("source = %+v", src)
	}
	if l := sink.lines[web1][0]; l.Attrs["level"] != "info" || l.Attrs["namespace"] != "shop" {
		t.Errorf("first line attrs = %v, want the JSON line's level and the stream's namespace", l.Attrs)
	}
	if len(srv.requests) < 4 {
		t.Errorf("%d requests for 10 entries in pages of 3", len(srv.requests))
	}
	for _, r := range srv.requests {
		if r.Header.Get("X-Scope-OrgID") != "team-a" {
			t.Errorf("request without the tenant header: %v", r.Header)
		}
	}

	before := len(sink.seen)
	if err := c.Collect(context.Background(), &i, sink); err != nil {
		t.Fatal(err)
	}
	if len(sink.seen) != before {
		t.Errorf("collecting again added %d lines", len(sink.seen)-before)
	}
}

func TestFailuresAndBounds(t *testing.T) {
	tests := []struct {
		name       string
		fail       map[int]int
		retryAfter string
		cfg        Config
		web1Lines  int
		errSub     string
		sleeps     []time.Duration
	}{
		{"429 then success honours Retry-After", map[int]int{1: 429, 2: 429}, "2", Config{}, 6, "", []time.Duration{2 * time.Second, 2 * time.Second}},
		{"500 mid-way keeps the lines before", map[int]int{2: 500}, "", Config{}, 2,
			"query_range page 2 (from 2025-08-21T03:05:00Z): HTTP 500: rpc error", nil},
		{"Retry-After beyond the wait limit", map[int]int{1: 429}, "120", Config{MaxWait: 10 * time.Second}, 0,
			"Retry-After 2m0s exceeds the 10s wait limit", nil},
		{"retries run out", map[int]int{1: 429, 2: 429, 3: 429}, "1", Config{MaxRetries: 2}, 0,
			"still rate limited after 2 retries", []time.Duration{time.Second, time.Second}},
		{"line limit", nil, "", Config{MaxLines: 4}, 3, "line limit 4 reached at 2025-08-21T03:05:00Z", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newLokiServer(t)
			srv.fail, srv.retryAfter = tt.fail, tt.retryAfter
			if srv.fail == nil {
				srv.fail = map[int]int{}
			}
			var sl sleeps
			cfg := tt.cfg
			cfg.URL, cfg.Queries, cfg.Sleep = srv.URL, []Query{{Name: "shop", Expr: `{namespace="shop"}`}}, sl.sleep
			if cfg.PageLines == 0 {
				cfg.PageLines = 3
			}
			sink := newMemSink()
			i := inc
			if err := New(cfg).Collect(context.Background(), &i, sink); err != nil {
				t.Fatalf("Collect: %v", err)
			}
			web1 := "loki/shop/shop/web-1/app"
			if got := len(sink.lines[web1]); got != tt.web1Lines {
				t.Errorf("web-1 lines = %d, want %d: %q", got, tt.web1Lines, sink.texts(web1))
			}
			var errs []string
			for _, src := range sink.sources {
				if src.Error != "" {
					errs = append(errs, src.Name+": "+src.Error)
				}
			}
			if tt.errSub == "" && len(errs) > 0 {
				t.Errorf("unexpected errors: %q", errs)
			}
			if tt.errSub != "" && (len(errs) == 0 || !strings.Contains(errs[0], tt.errSub)) {
				t.Errorf("errors = %q, want %q", errs, tt.errSub)
			}
			if tt.errSub != "" && tt.web1Lines == 0 && sink.sources["loki/shop"] == nil {
				t.Errorf("a query that read nothing registered no source with its error: %v", errs)
			}
			if !slices.Equal(sl.d, tt.sleeps) {
				t.Errorf("waited %v, want %v", sl.d, tt.sleeps)
			}
		})
	}
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		in   string
		want Query
		ok   bool
	}{
		{`{app="web"} |= "error"`, Query{Name: "logs", Expr: `{app="web"} |= "error"`}, true},
		{`errors={app="web"} |= "error"`, Query{Name: "errors", Expr: `{app="web"} |= "error"`}, true},
		{`bad name={app="web"}`, Query{}, false},
		{`errors=`, Query{}, false},
	}
	for _, tt := range tests {
		got, err := ParseQuery(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseQuery(%q) = %+v, %v", tt.in, got, err)
		}
	}
}
