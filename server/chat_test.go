package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt/modeltest"
	"github.com/causeway-rca/causeway/store"
)

// TestChat asks follow-ups the way the web UI does (POST with Accept:
// text/event-stream, read with fetch): the answer streams, is verified over
// the same packed context as the investigation, and the conversation is
// kept.
func TestChat(t *testing.T) {
	ms := modeltest.New(t, modeltest.WithChunkSize(5))
	e := newEnv(t, nil, withRemote(t, ms))
	inc := e.importExample()
	var created investigation
	e.call("POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d, "budget_tokens": 100000}`, inc.ID), 202, &created)
	inv := e.wait(created.ID)

	chatPath := fmt.Sprintf("/v1/incidents/%d/chat", inc.ID)
	ms.Handle(citingReply("no space left on device"))
	resp, body := e.request("POST", chatPath, strings.NewReader(`{"message": "Which disk filled up?", "model": "remote"}`),
		"Accept", "text/event-stream")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("chat: %d %s", resp.StatusCode, body)
	}
	evs := readEvents(t, strings.NewReader(string(body)), nil)
	var types []string
	var tokens strings.Builder
	for _, ev := range evs {
		if len(types) == 0 || types[len(types)-1] != ev.Type {
			types = append(types, ev.Type)
		}
		if ev.Type == "token" {
			var d struct{ Text string }
			json.Unmarshal([]byte(ev.Data), &d)
			tokens.WriteString(d.Text)
		}
	}
	if got := strings.Join(types, ","); got != "question,status,token,status,answer" {
		t.Errorf("chat events %s", got)
	}
	var answer store.ChatMessage
	json.Unmarshal([]byte(evs[len(evs)-1].Data), &answer)
	if answer.Verdict == nil || answer.Verdict.Total == 0 || answer.Verdict.Verified != answer.Verdict.Total || answer.Error != "" {
		t.Fatalf("chat answer verdict %+v (%s)", answer.Verdict, answer.Error)
	}
	if answer.ContextHash != inv.ContextHash || answer.InvestigationID != inv.ID {
		t.Errorf("chat context %s of investigation %d; want the investigation's own %s of %d", answer.ContextHash, answer.InvestigationID, inv.ContextHash, inv.ID)
	}
	if !strings.Contains(tokens.String(), answer.Answer.RootCause) {
		t.Errorf("streamed %q lacks the answer", tokens.String())
	}

	// The follow-up recalls the conversation; a model that replies with
	// garbage is reported, and its reply kept in the conversation.
	// The second is the repair round's reply.
	ms.Enqueue(modeltest.Reply{Content: "no idea, sorry"}, modeltest.Reply{Content: "no idea, sorry"})
	var failed struct{ Error, Detail string }
	e.call("POST", chatPath, `{"message": "And why did it fill up?", "model": "remote"}`, http.StatusBadGateway, &failed)
	if failed.Error != causeway.EMODEL {
		t.Errorf("garbage chat reply: %+v", failed)
	}
	reqs := ms.Requests()
	last := reqs[len(reqs)-1]
	if !last.Contains("Which disk filled up?") || !last.Contains("And why did it fill up?") {
		t.Errorf("the follow-up did not recall the conversation")
	}

	var conv struct{ Messages []store.ChatMessage }
	e.call("GET", chatPath, "", 200, &conv)
	if len(conv.Messages) != 4 {
		t.Fatalf("conversation has %d messages, want 4", len(conv.Messages))
	}
	roles := ""
	for _, m := range conv.Messages {
		roles += m.Role[:1]
	}
	if roles != "uaua" || conv.Messages[3].Error == "" || conv.Messages[3].Content != "no idea, sorry" || conv.Messages[1].Answer == nil {
		t.Errorf("conversation %s: %+v", roles, conv.Messages)
	}

	// Without an event stream, the reply is JSON; builtin's citations all verify.
	var plain struct{ Question, Answer store.ChatMessage }
	e.call("POST", chatPath, `{"message": "What was the root cause?"}`, 200, &plain)
	if plain.Answer.Verdict == nil || plain.Answer.Verdict.Verified != plain.Answer.Verdict.Total || plain.Answer.Model != "builtin" {
		t.Errorf("JSON chat answer %+v", plain.Answer)
	}
}
