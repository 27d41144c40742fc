package server_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/prompt/builtin"
	"github.com/causeway-rca/causeway/prompt/modeltest"
	"github.com/causeway-rca/causeway/prompt/openai"
	"github.com/causeway-rca/causeway/server"
	"github.com/causeway-rca/causeway/store"
	"github.com/causeway-rca/causeway/store/storetest"
)

const exampleBundle = "../eval/incidents/aibrix-wasm-disk-full"

var tokenizer = chunking.MustTokenizer("")

// env is one Causeway server over a real database, serving over HTTP.
type env struct {
	t      testing.TB
	db     *store.DB
	svc    *investigate.Service
	srv    *server.Server
	hs     *httptest.Server
	token  string // an admin token
	models map[string]causeway.Model
}

type option func(*env, *server.Config)

// withModel makes name resolve to m.
func withModel(name string, m causeway.Model) option {
	return func(e *env, _ *server.Config) { e.models[name] = m }
}

// withRemote makes "remote" an OpenAI-compatible client of ms, which does
// not retry, so that a scripted failure is seen as it is.
func withRemote(t *testing.T, ms *modeltest.Server) option {
	c, err := openai.New(openai.Config{BaseURL: ms.BaseURL(), Model: "test-model", MaxRetries: -1, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return withModel("remote", c)
}

func withConfig(f func(*server.Config)) option {
	return func(_ *env, c *server.Config) { f(c) }
}

// newEnv starts a server over a fresh database (or db, when given) with
// builtin as the default model.
func newEnv(t testing.TB, db *store.DB, opts ...option) *env {
	t.Helper()
	if db == nil {
		db = storetest.MustOpenDB(t)
	}
	e := &env{t: t, db: db, models: map[string]causeway.Model{"builtin": builtin.New()}}
	cfg := server.Config{Workers: server.WorkerConfig{Poll: 100 * time.Millisecond}}
	for _, o := range opts {
		o(e, &cfg)
	}
	e.svc = investigate.New(db, tokenizer, func(name string) (causeway.Model, error) {
		if name == "" {
			name = "builtin"
		}
		if m, ok := e.models[name]; ok {
			return m, nil
		}
		return nil, causeway.Errorf(causeway.EINVALID, "unknown model %q", name)
	})
	e.srv = server.New(db, e.svc, nil, cfg)
	e.hs = httptest.NewServer(e.srv.Handler())
	e.srv.Start()
	t.Cleanup(func() {
		e.srv.CloseStreams()
		e.hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.srv.Shutdown(ctx)
	})
	if !cfg.Open {
		_, secret, err := db.CreateToken(context.Background(), fmt.Sprintf("admin-%p", e), store.ScopeAdmin)
		if err != nil {
			t.Fatal(err)
		}
		e.token = secret
	}
	return e
}

// request sends a request with the env's admin token (unless hdr sets
// Authorization, or "" to send none) and returns the response with its
// body read.
func (e *env) request(method, path string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.hs.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b
}

// call sends a JSON request, checks the status and decodes the reply.
func (e *env) call(method, path, body string, want int, v any, hdr ...string) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	resp, b := e.request(method, path, rd, hdr...)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp
}

// investigation is GET /v1/investigations/{id} as a client reads it.
type investigation struct {
	causeway.Investigation
	Attempts        int               `json:"attempts"`
	Worker          string            `json:"worker"`
	CancelRequested bool              `json:"cancel_requested"`
	SourceErrors    []string          `json:"source_errors"`
	Links           map[string]string `json:"links"`
}

func (e *env) investigation(id int64) investigation {
	e.t.Helper()
	var inv investigation
	e.call("GET", fmt.Sprintf("/v1/investigations/%d", id), "", 200, &inv)
	return inv
}

// wait polls an investigation until it ends.
func (e *env) wait(id int64) investigation {
	e.t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		inv := e.investigation(id)
		if store.Terminal(inv.Status) {
			return inv
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("investigation %d still %s", id, inv.Status)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// importExample loads the example bundle as an incident.
func (e *env) importExample() *causeway.Incident {
	e.t.Helper()
	inc, _, err := e.svc.ImportBundle(context.Background(), exampleBundle, investigate.ImportOptions{Key: "aibrix"})
	if err != nil {
		e.t.Fatal(err)
	}
	return inc
}

// tarGz packs dir as a .tar.gz under a top folder named top.
func tarGz(t *testing.T, dir, top string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: top + "/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// sseEvent is one server-sent event.
type sseEvent struct {
	ID   int64
	Type string
	Data string
}

// readEvents reads server-sent events from body until it ends or stop
// says so.
func readEvents(t *testing.T, body io.Reader, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	var evs []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Type != "" || cur.Data != "" {
				evs = append(evs, cur)
				if stop != nil && stop(cur) {
					return evs
				}
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.ID, _ = strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64)
		case strings.HasPrefix(line, "event: "):
			cur.Type = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.Data += strings.TrimPrefix(line, "data: ")
		}
	}
	return evs
}

// stream opens an event stream.
func (e *env) stream(path string, hdr ...string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.hs.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// citingReply scripts a model that answers citing the first evidence line
// it was sent that contains want (any line when want is empty), quoting it
// verbatim.
func citingReply(want string) func(modeltest.Request) modeltest.Reply {
	return func(req modeltest.Request) modeltest.Reply {
		for _, l := range req.EvidenceLines() {
			parts := strings.SplitN(l, " ", 4)
			if len(parts) < 4 || !strings.Contains(parts[3], want) {
				continue
			}
			quote, _, _ := strings.Cut(parts[3], " ×") // a folded line's count is not its text
			if len(quote) > 60 {
				quote = quote[:60]
			}
			ans := map[string]any{
				"root_cause": "the node's disk is full", "summary": "disk full on the node",
				"causal_chain": []map[string]any{{"step": 1, "text": "disk filled", "citations": []map[string]string{{"id": parts[0], "quote": quote}}}},
				"claims":       []map[string]any{{"text": "disk filled", "citations": []map[string]string{{"id": parts[0], "quote": quote}}}},
				"ruled_out":    []any{}, "remediation": []string{"free disk"}, "open_questions": []string{}, "confidence": 0.8,
			}
			b, _ := json.Marshal(ans)
			return modeltest.Reply{Content: string(b)}
		}
		return modeltest.Reply{Content: `{"root_cause": "nothing matched"}`}
	}
}

func decodeInto(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}

// benchIncident creates an incident of one uploaded log and returns its id.
func (e *env) benchIncident(tb testing.TB, log string) int64 {
	tb.Helper()
	var inc struct{ causeway.Incident }
	e.call("POST", "/v1/incidents", `{"title": "small", "window_start": "2025-08-21T03:00:00Z", "window_end": "2025-08-21T04:00:00Z"}`, 201, &inc)
	resp, body := e.request("POST", fmt.Sprintf("/v1/incidents/%d/files?name=logs/app.log", inc.ID), strings.NewReader(log), "Content-Type", "text/plain")
	if resp.StatusCode != 200 {
		tb.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	return inc.ID
}
