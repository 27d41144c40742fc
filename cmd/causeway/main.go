// Command causeway finds the root cause of production incidents: it imports
// an incident's evidence, packs it into a model's budget, asks the model and
// verifies every line the answer cites.
//
// Run 'causeway help' for its commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	err := m.Run(ctx, os.Args[1:])
	m.Close()
	if err != nil {
		var ee exitError
		if !errors.As(err, &ee) || ee.msg != "" {
			fmt.Fprintln(os.Stderr, "causeway:", err)
		}
		code := 1
		if errors.As(err, &ee) {
			code = ee.code
		}
		os.Exit(code)
	}
}

// exitError ends the program with a code; an empty msg prints nothing more.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// command is one subcommand of the binary. Each lives in its own file and
// registers itself, so that commands can be added without touching the
// others.
type command struct {
	name    string
	summary string
	run     func(m *Main, ctx context.Context, args []string) error
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

func init() {
	register(command{"serve", "serve the HTTP API (migrates first)", (*Main).serve})
	register(command{"migrate", "apply database migrations", (*Main).migrate})
	register(command{"demo", "load the example incidents into the database", (*Main).demo})
	register(command{"investigate", "investigate an incident bundle and print the verified answer", (*Main).investigate})
	register(command{"pack", "show what a token budget keeps of a bundle", (*Main).pack})
}

func usage() string {
	var b strings.Builder
	b.WriteString("usage: causeway <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-12s %s\n", n, commands[n].summary)
	}
	b.WriteString(`
Run 'causeway <command> -h' for a command's flags.
Environment: DATABASE_URL, CAUSEWAY_MODEL_BASE_URL, CAUSEWAY_MODEL_API_KEY,
CAUSEWAY_MODEL, CAUSEWAY_MODEL_CONTEXT, CAUSEWAY_MODEL_API_VERSION,
CAUSEWAY_MODEL_HEADERS, CAUSEWAY_MODEL_TIMEOUT, CAUSEWAY_MODEL_PRICES,
CAUSEWAY_MODEL_PRICE, CAUSEWAY_ENCODING (see docs/models.md),
CAUSEWAY_REDACT (a redaction rules file).
`)
	return b.String()
}

// Main is the program: its configuration, its output and the parts it opens.
// Tests run it end to end with their own environment and writers.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Now            func() time.Time
	// Terminal says whether Stderr is a terminal that progress may redraw.
	Terminal bool

	db *store.DB
}

// NewMain returns a Main wired to the process's environment.
func NewMain() *Main {
	fi, err := os.Stderr.Stat()
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now,
		Terminal: err == nil && fi.Mode()&os.ModeCharDevice != 0}
}

// Close releases what Run opened.
func (m *Main) Close() {
	if m.db != nil {
		m.db.Close()
		m.db = nil
	}
}

// Run runs one command.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage())
		return exitError{code: 2}
	}
	name, rest := args[0], args[1:]
	if c, ok := commands[name]; ok {
		return c.run(m, ctx, rest)
	}
	if name == "help" || name == "-h" || name == "--help" {
		fmt.Fprint(m.Stdout, usage())
		return nil
	}
	fmt.Fprintf(m.Stderr, "causeway: unknown command %q\n\n%s", name, usage())
	return exitError{code: 2}
}

func (m *Main) env(name, def string) string {
	if v := m.Getenv(name); v != "" {
		return v
	}
	return def
}

func (m *Main) logger() *slog.Logger {
	level := slog.LevelInfo
	if m.Getenv("CAUSEWAY_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
}

// openDB opens and migrates the database named by DATABASE_URL.
func (m *Main) openDB(ctx context.Context) (*store.DB, error) {
	if m.db != nil {
		return m.db, nil
	}
	db, err := store.Open(ctx, m.env("DATABASE_URL", store.DefaultURL))
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	m.db = db
	return db, nil
}

// service opens what an investigation needs.
func (m *Main) service(ctx context.Context) (*investigate.Service, error) {
	db, err := m.openDB(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := chunking.NewTokenizer(m.Getenv("CAUSEWAY_ENCODING"))
	if err != nil {
		return nil, err
	}
	models, err := m.models()
	if err != nil {
		return nil, err
	}
	svc := investigate.New(db, tok, models.Get)
	svc.Now = m.Now
	if path := m.Getenv("CAUSEWAY_REDACT"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("CAUSEWAY_REDACT: %w", err)
		}
		if svc.Redaction, err = chunking.ParseRedactConfig(data); err != nil {
			return nil, fmt.Errorf("CAUSEWAY_REDACT %s: %w", path, err)
		}
	}
	// Memory of confirmed root causes and runbooks: the local embedder
	// needs no network, so it is always on.
	if svc.Memory, err = m.memory(ctx); err != nil {
		return nil, err
	}
	return svc, nil
}

func (m *Main) migrate(ctx context.Context, args []string) error {
	fs := m.newFlagSet("migrate", "causeway migrate\n\nApplies pending migrations to DATABASE_URL.")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	db, err := store.Open(ctx, m.env("DATABASE_URL", store.DefaultURL))
	if err != nil {
		return err
	}
	defer db.Close()
	versions, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(versions) == 0 {
		fmt.Fprintln(m.Stdout, "migrate: schema is up to date")
		return nil
	}
	fmt.Fprintf(m.Stdout, "migrate: applied %d migration(s), now at version %d\n", len(versions), versions[len(versions)-1])
	return nil
}
