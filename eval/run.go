package eval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/collectors/files"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/store"
)

// Runner replays cases through the real pipeline and scores the answers.
type Runner struct {
	Service *investigate.Service
	// Models are the model names to ask (default: builtin).
	Models []string
	// Budgets are the token budgets to pack at (default:
	// chunking.DefaultBudget).
	Budgets []int
	// Judge, when set, names a model that judges each root cause against
	// the expected one.
	Judge  string
	Prices Prices
	// Keep keeps each case's incident (and its investigations) in the
	// database; by default it is deleted once scored.
	Keep bool
	// SkipControls leaves the control questions out, for runs that
	// measure only the main answer.
	SkipControls bool
	// Memory keeps every case's incident until the run ends instead of
	// deleting it once scored: what a case taught memory (its documents,
	// a confirmed root cause) is tied to its incident and would go with
	// it. See RunMemory.
	Memory bool
	// Scored, when set, is called with each result as soon as it is
	// scored, before the next run starts (RunMemory confirms hits there).
	Scored func(ctx context.Context, res *Result)
	// Progress, when set, is told what the runner is doing.
	Progress func(Progress)
	Logger   *slog.Logger
	Now      func() time.Time

	kept []int64 // incidents to delete when a Memory run ends
}

// Progress says how far a Run has come.
type Progress struct {
	Case        string
	Index, Of   int // the case's place in the run, from 1
	Stage       string
	Model       string
	Budget      int
	Import      *files.ImportProgress // while importing
	Result      *Result               // when a model and budget are scored
	ImportLines int64                 // once imported
	// Memory says the run keeps what cases teach memory (Runner.Memory):
	// the second pass of RunMemory.
	Memory bool
}

// Stages a Progress reports.
const (
	StageImport      = "import"
	StageInvestigate = "investigate"
	StageControl     = "control"
	StageJudge       = "judge"
	StageScored      = "scored"
)

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) progress(p Progress) {
	if r.Progress != nil {
		p.Memory = r.Memory
		r.Progress(p)
	}
}

// Run runs every case with every model at every budget. A case that fails
// is scored with its error and the run goes on; only the caller's context
// ends it early, with the report so far.
func (r *Runner) Run(ctx context.Context, set string, cases []Case) (*Report, error) {
	if r.Service == nil {
		return nil, errors.New("eval runner has no service")
	}
	models, budgets := r.Models, r.Budgets
	if len(models) == 0 {
		models = []string{"builtin"}
	}
	if len(budgets) == 0 {
		budgets = []int{chunking.DefaultBudget}
	}
	var judge causeway.Model
	if r.Judge != "" {
		m, err := r.Service.Model(r.Judge)
		if err != nil {
			return nil, fmt.Errorf("judge: %w", err)
		}
		if m.Name() == "builtin" {
			return nil, causeway.Errorf(causeway.EINVALID, "the builtin model cannot judge: name a model at CAUSEWAY_MODEL_BASE_URL")
		}
		judge = m
	}
	start := r.now()
	rep := &Report{Set: set, Started: start}
	defer r.deleteKept(ctx)
	for i, c := range cases {
		results, err := r.runCase(ctx, i+1, len(cases), c, models, budgets, judge)
		rep.Cases = append(rep.Cases, results...)
		if err != nil {
			rep.WallMS = r.now().Sub(start).Milliseconds()
			rep.Summarize()
			return rep, err
		}
	}
	rep.WallMS = r.now().Sub(start).Milliseconds()
	rep.Summarize()
	return rep, nil
}

