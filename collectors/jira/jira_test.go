package jira

import (
	"context"
	"encoding/json"
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
	inc = causeway.Incident{ID: 6, WindowStart: t0, WindowEnd: t0.Add(time.Hour)}
)

type obj = map[string]any

func user(name string) obj {
	return obj{"displayName": name, "accountId": "acc-" + strings.ToLower(name[:1])}
}

func comment(id int, author, when, body string) obj {
	return obj{"id": strconv.Itoa(id), "author": user(author), "body": body, "created": when, "updated": when}
}

// issues: one opened in the window with five comments, one opened before
// it and updated in it, one untouched for a month that a widened JQL
// search still returns.
var issues = map[string]obj{
	"AIB-142": {"key": "AIB-142", "fields": obj{
		"summary": "503s on /v1/chat/completions", "created": "2025-08-21T03:30:00.000+0000", "updated": "2025-08-21T05:00:00.000+0000",
		"status": obj{"name": "In Progress"}, "issuetype": obj{"name": "Incident"}, "priority": obj{"name": "P1"}, "reporter": user("Alice Ng"),
		"description": "Gateway returns 503 for requests with the model header.\n\nStarted around 03:20."}},
	"AIB-140": {"key": "AIB-140", "fields": obj{
		"summary": "Gateway plugin OOMs", "created": "2025-08-19T10:00:00.000+0000", "updated": "2025-08-21T03:40:00.000+0000",
		"status": obj{"name": "Open"}, "reporter": user("Bob Ma")}},
	"AIB-100": {"key": "AIB-100", "fields": obj{
		"summary": "Upgrade Envoy Gateway", "created": "2025-07-01T10:00:00.000+0000", "updated": "2025-07-20T10:00:00.000+0000"}},
}

var comments = map[string][]obj{
	"AIB-142": {
		comment(1, "Bob Ma", "2025-08-21T03:35:00.000+0000", "Envoy logs show no healthy upstream"),
		comment(2, "Alice Ng", "2025-08-21T03:50:00.000+0000", "EnvoyExtensionPolicy is not accepted: wasm cache"),
		comment(3, "Bob Ma", "2025-08-21T04:10:00.000+0000", "node disk is full; image GC failed"),
		comment(4, "Alice Ng", "2025-08-21T04:20:00.000+0000", "freed disk, restarted envoy-gateway"),
		comment(5, "Bob Ma", "2025-08-21T04:30:00.000+0000", "503s gone"),
	},
	"AIB-140": {comment(6, "Bob Ma", "2025-08-21T03:40:00.000+0000", "OOMKilled again at 03:21")},
}

// jiraServer speaks the REST endpoints the collector calls, as Cloud or
// Server pages them; fail answers the n-th request to a path prefix
// ("/rest/api/2/issue/AIB-142/comment#2") with a status.
type jiraServer struct {
	*httptest.Server
	cloud      bool
	mu         sync.Mutex
	calls      map[string]int
	fail       map[string]int
	retryAfter string
	auth       []string
	jql        []string
}

