package k8s

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"

	"github.com/causeway-rca/causeway"
)

var update = flag.Bool("update", false, "rewrite golden files")

// window is the incident window of the recorded cluster.
var window = causeway.Incident{ID: 7, Title: "503s from the gateway",
	WindowStart: time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC), WindowEnd: time.Date(2025, 8, 21, 4, 0, 0, 0, time.UTC)}

// memSink is a LineSink that keeps what it is given and, like the store,
// skips a line whose (source, seq) it already holds.
type memSink struct {
	mu      sync.Mutex
	sources map[string]*causeway.Source
	order   []string
	lines   map[string][]causeway.Line
	seen    map[string]map[int64]bool
	calls   int
}

func newMemSink() *memSink {
	return &memSink{sources: map[string]*causeway.Source{}, lines: map[string][]causeway.Line{}, seen: map[string]map[int64]bool{}}
}

func (s *memSink) WriteLines(_ context.Context, src *causeway.Source, lines []causeway.Line) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if _, ok := s.sources[src.Name]; !ok {
		s.order = append(s.order, src.Name)
		s.seen[src.Name] = map[int64]bool{}
	}
	cp := *src
	s.sources[src.Name] = &cp
	for _, l := range lines {
		if l.IncidentID != src.IncidentID || l.Source != src.Name {
			return fmt.Errorf("line %d of %s filed under incident %d source %q", l.Seq, src.Name, l.IncidentID, l.Source)
		}
		if s.seen[src.Name][l.Seq] {
			continue
		}
		s.seen[src.Name][l.Seq] = true
		s.lines[src.Name] = append(s.lines[src.Name], l)
	}
	return nil
}

func (s *memSink) total() int {
	n := 0
	for _, ls := range s.lines {
		n += len(ls)
	}
	return n
}

// find returns the first line of any source whose text contains sub.
func (s *memSink) find(sub string) (causeway.Line, bool) {
	for _, name := range s.order {
		for _, l := range s.lines[name] {
			if strings.Contains(l.Text, sub) {
				return l, true
			}
		}
	}
	return causeway.Line{}, false
}

// render lists every source and its lines in a stable, readable form.
func (s *memSink) render() string {
	var b strings.Builder
	names := slices.Clone(s.order)
	slices.Sort(names)
	for _, name := range names {
		src := s.sources[name]
		keys := make([]string, 0, len(src.Labels))
		for k, v := range src.Labels {
			keys = append(keys, k+"="+v)
		}
		slices.Sort(keys)
		fmt.Fprintf(&b, "== %s (%s) %s: %d lines\n", name, src.Kind, strings.Join(keys, ","), len(s.lines[name]))
		if src.Error != "" {
			fmt.Fprintf(&b, "   error: %s\n", src.Error)
		}
		for _, l := range s.lines[name] {
			t := "-"
			if !l.Time.IsZero() {
				t = l.Time.UTC().Format(causeway.LineTimeLayout)
				if l.TimeInferred {
					t += "~"
				}
			}
			fmt.Fprintf(&b, "%4d %s %s %s\n", l.Seq, l.Kind, t, l.Text)
		}
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from what was collected (go test -update rewrites it); got:\n%s", p, got)
	}
}

// apiServer replays the recorded responses under testdata/api as the API
// server would serve them: lists filtered by labelSelector and paged by
// limit and continue, logs cut at sinceTime and limitBytes, an empty list
// for any list nothing was recorded for.
type apiServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
	// fail, when set, answers paths containing its key with its status.
	fail map[string]int
	// hang, when set, holds requests for paths containing it until the
	// client gives up.
	hang string
}

