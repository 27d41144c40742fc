// Package httpx is the HTTP GET the API collectors (jira, loki, slack)
// share: a request that is rate limited (429, or 503 from a server
// shedding load) waits the Retry-After it was given and tries again,
// within bounds, and a body is read only up to a limit, so one bad answer
// cannot hold a collection for long or fill its memory.
package httpx

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of Client's zero fields.
const (
	DefaultMaxWait = 60 * time.Second
	DefaultMaxBody = 32 << 20
)

// DefaultRetryStatus are the answers retried when Client.RetryStatus is nil.
var DefaultRetryStatus = []int{http.StatusTooManyRequests, http.StatusServiceUnavailable}

// Client fetches with retries. The zero value works; its fields are read
// only, so one Client may serve concurrent requests.
type Client struct {
	// HTTP sends the requests; http.DefaultClient when nil.
	HTTP *http.Client
	// Header is added to every request (Authorization, Accept...).
	Header http.Header
	// RetryStatus are the statuses waited out and retried;
	// DefaultRetryStatus when nil.
	RetryStatus []int
	// MaxRetries bounds the retries of one request; zero or less retries
	// nothing. MaxWait is the longest Retry-After honoured
	// (DefaultMaxWait when zero): a longer one fails at once rather than
	// stall the collection.
	MaxRetries int
	MaxWait    time.Duration
	// MaxBody bounds the bytes read of one answer (DefaultMaxBody when
	// zero); a longer one is an error, not a truncated document.
	MaxBody int64
	// Describe turns an error answer's body into its StatusError's
	// message (a server's own error format); the trimmed body when nil.
	Describe func(body []byte) string
	// Name is the service named in log messages ("jira").
	Name   string
	Logger *slog.Logger
	// Sleep waits between retries and Now dates a Retry-After given as an
	// HTTP date; tests replace them.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

// StatusError is an answer other than 200 OK, the last one when retries
// ran out.
type StatusError struct {
	Code int
	// Message is the body as Client.Describe read it.
	Message string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %.300s", e.Code, e.Message) }

// TooLargeError is an answer longer than Client.MaxBody.
type TooLargeError struct {
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("response larger than the %d byte limit", e.Limit)
}

// Get fetches u and returns the body of its 200 answer. A retried status
// waits Retry-After (seconds or an HTTP date; without one 1 s, 2 s, 4 s...
// up to 32 s) at most MaxRetries times; the error then wraps the last
// *StatusError, as it does for any other status.
func (c *Client) Get(ctx context.Context, u string) ([]byte, error) {
	maxWait := cmpOr(c.MaxWait, DefaultMaxWait)
	for attempt := 0; ; attempt++ {
		body, resp, err := c.once(ctx, u)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusOK {
			return body, nil
		}
		serr := &StatusError{Code: resp.StatusCode, Message: c.describe(body)}
		if !slices.Contains(c.retryStatus(), resp.StatusCode) {
			return nil, serr
		}
		if attempt >= c.MaxRetries {
			return nil, fmt.Errorf("still rate limited after %d retries: %w", attempt, serr)
		}
		wait := c.retryAfter(resp.Header.Get("Retry-After"), attempt)
		if wait > maxWait {
			return nil, fmt.Errorf("rate limited: Retry-After %s exceeds the %s wait limit: %w", wait, maxWait, serr)
		}
		c.logger().Debug(c.Name+" rate limited", "path", resp.Request.URL.Path, "status", resp.StatusCode,
			"wait", wait, "attempt", attempt+1)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// GetJSON fetches u as Get does and decodes its body into out.
func (c *Client) GetJSON(ctx context.Context, u string, out any) error {
	body, err := c.Get(ctx, u)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode %s response: %w", c.Name, err)
	}
	return nil
}

// once makes one request and reads its whole answer.
func (c *Client) once(ctx context.Context, u string) ([]byte, *http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	limit := cmpOr(c.MaxBody, DefaultMaxBody)
	// One byte past the limit tells a body of exactly the limit from a
	// longer one.
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read response: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, nil, &TooLargeError{Limit: limit}
	}
	return body, resp, nil
}

func (c *Client) retryAfter(h string, attempt int) time.Duration {
	h = strings.TrimSpace(h)
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		return max(t.Sub(now()), 0)
	}
	return time.Second << min(attempt, 5)
}

func (c *Client) retryStatus() []int {
	if c.RetryStatus == nil {
		return DefaultRetryStatus
	}
	return c.RetryStatus
}

func (c *Client) describe(body []byte) string {
	if c.Describe != nil {
		return c.Describe(body)
	}
	return strings.TrimSpace(string(body))
}

func (c *Client) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// cmpOr is cmp.Or for bounds, where a negative is as unset as zero.
func cmpOr[T int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