func newJiraServer(t *testing.T, cloud bool) *jiraServer {
	s := &jiraServer{cloud: cloud, calls: map[string]int{}, fail: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jiraServer) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	s.mu.Lock()
	s.calls[p]++
	code := s.fail[p+"#"+strconv.Itoa(s.calls[p])]
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.mu.Unlock()
	q := r.URL.Query()
	w.Header().Set("Content-Type", "application/json")
	errorOut := func(code int, msg string) {
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(obj{"errorMessages": []string{msg}, "errors": obj{}})
	}
	switch code {
	case 0:
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", s.retryAfter)
		errorOut(code, "Rate limit exceeded.")
		return
	default:
		errorOut(code, "Internal server error")
		return
	}
	keys := []string{"AIB-100", "AIB-140", "AIB-142"}
	switch {
	case p == "/rest/api/2/search/jql" && s.cloud, p == "/rest/api/2/search" && !s.cloud:
		s.mu.Lock()
		s.jql = append(s.jql, q.Get("jql"))
		s.mu.Unlock()
		if strings.Contains(q.Get("jql"), "projct") {
			errorOut(http.StatusBadRequest, "Error in the JQL Query: 'projct' is not a valid field.")
			return
		}
		max, _ := strconv.Atoi(q.Get("maxResults"))
		from, _ := strconv.Atoi(q.Get("startAt"))
		if s.cloud {
			from, _ = strconv.Atoi(strings.TrimPrefix(q.Get("nextPageToken"), "tok-"))
		}
		end := min(from+max, len(keys))
		var hits []obj
		for _, k := range keys[from:end] {
			f := issues[k]["fields"].(obj)
			hits = append(hits, obj{"id": "1" + k[4:], "key": k, "fields": obj{"created": f["created"], "updated": f["updated"]}})
		}
		if s.cloud {
			page := obj{"issues": hits, "isLast": end == len(keys)}
			if end < len(keys) {
				page["nextPageToken"] = "tok-" + strconv.Itoa(end)
			}
			_ = json.NewEncoder(w).Encode(page)
			return
		}
		_ = json.NewEncoder(w).Encode(obj{"startAt": from, "maxResults": max, "total": len(keys), "issues": hits})
	case strings.HasPrefix(p, "/rest/api/2/issue/") && strings.HasSuffix(p, "/comment"):
		key := strings.TrimSuffix(strings.TrimPrefix(p, "/rest/api/2/issue/"), "/comment")
		all := comments[key]
		max, _ := strconv.Atoi(q.Get("maxResults"))
		from, _ := strconv.Atoi(q.Get("startAt"))
		end := min(from+max, len(all))
		_ = json.NewEncoder(w).Encode(obj{"startAt": from, "maxResults": max, "total": len(all), "comments": all[min(from, end):end]})
	case strings.HasPrefix(p, "/rest/api/2/issue/"):
		is, ok := issues[strings.TrimPrefix(p, "/rest/api/2/issue/")]
		if !ok {
			errorOut(http.StatusNotFound, "Issue does not exist or you do not have permission to see it.")
			return
		}
		if q.Get("fields") != issueFields {
			errorOut(http.StatusBadRequest, "unexpected fields "+q.Get("fields"))
			return
		}
		_ = json.NewEncoder(w).Encode(is)
	default:
		errorOut(http.StatusNotFound, "no such endpoint "+p)
	}
}

type memSink struct {
	order   []string
	sources map[string]*causeway.Source
	lines   map[string][]causeway.Line
	seen    map[string]bool
}

func newMemSink() *memSink {
	return &memSink{sources: map[string]*causeway.Source{}, lines: map[string][]causeway.Line{}, seen: map[string]bool{}}
}

func (s *memSink) WriteLines(_ context.Context, src *causeway.Source, lines []causeway.Line) error {
	if s.sources[src.Name] == nil {
		s.order = append(s.order, src.Name)
	}
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
		out = append(out, l.Time.UTC().Format("15:04")+" "+l.Text)
	}
	return out
}

type sleeps struct{ d []time.Duration }

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.d = append(s.d, d)
	return nil
}

var want142 = []string{
	"03:30 AIB-142 503s on /v1/chat/completions (status In Progress, Incident, priority P1, reported by Alice Ng)",
	"03:30 AIB-142 description: Gateway returns 503 for requests with the model header.",
	"03:30 AIB-142 description: Started around 03:20.",
	"03:35 AIB-142 comment by Bob Ma: Envoy logs show no healthy upstream",
	"03:50 AIB-142 comment by Alice Ng: EnvoyExtensionPolicy is not accepted: wasm cache",
	"04:10 AIB-142 comment by Bob Ma: node disk is full; image GC failed",
	"04:20 AIB-142 comment by Alice Ng: freed disk, restarted envoy-gateway",
	"04:30 AIB-142 comment by Bob Ma: 503s gone",
}

