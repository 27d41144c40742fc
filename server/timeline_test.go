package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// timeline is GET /v1/incidents/{id}/timeline as a client reads it.
type timeline struct {
	From, To      time.Time
	BucketSeconds int64 `json:"bucket_seconds"`
	Buckets       int
	Sources       []struct {
		Name    string
		Lines   int64
		Buckets [][4]int64
	}
	Markers []struct {
		Kind, Source, Line, Text string
		Time                     time.Time
	}
	Series []struct {
		Source, Name string
		Lines        []string
		Points       []struct {
			Time  time.Time
			Value *float64
		}
	}
	Cited []struct {
		Line, Source, Status string
		Time                 time.Time
	}
	Untimed int64 `json:"untimed_lines"`
	Outside int64 `json:"outside_lines"`
}

func TestTimelineOfTheExample(t *testing.T) {
	e := newEnv(t, nil)
	inc := e.importExample()
	var created investigation
	e.call("POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d, "budget_tokens": 100000}`, inc.ID), 202, &created)
	inv := e.wait(created.ID)

	var tl timeline
	e.call("GET", fmt.Sprintf("/v1/incidents/%d/timeline?investigation_id=%d", inc.ID, inv.ID), "", 200, &tl)
	if !tl.From.Equal(inc.WindowStart) || !tl.To.Equal(inc.WindowEnd) || tl.BucketSeconds != 60 || tl.Buckets != 120 {
		t.Errorf("timeline %s–%s in %d buckets of %d s; want the incident's two-hour window by the minute",
			tl.From, tl.To, tl.Buckets, tl.BucketSeconds)
	}
	var lines, inWindow int64
	byName := map[string]int{}
	for i, s := range tl.Sources {
		byName[s.Name] = i
		lines += s.Lines
		for _, b := range s.Buckets {
			if b[0] < 0 || b[0] >= int64(tl.Buckets) || b[1] <= 0 || b[2]+b[3] > b[1] {
				t.Errorf("%s: bucket %v is outside the window or counts more errors and warnings than lines", s.Name, b)
			}
			inWindow += b[1]
		}
	}
	if inWindow+tl.Untimed+tl.Outside != lines {
		t.Errorf("%d lines in buckets + %d untimed + %d outside != %d lines", inWindow, tl.Untimed, tl.Outside, lines)
	}
	errs := func(name string) (n int64) {
		for _, b := range tl.Sources[byName[name]].Buckets {
			n += b[2]
		}
		return n
	}
	// The decisive error (no space left on device) is in envoy-gateway's log.
	if errs("logs/envoy-gateway.log") == 0 {
		t.Error("no errors counted in logs/envoy-gateway.log")
	}
	kinds := map[string]int{}
	for _, m := range tl.Markers {
		kinds[m.Kind]++
		if m.Time.Before(tl.From) || !m.Time.Before(tl.To) || !strings.HasPrefix(m.Line, "L") {
			t.Errorf("marker %+v is outside the window or names no line", m)
		}
	}
	for _, k := range []string{"warning", "termination", "chat"} {
		if kinds[k] == 0 {
			t.Errorf("no %s markers among %v", k, kinds)
		}
	}
	var sketched bool
	for _, s := range tl.Series {
		if strings.HasPrefix(s.Name, "node_filesystem_avail_bytes") && len(s.Points) >= 3 {
			sketched = true
		}
	}
	if !sketched {
		t.Errorf("the filesystem series is not sketched: %+v", tl.Series)
	}
	if len(tl.Cited) == 0 {
		t.Fatal("the answer's cited lines are not placed")
	}
	for _, c := range tl.Cited {
		if c.Source == "" || c.Status == "" {
			t.Errorf("cited line %+v has no source or verdict", c)
		}
	}

	// Another incident's investigation is refused, a missing incident is 404.
	var other struct{ ID int64 }
	e.call("POST", "/v1/incidents", `{"title": "other"}`, 201, &other)
	e.call("GET", fmt.Sprintf("/v1/incidents/%d/timeline?investigation_id=%d", other.ID, inv.ID), "", 400, nil)
	e.call("GET", "/v1/incidents/999999/timeline", "", 404, nil)
	e.call("GET", fmt.Sprintf("/v1/incidents/%d/timeline?investigation_id=x", inc.ID), "", 400, nil)
}

func TestTimelineWithoutAWindowSpansTheLines(t *testing.T) {
	e := newEnv(t, nil)
	var inc struct{ ID int64 }
	e.call("POST", "/v1/incidents", `{"title": "no window"}`, 201, &inc)
	var tl timeline
	e.call("GET", fmt.Sprintf("/v1/incidents/%d/timeline", inc.ID), "", 200, &tl)
	if !tl.From.IsZero() || len(tl.Sources) != 0 {
		t.Errorf("an incident without lines: %+v, want an empty timeline", tl)
	}
	log := "2025-08-21T03:00:00Z level=info start\n2025-08-21T05:59:00Z level=error boom\n"
	e.call("POST", fmt.Sprintf("/v1/incidents/%d/files?name=logs/app.log", inc.ID), log, 200, nil, "Content-Type", "text/plain")
	e.call("GET", fmt.Sprintf("/v1/incidents/%d/timeline", inc.ID), "", 200, &tl)
	if tl.From.Hour() != 3 || tl.To.Before(time.Date(2025, 8, 21, 5, 59, 0, 0, time.UTC)) || tl.BucketSeconds != 60 {
		t.Errorf("timeline %s–%s by %d s; want the lines' span by the minute", tl.From, tl.To, tl.BucketSeconds)
	}
	if len(tl.Sources) != 1 || len(tl.Sources[0].Buckets) != 2 || tl.Sources[0].Buckets[1][2] != 1 {
		t.Errorf("sources %+v; want one with a line at each end, the last an error", tl.Sources)
	}
}

// pack is GET /v1/investigations/{id}/pack as a client reads it.
type pack struct {
	Tokens     int
	Lines      int
	Total      int64 `json:"total_lines"`
	Digest     string
	SameAsSent bool `json:"same_as_sent"`
	SentLines  int  `json:"sent_lines"`
	Sources    []struct {
		Name   string
		Tokens int
		Lines  int
	}
	Folded []struct {
		Line  string
		Count int64
	}
	FoldedLines int   `json:"folded_lines"`
	FoldedAway  int64 `json:"folded_away"`
	Signals     []struct{ Line, Why string }
}

func TestPackShowsWhatWasSent(t *testing.T) {
	e := newEnv(t, nil)
	inc := e.importExample()
	var created investigation
	// A small budget, so that repeats are folded.
	e.call("POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d, "budget_tokens": 20000}`, inc.ID), 202, &created)
	inv := e.wait(created.ID)
	var p pack
	e.call("GET", fmt.Sprintf("/v1/investigations/%d/pack", inv.ID), "", 200, &p)
	if !p.SameAsSent || p.SentLines != p.Lines {
		t.Errorf("pack of %d lines; same as the %d sent: %v", p.Lines, p.SentLines, p.SameAsSent)
	}
	if p.Tokens != inv.Usage.ContextTokens {
		t.Errorf("pack has %d tokens; the investigation counted %d", p.Tokens, inv.Usage.ContextTokens)
	}
	tokens := 0
	for _, s := range p.Sources {
		tokens += s.Tokens
	}
	if len(p.Sources) == 0 || tokens == 0 || tokens > p.Tokens {
		t.Errorf("sources %+v: %d tokens of %d", p.Sources, tokens, p.Tokens)
	}
	if p.Digest == "" || len(p.Signals) == 0 {
		t.Errorf("no digest or signals: %q %d", p.Digest, len(p.Signals))
	}
	if p.Lines >= int(p.Total) {
		t.Fatalf("%d of %d lines: the budget kept everything, nothing to fold", p.Lines, p.Total)
	}
	if p.FoldedLines == 0 || len(p.Folded) == 0 || p.FoldedAway == 0 {
		t.Errorf("nothing folded at a 20k budget: %d lines fold %d", p.FoldedLines, p.FoldedAway)
	}
	for i := 1; i < len(p.Folded); i++ {
		if p.Folded[i].Count > p.Folded[i-1].Count {
			t.Errorf("folded lines are not most repeated first: %d after %d", p.Folded[i].Count, p.Folded[i-1].Count)
		}
	}

	// An upload changes the evidence: the pack is no longer what was sent.
	e.call("POST", fmt.Sprintf("/v1/incidents/%d/files?name=logs/late.log", inc.ID), "2025-08-21T03:50:00Z level=error late\n", 200, nil,
		"Content-Type", "text/plain")
	e.call("GET", fmt.Sprintf("/v1/investigations/%d/pack", inv.ID), "", 200, &p)
	if p.SameAsSent {
		t.Error("after an upload, the pack still claims to be what was sent")
	}
	e.call("GET", "/v1/investigations/999999/pack", "", 404, nil)
}
