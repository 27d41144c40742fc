package server

import (
	"mime"
	"net/http"
	"strings"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/store"
)

// chatRequest is the body of POST /v1/incidents/{id}/chat.
type chatRequest struct {
	Message         string `json:"message"`
	InvestigationID int64  `json:"investigation_id,omitempty"`
	Model           string `json:"model,omitempty"`
}

// Chat stream event types, in the order they come: question, status
// (packing, asking, verifying), token (many), then answer or error.
const (
	chatQuestion = "question"
	chatStatus   = "status"
	chatToken    = "token"
	chatAnswer   = "answer"
	chatError    = "error"
)

func (s *Server) listChat(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.DB.Incident(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	msgs, err := s.DB.ChatMessages(r.Context(), id, 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if msgs == nil {
		msgs = []*store.ChatMessage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
}

// postChat answers a follow-up question over the incident's packed context.
// With Accept: text/event-stream the answer streams as server-sent events
// (read with fetch; EventSource cannot POST); otherwise the reply is JSON
// once the answer is verified. Both messages are stored either way.
func (s *Server) postChat(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req chatRequest
	if err := decodeJSON(w, r, s.Config.MaxBodyBytes, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	inc, err := s.DB.Incident(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	select {
	case s.chatSem <- struct{}{}:
		defer func() { <-s.chatSem }()
	case <-ctx.Done():
		return
	}
	creq := investigate.ChatRequest{Message: req.Message, InvestigationID: req.InvestigationID, Model: req.Model}
	if !wantsEvents(r) {
		reply, err := s.chat.Ask(ctx, inc, creq)
		s.countChat(reply)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"question": reply.Question, "answer": reply.Answer})
		return
	}

	// Until the question is stored, a bad request is answered as JSON with
	// its status; after that, the stream has begun and errors are events.
	var sse *sseWriter
	creq.Asked = func(m *store.ChatMessage) {
		sse = newSSE(w)
		_ = sse.event(m.ID, chatQuestion, m)
	}
	creq.Status = func(stage string) { _ = sse.event(0, chatStatus, map[string]string{"status": stage}) }
	creq.Stream = func(delta string) { _ = sse.event(0, chatToken, map[string]string{"text": delta}) }
	reply, err := s.chat.Ask(ctx, inc, creq)
	s.countChat(reply)
	if sse == nil {
		s.fail(w, r, err)
		return
	}
	if reply != nil && reply.Answer != nil {
		_ = sse.event(reply.Answer.ID, chatAnswer, reply.Answer)
	}
	if err != nil {
		_, body := s.errorResponse(r, err)
		_ = sse.event(0, chatError, body)
	}
}

func (s *Server) countChat(reply *investigate.ChatReply) {
	if reply == nil || reply.Result == nil {
		return
	}
	s.metrics.countTokens(reply.Result.Model, reply.Result.Usage)
}

// wantsEvents reports whether the client asked for an event stream.
func wantsEvents(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/event-stream" {
			return true
		}
	}
	return false
}

// countTokens adds a model's usage to the token counter.
func (m *metrics) countTokens(model string, u causeway.Usage) {
	if model == "" {
		model = "unknown"
	}
	m.modelTokens.WithLabelValues(model, "prompt").Add(float64(u.PromptTokens))
	m.modelTokens.WithLabelValues(model, "completion").Add(float64(u.CompletionTokens))
	m.modelTokens.WithLabelValues(model, "cached").Add(float64(u.CachedTokens))
}
