package slack

import (
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
	inc = causeway.Incident{ID: 5, WindowStart: t0, WindowEnd: t0.Add(time.Hour)}
)

// ts renders minutes after 03:00 as a Slack timestamp.
func ts(min int, micros int) string {
	return fmt.Sprintf("%d.%06d", t0.Add(time.Duration(min)*time.Minute).Unix(), micros)
}

type msg map[string]any

// history is #incident-aibrix, oldest first: a thread with replies, a bot
// alert, a message by a user that cannot be looked up, and messages before
// and after the window.
var (
	history = []msg{
		{"type": "message", "user": "U01ALICE", "text": "early chatter", "ts": ts(-60, 1)},
		{"type": "message", "user": "U01ALICE", "text": "gateway is returning 503 for <@U02BOB>'s requests", "ts": ts(5, 100)},
		{"type": "message", "user": "U02BOB", "text": "looking", "ts": ts(10, 200), "thread_ts": ts(10, 200), "reply_count": 3},
		{"type": "message", "subtype": "bot_message", "bot_id": "B01AM", "bot_profile": map[string]any{"name": "Alertmanager"},
			"text": "", "ts": ts(15, 300), "attachments": []any{map[string]any{"title": "[FIRING:1] EnvoyHighErrorRate", "fallback": "firing"}}},
		{"type": "message", "user": "U09GONE", "text": "disk on kind-control-plane at 100%", "ts": ts(30, 400)},
		{"type": "message", "user": "U01ALICE", "text": "restarting envoy gateway &amp; watching", "ts": ts(50, 500)},
		{"type": "message", "user": "U01ALICE", "text": "next day", "ts": ts(90, 600)},
	}
	replies = []msg{
		history[2],
		{"type": "message", "user": "U01ALICE", "text": "seeing Wasm cache errors", "ts": ts(12, 700), "thread_ts": ts(10, 200)},
		{"type": "message", "user": "U02BOB", "text": "<@U01ALICE> check the EnvoyExtensionPolicy", "ts": ts(14, 800), "thread_ts": ts(10, 200)},
		{"type": "message", "user": "U02BOB", "text": "fixed", "ts": ts(70, 900), "thread_ts": ts(10, 200)},
	}
	users = map[string]msg{
		"U01ALICE": {"id": "U01ALICE", "name": "alice", "real_name": "Alice Ng", "profile": map[string]any{"real_name": "Alice Ng"}},
		"U02BOB":   {"id": "U02BOB", "name": "bob", "profile": map[string]any{"real_name": "", "display_name": "Bob Ma"}},
	}
)

// slackServer speaks the Web API methods the collector calls, over the
// data above, with cursors; fail answers the n-th call of a method
// ("conversations.history#2") with a status, 429 with retryAfter.
type slackServer struct {
	*httptest.Server
	mu         sync.Mutex
	calls      map[string]int
	fail       map[string]int
	retryAfter string
	auth       []string
}

