// Package server is Causeway's HTTP API: health, incidents, their evidence
// lines and investigations, for runbooks and alert hooks.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/store"
)

// Server serves the API.
type Server struct {
	DB     *store.DB
	Runner *investigate.Service
	Logger *slog.Logger
	// MaxBudget caps the budget a request may ask for.
	MaxBudget int

	wg sync.WaitGroup
	// jobs is cancelled when the server shuts down, stopping running
	// investigations (which are then stored as canceled).
	jobs       context.Context
	cancelJobs context.CancelFunc
}

// New returns a server over db that runs investigations with runner.
func New(db *store.DB, runner *investigate.Service, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{DB: db, Runner: runner, Logger: logger, MaxBudget: 2_000_000, jobs: ctx, cancelJobs: cancel}
}

// Handler is the API's router.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.Recoverer, middleware.Timeout(60*time.Second))
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", s.ready)
	r.Route("/v1", func(r chi.Router) {
		r.Get("/incidents", s.listIncidents)
		r.Get("/incidents/{id}", s.getIncident)
		r.Get("/incidents/{id}/lines/{line}", s.getLine)
		r.Post("/investigations", s.createInvestigation)
		r.Get("/investigations/{id}", s.getInvestigation)
	})
	return r
}

// Close stops running investigations and waits for them to be stored.
func (s *Server) Close() {
	s.cancelJobs()
	s.wg.Wait()
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if err := s.DB.Ping(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

type incidentView struct {
	*causeway.Incident
	Sources []*causeway.Source `json:"sources"`
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	incs, err := s.DB.Incidents(r.Context(), 200)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": incs})
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	inc, err := s.DB.Incident(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	srcs, err := s.DB.Sources(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, incidentView{Incident: inc, Sources: srcs})
}

func (s *Server) getLine(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	num, ok := causeway.ParseLineID(chi.URLParam(r, "line"))
	if !ok {
		s.fail(w, r, causeway.Errorf(causeway.EINVALID, "%q is not a line id like L4821", chi.URLParam(r, "line")))
		return
	}
	n := 0
	if c := r.URL.Query().Get("context"); c != "" {
		if n, err = strconv.Atoi(c); err != nil || n < 0 || n > 500 {
			s.fail(w, r, causeway.Errorf(causeway.EINVALID, "context must be 0..500 lines, not %q", c))
			return
		}
	}
	lines, err := s.DB.LineContext(r.Context(), id, num, n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"line": causeway.LineID(num), "lines": lines})
}

type investigationRequest struct {
	IncidentID int64  `json:"incident_id"`
	Question   string `json:"question"`
	Budget     int    `json:"budget_tokens"`
	Model      string `json:"model"`
}

// createInvestigation starts an investigation of an existing incident and
// answers 202 with its id; the client polls GET /v1/investigations/{id}.
func (s *Server) createInvestigation(w http.ResponseWriter, r *http.Request) {
	var req investigationRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.fail(w, r, causeway.Errorf(causeway.EINVALID, "request body: %v", err))
		return
	}
	if req.IncidentID == 0 {
		s.fail(w, r, causeway.Errorf(causeway.EINVALID, "incident_id is required"))
		return
	}
	if req.Budget < 0 || req.Budget > s.MaxBudget {
		s.fail(w, r, causeway.Errorf(causeway.EINVALID, "budget_tokens %d is outside 1..%d", req.Budget, s.MaxBudget))
		return
	}
	inc, err := s.DB.Incident(r.Context(), req.IncidentID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.Runner.Model(req.Model); err != nil {
		s.fail(w, r, err)
		return
	}
	started := make(chan int64, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		out, err := s.Runner.Run(s.jobs, inc, investigate.Request{Question: req.Question, Budget: req.Budget, Model: req.Model,
			Status: func(string) {}, Created: func(id int64) { started <- id }})
		if err != nil {
			s.Logger.Warn("investigation failed", "incident", inc.ID, "error", err)
		}
		if out == nil {
			close(started)
		}
	}()
	id, ok := <-started
	if !ok {
		s.fail(w, r, causeway.Errorf(causeway.EINTERNAL, "investigation could not be created"))
		return
	}
	w.Header().Set("Location", "/v1/investigations/"+strconv.FormatInt(id, 10))
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "status": causeway.StatusQueued})
}

func (s *Server) getInvestigation(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	inv, err := s.DB.Investigation(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inv)
}

func pathID(r *http.Request, name string) (int64, error) {
	v := chi.URLParam(r, name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, causeway.Errorf(causeway.EINVALID, "%s %q is not a positive number", name, v)
	}
	return id, nil
}

// statusOf maps error codes to HTTP statuses, in one place.
func statusOf(code string) int {
	switch code {
	case causeway.EINVALID:
		return http.StatusBadRequest
	case causeway.ENOTFOUND:
		return http.StatusNotFound
	case causeway.ECONFLICT:
		return http.StatusConflict
	case causeway.EMODEL:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := causeway.ErrorCode(err)
	status := statusOf(code)
	msg := err.Error()
	var e *causeway.Error
	if status == http.StatusInternalServerError && !errors.As(err, &e) {
		s.Logger.Error("request failed", "path", r.URL.Path, "error", err)
		msg = "internal error"
	}
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