// runCase imports one case into a fresh incident and scores every model
// and budget on it. Its error is the context's.
func (r *Runner) runCase(ctx context.Context, index, of int, c Case, models []string, budgets []int, judge causeway.Model) ([]Result, error) {
	svc := r.Service
	p := Progress{Case: c.ID, Index: index, Of: of, Stage: StageImport}
	r.progress(p)
	importStart := r.now()
	key := fmt.Sprintf("eval/%s/%s", c.ID, importStart.UTC().Format("20060102T150405.000000000Z"))
	inc, rep, err := svc.ImportBundle(ctx, c.Dir, investigate.ImportOptions{Key: key, Progress: func(ip files.ImportProgress) {
		p.Import = &ip
		r.progress(p)
	}})
	p.Import = nil
	failed := func(err error) []Result {
		var out []Result
		for _, m := range models {
			for _, b := range budgets {
				out = append(out, Result{ID: c.ID, Model: m, Budget: b, Evidence: len(c.Expected.Evidence),
					ExpectedRootCause: c.Expected.RootCause, Error: err.Error()})
			}
		}
		return out
	}
	if inc != nil && !r.Keep && r.Memory {
		r.kept = append(r.kept, inc.ID)
	} else if inc != nil && !r.Keep {
		defer func() {
			if err := svc.DB.DeleteIncident(context.WithoutCancel(ctx), inc.ID); err != nil {
				r.logger().Warn("delete eval incident", "incident", inc.ID, "error", err)
			}
		}()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return failed(err), nil
	}
	if rep != nil {
		p.ImportLines = rep.Lines
	}
	importMS := r.now().Sub(importStart).Milliseconds()
	resolver := NewResolver(c.Expected.Evidence)
	if err := svc.DB.ScanLines(ctx, inc.ID, store.LineFilter{}, resolver.Add); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return failed(err), nil
	}
	resolved := resolver.Resolutions()
	var results []Result
	for _, m := range models {
		for _, b := range budgets {
			p.Model, p.Budget = m, b
			res := r.runOne(ctx, p, c, inc, m, b, resolved, judge)
			res.ImportMS = importMS
			if r.Scored != nil {
				r.Scored(ctx, &res)
			}
			results = append(results, res)
			p.Stage, p.Result = StageScored, &res
			r.progress(p)
			p.Result = nil
			if err := ctx.Err(); err != nil {
				return results, err
			}
		}
	}
	return results, nil
}

