package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/prompt/builtin"
	"github.com/causeway-rca/causeway/server"
	"github.com/causeway-rca/causeway/store/storetest"
)

func newServer(t *testing.T) (*httptest.Server, *investigate.Service) {
	t.Helper()
	db := storetest.MustOpenDB(t)
	model := builtin.New()
	svc := investigate.New(db, chunking.MustTokenizer(""), func(name string) (causeway.Model, error) {
		if name == "" || name == "builtin" {
			return model, nil
		}
		return nil, causeway.Errorf(causeway.EINVALID, "unknown model %q", name)
	})
	srv := server.New(db, svc, nil)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return hs, svc
}

func getJSON(t *testing.T, url string, wantStatus int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, wantStatus)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
}

func TestInvestigationOverHTTP(t *testing.T) {
	hs, svc := newServer(t)
	inc, _, err := svc.ImportBundle(context.Background(), "../eval/incidents/aibrix-wasm-disk-full", investigate.ImportOptions{Key: "aibrix"})
	if err != nil {
		t.Fatal(err)
	}
	getJSON(t, hs.URL+"/healthz", http.StatusOK, nil)
	getJSON(t, hs.URL+"/readyz", http.StatusOK, nil)

	var list struct{ Incidents []causeway.Incident }
	getJSON(t, hs.URL+"/v1/incidents", http.StatusOK, &list)
	if len(list.Incidents) != 1 || list.Incidents[0].ID != inc.ID {
		t.Fatalf("incidents = %+v", list.Incidents)
	}

	body := fmt.Sprintf(`{"incident_id": %d, "budget_tokens": 100000}`, inc.ID)
	resp, err := http.Post(hs.URL+"/v1/investigations", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ ID int64 }
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || created.ID == 0 {
		t.Fatalf("POST /v1/investigations: %d, id %d", resp.StatusCode, created.ID)
	}

	var inv causeway.Investigation
	deadline := time.Now().Add(30 * time.Second)
	for {
		getJSON(t, fmt.Sprintf("%s/v1/investigations/%d", hs.URL, created.ID), http.StatusOK, &inv)
		if inv.Status == causeway.StatusDone || inv.Status == causeway.StatusFailed || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if inv.Status != causeway.StatusDone || inv.Verdict == nil || inv.Verdict.Verified != inv.Verdict.Total {
		t.Fatalf("investigation ended %s (%s), verdict %+v", inv.Status, inv.Error, inv.Verdict)
	}

	cited := inv.Answer.CausalChain[0].Citations[0].ID
	var ctx struct {
		Line  string
		Lines []causeway.Line
	}
	getJSON(t, fmt.Sprintf("%s/v1/incidents/%d/lines/%s?context=20", hs.URL, inc.ID, cited), http.StatusOK, &ctx)
	var found bool
	for _, l := range ctx.Lines {
		found = found || l.ID() == cited
	}
	if !found || len(ctx.Lines) < 2 {
		t.Errorf("context of %s: %d lines, cited line present %v", cited, len(ctx.Lines), found)
	}
}

func TestAPIErrors(t *testing.T) {
	hs, _ := newServer(t)
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/v1/incidents/999", "", 404, causeway.ENOTFOUND},
		{"GET", "/v1/incidents/abc", "", 400, causeway.EINVALID},
		{"GET", "/v1/incidents/1/lines/X12", "", 400, causeway.EINVALID},
		{"GET", "/v1/investigations/77", "", 404, causeway.ENOTFOUND},
		{"POST", "/v1/investigations", `{"question": "why"}`, 400, causeway.EINVALID},
		{"POST", "/v1/investigations", `{"incident_id": 5, "bogus": 1}`, 400, causeway.EINVALID},
		{"POST", "/v1/investigations", `{"incident_id": 5}`, 404, causeway.ENOTFOUND},
		{"POST", "/v1/investigations", `not json`, 400, causeway.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, hs.URL+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct {
				Error struct{ Code, Message string }
			}
			json.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != tt.status || e.Error.Code != tt.code || e.Error.Message == "" {
				t.Errorf("%d %+v, want %d %s", resp.StatusCode, e.Error, tt.status, tt.code)
			}
		})
	}
}
