package chunking

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store"
)

// fakeStore is a LineSink and TemplateStore that remembers what it got.
type fakeStore struct {
	mu        sync.Mutex
	lines     []causeway.Line
	fixes     map[int64][]store.TemplateFix
	refreshed []int64
	failAt    int // fail the failAt-th write (1-based); 0 never
	writes    int
}

var errWrite = errors.New("disk on fire")

func (f *fakeStore) WriteLines(_ context.Context, src *causeway.Source, lines []causeway.Line) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	if f.writes == f.failAt {
		return errWrite
	}
	src.ID = 7
	f.lines = append(f.lines, lines...)
	return nil
}

func (f *fakeStore) FixLineTemplates(_ context.Context, _, sourceID int64, fixes []store.TemplateFix) error {
	if f.fixes == nil {
		f.fixes = map[int64][]store.TemplateFix{}
	}
	f.fixes[sourceID] = append(f.fixes[sourceID], fixes...)
	return nil
}

func (f *fakeStore) RefreshTemplates(_ context.Context, _ int64, sourceIDs []int64) error {
	f.refreshed = append(f.refreshed, sourceIDs...)
	return nil
}

func batch(from, n int, text func(i int) string) []causeway.Line {
	lines := make([]causeway.Line, n)
	for i := range lines {
		lines[i] = causeway.Line{Seq: int64(from + i), Kind: causeway.LineLog, Text: text(from + i)}
	}
	return lines
}

func TestAnnotatorCountsTemplatesAndRedacts(t *testing.T) {
	for _, pipeline := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipeline=%v", pipeline), func(t *testing.T) {
			ctx := context.Background()
			tok := MustTokenizer("")
			f := &fakeStore{}
			a := Annotate(f, tok)
			a.Pipeline = pipeline
			if a.Templates == nil {
				t.Fatal("a sink that keeps templates was not used for them")
			}
			src := &causeway.Source{IncidentID: 1, Name: "logs/app.log"}
			users := []string{"alice", "bob", "carol", "dave"}
			text := func(i int) string {
				switch {
				case i == 3:
					return "connecting with password=hunter22 to db\x00"
				case i%2 == 0:
					return fmt.Sprintf("session opened for user %s by sshd", users[i/2%len(users)])
				}
				return fmt.Sprintf("GET /orders/%d 200", i)
			}
			// Three batches of 1000 lines: enough for the parallel path.
			for from := 0; from < 3000; from += 1000 {
				if err := a.WriteLines(ctx, src, batch(from, 1000, text)); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if src.ID != 7 {
				t.Errorf("the source's id is %d after Flush, want 7", src.ID)
			}
			if len(f.lines) != 3000 {
				t.Fatalf("%d lines written, want 3000", len(f.lines))
			}
			for _, l := range f.lines[:50] {
				if l.Tokens != tok.LineTokens(l.Text) || l.Template == "" {
					t.Fatalf("line %d: tokens %d (want %d), template %q", l.Seq, l.Tokens, tok.LineTokens(l.Text), l.Template)
				}
			}
			if l := f.lines[3]; l.Text != "connecting with password=<secret:1> to db" || l.Attrs["redacted"] == "" {
				t.Errorf("line 3 stored as %q, %v", l.Text, l.Attrs)
			}
			// Line 0 was stored before Drain saw "bob": it needs the general text.
			want := store.TemplateFix{From: "session opened for user alice by sshd", To: "session opened for user <*> by sshd", FirstSeq: 0, LastSeq: 0}
			if got := f.fixes[7]; !slices.Contains(got, want) {
				t.Errorf("fixes %+v lack %+v", got, want)
			}
			if !slices.Equal(f.refreshed, []int64{7}) {
				t.Errorf("refreshed sources %v, want [7]", f.refreshed)
			}
		})
	}
}

func TestAnnotatorPipelineReportsWriteErrors(t *testing.T) {
	ctx := context.Background()
	f := &fakeStore{failAt: 2}
	a := Annotate(f, MustTokenizer(""))
	a.Pipeline = true
	// Alternating sources: each change of source starts a write.
	srcs := []*causeway.Source{{IncidentID: 1, Name: "logs/a.log"}, {IncidentID: 1, Name: "logs/b.log"}}
	text := func(i int) string { return "line " + strings.Repeat("x", i%5) }
	var err error
	for k := 0; k < 6 && err == nil; k++ {
		err = a.WriteLines(ctx, srcs[k%2], batch(k/2*10, 10, text))
	}
	if err == nil {
		err = a.Flush(ctx)
	}
	if !errors.Is(err, errWrite) {
		t.Errorf("the failed write gave %v, want %v", err, errWrite)
	}
}

func TestAnnotatorPipelineGathersBatches(t *testing.T) {
	ctx := context.Background()
	f := &fakeStore{}
	a := Annotate(f, MustTokenizer(""))
	a.Pipeline = true
	src := &causeway.Source{IncidentID: 1, Name: "logs/app.log"}
	text := func(i int) string { return fmt.Sprintf("GET /orders/%d 200", i) }
	for from := 0; from < 3*gatherLines; from += 2000 {
		if err := a.WriteLines(ctx, src, batch(from, 2000, text)); err != nil {
			t.Fatal(err)
		}
	}
	empty := &causeway.Source{IncidentID: 1, Name: "logs/empty.log", Error: "unreadable"}
	if err := a.WriteLines(ctx, empty, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// 3*gatherLines lines in three writes, and one to register the empty source.
	if f.writes != 4 || len(f.lines) != 3*gatherLines {
		t.Errorf("%d writes of %d lines, want 4 writes of %d", f.writes, len(f.lines), 3*gatherLines)
	}
	for i, l := range f.lines {
		if l.Seq != int64(i) {
			t.Fatalf("line %d written as seq %d", i, l.Seq)
		}
	}
	if empty.ID != 7 {
		t.Errorf("the empty source was not registered: id %d", empty.ID)
	}
}
