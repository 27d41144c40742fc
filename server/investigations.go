package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/store"
)

var timeZero time.Time

// Request limits.
const (
	maxQuestion       = 4000 // characters
	maxIdempotencyKey = 255
	minBudget         = 1000
)

// investigationRequest is the body of POST /v1/investigations.
type investigationRequest struct {
	IncidentID int64              `json:"incident_id,omitempty"`
	Scope      *investigate.Scope `json:"scope,omitempty"`
	Question   string             `json:"question,omitempty"`
	Budget     int                `json:"budget_tokens,omitempty"`
	Model      string             `json:"model,omitempty"`
}

// investigationView is an investigation as the API shows it.
type investigationView struct {
	*causeway.Investigation
	Attempts        int             `json:"attempts"`
	Worker          string          `json:"worker,omitempty"`
	CancelRequested bool            `json:"cancel_requested,omitempty"`
	Scope           json.RawMessage `json:"scope,omitempty"`
	// SourceErrors are the incident's sources that could not be (fully)
	// read or collected, as "name: reason".
	SourceErrors []string          `json:"source_errors"`
	StartedAt    *time.Time        `json:"started_at,omitempty"`
	FinishedAt   *time.Time        `json:"finished_at,omitempty"`
	Links        map[string]string `json:"links"`
}

func (s *Server) view(ctx context.Context, j *store.Job) (*investigationView, error) {
	srcs, err := s.DB.Sources(ctx, j.Investigation.IncidentID)
	if err != nil {
		return nil, err
	}
	errs := investigate.SourceErrors(srcs)
	if errs == nil {
		errs = []string{}
	}
	self := "/v1/investigations/" + strconv.FormatInt(j.Investigation.ID, 10)
	return &investigationView{Investigation: j.Investigation, Attempts: j.Attempts, Worker: j.Worker,
		CancelRequested: j.CancelRequested, Scope: j.Scope, SourceErrors: errs, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt,
		Links: map[string]string{
			"self": self, "events": self + "/events", "cancel": self + "/cancel",
			"incident": "/v1/incidents/" + strconv.FormatInt(j.Investigation.IncidentID, 10),
		}}, nil
}

