package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/causeway-rca/causeway"
)

// Session is a web UI session: who signed in with which API token, and the
// CSRF token its pages send back with every change.
type Session struct {
	// TokenID is the stored token signed in with; 0 for one from the
	// environment.
	TokenID   int64
	Name      string
	Scope     string
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// NewSessionSecret returns a fresh random secret for a session cookie or a
// CSRF token: 43 characters of base64url (256 bits).
func NewSessionSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// CreateSession stores s under the hash of the cookie secret and sets its
// CreatedAt. Expired sessions are swept on the way, so that the table holds
// only live ones without a job of its own.
func (db *DB) CreateSession(ctx context.Context, secret string, s *Session) error {
	if ScopeRank(s.Scope) == 0 {
		return causeway.Errorf(causeway.EINVALID, "session scope %q is not one of read, write, admin", s.Scope)
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM web_sessions WHERE expires_at < now()`); err != nil {
		return fmt.Errorf("sweep expired sessions: %w", err)
	}
	var tokenID *int64
	if s.TokenID != 0 {
		tokenID = &s.TokenID
	}
	err := db.pool.QueryRow(ctx, `
		INSERT INTO web_sessions (hash, token_id, name, scope, csrf, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
		HashToken(secret), tokenID, s.Name, s.Scope, s.CSRF, s.ExpiresAt).Scan(&s.CreatedAt)
	if isForeignKeyViolation(err) {
		return causeway.Errorf(causeway.ENOTFOUND, "token %d", s.TokenID)
	}
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session returns the live session whose cookie secret is secret: not
// expired, and not of a revoked token. Any other is ENOTFOUND.
func (db *DB) Session(ctx context.Context, secret string) (*Session, error) {
	var s Session
	var tokenID *int64
	err := db.pool.QueryRow(ctx, `
		SELECT s.token_id, s.name, s.scope, s.csrf, s.created_at, s.expires_at
		FROM web_sessions s LEFT JOIN api_tokens t ON t.id = s.token_id
		WHERE s.hash = $1 AND s.expires_at > now() AND (s.token_id IS NULL OR t.revoked_at IS NULL)`,
		HashToken(secret)).Scan(&tokenID, &s.Name, &s.Scope, &s.CSRF, &s.CreatedAt, &s.ExpiresAt)
	if err != nil {
		return nil, notFound(err, "session")
	}
	if tokenID != nil {
		s.TokenID = *tokenID
	}
	return &s, nil
}

// DeleteSession ends the session whose cookie secret is secret; ending one
// that does not exist is no error (signing out twice is harmless).
func (db *DB) DeleteSession(ctx context.Context, secret string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM web_sessions WHERE hash = $1`, HashToken(secret)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
