package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store"
	"github.com/causeway-rca/causeway/store/storetest"
)

func newJobIncident(t *testing.T, db *store.DB) *causeway.Incident {
	t.Helper()
	inc := &causeway.Incident{Title: "t"}
	if err := db.CreateIncident(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
	return inc
}

func enqueue(t *testing.T, db *store.DB, incID int64, key, question string) (*store.Job, bool, error) {
	t.Helper()
	return db.Enqueue(context.Background(), &store.NewJob{
		Investigation:  &causeway.Investigation{IncidentID: incID, Question: question, Budget: 1000, Model: "builtin"},
		IdempotencyKey: key, RequestHash: question,
	})
}

// TestClaimEachJobOnce: many workers claiming at once each get different
// jobs, and every job goes to exactly one.
func TestClaimEachJobOnce(t *testing.T) {
	db := storetest.MustOpenDB(t)
	inc := newJobIncident(t, db)
	const jobs = 40
	for i := range jobs {
		if _, _, err := enqueue(t, db, inc.ID, "", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	claimed := map[int64]string{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker := fmt.Sprintf("w%d", w)
			for {
				j, err := db.Claim(context.Background(), worker, time.Minute, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if j == nil {
					return
				}
				mu.Lock()
				if prev, ok := claimed[j.Investigation.ID]; ok {
					t.Errorf("job %d claimed by %s and %s", j.Investigation.ID, prev, worker)
				}
				claimed[j.Investigation.ID] = worker
				mu.Unlock()
				if j.Investigation.Status != causeway.StatusPacking || j.Attempts != 1 || j.Worker != worker {
					t.Errorf("claimed job %+v", j)
				}
			}
		}()
	}
	wg.Wait()
	if len(claimed) != jobs {
		t.Errorf("%d jobs claimed, want %d", len(claimed), jobs)
	}
}

// TestLeaseExpiry: a job whose worker stops renewing is claimed again once
// the lease runs out; the first worker's writes are refused from then on;
// after MaxAttempts it is no longer claimed but reported as exhausted.
func TestLeaseExpiry(t *testing.T) {
	db := storetest.MustOpenDB(t)
	ctx := context.Background()
	inc := newJobIncident(t, db)
	job, _, err := enqueue(t, db, inc.ID, "", "q")
	if err != nil {
		t.Fatal(err)
	}
	id := job.Investigation.ID
	lease := 200 * time.Millisecond
	if j, _ := db.Claim(ctx, "a", lease, 2); j == nil || j.Investigation.ID != id {
		t.Fatalf("a could not claim: %v", j)
	}
	if j, _ := db.Claim(ctx, "b", lease, 2); j != nil {
		t.Fatalf("b claimed a leased job")
	}
	if _, err := db.Renew(ctx, id, "a", lease); err != nil {
		t.Fatalf("a renews: %v", err)
	}
	var j *store.Job
	for deadline := time.Now().Add(10 * time.Second); j == nil && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		j, _ = db.Claim(ctx, "b", lease, 2)
	}
	if j == nil || j.Attempts != 2 || j.Worker != "b" {
		t.Fatalf("after the lease ran out b claimed %+v", j)
	}
	if _, err := db.Renew(ctx, id, "a", lease); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("a renews a lost lease: %v", err)
	}
	inv := &causeway.Investigation{ID: id, Status: causeway.StatusDone}
	if err := db.FinishJob(ctx, inv, "a", nil); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("a finishes a lost job: %v", err)
	}
	time.Sleep(2 * lease)
	if j, _ := db.Claim(ctx, "c", lease, 2); j != nil {
		t.Errorf("a job past its attempts was claimed again")
	}
	ex, err := db.Exhausted(ctx, 2)
	if err != nil || len(ex) != 1 || ex[0].Investigation.ID != id {
		t.Fatalf("exhausted %v %v", ex, err)
	}
	if err := db.FailJob(ctx, id, ex[0].Worker, "gave up"); err != nil {
		t.Fatal(err)
	}
	got, _ := db.Job(ctx, id)
	evs, _ := db.Events(ctx, id, 0, 10)
	if got.Investigation.Status != causeway.StatusFailed || len(evs) != 1 || evs[0].Type != store.EventEnd {
		t.Errorf("after giving up: %s, events %+v", got.Investigation.Status, evs)
	}
}

func TestIdempotentEnqueue(t *testing.T) {
	db := storetest.MustOpenDB(t)
	inc := newJobIncident(t, db)
	// Concurrent retries of one request make one job.
	var wg sync.WaitGroup
	ids := make([]int64, 10)
	created := make([]bool, 10)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, c, err := enqueue(t, db, inc.ID, "k1", "why")
			if err != nil {
				t.Error(err)
				return
			}
			ids[i], created[i] = j.Investigation.ID, c
		}()
	}
	wg.Wait()
	n := 0
	for i := range ids {
		if ids[i] != ids[0] {
			t.Errorf("retry %d got job %d, want %d", i, ids[i], ids[0])
		}
		if created[i] {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d retries created a job, want 1", n)
	}
	if _, _, err := enqueue(t, db, inc.ID, "k1", "something else"); causeway.ErrorCode(err) != causeway.ECONFLICT {
		t.Errorf("reused key with another request: %v", err)
	}
	// An inline incident is created with its job, or not at all.
	before, _ := db.Incidents(context.Background(), 100)
	_, c, err := db.Enqueue(context.Background(), &store.NewJob{
		Investigation: &causeway.Investigation{Budget: 1000}, Incident: &causeway.Incident{Title: "inline"},
		IdempotencyKey: "k1", RequestHash: "why",
	})
	after, _ := db.Incidents(context.Background(), 100)
	if err != nil || c || len(after) != len(before) {
		t.Errorf("replayed inline scope: created %v, %v, incidents %d -> %d", c, err, len(before), len(after))
	}
}

func TestTokens(t *testing.T) {
	db := storetest.MustOpenDB(t)
	ctx := context.Background()
	tok, secret, err := db.CreateToken(ctx, "ci", store.ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.TokenByHash(ctx, store.HashToken(secret))
	if err != nil || got.ID != tok.ID || got.Scope != store.ScopeWrite {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	if _, _, err := db.CreateToken(ctx, "ci", store.ScopeRead); causeway.ErrorCode(err) != causeway.ECONFLICT {
		t.Errorf("second live token named ci: %v", err)
	}
	if _, _, err := db.CreateToken(ctx, "x", "root"); causeway.ErrorCode(err) != causeway.EINVALID {
		t.Errorf("scope root: %v", err)
	}
	if _, err := db.RevokeToken(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.TokenByHash(ctx, store.HashToken(secret)); causeway.ErrorCode(err) != causeway.ENOTFOUND {
		t.Errorf("revoked token still found: %v", err)
	}
	if _, _, err := db.CreateToken(ctx, "ci", store.ScopeRead); err != nil {
		t.Errorf("a revoked token's name is free again: %v", err)
	}
	if n, _ := db.LiveTokens(ctx); n != 1 {
		t.Errorf("%d live tokens, want 1", n)
	}
}
