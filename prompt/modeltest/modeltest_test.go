package modeltest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway/prompt/modeltest"
)

func post(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url+"/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestWireFormat(t *testing.T) {
	srv := modeltest.New(t, modeltest.WithChunkSize(4))
	srv.Enqueue(modeltest.Reply{Content: "hello world"}, modeltest.Reply{Content: "héllo"}, modeltest.Reply{Status: 429, RetryAfter: "3", Message: "slow down"})

	_, body := post(t, srv.BaseURL(), `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	var c struct {
		Object  string `json:"object"`
		Choices []struct {
			Message      struct{ Role, Content string } `json:"message"`
			FinishReason string                         `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(body), &c); err != nil || c.Object != "chat.completion" || c.Choices[0].Message.Content != "hello world" ||
		c.Choices[0].FinishReason != "stop" || c.Usage.PromptTokens == 0 {
		t.Errorf("completion = %s (%v)", body, err)
	}

	resp, body := post(t, srv.BaseURL(), `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}`)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	events := strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n")
	if events[len(events)-1] != "data: [DONE]" {
		t.Errorf("stream does not end with [DONE]: %q", body)
	}
	var text strings.Builder
	for _, e := range events[:len(events)-1] {
		var ch struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
			Usage *struct{ CompletionTokens int } `json:"usage"`
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(e, "data: ")), &ch); err != nil {
			t.Fatalf("event %q: %v", e, err)
		}
		for _, c := range ch.Choices {
			text.WriteString(c.Delta.Content)
		}
	}
	if text.String() != "héllo" || !strings.Contains(events[len(events)-2], `"choices":[]`) {
		t.Errorf("streamed %q; last chunk %q should carry usage and no choices", text.String(), events[len(events)-2])
	}

	resp, body = post(t, srv.BaseURL(), `{"model":"m","messages":[]}`)
	var e struct {
		Error struct{ Message, Type string } `json:"error"`
	}
	if json.Unmarshal([]byte(body), &e); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" || e.Error.Message != "slow down" {
		t.Errorf("error reply %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	if resp, _ := post(t, srv.BaseURL(), `{"model":"m"}`); resp.StatusCode != 500 {
		t.Errorf("unscripted request got %d, want 500", resp.StatusCode)
	}
	if n := len(srv.Requests()); n != 4 {
		t.Errorf("recorded %d requests, want 4", n)
	}
}

func TestModels(t *testing.T) {
	srv := modeltest.New(t, modeltest.WithModels("a", "b"))
	resp, err := http.Get(srv.BaseURL() + "/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct{ ID string } `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&list)
	if len(list.Data) != 2 || list.Data[1].ID != "b" {
		t.Errorf("models = %+v", list)
	}
}
