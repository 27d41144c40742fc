package store_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store"
	"github.com/causeway-rca/causeway/store/storetest"
)

// unit returns a unit vector of dim pointing mostly along axis.
func unit(dim, axis int, noise float64, r *rand.Rand) []float32 {
	v := make([]float64, dim)
	v[axis%dim] = 1
	var n float64
	for i := range v {
		v[i] += noise * r.NormFloat64()
		n += v[i] * v[i]
	}
	out := make([]float32, dim)
	for i := range v {
		out[i] = float32(v[i] / math.Sqrt(n))
	}
	return out
}

func putItems(t *testing.T, db *store.DB, kind string, n int, incidentID int64) []*store.MemoryItem {
	t.Helper()
	items := make([]*store.MemoryItem, n)
	for i := range items {
		items[i] = &store.MemoryItem{Kind: kind, Key: fmt.Sprintf("%s:%d:%d", kind, incidentID, i), Title: fmt.Sprintf("item %d", i),
			Body: "body", Hash: "h1", IncidentID: incidentID}
		if err := db.PutMemoryItem(context.Background(), items[i]); err != nil {
			t.Fatal(err)
		}
	}
	return items
}

// TestSearchMemoryUsesHNSW: the search of an embedder's space is planned
// on that embedder's partial HNSW index, not a scan of every vector.
func TestSearchMemoryUsesHNSW(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	const dim = 16
	r := rand.New(rand.NewPCG(1, 2))
	items := putItems(t, db, store.MemoryDoc, 300, 0)
	vecs := make([][]float32, len(items))
	for i := range vecs {
		vecs[i] = unit(dim, i, 0.3, r)
	}
	if err := db.EnsureMemoryIndex(ctx, "test-a", dim); err != nil {
		t.Fatal(err)
	}
	if err := db.EnsureMemoryIndex(ctx, "test-a", dim); err != nil {
		t.Fatalf("second EnsureMemoryIndex: %v", err)
	}
	if err := db.PutEmbeddings(ctx, "test-a", dim, items, vecs); err != nil {
		t.Fatal(err)
	}
	q := store.MemoryQuery{Embedder: "test-a", Vector: unit(dim, 3, 0, r), Limit: 5}
	for _, noSeq := range []bool{false, true} {
		plan, err := db.ExplainMemorySearch(ctx, q, noSeq)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, "memory_vectors_hnsw_") {
			if noSeq {
				t.Fatalf("plan with enable_seqscan off does not use the HNSW index:\n%s", plan)
			}
			t.Logf("plan without hints does not use the HNSW index (small table):\n%s", plan)
		}
	}
	hits, err := db.SearchMemory(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 5 {
		t.Fatalf("got %d hits, want 5", len(hits))
	}
	// Items along axis 3 are 3, 19, 35... (i % 16 == 3).
	for _, h := range hits {
		var n int
		if _, err := fmt.Sscanf(h.Title, "item %d", &n); err != nil || n%dim != 3 {
			t.Errorf("hit %q (score %.3f) is not along the query's axis", h.Title, h.Score)
		}
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score > hits[i-1].Score {
			t.Errorf("hits not in order of similarity: %.3f after %.3f", hits[i].Score, hits[i-1].Score)
		}
	}
}

