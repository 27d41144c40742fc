// Package investigate runs Causeway's pipeline for one incident: import a
// bundle into the store, pack its evidence into a budget, ask a model,
// verify the answer's citations and store the investigation. The CLI, the
// server's jobs and the eval harness all run investigations through it.
package investigate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/collectors/files"
	"github.com/causeway-rca/causeway/memory"
	"github.com/causeway-rca/causeway/prompt"
	"github.com/causeway-rca/causeway/store"
)

// DefaultQuestion is asked when neither the caller nor the incident has one.
const DefaultQuestion = "What is the root cause of this incident?"

// Service runs investigations against one database.
type Service struct {
	DB        *store.DB
	Tokenizer *chunking.Tokenizer
	// Model returns the model of the given name ("" for the default).
	Model  func(name string) (causeway.Model, error)
	Logger *slog.Logger
	Now    func() time.Time
	// Redaction chooses the rules that take secrets out of evidence as it
	// is stored; the zero value is the built-in set.
	Redaction chunking.RedactConfig
	// Memory, when set, gives investigations prior knowledge (Recall) and
	// remembers confirmed root causes (Feedback).
	Memory *memory.Memory
}

// New returns a service over db that counts tokens with tok and finds models
// with model.
func New(db *store.DB, tok *chunking.Tokenizer, model func(string) (causeway.Model, error)) *Service {
	return &Service{DB: db, Tokenizer: tok, Model: model, Logger: slog.New(slog.DiscardHandler), Now: time.Now}
}

// ImportOptions tune ImportBundle.
type ImportOptions struct {
	// Key names the incident; when an incident has it already, the bundle
	// is imported into that one again (adding nothing that is there). An
	// empty Key always makes a fresh incident.
	Key      string
	Progress func(files.ImportProgress)
}

// ImportBundle creates an incident from the bundle in dir (title, window
// and question from its incident.yaml) and imports its evidence. It fails
// only when nothing could be imported; the report names every bad file.
func (s *Service) ImportBundle(ctx context.Context, dir string, opts ImportOptions) (*causeway.Incident, *files.Report, error) {
	spec, err := files.ReadSpec(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read bundle %s: %w", dir, err)
	}
	inc := &causeway.Incident{Key: opts.Key, Title: spec.Title, WindowStart: spec.Window.Start, WindowEnd: spec.Window.End, Question: spec.Question}
	if inc.Title == "" {
		inc.Title = spec.ID
	}
	if opts.Key != "" {
		existing, err := s.DB.IncidentByKey(ctx, opts.Key)
		switch {
		case err == nil:
			inc = existing
		case causeway.ErrorCode(err) != causeway.ENOTFOUND:
			return nil, nil, err
		}
	}
	if inc.ID == 0 {
		if err := s.DB.CreateIncident(ctx, inc); err != nil {
			return nil, nil, err
		}
	}
	ann := s.annotator()
	ann.Pipeline = true
	sink := &incidentSink{id: inc.ID, next: ann}
	rep, err := files.Import(ctx, dir, sink, files.Options{Logger: s.Logger, Progress: opts.Progress})
	// Flush finishes the last writes and stores the templates, also after
	// a failure, so that what was imported is complete.
	if ferr := ann.Flush(ctx); ferr != nil && err == nil {
		err = ferr
	}
	if summary := ann.Redactor.Summary(); summary != "" && rep != nil {
		rep.Warnings = append(rep.Warnings, summary)
	}
	if err != nil {
		return inc, rep, fmt.Errorf("import bundle %s: %w", dir, err)
	}
	return inc, rep, nil
}

// annotator returns the sink wrapper that redacts, templates and counts
// lines on their way to the store, with the service's redaction rules and
// a placeholder numbering of its own.
func (s *Service) annotator() *chunking.Annotator {
	ann := chunking.Annotate(s.DB, s.Tokenizer)
	if r, err := chunking.NewRedactor(s.Redaction); err == nil {
		ann.Redactor = r
	} else {
		// The rules were checked when the service was configured; the
		// defaults are the safe fallback.
		s.Logger.Warn("redaction rules", "error", err)
	}
	return ann
}

// incidentSink files every source under one incident.
type incidentSink struct {
	id   int64
	next causeway.LineSink
}

func (s *incidentSink) WriteLines(ctx context.Context, src *causeway.Source, lines []causeway.Line) error {
	src.IncidentID = s.id
	for i := range lines {
		lines[i].IncidentID = s.id
	}
	return s.next.WriteLines(ctx, src, lines)
}

// Request is one question to investigate.
type Request struct {
	Question string
	Budget   int    // tokens; chunking.DefaultBudget when zero
	Model    string // "" for the default model
	// Stream, when set, receives the reply text as it is generated.
	Stream func(delta string)
	// Status, when set, is told each stage as it starts.
	Status func(status string)
	// Created, when set, is told the investigation's id once it is stored.
	Created func(id int64)
	// Packed, when set, is told the pack before the model is asked.
	Packed func(pack *causeway.Pack)
	// Record stores the investigation as it progresses; nil means the
	// service's database. A queue worker passes one that writes only while
	// it holds the job (see Execute).
	Record Recorder
}

// Outcome is a finished investigation with what it was built from.
type Outcome struct {
	Investigation *causeway.Investigation
	Pack          *causeway.Pack
	Result        *prompt.Result
	Sources       []*causeway.Source // with their errors, to report with the answer
	// Prior is the prior knowledge recalled for the investigation (past
	// incidents, runbook sections), empty without a memory.
	Prior []Prior
}

