package memory_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/memory"
	"github.com/causeway-rca/causeway/store"
	"github.com/causeway-rca/causeway/store/storetest"
)

// labelled is one eval incident: its title and question (what a new
// investigation starts from) and its expected root cause (what a confirmed
// answer remembers).
type labelled struct {
	id, title, question, rootCause string
}

func loadLabelled(t *testing.T) []labelled {
	t.Helper()
	dirs, err := filepath.Glob("../eval/incidents/*/expected.yaml")
	if err != nil || len(dirs) < 6 {
		t.Fatalf("eval incidents: %d found, %v", len(dirs), err)
	}
	var out []labelled
	for _, p := range dirs {
		dir := filepath.Dir(p)
		var spec struct{ ID, Title, Question string }
		var exp struct {
			RootCause string `yaml:"root_cause"`
		}
		for f, v := range map[string]any{"incident.yaml": &spec, "expected.yaml": &exp} {
			raw, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(raw, v); err != nil {
				t.Fatalf("%s/%s: %v", dir, f, err)
			}
		}
		out = append(out, labelled{filepath.Base(dir), spec.Title, spec.Question, exp.RootCause})
	}
	return out
}

// confirm stores an incident and an investigation whose answer is its
// expected root cause, and confirms it.
// With bare set, only the root cause is remembered (no title, no
// question), so that a search by title and question must match what the
// root cause says.
func confirm(t *testing.T, m *memory.Memory, c labelled, bare bool) (*causeway.Incident, *causeway.Investigation) {
	t.Helper()
	ctx := context.Background()
	title, question := c.title, c.question
	if bare {
		title, question = "", ""
	}
	inc := &causeway.Incident{Key: c.id, Title: title, Question: question,
		WindowStart: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), WindowEnd: time.Date(2025, 1, 1, 1, 0, 0, 0, time.UTC)}
	if err := m.DB.CreateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	inv := &causeway.Investigation{IncidentID: inc.ID, Question: question, Budget: 1000, Model: "builtin"}
	if err := m.DB.CreateInvestigation(ctx, inv); err != nil {
		t.Fatal(err)
	}
	inv.Status = causeway.StatusDone
	inv.Answer = &causeway.Answer{RootCause: c.rootCause}
	if err := m.DB.FinishInvestigation(ctx, inv, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Confirm(ctx, inc, inv); err != nil {
		t.Fatal(err)
	}
	return inc, inv
}

// TestSimilarIncidentsTopK: with the six eval incidents' expected root
// causes confirmed (the root cause text alone), each incident's title and
// question finds its own root cause first among the six.
func TestSimilarIncidentsTopK(t *testing.T) {
	ctx := context.Background()
	m := memory.New(storetest.MustOpenDB(t), nil)
	cases := loadLabelled(t)
	byKey := map[string]string{}
	for _, c := range cases {
		_, inv := confirm(t, m, c, true)
		byKey[memory.IncidentKey(inv.ID)] = c.id
	}
	top1, top3 := 0, 0
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			hits, err := m.Search(ctx, memory.Query{Text: c.title + "\n" + c.question, Kinds: []string{store.MemoryIncident}, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, h := range hits {
				got = append(got, byKey[h.Key])
				if byKey[h.Key] == c.id {
					top3++
					if i == 0 {
						top1++
					}
				}
			}
			if len(got) == 0 || got[0] != c.id {
				t.Errorf("top 3 for %s = %v, want it first", c.id, got)
			}
		})
	}
	t.Logf("top-1 %d/%d, top-3 %d/%d", top1, len(cases), top3, len(cases))
}

