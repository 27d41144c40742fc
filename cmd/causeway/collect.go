package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/collectors/jira"
	"github.com/causeway-rca/causeway/collectors/k8s"
	"github.com/causeway-rca/causeway/collectors/loki"
	"github.com/causeway-rca/causeway/collectors/mesh"
	"github.com/causeway-rca/causeway/collectors/prometheus"
	"github.com/causeway-rca/causeway/collectors/slack"
)

func init() {
	register(command{"collect", "collect an incident's evidence from k8s, mesh, prometheus, loki, slack or jira", (*Main).collect})
}

// collectKinds are the sources `causeway collect` reads, each with its
// flags and how they make a collector.
var collectKinds = map[string]struct {
	flags func(m *Main, fs *flag.FlagSet) func() (causeway.Collector, error)
}{
	"k8s":        {flagsK8s},
	"mesh":       {flagsMesh},
	"prometheus": {flagsPrometheus},
	"loki":       {flagsLoki},
	"slack":      {flagsSlack},
	"jira":       {flagsJira},
}

const collectDoc = `causeway collect k8s|mesh|prometheus|loki|slack|jira [--incident ID] [--from T --to T] [flags]

Collects the evidence of one source for an incident's window and stores it
as evidence lines, through the same parsers as bundle import. Collecting the
same window again adds nothing. A source that fails, or stops at a bound, is
recorded with its reason and the rest is kept. mesh reads the admin state of
service mesh proxies and control planes (Envoy, istiod, Linkerd) through the
Kubernetes API's port-forward, as it is when collected.

Without --incident a new incident is opened for --from/--to and its id
printed. Times are RFC 3339 (2025-08-21T03:00:00Z).

Environment: DATABASE_URL; KUBECONFIG; PROMETHEUS_URL, PROMETHEUS_TOKEN;
LOKI_URL, LOKI_TOKEN, LOKI_TENANT; SLACK_TOKEN; JIRA_URL, JIRA_USER,
JIRA_TOKEN.`

func (m *Main) collect(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprintln(m.Stderr, collectDoc)
			return exitError{code: 0}
		}
		return exitError{code: 2, msg: "collect needs a source: k8s, mesh, prometheus, loki, slack or jira\n\n" + collectDoc}
	}
	kind, args := args[0], args[1:]
	spec, ok := collectKinds[kind]
	if !ok {
		return exitError{code: 2, msg: fmt.Sprintf("collect: unknown source %q (want k8s, mesh, prometheus, loki, slack or jira)", kind)}
	}
	fs := m.newFlagSet("collect "+kind, collectDoc)
	incidentID := fs.Int64("incident", 0, "incident to collect for (default: open a new one for --from/--to)")
	from := fs.String("from", "", "window start, RFC 3339 (default: the incident's)")
	to := fs.String("to", "", "window end, RFC 3339 (default: the incident's)")
	title := fs.String("title", "", "title of a new incident")
	build := spec.flags(m, fs)
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		return exitError{code: 2, msg: fmt.Sprintf("collect %s: unexpected arguments %q", kind, fs.Args())}
	}
	window, err := parseWindow(*from, *to)
	if err != nil {
		return exitError{code: 2, msg: "collect " + kind + ": " + err.Error()}
	}
	collector, err := build()
	if err != nil {
		return exitError{code: 2, msg: "collect " + kind + ": " + err.Error()}
	}
	if *incidentID == 0 && (window.WindowStart.IsZero() || window.WindowEnd.IsZero()) {
		return exitError{code: 2, msg: "collect " + kind + ": a new incident needs --from and --to (or give --incident)"}
	}

	db, err := m.openDB(ctx)
	if err != nil {
		return err
	}
	var inc *causeway.Incident
	if *incidentID != 0 {
		if inc, err = db.Incident(ctx, *incidentID); err != nil {
			return err
		}
	} else {
		inc = &causeway.Incident{Title: *title, WindowStart: window.WindowStart, WindowEnd: window.WindowEnd}
		if inc.Title == "" {
			inc.Title = fmt.Sprintf("collected from %s, %s to %s", kind,
				inc.WindowStart.UTC().Format(time.RFC3339), inc.WindowEnd.UTC().Format(time.RFC3339))
		}
		if err := db.CreateIncident(ctx, inc); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "incident %d\n", inc.ID)
	}
	// The window collected may differ from the incident's: a narrower look
	// or a wider one. The incident itself is left as it is.
	scope := *inc
	if !window.WindowStart.IsZero() {
		scope.WindowStart = window.WindowStart
	}
	if !window.WindowEnd.IsZero() {
		scope.WindowEnd = window.WindowEnd
	}
	if scope.WindowStart.IsZero() || scope.WindowEnd.IsZero() {
		return exitError{code: 2, msg: fmt.Sprintf("collect %s: incident %d has no window; give --from and --to", kind, inc.ID)}
	}
	if scope.WindowEnd.Before(scope.WindowStart) {
		return exitError{code: 2, msg: fmt.Sprintf("collect %s: --to is before --from", kind)}
	}

	tok, err := chunking.NewTokenizer(m.Getenv("CAUSEWAY_ENCODING"))
	if err != nil {
		return err
	}
	before, err := db.LineCount(ctx, inc.ID)
	if err != nil {
		return err
	}
	p := m.newProgress()
	ann := chunking.Annotate(db, tok)
	sink := &countingSink{next: ann, progress: p, kind: kind, sources: map[string]*causeway.Source{}}
	start := m.Now()
	err = collector.Collect(ctx, &scope, sink)
	// Flush stores the templates of what was collected, also after a failure.
	if ferr := ann.Flush(context.WithoutCancel(ctx)); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		p.done("collect %s: stopped after %d lines: %v", kind, sink.lines, err)
		return err
	}
	after, err := db.LineCount(ctx, inc.ID)
	if err != nil {
		return err
	}
	failed := sink.report(p)
	p.done("collect %s: incident %d: %d new lines (%d read) from %d sources (%d with errors) in %s",
		kind, inc.ID, after-before, sink.lines, len(sink.sources), failed, m.Now().Sub(start).Round(time.Millisecond))
	if sink.lines == 0 && failed > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("collect %s: nothing collected", kind)}
	}
	return nil
}

