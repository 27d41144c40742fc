// Package prometheus collects metric evidence for an incident's window
// from a Prometheus server's HTTP API (/api/v1/query_range): a default set
// of queries (CPU, memory, restarts, OOM kills, HPA replicas, request rate
// and 5xx ratio, disk usage) scoped to the incident's namespaces, plus the
// user's own.
//
// Series are not stored sample by sample: each response goes through the
// bundle parser's metric summarizer (files.Parse, kind prometheus), which
// turns a series into a citable summary line and a few lines for its
// spikes, dips, level shifts and gaps, exactly as for a query_range file
// in a bundle.
package prometheus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/collectors/files"
)

// Defaults of Config's bounds.
const (
	DefaultMaxPoints = 720
	DefaultMinStep   = 15 * time.Second
	DefaultMaxSeries = 200
	DefaultMaxBytes  = 32 << 20
	DefaultTimeout   = 2 * time.Minute
)

// Query is one PromQL expression to collect. Its source is named
// "prometheus/<Name>".
type Query struct {
	Name string
	Expr string
	// SkipZero drops series whose every sample is zero: for counts of rare
	// events (restarts, OOM kills, 5xx) a flat zero is the absence of
	// evidence, and hundreds of such series would bury the one that moved.
	SkipZero bool
}

