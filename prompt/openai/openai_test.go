package openai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt"
	"github.com/causeway-rca/causeway/prompt/modeltest"
)

const answerJSON = `{"root_cause":"disk full","summary":"s","causal_chain":[{"step":1,"text":"disk","citations":[{"id":"L2","quote":"no space left on device"}]}],"claims":[],"ruled_out":[],"remediation":[],"open_questions":[],"confidence":0.8}`

// sleepRecorder replaces the retry wait so that tests see the waits without
// spending them.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func newClient(t *testing.T, srv *modeltest.Server, mod func(*Config)) (*Client, *sleepRecorder) {
	t.Helper()
	cfg := Config{BaseURL: srv.BaseURL(), APIKey: "sk-test", Model: "test-model"}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &sleepRecorder{}
	c.retry.sleep = rec.sleep
	return c, rec
}

func pack() *causeway.Pack {
	return &causeway.Pack{IncidentID: 1, Tokens: 40, Lines: []causeway.Line{
		{Num: 1, Source: "logs/app.log", Time: time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC), Text: "INFO started"},
		{Num: 2, Source: "logs/gw.log", Time: time.Date(2025, 8, 21, 3, 1, 0, 0, time.UTC), Text: "ERROR mkdir /var/lib/eg/wasm: no space left on device"},
	}}
}

func request(question string) causeway.ModelRequest {
	p := pack()
	return causeway.ModelRequest{Messages: prompt.Build(p, question), Pack: p, Question: question}
}