// Run packs the incident, asks the model, verifies the answer and stores the
// investigation, which is stored as failed, with the error, when a stage
// fails. The Outcome is returned with the error when the investigation got
// that far.
func (s *Service) Run(ctx context.Context, inc *causeway.Incident, req Request) (*Outcome, error) {
	start := s.Now()
	if req.Question == "" {
		req.Question = inc.Question
	}
	if req.Question == "" {
		req.Question = DefaultQuestion
	}
	if req.Budget <= 0 {
		req.Budget = chunking.DefaultBudget
	}
	model, err := s.Model(req.Model)
	if err != nil {
		return nil, err
	}
	rec := req.Record
	if rec == nil {
		rec = s.DB
	}
	var invID int64
	status := func(st string) {
		if invID != 0 {
			if err := rec.SetInvestigationStatus(ctx, invID, st); err != nil {
				s.Logger.Warn("record investigation status", "investigation", invID, "status", st, "error", err)
			}
		}
		if req.Status != nil {
			req.Status(st)
		}
	}
	inv := &causeway.Investigation{IncidentID: inc.ID, Question: req.Question, Budget: req.Budget, Model: model.Name(), Status: causeway.StatusPacking}
	if err := rec.CreateInvestigation(ctx, inv); err != nil {
		return nil, err
	}
	invID = inv.ID
	if req.Created != nil {
		req.Created(inv.ID)
	}
	out := &Outcome{Investigation: inv}
	fail := func(err error) (*Outcome, error) {
		inv.Status = causeway.StatusFailed
		if errors.Is(err, context.Canceled) {
			inv.Status = causeway.StatusCanceled
		}
		inv.Error = err.Error()
		inv.Timings.TotalMS = s.Now().Sub(start).Milliseconds()
		// The caller's context may be what failed; the record must still land.
		if serr := rec.FinishInvestigation(context.WithoutCancel(ctx), inv, contextNums(out.Pack)); serr != nil {
			err = errors.Join(err, serr)
		}
		return out, err
	}

	status(causeway.StatusPacking)
	if out.Sources, err = s.DB.Sources(ctx, inc.ID); err != nil {
		return fail(err)
	}
	packStart := s.Now()
	packer := chunking.NewPacker(s.Tokenizer)
	packer.Logger = s.Logger
	pack, _, err := packer.PackFor(ctx, inc, s.DB, chunking.Request{Question: req.Question, Budget: req.Budget})
	if err != nil {
		return fail(err)
	}
	out.Pack = pack
	inv.Timings.PackMS = s.Now().Sub(packStart).Milliseconds()
	if len(pack.Lines) == 0 {
		return fail(causeway.Errorf(causeway.EINVALID, "incident %d has no evidence lines in its window to investigate", inc.ID))
	}
	if req.Packed != nil {
		req.Packed(pack)
	}
	if out.Prior, err = s.Recall(ctx, inc, Signature(inc, req.Question, pack, nil), req.Budget); err != nil {
		// Memory helps; an investigation does not fail without it.
		s.Logger.Warn("recall prior knowledge", "incident", inc.ID, "error", err)
	}
	pack.Prior = priorForPrompt(out.Prior, s.Tokenizer, packer.Reserve)

	status(causeway.StatusAsking)
	res, err := prompt.Ask(ctx, model, pack, req.Question, s.DB, prompt.AskOptions{
		Stream: req.Stream, Now: s.Now, Logger: s.Logger,
		Repair: prompt.Repair,
		Count:  s.Tokenizer.Count,
		// When the endpoint refuses the prompt as too long, repack smaller.
		Repack: func(ctx context.Context, budget int) (*causeway.Pack, error) {
			p, _, err := packer.PackFor(ctx, inc, s.DB, chunking.Request{Question: req.Question, Budget: budget})
			if p != nil {
				p.Prior = pack.Prior
			}
			return p, err
		},
	})
	out.Result = res
	if res != nil && res.Pack != nil {
		pack, out.Pack = res.Pack, res.Pack // after a refusal, the smaller pack is what the model saw
	}
	if res != nil {
		inv.Answer, inv.Verdict, inv.Usage = res.Answer, res.Verdict, res.Usage
		inv.RawReply, inv.PromptVersion, inv.ContextHash = res.RawReply, res.PromptVersion, res.ContextHash
		inv.Timings.AskMS, inv.Timings.VerifyMS = res.Timings.AskMS, res.Timings.VerifyMS
		if res.Answer != nil {
			inv.RawReply = "" // kept only when it did not parse
		}
	}
	inv.Usage.ContextTokens = pack.Tokens
	if err != nil {
		return fail(err)
	}
	inv.Status = causeway.StatusDone
	inv.Timings.TotalMS = s.Now().Sub(start).Milliseconds()
	if err := rec.FinishInvestigation(ctx, inv, contextNums(pack)); err != nil {
		return out, err
	}
	return out, nil
}

func contextNums(pack *causeway.Pack) []int64 {
	if pack == nil {
		return nil
	}
	nums := make([]int64, len(pack.Lines))
	for i := range pack.Lines {
		nums[i] = pack.Lines[i].Num
	}
	return nums
}

// SourceErrors lists the sources that could not be fully read, as
// "name: reason".
func SourceErrors(srcs []*causeway.Source) []string {
	var errs []string
	for _, s := range srcs {
		if s.Error != "" {
			errs = append(errs, s.Name+": "+strings.TrimSpace(s.Error))
		}
	}
	return errs
}
