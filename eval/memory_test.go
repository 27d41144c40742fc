package eval

import (
	"context"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway/memory"
	"github.com/causeway-rca/causeway/store"
)

// TestRunMemory replays one bundle as three cases with the builtin model:
// the first and last hit their root cause, the middle one is scored
// against keywords no answer has, so it misses and is never confirmed.
// With memory off nothing is recalled; with it on, each case recalls only
// the root causes confirmed by earlier cases, the builtin's answers stay
// the same, and the run leaves nothing behind in the database.
func TestRunMemory(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	svc.Memory = memory.New(svc.DB, nil)
	loaded, err := LoadCases("testdata/small")
	if err != nil {
		t.Fatal(err)
	}
	base := loaded[0]
	miss := *base.Expected
	miss.RootCauseKeywords = [][]string{{"no-answer-says-this"}}
	cases := []Case{base, base, base}
	cases[0].ID, cases[1].ID, cases[2].ID = "a-first", "b-unconfirmed", "c-last"
	cases[1].Expected = &miss

	var passes []bool // Progress.Memory, each time it changes
	r := &Runner{Service: svc, SkipControls: true, Progress: func(p Progress) {
		if len(passes) == 0 || passes[len(passes)-1] != p.Memory {
			passes = append(passes, p.Memory)
		}
	}}
	rep, err := r.RunMemory(ctx, "testdata/small", cases)
	if err != nil {
		t.Fatal(err)
	}
	if len(passes) != 2 || passes[0] || !passes[1] {
		t.Errorf("progress passes %v, want memory off then on", passes)
	}
	if len(rep.Cases) != 3 {
		t.Fatalf("%d compared runs, want 3", len(rep.Cases))
	}
	for _, res := range rep.Off.Cases {
		if len(res.Prior) > 0 || res.Confirmed {
			t.Errorf("memory off: %s recalled %d items, confirmed %v", res.ID, len(res.Prior), res.Confirmed)
		}
	}
	byCase := map[string]MemoryCase{}
	for _, c := range rep.Cases {
		byCase[c.ID] = c
		if c.Error != "" {
			t.Fatalf("%s: %s", c.ID, c.Error)
		}
		if c.RootCauseHitOff != c.RootCauseHitOn {
			t.Errorf("%s: root cause hit %v off, %v on; the builtin does not read prior knowledge", c.ID, c.RootCauseHitOff, c.RootCauseHitOn)
		}
	}
	wantConfirmed := map[string]bool{"a-first": true, "b-unconfirmed": false, "c-last": true}
	wantFrom := map[string][]string{"a-first": nil, "b-unconfirmed": {"a-first"}, "c-last": {"a-first"}}
	for id, want := range wantConfirmed {
		t.Run(id, func(t *testing.T) {
			c := byCase[id]
			if c.Confirmed != want {
				t.Errorf("confirmed %v, want %v (root cause hit %v)", c.Confirmed, want, c.RootCauseHitOn)
			}
			var from []string
			for _, p := range c.Prior {
				if p.Kind == store.MemoryIncident {
					from = append(from, p.FromCase)
				}
			}
			if strings.Join(from, ",") != strings.Join(wantFrom[id], ",") {
				t.Errorf("recalled past incidents from cases %q, want %q (prior %+v)", from, wantFrom[id], c.Prior)
			}
			if c.FromEarlier != len(wantFrom[id]) {
				t.Errorf("from earlier %d, want %d", c.FromEarlier, len(wantFrom[id]))
			}
		})
	}
	if tot := rep.Total; tot.Runs != 3 || tot.Confirmed != 2 || tot.FromEarlier != 2 || tot.Gained != 0 || tot.Lost != 0 {
		t.Errorf("total %+v, want 3 runs, 2 confirmed, 2 recalled from earlier cases, nothing gained or lost", tot)
	}

	hits, err := svc.Memory.Search(ctx, memory.Query{Text: base.Expected.RootCause, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 0 {
		t.Errorf("%d memory items left after the run, want none (its incidents are deleted)", len(hits))
	}

	var md strings.Builder
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| root cause | 2 / 3 | 2 / 3 |", "| b-unconfirmed | builtin |", "from case a-first"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown report lacks %q:\n%s", want, md.String())
		}
	}
}

// TestRunMemoryNeedsMemory refuses a memory run on a service without one,
// rather than reporting a comparison of two identical passes.
func TestRunMemoryNeedsMemory(t *testing.T) {
	r := &Runner{Service: newService(t)}
	if _, err := r.RunMemory(context.Background(), "x", nil); err == nil {
		t.Fatal("a memory run without a memory succeeded")
	}
}
