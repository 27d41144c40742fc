// Package alertmanager turns Prometheus Alertmanager's webhook into
// incidents: a notification with firing alerts opens an incident with the
// alerts' labels, a window that starts before the first alert fired, and
// the alerts' namespaces as the scope to collect; it may also start an
// investigation.
//
// The package parses and decides; opening the incident and starting work
// is the injected Open function's, so that the server keeps its store, its
// queue and its auth. Mount the handler at POST /v1/hooks/alertmanager.
//
// Alertmanager re-sends a group's notification every repeat_interval while
// it fires. Each request therefore carries a Key that is the same for
// every re-send of one firing episode (receiver, group key and the first
// alert's start), and Open is expected to return the incident already
// opened under it rather than open another.
package alertmanager

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// Defaults of Handler.
const (
	DefaultBefore  = 30 * time.Minute
	DefaultMaxBody = 1 << 20
)

// Alert is one alert of a notification.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Payload is the body Alertmanager posts (webhook version 4).
type Payload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Request is what a firing notification asks for: an incident, and
// perhaps an investigation of it.
type Request struct {
	// Key is the same for every re-send of one firing episode; Open
	// returns the incident already opened under it.
	Key      string
	Title    string
	Question string
	// Labels are the labels all firing alerts share.
	Labels map[string]string
	// WindowStart is Handler.Before ahead of the first alert's start;
	// WindowEnd is when the notification came.
	WindowStart, WindowEnd time.Time
	// Namespaces are the firing alerts' namespace labels, sorted: the
	// scope to collect.
	Namespaces []string
	// Alerts are the firing alerts.
	Alerts []Alert
	// Investigate says the handler was configured to start an
	// investigation as well.
	Investigate bool
}

// Incident returns the incident the request describes, for Open to store.
func (r *Request) Incident() *causeway.Incident {
	return &causeway.Incident{Key: r.Key, Title: r.Title, Question: r.Question, WindowStart: r.WindowStart, WindowEnd: r.WindowEnd}
}

// OpenFunc opens the incident a request describes (or returns the one
// already opened under its Key), and starts an investigation when the
// request says so. Its error's causeway code sets the response status.
type OpenFunc func(ctx context.Context, req Request) (*causeway.Incident, error)

// Handler is the webhook endpoint.
type Handler struct {
	Open OpenFunc
	// Before is how far ahead of the first alert the window starts:
	// causes precede their alerts.
	Before time.Duration
	// Investigate asks Open to start an investigation too.
	Investigate bool
	// MaxBody bounds the request body.
	MaxBody int64
	Now     func() time.Time
	Logger  *slog.Logger
}

// NewHandler returns a handler that opens incidents with open.
func NewHandler(open OpenFunc) *Handler {
	return &Handler{Open: open, Before: DefaultBefore, MaxBody: DefaultMaxBody, Now: time.Now,
		Logger: slog.New(slog.DiscardHandler)}
}

// Response is the handler's JSON answer.
type Response struct {
	// Status is "opened", or "ignored" for a notification with no firing
	// alert.
	Status   string             `json:"status"`
	Key      string             `json:"key,omitempty"`
	Incident *causeway.Incident `json:"incident,omitempty"`
	Reason   string             `json:"reason,omitempty"`
}

