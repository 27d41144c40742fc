package server

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store"
)

// Principal is who a request acts as: a token's name and scope.
type Principal struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
	// TokenID is the stored token's id; 0 for a token from the environment.
	TokenID int64 `json:"token_id,omitempty"`
}

type principalKey struct{}

// PrincipalFrom returns the principal a request was authenticated as.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok
}

// WithPrincipal returns ctx carrying p; an Authenticator's caller uses it.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Authenticator recognizes credentials other than a bearer token (the web
// UI's session cookie). It returns nil and no error when the request
// carries none it knows, and an error when it carries bad ones.
type Authenticator interface {
	Authenticate(r *http.Request) (*Principal, error)
}

// StaticToken is an API token given in the environment rather than stored.
type StaticToken struct {
	Name, Scope string
	hash        []byte
}

// ParseTokens reads CAUSEWAY_API_TOKENS: comma-separated entries of
// "name:scope:secret", or a bare "secret", which is an admin token named
// "env". Secrets must be at least 16 characters.
func ParseTokens(env string) ([]StaticToken, error) {
	var toks []StaticToken
	for i, entry := range strings.Split(env, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		t := StaticToken{Name: "env", Scope: store.ScopeAdmin}
		secret := entry
		if parts := strings.SplitN(entry, ":", 3); len(parts) == 3 {
			t.Name, t.Scope, secret = parts[0], parts[1], parts[2]
		} else if len(parts) != 1 {
			return nil, fmt.Errorf("CAUSEWAY_API_TOKENS entry %d: want name:scope:secret or a bare secret", i+1)
		}
		if store.ScopeRank(t.Scope) == 0 {
			return nil, fmt.Errorf("CAUSEWAY_API_TOKENS entry %d (%s): scope %q is not one of read, write, admin", i+1, t.Name, t.Scope)
		}
		if len(secret) < 16 {
			return nil, fmt.Errorf("CAUSEWAY_API_TOKENS entry %d (%s): secret has %d characters; at least 16", i+1, t.Name, len(secret))
		}
		t.hash = store.HashToken(secret)
		toks = append(toks, t)
	}
	return toks, nil
}

// authenticate admits requests with a valid token, or credentials one of
// s.Authenticators accepts, and answers 401 to the rest. Open mode admits
// everyone as admin.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Config.Open {
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), &Principal{Name: "open", Scope: store.ScopeAdmin})))
			return
		}
		p, err := s.principal(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

func (s *Server) principal(r *http.Request) (*Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			return nil, errorf(http.StatusUnauthorized, codeUnauthorized, "Authorization must be \"Bearer <token>\"")
		}
		return s.checkToken(r.Context(), strings.TrimSpace(secret))
	}
	for _, a := range s.Authenticators {
		p, err := a.Authenticate(r)
		if err != nil {
			return nil, err
		}
		if p != nil {
			return p, nil
		}
	}
	return nil, errorf(http.StatusUnauthorized, codeUnauthorized,
		"this request needs an API token: send \"Authorization: Bearer <token>\" (create one with: causeway token create --name NAME)")
}

// checkToken finds the token with secret's hash: the environment's,
// compared in constant time, then the database's, looked up by hash (so
// the secret itself is never compared or kept).
func (s *Server) checkToken(ctx context.Context, secret string) (*Principal, error) {
	hash := store.HashToken(secret)
	var found *StaticToken
	for i := range s.Config.Tokens {
		if subtle.ConstantTimeCompare(hash, s.Config.Tokens[i].hash) == 1 {
			found = &s.Config.Tokens[i]
		}
	}
	if found != nil {
		return &Principal{Name: found.Name, Scope: found.Scope}, nil
	}
	t, err := s.DB.TokenByHash(ctx, hash)
	switch causeway.ErrorCode(err) {
	case "":
		return &Principal{Name: t.Name, Scope: t.Scope, TokenID: t.ID}, nil
	case causeway.ENOTFOUND:
		return nil, errorf(http.StatusUnauthorized, codeUnauthorized, "the token is not valid or was revoked")
	}
	s.Logger.Error("check token", "error", err)
	return nil, errorf(http.StatusServiceUnavailable, codeUnavailable, "cannot check the token now: the database does not answer")
}

// require admits principals whose scope covers scope and answers 403 to the
// rest.
func require(scope string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := PrincipalFrom(r.Context())
			if !ok || store.ScopeRank(p.Scope) < store.ScopeRank(scope) {
				have := "none"
				if ok {
					have = p.Scope
				}
				writeJSON(w, http.StatusForbidden, errorBody{Error: codeForbidden,
					Detail: fmt.Sprintf("this request needs a token with scope %s; this one has %s", scope, have)})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
