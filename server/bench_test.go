package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/server"
)

// BenchmarkCreateInvestigations is the load test of the issue: 200
// concurrent HTTP clients create investigations (builtin model) for 30 s
// (CAUSEWAY_BENCH_DURATION to change it); then every accepted
// investigation must reach done, none lost and none run twice. It reports
// the POST throughput and latency percentiles, and how long the queue took
// to drain.
func BenchmarkCreateInvestigations(b *testing.B) {
	duration := 30 * time.Second
	if v := os.Getenv("CAUSEWAY_BENCH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		duration = d
	}
	const clients = 200
	e := newEnv(b, nil, withConfig(func(c *server.Config) { c.Workers.Concurrency = 8 }))
	// A small incident keeps each job short, so that the test measures
	// the API and the queue rather than the analyzer.
	var log strings.Builder
	for i := range 200 {
		level := "INFO"
		if i%50 == 49 {
			level = "ERROR"
		}
		fmt.Fprintf(&log, "2025-08-21T03:%02d:%02dZ %s request %d served by pod web-%d\n", i/60, i%60, level, i, i%3)
	}
	fmt.Fprintf(&log, "2025-08-21T03:59:00Z ERROR write /var/lib/data: no space left on device\n")
	incID := e.benchIncident(b, log.String())

	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	body := fmt.Sprintf(`{"incident_id": %d, "budget_tokens": 20000}`, incID)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  = map[int]int{}
		accepted  int
	)
	b.ResetTimer()
	start := time.Now()
	deadline := start.Add(duration)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline); n++ {
				req, _ := http.NewRequest("POST", e.hs.URL+"/v1/investigations", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+e.token)
				req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d-%d", c, n))
				t0 := time.Now()
				resp, err := client.Do(req)
				lat := time.Since(t0)
				status := 0
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				mu.Lock()
				if status == http.StatusAccepted {
					accepted++
					latencies = append(latencies, lat)
				} else {
					failures[status]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()

	drainStart := time.Now()
	var counts map[string]int64
	for {
		var err error
		if counts, err = e.db.StatusCounts(context.Background()); err != nil {
			b.Fatal(err)
		}
		if counts[causeway.StatusDone]+counts[causeway.StatusFailed]+counts[causeway.StatusCanceled] >= int64(accepted) {
			break
		}
		if time.Since(drainStart) > 20*time.Minute {
			b.Fatalf("queue not drained after 20 min: %v", counts)
		}
		time.Sleep(200 * time.Millisecond)
	}
	drain := time.Since(drainStart)
	var total int64
	for _, n := range counts {
		total += n
	}
	if total != int64(accepted) || counts[causeway.StatusDone] != int64(accepted) {
		b.Errorf("accepted %d investigations; the database holds %d: %v", accepted, total, counts)
	}
	if len(failures) > 0 {
		b.Errorf("requests not accepted, by status (0: transport error): %v", failures)
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(accepted)/elapsed.Seconds(), "posts/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(accepted), "accepted")
	b.ReportMetric(float64(counts[causeway.StatusDone])/float64(max(accepted, 1)), "done/accepted")
	b.ReportMetric(drain.Seconds(), "drain-s")
	b.ReportMetric(float64(accepted)/(elapsed+drain).Seconds(), "investigations/s")
}