// ParseQuery reads "name=expr", as the --query flag takes it.
func ParseQuery(s string) (Query, error) {
	name, expr, ok := strings.Cut(s, "=")
	name, expr = strings.TrimSpace(name), strings.TrimSpace(expr)
	if !ok || expr == "" || !validName.MatchString(name) {
		return Query{}, causeway.Errorf(causeway.EINVALID, "query %q: want name=expr with a name of letters, digits, '-', '_' or '.'", s)
	}
	return Query{Name: name, Expr: expr}, nil
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// nsMatcher is where the default queries take the incident's namespaces.
const nsMatcher = "$NAMESPACES"

// defaultQueries read the metrics kube-state-metrics, cAdvisor and
// node-exporter export under their usual names; a query whose metrics a
// cluster lacks returns nothing and adds no source.
var defaultQueries = []Query{
	{Name: "cpu", Expr: `sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!="", $NAMESPACES}[5m]))`},
	{Name: "memory", Expr: `sum by (namespace, pod) (container_memory_working_set_bytes{container!="", $NAMESPACES})`},
	{Name: "restarts", Expr: `sum by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total{$NAMESPACES}[5m]))`, SkipZero: true},
	{Name: "oom-kills", Expr: `sum by (namespace, pod, container) (kube_pod_container_status_last_terminated_reason{reason="OOMKilled", $NAMESPACES})`, SkipZero: true},
	{Name: "hpa-current", Expr: `sum by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_current_replicas{$NAMESPACES})`},
	{Name: "hpa-desired", Expr: `sum by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_desired_replicas{$NAMESPACES})`},
	{Name: "requests", Expr: `sum by (namespace, job) (rate(http_requests_total{$NAMESPACES}[5m]))`},
	{Name: "5xx-ratio", Expr: `sum by (namespace, job) (rate(http_requests_total{code=~"5..", $NAMESPACES}[5m])) / sum by (namespace, job) (rate(http_requests_total{$NAMESPACES}[5m]))`, SkipZero: true},
	{Name: "disk-usage", Expr: `max by (instance, mountpoint) (1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"})`},
	{Name: "volume-usage", Expr: `max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes{$NAMESPACES} / kubelet_volume_stats_capacity_bytes{$NAMESPACES})`},
}

// DefaultQueries returns the default query set scoped to namespaces (all
// of them when none is given).
func DefaultQueries(namespaces []string) []Query {
	m := `namespace!=""`
	if len(namespaces) > 0 {
		quoted := make([]string, len(namespaces))
		for i, ns := range namespaces {
			quoted[i] = regexp.QuoteMeta(ns)
		}
		m = `namespace=~` + strconv.Quote(strings.Join(quoted, "|"))
	}
	out := make([]Query, len(defaultQueries))
	for i, q := range defaultQueries {
		q.Expr = strings.ReplaceAll(q.Expr, nsMatcher, m)
		out[i] = q
	}
	return out
}

// Config says where Prometheus is and how much to fetch from it.
type Config struct {
	// URL is the server's base URL, e.g. http://prometheus:9090.
	URL string
	// Queries are collected after the defaults.
	Queries []Query
	// Namespaces scope the default queries.
	Namespaces []string
	// NoDefaults leaves the default queries out.
	NoDefaults bool
	// MaxPoints bounds the samples per series: the step is the window
	// divided by it, and at least MinStep.
	MaxPoints int
	MinStep   time.Duration
	// MaxSeries bounds the series kept per query; MaxBytes one response.
	MaxSeries int
	MaxBytes  int64
	// Timeout bounds the whole collection.
	Timeout time.Duration
	// Client makes the requests; Header is added to each (Authorization,
	// X-Scope-OrgID for Mimir or Thanos tenants).
	Client *http.Client
	Header http.Header
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxPoints <= 0 {
		c.MaxPoints = DefaultMaxPoints
	}
	if c.MinStep <= 0 {
		c.MinStep = DefaultMinStep
	}
	if c.MaxSeries <= 0 {
		c.MaxSeries = DefaultMaxSeries
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Client == nil {
		c.Client = http.DefaultClient
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Collector collects from one Prometheus server.
type Collector struct {
	cfg Config
}

var _ causeway.Collector = (*Collector)(nil)

// New returns a collector for cfg.
func New(cfg Config) *Collector { return &Collector{cfg: cfg.withDefaults()} }

// Queries returns what Collect runs: the defaults (unless turned off) and
// the user's queries.
func (c *Collector) Queries() []Query {
	var qs []Query
	if !c.cfg.NoDefaults {
		qs = DefaultQueries(c.cfg.Namespaces)
	}
	return append(qs, c.cfg.Queries...)
}

// Step is the resolution Collect queries a window at: MaxPoints samples
// per series at most, whole seconds, never finer than MinStep.
func (c *Collector) Step(from, to time.Time) time.Duration {
	step := time.Duration(math.Ceil(to.Sub(from).Seconds()/float64(c.cfg.MaxPoints))) * time.Second
	return max(step, c.cfg.MinStep)
}

// Collect implements causeway.Collector: one source per query with lines.
// A query that fails is its source's error; a server that cannot be
// reached fails every query, each saying so. Collect itself fails only
// when the sink does or ctx ends.
func (c *Collector) Collect(ctx context.Context, inc *causeway.Incident, sink causeway.LineSink) error {
	from, to := inc.WindowStart, inc.WindowEnd
	if c.cfg.URL == "" || from.IsZero() || to.IsZero() {
		src := &causeway.Source{IncidentID: inc.ID, Name: "prometheus", Kind: causeway.KindPrometheus,
			Error: "not collected: a Prometheus URL and an incident window with start and end are needed"}
		return sink.WriteLines(ctx, src, nil)
	}
	fetchCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	step := c.Step(from, to)
	for _, q := range c.Queries() {
		src := &causeway.Source{IncidentID: inc.ID, Name: "prometheus/" + q.Name, Kind: causeway.KindPrometheus, Query: q.Expr}
		lines, err := c.query(fetchCtx, src, q, from, to, step)
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if fetchCtx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("time limit %s reached: %w", c.cfg.Timeout, err)
		}
		var transport *url.Error
		if errors.As(err, &transport) && len(lines) == 0 && fetchCtx.Err() == nil {
			// The server is not there: one source says so, not one per query.
			src := &causeway.Source{IncidentID: inc.ID, Name: "prometheus", Kind: causeway.KindPrometheus,
				Error: fmt.Sprintf("reach %s: %v", c.cfg.URL, err)}
			c.cfg.Logger.Warn("prometheus unreachable", "url", c.cfg.URL, "error", err)
			return sink.WriteLines(ctx, src, nil)
		}
		if err != nil {
			src.Error = err.Error()
			c.cfg.Logger.Warn("prometheus query failed", "query", q.Name, "error", err)
		}
		if len(lines) == 0 && err == nil {
			continue // the cluster lacks these metrics, or nothing moved
		}
		for i := range lines {
			lines[i].IncidentID = inc.ID
		}
		src.Lines = int64(len(lines))
		if err := sink.WriteLines(ctx, src, lines); err != nil {
			return err
		}
	}
	return nil
}

// response is the part of a Prometheus API response the collector reads
// before the parser does.
type response struct {
	Status    string   `json:"status"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Data      struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
	} `json:"data"`
}

// query runs one query_range and summarizes its series into lines. The
// error reports a failed request or a bound that cut the result; the
// lines of what was kept come with it.
func (c *Collector) query(ctx context.Context, src *causeway.Source, q Query, from, to time.Time, step time.Duration) ([]causeway.Line, error) {
	form := url.Values{
		"query": {q.Expr},
		"start": {formatTime(from)},
		"end":   {formatTime(to)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	u := strings.TrimSuffix(c.cfg.URL, "/") + "/api/v1/query_range"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("query_range: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	for k, vs := range c.cfg.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query_range: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("query_range: read response: %w", err)
	}
	if int64(len(body)) > c.cfg.MaxBytes {
		return nil, fmt.Errorf("query_range: response over the %d-byte limit at step %s; narrow the query or the window", c.cfg.MaxBytes, step)
	}
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("query_range: HTTP %d, not a Prometheus API response: %.200s", resp.StatusCode, bytes.TrimSpace(body))
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query_range: HTTP %d: %s: %s", resp.StatusCode, r.ErrorType, r.Error)
	}

	var bound error
	if q.SkipZero {
		r.Data.Result = dropFlatZero(r.Data.Result)
	}
	if n := len(r.Data.Result); n > c.cfg.MaxSeries {
		r.Data.Result = r.Data.Result[:c.cfg.MaxSeries]
		bound = fmt.Errorf("series limit: %d series, kept the first %d", n, c.cfg.MaxSeries)
	}
	if r.Data.Result == nil {
		r.Data.Result = []json.RawMessage{}
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("query_range: %w", err)
	}
	var lines []causeway.Line
	stats, err := files.Parse(ctx, *src, bytes.NewReader(data), files.Options{Logger: c.cfg.Logger}, func(l causeway.Line) error {
		lines = append(lines, l)
		return nil
	})
	for _, w := range stats.Warnings {
		c.cfg.Logger.Debug("prometheus series repaired", "query", q.Name, "warning", w)
	}
	if err != nil {
		return lines, errors.Join(bound, fmt.Errorf("parse: %w", err))
	}
	return lines, bound
}

// dropFlatZero removes the series whose every sample is "0".
func dropFlatZero(series []json.RawMessage) []json.RawMessage {
	out := series[:0]
	for _, raw := range series {
		var s struct {
			Values [][2]any `json:"values"`
		}
		if json.Unmarshal(raw, &s) == nil && len(s.Values) > 0 && allZero(s.Values) {
			continue
		}
		out = append(out, raw)
	}
	return out
}

func allZero(values [][2]any) bool {
	for _, v := range values {
		if s, ok := v[1].(string); !ok || (s != "0" && s != "-0") {
			return false
		}
	}
	return true
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}