// ServeHTTP handles POST /v1/hooks/alertmanager: 202 with the incident for
// firing alerts, 200 "ignored" for a resolved notification, 400 for a body
// that is not a webhook payload.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
		return
	}
	maxBody := h.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("body over %d bytes", maxBody)})
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "read body: " + err.Error()})
		return
	}
	req, err := h.Parse(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if req == nil {
		writeJSON(w, http.StatusOK, Response{Status: "ignored", Reason: "no firing alert"})
		return
	}
	inc, err := h.Open(r.Context(), *req)
	if err != nil {
		h.logger().Error("alertmanager webhook: open incident", "key", req.Key, "error", err)
		writeJSON(w, statusOf(err), map[string]string{"error": err.Error()})
		return
	}
	h.logger().Info("alertmanager webhook: incident opened", "key", req.Key, "incident", inc.ID, "alerts", len(req.Alerts))
	writeJSON(w, http.StatusAccepted, Response{Status: "opened", Key: req.Key, Incident: inc})
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// Parse reads a webhook body into the request it makes, or nil when no
// alert in it is firing. A body that is not a webhook payload is an
// EINVALID error.
func (h *Handler) Parse(body []byte) (*Request, error) {
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, &causeway.Error{Code: causeway.EINVALID, Message: "not an Alertmanager webhook payload", Err: err}
	}
	if p.Version != "" && p.Version != "4" {
		return nil, causeway.Errorf(causeway.EINVALID, "webhook payload version %q, want 4", p.Version)
	}
	if len(p.Alerts) == 0 && p.GroupKey == "" {
		return nil, causeway.Errorf(causeway.EINVALID, "webhook payload has neither alerts nor a group key")
	}
	var firing []Alert
	for _, a := range p.Alerts {
		if a.Status == "firing" || (a.Status == "" && p.Status == "firing") {
			firing = append(firing, a)
		}
	}
	if len(firing) == 0 {
		return nil, nil
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	before := h.Before
	if before < 0 {
		before = 0
	}
	first := firing[0].StartsAt
	nsSet := map[string]bool{}
	for _, a := range firing {
		if !a.StartsAt.IsZero() && (first.IsZero() || a.StartsAt.Before(first)) {
			first = a.StartsAt
		}
		if ns := a.Labels["namespace"]; ns != "" {
			nsSet[ns] = true
		}
	}
	end := now().UTC()
	if first.IsZero() || first.After(end) {
		first = end
	}
	labels := maps.Clone(p.CommonLabels)
	if labels == nil {
		labels = map[string]string{}
	}
	name := labels["alertname"]
	if name == "" {
		name = firing[0].Labels["alertname"]
	}
	sum := sha256.Sum256([]byte(p.Receiver + "\x00" + p.GroupKey))
	req := &Request{
		Key:         "alertmanager/" + hex.EncodeToString(sum[:6]) + "/" + strconv.FormatInt(first.Unix(), 10),
		Title:       title(name, len(firing), p, labels),
		Question:    question(name, p.CommonAnnotations, firing),
		Labels:      labels,
		WindowStart: first.Add(-before).UTC(),
		WindowEnd:   end,
		Namespaces:  slices.Sorted(maps.Keys(nsSet)),
		Alerts:      firing,
		Investigate: h.Investigate,
	}
	return req, nil
}

// title reads as Alertmanager's own default: "[FIRING:2] EnvoyHighErrorRate
// (namespace aibrix-system)".
func title(name string, n int, p Payload, common map[string]string) string {
	t := fmt.Sprintf("[FIRING:%d] %s", n+p.TruncatedAlerts, firstNonEmpty(name, "alert"))
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(p.GroupLabels)) {
		if k != "alertname" {
			parts = append(parts, k+" "+p.GroupLabels[k])
		}
	}
	if len(parts) == 0 && common["namespace"] != "" {
		parts = append(parts, "namespace "+common["namespace"])
	}
	if len(parts) > 0 {
		t += " (" + strings.Join(parts, ", ") + ")"
	}
	return t
}

// question asks what caused the alert, in the alert's own words.
func question(name string, common map[string]string, firing []Alert) string {
	what := firstNonEmpty(common["summary"], common["description"], firing[0].Annotations["summary"], firing[0].Annotations["description"])
	q := "What caused the " + firstNonEmpty(name, "alert") + " alert to fire"
	if what != "" {
		q += " (" + strings.TrimRight(what, ". ") + ")"
	}
	return q + "?"
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// statusOf maps an Open error's code to a status. The server has its own
// mapping for its API; this one covers what a webhook caller can act on.
func statusOf(err error) int {
	switch causeway.ErrorCode(err) {
	case causeway.EINVALID:
		return http.StatusBadRequest
	case causeway.ENOTFOUND:
		return http.StatusNotFound
	case causeway.ECONFLICT:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
