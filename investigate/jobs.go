package investigate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store"
)

// Recorder stores an investigation as Run makes progress. *store.DB is one;
// a queue worker uses one that writes only while it holds the job's lease.
type Recorder interface {
	CreateInvestigation(ctx context.Context, inv *causeway.Investigation) error
	SetInvestigationStatus(ctx context.Context, id int64, status string) error
	FinishInvestigation(ctx context.Context, inv *causeway.Investigation, contextLines []int64) error
}

var _ Recorder = (*store.DB)(nil)

// Scope is an inline scope: the window and the live sources to collect for
// an investigation, when a runbook names them instead of an incident.
type Scope struct {
	// Title names the incident created for the scope.
	Title   string        `json:"title,omitempty"`
	Window  *Window       `json:"window,omitempty"`
	Sources []ScopeSource `json:"sources"`
}

// Window is a time range, both ends included.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// ScopeSource names one live source to collect and what to select from it.
// Which fields apply depends on Type.
type ScopeSource struct {
	Type       string   `json:"type"`           // one of SourceTypes
	Name       string   `json:"name,omitempty"` // the source's name in the incident; "collect/<type>" when empty
	Namespaces []string `json:"namespaces,omitempty"`
	Selector   string   `json:"selector,omitempty"` // a label selector (k8s) or stream selector (loki)
	Queries    []string `json:"queries,omitempty"`  // PromQL or LogQL
	Channels   []string `json:"channels,omitempty"` // Slack channel ids or names
	Issues     []string `json:"issues,omitempty"`   // Jira issue keys
	JQL        string   `json:"jql,omitempty"`
}

// SourceTypes are the kinds of live source a scope may name.
var SourceTypes = []string{"k8s", "prometheus", "loki", "slack", "jira"}

// Scope limits.
const (
	MaxScopeSources = 20
	MaxScopeWindow  = 31 * 24 * time.Hour
)

// SourceName is the name the source's lines and errors are filed under.
func (s ScopeSource) SourceName() string {
	if s.Name != "" {
		return s.Name
	}
	return "collect/" + s.Type
}

// Validate checks a scope. A scope without an incident to add to must have
// a window.
func (sc *Scope) Validate(forIncident bool) error {
	if sc.Window == nil && !forIncident {
		return causeway.Errorf(causeway.EINVALID, "scope.window is required without an incident_id")
	}
	if w := sc.Window; w != nil {
		switch {
		case w.Start.IsZero() || w.End.IsZero():
			return causeway.Errorf(causeway.EINVALID, "scope.window needs both start and end (RFC 3339)")
		case !w.End.After(w.Start):
			return causeway.Errorf(causeway.EINVALID, "scope.window ends (%s) before it starts (%s)",
				w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339))
		case w.End.Sub(w.Start) > MaxScopeWindow:
			return causeway.Errorf(causeway.EINVALID, "scope.window spans %s; at most %s", w.End.Sub(w.Start), MaxScopeWindow)
		}
	}
	if len(sc.Sources) > MaxScopeSources {
		return causeway.Errorf(causeway.EINVALID, "scope names %d sources; at most %d", len(sc.Sources), MaxScopeSources)
	}
	seen := map[string]bool{}
	for i, src := range sc.Sources {
		if !slices.Contains(SourceTypes, src.Type) {
			return causeway.Errorf(causeway.EINVALID, "scope.sources[%d].type %q is not one of %s", i, src.Type, strings.Join(SourceTypes, ", "))
		}
		if seen[src.SourceName()] {
			return causeway.Errorf(causeway.EINVALID, "scope.sources[%d] repeats the source name %q", i, src.SourceName())
		}
		seen[src.SourceName()] = true
	}
	return nil
}

// CollectorFunc builds the collector for one source of a scope.
type CollectorFunc func(src ScopeSource) (causeway.Collector, error)

// Collectors maps source types to their collectors. A type without one is
// reported as a source error of the investigation, which goes on with the
// evidence it has.
type Collectors map[string]CollectorFunc

// ErrInterrupted is the cause a worker gives when it stops a job it will
// not finish (it is shutting down, or lost the lease): nothing is recorded
// as the job's outcome, so that the job is run again.
var ErrInterrupted = errors.New("investigation interrupted; it goes back to the queue")

// JobOptions tune Execute.
type JobOptions struct {
	Collectors Collectors
	// Event, when set, is told each step: store.EventStatus,
	// EventSourceError and EventPacked with their data.
	Event func(typ string, data any)
	// Stream, when set, receives the reply text as it is generated.
	Stream func(delta string)
}

