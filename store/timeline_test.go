package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store"
	"github.com/causeway-rca/causeway/store/storetest"
)

func TestTimelineCountsAndMarkers(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	inc := newIncident(t, db, "tl") // 03:00–04:00
	t0 := inc.WindowStart
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	logSrc := &causeway.Source{IncidentID: inc.ID, Name: "logs/app.log", Kind: causeway.KindLog}
	logs := []causeway.Line{
		{Seq: 0, Time: at(-5), Kind: causeway.LineLog, Text: "before the window"},
		{Seq: 1, Time: at(0), Kind: causeway.LineLog, Text: "a", Attrs: map[string]string{"level": "info"}},
		{Seq: 2, Time: at(0).Add(30 * time.Second), Kind: causeway.LineLog, Text: "b", Attrs: map[string]string{"level": "ERROR"}},
		{Seq: 3, Time: at(0).Add(59 * time.Second), Kind: causeway.LineLog, Text: "c", Attrs: map[string]string{"level": "warn"}},
		{Seq: 4, Time: at(7), Kind: causeway.LineLog, Text: "d", Attrs: map[string]string{"level": "fatal"}},
		{Seq: 5, Kind: causeway.LineLog, Text: "no time at all"},
	}
	evSrc := &causeway.Source{IncidentID: inc.ID, Name: "events/events.json", Kind: causeway.KindEvents}
	events := []causeway.Line{
		{Seq: 0, Time: at(3), Kind: causeway.LineEvent, Text: "Warning BackOff pod/web", Attrs: map[string]string{"type": "Warning", "reason": "BackOff"}},
		{Seq: 1, Time: at(4), Kind: causeway.LineEvent, Text: "Normal Pulled pod/web", Attrs: map[string]string{"type": "Normal", "reason": "Pulled"}},
		{Seq: 2, Time: at(5), Kind: causeway.LineEvent, Text: "Warning OOMKilling node/n1", Attrs: map[string]string{"type": "Warning", "reason": "OOMKilling"}},
	}
	objSrc := &causeway.Source{IncidentID: inc.ID, Name: "objects/pods.json", Kind: causeway.KindObjects}
	objects := []causeway.Line{
		{Seq: 0, Time: at(6), Kind: causeway.LineStatus, Text: "web last terminated reason=OOMKilled", Attrs: map[string]string{"state": "last-terminated", "reason": "OOMKilled", "exit_code": "137"}},
		{Seq: 1, Time: at(6), Kind: causeway.LineStatus, Text: "job terminated reason=Completed", Attrs: map[string]string{"state": "terminated", "reason": "Completed", "exit_code": "0"}},
	}
	chatSrc := &causeway.Source{IncidentID: inc.ID, Name: "chat/ops.json", Kind: causeway.KindSlack}
	chat := []causeway.Line{
		{Seq: 0, Time: at(1), Kind: causeway.LineChat, Text: "@Alertmanager: [FIRING:1] CheckoutErrors"},
		{Seq: 1, Time: at(2), Kind: causeway.LineChat, Text: "@Ann: looking"},
	}
	metSrc := &causeway.Source{IncidentID: inc.ID, Name: "metrics/rq.json", Kind: causeway.KindPrometheus}
	metrics := []causeway.Line{
		{Seq: 0, Time: at(0), Kind: causeway.LineMetric, Text: "rq: 60 samples", Attrs: map[string]string{"stat": "summary", "metric": "rq"}},
	}
	for _, w := range []struct {
		src   *causeway.Source
		lines []causeway.Line
	}{{logSrc, logs}, {evSrc, events}, {objSrc, objects}, {chatSrc, chat}, {metSrc, metrics}} {
		if err := db.WriteLines(ctx, w.src, w.lines); err != nil {
			t.Fatal(err)
		}
	}

	tl, err := db.Timeline(ctx, inc.ID, store.TimelineQuery{From: inc.WindowStart, To: inc.WindowEnd, Bucket: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if tl.Untimed != 1 || tl.Outside != 1 {
		t.Errorf("untimed %d, outside %d; want 1 and 1", tl.Untimed, tl.Outside)
	}
	buckets := map[string][]store.Bucket{}
	for _, s := range tl.Sources {
		buckets[s.Name] = s.Buckets
	}
	want := map[string][]store.Bucket{
		"logs/app.log":       {{Index: 0, Lines: 3, Errors: 1, Warnings: 1}, {Index: 7, Lines: 1, Errors: 1}},
		"events/events.json": {{Index: 3, Lines: 1, Warnings: 1}, {Index: 4, Lines: 1}, {Index: 5, Lines: 1, Errors: 1}}, // an error, not also a warning
		"objects/pods.json":  {{Index: 6, Lines: 2, Errors: 1}},
	}
	for name, w := range want {
		if fmt.Sprint(buckets[name]) != fmt.Sprint(w) {
			t.Errorf("%s buckets %+v, want %+v", name, buckets[name], w)
		}
	}
	var got []string
	for _, m := range tl.Markers {
		got = append(got, fmt.Sprintf("%s@%d", m.Kind, int(m.Time.Sub(t0).Minutes())))
	}
	if fmt.Sprint(got) != "[alert@1 chat@2 warning@3 termination@5 termination@6]" {
		t.Errorf("markers %v", got)
	}
	if len(tl.Metrics) != 1 || tl.Metrics[0].Stat != "summary" || tl.Metrics[0].Metric != "rq" {
		t.Errorf("metric lines %+v", tl.Metrics)
	}

	// Markers are capped, earliest first, and the rest counted.
	tl, err = db.Timeline(ctx, inc.ID, store.TimelineQuery{From: inc.WindowStart, To: inc.WindowEnd, MaxMarkers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Markers) != 2 || tl.Markers[0].Kind != store.MarkerAlert || tl.MarkersLeftOut != 3 {
		t.Errorf("capped at 2: %d markers, first %s, %d left out", len(tl.Markers), tl.Markers[0].Kind, tl.MarkersLeftOut)
	}

	// Coarser buckets add up the same lines.
	tl, err = db.Timeline(ctx, inc.ID, store.TimelineQuery{From: inc.WindowStart, To: inc.WindowEnd, Bucket: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range tl.Sources {
		if s.Name == "logs/app.log" && fmt.Sprint(s.Buckets) != fmt.Sprint([]store.Bucket{{Index: 0, Lines: 3, Errors: 1, Warnings: 1}, {Index: 1, Lines: 1, Errors: 1}}) {
			t.Errorf("5-minute buckets %+v", s.Buckets)
		}
	}
	if _, err := db.Timeline(ctx, inc.ID, store.TimelineQuery{}); causeway.ErrorCode(err) != causeway.EINVALID {
		t.Errorf("a timeline without a window: %v, want EINVALID", err)
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	tok, _, err := db.CreateToken(ctx, "alice", store.ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	live := store.NewSessionSecret()
	s := &store.Session{TokenID: tok.ID, Name: "alice", Scope: store.ScopeWrite, CSRF: "c1", ExpiresAt: time.Now().Add(time.Hour)}
	if err := db.CreateSession(ctx, live, s); err != nil {
		t.Fatal(err)
	}
	env := store.NewSessionSecret()
	if err := db.CreateSession(ctx, env, &store.Session{Name: "ci", Scope: store.ScopeRead, CSRF: "c2", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	expired := store.NewSessionSecret()
	if err := db.CreateSession(ctx, expired, &store.Session{Name: "old", Scope: store.ScopeRead, CSRF: "c3", ExpiresAt: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Session(ctx, live)
	if err != nil || got.TokenID != tok.ID || got.Name != "alice" || got.Scope != store.ScopeWrite || got.CSRF != "c1" {
		t.Fatalf("session %+v, %v", got, err)
	}
	if got, err := db.Session(ctx, env); err != nil || got.TokenID != 0 {
		t.Errorf("a session of a token from the environment: %+v, %v", got, err)
	}
	for name, secret := range map[string]string{"expired": expired, "unknown": "nope", "the csrf token": "c1"} {
		if _, err := db.Session(ctx, secret); causeway.ErrorCode(err) != causeway.ENOTFOUND {
			t.Errorf("%s session: %v, want ENOTFOUND", name, err)
		}
	}
	if _, err := db.RevokeToken(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Session(ctx, live); causeway.ErrorCode(err) != causeway.ENOTFOUND {
		t.Errorf("the session of a revoked token: %v, want ENOTFOUND", err)
	}
	if err := db.DeleteSession(ctx, env); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Session(ctx, env); causeway.ErrorCode(err) != causeway.ENOTFOUND {
		t.Errorf("a deleted session: %v, want ENOTFOUND", err)
	}
	if err := db.CreateSession(ctx, "x", &store.Session{Name: "bad", Scope: "root", ExpiresAt: time.Now().Add(time.Hour)}); causeway.ErrorCode(err) != causeway.EINVALID {
		t.Errorf("a session with scope root: %v, want EINVALID", err)
	}
}

func TestIncidentSummaries(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	a := newIncident(t, db, "a")
	b := newIncident(t, db, "b")
	src := &causeway.Source{IncidentID: a.ID, Name: "logs/a.log", Kind: causeway.KindLog}
	if err := db.WriteLines(ctx, src, someLines(3, a.WindowStart)); err != nil {
		t.Fatal(err)
	}
	if err := db.SetSourceError(ctx, &causeway.Source{IncidentID: a.ID, Name: "collect/k8s", Kind: "k8s"}, "forbidden"); err != nil {
		t.Fatal(err)
	}
	inv := &causeway.Investigation{IncidentID: a.ID, Question: "why?", Model: "builtin"}
	if err := db.CreateInvestigation(ctx, inv); err != nil {
		t.Fatal(err)
	}
	inv.Status = causeway.StatusDone
	inv.Verdict = &causeway.Verdict{Total: 4, Verified: 3}
	if err := db.FinishInvestigation(ctx, inv, nil); err != nil {
		t.Fatal(err)
	}
	sums, err := db.IncidentSummaries(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 2 || sums[0].Incident.ID != b.ID || sums[1].Incident.ID != a.ID {
		t.Fatalf("summaries %+v; want b, then a", sums)
	}
	if s := sums[0]; s.Sources != 0 || s.Lines != 0 || s.Latest != nil || len(s.SourceErrors) != 0 {
		t.Errorf("an empty incident: %+v", s)
	}
	s := sums[1]
	if s.Sources != 2 || s.Lines != 3 || fmt.Sprint(s.SourceErrors) != "[{collect/k8s forbidden}]" {
		t.Errorf("incident a: %d sources, %d lines, errors %v", s.Sources, s.Lines, s.SourceErrors)
	}
	if l := s.Latest; l == nil || l.ID != inv.ID || l.Status != causeway.StatusDone || l.Verified != 3 || l.Total != 4 {
		t.Errorf("latest investigation %+v", l)
	}
}

// BenchmarkTimeline aggregates a million-line incident (the UI's timeline
// of it) next to a plain count of the same lines, measured in the same run.
func BenchmarkTimeline(b *testing.B) {
	ctx := context.Background()
	db := storetest.MustOpenDB(b)
	inc := &causeway.Incident{Title: "big", WindowStart: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), WindowEnd: time.Date(2025, 1, 1, 6, 0, 0, 0, time.UTC)}
	if err := db.CreateIncident(ctx, inc); err != nil {
		b.Fatal(err)
	}
	const n, sources, batch = 1_000_000, 10, 20_000
	levels := []string{"info", "info", "info", "warn", "error"}
	for s := 0; s < sources; s++ {
		src := &causeway.Source{IncidentID: inc.ID, Name: fmt.Sprintf("logs/s%d.log", s), Kind: causeway.KindLog}
		lines := make([]causeway.Line, batch)
		for i := 0; i < n/sources; i += batch {
			for j := range lines {
				k := i + j
				lines[j] = causeway.Line{Seq: int64(k), Time: inc.WindowStart.Add(time.Duration(k) * 21 * time.Millisecond * sources),
					Kind: causeway.LineLog, Text: fmt.Sprintf("GET /api/v1/items/%d 200 %dms", k, k%97),
					Attrs: map[string]string{"level": levels[k%len(levels)], "pod": "web-1"}}
			}
			if err := db.WriteLines(ctx, src, lines); err != nil {
				b.Fatal(err)
			}
		}
	}
	q := store.TimelineQuery{From: inc.WindowStart, To: inc.WindowEnd, Bucket: time.Minute}
	b.Run("timeline", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Timeline(ctx, inc.ID, q); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("baseline-line-count", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.LineCount(ctx, inc.ID); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
