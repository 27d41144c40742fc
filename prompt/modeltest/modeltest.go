// Package modeltest provides an OpenAI-compatible chat completions server for
// tests. It speaks the real wire format (JSON replies, SSE streams with a
// usage chunk, OpenAI's error JSON), replies as scripted, misbehaves on
// purpose (errors with Retry-After, garbage, truncated streams, slow replies,
// refused response formats) and records every request for assertions.
//
// Only tests import it.
package modeltest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Message is one chat message of a request.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ResponseFormat is a request's response_format.
type ResponseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Strict bool            `json:"strict"`
		Schema json.RawMessage `json:"schema"`
	} `json:"json_schema,omitempty"`
}

// Request is one chat completion request as the server received it.
type Request struct {
	Model          string          `json:"model"`
	Messages       []Message       `json:"messages"`
	ResponseFormat *ResponseFormat `json:"response_format,omitempty"`
	Stream         bool            `json:"stream"`
	StreamOptions  *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options,omitempty"`
	MaxTokens           int `json:"max_tokens,omitempty"`
	MaxCompletionTokens int `json:"max_completion_tokens,omitempty"`

	Header http.Header `json:"-"`
	Body   []byte      `json:"-"`
	// Path is the URL path the request came to; Deployment is the Azure
	// deployment named in it and APIVersion its api-version parameter.
	Path       string `json:"-"`
	Deployment string `json:"-"`
	APIVersion string `json:"-"`
}

// Schema is the name of the JSON schema the request asked for, "" when it
// asked for none.
func (r Request) Schema() string {
	if r.ResponseFormat == nil || r.ResponseFormat.JSONSchema == nil {
		return ""
	}
	return r.ResponseFormat.JSONSchema.Name
}

// Text is every message's content, joined.
func (r Request) Text() string {
	var b strings.Builder
	for _, m := range r.Messages {
		b.WriteString(m.Content)
		b.WriteByte('\n')
	}
	return b.String()
}

// Format is the request's response_format type, "" when it sent none.
func (r Request) Format() string {
	if r.ResponseFormat == nil {
		return ""
	}
	return r.ResponseFormat.Type
}

var evidenceLineRE = regexp.MustCompile(`(?m)^L[0-9]+ .*$`)

// EvidenceLines returns the evidence lines rendered in the request's
// messages ("L12 2025-... source text"), in order, so that a scripted reply
// can cite what was actually sent.
func (r Request) EvidenceLines() []string {
	var out []string
	for _, m := range r.Messages {
		out = append(out, evidenceLineRE.FindAllString(m.Content, -1)...)
	}
	return out
}

// Usage is the token usage a reply reports.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	CachedTokens     int
}

// Reply scripts one response. The zero Reply answers "" with status 200.
type Reply struct {
	// Content is the assistant's message text.
	Content string
	// Status, when not 200 (or 0), makes the reply an error in OpenAI's
	// error JSON shape, with ErrorType, ErrorCode, ErrorParam and Message.
	Status     int
	Message    string
	ErrorType  string
	ErrorCode  string
	ErrorParam string
	// RetryAfter is sent as the Retry-After header when set.
	RetryAfter string
	// RawBody, when set, is sent verbatim as the response body instead of
	// any JSON (e.g. an HTML error page from a proxy), with Status.
	RawBody string
	// Delay holds the reply back; a client that gives up first ends it.
	Delay time.Duration
	// Truncate ends a streamed reply halfway: no finish_reason, no usage
	// chunk, no [DONE]. Abort does the same by cutting the connection.
	Truncate bool
	Abort    bool
	// Usage overrides the usage reported; nil estimates it from the text.
	Usage *Usage
	// Model is the model the reply names; "" echoes the request's.
	Model string
	// FinishReason overrides "stop", e.g. "length" for a reply cut off at
	// max_tokens.
	FinishReason string
}

