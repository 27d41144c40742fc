package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/server"
	"github.com/causeway-rca/causeway/store"
)

type apiError struct{ Error, Detail string }

func TestAPIErrors(t *testing.T) {
	e := newEnv(t, nil, withConfig(func(c *server.Config) { c.MaxBodyBytes = 4096 }))
	inc := e.importExample()
	big := `{"question": "` + strings.Repeat("x", 5000) + `"}`
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		code, detail             string
	}{
		{"unknown incident", "GET", "/v1/incidents/999", "", nil, 404, causeway.ENOTFOUND, "incident 999"},
		{"bad incident id", "GET", "/v1/incidents/abc", "", nil, 400, causeway.EINVALID, `"abc"`},
		{"bad line id", "GET", fmt.Sprintf("/v1/incidents/%d/lines/X12", inc.ID), "", nil, 400, causeway.EINVALID, "line id"},
		{"unknown line", "GET", fmt.Sprintf("/v1/incidents/%d/lines/L99999999", inc.ID), "", nil, 404, causeway.ENOTFOUND, ""},
		{"bad context", "GET", fmt.Sprintf("/v1/incidents/%d/lines/L1?context=9999", inc.ID), "", nil, 400, causeway.EINVALID, "context"},
		{"unknown investigation", "GET", "/v1/investigations/77", "", nil, 404, causeway.ENOTFOUND, "investigation 77"},
		{"unknown investigation events", "GET", "/v1/investigations/77/events", "", nil, 404, causeway.ENOTFOUND, ""},
		{"cancel unknown", "POST", "/v1/investigations/77/cancel", "", nil, 404, causeway.ENOTFOUND, ""},
		{"neither incident nor scope", "POST", "/v1/investigations", `{"question": "why"}`, nil, 400, causeway.EINVALID, "incident_id"},
		{"unknown field", "POST", "/v1/investigations", `{"incident_id": 5, "bogus": 1}`, nil, 400, causeway.EINVALID, `unknown field "bogus"`},
		{"unknown nested field", "POST", "/v1/investigations", `{"scope": {"sources": [{"type": "k8s", "namespace": "x"}]}}`, nil, 400, causeway.EINVALID, `unknown field "namespace"`},
		{"wrong type", "POST", "/v1/investigations", `{"incident_id": "five"}`, nil, 400, causeway.EINVALID, "incident_id must be a number"},
		{"unknown incident to investigate", "POST", "/v1/investigations", `{"incident_id": 5}`, nil, 404, causeway.ENOTFOUND, "incident 5"},
		{"not JSON", "POST", "/v1/investigations", `not json`, nil, 400, causeway.EINVALID, "malformed JSON"},
		{"empty body", "POST", "/v1/investigations", ``, nil, 400, causeway.EINVALID, "empty"},
		{"trailing data", "POST", "/v1/investigations", `{"incident_id": 1} {}`, nil, 400, causeway.EINVALID, "more after"},
		{"oversized body", "POST", "/v1/investigations", big, nil, 413, "too_large", "4096"},
		{"form post", "POST", "/v1/investigations", `incident_id=1`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", "application/json"},
		{"budget too large", "POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d, "budget_tokens": 99000000}`, inc.ID), nil, 400, causeway.EINVALID, "budget_tokens"},
		{"unknown model", "POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d, "model": "gpt-9"}`, inc.ID), nil, 400, causeway.EINVALID, "gpt-9"},
		{"unknown source type", "POST", "/v1/investigations", `{"scope": {"window": {"start": "2025-08-21T03:00:00Z", "end": "2025-08-21T04:00:00Z"}, "sources": [{"type": "splunk"}]}}`, nil, 400, causeway.EINVALID, "splunk"},
		{"scope without window", "POST", "/v1/investigations", `{"scope": {"sources": [{"type": "k8s"}]}}`, nil, 400, causeway.EINVALID, "window"},
		{"backwards window", "POST", "/v1/investigations", `{"scope": {"window": {"start": "2025-08-21T04:00:00Z", "end": "2025-08-21T03:00:00Z"}, "sources": []}}`, nil, 400, causeway.EINVALID, "before it starts"},
		{"bad idempotency key", "POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d}`, inc.ID), []string{"Idempotency-Key", "a b"}, 400, causeway.EINVALID, "Idempotency-Key"},
		{"incident without title", "POST", "/v1/incidents", `{"window_start": "2025-08-21T03:00:00Z", "window_end": "2025-08-21T04:00:00Z"}`, nil, 400, causeway.EINVALID, "title"},
		{"duplicate incident key", "POST", "/v1/incidents", `{"title": "x", "key": "aibrix"}`, nil, 409, causeway.ECONFLICT, "aibrix"},
		{"empty chat", "POST", fmt.Sprintf("/v1/incidents/%d/chat", inc.ID), `{"message": "  "}`, nil, 400, causeway.EINVALID, "empty"},
		{"chat unknown incident", "POST", "/v1/incidents/999/chat", `{"message": "why"}`, nil, 404, causeway.ENOTFOUND, ""},
		{"unknown route", "GET", "/v1/nothing", "", nil, 404, "not_found", "/v1/nothing"},
		{"wrong method", "PUT", "/v1/investigations", `{}`, nil, 405, "method_not_allowed", "PUT"},
		{"markup is escaped", "GET", "/v1/incidents/1/lines/%3Cscript%3E", "", nil, 400, causeway.EINVALID, "\u003cscript\u003e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body *strings.Reader
			if tt.body != "" || tt.method == "POST" {
				body = strings.NewReader(tt.body)
			}
			var resp *http.Response
			var raw []byte
			if body != nil {
				resp, raw = e.request(tt.method, tt.path, body, tt.hdr...)
			} else {
				resp, raw = e.request(tt.method, tt.path, nil, tt.hdr...)
			}
			var got apiError
			decodeInto(t, raw, &got)
			if resp.StatusCode != tt.status || got.Error != tt.code || got.Detail == "" || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("%d %+v, want %d %s with %q", resp.StatusCode, got, tt.status, tt.code, tt.detail)
			}
			if strings.Contains(string(raw), "<script>") {
				t.Errorf("response echoes markup unescaped: %s", raw)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// TestAuth: every /v1 request needs a token whose scope covers it; a
// revoked token stops working at once; health and metrics need none.
func TestAuth(t *testing.T) {
	e := newEnv(t, nil, withConfig(func(c *server.Config) {
		toks, err := server.ParseTokens("ci:write:env-secret-0123456789")
		if err != nil {
			t.Fatal(err)
		}
		c.Tokens = toks
	}))
	inc := e.importExample()
	ctx := context.Background()
	_, reader, _ := e.db.CreateToken(ctx, "dashboard", store.ScopeRead)
	_, writer, _ := e.db.CreateToken(ctx, "runbook", store.ScopeWrite)
	_, revoked, _ := e.db.CreateToken(ctx, "old", store.ScopeAdmin)
	var list struct{ Tokens []store.Token }
	e.call("GET", "/v1/tokens", "", 200, &list)
	var oldID int64
	for _, tok := range list.Tokens {
		if tok.Name == "old" {
			oldID = tok.ID
		}
	}
	e.call("DELETE", fmt.Sprintf("/v1/tokens/%d", oldID), "", 200, nil)

	incPath := fmt.Sprintf("/v1/incidents/%d", inc.ID)
	invBody := fmt.Sprintf(`{"incident_id": %d}`, inc.ID)
	tests := []struct {
		name, method, path, body, auth string
		status                         int
		code                           string
	}{
		{"no token", "GET", "/v1/incidents", "", "", 401, "unauthorized"},
		{"no token for openapi", "GET", "/v1/openapi.json", "", "", 401, "unauthorized"},
		{"not bearer", "GET", "/v1/incidents", "", "Basic dXNlcjpwYXNz", 401, "unauthorized"},
		{"unknown token", "GET", "/v1/incidents", "", "Bearer cw_made-up-token-000000000000000000000000", 401, "unauthorized"},
		{"revoked token", "GET", "/v1/incidents", "", "Bearer " + revoked, 401, "unauthorized"},
		{"read may read", "GET", incPath, "", "Bearer " + reader, 200, ""},
		{"read may not investigate", "POST", "/v1/investigations", invBody, "Bearer " + reader, 403, "forbidden"},
		{"read may not chat", "POST", incPath + "/chat", `{"message": "why"}`, "Bearer " + reader, 403, "forbidden"},
		{"read may not upload", "POST", incPath + "/files?name=logs/a.log", "x", "Bearer " + reader, 403, "forbidden"},
		{"write may investigate", "POST", "/v1/investigations", invBody, "Bearer " + writer, 202, ""},
		{"write may not delete", "DELETE", incPath, "", "Bearer " + writer, 403, "forbidden"},
		{"write may not list tokens", "GET", "/v1/tokens", "", "Bearer " + writer, 403, "forbidden"},
		{"environment token", "POST", "/v1/investigations", invBody, "Bearer env-secret-0123456789", 202, ""},
		{"environment token scope", "GET", "/v1/tokens", "", "Bearer env-secret-0123456789", 403, "forbidden"},
		{"health needs none", "GET", "/healthz", "", "", 200, ""},
		{"readiness needs none", "GET", "/readyz", "", "", 200, ""},
		{"metrics need none", "GET", "/metrics", "", "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			var raw []byte
			if tt.body != "" {
				resp, raw = e.request(tt.method, tt.path, strings.NewReader(tt.body), "Authorization", tt.auth)
			} else {
				resp, raw = e.request(tt.method, tt.path, nil, "Authorization", tt.auth)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, raw, tt.status)
			}
			if tt.code != "" {
				var got apiError
				decodeInto(t, raw, &got)
				if got.Error != tt.code || got.Detail == "" {
					t.Errorf("error %+v, want %s", got, tt.code)
				}
			}
			if tt.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge")
			}
		})
	}
}

// TestOpenMode serves a local demo without tokens, as configured.
func TestOpenMode(t *testing.T) {
	e := newEnv(t, nil, withConfig(func(c *server.Config) { c.Open = true }))
	inc := e.importExample()
	e.call("GET", fmt.Sprintf("/v1/incidents/%d", inc.ID), "", 200, nil)
	var created investigation
	e.call("POST", "/v1/investigations", fmt.Sprintf(`{"incident_id": %d}`, inc.ID), 202, &created)
	if got := e.wait(created.ID); got.Status != causeway.StatusDone {
		t.Errorf("investigation %s: %s", got.Status, got.Error)
	}
}
