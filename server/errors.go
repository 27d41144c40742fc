package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/causeway-rca/causeway"
)

// Error codes of the HTTP layer, beside the domain's (causeway.EINVALID,
// ENOTFOUND, ECONFLICT, EMODEL, EINTERNAL).
const (
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeTooLarge         = "too_large"
	codeUnsupportedMedia = "unsupported_media_type"
	codeMethodNotAllowed = "method_not_allowed"
	codeUnavailable      = "unavailable"
	codeBusy             = "busy"
)

// httpError is an error that the HTTP layer itself decides: a status, a
// code and a detail fit for the client.
type httpError struct {
	status int
	code   string
	detail string
}

func (e *httpError) Error() string { return e.detail }

func errorf(status int, code, format string, args ...any) *httpError {
	return &httpError{status: status, code: code, detail: fmt.Sprintf(format, args...)}
}

// errorBody is every error response: {"error": code, "detail": message}.
type errorBody struct {
	Error  string `json:"error"`
	Detail string `json:"detail"`
}

// statusOf maps domain error codes to HTTP statuses, in one place.
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

// errorResponse turns err into the status and body the client sees. Errors
// that are neither the domain's nor the HTTP layer's are internal: their
// text may name servers, files or SQL, so the client sees only that the
// request failed and its request id, and the log has the rest.
func (s *Server) errorResponse(r *http.Request, err error) (int, errorBody) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, errorBody{Error: he.code, Detail: he.detail}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, errorBody{Error: codeTooLarge, Detail: fmt.Sprintf("request body exceeds %d bytes", mbe.Limit)}
	}
	code := causeway.ErrorCode(err)
	var ce *causeway.Error
	if code == causeway.EINTERNAL || !errors.As(err, &ce) {
		s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "request_id", middleware.GetReqID(r.Context()), "error", err)
		return http.StatusInternalServerError, errorBody{Error: causeway.EINTERNAL,
			Detail: "internal error (request " + middleware.GetReqID(r.Context()) + "); the server log has the cause"}
	}
	return statusOf(code), errorBody{Error: code, Detail: err.Error()}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, body := s.errorResponse(r, err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="causeway"`)
	}
	writeJSON(w, status, body)
}

// writeJSON writes v as the response. encoding/json escapes <, > and &, so
// evidence text in a response cannot become markup even if a client
// renders it carelessly.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
