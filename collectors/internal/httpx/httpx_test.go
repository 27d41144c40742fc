package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// script answers the requests in turn with its statuses (and their
// Retry-After), then 200 with body.
type script struct {
	mu         sync.Mutex
	statuses   []int
	retryAfter string
	body       string
	requests   int
	header     http.Header
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.header = r.Header.Clone()
	if len(s.statuses) > 0 {
		code := s.statuses[0]
		s.statuses = s.statuses[1:]
		if s.retryAfter != "" {
			w.Header().Set("Retry-After", s.retryAfter)
		}
		http.Error(w, "  slow down  ", code)
		return
	}
	w.Write([]byte(s.body))
}

func TestGet(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		statuses    []int
		retryAfter  string
		client      Client
		wantBody    string
		wantErr     string // in the error, or "" for none
		wantStatus  int    // of the *StatusError in the error, or 0
		wantWaits   []time.Duration
		wantRequest int
	}{
		{"429 with Retry-After seconds", []int{429, 429}, "7", Client{MaxRetries: 3}, "{}", "", 0,
			[]time.Duration{7 * time.Second, 7 * time.Second}, 3},
		{"429 with Retry-After HTTP date", []int{429}, now.Add(9 * time.Second).Format(http.TimeFormat), Client{MaxRetries: 3}, "{}", "", 0,
			[]time.Duration{9 * time.Second}, 2},
		{"Retry-After date already past waits nothing", []int{429}, now.Add(-time.Hour).Format(http.TimeFormat), Client{MaxRetries: 3}, "{}", "", 0,
			[]time.Duration{0}, 2},
		{"503 without Retry-After backs off", []int{503, 503, 503}, "", Client{MaxRetries: 5}, "{}", "", 0,
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, 4},
		{"500 is not retried", []int{500}, "1", Client{MaxRetries: 5}, "", "HTTP 500: slow down", 500, nil, 1},
		{"503 not retried when only 429 is", []int{503}, "1", Client{MaxRetries: 5, RetryStatus: []int{429}}, "", "HTTP 503", 503, nil, 1},
		{"retries run out", []int{429, 429, 429}, "1", Client{MaxRetries: 2}, "", "still rate limited after 2 retries: HTTP 429", 429,
			[]time.Duration{time.Second, time.Second}, 3},
		{"no retries", []int{429}, "1", Client{}, "", "still rate limited after 0 retries", 429, nil, 1},
		{"Retry-After beyond the wait limit", []int{429}, "120", Client{MaxRetries: 3, MaxWait: 10 * time.Second}, "",
			"Retry-After 2m0s exceeds the 10s wait limit", 429, nil, 1},
		{"error body described", []int{404}, "", Client{Describe: func(b []byte) string { return "described " + strings.TrimSpace(string(b)) }},
			"", "HTTP 404: described slow down", 404, nil, 1},
		{"body at the limit", nil, "", Client{MaxBody: 8}, "12345678", "", 0, nil, 1},
		{"body over the limit", nil, "", Client{MaxBody: 8}, "123456789", "larger than the 8 byte limit", 0, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &script{statuses: slices.Clone(tt.statuses), retryAfter: tt.retryAfter, body: tt.wantBody}
			if tt.wantBody == "" {
				srv.body = "123456789"
			}
			ts := httptest.NewServer(srv)
			t.Cleanup(ts.Close)
			var waits []time.Duration
			c := tt.client
			c.HTTP, c.Now = ts.Client(), func() time.Time { return now }
			c.Header = http.Header{"Authorization": {"Bearer t"}}
			c.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			body, err := c.Get(context.Background(), ts.URL+"/x")
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Get: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Get error = %v, want %q", err, tt.wantErr)
			case tt.wantErr == "" && string(body) != tt.wantBody:
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
			var serr *StatusError
			if got := errors.As(err, &serr); got != (tt.wantStatus != 0) || (got && serr.Code != tt.wantStatus) {
				t.Errorf("StatusError = %v, want status %d", serr, tt.wantStatus)
			}
			if tt.name == "body over the limit" {
				var tl *TooLargeError
				if !errors.As(err, &tl) || tl.Limit != 8 {
					t.Errorf("error %v is not a *TooLargeError of 8 bytes", err)
				}
			}
			if !slices.Equal(waits, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", waits, tt.wantWaits)
			}
			if srv.requests != tt.wantRequest {
				t.Errorf("requests = %d, want %d", srv.requests, tt.wantRequest)
			}
			if got := srv.header.Get("Authorization"); got != "Bearer t" {
				t.Errorf("Authorization = %q, want the client's header", got)
			}
		})
	}
}

// TestGetContextCanceled checks that an ended ctx stops the wait between
// retries with the default sleep, rather than waiting Retry-After out.
func TestGetContextCanceled(t *testing.T) {
	srv := &script{statuses: []int{429}, retryAfter: "30"}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{HTTP: ts.Client(), MaxRetries: 3}
	go func() {
		// Cancel once the first answer has come back, so that the
		// cancel lands in the wait, not the request.
		for {
			srv.mu.Lock()
			n := srv.requests
			srv.mu.Unlock()
			if n > 0 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	_, err := c.Get(ctx, ts.URL)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Get error = %v, want context.Canceled", err)
	}
	if srv.requests != 1 {
		t.Errorf("requests = %d, want 1", srv.requests)
	}
}

func TestGetJSON(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    string
		wantErr bool
	}{
		{"object decoded", `{"key":"AIB-1"}`, "AIB-1", false},
		{"not JSON", `<html>login</html>`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(&script{body: tt.body})
			t.Cleanup(ts.Close)
			c := &Client{HTTP: ts.Client(), Name: "jira"}
			var out struct {
				Key string `json:"key"`
			}
			err := c.GetJSON(context.Background(), ts.URL, &out)
			if (err != nil) != tt.wantErr || out.Key != tt.want {
				t.Errorf("GetJSON = %q, %v; want %q, error %v", out.Key, err, tt.want, tt.wantErr)
			}
		})
	}
}
