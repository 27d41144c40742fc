package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/causeway-rca/causeway/store"
)

// tokenRequest is the body of POST /v1/tokens.
type tokenRequest struct {
	Name  string `json:"name"`
	Scope string `json:"scope,omitempty"` // default read
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	toks, err := s.DB.Tokens(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if toks == nil {
		toks = []*store.Token{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": toks})
}

// createToken answers the new token's secret, the only time it is shown.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if err := decodeJSON(w, r, s.Config.MaxBodyBytes, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Scope == "" {
		req.Scope = store.ScopeRead
	}
	tok, secret, err := s.DB.CreateToken(r.Context(), req.Name, req.Scope)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "secret": secret})
}

// revokeToken revokes a token by id (or name); requests with it fail from
// now on.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	tok, err := s.DB.RevokeToken(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok})
}
