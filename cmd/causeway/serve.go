package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/server"
	"github.com/causeway-rca/causeway/store"
)

func (m *Main) serve(ctx context.Context, args []string) error {
	fs := m.newFlagSet("serve", `causeway serve [--addr :8080] [--workers 4] [--auth tokens|open]

Migrates the database, serves the HTTP API and runs investigations from the
queue in Postgres until interrupted. Several replicas may share a database:
they share the queue. On SIGINT/SIGTERM it stops accepting requests, lets
running investigations finish for --shutdown-timeout, and hands the rest
back to the queue.

Every /v1 request needs an API token: CAUSEWAY_API_TOKENS
("name:scope:secret,...") or 'causeway token create'. When there is none,
serve creates an admin token, saves it to CAUSEWAY_TOKEN_FILE (default
~/.config/causeway/token) and prints a curl command that uses it.
--auth open serves without tokens: for a local demo only.`)
	addr := fs.String("addr", m.env("CAUSEWAY_ADDR", ":8080"), "address to listen on")
	workers := fs.Int("workers", envInt(m, "CAUSEWAY_WORKERS", 4), "investigations run at once by this replica (0: serve the API only)")
	lease := fs.Duration("lease", 30*time.Second, "how long a job stays a worker's without renewal; a dead worker's job restarts after it")
	jobTimeout := fs.Duration("job-timeout", 15*time.Minute, "longest one investigation may run")
	shutdownTimeout := fs.Duration("shutdown-timeout", 30*time.Second, "on stop, how long running investigations may finish before they are requeued")
	auth := fs.String("auth", m.env("CAUSEWAY_AUTH", "tokens"), "tokens (every /v1 request needs a token) or open (none: local demo only)")
	alertInvestigate := fs.Bool("alert-investigate", m.Getenv("CAUSEWAY_ALERT_INVESTIGATE") != "", "an Alertmanager notification (POST /v1/hooks/alertmanager) also queues an investigation of its namespaces")
	cors := fs.String("cors-origins", m.Getenv("CAUSEWAY_CORS_ORIGINS"), "comma-separated origins that may call the API from a browser (none by default)")
	maxUpload := fs.Int64("max-upload-mb", 512, "largest upload (file or bundle archive), in MiB")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if *auth != "tokens" && *auth != "open" {
		return exitError{code: 2, msg: fmt.Sprintf("--auth %q: want tokens or open", *auth)}
	}
	tokens, err := server.ParseTokens(m.Getenv("CAUSEWAY_API_TOKENS"))
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	svc, err := m.service(ctx)
	if err != nil {
		return err
	}
	logger := m.logger()
	svc.Logger = logger
	// Re-embed memory in the background when the embedder changed.
	go svc.Memory.Background(ctx)
	cfg := server.Config{Tokens: tokens, Open: *auth == "open", MaxUploadBytes: *maxUpload << 20, AlertInvestigate: *alertInvestigate,
		Workers: server.WorkerConfig{Concurrency: *workers, Lease: *lease, JobTimeout: *jobTimeout, Collectors: m.scopeCollectors()}}
	if *workers == 0 {
		cfg.Workers.Concurrency = -1
	}
	for _, o := range strings.Split(*cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.CORSOrigins = append(cfg.CORSOrigins, o)
		}
	}
	srv := server.New(svc.DB, svc, logger, cfg)
	header, err := m.curlAuth(ctx, svc.DB, cfg)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	url := "http://" + displayAddr(ln.Addr())
	fmt.Fprintf(m.Stdout, "causeway: serving on %s (%s)\n  try: curl -s%s %s/v1/incidents\n", url, describe(cfg), header, url)
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	hs.RegisterOnShutdown(srv.CloseStreams)
	srv.Start()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), *shutdownTimeout)
	defer cancel()
	// Requests and jobs drain together; what is still running when the
	// timeout ends goes back to the queue.
	jobsDone := make(chan error, 1)
	go func() { jobsDone <- srv.Shutdown(shutdown) }()
	err = hs.Shutdown(shutdown)
	if errors.Is(err, context.DeadlineExceeded) {
		err = hs.Close()
	}
	err = errors.Join(err, <-jobsDone)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	fmt.Fprintln(m.Stdout, "causeway: stopped")
	return nil
}

func describe(cfg server.Config) string {
	w := "no workers"
	if cfg.Workers.Concurrency > 0 {
		w = fmt.Sprintf("%d workers", cfg.Workers.Concurrency)
	}
	if cfg.Open {
		return w + ", auth OPEN: anyone who reaches this address can read and change everything"
	}
	return w + ", API tokens required"
}

// curlAuth settles how the printed curl example authenticates, creating
// and saving a first admin token when the server would otherwise accept
// none, so that a fresh `make run` works at once.
func (m *Main) curlAuth(ctx context.Context, db *store.DB, cfg server.Config) (string, error) {
	if cfg.Open {
		return "", nil
	}
	if len(cfg.Tokens) > 0 {
		return ` -H "Authorization: Bearer $CAUSEWAY_TOKEN"`, nil
	}
	path, err := m.tokenFile()
	if err != nil {
		return "", err
	}
	header := fmt.Sprintf(` -H "Authorization: Bearer $(cat %s)"`, shellQuote(path))
	if data, err := os.ReadFile(path); err == nil {
		if _, err := db.TokenByHash(ctx, store.HashToken(strings.TrimSpace(string(data)))); err == nil {
			return header, nil
		}
	}
	live, err := db.LiveTokens(ctx)
	if err != nil {
		return "", err
	}
	if live > 0 {
		fmt.Fprintf(m.Stderr, "causeway: requests need an API token; create one with: causeway token create --name NAME\n")
		return ` -H "Authorization: Bearer $CAUSEWAY_TOKEN"`, nil
	}
	tok, secret, err := db.CreateToken(ctx, "bootstrap", store.ScopeAdmin)
	if causeway.ErrorCode(err) == causeway.ECONFLICT {
		// Another replica created it at the same moment; its file is not ours.
		return ` -H "Authorization: Bearer $CAUSEWAY_TOKEN"`, nil
	}
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("save the first API token: %w", err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save the first API token: %w", err)
	}
	fmt.Fprintf(m.Stdout, "causeway: no API token existed, so one was created: %s (admin, id %d), saved to %s\n", secret, tok.ID, path)
	return header, nil
}

// tokenFile is where serve keeps the admin token it creates for a first run.
func (m *Main) tokenFile() (string, error) {
	if p := m.Getenv("CAUSEWAY_TOKEN_FILE"); p != "" {
		return p, nil
	}
	dir := m.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := m.Getenv("HOME")
		if home == "" {
			return "", errors.New("serve: set CAUSEWAY_TOKEN_FILE or HOME to save the first API token")
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "causeway", "token"), nil
}

func shellQuote(s string) string {
	if strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-~", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func envInt(m *Main, name string, def int) int {
	if v, err := strconv.Atoi(m.Getenv(name)); err == nil {
		return v
	}
	return def
}

// displayAddr turns a listener's address into one a person can paste:
// a wildcard host becomes localhost.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
