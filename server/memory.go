package server

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/memory"
	"github.com/causeway-rca/causeway/store"
)

// memoryRoutes serves memory: documents in, feedback in, similar past
// incidents and runbook sections out.
func (s *Server) memoryRoutes(r chi.Router, read, write func(http.Handler) http.Handler) {
	r.With(write).Post("/docs", s.postDoc)
	r.With(write).Post("/investigations/{id}/feedback", s.postFeedback)
	r.With(read).Get("/investigations/{id}/similar", s.getSimilar)
}

// docRequest is a markdown document for memory.
type docRequest struct {
	Name     string `json:"name"`
	Markdown string `json:"markdown"`
}

// feedbackRequest is an engineer's verdict on an answer.
type feedbackRequest struct {
	Verdict string `json:"verdict"`
	Note    string `json:"note,omitempty"`
}

// similarView is what an investigation's memory holds for it.
type similarView struct {
	Items []investigate.Prior `json:"items"`
}

func (s *Server) memory() (*memory.Memory, error) {
	if s.Service == nil || s.Service.Memory == nil {
		return nil, causeway.Errorf(causeway.ECONFLICT, "memory is off on this server")
	}
	return s.Service.Memory, nil
}

func (s *Server) postDoc(w http.ResponseWriter, r *http.Request) {
	var req docRequest
	if err := decodeJSON(w, r, s.Config.MaxBodyBytes, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if strings.TrimSpace(req.Name) == "" || strings.TrimSpace(req.Markdown) == "" {
		s.fail(w, r, causeway.Errorf(causeway.EINVALID, "name and markdown are required"))
		return
	}
	m, err := s.memory()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := m.AddDoc(r.Context(), req.Name, req.Markdown, 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) postFeedback(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req feedbackRequest
	if err := decodeJSON(w, r, s.Config.MaxBodyBytes, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	f := &store.Feedback{InvestigationID: id, Verdict: req.Verdict, Note: req.Note}
	if p, ok := PrincipalFrom(r.Context()); ok {
		f.Author = p.Name
	}
	if err := s.Service.Feedback(r.Context(), f); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) getSimilar(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.memory(); err != nil {
		s.fail(w, r, err)
		return
	}
	items, err := s.Service.Similar(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if items == nil {
		items = []investigate.Prior{}
	}
	writeJSON(w, http.StatusOK, similarView{Items: items})
}
