package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
)

// opener records the requests it is given and opens incidents by key, as
// the server's Open is expected to.
type opener struct {
	reqs  []Request
	byKey map[string]*causeway.Incident
	err   error
}

func (o *opener) open(_ context.Context, req Request) (*causeway.Incident, error) {
	o.reqs = append(o.reqs, req)
	if o.err != nil {
		return nil, o.err
	}
	if o.byKey == nil {
		o.byKey = map[string]*causeway.Incident{}
	}
	if inc, ok := o.byKey[req.Key]; ok {
		return inc, nil
	}
	inc := req.Incident()
	inc.ID = int64(len(o.byKey) + 1)
	o.byKey[req.Key] = inc
	return inc, nil
}

func post(t *testing.T, h http.Handler, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/hooks/alertmanager", bytes.NewReader(body)))
	return rec
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFiringOpensOneIncidentPerEpisode(t *testing.T) {
	var o opener
	h := NewHandler(o.open)
	h.Investigate = true
	now := time.Date(2025, 8, 21, 3, 55, 0, 0, time.UTC)
	h.Now = func() time.Time { return now }

	rec := post(t, h, read(t, "firing.json"))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var resp Response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Status != "opened" || resp.Incident == nil || resp.Incident.ID != 1 {
		t.Errorf("response = %+v", resp)
	}
	if len(o.reqs) != 1 {
		t.Fatalf("Open called %d times", len(o.reqs))
	}
	req := o.reqs[0]
	first := time.Date(2025, 8, 21, 3, 50, 0, 0, time.UTC)
	checks := []struct {
		what      string
		got, want any
	}{
		{"window start, 30 min before the first firing alert", req.WindowStart, first.Add(-30 * time.Minute)},
		{"window end, when the notification came", req.WindowEnd, now},
		{"namespaces of the firing alerts", req.Namespaces, []string{"aibrix-system", "envoy-gateway-system"}},
		{"title", req.Title, "[FIRING:2] EnvoyHighErrorRate"},
		{"question", req.Question, "What caused the EnvoyHighErrorRate alert to fire (Envoy returns 503 for more than 5% of requests)?"},
		{"labels", req.Labels["severity"], "critical"},
		{"firing alerts only", len(req.Alerts), 2},
		{"investigate", req.Investigate, true},
		{"incident title", resp.Incident.Title, req.Title},
	}
	for _, c := range checks {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if !strings.HasPrefix(req.Key, "alertmanager/") || !strings.HasSuffix(req.Key, "/1755748200") {
		t.Errorf("key = %q", req.Key)
	}

	// Alertmanager re-sends the group every repeat_interval while it
	// fires: the same episode, the same key, the same incident.
	now = now.Add(4 * time.Hour)
	rec = post(t, h, read(t, "firing.json"))
	_ = json.Unmarshal(rec.Body.Bytes(), &resp)
	if rec.Code != http.StatusAccepted || o.reqs[1].Key != req.Key || resp.Incident.ID != 1 {
		t.Errorf("re-send: status %d, key %q (want %q), incident %+v", rec.Code, o.reqs[1].Key, req.Key, resp.Incident)
	}
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case []string:
		return slices.Equal(a, b.([]string))
	case time.Time:
		return a.Equal(b.(time.Time))
	}
	return a == b
}

func TestResponses(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		body    []byte
		openErr error
		code    int
		bodySub string
		opened  int
	}{
		{"resolved is ignored", http.MethodPost, read(t, "resolved.json"), nil, http.StatusOK, `"status":"ignored"`, 0},
		{"not JSON", http.MethodPost, []byte("alert!"), nil, http.StatusBadRequest, "not an Alertmanager webhook payload", 0},
		{"wrong version", http.MethodPost, []byte(`{"version":"3","groupKey":"x","alerts":[]}`), nil, http.StatusBadRequest, `version \"3\", want 4`, 0},
		{"empty", http.MethodPost, []byte(`{}`), nil, http.StatusBadRequest, "neither alerts nor a group key", 0},
		{"GET", http.MethodGet, nil, nil, http.StatusMethodNotAllowed, "use POST", 0},
		{"too large", http.MethodPost, bytes.Repeat([]byte(" "), DefaultMaxBody+1), nil, http.StatusRequestEntityTooLarge, "body over", 0},
		{"open conflict", http.MethodPost, read(t, "firing.json"), causeway.Errorf(causeway.ECONFLICT, "incident exists"), http.StatusConflict, "incident exists", 1},
		{"open fails", http.MethodPost, read(t, "firing.json"), errors.New("database down"), http.StatusInternalServerError, "database down", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opener{err: tt.openErr}
			h := NewHandler(o.open)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/v1/hooks/alertmanager", bytes.NewReader(tt.body)))
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.bodySub) {
				t.Errorf("status %d body %s; want %d with %q", rec.Code, rec.Body, tt.code, tt.bodySub)
			}
			if len(o.reqs) != tt.opened {
				t.Errorf("Open called %d times, want %d", len(o.reqs), tt.opened)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestGroupLabelsNameTheTitle(t *testing.T) {
	h := NewHandler(nil)
	h.Now = func() time.Time { return time.Date(2025, 8, 21, 4, 0, 0, 0, time.UTC) }
	body := `{"version":"4","status":"firing","receiver":"r","groupKey":"k","truncatedAlerts":3,
		"groupLabels":{"alertname":"KubePodCrashLooping","namespace":"shop"},
		"commonLabels":{"alertname":"KubePodCrashLooping","namespace":"shop"},
		"alerts":[{"status":"firing","labels":{"alertname":"KubePodCrashLooping","namespace":"shop"},
		"annotations":{"description":"Pod shop/web-1 is restarting 2.1 times / 10 minutes."},"startsAt":"2025-08-21T03:40:00Z"}]}`
	req, err := h.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if req.Title != "[FIRING:4] KubePodCrashLooping (namespace shop)" {
		t.Errorf("title = %q", req.Title)
	}
	if req.Question != "What caused the KubePodCrashLooping alert to fire (Pod shop/web-1 is restarting 2.1 times / 10 minutes)?" {
		t.Errorf("question = %q", req.Question)
	}
}