// Error returns a Reply that fails with status, in OpenAI's error shape.
func Error(status int, message string) Reply {
	typ := "server_error"
	if status < 500 {
		typ = "invalid_request_error"
	}
	return Reply{Status: status, Message: message, ErrorType: typ}
}

// Option configures a Server.
type Option func(*Server)

// WithAPIKey makes the server refuse requests without "Bearer key" with 401.
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithModels sets the models the server serves; requests for any other get
// a 404 model_not_found. Without it, every model is served.
func WithModels(models ...string) Option { return func(s *Server) { s.models = models } }

// RejectJSONSchema makes the server refuse response_format json_schema with
// 400, as endpoints without structured outputs do.
func RejectJSONSchema() Option {
	return func(s *Server) { s.rejectFormats = append(s.rejectFormats, "json_schema") }
}

// RejectJSONObject makes the server refuse response_format json_object with
// 400 too.
func RejectJSONObject() Option {
	return func(s *Server) { s.rejectFormats = append(s.rejectFormats, "json_object") }
}

// WithChunkSize sets how many bytes of content each stream chunk carries.
func WithChunkSize(n int) Option { return func(s *Server) { s.chunkSize = max(n, 1) } }

// RejectMaxTokens makes the server refuse max_tokens with 400 asking for
// max_completion_tokens, as OpenAI's reasoning models do.
func RejectMaxTokens() Option { return func(s *Server) { s.rejectMaxTokens = true } }

// WithContext makes the server refuse, as OpenAI does (400
// context_length_exceeded, with the numbers in the message), a request
// whose messages count more than limit tokens by count (nil: four bytes a
// token) plus max_tokens.
func WithContext(limit int, count func(string) int) Option {
	return func(s *Server) {
		s.contextLimit = limit
		s.count = count
	}
}

// Tokens counts a request's prompt as a WithContext server does.
func (s *Server) Tokens(r Request) int {
	n := 0
	for _, m := range r.Messages {
		if s.count != nil {
			n += s.count(m.Content)
		} else {
			n += len(m.Content) / 4
		}
	}
	return n
}

// Server is an OpenAI-compatible test server. Replies come from the queue
// (Enqueue) first, then from the handler (Handle); with neither, a request
// fails with 500 and a message saying nothing was scripted.
type Server struct {
	srv *httptest.Server

	apiKey          string
	models          []string
	rejectFormats   []string
	rejectMaxTokens bool
	contextLimit    int
	count           func(string) int
	chunkSize       int

	mu       sync.Mutex
	queue    []Reply
	handler  func(Request) Reply
	requests []Request
}

// New starts a server that stops when the test ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{chunkSize: 16}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("GET /v1/models", s.listModels)
	// Azure OpenAI: deployment URLs with api-version, and the v1 API.
	mux.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", s.chat)
	mux.HandleFunc("GET /openai/models", s.listModels)
	mux.HandleFunc("POST /openai/v1/chat/completions", s.chat)
	mux.HandleFunc("GET /openai/v1/models", s.listModels)
	s.srv = httptest.NewServer(mux)
	tb.Cleanup(s.srv.Close)
	return s
}

// BaseURL is the API base, e.g. http://127.0.0.1:port/v1.
func (s *Server) BaseURL() string { return s.srv.URL + "/v1" }

// URL is the server's root, e.g. http://127.0.0.1:port: the base of an
// Azure resource endpoint.
func (s *Server) URL() string { return s.srv.URL }

// authorized reports whether r carries the server's key, as a bearer token
// or in Azure's api-key header.
func (s *Server) authorized(r *http.Request) bool {
	return s.apiKey == "" || r.Header.Get("Authorization") == "Bearer "+s.apiKey || r.Header.Get("api-key") == s.apiKey
}

// Enqueue adds replies to be sent in order, one per request.
func (s *Server) Enqueue(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, replies...)
}

// Handle sets the function that replies once the queue is empty.
func (s *Server) Handle(f func(Request) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = f
}