func parseWindow(from, to string) (causeway.Incident, error) {
	var w causeway.Incident
	for _, f := range []struct {
		name, v string
		t       *time.Time
	}{{"--from", from, &w.WindowStart}, {"--to", to, &w.WindowEnd}} {
		if f.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, f.v)
		if err != nil {
			return w, fmt.Errorf("%s %q is not an RFC 3339 time (2025-08-21T03:00:00Z)", f.name, f.v)
		}
		*f.t = t.UTC()
	}
	return w, nil
}

// countingSink counts what a collector writes and shows it as progress.
type countingSink struct {
	next     causeway.LineSink
	progress *progress
	kind     string
	mu       sync.Mutex
	lines    int64
	sources  map[string]*causeway.Source
}

func (s *countingSink) WriteLines(ctx context.Context, src *causeway.Source, lines []causeway.Line) error {
	if err := s.next.WriteLines(ctx, src, lines); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines += int64(len(lines))
	cp := *src
	s.sources[src.Name] = &cp
	s.progress.collecting(s.kind, len(s.sources), s.lines, src.Name)
	return nil
}

// report prints each source's error and returns how many had one.
func (s *countingSink) report(p *progress) int {
	names := make([]string, 0, len(s.sources))
	for n := range s.sources {
		names = append(names, n)
	}
	sort.Strings(names)
	failed := 0
	for _, n := range names {
		if e := s.sources[n].Error; e != "" {
			failed++
			p.done("collect %s: %s: %s", s.kind, n, e)
		}
	}
	return failed
}

// listFlag is a flag that may be given several times; with split set, each
// value may also list several, comma-separated.
type listFlag struct {
	vals  []string
	split bool
}

func (l *listFlag) String() string { return strings.Join(l.vals, ",") }

func (l *listFlag) Set(v string) error {
	if !l.split {
		l.vals = append(l.vals, v)
		return nil
	}
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			l.vals = append(l.vals, part)
		}
	}
	return nil
}

func bearer(token string) http.Header {
	if token == "" {
		return nil
	}
	return http.Header{"Authorization": {"Bearer " + token}}
}

