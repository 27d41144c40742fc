package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/prompt/builtin"
	"github.com/causeway-rca/causeway/prompt/modeltest"
	"github.com/causeway-rca/causeway/server"
	"github.com/causeway-rca/causeway/store"
	"github.com/causeway-rca/causeway/store/storetest"
)

// TestMisbehavingModel: whatever the model does, the investigation ends
// with a status and a reason a person can act on, and the server goes on.
func TestMisbehavingModel(t *testing.T) {
	ms := modeltest.New(t)
	e := newEnv(t, nil, withRemote(t, ms))
	inc := e.importExample()
	tests := []struct {
		name      string
		reply     modeltest.Reply
		status    string
		errSubstr string
		raw       bool
	}{
		{"garbage", modeltest.Reply{Content: "I think it was DNS, probably."}, causeway.StatusFailed, "", true},
		{"server error", modeltest.Error(500, "upstream overloaded"), causeway.StatusFailed, "500", false},
		{"proxy HTML", modeltest.Reply{Status: 502, RawBody: "<html><body>Bad Gateway</body></html>"}, causeway.StatusFailed, "502", false},
		{"cut stream", modeltest.Reply{Content: strings.Repeat("x", 200), Abort: true}, causeway.StatusFailed, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms.Enqueue(tt.reply)
			var created investigation
			e.call("POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d, "model": "remote"}`, inc.ID), 202, &created)
			inv := e.wait(created.ID)
			if inv.Status != tt.status || inv.Error == "" || !strings.Contains(inv.Error, tt.errSubstr) {
				t.Errorf("ended %s with %q, want %s with %q", inv.Status, inv.Error, tt.status, tt.errSubstr)
			}
			if tt.raw && inv.RawReply != tt.reply.Content {
				t.Errorf("raw reply %q not kept", inv.RawReply)
			}
		})
	}
	// A model that takes too long is given up on at the job timeout.
	slow := modeltest.New(t)
	slow.Enqueue(modeltest.Reply{Content: "{}", Delay: time.Minute})
	impatient := newEnv(t, nil, withRemote(t, slow), withConfig(func(c *server.Config) { c.Workers.JobTimeout = time.Second }))
	small := impatient.benchIncident(t, "2025-08-21T03:10:00Z ERROR write /data: no space left on device\n")
	var timed investigation
	impatient.call("POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d, "model": "remote"}`, small), 202, &timed)
	if inv := impatient.wait(timed.ID); inv.Status != causeway.StatusFailed || !strings.Contains(inv.Error, "timed out after 1s") {
		t.Errorf("slow model: %s %q, want failed, timed out after 1s", inv.Status, inv.Error)
	}

	// After all that, a good model still gets a verified answer.
	ms.Handle(citingReply("no space left on device"))
	var created investigation
	e.call("POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d, "model": "remote"}`, inc.ID), 202, &created)
	if inv := e.wait(created.ID); inv.Status != causeway.StatusDone || inv.Verdict.Verified == 0 {
		t.Errorf("after the misbehaviour: %s %q", inv.Status, inv.Error)
	}
}

// fakeCollector writes fixed lines, or fails.
type fakeCollector struct {
	lines []string
	err   error
}

func (f *fakeCollector) Collect(ctx context.Context, inc *causeway.Incident, sink causeway.LineSink) error {
	if f.err != nil {
		return f.err
	}
	src := &causeway.Source{Name: "collect/loki", Kind: causeway.KindLog}
	var lines []causeway.Line
	for i, text := range f.lines {
		lines = append(lines, causeway.Line{Source: src.Name, Seq: int64(i), Kind: causeway.LineLog, Text: text,
			Time: inc.WindowStart.Add(time.Duration(i) * time.Minute)})
	}
	src.Lines = int64(len(lines))
	return sink.WriteLines(ctx, src, lines)
}

// TestFailingSourceReported: sources that cannot be collected (no
// collector in this build, or one that fails) are reported with the answer;
// the investigation goes on with the evidence it has.
func TestFailingSourceReported(t *testing.T) {
	e := newEnv(t, nil, withConfig(func(c *server.Config) {
		c.Workers.Collectors = investigate.Collectors{
			"prometheus": func(investigate.ScopeSource) (causeway.Collector, error) {
				return &fakeCollector{err: errors.New("query_range: 503 Service Unavailable")}, nil
			},
			"loki": func(investigate.ScopeSource) (causeway.Collector, error) {
				return &fakeCollector{lines: []string{"error: disk quota exceeded on /var/lib/wasm", "retrying in 5s"}}, nil
			},
		}
	}))
	inc := e.importExample()
	body := fmt.Sprintf(`{"incident_id": %d, "scope": {"sources": [{"type": "k8s", "namespaces": ["aibrix-system"]},
		{"type": "prometheus", "queries": ["up"]}, {"type": "loki", "selector": "{app=\"wasm\"}"}]}}`, inc.ID)
	var created investigation
	e.call("POST", "/v1/investigations", body, 202, &created)
	evs := readEvents(t, e.stream(created.Links["events"]).Body, func(ev sseEvent) bool { return ev.Type == "end" })
	inv := e.investigation(created.ID)
	if inv.Status != causeway.StatusDone || inv.Verdict == nil || inv.Verdict.Verified == 0 {
		t.Fatalf("investigation %s (%s): the failing sources sank it", inv.Status, inv.Error)
	}
	want := []string{"collect/k8s: collector k8s is not available in this server", "collect/prometheus: query_range: 503 Service Unavailable"}
	for _, w := range want {
		var found, evented bool
		for _, se := range inv.SourceErrors {
			found = found || se == w
		}
		for _, ev := range evs {
			evented = evented || ev.Type == "source_error" && strings.Contains(ev.Data, strings.SplitN(w, ": ", 2)[1])
		}
		if !found || !evented {
			t.Errorf("source error %q: in source_errors %v, as an event %v", w, found, evented)
		}
	}
	if evs[0].Type != "status" || !strings.Contains(evs[0].Data, `"collecting"`) {
		t.Errorf("first event %+v, want status collecting", evs[0])
	}
	var v struct{ Sources []causeway.Source }
	e.call("GET", fmt.Sprintf("/v1/incidents/%d", inc.ID), "", 200, &v)
	for _, s := range v.Sources {
		if s.Name == "collect/loki" && s.Lines != 2 {
			t.Errorf("collected source has %d lines, want 2", s.Lines)
		}
	}

	// An inline scope with nothing collectable: the incident is created,
	// the investigation fails for want of evidence, and says why.
	var inline investigation
	e.call("POST", "/v1/investigations", `{"scope": {"title": "checkout 502s", "window": {"start": "2025-08-21T03:00:00Z",
		"end": "2025-08-21T04:00:00Z"}, "sources": [{"type": "k8s", "namespaces": ["shop"]}]}}`, 202, &inline)
	got := e.wait(inline.ID)
	if got.Status != causeway.StatusFailed || !strings.Contains(got.Error, "no evidence") ||
		len(got.SourceErrors) != 1 || !strings.Contains(got.SourceErrors[0], "collector k8s is not available") {
		t.Errorf("inline scope: %s %q, source errors %v", got.Status, got.Error, got.SourceErrors)
	}
	var incv causeway.Incident
	e.call("GET", fmt.Sprintf("/v1/incidents/%d", got.IncidentID), "", 200, &incv)
	if incv.Title != "checkout 502s" || incv.WindowStart.IsZero() {
		t.Errorf("inline incident %+v", incv)
	}
}

// blockingModel holds every Ask until its context ends or release is
// closed, and tells who is waiting.
type blockingModel struct {
	causeway.Model
	started chan string
	release chan struct{}
}

func newBlockingModel() *blockingModel {
	return &blockingModel{Model: builtin.New(), started: make(chan string, 100), release: make(chan struct{})}
}

func (m *blockingModel) Ask(ctx context.Context, req causeway.ModelRequest) (*causeway.ModelReply, error) {
	m.started <- req.Question
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-m.release:
	}
	return m.Model.Ask(ctx, req)
}

func (m *blockingModel) waitStarted(t *testing.T) string {
	t.Helper()
	select {
	case q := <-m.started:
		return q
	case <-time.After(20 * time.Second):
		t.Fatal("the model was never asked")
	}
	return ""
}

func TestCancel(t *testing.T) {
	bm := newBlockingModel()
	e := newEnv(t, nil, withModel("blocking", bm))
	inc := e.importExample()

	var running investigation
	e.call("POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d, "model": "blocking"}`, inc.ID), 202, &running)
	bm.waitStarted(t)
	// The stream delivers events as they happen, not when the job ends.
	live := make(chan []sseEvent, 1)
	go func() {
		live <- readEvents(t, e.stream(running.Links["events"]).Body, func(ev sseEvent) bool {
			return ev.Type == "status" && strings.Contains(ev.Data, `"asking"`)
		})
	}()
	select {
	case <-live:
	case <-time.After(20 * time.Second):
		t.Fatal("the events of a running investigation did not arrive while it ran")
	}
	var v investigation
	e.call("POST", fmt.Sprintf("/v1/investigations/%d/cancel", running.ID), "", http.StatusAccepted, &v)
	if !v.CancelRequested {
		t.Errorf("cancel answer %+v", v)
	}
	if got := e.wait(running.ID); got.Status != causeway.StatusCanceled || got.Error != "canceled by request" {
		t.Errorf("running investigation ended %s (%q), want canceled by request", got.Status, got.Error)
	}
	var again apiError
	e.call("POST", fmt.Sprintf("/v1/investigations/%d/cancel", running.ID), "", http.StatusConflict, &again)

	// A queued one (no worker takes it) is canceled at once and never runs.
	api := newEnv(t, e.db, withConfig(func(c *server.Config) { c.Workers.Concurrency = -1 }))
	e.srv.Shutdown(context.Background()) // e's workers must not take it
	var queued investigation
	api.call("POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d}`, inc.ID), 202, &queued)
	api.call("POST", fmt.Sprintf("/v1/investigations/%d/cancel", queued.ID), "", http.StatusOK, &v)
	if v.Status != causeway.StatusCanceled {
		t.Errorf("queued investigation after cancel: %s", v.Status)
	}
	evs := readEvents(t, api.stream(queued.Links["events"]).Body, nil)
	if len(evs) != 1 || evs[0].Type != "end" || !strings.Contains(evs[0].Data, "canceled") {
		t.Errorf("events of the canceled queued investigation: %+v", evs)
	}
}

// TestTwoServersShareQueue runs two servers (one worker each) on one
// database: they share the work, and each investigation runs exactly once.
func TestTwoServersShareQueue(t *testing.T) {
	url := storetest.NewDatabase(t)
	var (
		mu    sync.Mutex
		asked = map[string]int{}
		// The first two asks wait for each other: with one worker per
		// server, two at once proves both servers are taking work.
		barrier = make(chan struct{})
		waiting int
	)
	model := modelFunc(func(ctx context.Context, req causeway.ModelRequest) (*causeway.ModelReply, error) {
		mu.Lock()
		asked[req.Question]++
		waiting++
		if waiting == 2 {
			close(barrier)
		}
		mu.Unlock()
		select {
		case <-barrier:
		case <-time.After(20 * time.Second):
			return nil, errors.New("the other server never took a job")
		}
		return builtin.New().Ask(ctx, req)
	})
	one := func(c *server.Config) { c.Workers.Concurrency = 1 }
	a := newEnv(t, openDB(t, url), withModel("builtin", model), withConfig(one))
	b := newEnv(t, openDB(t, url), withModel("builtin", model), withConfig(one))
	inc := a.importExample()
	const n = 12
	ids := make([]int64, n)
	for i := range n {
		srv := []*env{a, b}[i%2]
		var created investigation
		srv.call("POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d, "question": "q%d"}`, inc.ID, i), 202, &created)
		ids[i] = created.ID
	}
	workers := map[string]int{}
	for _, id := range ids {
		inv := a.wait(id)
		if inv.Status != causeway.StatusDone || inv.Attempts != 1 {
			t.Errorf("investigation %d: %s after %d attempts (%s)", id, inv.Status, inv.Attempts, inv.Error)
		}
		workers[inv.Worker]++
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if q := fmt.Sprintf("q%d", i); asked[q] != 1 {
			t.Errorf("question %s was asked %d times, want once", q, asked[q])
		}
	}
	if len(workers) != 2 {
		t.Errorf("workers %v, want both servers", workers)
	}
}

// TestDeadWorkerJobResumes: a worker that claimed a job and died (it never
// renews its lease) loses it when the lease runs out, and a live server
// runs it to the end.
func TestDeadWorkerJobResumes(t *testing.T) {
	db := storetest.MustOpenDB(t)
	ctx := context.Background()
	api := newEnv(t, db, withConfig(func(c *server.Config) { c.Workers.Concurrency = -1 }))
	inc := api.importExample()
	var created investigation
	api.call("POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d}`, inc.ID), 202, &created)
	job, err := db.Claim(ctx, "dead-worker", 300*time.Millisecond, 3)
	if err != nil || job == nil || job.Investigation.ID != created.ID {
		t.Fatalf("claim: %v %v", job, err)
	}
	live := newEnv(t, db, withConfig(func(c *server.Config) { c.Workers.Lease = 300 * time.Millisecond }))
	inv := live.wait(created.ID)
	if inv.Status != causeway.StatusDone || inv.Attempts != 2 || inv.Worker == "dead-worker" {
		t.Errorf("investigation %s after %d attempts by %s (%s)", inv.Status, inv.Attempts, inv.Worker, inv.Error)
	}
	// The dead worker, were it to wake, may no longer write.
	if err := db.SetJobStatus(ctx, created.ID, "dead-worker", causeway.StatusAsking); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("the dead worker's write: %v, want ErrLeaseLost", err)
	}
}

// TestShutdownRequeues: a server that stops hands its running
// investigation back to the queue, and another server finishes it.
func TestShutdownRequeues(t *testing.T) {
	url := storetest.NewDatabase(t)
	bm := newBlockingModel()
	a := newEnv(t, openDB(t, url), withModel("builtin", bm))
	inc := a.importExample()
	var created investigation
	a.call("POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d}`, inc.ID), 202, &created)
	bm.waitStarted(t)
	stream := a.stream(created.Links["events"])
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	a.srv.Shutdown(ctx)
	readEvents(t, stream.Body, nil) // the stream ends with the server
	inv := a.investigation(created.ID)
	if inv.Status != causeway.StatusQueued || inv.Attempts != 0 {
		t.Fatalf("after shutdown: %s, %d attempts; want queued, 0", inv.Status, inv.Attempts)
	}
	b := newEnv(t, openDB(t, url))
	if got := b.wait(created.ID); got.Status != causeway.StatusDone || got.Worker == inv.Worker {
		t.Errorf("after requeue: %s by %s (%s)", got.Status, got.Worker, got.Error)
	}
}

type modelFunc func(ctx context.Context, req causeway.ModelRequest) (*causeway.ModelReply, error)

func (f modelFunc) Name() string { return "builtin" }
func (f modelFunc) Ask(ctx context.Context, req causeway.ModelRequest) (*causeway.ModelReply, error) {
	return f(ctx, req)
}

func openDB(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}