// Requests returns the chat completion requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, Error(http.StatusBadRequest, "read body: "+err.Error()))
		return
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, Error(http.StatusBadRequest, "We could not parse the JSON body of your request."))
		return
	}
	req.Header, req.Body = r.Header.Clone(), body
	req.Path, req.Deployment, req.APIVersion = r.URL.Path, r.PathValue("deployment"), r.URL.Query().Get("api-version")
	if req.Model == "" {
		req.Model = req.Deployment
	}

	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	switch {
	case !s.authorized(r):
		writeError(w, Reply{Status: http.StatusUnauthorized, ErrorType: "invalid_request_error", ErrorCode: "invalid_api_key",
			Message: "Incorrect API key provided."})
		return
	case len(s.models) > 0 && !slices.Contains(s.models, req.Model):
		writeError(w, Reply{Status: http.StatusNotFound, ErrorType: "invalid_request_error", ErrorCode: "model_not_found",
			Message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.Model)})
		return
	case req.ResponseFormat != nil && slices.Contains(s.rejectFormats, req.ResponseFormat.Type):
		writeError(w, Reply{Status: http.StatusBadRequest, ErrorType: "invalid_request_error", ErrorParam: "response_format",
			Message: fmt.Sprintf("Invalid parameter: 'response_format' of type '%s' is not supported with this model.", req.ResponseFormat.Type)})
		return
	case s.rejectMaxTokens && req.MaxTokens > 0:
		writeError(w, Reply{Status: http.StatusBadRequest, ErrorType: "invalid_request_error", ErrorParam: "max_tokens", ErrorCode: "unsupported_parameter",
			Message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."})
		return
	case s.contextLimit > 0 && s.Tokens(req)+req.MaxTokens+req.MaxCompletionTokens > s.contextLimit:
		writeError(w, Reply{Status: http.StatusBadRequest, ErrorType: "invalid_request_error", ErrorParam: "messages", ErrorCode: "context_length_exceeded",
			Message: fmt.Sprintf("This model's maximum context length is %d tokens. However, your messages resulted in %d tokens. Please reduce the length of the messages.",
				s.contextLimit, s.Tokens(req)+req.MaxTokens+req.MaxCompletionTokens)})
		return
	}
	s.mu.Lock()
	reply, ok := s.next(req)
	s.mu.Unlock()
	if !ok {
		writeError(w, Error(http.StatusInternalServerError, "modeltest: no reply scripted for this request"))
		return
	}

	if reply.Delay > 0 {
		select {
		case <-time.After(reply.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	switch {
	case reply.RawBody != "":
		w.WriteHeader(cmp.Or(reply.Status, http.StatusOK))
		io.WriteString(w, reply.RawBody)
	case reply.Status != 0 && reply.Status != http.StatusOK:
		writeError(w, reply)
	case req.Stream:
		s.stream(w, req, reply)
	default:
		writeJSON(w, http.StatusOK, completion(req, reply))
	}
}

// next takes the reply for req; s.mu is held.
func (s *Server) next(req Request) (Reply, bool) {
	if len(s.queue) > 0 {
		r := s.queue[0]
		s.queue = s.queue[1:]
		return r, true
	}
	if s.handler != nil {
		return s.handler(req), true
	}
	return Reply{}, false
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeError(w, Reply{Status: http.StatusUnauthorized, ErrorType: "invalid_request_error", ErrorCode: "invalid_api_key",
			Message: "Incorrect API key provided."})
		return
	}
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	for _, m := range cmpSlice(s.models, []string{"test-model"}) {
		list.Data = append(list.Data, model{ID: m, Object: "model", Created: 1700000000, OwnedBy: "modeltest"})
	}
	writeJSON(w, http.StatusOK, list)
}

type wireUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

func usage(req Request, reply Reply) wireUsage {
	u := reply.Usage
	if u == nil {
		// A rough estimate of four bytes per token is enough for tests
		// that only check usage is carried through.
		n := 0
		for _, m := range req.Messages {
			n += len(m.Content)
		}
		u = &Usage{PromptTokens: n/4 + 1, CompletionTokens: len(reply.Content)/4 + 1}
	}
	w := wireUsage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.PromptTokens + u.CompletionTokens}
	w.PromptTokensDetails.CachedTokens = u.CachedTokens
	return w
}

func completion(req Request, reply Reply) any {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	type choice struct {
		Index        int     `json:"index"`
		Message      message `json:"message"`
		FinishReason string  `json:"finish_reason"`
	}
	return struct {
		ID      string    `json:"id"`
		Object  string    `json:"object"`
		Created int64     `json:"created"`
		Model   string    `json:"model"`
		Choices []choice  `json:"choices"`
		Usage   wireUsage `json:"usage"`
	}{
		ID: "chatcmpl-modeltest", Object: "chat.completion", Created: time.Now().Unix(),
		Model:   cmp.Or(reply.Model, req.Model),
		Choices: []choice{{Message: message{Role: "assistant", Content: reply.Content}, FinishReason: cmp.Or(reply.FinishReason, "stop")}},
		Usage:   usage(req, reply),
	}
}

type delta struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content,omitempty"`
}

