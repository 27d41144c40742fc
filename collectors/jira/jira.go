// Package jira collects an incident's tickets from Jira's REST API: the
// issues named by key, and those a JQL search finds in the window, each
// with all its comments (issue/{key} and issue/{key}/comment, paged).
// Jira Cloud (an account e-mail and API token, or a bearer token) and Jira
// Server/Data Center (a personal access token) are both spoken.
//
// Each issue is handed to the bundle parser (files.Parse, kind jira) as the
// issue JSON the REST API returns, so a comment reads "AIB-142 comment by
// Bob Ma: ..." whether it came from a bundle or from the server.
package jira

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/collectors/files"
	"github.com/causeway-rca/causeway/collectors/internal/httpx"
)

// Flavors of Jira.
const (
	Cloud  = "cloud"
	Server = "server" // Server and Data Center
)

// Defaults of Config's bounds.
const (
	DefaultPageSize    = 50
	DefaultMaxIssues   = 50
	DefaultMaxComments = 500
	DefaultMaxRetries  = 5
	DefaultMaxWait     = 60 * time.Second
	DefaultTimeout     = 3 * time.Minute
)

// Config says where Jira is, how to log in and which tickets to read.
type Config struct {
	// URL is the site, e.g. https://acme.atlassian.net or
	// https://jira.example.com.
	URL string
	// User and Token log in with basic auth (Cloud: account e-mail and
	// API token); Token alone is sent as a bearer token (Server/Data
	// Center personal access token, Cloud OAuth).
	User  string
	Token string
	// Flavor is Cloud or Server; empty means Cloud for *.atlassian.net
	// and Server otherwise. It decides the search API.
	Flavor string
	// Issues are read by key.
	Issues []string
	// JQL and Projects search for the issues created before the window
	// ends and updated after it starts: JQL is ANDed with the window,
	// Projects become "project in (...)".
	JQL      string
	Projects []string
	// PageSize is one request's maxResults; MaxIssues bounds the issues
	// read, MaxComments the comments per issue.
	PageSize    int
	MaxIssues   int
	MaxComments int
	// MaxRetries bounds the retries of a rate-limited request; MaxWait is
	// the longest Retry-After honoured.
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
	if c.Flavor == "" {
		c.Flavor = Server
		if u, err := url.Parse(c.URL); err == nil && strings.HasSuffix(u.Hostname(), ".atlassian.net") {
			c.Flavor = Cloud
		}
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	if c.MaxIssues <= 0 {
		c.MaxIssues = DefaultMaxIssues
	}
	if c.MaxComments <= 0 {
		c.MaxComments = DefaultMaxComments
	}
	if c.MaxRetries == 0 {
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

// Collector reads tickets from one Jira site.
type Collector struct {
	cfg  Config
	http *httpx.Client
}

var _ causeway.Collector = (*Collector)(nil)

// New returns a collector for cfg.
func New(cfg Config) *Collector {
	cfg = cfg.withDefaults()
	h := http.Header{"Accept": {"application/json"}}
	switch {
	case cfg.User != "":
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cfg.User+":"+cfg.Token)))
	case cfg.Token != "":
		h.Set("Authorization", "Bearer "+cfg.Token)
	}
	return &Collector{cfg: cfg, http: &httpx.Client{
		HTTP: cfg.Client, Header: h, MaxRetries: cfg.MaxRetries, MaxWait: cfg.MaxWait,
		Describe: errorMessages, Name: "jira", Logger: cfg.Logger, Sleep: cfg.Sleep,
	}}
}

var issueKey = regexp.MustCompile(`^[A-Z][A-Z0-9_]+-[0-9]+$`)

