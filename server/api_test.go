package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt/modeltest"
)

// TestLifecycle is what a runbook does, request by request: upload a
// bundle, start an investigation with an Idempotency-Key, stream its
// progress and the model's tokens, read the verified answer, open a cited
// line, and retry the POST safely.
func TestLifecycle(t *testing.T) {
	ms := modeltest.New(t, modeltest.WithChunkSize(7))
	ms.Handle(citingReply("no space left on device"))
	e := newEnv(t, nil, withRemote(t, ms))

	var imported struct {
		Incident struct {
			causeway.Incident
			Sources []causeway.Source
			Lines   int64
		}
	}
	resp, body := e.request("POST", "/v1/incidents/import?key=aibrix", bytes.NewReader(tarGz(t, exampleBundle, "aibrix")),
		"Content-Type", "application/gzip")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("import: %d %s", resp.StatusCode, body)
	}
	json.Unmarshal(body, &imported)
	inc := imported.Incident
	if inc.ID == 0 || inc.Lines == 0 || len(inc.Sources) == 0 || inc.WindowStart.IsZero() {
		t.Fatalf("imported incident %+v", inc)
	}

	req := fmt.Sprintf(`{"incident_id": %d, "question": "Why did requests fail?", "budget_tokens": 100000, "model": "remote"}`, inc.ID)
	var created investigation
	resp = e.call("POST", "/v1/investigations", req, http.StatusAccepted, &created, "Idempotency-Key", "alert-4711")
	if created.ID == 0 || resp.Header.Get("Location") != created.Links["self"] {
		t.Fatalf("created %+v, Location %q", created, resp.Header.Get("Location"))
	}

	stream := e.stream(created.Links["events"])
	if ct := stream.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events Content-Type %q", ct)
	}
	evs := readEvents(t, stream.Body, func(ev sseEvent) bool { return ev.Type == "end" })
	var types []string
	var streamed strings.Builder
	for _, ev := range evs {
		if len(types) == 0 || types[len(types)-1] != ev.Type {
			types = append(types, ev.Type)
		}
		if ev.Type == "token" {
			var d struct{ Text string }
			json.Unmarshal([]byte(ev.Data), &d)
			streamed.WriteString(d.Text)
		}
	}
	if got := strings.Join(types, ","); got != "status,packed,status,token,status,end" {
		t.Errorf("event types %s, want status(packing),packed,status(asking),token...,status(verifying),end", got)
	}

	inv := e.investigation(created.ID)
	if inv.Status != causeway.StatusDone || inv.Verdict == nil || inv.Verdict.Total == 0 || inv.Verdict.Verified != inv.Verdict.Total {
		t.Fatalf("investigation %s (%s), verdict %+v", inv.Status, inv.Error, inv.Verdict)
	}
	if reqs := ms.Requests(); len(reqs) != 1 || !reqs[0].Stream {
		t.Fatalf("model got %d requests (stream %v), want one streamed", len(reqs), len(reqs) > 0 && reqs[0].Stream)
	}
	if streamed.String() == "" || !strings.Contains(streamed.String(), inv.Answer.RootCause) {
		t.Errorf("streamed tokens %q do not carry the answer %q", streamed.String(), inv.Answer.RootCause)
	}
	if inv.Usage.PromptTokens == 0 || inv.Usage.ContextTokens == 0 || inv.Timings.TotalMS < inv.Timings.PackMS || inv.Attempts != 1 {
		t.Errorf("usage %+v, timings %+v, attempts %d", inv.Usage, inv.Timings, inv.Attempts)
	}

	cited := inv.Verdict.Citations[0]
	var line struct {
		Line  string
		Lines []causeway.Line
	}
	e.call("GET", fmt.Sprintf("/v1/incidents/%d/lines/%s?context=20", inc.ID, cited.ID), "", 200, &line)
	var found bool
	for _, l := range line.Lines {
		found = found || l.ID() == cited.ID && strings.Contains(l.Text, "no space left on device")
	}
	if !found || len(line.Lines) < 2 {
		t.Errorf("context of %s: %d lines, cited line present %v", cited.ID, len(line.Lines), found)
	}

	// The runbook's retry of the same request gets the same investigation.
	var again investigation
	resp = e.call("POST", "/v1/investigations", req, http.StatusOK, &again, "Idempotency-Key", "alert-4711")
	if again.ID != created.ID || resp.Header.Get("Idempotent-Replayed") != "true" || again.Status != causeway.StatusDone {
		t.Errorf("replay gave investigation %d (%s), header %q; want %d", again.ID, again.Status, resp.Header.Get("Idempotent-Replayed"), created.ID)
	}
	// The same key for another request is refused, not confused.
	other := fmt.Sprintf(`{"incident_id": %d, "question": "Something else?", "model": "remote"}`, inc.ID)
	var conflict struct{ Error, Detail string }
	e.call("POST", "/v1/investigations", other, http.StatusConflict, &conflict, "Idempotency-Key", "alert-4711")
	if conflict.Error != causeway.ECONFLICT || !strings.Contains(conflict.Detail, "Idempotency-Key") {
		t.Errorf("reused key: %+v", conflict)
	}
	if n := len(ms.Requests()); n != 1 {
		t.Errorf("the model was asked %d times, want 1: retries must not start investigations", n)
	}

	resp, metrics := e.request("GET", "/metrics", nil, "Authorization", "")
	for _, want := range []string{
		`causeway_investigations{status="done"} 1`,
		`causeway_model_tokens_total{model="test-model",type="prompt"}`,
		`causeway_pack_seconds_count 1`,
		`causeway_http_request_duration_seconds_count{code="202",method="POST",route="/v1/investigations"} 1`,
	} {
		if resp.StatusCode != 200 || !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics (%d) lacks %s", resp.StatusCode, want)
		}
	}
}

// TestEventsResume reconnects to an event stream the way EventSource does,
// with Last-Event-ID, and gets the rest without repeats; once the stream
// has ended, a reconnect is told 204 to stop.
func TestEventsResume(t *testing.T) {
	e := newEnv(t, nil)
	inc := e.importExample()
	var created investigation
	e.call("POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d}`, inc.ID), http.StatusAccepted, &created)
	e.wait(created.ID)

	all := readEvents(t, e.stream(created.Links["events"]).Body, nil)
	if len(all) < 4 || all[len(all)-1].Type != "end" {
		t.Fatalf("events %+v", all)
	}
	first := readEvents(t, e.stream(created.Links["events"]).Body, func(sseEvent) bool { return true })
	rest := readEvents(t, e.stream(created.Links["events"], "Last-Event-ID", fmt.Sprint(first[0].ID)).Body, nil)
	if len(rest) != len(all)-1 || rest[0].ID != all[1].ID || rest[len(rest)-1].Type != "end" {
		t.Errorf("resumed after %d: %d events from %d, want %d from %d", first[0].ID, len(rest), rest[0].ID, len(all)-1, all[1].ID)
	}
	var end struct {
		Status             string
		Verified, Citation int
	}
	json.Unmarshal([]byte(all[len(all)-1].Data), &end)
	if end.Status != causeway.StatusDone {
		t.Errorf("end event %s", all[len(all)-1].Data)
	}
	resp := e.stream(created.Links["events"], "Last-Event-ID", fmt.Sprint(all[len(all)-1].ID))
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusNoContent {
		t.Errorf("reconnect after the end: %d %s, want 204", resp.StatusCode, b)
	}
}