func newAPIServer(t *testing.T) *apiServer {
	t.Helper()
	s := &apiServer{fail: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *apiServer) restConfig() *rest.Config {
	return &rest.Config{Host: s.URL, Timeout: 10 * time.Second}
}

func (s *apiServer) logged(sub string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.requests {
		if strings.Contains(r, sub) {
			out = append(out, r)
		}
	}
	return out
}

func (s *apiServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	s.mu.Unlock()
	if s.hang != "" && strings.Contains(r.URL.Path, s.hang) {
		<-r.Context().Done()
		return
	}
	for sub, code := range s.fail {
		if strings.Contains(r.URL.Path, sub) {
			msg := "simulated failure"
			if code == http.StatusForbidden {
				msg = fmt.Sprintf("%s is forbidden: User \"system:serviceaccount:causeway:causeway-collector\" cannot list resource %q",
					path.Base(r.URL.Path), path.Base(r.URL.Path))
			}
			status(w, code, msg)
			return
		}
	}
	if r.Method != http.MethodGet {
		status(w, http.StatusMethodNotAllowed, "read-only replay")
		return
	}
	if strings.HasSuffix(r.URL.Path, "/log") {
		s.serveLog(w, r)
		return
	}
	data, err := os.ReadFile(filepath.Join("testdata/api", filepath.FromSlash(r.URL.Path)+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		data = []byte(`{"kind":"List","apiVersion":"v1","metadata":{},"items":[]}`)
	} else if err != nil {
		status(w, http.StatusInternalServerError, err.Error())
		return
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		status(w, http.StatusInternalServerError, err.Error())
		return
	}
	if items, ok := obj["items"].([]any); ok {
		if sel := r.URL.Query().Get("labelSelector"); sel != "" {
			parsed, err := labels.Parse(sel)
			if err != nil {
				status(w, http.StatusBadRequest, err.Error())
				return
			}
			items = slices.DeleteFunc(items, func(it any) bool {
				meta, _ := it.(map[string]any)["metadata"].(map[string]any)
				set := labels.Set{}
				if ls, ok := meta["labels"].(map[string]any); ok {
					for k, v := range ls {
						set[k] = fmt.Sprint(v)
					}
				}
				return !parsed.Matches(set)
			})
		}
		from, _ := strconv.Atoi(r.URL.Query().Get("continue"))
		items = items[min(from, len(items)):]
		meta, _ := obj["metadata"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
		}
		delete(meta, "continue")
		if limit, _ := strconv.Atoi(r.URL.Query().Get("limit")); limit > 0 && len(items) > limit {
			items = items[:limit]
			meta["continue"] = strconv.Itoa(from + limit)
		}
		obj["items"], obj["metadata"] = items, meta
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(obj)
}

// serveLog serves /api/v1/namespaces/NS/pods/POD/log from
// testdata/api/logs/NS/POD/CONTAINER[.previous].log, as the kubelet does:
// lines from sinceTime on, at most limitBytes.
func (s *apiServer) serveLog(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(r.URL.Path, "/") // "", api, v1, namespaces, NS, pods, POD, log
	if len(parts) != 8 {
		status(w, http.StatusNotFound, "bad log path")
		return
	}
	q := r.URL.Query()
	name := q.Get("container")
	if q.Get("previous") == "true" {
		name += ".previous"
	}
	data, err := os.ReadFile(path.Join("testdata/api/logs", parts[4], parts[6], name+".log"))
	if err != nil {
		status(w, http.StatusBadRequest, fmt.Sprintf("container %q in pod %q has no log", name, parts[6]))
		return
	}
	var since time.Time
	if v := q.Get("sinceTime"); v != "" {
		since, _ = time.Parse(time.RFC3339, v)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		stampText, _, _ := strings.Cut(sc.Text(), " ")
		if ts, err := time.Parse(time.RFC3339Nano, stampText); err == nil && ts.Before(since) {
			continue
		}
		if q.Get("timestamps") != "true" {
			_, rest, _ := strings.Cut(sc.Text(), " ")
			out.WriteString(rest + "\n")
			continue
		}
		out.WriteString(sc.Text() + "\n")
	}
	body := out.Bytes()
	if lim, err := strconv.Atoi(q.Get("limitBytes")); err == nil && lim < len(body) {
		body = body[:lim]
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(body)
}

func status(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"message": msg, "reason": http.StatusText(code), "code": code})
}

func replayCollector(t *testing.T, srv *apiServer, cfg Config) *Collector {
	t.Helper()
	if cfg.Namespaces == nil {
		cfg.Namespaces = []string{"aibrix-system"}
	}
	if cfg.Controllers == nil {
		cfg.Controllers = []Scope{{Namespace: "envoy-gateway-system", Selector: "control-plane=envoy-gateway"}}
	}
	c, err := NewForConfig(srv.restConfig(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReplayedCluster(t *testing.T) {
	srv := newAPIServer(t)
	sink := newMemSink()
	inc := window
	if err := replayCollector(t, srv, Config{}).Collect(context.Background(), &inc, sink); err != nil {
		t.Fatal(err)
	}
	golden(t, "replay.golden", sink.render())

	// The clue three components away from the symptom comes out as a
	// condition line of the custom resource, at its transition time.
	l, ok := sink.find("EnvoyExtensionPolicy aibrix-system/aibrix-gateway-plugins-extension-policy Accepted=False")
	if !ok || !strings.Contains(l.Text, "Wasm: wasm cache is not initialized") || l.Kind != causeway.LineCondition ||
		!l.Time.Equal(time.Date(2025, 8, 21, 3, 49, 16, 0, time.UTC)) {
		t.Errorf("EnvoyExtensionPolicy condition line = %+v, found %v", l, ok)
	}
	// The controller's log, from a namespace outside the selected one.
	if l, ok := sink.find("no space left on device"); !ok || l.Source != "k8s/envoy-gateway-system/logs/envoy-gateway-6c9d7b8f4-m2xlq/envoy-gateway.log" {
		t.Errorf("controller log line = %+v, found %v", l, ok)
	}
	if _, ok := sink.sources["k8s/envoy-gateway-system/logs/envoy-aibrix-system-aibrix-eg-903790dc-7c8dd7d4b9-64w68/envoy.log"]; ok {
		t.Errorf("a pod outside the controller's selector was collected")
	}
	if _, ok := sink.find("routing request"); ok {
		t.Errorf("a log line outside the window was kept")
	}
	for _, want := range []string{
		"container gateway-plugin last terminated reason=OOMKilled exitCode=137",
		"fatal error: runtime: out of memory",
		"Node kind-control-plane DiskPressure=True",
		"FreeDiskSpaceFailed node/kind-control-plane",
		"HorizontalPodAutoscaler aibrix-system/aibrix-gateway-plugins replicas current=1 desired=1",
		"Deployment aibrix-system/aibrix-gateway-plugins Available=False",
		"ExtensionPolicyInvalid gateway/aibrix-eg (ns aibrix-system): EnvoyExtensionPolicy aibrix-gateway-plugins-extension-policy rejected",
	} {
		if _, ok := sink.find(want); !ok {
			t.Errorf("no line contains %q", want)
		}
	}

	logs := srv.logged("/log")
	if len(logs) != 4 {
		t.Errorf("log requests = %d, want 4 (3 current, 1 previous): %q", len(logs), logs)
	}
	for _, req := range logs {
		if !strings.Contains(req, "sinceTime=2025-08-21T03%3A00%3A00Z") || !strings.Contains(req, "timestamps=true") ||
			!strings.Contains(req, "limitBytes=") {
			t.Errorf("log request %q lacks sinceTime, timestamps or limitBytes", req)
		}
	}
	if prev := srv.logged("previous=true"); len(prev) != 1 || !strings.Contains(prev[0], "aibrix-gateway-plugins-7d9c6f5b8-x2k4p") {
		t.Errorf("previous-instance log requests = %q, want the restarted gateway plugin's", prev)
	}

	// Collecting the same window again adds nothing.
	before := sink.total()
	if err := replayCollector(t, srv, Config{}).Collect(context.Background(), &inc, sink); err != nil {
		t.Fatal(err)
	}
	if after := sink.total(); after != before {
		t.Errorf("collecting again added %d lines", after-before)
	}
}

func TestReplayedClusterBounds(t *testing.T) {
	srv := newAPIServer(t)
	srv.fail["/replicasets"] = http.StatusForbidden
	srv.fail["/envoyextensionpolicies"] = http.StatusForbidden
	sink := newMemSink()
	inc := window
	cfg := Config{MaxLogLines: 1, MaxObjects: 1, MaxLogBytes: 350}
	if err := replayCollector(t, srv, cfg).Collect(context.Background(), &inc, sink); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		source, errSub string
		lines          int
	}{
		{"k8s/aibrix-system/logs/aibrix-controller-manager-5f6d8c7b9-q8wz2/manager.log",
			"line limit 1 reached at 2025-08-21T03:10:00Z; later lines not collected", 1},
		{"k8s/envoy-gateway-system/logs/envoy-gateway-6c9d7b8f4-m2xlq/envoy-gateway.log",
			"byte limit 350 reached at 2025-08-21T03:49:15Z; later lines not collected", 1},
		{"k8s/aibrix-system/pods.json", "object limit reached: kept the first 1 objects", 5},
		{"k8s/aibrix-system/replicasets.json", "forbidden", 0},
		{"k8s/aibrix-system/customresources", "envoyextensionpolicies.gateway.envoyproxy.io: ", 0},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			src, ok := sink.sources[tt.source]
			if !ok {
				t.Fatalf("source not registered; have %v", sink.order)
			}
			if !strings.Contains(strings.ToLower(src.Error), strings.ToLower(tt.errSub)) {
				t.Errorf("error = %q, want it to contain %q", src.Error, tt.errSub)
			}
			if got := len(sink.lines[tt.source]); got != tt.lines {
				t.Errorf("lines = %d, want %d", got, tt.lines)
			}
		})
	}
}

func TestUnreachableClusterIsASourceError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := NewForConfig(&rest.Config{Host: url, Timeout: 2 * time.Second}, Config{Namespaces: []string{"shop"}})
	if err != nil {
		t.Fatal(err)
	}
	sink := newMemSink()
	inc := window
	if err := c.Collect(context.Background(), &inc, sink); err != nil {
		t.Fatalf("Collect failed the investigation instead of reporting the source: %v", err)
	}
	src, ok := sink.sources["k8s"]
	if !ok || !strings.Contains(src.Error, "reach the cluster") || len(sink.order) != 1 {
		t.Errorf("sources = %v, k8s = %+v; want only k8s with a reach error", sink.order, src)
	}
}

func TestTimeLimitKeepsWhatWasRead(t *testing.T) {
	srv := newAPIServer(t)
	srv.hang = "/log" // the first log read outlasts the collection's time limit
	inc := window
	sink := newMemSink()
	c := replayCollector(t, srv, Config{Timeout: 300 * time.Millisecond})
	if err := c.Collect(context.Background(), &inc, sink); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if n := len(sink.lines["k8s/aibrix-system/pods.json"]); n == 0 {
		t.Errorf("the pods read before the limit were not kept")
	}
	logSrc := sink.sources["k8s/aibrix-system/logs/aibrix-controller-manager-5f6d8c7b9-q8wz2/manager.log"]
	if logSrc == nil || !strings.Contains(logSrc.Error, "time limit reached (300ms)") {
		t.Errorf("the log cut by the limit = %+v, want a time limit error", logSrc)
	}
	if k := sink.sources["k8s"]; k == nil || !strings.Contains(k.Error, "the rest was not collected") {
		t.Errorf("k8s source = %+v, want it to say the rest was not collected", k)
	}
}
