package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/prompt/builtin"
	"github.com/causeway-rca/causeway/server"
	"github.com/causeway-rca/causeway/store"
	"github.com/causeway-rca/causeway/store/storetest"
	"github.com/causeway-rca/causeway/web"
)

var tokenizer = chunking.MustTokenizer("")

// site is the UI as `causeway serve` serves it: the API with the UI
// mounted, over a fresh database, with one write token.
type site struct {
	t     *testing.T
	db    *store.DB
	url   string
	token string
}

func newSite(t *testing.T, cfg server.Config) *site {
	t.Helper()
	db := storetest.MustOpenDB(t)
	svc := investigate.New(db, tokenizer, func(string) (causeway.Model, error) { return builtin.New(), nil })
	cfg.Workers.Concurrency = -1 // no investigations run here
	srv := server.New(db, svc, nil, cfg)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	_, secret, err := db.CreateToken(context.Background(), "alice", store.ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	return &site{t: t, db: db, url: hs.URL, token: secret}
}

// browser is a client that keeps cookies and does not follow redirects,
// so that tests see them.
func (s *site) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (s *site) do(c *http.Client, method, path string, body string, hdr ...string) (*http.Response, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)"`)

// signIn signs c in with token through the form, as a person does, and
// returns the sign-in response and the pages' CSRF token.
func (s *site) signIn(c *http.Client, token string, hdr ...string) (*http.Response, string) {
	s.t.Helper()
	_, page := s.do(c, "GET", "/login", "")
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		s.t.Fatalf("the sign-in form has no CSRF field:\n%s", page)
	}
	form := url.Values{"token": {token}, "csrf": {m[1]}, "next": {"/"}}.Encode()
	res, _ := s.do(c, "POST", "/login", form, append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)...)
	if res.StatusCode != http.StatusSeeOther {
		return res, ""
	}
	_, home := s.do(c, "GET", "/", "")
	mm := csrfMeta.FindStringSubmatch(home)
	if mm == nil {
		s.t.Fatalf("the signed-in page has no CSRF token:\n%s", home)
	}
	return res, mm[1]
}

func sessionCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == web.SessionCookie {
			return c
		}
	}
	return nil
}

func TestPagesSendTheContentSecurityPolicy(t *testing.T) {
	s := newSite(t, server.Config{})
	c := s.browser()
	for _, path := range []string{"/login", "/", "/incidents/1", "/static/js/incident.js", "/static/app.css", "/nowhere"} {
		res, _ := s.do(c, "GET", path, "")
		csp := res.Header.Get("Content-Security-Policy")
		if csp != web.ContentSecurityPolicy {
			t.Errorf("GET %s: Content-Security-Policy %q, want the UI's", path, csp)
		}
		if !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: the policy must allow scripts from this origin only: %q", path, csp)
		}
		if got := res.Header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("GET %s: X-Frame-Options %q, want DENY", path, got)
		}
	}
	res, body := s.do(c, "GET", "/static/js/dom.js", "")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Type"), "javascript") || !strings.Contains(body, "export function h(") {
		t.Errorf("GET /static/js/dom.js: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	// No page carries an inline script, which the policy would block.
	_, login := s.do(c, "GET", "/login", "")
	if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).MatchString(login) || strings.Contains(login, " style=") || strings.Contains(login, " onclick=") {
		t.Errorf("the sign-in page has inline script or style:\n%s", login)
	}
}

func TestSignInSetsAnHttpOnlyStrictSessionCookie(t *testing.T) {
	s := newSite(t, server.Config{})
	tests := []struct {
		name       string
		token      string
		hdr        []string
		wantStatus int
		wantSecure bool
	}{
		{"valid token", s.token, nil, http.StatusSeeOther, false},
		{"behind a TLS proxy", s.token, []string{"X-Forwarded-Proto", "https"}, http.StatusSeeOther, true},
		{"unknown token", "cw_nope", nil, http.StatusUnauthorized, false},
		{"empty token", "", nil, http.StatusUnauthorized, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := s.signIn(s.browser(), tt.token, tt.hdr...)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("POST /login: %d, want %d", res.StatusCode, tt.wantStatus)
			}
			c := sessionCookie(res)
			if tt.wantStatus != http.StatusSeeOther {
				if c != nil && c.Value != "" {
					t.Fatalf("a refused sign-in set a session cookie")
				}
				return
			}
			if c == nil {
				t.Fatal("no session cookie")
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != tt.wantSecure {
				t.Errorf("cookie %s: HttpOnly %v, SameSite %v, Path %q, Secure %v; want HttpOnly, Strict, /, Secure %v",
					c.Name, c.HttpOnly, c.SameSite, c.Path, c.Secure, tt.wantSecure)
			}
			if c.Value == tt.token || strings.Contains(c.Value, tt.token) {
				t.Errorf("the cookie carries the API token itself")
			}
			if c.MaxAge <= 0 || c.MaxAge > 24*3600 {
				t.Errorf("the session lasts %d s; want a working day or so", c.MaxAge)
			}
		})
	}
}

func TestSignInFormNeedsItsOwnCSRFToken(t *testing.T) {
	s := newSite(t, server.Config{})
	c := s.browser()
	// A form posted from elsewhere has neither the login cookie nor its token.
	form := url.Values{"token": {s.token}, "csrf": {"guess"}}.Encode()
	res, _ := s.do(c, "POST", "/login", form, "Content-Type", "application/x-www-form-urlencoded")
	if res.StatusCode != http.StatusForbidden || sessionCookie(res) != nil && sessionCookie(res).Value != "" {
		t.Errorf("POST /login without the form's token: %d, want 403 and no session", res.StatusCode)
	}
}

func TestChangesWithTheSessionNeedTheCSRFToken(t *testing.T) {
	s := newSite(t, server.Config{})
	c := s.browser()
	_, csrf := s.signIn(c, s.token)
	body := `{"title": "checkout 502s"}`
	json := "application/json"
	tests := []struct {
		name string
		hdr  []string
		want int
	}{
		{"no token", []string{"Content-Type", json}, http.StatusForbidden},
		{"wrong token", []string{"Content-Type", json, web.CSRFHeader, "x" + csrf}, http.StatusForbidden},
		{"token from another origin", []string{"Content-Type", json, web.CSRFHeader, csrf, "Origin", "http://evil.example"}, http.StatusForbidden},
		{"cross-site fetch", []string{"Content-Type", json, web.CSRFHeader, csrf, "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"token from a page", []string{"Content-Type", json, web.CSRFHeader, csrf, "Origin", s.url, "Sec-Fetch-Site", "same-origin"}, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, got := s.do(c, "POST", "/v1/incidents", body, tt.hdr...)
			if res.StatusCode != tt.want {
				t.Fatalf("POST /v1/incidents: %d %s, want %d", res.StatusCode, got, tt.want)
			}
			if tt.want == http.StatusForbidden && !strings.Contains(got, `"forbidden"`) {
				t.Errorf("refusal is not the API's error: %s", got)
			}
		})
	}
	// Reads need no token, and bearer requests are not the browser's.
	if res, _ := s.do(c, "GET", "/v1/incidents", ""); res.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/incidents with the session: %d", res.StatusCode)
	}
	if res, got := s.do(http.DefaultClient, "POST", "/v1/incidents", body, "Content-Type", json, "Authorization", "Bearer "+s.token); res.StatusCode != http.StatusCreated {
		t.Errorf("POST with a bearer token: %d %s", res.StatusCode, got)
	}
	// Signing out is a change too.
	res, _ := s.do(c, "POST", "/logout", "csrf=guess", "Content-Type", "application/x-www-form-urlencoded")
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("POST /logout without the token: %d, want 403", res.StatusCode)
	}
	res, _ = s.do(c, "POST", "/logout", "csrf="+csrf, "Content-Type", "application/x-www-form-urlencoded")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /logout: %d, want 303", res.StatusCode)
	}
	if res, _ := s.do(c, "GET", "/v1/incidents", ""); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("after signing out, GET /v1/incidents: %d, want 401", res.StatusCode)
	}
}

func TestRevokingTheTokenEndsItsSessions(t *testing.T) {
	s := newSite(t, server.Config{})
	c := s.browser()
	s.signIn(c, s.token)
	if res, _ := s.do(c, "GET", "/", ""); res.StatusCode != http.StatusOK {
		t.Fatalf("GET / signed in: %d", res.StatusCode)
	}
	if _, err := s.db.RevokeToken(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	res, _ := s.do(c, "GET", "/", "")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("GET / after the token was revoked: %d to %q, want a redirect to sign in", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := s.do(c, "GET", "/v1/incidents", ""); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/incidents after the token was revoked: %d, want 401", res.StatusCode)
	}
}

func TestSignInRedirectsStayOnThisSite(t *testing.T) {
	s := newSite(t, server.Config{})
	for _, tt := range []struct{ next, want string }{
		{"/incidents/3", "/incidents/3"},
		{"//evil.example/x", "/"},
		{`/\evil.example`, "/"},
		{"https://evil.example", "/"},
		{"", "/"},
	} {
		t.Run(tt.next, func(t *testing.T) {
			c := s.browser()
			_, page := s.do(c, "GET", "/login", "")
			form := url.Values{"token": {s.token}, "csrf": {csrfField.FindStringSubmatch(page)[1]}, "next": {tt.next}}.Encode()
			res, _ := s.do(c, "POST", "/login", form, "Content-Type", "application/x-www-form-urlencoded")
			if got := res.Header.Get("Location"); got != tt.want {
				t.Errorf("next=%q redirects to %q, want %q", tt.next, got, tt.want)
			}
		})
	}
}

// TestPagesEscapeEvidence: titles, source errors, answers and quotes come
// from evidence and reach the page as text.
func TestPagesEscapeEvidence(t *testing.T) {
	s := newSite(t, server.Config{})
	ctx := context.Background()
	const evil = `<script>alert(1)</script><img src=x onerror="alert(2)">`
	inc := &causeway.Incident{Title: "checkout " + evil, WindowStart: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), WindowEnd: time.Date(2025, 1, 1, 1, 0, 0, 0, time.UTC)}
	if err := s.db.CreateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	src := &causeway.Source{IncidentID: inc.ID, Name: "logs/app.log", Kind: causeway.KindLog}
	if err := s.db.WriteLines(ctx, src, []causeway.Line{{Seq: 0, Time: inc.WindowStart, Kind: causeway.LineLog, Text: "boom " + evil}}); err != nil {
		t.Fatal(err)
	}
	if err := s.db.SetSourceError(ctx, src, "cannot read "+evil); err != nil {
		t.Fatal(err)
	}
	inv := &causeway.Investigation{IncidentID: inc.ID, Question: "why?", Model: "builtin"}
	if err := s.db.CreateInvestigation(ctx, inv); err != nil {
		t.Fatal(err)
	}
	cite := causeway.Citation{ID: "L1", Quote: `boom "` + evil}
	inv.Status = causeway.StatusDone
	inv.Answer = &causeway.Answer{RootCause: "root " + evil, Summary: "summary " + evil,
		Claims: []causeway.Claim{{Text: "claim " + evil, Citations: []causeway.Citation{cite}}}}
	inv.Verdict = &causeway.Verdict{Total: 1, Verified: 1,
		Citations: []causeway.CitationVerdict{{Citation: cite, Where: "claims[0]", Status: causeway.CitationVerified}}}
	if err := s.db.FinishInvestigation(ctx, inv, []int64{1}); err != nil {
		t.Fatal(err)
	}

	c := s.browser()
	s.signIn(c, s.token)
	for _, path := range []string{"/", "/incidents/" + itoa(inc.ID)} {
		res, page := s.do(c, "GET", path, "")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, res.StatusCode)
		}
		if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img") || strings.Contains(page, `onerror="alert`) {
			t.Errorf("GET %s: evidence became markup:\n%s", path, page)
		}
		if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&#34;alert(2)&#34;&gt;") {
			t.Errorf("GET %s: the evidence is not shown as text", path)
		}
	}
	_, page := s.do(c, "GET", "/incidents/"+itoa(inc.ID), "")
	for _, want := range []string{
		`<p class="root-cause" id="root-cause">root &lt;script&gt;`,
		// The quote sits in an attribute, where a stray quote mark would end it.
		`title="boom &#34;&lt;script&gt;alert(1)&lt;/script&gt;`,
		`data-line="L1"`,
		`<span class="badge">verified</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the incident page lacks %s", want)
		}
	}
}

func TestOpenModeNeedsNoSignIn(t *testing.T) {
	s := newSite(t, server.Config{Open: true})
	c := s.browser()
	if res, _ := s.do(c, "GET", "/", ""); res.StatusCode != http.StatusOK {
		t.Errorf("GET / in open mode: %d, want 200", res.StatusCode)
	}
	if res, _ := s.do(c, "GET", "/login", ""); res.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /login in open mode: %d, want a redirect home", res.StatusCode)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestTheAnswerKeepsItsVerdict marks an answer through the API as the
// page's buttons do (session cookie and CSRF token) and checks that the
// page shows the stored verdict when loaded again.
func TestTheAnswerKeepsItsVerdict(t *testing.T) {
	s := newSite(t, server.Config{})
	ctx := context.Background()
	inc := &causeway.Incident{Title: "disk full", WindowStart: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), WindowEnd: time.Date(2025, 1, 1, 1, 0, 0, 0, time.UTC)}
	if err := s.db.CreateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	inv := &causeway.Investigation{IncidentID: inc.ID, Question: "why?", Model: "builtin"}
	if err := s.db.CreateInvestigation(ctx, inv); err != nil {
		t.Fatal(err)
	}
	inv.Status = causeway.StatusDone
	inv.Answer = &causeway.Answer{RootCause: "the node's disk filled up"}
	if err := s.db.FinishInvestigation(ctx, inv, nil); err != nil {
		t.Fatal(err)
	}
	c := s.browser()
	_, csrf := s.signIn(c, s.token)
	pagePath := "/incidents/" + itoa(inc.ID)
	_, page := s.do(c, "GET", pagePath, "")
	for _, want := range []string{`id="feedback" data-verdict=""`, "Not reviewed yet", `id="feedback-correct"`, `id="similar"`} {
		if !strings.Contains(page, want) {
			t.Errorf("before any verdict, the page lacks %s", want)
		}
	}
	for _, verdict := range []string{"correct", "wrong"} {
		t.Run(verdict, func(t *testing.T) {
			res, body := s.do(c, "POST", "/v1/investigations/"+itoa(inv.ID)+"/feedback", `{"verdict":"`+verdict+`"}`,
				"Content-Type", "application/json", "X-CSRF-Token", csrf)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("POST feedback %s: %d %s", verdict, res.StatusCode, body)
			}
			_, page := s.do(c, "GET", pagePath, "")
			for _, want := range []string{`id="feedback" data-verdict="` + verdict + `"`, "Marked " + verdict + " by alice",
				`data-verdict="` + verdict + `" aria-pressed="true"`} {
				if !strings.Contains(page, want) {
					t.Errorf("after marking it %s, the page lacks %s", verdict, want)
				}
			}
		})
	}
}