// createInvestigation enqueues an investigation of an incident, or of an
// inline scope (a new incident whose sources are collected first), and
// answers 202 with it; the client polls GET /v1/investigations/{id} or
// streams its events. An Idempotency-Key makes a retried request return the
// first one's investigation (200, Idempotent-Replayed: true).
func (s *Server) createInvestigation(w http.ResponseWriter, r *http.Request) {
	var req investigationRequest
	if err := decodeJSON(w, r, s.Config.MaxBodyBytes, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if err := s.checkInvestigation(&req, key); err != nil {
		s.fail(w, r, err)
		return
	}
	nj := &store.NewJob{
		Investigation:  &causeway.Investigation{IncidentID: req.IncidentID, Question: strings.TrimSpace(req.Question), Budget: req.Budget, Model: req.Model},
		IdempotencyKey: key,
		RequestHash:    requestHash(&req),
	}
	if req.Scope != nil {
		nj.Scope, _ = json.Marshal(req.Scope)
		if req.IncidentID == 0 {
			nj.Incident = scopeIncident(req.Scope, nj.Investigation.Question)
		}
	}
	job, created, err := s.DB.Enqueue(r.Context(), nj)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.pool.wake()
	v, err := s.view(r.Context(), job)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", v.Links["self"])
	if !created {
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSON(w, http.StatusOK, v)
		return
	}
	writeJSON(w, http.StatusAccepted, v)
}

func (s *Server) checkInvestigation(req *investigationRequest, key string) error {
	switch {
	case req.IncidentID == 0 && req.Scope == nil:
		return causeway.Errorf(causeway.EINVALID, "give incident_id (an existing incident) or scope (a window and sources to collect)")
	case req.IncidentID < 0:
		return causeway.Errorf(causeway.EINVALID, "incident_id %d is not a positive number", req.IncidentID)
	case req.Budget != 0 && (req.Budget < minBudget || req.Budget > s.Config.MaxBudget):
		return causeway.Errorf(causeway.EINVALID, "budget_tokens %d is outside %d..%d", req.Budget, minBudget, s.Config.MaxBudget)
	case utf8.RuneCountInString(req.Question) > maxQuestion:
		return causeway.Errorf(causeway.EINVALID, "question has %d characters; at most %d", utf8.RuneCountInString(req.Question), maxQuestion)
	case len(key) > maxIdempotencyKey || strings.IndexFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0:
		return causeway.Errorf(causeway.EINVALID, "Idempotency-Key must be 1 to %d printable ASCII characters", maxIdempotencyKey)
	}
	if req.Scope != nil {
		if err := req.Scope.Validate(req.IncidentID != 0); err != nil {
			return err
		}
	}
	if _, err := s.Service.Model(req.Model); err != nil {
		return err
	}
	return nil
}

// scopeIncident is the incident an inline scope creates.
func scopeIncident(sc *investigate.Scope, question string) *causeway.Incident {
	title := sc.Title
	if title == "" {
		var types []string
		for _, src := range sc.Sources {
			types = append(types, src.Type)
		}
		title = fmt.Sprintf("%s from %s to %s", strings.Join(types, ", "),
			sc.Window.Start.UTC().Format(time.RFC3339), sc.Window.End.UTC().Format(time.RFC3339))
	}
	return &causeway.Incident{Title: title, WindowStart: sc.Window.Start, WindowEnd: sc.Window.End, Question: question}
}

// requestHash identifies a request's content, so that an Idempotency-Key
// reused for a different request is refused rather than answered with the
// wrong investigation.
func requestHash(req *investigationRequest) string {
	b, _ := json.Marshal(req)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (s *Server) getInvestigation(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	job, err := s.DB.Job(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.view(r.Context(), job)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// cancelInvestigation stops an investigation: at once when it is queued
// (200, canceled), else as soon as its worker hears (202, cancel_requested).
func (s *Server) cancelInvestigation(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	job, err := s.DB.Cancel(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.pool.cancelLocal(id)
	v, err := s.view(r.Context(), job)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusAccepted
	if job.Terminal() {
		status = http.StatusOK
	}
	writeJSON(w, status, v)
}

func (s *Server) listInvestigations(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.DB.Incident(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	invs, err := s.DB.Investigations(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// A list shows what happened, not every answer in full.
	for _, inv := range invs {
		inv.Answer, inv.RawReply = nil, ""
		if inv.Verdict != nil {
			inv.Verdict.Citations = nil
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"investigations": invs})
}

const eventBatch = 500

// investigationEvents streams an investigation's events as server-sent
// events: every event stored so far after Last-Event-ID (header, or the
// "after" query parameter for a first connection), then each new one as it
// happens, until "end". A finished investigation with nothing after
// Last-Event-ID answers 204, which tells an EventSource to stop
// reconnecting.
func (s *Server) investigationEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	after, err := lastEventID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	wake, unsubscribe := s.hub.subscribe(id) // before reading, so no event slips between
	defer unsubscribe()
	job, err := s.DB.Job(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	evs, err := s.DB.Events(ctx, id, after, eventBatch)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if job.Terminal() && len(evs) == 0 && after > 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	sse := newSSE(w)
	poll := time.NewTicker(2 * time.Second)
	defer poll.Stop()
	idle := 0
	for {
		for _, e := range evs {
			if err := sse.event(e.ID, e.Type, e.Data); err != nil {
				return
			}
			after = e.ID
			if e.Type == store.EventEnd {
				return
			}
		}
		if len(evs) < eventBatch {
			select {
			case <-wake:
			case <-poll.C:
				// Notifications may be lost with a broken connection; a
				// job that ended without an end event (stored before the
				// queue existed) must still end its stream.
				if j, err := s.DB.Job(ctx, id); err == nil && j.Terminal() {
					if evs, err = s.DB.Events(ctx, id, after, eventBatch); err == nil && len(evs) == 0 {
						_ = sse.event(0, store.EventEnd, map[string]any{"status": j.Investigation.Status, "error": j.Investigation.Error})
						return
					}
					continue
				}
				if idle++; idle%8 == 0 {
					if sse.comment("keep-alive") != nil {
						return
					}
				}
			case <-ctx.Done():
				return
			case <-s.closing:
				return
			}
		}
		if evs, err = s.DB.Events(ctx, id, after, eventBatch); err != nil {
			return
		}
	}
}

func lastEventID(r *http.Request) (int64, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("after")
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, causeway.Errorf(causeway.EINVALID, "Last-Event-ID %q is not an event id", v)
	}
	return n, nil
}