// deleteKept deletes the incidents a Memory run kept.
func (r *Runner) deleteKept(ctx context.Context) {
	for _, id := range r.kept {
		if err := r.Service.DB.DeleteIncident(context.WithoutCancel(ctx), id); err != nil {
			r.logger().Warn("delete eval incident", "incident", id, "error", err)
		}
	}
	r.kept = nil
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// runOne asks the case's question and its control questions of one model
// at one budget and scores the answers.
func (r *Runner) runOne(ctx context.Context, p Progress, c Case, inc *causeway.Incident, model string, budget int, resolved []Resolution, judge causeway.Model) Result {
	start := r.now()
	exp := c.Expected
	res := Result{ID: c.ID, Model: model, Budget: budget, Evidence: len(exp.Evidence), ExpectedRootCause: exp.RootCause, IncidentID: inc.ID}
	for _, rv := range resolved {
		if msg := rv.Problem(); msg != "" {
			res.Problems = append(res.Problems, msg)
		}
	}
	usage := causeway.Usage{}
	p.Stage = StageInvestigate
	r.progress(p)
	out, err := r.Service.Run(ctx, inc, investigate.Request{Budget: budget, Model: model})
	if err != nil {
		res.Error = err.Error()
	}
	var answer *causeway.Answer
	if out != nil {
		inv := out.Investigation
		res.InvestigationID = inv.ID
		addUsage(&usage, inv.Usage)
		answer = inv.Answer
		if out.Pack != nil {
			res.PackTokens, res.PackLines, res.TotalLines = out.Pack.Tokens, len(out.Pack.Lines), out.Pack.Total
		}
		res.EvidenceRecallPacked, res.NotPacked = recall(resolved, packed(out.Pack))
		res.EvidenceRecallCited, res.NotCited = recall(resolved, verifiedCited(inv.Verdict))
		res.Prior = priorUses(out.Prior, inv.Verdict)
		if v := inv.Verdict; v != nil {
			res.CitationsTotal, res.CitationsVerified, res.GroundedRatio = v.Total, v.Verified, v.GroundedRatio
			res.Unverified = unverified(v)
		}
	}
	if answer != nil {
		res.RootCause = answer.RootCause
		res.RootCauseHit, res.MissingKeywords = MatchKeywords(answerText(answer), exp.RootCauseKeywords)
	} else {
		res.MissingKeywords = exp.RootCauseKeywords
	}

	if !r.SkipControls && len(exp.Control) > 0 && ctx.Err() == nil {
		p.Stage = StageControl
		r.progress(p)
		right := 0
		for _, q := range exp.Control {
			cr := r.control(ctx, inc, model, res.InvestigationID, q, &usage)
			if cr.Correct {
				right++
			}
			res.Control = append(res.Control, cr)
			if ctx.Err() != nil {
				break
			}
		}
		share := float64(right) / float64(len(exp.Control))
		res.ControlCorrect = &share
	}

	if judge != nil && answer != nil && ctx.Err() == nil {
		p.Stage = StageJudge
		r.progress(p)
		question := inc.Question
		if question == "" {
			question = investigate.DefaultQuestion
		}
		res.Judge = Judge(ctx, judge, question, exp.RootCause, answer.RootCause+"\n"+answer.Summary)
	}

	res.TokensIn, res.TokensOut, res.TokensCached = usage.PromptTokens, usage.CompletionTokens, usage.CachedTokens
	var priced bool
	res.CostUSD, priced = r.Prices.Cost(model, usage)
	res.Unpriced = !priced
	res.WallMS = r.now().Sub(start).Milliseconds()
	return res
}

// control asks one control question as a follow-up over the same incident
// (and so the same packed context) and scores its answer.
func (r *Runner) control(ctx context.Context, inc *causeway.Incident, model string, base int64, q Control, usage *causeway.Usage) ControlResult {
	cr := ControlResult{Question: q.Question}
	if base == 0 {
		cr.Error = "no investigation to follow up on"
		cr.MissingKeywords = q.AnswerKeywords
		return cr
	}
	// A chat follow-up over the main investigation's packed context, as an
	// engineer would ask it; alone, so that one control question's answer
	// does not lean on another's, nor on another model's run.
	reply, err := investigate.NewChat(r.Service).Ask(ctx, inc, investigate.ChatRequest{
		Message: q.Question, InvestigationID: base, Model: model, Alone: true})
	if err != nil {
		cr.Error = err.Error()
	}
	var answer *causeway.Answer
	if reply != nil && reply.Answer != nil {
		m := reply.Answer
		if m.Usage != nil {
			addUsage(usage, *m.Usage)
		}
		answer = m.Answer
		if v := m.Verdict; v != nil {
			cr.CitationsTotal, cr.CitationsVerified = v.Total, v.Verified
			cr.Unverified = unverified(v)
		}
	}
	if answer != nil {
		cr.Answer = answer.RootCause
		cr.Correct, cr.MissingKeywords = MatchKeywords(controlText(answer), q.AnswerKeywords)
	} else {
		cr.MissingKeywords = q.AnswerKeywords
	}
	return cr
}

func addUsage(sum *causeway.Usage, u causeway.Usage) {
	sum.PromptTokens += u.PromptTokens
	sum.CompletionTokens += u.CompletionTokens
	sum.CachedTokens += u.CachedTokens
	sum.ContextTokens += u.ContextTokens
}

// unverified lists the citations of a verdict that failed.
func unverified(v *causeway.Verdict) []string {
	var out []string
	for _, c := range v.Citations {
		if c.Status != causeway.CitationVerified {
			out = append(out, fmt.Sprintf("%s %s %s %.120q", c.Where, c.Status, c.ID, c.Quote))
		}
	}
	return out
}
