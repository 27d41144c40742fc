// Package loki collects an incident's logs from Grafana Loki with LogQL
// (/loki/api/v1/query_range), for clusters that keep their logs there
// rather than on the nodes.
//
// A window is read forward in pages of Config.PageLines entries; each page
// starts at the last timestamp of the one before, and the entries of that
// timestamp already read are skipped, so entries sharing a nanosecond are
// neither lost nor doubled (as logcli does). Streams are grouped into one
// source per namespace/pod/container, the way pod logs are, and read by
// the bundle log parser, so a JSON or klog line reads as in a file.
package loki

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/collectors/files"
	"github.com/causeway-rca/causeway/collectors/internal/httpx"
)

// Defaults of Config's bounds.
const (
	DefaultPageLines  = 5000 // Loki's own max_entries_limit_per_query default
	DefaultMaxLines   = 100_000
	DefaultMaxBytes   = 64 << 20
	DefaultMaxRetries = 5
	DefaultMaxWait    = 30 * time.Second
	DefaultTimeout    = 5 * time.Minute
)

// Query is one LogQL log query; its sources are named "loki/<Name>/...".
type Query struct {
	Name string
	Expr string
}

// ParseQuery reads "name=logql", as the --query flag takes it; a bare
// LogQL selector is named "logs".
func ParseQuery(s string) (Query, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		return Query{Name: "logs", Expr: s}, nil
	}
	name, expr, ok := strings.Cut(s, "=")
	name, expr = strings.TrimSpace(name), strings.TrimSpace(expr)
	if !ok || expr == "" || !validName.MatchString(name) {
		return Query{}, causeway.Errorf(causeway.EINVALID, "query %q: want a LogQL selector or name=logql", s)
	}
	return Query{Name: name, Expr: expr}, nil
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Config says where Loki is, what to ask it and how much to read.
type Config struct {
	URL string
	// Queries are LogQL log queries. With none, the namespaces are read
	// whole: {namespace=~"a|b"}.
	Queries    []Query
	Namespaces []string
	// TenantID is sent as X-Scope-OrgID to a multi-tenant Loki; Header is
	// added to every request (Authorization).
	TenantID string
	Header   http.Header
	// PageLines is the limit of one request; MaxLines and MaxBytes bound
	// one query's whole read.
	PageLines int
	MaxLines  int
	MaxBytes  int64
	// MaxRetries bounds the retries of a request answered 429 or 503;
	// MaxWait is the longest Retry-After honoured.
	MaxRetries int
	MaxWait    time.Duration
	// Timeout bounds the whole collection.
	Timeout time.Duration
	// Client sends the requests; http.DefaultClient when nil.
	Client *http.Client
	Logger *slog.Logger
	// Sleep waits between retries; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (c Config) withDefaults() Config {
	if c.PageLines <= 0 {
		c.PageLines = DefaultPageLines
	}
	if c.MaxLines <= 0 {
		c.MaxLines = DefaultMaxLines
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxRetries < 0 {
		c.MaxRetries = 0
	} else if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Collector collects from one Loki.
type Collector struct {
	cfg  Config
	http *httpx.Client
}

var _ causeway.Collector = (*Collector)(nil)

// New returns a collector for cfg.
func New(cfg Config) *Collector {
	cfg = cfg.withDefaults()
	h := cfg.Header.Clone()
	if cfg.TenantID != "" {
		if h == nil {
			h = http.Header{}
		}
		h.Set("X-Scope-OrgID", cfg.TenantID)
	}
	return &Collector{cfg: cfg, http: &httpx.Client{
		HTTP: cfg.Client, Header: h, MaxRetries: cfg.MaxRetries, MaxWait: cfg.MaxWait,
		// A page may hold up to MaxBytes of lines, and their JSON framing.
		MaxBody: cfg.MaxBytes + 1<<20,
		Name:    "loki", Logger: cfg.Logger, Sleep: cfg.Sleep,
	}}
}

// Queries returns what Collect runs.
func (c *Collector) Queries() []Query {
	if len(c.cfg.Queries) > 0 || len(c.cfg.Namespaces) == 0 {
		return c.cfg.Queries
	}
	quoted := make([]string, len(c.cfg.Namespaces))
	for i, ns := range c.cfg.Namespaces {
		quoted[i] = regexp.QuoteMeta(ns)
	}
	return []Query{{Name: "logs", Expr: "{namespace=~" + strconv.Quote(strings.Join(quoted, "|")) + "}"}}
}

// Collect implements causeway.Collector. A query that fails part-way
// keeps what it read, and each of its sources says where it stopped;
// Collect itself fails only when the sink does or ctx ends.
func (c *Collector) Collect(ctx context.Context, inc *causeway.Incident, sink causeway.LineSink) error {
	queries := c.Queries()
	if c.cfg.URL == "" || len(queries) == 0 || inc.WindowStart.IsZero() || inc.WindowEnd.IsZero() {
		return sink.WriteLines(ctx, &causeway.Source{IncidentID: inc.ID, Name: "loki", Kind: causeway.KindPodLog,
			Error: "not collected: a Loki URL, a query or namespaces, and an incident window with start and end are needed"}, nil)
	}
	fetchCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	for _, q := range queries {
		streams, err := c.read(fetchCtx, q, inc.WindowStart, inc.WindowEnd)
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil && fetchCtx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("time limit %s reached: %w", c.cfg.Timeout, err)
		}
		if err != nil {
			c.cfg.Logger.Warn("loki query stopped", "query", q.Name, "error", err)
		}
		if len(streams) == 0 && err != nil {
			src := &causeway.Source{IncidentID: inc.ID, Name: "loki/" + q.Name, Kind: causeway.KindPodLog, Query: q.Expr, Error: err.Error()}
			if err := sink.WriteLines(ctx, src, nil); err != nil {
				return err
			}
			continue
		}
		for _, s := range streams {
			if err := c.write(ctx, inc, sink, q, s, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry is one log line of a stream.
type entry struct {
	ts   int64 // Unix nanoseconds
	line string
}

// group is the entries of the streams that share a source.
type group struct {
	key     string
	labels  map[string]string
	entries []entry
}

// stream is one stream of a query_range response.
type stream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

type response struct {
	Status    string `json:"status"`
	Error     string `json:"error"`
	ErrorType string `json:"errorType"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// read pages through one query over [from, to) and returns its entries
// grouped into sources, in key order. The error says why it stopped
// early; the entries before that are returned with it.
func (c *Collector) read(ctx context.Context, q Query, from, to time.Time) ([]*group, error) {
	groups := map[string]*group{}
	var lines int
	var bytes int64
	start, end := from.UnixNano(), to.UnixNano()
	// boundary holds the entries at the last page's last timestamp, which
	// the next page, starting there, returns again.
	boundary := map[string]bool{}
	var err error
	for page := 1; ; page++ {
		streams, perr := c.page(ctx, q.Expr, start, end)
		if perr != nil {
			err = fmt.Errorf("query_range page %d (from %s): %w; later lines not collected", page, stamp(start), perr)
			break
		}
		n, last := 0, start
	entries:
		for _, s := range streams {
			id := labelString(s.Stream)
			g := groups[groupKey(s.Stream)]
			for _, v := range s.Values {
				ts, perr := strconv.ParseInt(v[0], 10, 64)
				if perr != nil {
					continue
				}
				n++
				last = max(last, ts)
				if ts == start && boundary[id+"\x00"+v[1]] {
					continue
				}
				switch {
				case lines >= c.cfg.MaxLines:
					err = fmt.Errorf("line limit %d reached at %s; later lines not collected", c.cfg.MaxLines, stamp(ts))
				case bytes+int64(len(v[1])) > c.cfg.MaxBytes:
					err = fmt.Errorf("byte limit %d reached at %s; later lines not collected", c.cfg.MaxBytes, stamp(ts))
				}
				if err != nil {
					break entries
				}
				if g == nil {
					g = &group{key: groupKey(s.Stream), labels: sourceLabels(s.Stream)}
					groups[g.key] = g
				}
				g.entries = append(g.entries, entry{ts: ts, line: v[1]})
				lines++
				bytes += int64(len(v[1]))
			}
		}
		if err != nil || n < c.cfg.PageLines {
			break
		}
		clear(boundary)
		if last == start {
			// A whole page within one nanosecond: step past it rather
			// than asking for the same page forever.
			start++
			continue
		}
		// The next page starts at this page's last timestamp and returns
		// its entries again; remember them so that they are skipped.
		for _, s := range streams {
			id := labelString(s.Stream)
			for _, v := range s.Values {
				if ts, _ := strconv.ParseInt(v[0], 10, 64); ts == last {
					boundary[id+"\x00"+v[1]] = true
				}
			}
		}
		start = last
	}
	out := slices.Collect(maps.Values(groups))
	slices.SortFunc(out, func(a, b *group) int { return strings.Compare(a.key, b.key) })
	for _, g := range out {
		slices.SortStableFunc(g.entries, func(a, b entry) int { return cmp.Compare(a.ts, b.ts) })
	}
	return out, err
}

// page asks for one page of entries from start on, retrying while Loki
// says it is overloaded.
func (c *Collector) page(ctx context.Context, expr string, start, end int64) ([]stream, error) {
	v := url.Values{
		"query":     {expr},
		"start":     {strconv.FormatInt(start, 10)},
		"end":       {strconv.FormatInt(end, 10)},
		"limit":     {strconv.Itoa(c.cfg.PageLines)},
		"direction": {"forward"},
	}
	u := strings.TrimSuffix(c.cfg.URL, "/") + "/loki/api/v1/query_range?" + v.Encode()
	body, err := c.http.Get(ctx, u)
	if err != nil {
		return nil, err
	}
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("not a Loki response: %w", err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("loki: %s %s", r.ErrorType, r.Error)
	}
	if r.Data.ResultType != "streams" {
		return nil, fmt.Errorf("result type %q: only log queries (streams) are collected, not metric queries", r.Data.ResultType)
	}
	var streams []stream
	if err := json.Unmarshal(r.Data.Result, &streams); err != nil {
		return nil, fmt.Errorf("decode streams: %w", err)
	}
	return streams, nil
}

// write parses a group's entries as a log, each prefixed with its
// timestamp so that the parser dates it, and stores them.
func (c *Collector) write(ctx context.Context, inc *causeway.Incident, sink causeway.LineSink, q Query, g *group, readErr error) error {
	src := &causeway.Source{IncidentID: inc.ID, Name: "loki/" + q.Name + "/" + g.key, Kind: causeway.KindPodLog,
		Labels: g.labels, Query: q.Expr}
	pr, pw := io.Pipe()
	go func() {
		var err error
		for _, e := range g.entries {
			if _, err = io.WriteString(pw, time.Unix(0, e.ts).UTC().Format(time.RFC3339Nano)+" "+e.line+"\n"); err != nil {
				break
			}
		}
		pw.CloseWithError(err)
	}()
	var lines []causeway.Line
	_, perr := files.Parse(ctx, *src, pr, files.Options{Logger: c.cfg.Logger, Year: inc.WindowStart.Year()}, func(l causeway.Line) error {
		l.IncidentID = inc.ID
		lines = append(lines, l)
		return nil
	})
	pr.Close()
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if err := errors.Join(readErr, perr); err != nil {
		src.Error = strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	src.Lines = int64(len(lines))
	for len(lines) > 2000 {
		errMsg := src.Error
		src.Error = ""
		if err := sink.WriteLines(ctx, src, lines[:2000]); err != nil {
			return err
		}
		src.Error = errMsg
		lines = lines[2000:]
	}
	return sink.WriteLines(ctx, src, lines)
}

// groupKey names the source a stream belongs to: its namespace, pod and
// container when it has them (stdout and stderr streams of a container
// are one source), else its labels.
func groupKey(labels map[string]string) string {
	ns, pod := labels["namespace"], cmp.Or(labels["pod"], labels["pod_name"])
	if ns != "" && pod != "" {
		key := ns + "/" + pod
		if ctr := cmp.Or(labels["container"], labels["container_name"]); ctr != "" {
			key += "/" + ctr
		}
		return key
	}
	return labelString(labels)
}

// sourceLabels keeps the labels that name where a line came from, under
// the attribute names the packer groups by.
func sourceLabels(labels map[string]string) map[string]string {
	out := map[string]string{}
	for attr, keys := range map[string][]string{
		"namespace": {"namespace"}, "pod": {"pod", "pod_name"}, "container": {"container", "container_name"},
		"node": {"node", "node_name", "nodename", "host"}, "app": {"app", "app_kubernetes_io_name"},
	} {
		for _, k := range keys {
			if v := labels[k]; v != "" {
				out[attr] = v
				break
			}
		}
	}
	return out
}

// labelString renders labels as LogQL does, sorted: {app="web",ns="x"}.
func labelString(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func stamp(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }
