// Package web is Causeway's web UI: the list of incidents, and an
// incident's page with its timeline, the verified answer, a chat grounded on
// the incident's packed context and the packed context itself. Pages are
// html/template; their scripts are plain JavaScript modules embedded in the
// binary (no build step, nothing from another origin) that talk to the
// server's /v1 API with the session cookie.
//
// Safety: every text that comes from evidence reaches the page escaped by
// html/template or through textContent, never as markup. A
// Content-Security-Policy allows scripts from this origin only, so that
// even an escaping mistake cannot run an injected script. Signing in
// exchanges an API token for an HttpOnly, SameSite=Strict session cookie;
// every change also needs the session's CSRF token.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/causeway-rca/causeway/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is sent with every page: scripts, styles and
// connections from this origin only, no inline script or style attribute,
// no plugins, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Config is what the UI needs from the server it is part of.
type Config struct {
	DB *store.DB
	// CheckToken resolves an API token to who it is, or returns
	// ErrBadToken (wrapped or not) when it is not valid.
	CheckToken func(ctx context.Context, secret string) (*Identity, error)
	// Open serves every page without signing in, as the API's open mode
	// serves every request: for a local demo only.
	Open bool
	// SessionTTL is how long a session lasts; 12 hours when zero.
	SessionTTL time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
}

// UI serves the web UI.
type UI struct {
	cfg    Config
	pages  map[string]*template.Template
	static http.Handler
}

// New returns the UI; its templates are parsed now, so that a broken one
// fails at start, not at the first request.
func New(cfg Config) *UI {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	u := &UI{cfg: cfg, pages: map[string]*template.Template{}}
	for _, page := range []string{"login", "incidents", "incident", "error"} {
		u.pages[page] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html"))
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree has it: a build without it is broken
	}
	u.static = staticHandler(sub)
	return u
}

// Handler routes the UI's pages and assets.
func (u *UI) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders)
	r.Handle("/static/*", http.StripPrefix("/static", u.static))
	r.Get("/login", u.loginPage)
	r.Post("/login", u.login)
	r.Post("/logout", u.logout)
	r.Get("/", u.signedIn(u.incidentsPage))
	r.Get("/incidents/{id}", u.signedIn(u.incidentPage))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		u.errorPage(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		u.errorPage(w, r, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+".")
	})
	return r
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// viewer is who looks at a page: a session's identity and CSRF token.
type viewer struct {
	Name, Scope, CSRF string
	Open              bool
}

// CanWrite reports whether the viewer may change things (chat, upload,
// investigate): the pages hide what the API would refuse.
func (v viewer) CanWrite() bool { return store.ScopeRank(v.Scope) >= store.ScopeRank(store.ScopeWrite) }

// signedIn serves h to viewers with a session (everyone in open mode) and
// sends the rest to the sign-in page, to come back after.
func (u *UI) signedIn(h func(http.ResponseWriter, *http.Request, viewer)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if u.cfg.Open {
			h(w, r, viewer{Name: "open", Scope: store.ScopeAdmin, Open: true})
			return
		}
		s, _, err := u.session(r)
		if err != nil {
			u.cfg.Logger.Error("look up session", "error", err)
			u.errorPage(w, r, http.StatusServiceUnavailable, "The database does not answer; try again in a moment.")
			return
		}
		if s == nil {
			http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r, viewer{Name: s.Name, Scope: s.Scope, CSRF: s.CSRF})
	}
}

// render writes a page; a template that fails is a 500, not half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	var buf bytes.Buffer
	if err := u.pages[page].Execute(&buf, data); err != nil {
		u.cfg.Logger.Error("render page", "page", page, "path", r.URL.Path, "error", err)
		status = http.StatusInternalServerError
		buf.Reset()
		_ = u.pages["error"].Execute(&buf, errorData{Status: status, Message: "This page could not be shown; the server log has the cause."})
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct {
	Viewer  *viewer
	Status  int
	Message string
}

func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	u.render(w, r, status, "error", errorData{Status: status, Message: msg})
}

// staticHandler serves the embedded assets with an ETag of their content,
// so that browsers revalidate cheaply and never run a stale script after
// an upgrade.
func staticHandler(fsys fs.FS) http.Handler {
	etags := map[string]string{}
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		etags["/"+p] = `"` + hex.EncodeToString(sum[:8]) + `"`
		return nil
	})
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		etag, ok := etags[path.Clean(r.URL.Path)]
		if !ok || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// errorsIsBadToken reports whether err says the token was not accepted.
func errorsIsBadToken(err error) bool { return errors.Is(err, ErrBadToken) }