// TestReembedOnEmbedderChange: a memory embedded with one embedder is
// re-embedded with the new one, searches in the new space find the same
// items, and the old space's vectors go once the new space is complete.
func TestReembedOnEmbedderChange(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	old := memory.New(db, memory.Local{Dimensions: 64})
	cases := loadLabelled(t)
	for _, c := range cases {
		confirm(t, old, c, false)
	}
	if _, err := old.AddDoc(ctx, "runbooks/disk.md", "# Disk\n\n## Node disk full\n\nFree space with crictl rmi --prune.\n", 0); err != nil {
		t.Fatal(err)
	}
	all, done, err := db.MemoryCounts(ctx, old.Embedder.Name())
	if err != nil || all != int64(len(cases)+1) || done != all {
		t.Fatalf("old space: %d of %d embedded (%v), want all %d", done, all, err, len(cases)+1)
	}

	cur := memory.New(db, memory.Local{Dimensions: 256})
	cur.Batch = 3 // several batches
	q := memory.Query{Text: "kind node disk is full, no space left on device", Limit: 1}
	if hits, err := cur.Search(ctx, q); err != nil || len(hits) != 0 {
		t.Fatalf("before re-embedding the new space has %d hits (%v); want none, never the old space's", len(hits), err)
	}
	var calls int
	n, err := cur.Reembed(ctx, func(done, todo int64) { calls++ })
	if err != nil || n != len(cases)+1 || calls != 3 {
		t.Fatalf("re-embedded %d items in %d batches (%v), want %d in 3", n, calls, err, len(cases)+1)
	}
	hits, err := cur.Search(ctx, q)
	if err != nil || len(hits) != 1 || !strings.Contains(hits[0].Title, "Node disk full") {
		t.Fatalf("after re-embedding: %+v (%v), want the disk runbook section", hits, err)
	}
	if err := cur.Background(ctx); err != nil {
		t.Fatal(err)
	}
	if _, done, _ := db.MemoryCounts(ctx, old.Embedder.Name()); done != 0 {
		t.Errorf("old space still has %d vectors after the background run", done)
	}
	if _, done, _ := db.MemoryCounts(ctx, cur.Embedder.Name()); done != int64(len(cases)+1) {
		t.Errorf("new space has %d vectors, want %d", done, len(cases)+1)
	}
}

// TestAddDoc: a document is stored by section with its titles, found by
// what its section says, and adding it again changed replaces its
// sections.
func TestAddDoc(t *testing.T) {
	ctx := context.Background()
	m := memory.New(storetest.MustOpenDB(t), nil)
	v1 := "# Mesh runbook\n\nIntro.\n\n## Certificates\n\nAn expired intermediate CA in cacerts breaks every mTLS handshake.\n\n" +
		"## Connection pool\n\nDestinationRule connectionPool maxConnections limits cause overflow 503s (UO).\n"
	res, err := m.AddDoc(ctx, "mesh.md", v1, 0)
	if err != nil || res.Sections != 3 || res.Embedded != 3 {
		t.Fatalf("AddDoc = %+v, %v; want 3 sections embedded", res, err)
	}
	hits, err := m.Search(ctx, memory.Query{Text: "503 overflow between checkout and payments after maxConnections change", Limit: 1})
	if err != nil || len(hits) != 1 || hits[0].Title != "Mesh runbook › Connection pool" {
		t.Fatalf("search = %+v, %v; want the connection pool section", hits, err)
	}
	v2 := "# Mesh runbook\n\n## Certificates\n\nRotate cacerts before notAfter.\n"
	res, err = m.AddDoc(ctx, "mesh.md", v2, 0)
	if err != nil || res.Sections != 1 || res.Removed != 2 || res.Embedded != 1 {
		t.Fatalf("AddDoc again = %+v, %v; want 1 section, 2 removed, 1 re-embedded", res, err)
	}
	hits, err = m.Search(ctx, memory.Query{Text: "connection pool overflow", Limit: 5})
	if err != nil || len(hits) != 1 || !strings.Contains(hits[0].Body, "Rotate cacerts") {
		t.Fatalf("after the update: %+v, %v; want only the new certificates section", hits, err)
	}
}

// TestOnlyConfirmedRootCauses: an investigation feeds the similar-incident
// memory only once confirmed, and leaves it when forgotten.
func TestOnlyConfirmedRootCauses(t *testing.T) {
	ctx := context.Background()
	m := memory.New(storetest.MustOpenDB(t), nil)
	c := loadLabelled(t)[0]
	q := memory.Query{Text: c.question, Kinds: []string{store.MemoryIncident}, Limit: 5}
	if err := m.Confirm(ctx, &causeway.Incident{ID: 1}, &causeway.Investigation{ID: 1, Answer: &causeway.Answer{}}); causeway.ErrorCode(err) != causeway.EINVALID {
		t.Errorf("confirming an answer without a root cause: %v, want invalid", err)
	}
	_, inv := confirm(t, m, c, false)
	if hits, err := m.Search(ctx, q); err != nil || len(hits) != 1 || hits[0].InvestigationID != inv.ID {
		t.Fatalf("after confirming: %+v, %v", hits, err)
	}
	if err := m.Forget(ctx, inv.ID); err != nil {
		t.Fatal(err)
	}
	if hits, err := m.Search(ctx, q); err != nil || len(hits) != 0 {
		t.Fatalf("after forgetting: %d hits, %v; want none", len(hits), err)
	}
}
