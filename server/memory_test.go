package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/memory"
	"github.com/causeway-rca/causeway/store"
)

type similar struct {
	Items []investigate.Prior `json:"items"`
}

// TestMemoryEndpoints: a runbook posted to /v1/docs and a root cause
// confirmed through /v1/investigations/{id}/feedback are what the next
// incident's similar items show; an answer marked wrong is not.
func TestMemoryEndpoints(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	e.svc.Memory = memory.New(e.db, nil)

	var doc memory.DocResult
	e.call("POST", "/v1/docs", `{"name":"runbooks/node-disk.md","markdown":"# Node disk\n\n## Disk full on a node\n\nWrites fail with no space left on device when image builds fill the node disk; prune images with crictl rmi --prune.\n\n## Unrelated\n\nRotate the TLS certificates yearly.\n"}`, 200, &doc)
	if doc.Sections != 2 || doc.Embedded != 2 {
		t.Fatalf("POST /v1/docs = %+v, want 2 sections embedded", doc)
	}
	e.call("POST", "/v1/docs", `{"name":"x.md"}`, 400, nil)

	first := e.importExample()
	out, err := e.svc.Run(ctx, first, investigate.Request{Budget: 64000})
	if err != nil {
		t.Fatal(err)
	}
	id := out.Investigation.ID
	// The bundle's own runbook is evidence, not prior knowledge; of the
	// posted one, the disk section ranks first.
	if len(out.Prior) == 0 || !strings.Contains(out.Prior[0].Title, "Disk full on a node") {
		t.Fatalf("the investigation recalled %+v, want the posted disk runbook section first", out.Prior)
	}

	// Wrong answers are not remembered.
	e.call("POST", fmt.Sprintf("/v1/investigations/%d/feedback", id), `{"verdict":"wrong","note":"not it"}`, 200, nil)
	second, _, err := e.svc.ImportBundle(ctx, exampleBundle, investigate.ImportOptions{Key: "aibrix-again"})
	if err != nil {
		t.Fatal(err)
	}
	next, err := e.svc.Run(ctx, second, investigate.Request{Budget: 64000})
	if err != nil {
		t.Fatal(err)
	}
	var got similar
	e.call("GET", fmt.Sprintf("/v1/investigations/%d/similar", next.Investigation.ID), "", 200, &got)
	for _, p := range got.Items {
		if p.Kind == store.MemoryIncident {
			t.Errorf("an answer marked wrong is in memory: %+v", p)
		}
		if p.Kind == store.MemoryDoc && p.IncidentID == second.ID {
			t.Errorf("the incident's own doc is offered as prior knowledge: %+v", p)
		}
	}
	// The first incident's bundle runbook was indexed for later incidents.
	if !hasPrior(got.Items, func(p investigate.Prior) bool { return p.Kind == store.MemoryDoc && p.IncidentID == first.ID }) {
		t.Errorf("the first incident's bundle docs are not offered to the second: %+v", got.Items)
	}

	// Confirmed answers are.
	var fb store.Feedback
	e.call("POST", fmt.Sprintf("/v1/investigations/%d/feedback", id), `{"verdict":"correct"}`, 200, &fb)
	if fb.Verdict != store.FeedbackCorrect || fb.Author == "" {
		t.Errorf("feedback = %+v, want correct with its author", fb)
	}
	e.call("GET", fmt.Sprintf("/v1/investigations/%d/similar", next.Investigation.ID), "", 200, &got)
	if !hasPrior(got.Items, func(p investigate.Prior) bool { return p.Kind == store.MemoryIncident && p.InvestigationID == id }) {
		t.Errorf("the confirmed root cause is not similar to the same incident replayed: %+v", got.Items)
	}

	e.call("POST", fmt.Sprintf("/v1/investigations/%d/feedback", id), `{"verdict":"maybe"}`, 400, nil)
	e.call("POST", fmt.Sprintf("/v1/investigations/%d/feedback", id+1000), `{"verdict":"correct"}`, 404, nil)
	e.call("GET", fmt.Sprintf("/v1/investigations/%d/similar", id+1000), "", 404, nil)
}

func hasPrior(ps []investigate.Prior, f func(investigate.Prior) bool) bool {
	for _, p := range ps {
		if f(p) {
			return true
		}
	}
	return false
}

// TestMemoryOff: without a memory, documents are refused with 409 and
// feedback is still recorded.
func TestMemoryOff(t *testing.T) {
	e := newEnv(t, nil)
	e.call("POST", "/v1/docs", `{"name":"a.md","markdown":"# A\n\ntext\n"}`, 409, nil)
	inc := e.importExample()
	out, err := e.svc.Run(context.Background(), inc, investigate.Request{Budget: 64000})
	if err != nil {
		t.Fatal(err)
	}
	e.call("POST", fmt.Sprintf("/v1/investigations/%d/feedback", out.Investigation.ID), `{"verdict":"correct"}`, 200, nil)
	if f, err := e.db.InvestigationFeedback(context.Background(), out.Investigation.ID); err != nil || f.Verdict != store.FeedbackCorrect {
		t.Errorf("feedback without memory: %+v, %v", f, err)
	}
}