// TestSearchMemoryKeepsSpacesApart: vectors of another embedder, of stale
// item versions, of the excluded incident and of other kinds are never
// returned.
func TestSearchMemoryKeepsSpacesApart(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	inc := newIncident(t, db, "mem")
	r := rand.New(rand.NewPCG(3, 4))
	docs := putItems(t, db, store.MemoryDoc, 3, 0)
	own := putItems(t, db, store.MemoryDoc, 1, inc.ID)
	past := putItems(t, db, store.MemoryIncident, 2, 0)
	all := append(append(append([]*store.MemoryItem{}, docs...), own...), past...)
	vecs := make([][]float32, len(all))
	for i := range vecs {
		vecs[i] = unit(8, 0, 0.1, r) // all close to the query
	}
	if err := db.PutEmbeddings(ctx, "space-a", 8, all, vecs); err != nil {
		t.Fatal(err)
	}
	// Another embedder of another dimension has only the first doc.
	if err := db.PutEmbeddings(ctx, "space-b", 4, all[:1], [][]float32{{1, 0, 0, 0}}); err != nil {
		t.Fatal(err)
	}
	// A changed item loses its vectors until it is embedded again.
	docs[1].Hash = "h2"
	if err := db.PutMemoryItem(ctx, docs[1]); err != nil {
		t.Fatal(err)
	}

	search := func(q store.MemoryQuery) []string {
		t.Helper()
		hits, err := db.SearchMemory(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, h := range hits {
			keys = append(keys, h.Key)
		}
		return keys
	}
	q := unit(8, 0, 0, r)
	tests := []struct {
		name  string
		q     store.MemoryQuery
		want  int
		never []string
	}{
		{"every kind", store.MemoryQuery{Embedder: "space-a", Vector: q, Limit: 10}, 5, []string{docs[1].Key}},
		{"excluding the incident's own docs", store.MemoryQuery{Embedder: "space-a", Vector: q, Limit: 10, ExcludeIncident: inc.ID}, 4, []string{own[0].Key, docs[1].Key}},
		{"incidents only", store.MemoryQuery{Embedder: "space-a", Vector: q, Limit: 10, Kinds: []string{store.MemoryIncident}}, 2, []string{docs[0].Key}},
		{"other space", store.MemoryQuery{Embedder: "space-b", Vector: []float32{1, 0, 0, 0}, Limit: 10}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := search(tt.q)
			if len(got) != tt.want {
				t.Errorf("got %d hits %v, want %d", len(got), got, tt.want)
			}
			for _, k := range got {
				for _, n := range tt.never {
					if k == n {
						t.Errorf("hit %s should not be returned", k)
					}
				}
			}
		})
	}
	todo, err := db.MemoryItemsToEmbed(ctx, "space-a", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(todo) != 1 || todo[0].Key != docs[1].Key {
		t.Errorf("items to embed in space-a: %d, want only the changed %s", len(todo), docs[1].Key)
	}
	if _, err := db.SearchMemory(ctx, store.MemoryQuery{Embedder: "x'; DROP TABLE memory_items; --", Vector: q}); causeway.ErrorCode(err) != causeway.EINVALID {
		t.Errorf("embedder name with a quote: error %v, want invalid", err)
	}
	if err := db.PutEmbeddings(ctx, "space-a", 8, all[:1], [][]float32{{1, 0}}); err == nil {
		t.Error("a vector of the wrong dimension was stored")
	}
}

func TestFeedback(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	inc := newIncident(t, db, "fb")
	inv := &causeway.Investigation{IncidentID: inc.ID, Question: "why?", Budget: 1000, Model: "builtin"}
	if err := db.CreateInvestigation(ctx, inv); err != nil {
		t.Fatal(err)
	}
	if _, err := db.InvestigationFeedback(ctx, inv.ID); causeway.ErrorCode(err) != causeway.ENOTFOUND {
		t.Fatalf("feedback before any: %v, want not found", err)
	}
	for _, v := range []string{store.FeedbackCorrect, store.FeedbackWrong} {
		if err := db.SetFeedback(ctx, &store.Feedback{InvestigationID: inv.ID, Verdict: v, Author: "ana"}); err != nil {
			t.Fatal(err)
		}
		f, err := db.InvestigationFeedback(ctx, inv.ID)
		if err != nil || f.Verdict != v || f.Author != "ana" {
			t.Fatalf("feedback = %+v, %v; want %s by ana", f, err, v)
		}
	}
	if err := db.SetFeedback(ctx, &store.Feedback{InvestigationID: inv.ID, Verdict: "maybe"}); causeway.ErrorCode(err) != causeway.EINVALID {
		t.Errorf("verdict maybe: %v, want invalid", err)
	}
	if err := db.SetFeedback(ctx, &store.Feedback{InvestigationID: inv.ID + 100, Verdict: "correct"}); causeway.ErrorCode(err) != causeway.ENOTFOUND {
		t.Errorf("unknown investigation: %v, want not found", err)
	}
}
