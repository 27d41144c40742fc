package openai_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt"
	"github.com/causeway-rca/causeway/prompt/modeltest"
	"github.com/causeway-rca/causeway/prompt/openai"
)

// Endpoint quirks: each as the endpoint's wire format shows it.

func TestAzureOpenAI(t *testing.T) {
	tests := []struct {
		name     string
		base     func(*modeltest.Server) string
		version  string
		wantPath string
	}{
		{"deployment URLs with api-version", func(s *modeltest.Server) string { return s.URL() + "/" }, "2024-10-21",
			"/openai/deployments/gpt-4o-prod/chat/completions"},
		{"base URL given with /openai", func(s *modeltest.Server) string { return s.URL() + "/openai" }, "2024-10-21",
			"/openai/deployments/gpt-4o-prod/chat/completions"},
		{"v1 API", func(s *modeltest.Server) string { return s.URL() + "/openai/v1" }, "",
			"/openai/v1/chat/completions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := modeltest.New(t, modeltest.WithAPIKey("azure-key"))
			srv.Enqueue(modeltest.Reply{Content: answerWith("L2", "no space left on device")})
			c, err := openai.New(openai.Config{BaseURL: tt.base(srv), APIKey: "azure-key", Model: "gpt-4o-prod",
				APIVersion: tt.version, Azure: true, MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Ask(context.Background(), causeway.ModelRequest{Messages: prompt.Build(smallPack(), "")}); err != nil {
				t.Fatal(err)
			}
			r := srv.Requests()[0]
			if r.Path != tt.wantPath || r.APIVersion != tt.version {
				t.Errorf("request to %s api-version %q, want %s %q", r.Path, r.APIVersion, tt.wantPath, tt.version)
			}
			if r.Header.Get("api-key") != "azure-key" || r.Header.Get("Authorization") != "" {
				t.Errorf("Azure wants the key in api-key only; got api-key %q, Authorization %q", r.Header.Get("api-key"), r.Header.Get("Authorization"))
			}
			if err := c.Check(context.Background()); err != nil {
				t.Errorf("Check on Azure: %v", err)
			}
		})
	}
}

func TestMaxCompletionTokensFallback(t *testing.T) {
	srv := modeltest.New(t, modeltest.RejectMaxTokens())
	srv.Handle(func(modeltest.Request) modeltest.Reply {
		return modeltest.Reply{Content: answerWith("L2", "no space left on device")}
	})
	c := newClient(t, srv, nil)
	for range 2 {
		if _, err := c.Ask(context.Background(), causeway.ModelRequest{Messages: prompt.Build(smallPack(), ""), MaxTokens: 3000}); err != nil {
			t.Fatal(err)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 3 || reqs[0].MaxTokens != 3000 || reqs[1].MaxTokens != 0 || reqs[1].MaxCompletionTokens != 3000 || reqs[2].MaxCompletionTokens != 3000 {
		t.Errorf("requests %+v: want max_tokens once, then max_completion_tokens from then on", reqs)
	}
}

func TestRequestOwnSchema(t *testing.T) {
	srv := modeltest.New(t)
	srv.Enqueue(modeltest.Reply{Content: `{"match": true, "reason": "same disk"}`})
	c := newClient(t, srv, nil)
	judge := []byte(`{"type":"object","additionalProperties":false,"required":["match","reason"],"properties":{"match":{"type":"boolean"},"reason":{"type":"string"}}}`)
	_, err := c.Ask(context.Background(), causeway.ModelRequest{
		Messages: []causeway.Message{{Role: "user", Content: "same cause?"}}, Schema: judge, SchemaName: "judgement"})
	if err != nil {
		t.Fatal(err)
	}
	rf := srv.Requests()[0].ResponseFormat
	var sent, want any
	json.Unmarshal(rf.JSONSchema.Schema, &sent)
	json.Unmarshal(judge, &want)
	if rf.JSONSchema.Name != "judgement" || !jsonSame(sent, want) {
		t.Errorf("response_format %s %s, want the request's own schema", rf.JSONSchema.Name, rf.JSONSchema.Schema)
	}
}

func jsonSame(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