// Collect implements causeway.Collector: one source per issue,
// "jira/<KEY>", and "jira/search" when the search fails. Collect itself
// fails only when the sink does or ctx ends.
func (c *Collector) Collect(ctx context.Context, inc *causeway.Incident, sink causeway.LineSink) error {
	if c.cfg.URL == "" || (len(c.cfg.Issues) == 0 && c.cfg.JQL == "" && len(c.cfg.Projects) == 0) {
		return sink.WriteLines(ctx, &causeway.Source{IncidentID: inc.ID, Name: "jira", Kind: causeway.KindJira,
			Error: "not collected: a Jira URL and issue keys, a JQL query or projects are needed"}, nil)
	}
	fetchCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	r := &run{c: c, ctx: fetchCtx}
	keys := []string{}
	seen := map[string]bool{}
	for _, k := range c.cfg.Issues {
		if k = strings.ToUpper(strings.TrimSpace(k)); k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	if c.cfg.JQL != "" || len(c.cfg.Projects) > 0 {
		found, err := r.search(inc.WindowStart, inc.WindowEnd)
		for _, k := range found {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
		if err != nil {
			src := &causeway.Source{IncidentID: inc.ID, Name: "jira/search", Kind: causeway.KindJira, Query: r.jql(inc.WindowStart, inc.WindowEnd),
				Error: r.limitErr(err).Error()}
			if err := sink.WriteLines(ctx, src, nil); err != nil {
				return err
			}
		}
	}
	for i, key := range keys {
		src := &causeway.Source{IncidentID: inc.ID, Name: "jira/" + key, Kind: causeway.KindJira, Labels: map[string]string{"ticket": key}}
		var issue map[string]any
		var err error
		switch {
		case !issueKey.MatchString(key):
			err = fmt.Errorf("%q is not an issue key", key)
		case i >= c.cfg.MaxIssues:
			err = fmt.Errorf("not read: issue limit %d reached", c.cfg.MaxIssues)
		default:
			issue, err = r.issue(key)
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err := r.write(ctx, sink, inc, src, issue, r.limitErr(err)); err != nil {
			return err
		}
	}
	return nil
}

type run struct {
	c   *Collector
	ctx context.Context
}

// limitErr names the time limit when that is what ended a fetch.
func (r *run) limitErr(err error) error {
	if err != nil && r.ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("time limit %s reached: %w", r.c.cfg.Timeout, err)
	}
	return err
}

// jqlTime renders t for JQL. JQL reads dates in the searching user's
// time zone, which the collector cannot know, so the search is widened by
// the largest UTC offset on each side and the issues are then matched on
// their own, zoned times.
func jqlTime(t time.Time) string { return strconv.Quote(t.UTC().Format("2006/01/02 15:04")) }

const zoneSlack = 14 * time.Hour

func (r *run) jql(from, to time.Time) string {
	var parts []string
	if r.c.cfg.JQL != "" {
		parts = append(parts, "("+r.c.cfg.JQL+")")
	}
	if len(r.c.cfg.Projects) > 0 {
		quoted := make([]string, len(r.c.cfg.Projects))
		for i, p := range r.c.cfg.Projects {
			quoted[i] = strconv.Quote(p)
		}
		parts = append(parts, "project in ("+strings.Join(quoted, ", ")+")")
	}
	if !from.IsZero() {
		parts = append(parts, "updated >= "+jqlTime(from.Add(-zoneSlack)))
	}
	if !to.IsZero() {
		parts = append(parts, "created <= "+jqlTime(to.Add(zoneSlack)))
	}
	return strings.Join(parts, " AND ") + " ORDER BY created ASC"
}

// searchHit is an issue of a search result with the times it is matched on.
type searchHit struct {
	Key    string `json:"key"`
	Fields struct {
		Created string `json:"created"`
		Updated string `json:"updated"`
	} `json:"fields"`
}

// search returns the keys of the issues created before to and updated
// after from, at most MaxIssues, paging as the flavor's API does.
func (r *run) search(from, to time.Time) ([]string, error) {
	jql := r.jql(from, to)
	var keys []string
	var startAt int
	var token string
	for {
		q := url.Values{"jql": {jql}, "fields": {"created,updated"}, "maxResults": {strconv.Itoa(r.c.cfg.PageSize)}}
		path := "/rest/api/2/search"
		if r.c.cfg.Flavor == Cloud {
			path += "/jql" // Cloud's enhanced search, paged by token
			if token != "" {
				q.Set("nextPageToken", token)
			}
		} else {
			q.Set("startAt", strconv.Itoa(startAt))
		}
		var page struct {
			Issues        []searchHit `json:"issues"`
			Total         int         `json:"total"`
			NextPageToken string      `json:"nextPageToken"`
			IsLast        *bool       `json:"isLast"`
		}
		if err := r.get(path, q, &page); err != nil {
			return keys, fmt.Errorf("search %s: %w", jql, err)
		}
		for _, h := range page.Issues {
			if !inWindow(h, from, to) {
				continue
			}
			if len(keys) >= r.c.cfg.MaxIssues {
				return keys, fmt.Errorf("issue limit %d reached; later issues of the search not read", r.c.cfg.MaxIssues)
			}
			keys = append(keys, h.Key)
		}
		startAt += len(page.Issues)
		token = page.NextPageToken
		switch {
		case len(page.Issues) == 0:
			return keys, nil
		case r.c.cfg.Flavor == Cloud && (token == "" || (page.IsLast != nil && *page.IsLast)):
			return keys, nil
		case r.c.cfg.Flavor != Cloud && startAt >= page.Total:
			return keys, nil
		}
	}
}

// jiraTime is how Jira renders times: "2025-08-21T03:30:00.000+0000".
const jiraTime = "2006-01-02T15:04:05.000-0700"

func inWindow(h searchHit, from, to time.Time) bool {
	created, cerr := time.Parse(jiraTime, h.Fields.Created)
	updated, uerr := time.Parse(jiraTime, h.Fields.Updated)
	if cerr != nil || uerr != nil {
		return true // an unreadable time is no reason to drop the issue
	}
	return (to.IsZero() || !created.After(to)) && (from.IsZero() || !updated.Before(from))
}

// issueFields are the fields read of an issue; comments come separately
// so that none is lost to the issue endpoint's cap.
const issueFields = "summary,description,created,updated,status,issuetype,priority,resolution,resolutiondate,reporter,creator"

// issue reads an issue and all its comments, as one issue JSON with
// fields.comment.comments filled in. The error says why comments stopped;
// the issue and the comments before are returned with it.
func (r *run) issue(key string) (map[string]any, error) {
	var issue map[string]any
	if err := r.get("/rest/api/2/issue/"+url.PathEscape(key), url.Values{"fields": {issueFields}}, &issue); err != nil {
		return nil, fmt.Errorf("issue %s: %w", key, err)
	}
	var comments []json.RawMessage
	var err error
	for startAt := 0; ; {
		var page struct {
			Comments []json.RawMessage `json:"comments"`
			Total    int               `json:"total"`
		}
		q := url.Values{"startAt": {strconv.Itoa(startAt)}, "maxResults": {strconv.Itoa(r.c.cfg.PageSize)}, "orderBy": {"created"}}
		if err = r.get("/rest/api/2/issue/"+url.PathEscape(key)+"/comment", q, &page); err != nil {
			err = fmt.Errorf("comments of %s from %d: %w; later comments not collected", key, startAt, err)
			break
		}
		comments = append(comments, page.Comments...)
		startAt += len(page.Comments)
		if len(comments) >= r.c.cfg.MaxComments && startAt < page.Total {
			comments = comments[:r.c.cfg.MaxComments]
			err = fmt.Errorf("comment limit %d reached; %d later comments of %s not collected", r.c.cfg.MaxComments, page.Total-r.c.cfg.MaxComments, key)
			break
		}
		if len(page.Comments) == 0 || startAt >= page.Total {
			break
		}
	}
	fields, _ := issue["fields"].(map[string]any)
	if fields == nil {
		fields = map[string]any{}
		issue["fields"] = fields
	}
	if comments == nil {
		comments = []json.RawMessage{}
	}
	fields["comment"] = map[string]any{"comments": comments, "total": len(comments)}
	return issue, err
}

// get fetches path with q into out, waiting out 429s (and 503s, which
// Jira Cloud also sends when it sheds load).
func (r *run) get(path string, q url.Values, out any) error {
	return r.c.http.GetJSON(r.ctx, strings.TrimSuffix(r.c.cfg.URL, "/")+path+"?"+q.Encode(), out)
}

// errorMessages reads Jira's {"errorMessages": [...], "errors": {...}}
// body, or returns the body as it is.
func errorMessages(body []byte) string {
	var e struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}
	if json.Unmarshal(body, &e) == nil && (len(e.ErrorMessages) > 0 || len(e.Errors) > 0) {
		msgs := e.ErrorMessages
		for k, v := range e.Errors {
			msgs = append(msgs, k+": "+v)
		}
		return strings.Join(msgs, "; ")
	}
	return strings.TrimSpace(string(body))
}

// write parses an issue and stores its lines with fetchErr as the
// source's error.
func (r *run) write(ctx context.Context, sink causeway.LineSink, inc *causeway.Incident, src *causeway.Source, issue map[string]any, fetchErr error) error {
	var lines []causeway.Line
	var perr error
	if issue != nil {
		data, err := json.Marshal(issue)
		if err != nil {
			return fmt.Errorf("serialize %s: %w", src.Name, err)
		}
		_, perr = files.Parse(ctx, *src, strings.NewReader(string(data)), files.Options{Logger: r.c.cfg.Logger},
			func(l causeway.Line) error {
				l.IncidentID = inc.ID
				lines = append(lines, l)
				return nil
			})
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if perr != nil {
			perr = fmt.Errorf("parse: %w", perr)
		}
	}
	if err := errors.Join(fetchErr, perr); err != nil {
		src.Error = strings.ReplaceAll(err.Error(), "\n", "; ")
		r.c.cfg.Logger.Warn("jira issue not fully read", "source", src.Name, "error", err)
	}
	src.Lines = int64(len(lines))
	return sink.WriteLines(ctx, src, lines)
}
