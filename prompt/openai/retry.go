package openai

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Backoff bounds: the first retry waits about baseBackoff, each further one
// twice as long, never more than maxBackoff; a Retry-After beyond
// maxRetryAfter is not worth waiting for within one question.
const (
	baseBackoff   = 500 * time.Millisecond
	maxBackoff    = 30 * time.Second
	maxRetryAfter = 2 * time.Minute
)

// retryDoer retries rate-limited and failed requests below go-openai, where
// the response's Retry-After header is still visible.
type retryDoer struct {
	client     *http.Client
	maxRetries int
	logger     *slog.Logger
	sleep      func(ctx context.Context, d time.Duration) error
	// header is set on every request (Azure's api-key, OpenRouter's
	// attribution headers).
	header http.Header
}

// Do sends req, retrying 429 and 5xx responses and transport errors with
// exponential backoff and jitter, honouring Retry-After.
func (d *retryDoer) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	for k, v := range d.header {
		req.Header[k] = v
	}
	canRetry := req.Body == nil || req.GetBody != nil
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("rewind request body for retry: %w", err)
			}
			r = req.Clone(ctx)
			r.Body = body
		}
		resp, err := d.client.Do(r)
		if attempt >= d.maxRetries || !canRetry {
			return resp, err
		}
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, err
			}
			wait = backoff(attempt)
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			wait = retryAfter(resp.Header.Get("Retry-After"), time.Now())
			if wait < 0 {
				wait = backoff(attempt)
			}
			if wait > maxRetryAfter {
				return resp, nil
			}
			// Drain so that the connection is reused.
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		default:
			return resp, nil
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		d.logger.InfoContext(ctx, "retrying model request", "attempt", attempt+1, "status", status, "wait", wait, "err", err)
		if err := d.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// backoff is the wait before retry attempt+1: exponential, with jitter so
// that clients rate-limited together do not retry together.
func backoff(attempt int) time.Duration {
	d := min(baseBackoff<<attempt, maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads a Retry-After header (seconds or an HTTP date); -1 when
// absent or unreadable.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return -1
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