func TestAskJSONSchema(t *testing.T) {
	srv := modeltest.New(t)
	srv.Enqueue(modeltest.Reply{Content: answerJSON, Model: "test-model-2025", Usage: &modeltest.Usage{PromptTokens: 1200, CompletionTokens: 90, CachedTokens: 1024}})
	c, _ := newClient(t, srv, nil)

	req := request("why?")
	req.MaxTokens = 4000
	reply, err := c.Ask(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := causeway.ModelReply{Text: answerJSON, Model: "test-model-2025", Usage: causeway.Usage{PromptTokens: 1200, CompletionTokens: 90, CachedTokens: 1024}, FinishReason: "stop"}
	if !reflect.DeepEqual(*reply, want) {
		t.Errorf("reply = %+v, want %+v", *reply, want)
	}
	got := srv.Requests()[0]
	if got.Model != "test-model" || got.Stream || got.Header.Get("Authorization") != "Bearer sk-test" || got.MaxTokens != 4000 {
		t.Errorf("request model %q stream %v auth %q max_tokens %d", got.Model, got.Stream, got.Header.Get("Authorization"), got.MaxTokens)
	}
	if len(got.Messages) != 3 || got.Messages[0].Content != req.Messages[0].Content || got.Messages[2].Content != req.Messages[2].Content {
		t.Errorf("messages not sent as built: %+v", got.Messages)
	}
	rf := got.ResponseFormat
	if rf == nil || rf.Type != "json_schema" || rf.JSONSchema == nil || !rf.JSONSchema.Strict || rf.JSONSchema.Name != prompt.AnswerSchemaName {
		t.Fatalf("response_format = %+v, want strict json_schema", rf)
	}
	var sent, schema any
	json.Unmarshal(rf.JSONSchema.Schema, &sent)
	json.Unmarshal(prompt.AnswerSchema(), &schema)
	if !jsonEqual(sent, schema) {
		t.Error("schema sent differs from the answer schema")
	}
	if lines := got.EvidenceLines(); len(lines) != 2 || !strings.Contains(lines[1], "no space left on device") {
		t.Errorf("evidence lines sent = %q", lines)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestAskResponseFormatFallback(t *testing.T) {
	tests := []struct {
		name    string
		opts    []modeltest.Option
		formats []string // response_format types sent, in order, over two questions
	}{
		{"schema accepted", nil, []string{"json_schema", "json_schema"}},
		{"schema refused", []modeltest.Option{modeltest.RejectJSONSchema()}, []string{"json_schema", "json_object", "json_object"}},
		{"schema and json mode refused", []modeltest.Option{modeltest.RejectJSONSchema(), modeltest.RejectJSONObject()},
			[]string{"json_schema", "json_object", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := modeltest.New(t, tt.opts...)
			srv.Handle(func(modeltest.Request) modeltest.Reply { return modeltest.Reply{Content: answerJSON} })
			c, _ := newClient(t, srv, nil)
			for range 2 {
				if _, err := c.Ask(context.Background(), request("why?")); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, r := range srv.Requests() {
				got = append(got, r.Format())
			}
			if strings.Join(got, ",") != strings.Join(tt.formats, ",") {
				t.Errorf("formats sent = %q, want %q", got, tt.formats)
			}
		})
	}
}

func TestAskOtherBadRequestIsNotAFallback(t *testing.T) {
	srv := modeltest.New(t)
	srv.Enqueue(modeltest.Reply{Status: 400, ErrorType: "invalid_request_error", ErrorParam: "messages", Message: "messages[1].content must be a string"})
	c, _ := newClient(t, srv, nil)
	_, err := c.Ask(context.Background(), request(""))
	if causeway.ErrorCode(err) != causeway.EMODEL || StatusCode(err) != 400 {
		t.Fatalf("err = %v, want EMODEL with status 400", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1: a 400 about something else is neither retried nor a format fallback", n)
	}
}

func TestAskRetries(t *testing.T) {
	tests := []struct {
		name      string
		replies   []modeltest.Reply
		retries   int
		wantErr   int // expected status of the final error, 0 for success
		wantWaits []time.Duration
	}{
		{"429 with Retry-After then ok",
			[]modeltest.Reply{{Status: 429, Message: "Rate limit reached", RetryAfter: "2"}, {Status: 429, RetryAfter: "1"}, {Content: answerJSON}},
			3, 0, []time.Duration{2 * time.Second, time.Second}},
		{"500 then ok",
			[]modeltest.Reply{modeltest.Error(500, "The server had an error"), modeltest.Error(503, "overloaded"), {Content: answerJSON}},
			3, 0, nil},
		{"502 html page then ok",
			[]modeltest.Reply{{Status: 502, RawBody: "<html><body>502 Bad Gateway</body></html>"}, {Content: answerJSON}},
			3, 0, nil},
		{"500 more often than retries", []modeltest.Reply{modeltest.Error(500, "a"), modeltest.Error(500, "b"), modeltest.Error(500, "c")},
			2, 500, nil},
		{"429 with a Retry-After too long to wait", []modeltest.Reply{{Status: 429, RetryAfter: "3600"}},
			3, 429, []time.Duration{}},
		{"no retries", []modeltest.Reply{{Status: 429, RetryAfter: "1"}}, -1, 429, []time.Duration{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := modeltest.New(t)
			srv.Enqueue(tt.replies...)
			c, rec := newClient(t, srv, func(cfg *Config) { cfg.MaxRetries = tt.retries })
			reply, err := c.Ask(context.Background(), request(""))
			if tt.wantErr == 0 {
				if err != nil || reply.Text != answerJSON {
					t.Fatalf("reply %v err %v", reply, err)
				}
			} else if causeway.ErrorCode(err) != causeway.EMODEL || StatusCode(err) != tt.wantErr {
				t.Fatalf("err = %v, want EMODEL with status %d", err, tt.wantErr)
			}
			if tt.wantWaits != nil && !equalDurations(rec.waits, tt.wantWaits) {
				t.Errorf("waits = %v, want %v (Retry-After honoured)", rec.waits, tt.wantWaits)
			}
			for i, w := range rec.waits {
				if tt.wantWaits == nil && (w < baseBackoff<<i/2 || w > baseBackoff<<i) {
					t.Errorf("backoff %d = %v, want within [%v, %v]", i, w, baseBackoff<<i/2, baseBackoff<<i)
				}
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAskClearErrors(t *testing.T) {
	tests := []struct {
		name    string
		opts    []modeltest.Option
		reply   modeltest.Reply
		status  int
		message string
		is      error
	}{
		{"wrong key", []modeltest.Option{modeltest.WithAPIKey("sk-right")}, modeltest.Reply{}, 401, "API key", nil},
		{"unknown model", []modeltest.Option{modeltest.WithModels("other-model")}, modeltest.Reply{}, 404, `"test-model"`, nil},
		{"context too long (OpenAI)", nil, modeltest.Reply{Status: 400, ErrorCode: "context_length_exceeded",
			Message: "This model's maximum context length is 128000 tokens. However, your messages resulted in 130321 tokens."}, 400, "context", prompt.ErrContextLength},
		{"context too long (llama.cpp)", nil, modeltest.Reply{Status: 400, ErrorType: "exceed_context_size_error",
			Message: "the request exceeds the available context size, try increasing it"}, 400, "context", prompt.ErrContextLength},
		{"garbage body", nil, modeltest.Reply{RawBody: "this is not json"}, 200, "garbage", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := modeltest.New(t, tt.opts...)
			srv.Enqueue(tt.reply)
			c, _ := newClient(t, srv, nil)
			_, err := c.Ask(context.Background(), request(""))
			var ce *causeway.Error
			if !errors.As(err, &ce) || ce.Code != causeway.EMODEL {
				t.Fatalf("err = %v, want *causeway.Error EMODEL", err)
			}
			if tt.status != 200 && StatusCode(err) != tt.status {
				t.Errorf("status = %d, want %d", StatusCode(err), tt.status)
			}
			if !strings.Contains(ce.Message, tt.message) {
				t.Errorf("message %q does not mention %q", ce.Message, tt.message)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err does not wrap %v", tt.is)
			}
			if n := len(srv.Requests()); n != 1 {
				t.Errorf("%d requests, want 1 (not retried)", n)
			}
		})
	}
}

func TestAskStream(t *testing.T) {
	srv := modeltest.New(t, modeltest.WithChunkSize(7))
	srv.Enqueue(modeltest.Reply{Content: answerJSON, Usage: &modeltest.Usage{PromptTokens: 700, CompletionTokens: 60, CachedTokens: 640}})
	c, _ := newClient(t, srv, nil)
	req := request("")
	var deltas []string
	req.Stream = func(d string) { deltas = append(deltas, d) }

	reply, err := c.Ask(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Text != answerJSON || strings.Join(deltas, "") != answerJSON || len(deltas) < 10 {
		t.Errorf("text %q from %d deltas", reply.Text, len(deltas))
	}
	if !reflect.DeepEqual(reply.Usage, causeway.Usage{PromptTokens: 700, CompletionTokens: 60, CachedTokens: 640}) || reply.Model != "test-model" || reply.FinishReason != "stop" {
		t.Errorf("usage %+v model %q, want the final chunk's usage", reply.Usage, reply.Model)
	}
	got := srv.Requests()[0]
	if !got.Stream || got.StreamOptions == nil || !got.StreamOptions.IncludeUsage || got.Format() != "json_schema" {
		t.Errorf("stream request = %+v", got)
	}
}

func TestAskStreamFallback(t *testing.T) {
	srv := modeltest.New(t, modeltest.RejectJSONSchema())
	srv.Enqueue(modeltest.Reply{Content: answerJSON})
	c, _ := newClient(t, srv, nil)
	req := request("")
	var b strings.Builder
	req.Stream = func(d string) { b.WriteString(d) }
	if _, err := c.Ask(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if b.String() != answerJSON || len(srv.Requests()) != 2 || srv.Requests()[1].Format() != "json_object" {
		t.Errorf("streamed %q over %d requests", b.String(), len(srv.Requests()))
	}
}

func TestAskStreamTruncated(t *testing.T) {
	for _, r := range []modeltest.Reply{{Content: answerJSON, Truncate: true}, {Content: answerJSON, Abort: true}} {
		srv := modeltest.New(t)
		srv.Enqueue(r)
		c, _ := newClient(t, srv, func(cfg *Config) { cfg.MaxRetries = -1 })
		req := request("")
		var b strings.Builder
		req.Stream = func(d string) { b.WriteString(d) }
		_, err := c.Ask(context.Background(), req)
		if causeway.ErrorCode(err) != causeway.EMODEL || !strings.Contains(err.Error(), "cut off") {
			t.Errorf("abort=%v: err = %v, want EMODEL saying the stream was cut off", r.Abort, err)
		}
		if b.Len() == 0 || b.Len() >= len(answerJSON) {
			t.Errorf("abort=%v: streamed %d of %d bytes before the cut", r.Abort, b.Len(), len(answerJSON))
		}
	}
}

func TestAskSlowReply(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		srv := modeltest.New(t)
		srv.Enqueue(modeltest.Reply{Content: answerJSON, Delay: 10 * time.Second})
		c, _ := newClient(t, srv, func(cfg *Config) { cfg.Timeout = 100 * time.Millisecond })
		start := time.Now()
		_, err := c.Ask(context.Background(), request(""))
		if !errors.Is(err, context.DeadlineExceeded) || causeway.ErrorCode(err) != causeway.EMODEL {
			t.Fatalf("err = %v, want EMODEL wrapping a deadline", err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("took %v, the timeout is 100ms", el)
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		srv := modeltest.New(t)
		srv.Enqueue(modeltest.Reply{Content: answerJSON, Delay: 10 * time.Second})
		c, _ := newClient(t, srv, nil)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := c.Ask(ctx, request(""))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want canceled", err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("took %v after cancel", el)
		}
	})
}

func TestAskThroughPrompt(t *testing.T) {
	tests := []struct {
		name     string
		content  string
		wantCode string
		verified int
	}{
		{"prose-wrapped JSON", "Here is my analysis.\n" + answerJSON + "\nLet me know if you need more.", "", 1},
		{"fenced JSON", "```json\n" + answerJSON + "\n```", "", 1},
		{"garbage", "The disk is probably full, I think.", causeway.EMODEL, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := modeltest.New(t, modeltest.RejectJSONSchema(), modeltest.RejectJSONObject())
			srv.Enqueue(modeltest.Reply{Content: tt.content})
			c, _ := newClient(t, srv, nil)
			res, err := prompt.Ask(context.Background(), c, pack(), "why?", nil, prompt.AskOptions{})
			if causeway.ErrorCode(err) != tt.wantCode {
				t.Fatalf("err = %v, want code %q", err, tt.wantCode)
			}
			if res.RawReply != tt.content {
				t.Errorf("raw reply not kept: %q", res.RawReply)
			}
			if tt.wantCode == "" && res.Verdict.Verified != tt.verified {
				t.Errorf("verdict = %+v", res.Verdict)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	srv := modeltest.New(t, modeltest.WithModels("a", "test-model"), modeltest.WithAPIKey("sk-test"))
	c, _ := newClient(t, srv, nil)
	if err := c.Check(context.Background()); err != nil {
		t.Errorf("Check of a served model: %v", err)
	}
	c, _ = newClient(t, srv, func(cfg *Config) { cfg.Model = "gpt-missing" })
	if err := c.Check(context.Background()); causeway.ErrorCode(err) != causeway.EINVALID || !strings.Contains(err.Error(), "test-model") {
		t.Errorf("Check of a model not served = %v, want EINVALID listing the served ones", err)
	}
	c, _ = newClient(t, srv, func(cfg *Config) { cfg.APIKey = "sk-wrong" })
	if err := c.Check(context.Background()); StatusCode(err) != http.StatusUnauthorized {
		t.Errorf("Check with a wrong key = %v, want status 401", err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{
		{BaseURL: "http://localhost:8000/v1"},
		{BaseURL: "localhost:8000", Model: "m"},
		{Model: "m"},
	} {
		if _, err := New(cfg); causeway.ErrorCode(err) != causeway.EINVALID {
			t.Errorf("New(%+v) = %v, want EINVALID", cfg, err)
		}
	}
	c, err := New(Config{BaseURL: "http://localhost:8000/v1/", Model: "m"})
	if err != nil || c.Name() != "m" || c.ContextTokens() != DefaultContextTokens {
		t.Errorf("New with defaults = %+v, %v", c, err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              -1,
		"7":                             7 * time.Second,
		"soon":                          -1,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second,
		"Wed, 31 Dec 2025 23:00:00 GMT": 0,
	}
	for h, want := range tests {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}
