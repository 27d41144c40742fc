package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/causeway-rca/causeway"
)

// Token scopes, from the least to the most allowed: read may only look,
// write may also create incidents, upload, investigate and chat, admin may
// also delete incidents and manage tokens.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
	ScopeAdmin = "admin"
)

// ScopeRank orders scopes: a token may do what its scope's rank covers. An
// unknown scope ranks 0, below read.
func ScopeRank(scope string) int {
	switch scope {
	case ScopeRead:
		return 1
	case ScopeWrite:
		return 2
	case ScopeAdmin:
		return 3
	}
	return 0
}

// TokenPrefix starts every token, so that a secret scanner and a person
// recognize one.
const TokenPrefix = "cw_"

// Token is an API token as stored: everything but the secret.
type Token struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Scope     string     `json:"scope"`
	Prefix    string     `json:"prefix"` // the secret's first characters
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// NewTokenSecret returns a fresh random token: "cw_" and 43 characters of
// base64url (256 bits).
func NewTokenSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken is what is stored of a token and looked up.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func tokenPrefix(secret string) string {
	return secret[:min(len(secret), len(TokenPrefix)+6)]
}

const tokenCols = `id, name, scope, prefix, created_at, revoked_at`

func scanToken(row pgx.Row) (*Token, error) {
	var t Token
	if err := row.Scan(&t.ID, &t.Name, &t.Scope, &t.Prefix, &t.CreatedAt, &t.RevokedAt); err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateToken stores a new token named name with scope and returns it with
// its secret, which is shown once and never stored. A live token of the
// same name is an ECONFLICT error.
func (db *DB) CreateToken(ctx context.Context, name, scope string) (*Token, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, "", causeway.Errorf(causeway.EINVALID, "a token needs a name")
	}
	if ScopeRank(scope) == 0 {
		return nil, "", causeway.Errorf(causeway.EINVALID, "scope %q is not one of read, write, admin", scope)
	}
	secret := NewTokenSecret()
	t, err := scanToken(db.pool.QueryRow(ctx, `
		INSERT INTO api_tokens (name, scope, hash, prefix) VALUES ($1, $2, $3, $4)
		RETURNING `+tokenCols, name, scope, HashToken(secret), tokenPrefix(secret)))
	if isUniqueViolation(err) {
		return nil, "", causeway.Errorf(causeway.ECONFLICT, "a live token named %q exists; revoke it first", name)
	}
	if err != nil {
		return nil, "", fmt.Errorf("create token %s: %w", name, err)
	}
	return t, secret, nil
}

// TokenByHash returns the live (not revoked) token with the given hash, or
// an ENOTFOUND error.
func (db *DB) TokenByHash(ctx context.Context, hash []byte) (*Token, error) {
	t, err := scanToken(db.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL`, hash))
	if err != nil {
		return nil, notFound(err, "token")
	}
	return t, nil
}

// Tokens lists every token, live and revoked, oldest first.
func (db *DB) Tokens(ctx context.Context) ([]*Token, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+tokenCols+` FROM api_tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Token, error) { return scanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

// LiveTokens counts the tokens that are not revoked.
func (db *DB) LiveTokens(ctx context.Context) (int, error) {
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}

// RevokeToken revokes the live token named by ref: its id, or its name.
// It returns the token as revoked.
func (db *DB) RevokeToken(ctx context.Context, ref string) (*Token, error) {
	id, _ := strconv.ParseInt(ref, 10, 64)
	t, err := scanToken(db.pool.QueryRow(ctx, `
		UPDATE api_tokens SET revoked_at = now()
		WHERE id = (SELECT id FROM api_tokens WHERE (id = $1 OR name = $2) AND revoked_at IS NULL ORDER BY id LIMIT 1)
		RETURNING `+tokenCols, id, ref))
	if err != nil {
		return nil, notFound(err, "live token %q", ref)
	}
	return t, nil
}
