package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/causeway-rca/causeway"
)

// incidentRequest is the body of POST /v1/incidents.
type incidentRequest struct {
	Key         string    `json:"key,omitempty"`
	Title       string    `json:"title"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Question    string    `json:"question,omitempty"`
}

// incidentPatch is the body of PATCH /v1/incidents/{id}: the fields to
// change.
type incidentPatch struct {
	Title       *string    `json:"title,omitempty"`
	WindowStart *time.Time `json:"window_start,omitempty"`
	WindowEnd   *time.Time `json:"window_end,omitempty"`
	Question    *string    `json:"question,omitempty"`
}

type incidentView struct {
	*causeway.Incident
	Sources []*causeway.Source `json:"sources"`
	Lines   int64              `json:"lines"`
}

const maxTitle = 500

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.fail(w, r, causeway.Errorf(causeway.EINVALID, "limit must be 1..1000, not %q", v))
			return
		}
		limit = n
	}
	incs, err := s.DB.Incidents(r.Context(), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if incs == nil {
		incs = []*causeway.Incident{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": incs})
}

func (s *Server) createIncident(w http.ResponseWriter, r *http.Request) {
	var req incidentRequest
	if err := decodeJSON(w, r, s.Config.MaxBodyBytes, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	inc := &causeway.Incident{Key: strings.TrimSpace(req.Key), Title: strings.TrimSpace(req.Title),
		WindowStart: req.WindowStart, WindowEnd: req.WindowEnd, Question: strings.TrimSpace(req.Question)}
	if err := checkIncident(inc); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.DB.CreateIncident(r.Context(), inc); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/incidents/"+strconv.FormatInt(inc.ID, 10))
	writeJSON(w, http.StatusCreated, incidentView{Incident: inc, Sources: []*causeway.Source{}})
}

func checkIncident(inc *causeway.Incident) error {
	switch {
	case inc.Title == "":
		return causeway.Errorf(causeway.EINVALID, "title is required")
	case utf8.RuneCountInString(inc.Title) > maxTitle:
		return causeway.Errorf(causeway.EINVALID, "title has %d characters; at most %d", utf8.RuneCountInString(inc.Title), maxTitle)
	case utf8.RuneCountInString(inc.Question) > maxQuestion:
		return causeway.Errorf(causeway.EINVALID, "question has %d characters; at most %d", utf8.RuneCountInString(inc.Question), maxQuestion)
	case len(inc.Key) > 200:
		return causeway.Errorf(causeway.EINVALID, "key has %d bytes; at most 200", len(inc.Key))
	case inc.WindowStart.IsZero() != inc.WindowEnd.IsZero():
		return causeway.Errorf(causeway.EINVALID, "give both window_start and window_end, or neither")
	case !inc.WindowStart.IsZero() && !inc.WindowEnd.After(inc.WindowStart):
		return causeway.Errorf(causeway.EINVALID, "window_end (%s) is not after window_start (%s)",
			inc.WindowEnd.Format(time.RFC3339), inc.WindowStart.Format(time.RFC3339))
	}
	return nil
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.incidentView(r, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) incidentView(r *http.Request, id int64) (*incidentView, error) {
	inc, err := s.DB.Incident(r.Context(), id)
	if err != nil {
		return nil, err
	}
	srcs, err := s.DB.Sources(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if srcs == nil {
		srcs = []*causeway.Source{}
	}
	n, err := s.DB.LineCount(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return &incidentView{Incident: inc, Sources: srcs, Lines: n}, nil
}

func (s *Server) updateIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var p incidentPatch
	if err := decodeJSON(w, r, s.Config.MaxBodyBytes, &p); err != nil {
		s.fail(w, r, err)
		return
	}
	inc, err := s.DB.Incident(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if p.Title != nil {
		inc.Title = strings.TrimSpace(*p.Title)
	}
	if p.Question != nil {
		inc.Question = strings.TrimSpace(*p.Question)
	}
	if p.WindowStart != nil {
		inc.WindowStart = *p.WindowStart
	}
	if p.WindowEnd != nil {
		inc.WindowEnd = *p.WindowEnd
	}
	if err := checkIncident(inc); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.DB.UpdateIncident(r.Context(), inc); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.incidentView(r, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) deleteIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.DB.DeleteIncident(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getLine returns a cited line with up to ?context=N lines before and after
// it in its source.
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

func pathID(r *http.Request, name string) (int64, error) {
	v := chi.URLParam(r, name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, causeway.Errorf(causeway.EINVALID, "%s %q is not a positive number", name, v)
	}
	return id, nil
}
