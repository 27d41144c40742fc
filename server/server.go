// Package server is Causeway's HTTP API for runbooks, alert hooks and the
// web UI: incidents and their evidence, uploads, investigations run from a
// durable queue in Postgres, their progress as server-sent events, a chat
// grounded on an incident's packed context, health and metrics.
//
// Several servers may share one database: each claims queued
// investigations with FOR UPDATE SKIP LOCKED and holds a lease on each job
// it runs; a job whose worker died is claimed again when its lease runs out.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/store"
)

// Config tunes a Server. The zero value of each field means its default.
type Config struct {
	// Tokens are API tokens from the environment, besides the stored ones.
	Tokens []StaticToken
	// Open serves every request without a token, as admin: for a local
	// demo only.
	Open bool
	// CORSOrigins may call the API from a browser; none by default.
	CORSOrigins []string

	MaxBodyBytes   int64         // a JSON request body; default 1 MiB
	MaxUploadBytes int64         // an uploaded file or archive; default 512 MiB
	MaxBudget      int           // the largest budget_tokens a request may ask; default 2,000,000
	RequestTimeout time.Duration // a JSON request; default 60 s
	UploadTimeout  time.Duration // an upload; default 30 min
	// ChatConcurrency bounds the chats answered (and packs inspected) at
	// once; default 8.
	ChatConcurrency int
	// NoUI serves the API alone, without the web UI.
	NoUI bool
	// AlertInvestigate makes the Alertmanager webhook queue an
	// investigation of the firing alerts' namespaces, not only open an
	// incident.
	AlertInvestigate bool
	// Archive bounds what an uploaded archive unpacks to.
	Archive investigate.ArchiveLimits

	Workers WorkerConfig
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = 512 << 20
	}
	if c.MaxBudget <= 0 {
		c.MaxBudget = 2_000_000
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 60 * time.Second
	}
	if c.UploadTimeout <= 0 {
		c.UploadTimeout = 30 * time.Minute
	}
	if c.Archive.MaxBytes <= 0 {
		// Evidence compresses well, but not a thousandfold: an archive
		// that unpacks to more is a bomb, not a bundle.
		c.Archive.MaxBytes = 4 * c.MaxUploadBytes
	}
	if c.ChatConcurrency <= 0 {
		c.ChatConcurrency = 8
	}
	c.Workers = c.Workers.withDefaults()
	return c
}

// Server serves the API and, unless Config.Workers.Concurrency is
// negative, runs investigations from the queue.
type Server struct {
	DB      *store.DB
	Service *investigate.Service
	Logger  *slog.Logger
	Config  Config
	// Web, when set, serves everything outside the API (the web UI).
	Web http.Handler
	// Authenticators are tried, in order, for requests without a bearer
	// token.
	Authenticators []Authenticator

	chat      *investigate.Chat
	chatSem   chan struct{}
	timelines timelineCache
	metrics   *metrics
	hub       *hub
	pool      *pool

	// closing is closed when the server shuts down: event streams end, so
	// that clients reconnect to another replica.
	closing   chan struct{}
	closeOnce sync.Once
	bg        context.Context
	stopBG    context.CancelFunc
	bgDone    sync.WaitGroup
	started   bool
}

// New returns a server over db that runs investigations with svc.
func New(db *store.DB, svc *investigate.Service, logger *slog.Logger, cfg Config) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	bg, stop := context.WithCancel(context.Background())
	s := &Server{DB: db, Service: svc, Logger: logger, Config: cfg, chat: investigate.NewChat(svc),
		chatSem: make(chan struct{}, cfg.ChatConcurrency), hub: newHub(), closing: make(chan struct{}), bg: bg, stopBG: stop}
	s.metrics = newMetrics(db)
	s.pool = newPool(db, svc, logger, cfg.Workers, s.metrics)
	if !cfg.NoUI {
		s.mountWeb()
	}
	return s
}

// Start starts the background work: the listener that carries events and
// job notifications between replicas, and the workers.
func (s *Server) Start() {
	if s.started {
		return
	}
	s.started = true
	s.bgDone.Add(1)
	go func() {
		defer s.bgDone.Done()
		s.listen(s.bg)
	}()
	s.pool.start()
}

// CloseStreams ends every event stream now (clients reconnect, with
// Last-Event-ID, to another replica). Register it with
// http.Server.RegisterOnShutdown, since Shutdown does not wait for
// long-lived responses.
func (s *Server) CloseStreams() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// Shutdown stops the server's background work: workers take no new jobs,
// running jobs may finish until ctx ends, and those still running then go
// back to the queue for another replica (or the next start) to run.
func (s *Server) Shutdown(ctx context.Context) error {
	s.CloseStreams()
	err := s.pool.stop(ctx)
	s.stopBG()
	s.bgDone.Wait()
	return err
}

