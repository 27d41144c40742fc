package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/causeway-rca/causeway/store"
)

// metrics are the server's Prometheus metrics, in a registry of its own so
// that several servers in one process (tests) do not collide.
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.HistogramVec
	modelTokens  *prometheus.CounterVec
	packSeconds  prometheus.Histogram
	jobsRunning  prometheus.Gauge
	jobsFinished *prometheus.CounterVec
}

func newMetrics(db *store.DB) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "causeway_http_request_duration_seconds",
			Help:    "Time to answer an API request, by method, route pattern and status code.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"method", "route", "code"}),
		modelTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "causeway_model_tokens_total",
			Help: "Tokens the models reported for investigations and chats, by model and type (prompt, completion, cached).",
		}, []string{"model", "type"}),
		packSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "causeway_pack_seconds",
			Help:    "Time to pack an incident's evidence into the budget, per investigation run here.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		jobsRunning: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "causeway_jobs_running",
			Help: "Investigations this server's workers are running.",
		}),
		jobsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "causeway_jobs_finished_total",
			Help: "Investigations this server's workers ended, by final status (requeued: handed back at shutdown).",
		}, []string{"status"}),
	}
	m.reg.MustRegister(m.requests, m.modelTokens, m.packSeconds, m.jobsRunning, m.jobsFinished,
		&statusCollector{db: db}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// instrument records each request's latency under its route pattern, not
// its path, so that ids do not make a series each.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		m.requests.WithLabelValues(r.Method, route, strconv.Itoa(status)).Observe(time.Since(start).Seconds())
	})
}

// statusCollector reports investigations by status from the database, so
// that every replica reports the same, whole queue.
type statusCollector struct{ db *store.DB }

var investigationsDesc = prometheus.NewDesc("causeway_investigations",
	"Investigations in the database by status.", []string{"status"}, nil)

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) { ch <- investigationsDesc }

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.db.StatusCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(investigationsDesc, err)
		return
	}
	for status, n := range counts {
		ch <- prometheus.MustNewConstMetric(investigationsDesc, prometheus.GaugeValue, float64(n), status)
	}
}
