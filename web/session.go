package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store"
)

// Cookie names. The session cookie carries the only credential; the login
// cookie only ties the sign-in form to the browser that loaded it.
const (
	SessionCookie = "causeway_session"
	loginCookie   = "causeway_login"
	// CSRFHeader carries the session's CSRF token on every request that
	// changes something.
	CSRFHeader = "X-CSRF-Token"
)

// Errors of Authenticate, for the caller to answer: ErrSession with 401,
// ErrCSRF with 403.
var (
	ErrSession = errors.New("the session expired or was signed out; sign in again")
	ErrCSRF    = errors.New("this change did not come from a Causeway page (missing or wrong CSRF token, or another origin); reload the page")
	// ErrBadToken is what Config.CheckToken returns for a token that is
	// not valid or was revoked.
	ErrBadToken = errors.New("the token is not valid or was revoked")
)

// Identity is who a session acts as: an API token's name and scope.
type Identity struct {
	Name, Scope string
	// TokenID is the stored token's id; 0 for a token from the
	// environment.
	TokenID int64
}

// Authenticate recognizes a request by its session cookie. It returns nil
// and no error when there is no cookie, ErrSession when the session is
// not live, and ErrCSRF when a request that changes something (any method
// but GET, HEAD and OPTIONS) lacks the session's CSRF token or comes from
// another site. The server's API uses it for requests without a bearer
// token.
func (u *UI) Authenticate(r *http.Request) (*Identity, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	s, err := u.cfg.DB.Session(r.Context(), c.Value)
	switch causeway.ErrorCode(err) {
	case "":
	case causeway.ENOTFOUND:
		return nil, ErrSession
	default:
		return nil, fmt.Errorf("look up session: %w", err)
	}
	if changes(r.Method) {
		if err := checkCSRF(r, s.CSRF, r.Header.Get(CSRFHeader)); err != nil {
			return nil, err
		}
	}
	return &Identity{Name: s.Name, Scope: s.Scope, TokenID: s.TokenID}, nil
}

// changes reports whether a request with method may change something.
func changes(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// checkCSRF admits a change that carries the expected token and does not
// come from another site. SameSite=Strict already keeps the cookie off
// other sites' requests; the token and the origin check hold even where
// it does not (an old browser, a sibling subdomain).
func checkCSRF(r *http.Request, want, got string) error {
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		return ErrCSRF
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return ErrCSRF
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return nil // not a browser's cross-origin request: those always say where from
	}
	ou, err := url.Parse(o)
	if err != nil || o == "null" {
		return ErrCSRF
	}
	// Behind a proxy that rewrites Host, the browser's host is the
	// forwarded one; another site cannot set that header without CORS.
	if strings.EqualFold(ou.Host, r.Host) || strings.EqualFold(ou.Host, r.Header.Get("X-Forwarded-Host")) {
		return nil
	}
	return ErrCSRF
}

// session returns the request's live session, or nil.
func (u *UI) session(r *http.Request) (*store.Session, string, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, "", nil
	}
	s, err := u.cfg.DB.Session(r.Context(), c.Value)
	switch causeway.ErrorCode(err) {
	case "":
		return s, c.Value, nil
	case causeway.ENOTFOUND:
		return nil, "", nil
	}
	return nil, "", err
}

// signIn exchanges an API token for a new session and returns its cookie
// secret.
func (u *UI) signIn(ctx context.Context, token string) (string, *store.Session, error) {
	id, err := u.cfg.CheckToken(ctx, token)
	if err != nil {
		return "", nil, err
	}
	secret := store.NewSessionSecret()
	s := &store.Session{TokenID: id.TokenID, Name: id.Name, Scope: id.Scope, CSRF: store.NewSessionSecret(),
		ExpiresAt: u.cfg.Now().Add(u.cfg.SessionTTL)}
	if err := u.cfg.DB.CreateSession(ctx, secret, s); err != nil {
		return "", nil, err
	}
	return secret, s, nil
}

// setCookie sets an HttpOnly, SameSite=Strict cookie, Secure when the
// request came over TLS (directly or through a proxy that says so).
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, ttl time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")}
	if ttl > 0 {
		c.MaxAge = int(ttl / time.Second)
		c.Expires = time.Now().Add(ttl)
	} else {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// safeNext keeps a post-sign-in redirect on this site: a path, not
// "//host" or "/\host", which browsers read as another host.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