// Handler is the API's router.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, s.recoverer, s.metrics.instrument, s.cors, securityHeaders)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "not_found", Detail: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: codeMethodNotAllowed, Detail: r.Method + " is not allowed on " + r.URL.Path})
	})
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", s.ready)
	r.Get("/metrics", s.metrics.handler().ServeHTTP)

	r.Route("/v1", func(r chi.Router) {
		r.Use(s.authenticate)
		read, write, admin := require(store.ScopeRead), require(store.ScopeWrite), require(store.ScopeAdmin)
		// Plain JSON requests: bounded in time, reading included.
		r.Group(func(r chi.Router) {
			r.Use(deadline(s.Config.RequestTimeout), middleware.Timeout(s.Config.RequestTimeout))
			r.With(read).Get("/openapi.json", serveOpenAPI)
			r.With(read).Get("/incidents", s.listIncidents)
			r.With(write).Post("/incidents", s.createIncident)
			r.With(read).Get("/incidents/{id}", s.getIncident)
			r.With(write).Patch("/incidents/{id}", s.updateIncident)
			r.With(admin).Delete("/incidents/{id}", s.deleteIncident)
			r.With(read).Get("/incidents/{id}/lines/{line}", s.getLine)
			r.With(read).Get("/incidents/{id}/investigations", s.listInvestigations)
			r.With(read).Get("/incidents/{id}/chat", s.listChat)
			r.With(read).Get("/incidents/{id}/timeline", s.getTimeline)
			r.With(write).Post("/investigations", s.createInvestigation)
			r.With(read).Get("/investigations/{id}", s.getInvestigation)
			r.With(write).Post("/investigations/{id}/cancel", s.cancelInvestigation)
			r.With(write).Method(http.MethodPost, "/hooks/alertmanager", s.alertHook())
			s.memoryRoutes(r, read, write)
			r.With(admin).Get("/tokens", s.listTokens)
			r.With(admin).Post("/tokens", s.createToken)
			r.With(admin).Delete("/tokens/{id}", s.revokeToken)
		})
		// Uploads: larger bodies, more time.
		r.Group(func(r chi.Router) {
			r.Use(write, deadline(s.Config.UploadTimeout))
			r.Post("/incidents/import", s.importIncident)
			r.Post("/incidents/{id}/files", s.uploadFiles)
			r.Post("/incidents/{id}/bundle", s.uploadBundle)
		})
		// Streams: open as long as there is something to say.
		r.With(read).Get("/investigations/{id}/events", s.investigationEvents)
		r.With(write).Post("/incidents/{id}/chat", s.postChat)
		// Packing a large incident again takes a while.
		r.With(read).Get("/investigations/{id}/pack", s.getPack)
	})
	if s.Web != nil {
		r.Mount("/", s.Web)
	}
	return r
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		s.Logger.Warn("not ready", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// listen carries notifications from Postgres to this replica: new events
// wake their streams, new jobs wake the workers, cancel requests reach the
// job's worker. It listens again after a broken connection; streams and
// workers also poll, so a gap costs latency, not correctness.
func (s *Server) listen(ctx context.Context) {
	for {
		err := s.DB.Listen(ctx, func(channel, payload string) {
			switch channel {
			case store.ChannelEvents:
				if id, err := strconv.ParseInt(payload, 10, 64); err == nil {
					s.hub.publish(id)
				}
			case store.ChannelJobs:
				if rest, ok := strings.CutPrefix(payload, "cancel:"); ok {
					if id, err := strconv.ParseInt(rest, 10, 64); err == nil {
						s.pool.cancelLocal(id)
					}
					return
				}
				s.pool.wake()
			}
		}, store.ChannelEvents, store.ChannelJobs)
		if ctx.Err() != nil {
			return
		}
		s.Logger.Warn("listening for notifications failed; retrying", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// recoverer answers a panic with a JSON 500 and logs it.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v,
					"request_id", middleware.GetReqID(r.Context()))
				writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal", Detail: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// cors answers browsers from the configured origins only; with none, it
// adds nothing and browsers keep other origins out.
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.Config.CORSOrigins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !slices.Contains(s.Config.CORSOrigins, origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", "Location, Idempotent-Replayed")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, Last-Event-ID")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// deadline bounds how long reading the request and writing the response
// may take, so that a slow client cannot hold a connection forever.
func deadline(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			t := time.Now().Add(d)
			// Not every ResponseWriter supports deadlines (httptest's
			// recorder does not); the context deadline still applies.
			_ = rc.SetReadDeadline(t)
			_ = rc.SetWriteDeadline(t.Add(5 * time.Second))
			next.ServeHTTP(w, r)
		})
	}
}

// workerID names this process's workers in the database: host, pid and a
// random suffix, so that two servers on one host differ.
func workerID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), store.NewTokenSecret()[3:9])
}