func flagsK8s(m *Main, fs *flag.FlagSet) func() (causeway.Collector, error) {
	kubeconfig := fs.String("kubeconfig", m.Getenv("KUBECONFIG"), "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	kubecontext := fs.String("context", "", "kubeconfig context (default: the current one)")
	namespaces := &listFlag{split: true}
	fs.Var(namespaces, "namespace", "namespace to collect whole; repeat or separate with commas")
	controllers := &listFlag{split: true}
	fs.Var(controllers, "controllers", "NS[:SELECTOR] of a controller serving the namespaces (gateway, ingress, mesh); repeat")
	maxLines := fs.Int("max-log-lines", k8s.DefaultMaxLogLines, "lines per container log")
	maxBytes := fs.Int64("max-log-bytes", k8s.DefaultMaxLogBytes, "bytes per container log")
	timeout := fs.Duration("timeout", k8s.DefaultTimeout, "time limit of the whole collection")
	return func() (causeway.Collector, error) {
		cfg := k8s.Config{Namespaces: namespaces.vals, MaxLogLines: *maxLines, MaxLogBytes: *maxBytes, Timeout: *timeout, Logger: m.logger()}
		for _, c := range controllers.vals {
			s, err := k8s.ParseScope(c)
			if err != nil {
				return nil, err
			}
			cfg.Controllers = append(cfg.Controllers, s)
		}
		if len(cfg.Namespaces) == 0 && len(cfg.Controllers) == 0 {
			return nil, fmt.Errorf("give --namespace or --controllers")
		}
		rc, err := k8s.RESTConfig(*kubeconfig, *kubecontext)
		if err != nil {
			return nil, err
		}
		return k8s.NewForConfig(rc, cfg)
	}
}

func flagsMesh(m *Main, fs *flag.FlagSet) func() (causeway.Collector, error) {
	kubeconfig := fs.String("kubeconfig", m.Getenv("KUBECONFIG"), "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	kubecontext := fs.String("context", "", "kubeconfig context (default: the current one)")
	namespaces := &listFlag{split: true}
	fs.Var(namespaces, "namespace", "namespace whose mesh proxies are read; repeat or separate with commas")
	selector := fs.String("selector", "", "label selector narrowing the namespaces' pods")
	pods := &listFlag{split: true}
	fs.Var(pods, "pod", "NAMESPACE/POD to read as well; repeat")
	planes := &listFlag{split: true}
	fs.Var(planes, "control-plane", "namespace of a mesh control plane and its gateways (default: "+strings.Join(mesh.DefaultControlPlanes, ", ")+"; \"none\" for none); repeat")
	maxPods := fs.Int("max-pods", mesh.DefaultMaxPods, "proxies read: gateways first, then pods not ready or restarted")
	endpoints := &listFlag{split: true}
	fs.Var(endpoints, "endpoint", "Envoy admin request to make (default: "+strings.Join(mesh.EnvoyEndpoints, ", ")+"); repeat")
	timeout := fs.Duration("timeout", mesh.DefaultTimeout, "time limit of the whole collection")
	return func() (causeway.Collector, error) {
		if len(namespaces.vals) == 0 && len(pods.vals) == 0 {
			return nil, fmt.Errorf("give --namespace or --pod")
		}
		cfg := mesh.Config{Namespaces: namespaces.vals, Selector: *selector, Pods: pods.vals, MaxPods: *maxPods,
			Endpoints: endpoints.vals, Timeout: *timeout, Logger: m.logger(), Now: m.Now}
		switch {
		case len(planes.vals) == 1 && planes.vals[0] == "none":
			cfg.ControlPlanes = []string{}
		case len(planes.vals) > 0:
			cfg.ControlPlanes = planes.vals
		}
		rc, err := k8s.RESTConfig(*kubeconfig, *kubecontext)
		if err != nil {
			return nil, err
		}
		lister, err := k8s.NewPodListerForConfig(rc)
		if err != nil {
			return nil, err
		}
		forwarder, err := k8s.NewPortForwarder(rc)
		if err != nil {
			return nil, err
		}
		return mesh.New(lister, forwarder, cfg), nil
	}
}

func flagsPrometheus(m *Main, fs *flag.FlagSet) func() (causeway.Collector, error) {
	url := fs.String("url", m.Getenv("PROMETHEUS_URL"), "Prometheus base URL (default: $PROMETHEUS_URL)")
	namespaces := &listFlag{split: true}
	fs.Var(namespaces, "namespace", "namespace the default queries are scoped to; repeat or separate with commas")
	queries := &listFlag{}
	fs.Var(queries, "query", "NAME=PROMQL to collect as well; repeat")
	noDefaults := fs.Bool("no-defaults", false, "collect only the --query queries")
	maxPoints := fs.Int("max-points", prometheus.DefaultMaxPoints, "samples per series; sets the step")
	timeout := fs.Duration("timeout", prometheus.DefaultTimeout, "time limit of the whole collection")
	return func() (causeway.Collector, error) {
		if *url == "" {
			return nil, fmt.Errorf("give --url or set PROMETHEUS_URL")
		}
		cfg := prometheus.Config{URL: *url, Namespaces: namespaces.vals, NoDefaults: *noDefaults, MaxPoints: *maxPoints,
			Timeout: *timeout, Header: bearer(m.Getenv("PROMETHEUS_TOKEN")), Logger: m.logger()}
		for _, q := range queries.vals {
			pq, err := prometheus.ParseQuery(q)
			if err != nil {
				return nil, err
			}
			cfg.Queries = append(cfg.Queries, pq)
		}
		if cfg.NoDefaults && len(cfg.Queries) == 0 {
			return nil, fmt.Errorf("--no-defaults needs at least one --query")
		}
		return prometheus.New(cfg), nil
	}
}

func flagsLoki(m *Main, fs *flag.FlagSet) func() (causeway.Collector, error) {
	url := fs.String("url", m.Getenv("LOKI_URL"), "Loki base URL (default: $LOKI_URL)")
	namespaces := &listFlag{split: true}
	fs.Var(namespaces, "namespace", "namespace to read whole when no --query is given; repeat or separate with commas")
	queries := &listFlag{}
	fs.Var(queries, "query", "LogQL log query, or NAME=LOGQL; repeat")
	tenant := fs.String("tenant", m.Getenv("LOKI_TENANT"), "X-Scope-OrgID of a multi-tenant Loki (default: $LOKI_TENANT)")
	maxLines := fs.Int("max-lines", loki.DefaultMaxLines, "lines per query")
	timeout := fs.Duration("timeout", loki.DefaultTimeout, "time limit of the whole collection")
	return func() (causeway.Collector, error) {
		if *url == "" {
			return nil, fmt.Errorf("give --url or set LOKI_URL")
		}
		cfg := loki.Config{URL: *url, Namespaces: namespaces.vals, TenantID: *tenant, MaxLines: *maxLines, Timeout: *timeout,
			Header: bearer(m.Getenv("LOKI_TOKEN")), Logger: m.logger()}
		for i, q := range queries.vals {
			lq, err := loki.ParseQuery(q)
			if err != nil {
				return nil, err
			}
			if lq.Name == "logs" && len(queries.vals) > 1 {
				lq.Name = "logs-" + strconv.Itoa(i+1) // unnamed queries must not share sources
			}
			cfg.Queries = append(cfg.Queries, lq)
		}
		if len(cfg.Queries) == 0 && len(cfg.Namespaces) == 0 {
			return nil, fmt.Errorf("give --query or --namespace")
		}
		return loki.New(cfg), nil
	}
}

func flagsSlack(m *Main, fs *flag.FlagSet) func() (causeway.Collector, error) {
	url := fs.String("url", slack.DefaultURL, "Slack Web API base URL")
	channels := &listFlag{split: true}
	fs.Var(channels, "channel", "channel id (C024BE91L) or #name; repeat or separate with commas")
	maxMessages := fs.Int("max-messages", slack.DefaultMaxMessages, "messages per channel, threads included")
	timeout := fs.Duration("timeout", slack.DefaultTimeout, "time limit of the whole collection")
	return func() (causeway.Collector, error) {
		token := m.Getenv("SLACK_TOKEN")
		if token == "" {
			return nil, fmt.Errorf("set SLACK_TOKEN to a token with channels:history, groups:history, channels:read, groups:read, users:read")
		}
		if len(channels.vals) == 0 {
			return nil, fmt.Errorf("give --channel")
		}
		return slack.New(slack.Config{URL: *url, Token: token, Channels: channels.vals, MaxMessages: *maxMessages,
			Timeout: *timeout, Logger: m.logger()}), nil
	}
}

func flagsJira(m *Main, fs *flag.FlagSet) func() (causeway.Collector, error) {
	url := fs.String("url", m.Getenv("JIRA_URL"), "Jira site URL (default: $JIRA_URL)")
	issues := &listFlag{split: true}
	fs.Var(issues, "issue", "issue key to read; repeat or separate with commas")
	projects := &listFlag{split: true}
	fs.Var(projects, "project", "project whose issues created or updated in the window are read; repeat")
	jql := fs.String("jql", "", "JQL for issues to read, ANDed with the window")
	flavor := fs.String("flavor", "", "cloud or server (default: cloud for *.atlassian.net)")
	maxIssues := fs.Int("max-issues", jira.DefaultMaxIssues, "issues to read")
	timeout := fs.Duration("timeout", jira.DefaultTimeout, "time limit of the whole collection")
	return func() (causeway.Collector, error) {
		if *url == "" {
			return nil, fmt.Errorf("give --url or set JIRA_URL")
		}
		if *flavor != "" && *flavor != jira.Cloud && *flavor != jira.Server {
			return nil, fmt.Errorf("--flavor %q: want cloud or server", *flavor)
		}
		if len(issues.vals) == 0 && len(projects.vals) == 0 && *jql == "" {
			return nil, fmt.Errorf("give --issue, --project or --jql")
		}
		return jira.New(jira.Config{URL: *url, User: m.Getenv("JIRA_USER"), Token: m.Getenv("JIRA_TOKEN"), Flavor: *flavor,
			Issues: issues.vals, Projects: projects.vals, JQL: *jql, MaxIssues: *maxIssues, Timeout: *timeout, Logger: m.logger()}), nil
	}
}

// collecting shows a collection's progress on a terminal, at most a few
// times a second.
func (p *progress) collecting(kind string, sources int, lines int64, current string) {
	if !p.terminal || p.now().Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = p.now()
	p.drawn = true
	fmt.Fprintf(p.w, "\r\x1b[Kcollect %s: %d sources, %d lines: %s", kind, sources, lines, current)
}