func TestCloudAndServer(t *testing.T) {
	tests := []struct {
		name     string
		cloud    bool
		cfg      Config
		wantAuth string
	}{
		{"cloud with e-mail and API token", true, Config{User: "alice@example.com", Token: "api-token"}, "Basic YWxpY2VAZXhhbXBsZS5jb206YXBpLXRva2Vu"},
		{"server with a personal access token", false, Config{Token: "pat-123"}, "Bearer pat-123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJiraServer(t, tt.cloud)
			cfg := tt.cfg
			cfg.URL, cfg.Issues, cfg.Projects, cfg.PageSize = srv.URL, []string{"aib-142"}, []string{"AIB"}, 2
			if tt.cloud {
				cfg.Flavor = Cloud
			}
			sink := newMemSink()
			c := New(cfg)
			i := inc
			if err := c.Collect(context.Background(), &i, sink); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sink.order, []string{"jira/AIB-142", "jira/AIB-140"}) {
				t.Errorf("sources = %v, want AIB-142 (named) then AIB-140 (found in the window)", sink.order)
			}
			if got := sink.texts("jira/AIB-142"); !slices.Equal(got, want142) {
				t.Errorf("AIB-142 =\n%q\nwant\n%q", got, want142)
			}
			if got := sink.texts("jira/AIB-140"); len(got) != 2 || got[1] != "03:40 AIB-140 comment by Bob Ma: OOMKilled again at 03:21" {
				t.Errorf("AIB-140 = %q", got)
			}
			for name, src := range sink.sources {
				if src.Error != "" || src.Labels["ticket"] != strings.TrimPrefix(name, "jira/") {
					t.Errorf("source %+v", src)
				}
			}
			if l := sink.lines["jira/AIB-142"][3]; l.Attrs["author"] != "Bob Ma" || l.Attrs["ticket"] != "AIB-142" || l.Kind != causeway.LineComment {
				t.Errorf("comment line = %+v", l)
			}
			// The window widened by 14 h each side, for any user time zone.
			wantJQL := `project in ("AIB") AND updated >= "2025/08/20 13:00" AND created <= "2025/08/21 18:00" ORDER BY created ASC`
			if len(srv.jql) != 2 || srv.jql[0] != wantJQL {
				t.Errorf("searches = %q, want 2 pages of %q", srv.jql, wantJQL)
			}
			for _, a := range srv.auth {
				if a != tt.wantAuth {
					t.Fatalf("Authorization = %q, want %q", a, tt.wantAuth)
				}
			}
			before := len(sink.seen)
			if err := c.Collect(context.Background(), &i, sink); err != nil {
				t.Fatal(err)
			}
			if len(sink.seen) != before {
				t.Errorf("collecting again added %d lines", len(sink.seen)-before)
			}
		})
	}
}

func TestFailuresAndBounds(t *testing.T) {
	tests := []struct {
		name       string
		fail       map[string]int
		retryAfter string
		cfg        Config
		source     string
		lines      []string
		errSub     string
		sleeps     []time.Duration
	}{
		{"429 waits Retry-After", map[string]int{"/rest/api/2/issue/AIB-142#1": 429, "/rest/api/2/issue/AIB-142/comment#2": 429}, "4",
			Config{Issues: []string{"AIB-142"}}, "jira/AIB-142", want142, "", []time.Duration{4 * time.Second, 4 * time.Second}},
		{"500 mid-way keeps the comments before", map[string]int{"/rest/api/2/issue/AIB-142/comment#2": 500}, "",
			Config{Issues: []string{"AIB-142"}}, "jira/AIB-142", want142[:5],
			"comments of AIB-142 from 2: HTTP 500: Internal server error; later comments not collected", nil},
		{"missing issue", nil, "", Config{Issues: []string{"AIB-999"}}, "jira/AIB-999", nil,
			"issue AIB-999: HTTP 404: Issue does not exist or you do not have permission to see it.", nil},
		{"bad JQL", nil, "", Config{JQL: "projct = AIB"}, "jira/search", nil, "HTTP 400: Error in the JQL Query", nil},
		{"comment limit", nil, "", Config{Issues: []string{"AIB-142"}, MaxComments: 3}, "jira/AIB-142", want142[:6],
			"comment limit 3 reached; 2 later comments of AIB-142 not collected", nil},
		{"not an issue key", nil, "", Config{Issues: []string{"AIB142"}}, "jira/AIB142", nil, `"AIB142" is not an issue key`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJiraServer(t, false)
			if tt.fail != nil {
				srv.fail = tt.fail
			}
			srv.retryAfter = tt.retryAfter
			var sl sleeps
			cfg := tt.cfg
			cfg.URL, cfg.Token, cfg.PageSize, cfg.Sleep = srv.URL, "pat", 2, sl.sleep
			sink := newMemSink()
			i := inc
			if err := New(cfg).Collect(context.Background(), &i, sink); err != nil {
				t.Fatalf("Collect: %v", err)
			}
			src := sink.sources[tt.source]
			if src == nil {
				t.Fatalf("no source %s; have %v", tt.source, sink.order)
			}
			if got := sink.texts(tt.source); !slices.Equal(got, tt.lines) {
				t.Errorf("lines =\n%q\nwant\n%q", got, tt.lines)
			}
			if (tt.errSub == "") != (src.Error == "") || !strings.Contains(src.Error, tt.errSub) {
				t.Errorf("error = %q, want %q", src.Error, tt.errSub)
			}
			if !slices.Equal(sl.d, tt.sleeps) {
				t.Errorf("waited %v, want %v", sl.d, tt.sleeps)
			}
		})
	}
}

func TestFlavorFromURL(t *testing.T) {
	for url, want := range map[string]string{
		"https://acme.atlassian.net": Cloud, "https://jira.example.com": Server, "http://127.0.0.1:8080": Server,
	} {
		if got := New(Config{URL: url}).cfg.Flavor; got != want {
			t.Errorf("flavor of %s = %s, want %s", url, got, want)
		}
	}
}
