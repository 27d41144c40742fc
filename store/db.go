// Package store is Causeway's system of record in PostgreSQL (pgx): incidents,
// sources, evidence lines ingested with COPY, investigations and chat.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/migrations"
)

// DefaultURL is where Causeway looks for its database when DATABASE_URL is
// not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/causeway?sslmode=disable"

// DB is a connection pool to Causeway's database.
type DB struct {
	pool   *pgxpool.Pool
	Logger *slog.Logger
	Now    func() time.Time
}

// Open connects to the database at url and checks that it answers.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redactURL(cfg), err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s (run scripts/setup-db?): %w", redactURL(cfg), err)
	}
	return &DB{pool: pool, Logger: slog.New(slog.DiscardHandler), Now: time.Now}, nil
}

func redactURL(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("postgres://%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// Close releases the pool.
func (db *DB) Close() { db.pool.Close() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// Migrate applies every pending migration and returns the versions applied.
func (db *DB) Migrate(ctx context.Context) ([]int64, error) {
	sqldb := stdlib.OpenDBFromPool(db.pool)
	defer sqldb.Close()
	return migrate(ctx, sqldb, migrations.FS)
}

func migrate(ctx context.Context, sqldb *sql.DB, fsys fs.FS) ([]int64, error) {
	p, err := goose.NewProvider(goose.DialectPostgres, sqldb, fsys)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	versions := make([]int64, 0, len(results))
	for _, r := range results {
		versions = append(versions, r.Source.Version)
	}
	return versions, nil
}

// notFound turns pgx.ErrNoRows into a causeway ENOTFOUND error.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return causeway.Errorf(causeway.ENOTFOUND, format, args...)
	}
	return fmt.Errorf(fmt.Sprintf(format, args...)+": %w", err)
}

// isUniqueViolation reports whether err is a unique constraint violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