// Execute runs a claimed job: collects its scope's sources, then packs,
// asks, verifies and stores as Run does, writing only while job.Worker
// holds the job. When ctx ends with a cause, the cause is the recorded
// error (a timeout, a cancel request), except ErrInterrupted, after which
// nothing is recorded and the caller requeues the job.
func (s *Service) Execute(ctx context.Context, job *store.Job, opts JobOptions) (*Outcome, error) {
	inv := job.Investigation
	event := opts.Event
	if event == nil {
		event = func(string, any) {}
	}
	status := func(st string) {
		event(store.EventStatus, map[string]any{"status": st, "attempt": job.Attempts, "worker": job.Worker})
	}
	rec := &jobRecorder{db: s.DB, id: inv.ID, worker: job.Worker, cause: func() error { return context.Cause(ctx) }}
	inc, err := s.DB.Incident(ctx, inv.IncidentID)
	if err != nil {
		return nil, rec.failEarly(ctx, inv, err)
	}
	if len(job.Scope) > 0 {
		var sc Scope
		if err := json.Unmarshal(job.Scope, &sc); err != nil {
			return nil, rec.failEarly(ctx, inv, fmt.Errorf("read scope of investigation %d: %w", inv.ID, err))
		}
		status(causeway.StatusCollecting)
		s.collect(ctx, inc, &sc, opts.Collectors, event)
		if err := ctx.Err(); err != nil {
			return nil, rec.failEarly(ctx, inv, err)
		}
	}
	svc := *s
	svc.Model = func(name string) (causeway.Model, error) {
		m, err := s.Model(name)
		if err != nil {
			return nil, err
		}
		return &stagedModel{Model: m, replied: func() {
			if err := rec.SetInvestigationStatus(ctx, inv.ID, causeway.StatusVerifying); err != nil {
				s.Logger.Warn("record investigation status", "investigation", inv.ID, "error", err)
			}
			status(causeway.StatusVerifying)
		}}, nil
	}
	out, err := svc.Run(ctx, inc, Request{
		Question: inv.Question, Budget: inv.Budget, Model: inv.Model, Stream: opts.Stream, Status: status, Record: rec,
		Packed: func(p *causeway.Pack) {
			event(store.EventPacked, map[string]any{"lines": len(p.Lines), "tokens": p.Tokens, "budget_tokens": p.Budget,
				"total_lines": p.Total, "dropped_lines": p.Dropped, "sources": p.Sources})
		},
	})
	if out == nil && err != nil && !errors.Is(err, store.ErrLeaseLost) {
		// Run stopped before it stored anything (no such model, say).
		return nil, errors.Join(err, rec.failEarly(ctx, inv, err))
	}
	return out, err
}

// collect runs the scope's collectors into the incident, each failure a
// source error of the incident rather than of the investigation.
func (s *Service) collect(ctx context.Context, inc *causeway.Incident, sc *Scope, collectors Collectors, event func(string, any)) {
	target := *inc
	if sc.Window != nil {
		target.WindowStart, target.WindowEnd = sc.Window.Start, sc.Window.End
	}
	ann := s.annotator()
	sink := &incidentSink{id: inc.ID, next: ann}
	// Flush stores the templates of what was collected, whatever failed.
	defer func() {
		if err := ann.Flush(context.WithoutCancel(ctx)); err != nil {
			s.Logger.Warn("store templates", "incident", inc.ID, "error", err)
		}
	}()
	for _, src := range sc.Sources {
		if ctx.Err() != nil {
			return
		}
		err := func() error {
			newCollector, ok := collectors[src.Type]
			if !ok {
				return fmt.Errorf("collector %s is not available in this server", src.Type)
			}
			c, err := newCollector(src)
			if err != nil {
				return fmt.Errorf("collector %s: %w", src.Type, err)
			}
			return c.Collect(ctx, &target, sink)
		}()
		if err == nil || ctx.Err() != nil {
			continue
		}
		s.Logger.Warn("source not collected", "incident", inc.ID, "source", src.SourceName(), "error", err)
		source := &causeway.Source{IncidentID: inc.ID, Name: src.SourceName(), Kind: causeway.SourceKind(src.Type)}
		if serr := s.DB.SetSourceError(ctx, source, err.Error()); serr != nil {
			s.Logger.Warn("record source error", "incident", inc.ID, "source", source.Name, "error", serr)
		}
		event(store.EventSourceError, map[string]string{"source": source.Name, "error": err.Error()})
	}
}

// stagedModel tells when the model has replied, which is when verification
// starts.
type stagedModel struct {
	causeway.Model
	replied func()
}

func (m *stagedModel) Ask(ctx context.Context, req causeway.ModelRequest) (*causeway.ModelReply, error) {
	reply, err := m.Model.Ask(ctx, req)
	if err == nil {
		m.replied()
	}
	return reply, err
}

// jobRecorder writes a job's progress while its worker holds the lease.
type jobRecorder struct {
	db     *store.DB
	id     int64
	worker string
	// cause says why the job's context ended, nil while it runs.
	cause func() error
}

func (r *jobRecorder) CreateInvestigation(ctx context.Context, inv *causeway.Investigation) error {
	inv.ID = r.id
	return r.db.BeginJob(ctx, inv, r.worker)
}

func (r *jobRecorder) SetInvestigationStatus(ctx context.Context, id int64, status string) error {
	return r.db.SetJobStatus(ctx, id, r.worker, status)
}

func (r *jobRecorder) FinishInvestigation(ctx context.Context, inv *causeway.Investigation, contextLines []int64) error {
	cause := r.cause()
	if errors.Is(cause, ErrInterrupted) {
		return nil
	}
	if cause != nil && inv.Status != causeway.StatusDone {
		inv.Error = cause.Error()
	}
	return r.db.FinishJob(ctx, inv, r.worker, contextLines)
}

// failEarly records a job that ended before Run stored anything.
func (r *jobRecorder) failEarly(ctx context.Context, job *causeway.Investigation, err error) error {
	inv := *job
	inv.Status, inv.Error = causeway.StatusFailed, err.Error()
	if errors.Is(err, context.Canceled) {
		inv.Status = causeway.StatusCanceled
	}
	if serr := r.FinishInvestigation(context.WithoutCancel(ctx), &inv, nil); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}
