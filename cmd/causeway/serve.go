package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/causeway-rca/causeway/server"
)

func (m *Main) serve(ctx context.Context, args []string) error {
	fs := m.newFlagSet("serve", `causeway serve [--addr :8080]

Migrates the database and serves the HTTP API until interrupted.`)
	addr := fs.String("addr", m.env("CAUSEWAY_ADDR", ":8080"), "address to listen on")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	svc, err := m.service(ctx)
	if err != nil {
		return err
	}
	logger := m.logger()
	svc.Logger = logger
	srv := server.New(svc.DB, svc, logger)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	url := "http://" + displayAddr(ln.Addr())
	fmt.Fprintf(m.Stdout, "causeway: serving on %s\n  try: curl -s %s/v1/incidents\n", url, url)
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		srv.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	err = hs.Shutdown(shutdown)
	srv.Close()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	fmt.Fprintln(m.Stdout, "causeway: stopped")
	return nil
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
