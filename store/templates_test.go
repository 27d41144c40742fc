package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store"
	"github.com/causeway-rca/causeway/store/storetest"
)

// templateLines are lines of two templates, one of them first written with
// an older text of its template (as Drain gives before it generalizes),
// and one line without a time.
func templateLines(t0 time.Time) []causeway.Line {
	line := func(seq int, at time.Duration, tmpl, text string) causeway.Line {
		l := causeway.Line{Seq: int64(seq), Kind: causeway.LineLog, Text: text, Template: tmpl, Tokens: 5}
		if at >= 0 {
			l.Time = t0.Add(at)
		}
		return l
	}
	return []causeway.Line{
		line(0, 0, "user alice logged in", "user alice logged in"),
		line(1, 10*time.Second, "user <*> logged in", "user bob logged in"),
		line(2, 70*time.Second, "disk full on <*>", "disk full on sda1"),
		line(3, 75*time.Second, "user <*> logged in", "user carol logged in"),
		line(4, -1, "disk full on <*>", "disk full on sdb1"),
		line(5, 130*time.Second, "user <*> logged in", "user dave logged in"),
	}
}

func TestTemplatesAreFixedCountedAndListed(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	t0 := time.Date(2025, 8, 21, 3, 0, 30, 0, time.UTC)
	inc := &causeway.Incident{Title: "templates"}
	if err := db.CreateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	src := &causeway.Source{IncidentID: inc.ID, Name: "logs/auth.log", Kind: causeway.KindLog}
	if err := db.WriteLines(ctx, src, templateLines(t0)); err != nil {
		t.Fatal(err)
	}
	// The fix names the seqs to correct; a line in range with another
	// template is left alone.
	fixes := []store.TemplateFix{{From: "user alice logged in", To: "user <*> logged in", FirstSeq: 0, LastSeq: 2}}
	if err := db.FixLineTemplates(ctx, inc.ID, src.ID, fixes); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ { // refreshing twice counts once
		if err := db.RefreshTemplates(ctx, inc.ID, []int64{src.ID}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Templates(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d templates, want 2: %+v", len(got), got)
	}
	users, disk := got[0], got[1]
	if users.Template != "user <*> logged in" || users.Lines != 4 || users.Tokens != 20 || users.FirstNum != 1 || users.Source != "logs/auth.log" {
		t.Errorf("users template: %+v", users)
	}
	if !users.FirstSeen.Equal(t0) || !users.LastSeen.Equal(t0.Add(130*time.Second)) {
		t.Errorf("users seen %s to %s", users.FirstSeen, users.LastSeen)
	}
	// Lines at 03:00:30, :40, 03:01:45 and 03:02:40: minutes 03:00, 03:01, 03:02.
	wantHist := []store.MinuteCount{{Minute: t0.Truncate(time.Minute), Lines: 2}, {Minute: t0.Truncate(time.Minute).Add(time.Minute), Lines: 1},
		{Minute: t0.Truncate(time.Minute).Add(2 * time.Minute), Lines: 1}}
	if len(users.Histogram) != len(wantHist) {
		t.Fatalf("users histogram %+v, want %+v", users.Histogram, wantHist)
	}
	for i, h := range wantHist {
		if !users.Histogram[i].Minute.Equal(h.Minute) || users.Histogram[i].Lines != h.Lines {
			t.Errorf("users histogram[%d] = %+v, want %+v", i, users.Histogram[i], h)
		}
	}
	// A line without a time counts, but has no minute.
	if disk.Template != "disk full on <*>" || disk.Lines != 2 || len(disk.Histogram) != 1 || disk.Histogram[0].Lines != 1 {
		t.Errorf("disk template: %+v", disk)
	}
}

func TestTemplatesGoWithTheirIncident(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	inc := &causeway.Incident{Title: "templates"}
	if err := db.CreateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	src := &causeway.Source{IncidentID: inc.ID, Name: "logs/auth.log", Kind: causeway.KindLog}
	if err := db.WriteLines(ctx, src, templateLines(time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := db.RefreshTemplates(ctx, inc.ID, []int64{src.ID}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteIncident(ctx, inc.ID); err != nil {
		t.Fatal(err)
	}
	got, err := db.Templates(ctx, inc.ID)
	if err != nil || len(got) != 0 {
		t.Errorf("after deleting the incident: %d templates, %v", len(got), err)
	}
}
