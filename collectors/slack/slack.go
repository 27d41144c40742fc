// Package slack collects the incident channel's conversation for a window
// through the Slack Web API: conversations.history and, for each thread
// started in it, conversations.replies, both paged by cursor; the authors
// and mentioned users are named through users.info.
//
// The messages are handed to the bundle parser (files.Parse, kind slack)
// as the JSON array of a Slack export day file, so a message reads
// "@Alice Ng: the gateway is returning 503 again" whether it came from an
// export or from the API. A rate-limited request (HTTP 429) waits the
// Retry-After it was given and tries again, within bounds.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

// DefaultURL is the Slack Web API.
const DefaultURL = "https://slack.com/api"

// Defaults of Config's bounds.
const (
	DefaultPageSize    = 200
	DefaultMaxMessages = 5000
	DefaultMaxThreads  = 200
	DefaultMaxRetries  = 5
	DefaultMaxWait     = 60 * time.Second
	DefaultTimeout     = 5 * time.Minute
)

// Config says which channels to read and how much of them.
type Config struct {
	// URL is the Web API's base (DefaultURL when empty); tests point it at
	// their own server.
	URL string
	// Token is a bot or user token with channels:history, groups:history,
	// channels:read, groups:read and users:read.
	Token string
	// Channels are channel ids (C024BE91L) or names (#incident-42).
	Channels []string
	// PageSize is the limit of one request; MaxMessages bounds a channel
	// with its threads, MaxThreads the threads read per channel.
	PageSize    int
	MaxMessages int
	MaxThreads  int
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
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	if c.MaxMessages <= 0 {
		c.MaxMessages = DefaultMaxMessages
	}
	if c.MaxThreads <= 0 {
		c.MaxThreads = DefaultMaxThreads
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

// Collector reads channels of one Slack workspace.
type Collector struct {
	cfg  Config
	http *httpx.Client
}

var _ causeway.Collector = (*Collector)(nil)

// New returns a collector for cfg.
func New(cfg Config) *Collector {
	cfg = cfg.withDefaults()
	return &Collector{cfg: cfg, http: &httpx.Client{
		HTTP: cfg.Client, Header: http.Header{"Authorization": {"Bearer " + cfg.Token}},
		// Slack says "rate limited" with 429 only; a 503 is an outage.
		RetryStatus: []int{http.StatusTooManyRequests},
		MaxRetries:  cfg.MaxRetries, MaxWait: cfg.MaxWait,
		Name: "slack", Logger: cfg.Logger, Sleep: cfg.Sleep,
	}}
}

// channelID matches a conversation id: public (C), private (G) or direct (D).
var channelID = regexp.MustCompile(`^[CGD][A-Z0-9]{6,}$`)

// Collect implements causeway.Collector: one source per channel,
// "slack/<name>/history". A channel that cannot be read is its source's
// error; Collect itself fails only when the sink does or ctx ends.
func (c *Collector) Collect(ctx context.Context, inc *causeway.Incident, sink causeway.LineSink) error {
	if c.cfg.Token == "" || len(c.cfg.Channels) == 0 || inc.WindowStart.IsZero() || inc.WindowEnd.IsZero() {
		return sink.WriteLines(ctx, &causeway.Source{IncidentID: inc.ID, Name: "slack", Kind: causeway.KindSlack,
			Error: "not collected: a token, channels and an incident window with start and end are needed"}, nil)
	}
	fetchCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	r := &run{c: c, ctx: fetchCtx, users: map[string]string{}}
	for _, ch := range c.cfg.Channels {
		id, name, err := r.resolve(strings.TrimPrefix(strings.TrimSpace(ch), "#"))
		src := &causeway.Source{IncidentID: inc.ID, Name: "slack/" + name + "/history", Kind: causeway.KindSlack,
			Labels: map[string]string{"channel": name}}
		var msgs []json.RawMessage
		if err == nil {
			msgs, err = r.channel(id, inc.WindowStart, inc.WindowEnd)
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil && fetchCtx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("time limit %s reached: %w", c.cfg.Timeout, err)
		}
		if err := r.write(ctx, sink, inc, src, msgs, err); err != nil {
			return err
		}
	}
	return nil
}

// run is one collection, with the users named so far.
type run struct {
	c     *Collector
	ctx   context.Context
	users map[string]string
	// channels maps names to ids, listed once when a name is configured.
	channels map[string]string
}

// message is the part of a message the collector reads; the parser reads
// the rest from the raw JSON.
type message struct {
	Ts         string `json:"ts"`
	ThreadTs   string `json:"thread_ts"`
	User       string `json:"user"`
	Text       string `json:"text"`
	ReplyCount int    `json:"reply_count"`
}

type page struct {
	OK       bool              `json:"ok"`
	Error    string            `json:"error"`
	Messages []json.RawMessage `json:"messages"`
	HasMore  bool              `json:"has_more"`
	Meta     struct {
		NextCursor string `json:"next_cursor"`
	} `json:"response_metadata"`
}

// channel reads a channel's messages in [from, to] and the replies of its
// threads, oldest first, each once. The error says why it stopped early;
// the messages read before are returned with it.
func (r *run) channel(id string, from, to time.Time) ([]json.RawMessage, error) {
	window := url.Values{"channel": {id}, "oldest": {slackTime(from)}, "latest": {slackTime(to)}, "inclusive": {"true"}}
	byTs := map[string]json.RawMessage{}
	var order []string
	add := func(raw json.RawMessage) (message, bool) {
		var m message
		if json.Unmarshal(raw, &m) != nil || m.Ts == "" || byTs[m.Ts] != nil {
			return m, false
		}
		byTs[m.Ts] = raw
		order = append(order, m.Ts)
		return m, true
	}
	var threads []string
	err := r.pages("conversations.history", window, func(p *page) (bool, error) {
		for _, raw := range p.Messages {
			if len(order) >= r.c.cfg.MaxMessages {
				return false, fmt.Errorf("message limit %d reached; older messages not collected", r.c.cfg.MaxMessages)
			}
			if m, ok := add(raw); ok && m.ReplyCount > 0 && (m.ThreadTs == "" || m.ThreadTs == m.Ts) {
				threads = append(threads, m.Ts)
			}
		}
		return true, nil
	})
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for i, ts := range threads {
		if i >= r.c.cfg.MaxThreads {
			errs = append(errs, fmt.Errorf("thread limit %d reached; replies of %d threads not collected", r.c.cfg.MaxThreads, len(threads)-i))
			break
		}
		q := url.Values{"ts": {ts}}
		for k, v := range window {
			q[k] = v
		}
		err := r.pages("conversations.replies", q, func(p *page) (bool, error) {
			for _, raw := range p.Messages {
				if len(order) >= r.c.cfg.MaxMessages {
					return false, fmt.Errorf("message limit %d reached in thread %s; later replies not collected", r.c.cfg.MaxMessages, ts)
				}
				add(raw)
			}
			return true, nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("thread %s: %w", ts, err))
			if r.ctx.Err() != nil {
				break
			}
		}
	}
	slices.SortFunc(order, compareTs)
	out := make([]json.RawMessage, len(order))
	for i, ts := range order {
		out[i] = byTs[ts]
	}
	return out, errors.Join(errs...)
}

// pages calls method page by page, following next_cursor, and hands each
// page to f until f says stop or returns an error.
func (r *run) pages(method string, q url.Values, f func(*page) (bool, error)) error {
	cursor := ""
	for n := 1; ; n++ {
		v := url.Values{"limit": {strconv.Itoa(r.c.cfg.PageSize)}}
		for k, vs := range q {
			v[k] = vs
		}
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		var p page
		if err := r.call(method, v, &p); err != nil {
			return fmt.Errorf("%s page %d: %w", method, n, err)
		}
		more, err := f(&p)
		if err != nil || !more {
			return err
		}
		cursor = p.Meta.NextCursor
		if cursor == "" {
			return nil
		}
	}
}

// apiError is an answer with "ok": false.
type apiError struct{ Code string }

func (e *apiError) Error() string { return "slack API error: " + e.Code }

// call makes one Web API call into out, waiting out 429s.
func (r *run) call(method string, q url.Values, out any) error {
	body, err := r.c.http.Get(r.ctx, strings.TrimSuffix(r.c.cfg.URL, "/")+"/"+method+"?"+q.Encode())
	if err != nil {
		return err
	}
	var ok struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &ok); err != nil {
		return fmt.Errorf("not a Slack API response: %w", err)
	}
	if !ok.OK {
		return &apiError{Code: ok.Error}
	}
	return json.Unmarshal(body, out)
}

// resolve returns a channel's id and name: an id is named through
// conversations.info, a name is found through conversations.list.
func (r *run) resolve(ch string) (id, name string, err error) {
	if channelID.MatchString(ch) {
		var info struct {
			Channel struct {
				Name string `json:"name"`
			} `json:"channel"`
		}
		if err := r.call("conversations.info", url.Values{"channel": {ch}}, &info); err != nil || info.Channel.Name == "" {
			r.c.cfg.Logger.Debug("slack channel not named", "channel", ch, "error", err)
			return ch, ch, nil // history will say what is wrong, if anything
		}
		return ch, info.Channel.Name, nil
	}
	if r.channels == nil {
		r.channels = map[string]string{}
		err := r.pagesOf("conversations.list", url.Values{"types": {"public_channel,private_channel"}, "exclude_archived": {"true"}},
			func(raw []byte) error {
				var l struct {
					Channels []struct {
						ID   string `json:"id"`
						Name string `json:"name"`
					} `json:"channels"`
				}
				if err := json.Unmarshal(raw, &l); err != nil {
					return err
				}
				for _, c := range l.Channels {
					r.channels[c.Name] = c.ID
				}
				return nil
			})
		if err != nil {
			r.channels = nil
			return "", ch, fmt.Errorf("find channel #%s: %w", ch, err)
		}
	}
	if id, ok := r.channels[ch]; ok {
		return id, ch, nil
	}
	return "", ch, fmt.Errorf("no channel #%s visible to the token (invite the app, or give its id)", ch)
}

// pagesOf pages through a list method other than history, at most 50
// pages, handing each raw page to f.
func (r *run) pagesOf(method string, q url.Values, f func([]byte) error) error {
	cursor := ""
	for range 50 {
		v := url.Values{"limit": {"1000"}}
		for k, vs := range q {
			v[k] = vs
		}
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		var raw json.RawMessage
		if err := r.call(method, v, &raw); err != nil {
			return err
		}
		if err := f(raw); err != nil {
			return err
		}
		var p page
		_ = json.Unmarshal(raw, &p)
		if cursor = p.Meta.NextCursor; cursor == "" {
			return nil
		}
	}
	return nil
}

// mention finds user references in message text: <@U024BE7LH>.
var mention = regexp.MustCompile(`<@([UW][A-Z0-9]+)(?:\|[^>]*)?>`)

// name looks up every author and mentioned user not named yet. A user
// that cannot be looked up keeps its id: the message is still evidence.
func (r *run) name(msgs []json.RawMessage) {
	for _, raw := range msgs {
		var m message
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		ids := []string{m.User}
		for _, sub := range mention.FindAllStringSubmatch(m.Text, -1) {
			ids = append(ids, sub[1])
		}
		for _, id := range ids {
			if _, done := r.users[id]; id == "" || done || r.ctx.Err() != nil {
				continue
			}
			var info struct {
				User struct {
					Name     string `json:"name"`
					RealName string `json:"real_name"`
					Profile  struct {
						RealName    string `json:"real_name"`
						DisplayName string `json:"display_name"`
					} `json:"profile"`
				} `json:"user"`
			}
			r.users[id] = ""
			if err := r.call("users.info", url.Values{"user": {id}}, &info); err != nil {
				r.c.cfg.Logger.Debug("slack user not named", "user", id, "error", err)
				continue
			}
			u := info.User
			for _, n := range []string{u.Profile.RealName, u.RealName, u.Profile.DisplayName, u.Name} {
				if n != "" {
					r.users[id] = n
					break
				}
			}
		}
	}
}

// write names the users, parses the messages as an export day file and
// stores the lines with fetchErr as the source's error.
func (r *run) write(ctx context.Context, sink causeway.LineSink, inc *causeway.Incident, src *causeway.Source, msgs []json.RawMessage, fetchErr error) error {
	var lines []causeway.Line
	var perr error
	if len(msgs) > 0 {
		r.name(msgs)
		users := map[string]string{}
		for id, n := range r.users {
			if n != "" {
				users[id] = n
			}
		}
		data, err := json.Marshal(msgs)
		if err != nil {
			return fmt.Errorf("serialize messages of %s: %w", src.Name, err)
		}
		_, perr = files.Parse(ctx, *src, strings.NewReader(string(data)), files.Options{Logger: r.c.cfg.Logger, Users: users},
			func(l causeway.Line) error {
				l.IncidentID = inc.ID
				lines = append(lines, l)
				return nil
			})
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
	}
	if perr != nil {
		perr = fmt.Errorf("parse: %w", perr)
	}
	if err := errors.Join(fetchErr, perr); err != nil {
		src.Error = strings.ReplaceAll(err.Error(), "\n", "; ")
		r.c.cfg.Logger.Warn("slack channel not fully read", "source", src.Name, "error", err)
	}
	src.Lines = int64(len(lines))
	return sink.WriteLines(ctx, src, lines)
}

// slackTime renders t as a Slack timestamp, "1755745200.000000".
func slackTime(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10) + "." + fmt.Sprintf("%06d", t.Nanosecond()/1000)
}

// compareTs orders Slack timestamps ("seconds.micros") numerically.
func compareTs(a, b string) int {
	as, af, _ := strings.Cut(a, ".")
	bs, bf, _ := strings.Cut(b, ".")
	if len(as) != len(bs) {
		return len(as) - len(bs)
	}
	if c := strings.Compare(as, bs); c != 0 {
		return c
	}
	return strings.Compare(af, bf)
}