func newSlackServer(t *testing.T) *slackServer {
	s := &slackServer{calls: map[string]int{}, fail: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func inWindow(m msg, q map[string]string) bool {
	t := m["ts"].(string)
	return compareTs(t, q["oldest"]) >= 0 && compareTs(t, q["latest"]) <= 0
}

func (s *slackServer) serve(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	s.calls[method]++
	code := s.fail[method+"#"+strconv.Itoa(s.calls[method])]
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.mu.Unlock()
	switch code {
	case 0:
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", s.retryAfter)
		w.WriteHeader(code)
		return
	default:
		w.WriteHeader(code)
		fmt.Fprint(w, "upstream connect error")
		return
	}
	q := map[string]string{}
	for k := range r.URL.Query() {
		q[k] = r.URL.Query().Get(k)
	}
	reply := func(v msg) {
		v["ok"] = true
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	page := func(all []msg, key string) {
		limit, _ := strconv.Atoi(q["limit"])
		from, _ := strconv.Atoi(strings.TrimPrefix(q["cursor"], "c-"))
		end := min(from+limit, len(all))
		next := ""
		if end < len(all) {
			next = "c-" + strconv.Itoa(end)
		}
		reply(msg{key: all[from:end], "has_more": next != "", "response_metadata": msg{"next_cursor": next}})
	}
	switch method {
	case "conversations.info":
		if q["channel"] != "C0INCIDENT" {
			_ = json.NewEncoder(w).Encode(msg{"ok": false, "error": "channel_not_found"})
			return
		}
		reply(msg{"channel": msg{"id": "C0INCIDENT", "name": "incident-aibrix"}})
	case "conversations.list":
		all := []msg{{"id": "C0GENERAL", "name": "general"}, {"id": "C0INCIDENT", "name": "incident-aibrix"}, {"id": "C0RANDOM", "name": "random"}}
		q["limit"] = "2"
		page(all, "channels")
	case "conversations.history":
		if q["channel"] != "C0INCIDENT" {
			_ = json.NewEncoder(w).Encode(msg{"ok": false, "error": "channel_not_found"})
			return
		}
		var sel []msg
		for _, m := range slices.Backward(history) { // newest first, as Slack returns them
			if inWindow(m, q) {
				sel = append(sel, m)
			}
		}
		page(sel, "messages")
	case "conversations.replies":
		var sel []msg
		if q["ts"] == ts(10, 200) {
			for _, m := range replies {
				if inWindow(m, q) {
					sel = append(sel, m)
				}
			}
		}
		page(sel, "messages")
	case "users.info":
		u, ok := users[q["user"]]
		if !ok {
			_ = json.NewEncoder(w).Encode(msg{"ok": false, "error": "user_not_found"})
			return
		}
		reply(msg{"user": u})
	default:
		_ = json.NewEncoder(w).Encode(msg{"ok": false, "error": "unknown_method"})
	}
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
		out = append(out, l.Time.UTC().Format("15:04")+" "+l.Text)
	}
	return out
}

type sleeps struct{ d []time.Duration }

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.d = append(s.d, d)
	return nil
}

const source = "slack/incident-aibrix/history"

var wantAll = []string{
	"03:05 @Alice Ng: gateway is returning 503 for @Bob Ma's requests",
	"03:10 @Bob Ma: looking",
	"03:12 @Alice Ng: seeing Wasm cache errors",
	"03:14 @Bob Ma: @Alice Ng check the EnvoyExtensionPolicy",
	"03:15 @Alertmanager: [attachment: [FIRING:1] EnvoyHighErrorRate]",
	"03:30 @U09GONE: disk on kind-control-plane at 100%",
	"03:50 @Alice Ng: restarting envoy gateway & watching",
}

func TestChannelWithThreadsAndNames(t *testing.T) {
	for _, ch := range []string{"C0INCIDENT", "#incident-aibrix"} {
		t.Run(ch, func(t *testing.T) {
			srv := newSlackServer(t)
			sink := newMemSink()
			c := New(Config{URL: srv.URL, Token: "xoxb-test", Channels: []string{ch}, PageSize: 2})
			i := inc
			if err := c.Collect(context.Background(), &i, sink); err != nil {
				t.Fatal(err)
			}
			if got := sink.texts(source); !slices.Equal(got, wantAll) {
				t.Errorf("lines =\n%q\nwant\n%q", got, wantAll)
			}
			src := sink.sources[source]
			if src == nil || src.Error != "" || src.Kind != causeway.KindSlack || src.Labels["channel"] != "incident-aibrix" {
				t.Errorf("source = %+v", src)
			}
			l := sink.lines[source][2]
			if l.Attrs["channel"] != "incident-aibrix" || l.Attrs["author"] != "Alice Ng" || l.Attrs["thread"] != ts(10, 200) {
				t.Errorf("thread reply attrs = %v", l.Attrs)
			}
			if srv.calls["conversations.history"] != 3 || srv.calls["conversations.replies"] != 2 {
				t.Errorf("calls = %v, want 3 history pages and 2 reply pages", srv.calls)
			}
			if srv.calls["users.info"] != 3 {
				t.Errorf("users.info called %d times, want once per user (3)", srv.calls["users.info"])
			}
			for _, a := range srv.auth {
				if a != "Bearer xoxb-test" {
					t.Fatalf("Authorization = %q", a)
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
		channel    string
		fail       map[string]int
		retryAfter string
		cfg        Config
		lines      []string
		errSub     string
		sleeps     []time.Duration
	}{
		{"429 waits Retry-After and goes on", "C0INCIDENT", map[string]int{"conversations.history#2": 429, "users.info#1": 429}, "3",
			Config{}, wantAll, "", []time.Duration{3 * time.Second, 3 * time.Second}},
		{"500 mid-way keeps the newer messages", "C0INCIDENT", map[string]int{"conversations.history#2": 500}, "", Config{},
			wantAll[5:], "conversations.history page 2: HTTP 500: upstream connect error", nil},
		{"500 in a thread keeps the channel", "C0INCIDENT", map[string]int{"conversations.replies#2": 500}, "", Config{},
			[]string{wantAll[0], wantAll[1], wantAll[2], wantAll[4], wantAll[5], wantAll[6]},
			"thread " + ts(10, 200) + ": conversations.replies page 2: HTTP 500", nil},
		{"Retry-After beyond the wait limit", "C0INCIDENT", map[string]int{"conversations.history#1": 429}, "600", Config{MaxWait: time.Minute},
			nil, "Retry-After 10m0s exceeds the 1m0s wait limit", nil},
		{"message limit", "C0INCIDENT", nil, "", Config{MaxMessages: 3}, wantAll[4:],
			"message limit 3 reached; older messages not collected", nil},
		{"unknown channel", "C0NOPE123", nil, "", Config{}, nil, "slack API error: channel_not_found", nil},
		{"unknown channel name", "#nope", nil, "", Config{}, nil, "no channel #nope visible to the token", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSlackServer(t)
			if tt.fail != nil {
				srv.fail = tt.fail
			}
			srv.retryAfter = tt.retryAfter
			var sl sleeps
			cfg := tt.cfg
			cfg.URL, cfg.Token, cfg.Channels, cfg.PageSize, cfg.Sleep = srv.URL, "xoxb-test", []string{tt.channel}, 2, sl.sleep
			sink := newMemSink()
			i := inc
			if err := New(cfg).Collect(context.Background(), &i, sink); err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if len(sink.sources) != 1 {
				t.Fatalf("sources = %v, want one", sink.sources)
			}
			for name, src := range sink.sources {
				if got := sink.texts(name); !slices.Equal(got, tt.lines) {
					t.Errorf("lines =\n%q\nwant\n%q", got, tt.lines)
				}
				if (tt.errSub == "") != (src.Error == "") || !strings.Contains(src.Error, tt.errSub) {
					t.Errorf("error = %q, want %q", src.Error, tt.errSub)
				}
			}
			if !slices.Equal(sl.d, tt.sleeps) {
				t.Errorf("waited %v, want %v", sl.d, tt.sleeps)
			}
		})
	}
}

func TestCompareTs(t *testing.T) {
	got := []string{"1755745260.000100", "999999999.999999", "1755745200.900000", "1755745200.000001"}
	slices.SortFunc(got, compareTs)
	want := []string{"999999999.999999", "1755745200.000001", "1755745200.900000", "1755745260.000100"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted = %v", got)
	}
}
