package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/causeway-rca/causeway/web"
)

// mountWeb serves the web UI next to the API and lets its session cookie
// authenticate API requests, the UI's own included.
func (s *Server) mountWeb() {
	ui := web.New(web.Config{DB: s.DB, Open: s.Config.Open, Logger: s.Logger, CheckToken: s.webToken})
	s.Web = ui.Handler()
	s.Authenticators = append(s.Authenticators, sessionAuth{ui: ui, s: s})
}

// webToken checks a token pasted into the sign-in form as the API checks a
// bearer token.
func (s *Server) webToken(ctx context.Context, secret string) (*web.Identity, error) {
	p, err := s.checkToken(ctx, secret)
	var he *httpError
	if errors.As(err, &he) && he.status == http.StatusUnauthorized {
		return nil, web.ErrBadToken
	}
	if err != nil {
		return nil, err
	}
	return &web.Identity{Name: p.Name, Scope: p.Scope, TokenID: p.TokenID}, nil
}

// sessionAuth is the UI's session cookie as an Authenticator.
type sessionAuth struct {
	ui *web.UI
	s  *Server
}

func (a sessionAuth) Authenticate(r *http.Request) (*Principal, error) {
	id, err := a.ui.Authenticate(r)
	switch {
	case errors.Is(err, web.ErrSession):
		return nil, errorf(http.StatusUnauthorized, codeUnauthorized, "%s", err)
	case errors.Is(err, web.ErrCSRF):
		return nil, errorf(http.StatusForbidden, codeForbidden, "%s", err)
	case err != nil:
		a.s.Logger.Error("check session", "error", err)
		return nil, errorf(http.StatusServiceUnavailable, codeUnavailable, "cannot check the session now: the database does not answer")
	case id == nil:
		return nil, nil
	}
	return &Principal{Name: id.Name, Scope: id.Scope, TokenID: id.TokenID}, nil
}
