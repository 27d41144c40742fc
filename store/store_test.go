package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store"
	"github.com/causeway-rca/causeway/store/storetest"
)

func newIncident(t *testing.T, db *store.DB, key string) *causeway.Incident {
	t.Helper()
	inc := &causeway.Incident{Key: key, Title: "disk full", WindowStart: time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC), WindowEnd: time.Date(2025, 8, 21, 4, 0, 0, 0, time.UTC)}
	if err := db.CreateIncident(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
	return inc
}

func someLines(n int, start time.Time) []causeway.Line {
	lines := make([]causeway.Line, n)
	for i := range lines {
		lines[i] = causeway.Line{Seq: int64(i), Time: start.Add(time.Duration(i) * time.Second), Kind: causeway.LineLog,
			Text: fmt.Sprintf("GET /healthz 200 %dms", i), Attrs: map[string]string{"pod": "web-1"}}
	}
	return lines
}

func TestWriteLinesIsIdempotentAndNumbersLines(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	inc := newIncident(t, db, "a")
	t0 := inc.WindowStart

	a := &causeway.Source{IncidentID: inc.ID, Name: "logs/a.log", Kind: causeway.KindLog}
	b := &causeway.Source{IncidentID: inc.ID, Name: "logs/b.log", Kind: causeway.KindLog}
	for round := 0; round < 2; round++ {
		if err := db.WriteLines(ctx, a, someLines(3, t0)); err != nil {
			t.Fatal(err)
		}
		if err := db.WriteLines(ctx, b, someLines(2, t0)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := db.LineCount(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("after importing twice: %d lines, want 5", n)
	}
	got, err := db.LinesByNum(ctx, inc.ID, []int64{1, 3, 4, 5, 99})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{1: "logs/a.log#0", 3: "logs/a.log#2", 4: "logs/b.log#0", 5: "logs/b.log#1"}
	if len(got) != len(want) {
		t.Fatalf("LinesByNum returned %d lines, want %d (L99 must be absent)", len(got), len(want))
	}
	for num, w := range want {
		l := got[num]
		if g := fmt.Sprintf("%s#%d", l.Source, l.Seq); g != w {
			t.Errorf("%s = %s, want %s", causeway.LineID(num), g, w)
		}
		if l.Attrs["pod"] != "web-1" {
			t.Errorf("%s lost its attributes: %v", causeway.LineID(num), l.Attrs)
		}
	}
	srcs, err := db.Sources(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 2 || srcs[0].Lines != 3 || srcs[1].Lines != 2 {
		t.Fatalf("sources = %+v, want a.log with 3 lines and b.log with 2", srcs)
	}
}

func TestWriteLinesKeepsBadTextStorable(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	inc := newIncident(t, db, "bad")
	src := &causeway.Source{IncidentID: inc.ID, Name: "logs/bad.log", Kind: causeway.KindLog}
	lines := []causeway.Line{
		{Seq: 0, Kind: causeway.LineLog, Text: "nul\x00byte"},
		{Seq: 1, Kind: causeway.LineLog, Text: "bad \xff\xfe utf8"},
		{Seq: 1, Kind: causeway.LineLog, Text: "duplicate seq in one batch"},
	}
	if err := db.WriteLines(ctx, src, lines); err != nil {
		t.Fatal(err)
	}
	got, err := db.LinesByNum(ctx, inc.ID, []int64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("stored %d lines, want 2", len(got))
	}
	if got[1].Text != "nulbyte" || got[2].Text != "bad \uFFFD utf8" {
		t.Errorf("texts = %q, %q", got[1].Text, got[2].Text)
	}
	if !got[1].Time.IsZero() {
		t.Errorf("a line without a time got %v", got[1].Time)
	}
}

func TestScanLinesAndContext(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	inc := newIncident(t, db, "scan")
	src := &causeway.Source{IncidentID: inc.ID, Name: "logs/a.log", Kind: causeway.KindLog}
	if err := db.WriteLines(ctx, src, someLines(100, inc.WindowStart)); err != nil {
		t.Fatal(err)
	}
	var seen int
	err := db.ScanLines(ctx, inc.ID, store.LineFilter{From: inc.WindowStart.Add(10 * time.Second), To: inc.WindowStart.Add(19 * time.Second)}, func(causeway.Line) error {
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != 10 {
		t.Errorf("window of 10 s holds %d lines, want 10", seen)
	}
	around, err := db.LineContext(ctx, inc.ID, 50, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(around) != 41 || around[20].Num != 50 {
		t.Errorf("context of L50: %d lines, middle %s", len(around), around[20].ID())
	}
	if _, err := db.LineContext(ctx, inc.ID, 5000, 20); causeway.ErrorCode(err) != causeway.ENOTFOUND {
		t.Errorf("context of a missing line: %v, want not found", err)
	}
}

func TestIncidentKeyConflictAndWindow(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	newIncident(t, db, "dup")
	err := db.CreateIncident(ctx, &causeway.Incident{Key: "dup"})
	if causeway.ErrorCode(err) != causeway.ECONFLICT {
		t.Errorf("second incident with the same key: %v, want conflict", err)
	}
	bad := &causeway.Incident{WindowStart: time.Now(), WindowEnd: time.Now().Add(-time.Hour)}
	if err := db.CreateIncident(ctx, bad); causeway.ErrorCode(err) != causeway.EINVALID {
		t.Errorf("window ending before it starts: %v, want invalid", err)
	}
	if _, err := db.Incident(ctx, 424242); !errors.As(err, new(*causeway.Error)) {
		t.Errorf("missing incident: %v", err)
	}
}

func TestInvestigationRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	inc := newIncident(t, db, "inv")
	inv := &causeway.Investigation{IncidentID: inc.ID, Question: "why?", Budget: 1000, Model: "builtin"}
	if err := db.CreateInvestigation(ctx, inv); err != nil {
		t.Fatal(err)
	}
	inv.Status = causeway.StatusDone
	inv.Answer = &causeway.Answer{RootCause: "disk full", Claims: []causeway.Claim{{Text: "x", Citations: []causeway.Citation{{ID: "L1", Quote: "no space"}}}}}
	inv.Verdict = &causeway.Verdict{Total: 1, Verified: 1, GroundedRatio: 1}
	inv.Usage = causeway.Usage{PromptTokens: 10}
	if err := db.FinishInvestigation(ctx, inv, []int64{1, 2}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Investigation(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "done" || got.Answer.RootCause != "disk full" || got.Verdict.Verified != 1 || got.Usage.PromptTokens != 10 {
		t.Errorf("round trip lost data: %+v", got)
	}
	nums, err := db.ContextLines(ctx, inv.ID)
	if err != nil || len(nums) != 2 {
		t.Errorf("context lines = %v, %v", nums, err)
	}
}

func TestScanWindowKeepsConditionsInForce(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	inc := newIncident(t, db, "in-force")
	src := &causeway.Source{IncidentID: inc.ID, Name: "objects/routes.json", Kind: causeway.KindObjects}
	before := inc.WindowStart.Add(-12 * time.Hour)
	lines := []causeway.Line{
		{Seq: 0, Time: before, Kind: causeway.LineCondition, Text: "HTTPRoute a/r Accepted=True"},
		{Seq: 1, Time: before, Kind: causeway.LineLog, Text: "an old log line"},
		{Seq: 2, Time: inc.WindowEnd.Add(time.Hour), Kind: causeway.LineCondition, Text: "a condition set after the window"},
	}
	if err := db.WriteLines(ctx, src, lines); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := db.ScanWindow(ctx, inc, func(l causeway.Line) error { got = append(got, l.Text); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "HTTPRoute a/r Accepted=True" {
		t.Errorf("window holds %q; want only the condition in force since before it", got)
	}
}