type streamChoice struct {
	Index        int     `json:"index"`
	Delta        delta   `json:"delta"`
	FinishReason *string `json:"finish_reason"`
}

type chunk struct {
	ID      string         `json:"id"`
	Object  string         `json:"object"`
	Created int64          `json:"created"`
	Model   string         `json:"model"`
	Choices []streamChoice `json:"choices"`
	Usage   *wireUsage     `json:"usage"`
}

func (s *Server) stream(w http.ResponseWriter, req Request, reply Reply) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	send := func(c chunk) {
		c.ID, c.Object, c.Created, c.Model = "chatcmpl-modeltest", "chat.completion.chunk", time.Now().Unix(), cmp.Or(reply.Model, req.Model)
		b, _ := json.Marshal(c)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}

	parts := split(reply.Content, s.chunkSize)
	send(chunk{Choices: []streamChoice{{Delta: delta{Role: "assistant"}}}})
	for i, p := range parts {
		if (reply.Truncate || reply.Abort) && i >= (len(parts)+1)/2 {
			if reply.Abort {
				// Cuts the connection without ending the chunked body, as a
				// crashing server or a proxy timeout does.
				panic(http.ErrAbortHandler)
			}
			return
		}
		send(chunk{Choices: []streamChoice{{Delta: delta{Content: p}}}})
	}
	stop := cmp.Or(reply.FinishReason, "stop")
	send(chunk{Choices: []streamChoice{{Delta: delta{}, FinishReason: &stop}}})
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		u := usage(req, reply)
		send(chunk{Choices: []streamChoice{}, Usage: &u})
	}
	io.WriteString(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

// split cuts s into pieces of about n bytes without splitting a rune.
func split(s string, n int) []string {
	var out []string
	for len(s) > 0 {
		i := min(n, len(s))
		for i < len(s) && !utf8.RuneStart(s[i]) {
			i++
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out
}

func writeError(w http.ResponseWriter, r Reply) {
	if r.RetryAfter != "" {
		w.Header().Set("Retry-After", r.RetryAfter)
	}
	type apiError struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	e := apiError{Message: cmp.Or(r.Message, http.StatusText(r.Status)), Type: cmp.Or(r.ErrorType, "server_error")}
	if r.ErrorParam != "" {
		e.Param = &r.ErrorParam
	}
	if r.ErrorCode != "" {
		e.Code = &r.ErrorCode
	}
	writeJSON(w, r.Status, struct {
		Error apiError `json:"error"`
	}{e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func cmpSlice(v, def []string) []string {
	if len(v) == 0 {
		return def
	}
	return v
}

// Contains reports whether any message of the request contains s.
func (r Request) Contains(s string) bool {
	for _, m := range r.Messages {
		if strings.Contains(m.Content, s) {
			return true
		}
	}
	return false
}
