package prompt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/causeway-rca/causeway"
)

// ErrContextLength is wrapped by a model backend's error when the endpoint
// refuses the prompt as longer than the model's context, so that the caller
// can shrink the budget and ask again.
var ErrContextLength = errors.New("prompt exceeds the model's context length")

// ContextLengthError is an endpoint's refusal of a prompt as too long, with
// the numbers it gave (OpenAI and vLLM say "maximum context length is N
// tokens ... resulted in M tokens"). It matches ErrContextLength.
type ContextLengthError struct {
	Limit int // the model's context as the endpoint states it; 0 when unknown
	Sent  int // the tokens the endpoint counted in the request; 0 when unknown
}

func (e *ContextLengthError) Error() string {
	if e.Limit > 0 && e.Sent > 0 {
		return fmt.Sprintf("%v: %d tokens sent, the context holds %d", ErrContextLength, e.Sent, e.Limit)
	}
	return ErrContextLength.Error()
}

// Is makes errors.Is(err, ErrContextLength) hold.
func (e *ContextLengthError) Is(target error) bool { return target == ErrContextLength }

// DefaultMaxWindows bounds a map-reduce: past it, the pack is too large for
// the model to be worth reading window by window.
const DefaultMaxWindows = 100

// DefaultReplyTokens is kept free in the model's context for the reply when
// AskOptions.MaxTokens is 0 (at most a quarter of a small context).
const DefaultReplyTokens = 8192

// maxShrinks bounds how often one Ask retries after the endpoint refused the
// prompt as too long.
const maxShrinks = 3

// AskOptions tune one Ask.
type AskOptions struct {
	// MaxTokens bounds each reply; 0 leaves it to the model.
	MaxTokens int
	// Stream, when set, receives the text of the answer as it is generated
	// (of the synthesis when the pack is map-reduced; a repair round is not
	// streamed).
	Stream func(delta string)
	// Repair, when set, is given one chance to improve a result whose reply
	// did not parse or whose citations did not all verify. Repair (the
	// function of this package) is the repair round.
	Repair RepairFunc
	// Now is the clock for timings; nil means time.Now.
	Now func() time.Time

	// ContextTokens is the model's context window. When the prompt would
	// not fit it, the pack is map-reduced over time windows instead of
	// being cut. 0 asks the model (a ContextTokens() int method, as
	// openai.Client has); a model without one is taken as unbounded.
	ContextTokens int
	// Count counts tokens as the packer does; nil estimates them from the
	// length (EstimateTokens). Pass the packer's tokenizer's Count so that
	// windows are sized exactly.
	Count func(string) int
	// Repack packs the incident again for a smaller budget, for when the
	// endpoint refuses the prompt as too long: the packer then chooses what
	// to keep. Without it the pack is map-reduced over smaller windows.
	Repack func(ctx context.Context, budget int) (*causeway.Pack, error)
	// Parallel is how many map-reduce windows are asked at once; 1 when 0.
	Parallel int
	// MaxWindows bounds a map-reduce; DefaultMaxWindows when 0. A pack
	// that needs more fails with EINVALID rather than running up a bill.
	MaxWindows int
	// Prices gives the cost of calls whose model does not price itself.
	Prices Prices
	// Progress, when set, is told each model call as it starts: "answer",
	// "map 2/4", "reduce", "repair", "shrink". Calls are serialized.
	Progress func(stage string)
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// RepairFunc runs a repair round over a first result that failed to parse
// (Answer is nil, RawReply holds the reply) or whose verdict has failures.
// It returns the result of the round, or nil when it did not ask. Ask keeps
// the round's result when it has an answer with no more failures than the
// first, with the first as its Initial; otherwise it keeps the first.
type RepairFunc func(ctx context.Context, model causeway.Model, pack *causeway.Pack, first *Result) (*Result, error)

// Result is one answered question: the answer and its verdict, what it cost,
// and what is needed to reproduce or audit it.
type Result struct {
	Answer  *causeway.Answer
	Verdict *causeway.Verdict
	// Usage totals every model call behind the result, listed in
	// Usage.Calls; ContextTokens is the evidence of Pack.
	Usage causeway.Usage
	// RawReply is the reply text as received, kept whether it parsed or not.
	RawReply string
	// Model is the model that answered, as it names itself.
	Model         string
	PromptVersion string
	// ContextHash is the sha256 of the conversation's stable prefix; equal
	// hashes mean the same evidence was sent the same way.
	ContextHash string
	Messages    []causeway.Message
	Timings     causeway.Timings
	// Initial is the first round when this result comes from a repair.
	Initial *Result
	// Pack is what the answer was verified against: the pack given, or a
	// smaller one from AskOptions.Repack after the endpoint refused the
	// prompt as too long. Its lines are the lines the model was shown.
	Pack *causeway.Pack
	// Windows are the map rounds when the pack was larger than the model's
	// context; Messages are then the synthesis.
	Windows []*Window
	// FinishReason is why the model stopped its reply ("length": cut off).
	FinishReason string
	// Warnings tell what the caller should know but did not fail the
	// question: an endpoint that seems to cut prompts silently, a repair
	// round that was not kept, findings that were dropped.
	Warnings []string

	// What Repair needs to ask again as the first round did.
	question   string
	lookup     LineLookup
	opts       AskOptions
	parseError string
}

// NeedsRepair reports whether the result would gain from a repair round:
// its reply held no answer, some citation did not verify, or a statement
// cites nothing.
func (r *Result) NeedsRepair() bool {
	return r.Answer == nil || r.Verdict == nil || problems(r.Verdict) > 0
}

// problems counts what a repair round should fix: failed citations and
// statements without any citation.
func problems(v *causeway.Verdict) int {
	n := v.Total - v.Verified
	for _, c := range v.Claims {
		if c.Total == 0 {
			n++
		}
	}
	return n
}

// Ask asks model one question about pack and verifies the answer: Build,
// model.Ask, ParseAnswer, Verify. A pack larger than the model's context is
// map-reduced over time windows; a prompt the endpoint refuses as too long
// is asked again smaller. Once the model has been asked, Ask returns a
// Result even with an error, so that the raw reply, usage and timings of a
// failed attempt are kept. Model failures and unparseable replies are
// *causeway.Error with code EMODEL.
func Ask(ctx context.Context, model causeway.Model, pack *causeway.Pack, question string, lookup LineLookup, opts AskOptions) (*Result, error) {
	if model == nil {
		return nil, causeway.Errorf(causeway.EINVALID, "no model to ask")
	}
	if pack == nil {
		return nil, causeway.Errorf(causeway.EINVALID, "no packed context to ask about")
	}
	a := newAsker(model, lookup, question, opts)
	start := a.now()
	res, err := a.answer(ctx, pack)
	a.finish(res)
	var perr *ParseError
	replied := res != nil && (err == nil || errors.As(err, &perr))
	if opts.Repair != nil && replied && res.NeedsRepair() && ctx.Err() == nil {
		res, err = repairRound(ctx, model, res, err, opts.Repair)
	}
	if res != nil {
		res.Timings.TotalMS = a.now().Sub(start).Milliseconds()
	}
	return res, err
}

// repairRound runs repair over first and keeps the better of the two.
func repairRound(ctx context.Context, model causeway.Model, first *Result, firstErr error, repair RepairFunc) (*Result, error) {
	second, err := repair(ctx, model, first.Pack, first)
	if second == nil {
		if err == nil {
			return first, nil
		}
		if first.Answer != nil {
			first.Warnings = append(first.Warnings, fmt.Sprintf("the repair round failed: %v", err))
			return first, firstErr
		}
		return first, errors.Join(firstErr, fmt.Errorf("repair answer: %w", err))
	}
	if second != first && second.Answer != nil && second.Verdict != nil &&
		(first.Answer == nil || first.Verdict == nil || problems(second.Verdict) <= problems(first.Verdict)) {
		second.Initial = first
		second.Usage = addUsage(first.Usage, second.Usage)
		second.Timings.AskMS += first.Timings.AskMS
		second.Timings.VerifyMS += first.Timings.VerifyMS
		second.Windows = first.Windows
		second.Warnings = append(cloneStrings(first.Warnings), second.Warnings...)
		round := &causeway.Round{Answer: first.Answer, Verdict: first.Verdict}
		if first.Answer == nil {
			round.RawReply = first.RawReply
		}
		if firstErr != nil {
			round.Error = firstErr.Error()
		}
		second.Verdict.Initial = round
		return second, err
	}
	if second == first {
		return first, firstErr
	}
	first.Usage = addUsage(first.Usage, second.Usage)
	first.Timings.AskMS += second.Timings.AskMS
	why := "it had more failures"
	if second.Answer == nil {
		why = "its reply held no answer"
	}
	first.Warnings = append(first.Warnings, "the repair round was not kept: "+why)
	return first, firstErr
}

func cloneStrings(s []string) []string { return append([]string(nil), s...) }

// asker is one Ask (or repair round): the model, what verifies its answers,
// and the account of every call made.
type asker struct {
	model    causeway.Model
	lookup   LineLookup
	question string
	opts     AskOptions
	now      func() time.Time
	count    func(string) int
	logger   *slog.Logger

	mu       sync.Mutex
	calls    []causeway.CallUsage
	unpriced bool
	askMS    int64
	verifyMS int64
	warnings []string
}

func newAsker(model causeway.Model, lookup LineLookup, question string, opts AskOptions) *asker {
	question = strings.TrimSpace(question)
	if question == "" {
		question = DefaultQuestion
	}
	a := &asker{model: model, lookup: lookup, question: question, opts: opts, now: opts.Now, count: opts.Count, logger: opts.Logger}
	if a.now == nil {
		a.now = time.Now
	}
	if a.count == nil {
		a.count = EstimateTokens
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	return a
}

// EstimateTokens is a conservative token count for when no tokenizer is
// given: logs and JSON run at about three to four bytes per token.
func EstimateTokens(s string) int { return (len(s) + 2) / 3 }

// contextLimit is the model's context window, 0 when unbounded.
func (a *asker) contextLimit() int {
	if a.opts.ContextTokens > 0 {
		return a.opts.ContextTokens
	}
	return ContextOf(a.model)
}

// ContextOf returns the context window a model declares (a ContextTokens()
// int method, as openai.Client has), 0 when it declares none. A wrapper
// around a model hides it: pass AskOptions.ContextTokens then.
func ContextOf(model causeway.Model) int {
	if m, ok := model.(interface{ ContextTokens() int }); ok {
		return max(m.ContextTokens(), 0)
	}
	return 0
}

// reserve is what a prompt leaves free for the reply in a context of limit.
func (a *asker) reserve(limit int) int {
	if a.opts.MaxTokens > 0 {
		return a.opts.MaxTokens
	}
	return min(DefaultReplyTokens, limit/4)
}

// promptTokens counts a conversation as sent, with a few tokens per message
// for the chat template's role markers.
func (a *asker) promptTokens(msgs []causeway.Message) int {
	n := 0
	for _, m := range msgs {
		n += a.count(m.Content) + 4
	}
	return n
}

// fits reports whether msgs and a reply fit a context of limit tokens.
func (a *asker) fits(msgs []causeway.Message, limit int) bool {
	return limit <= 0 || a.promptTokens(msgs)+a.reserve(limit) <= limit
}

func (a *asker) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	a.logger.Warn(msg, "model", a.model.Name())
	a.mu.Lock()
	a.warnings = append(a.warnings, msg)
	a.mu.Unlock()
}

// answer asks about pack in one call when it fits the model's context and
// map-reduces it otherwise; when the endpoint refuses the prompt as too
// long, it shrinks the budget and asks again.
func (a *asker) answer(ctx context.Context, pack *causeway.Pack) (*Result, error) {
	limit := a.contextLimit()
	stage := "answer"
	for shrinks := 0; ; shrinks++ {
		var (
			res *Result
			err error
		)
		if msgs := Build(pack, a.question); !a.fits(msgs, limit) {
			res, err = a.mapReduce(ctx, pack, limit)
		} else {
			res, err = a.single(ctx, pack, msgs, stage)
		}
		if !errors.Is(err, ErrContextLength) || shrinks == maxShrinks || ctx.Err() != nil || res == nil {
			return res, err
		}
		refused := a.promptTokens(res.Messages)
		next := shrunk(refused+a.reserve(max(limit, refused)), err)
		a.warn("the endpoint refused a prompt of about %d tokens as longer than the model's context; asking again within %d tokens", refused, next)
		limit, stage = next, "shrink"
		if a.opts.Repack != nil {
			smaller, rerr := a.opts.Repack(ctx, limit)
			if rerr != nil {
				return res, errors.Join(err, fmt.Errorf("repack within %d tokens: %w", limit, rerr))
			}
			pack = smaller
		}
	}
}

// shrunk is the context to try after a prompt of sent tokens (by our
// count, reply included) was refused: in proportion to what the endpoint
// said it holds, else 30% less.
func shrunk(sent int, err error) int {
	ratio := 0.7
	var cl *ContextLengthError
	if errors.As(err, &cl) && cl.Limit > 0 && cl.Sent > cl.Limit {
		ratio = min(0.9*float64(cl.Limit)/float64(cl.Sent), 0.9)
	}
	return max(int(float64(sent)*ratio), 1)
}

// newResult starts the result of a conversation about pack.
func (a *asker) newResult(pack *causeway.Pack, msgs []causeway.Message) *Result {
	return &Result{
		Model:         a.model.Name(),
		PromptVersion: Version,
		ContextHash:   ContextHash(msgs),
		Messages:      msgs,
		Pack:          pack,
		question:      a.question,
		lookup:        a.lookup,
		opts:          a.opts,
	}
}

// single asks the question about pack in one call.
func (a *asker) single(ctx context.Context, pack *causeway.Pack, msgs []causeway.Message, stage string) (*Result, error) {
	res := a.newResult(pack, msgs)
	reply, err := a.call(ctx, stage, causeway.ModelRequest{
		Messages:  msgs,
		Pack:      pack,
		Question:  a.question,
		MaxTokens: a.opts.MaxTokens,
		Stream:    a.opts.Stream,
	})
	if err != nil {
		return res, modelError(a.model, err)
	}
	return res, a.settle(ctx, res, reply)
}

// call asks the model once and accounts for it.
func (a *asker) call(ctx context.Context, stage string, req causeway.ModelRequest) (*causeway.ModelReply, error) {
	if a.opts.Progress != nil {
		a.mu.Lock()
		a.opts.Progress(stage)
		a.mu.Unlock()
	}
	t := a.now()
	reply, err := a.model.Ask(ctx, req)
	ms := a.now().Sub(t).Milliseconds()
	cu := causeway.CallUsage{Stage: stage, Model: a.model.Name(), WallMS: ms}
	priced := true
	if err != nil {
		cu.Error = err.Error()
	}
	if reply != nil {
		u := reply.Usage
		if reply.Model != "" {
			cu.Model = reply.Model
		}
		cu.PromptTokens, cu.CompletionTokens, cu.CachedTokens = u.PromptTokens, u.CompletionTokens, u.CachedTokens
		cu.FinishReason = reply.FinishReason
		switch {
		case u.Priced:
			cu.CostUSD = u.CostUSD
		default:
			cu.CostUSD, priced = a.opts.Prices.Cost(a.model.Name(), u)
		}
		if sent := a.promptTokens(req.Messages); u.PromptTokens > 0 && sent >= 1000 && 2*u.PromptTokens < sent {
			a.warn("the endpoint counted %d prompt tokens where about %d were sent: it may cut prompts to its context silently (Ollama does unless num_ctx is raised); set CAUSEWAY_MODEL_CONTEXT to the context the server really has", u.PromptTokens, sent)
		}
	}
	a.mu.Lock()
	a.calls = append(a.calls, cu)
	a.unpriced = a.unpriced || !priced
	a.askMS += ms
	a.mu.Unlock()
	return reply, err
}

// settle reads the reply into res: parse the answer, verify it against
// res.Pack.
func (a *asker) settle(ctx context.Context, res *Result, reply *causeway.ModelReply) error {
	res.RawReply = reply.Text
	res.FinishReason = reply.FinishReason
	if reply.Model != "" {
		res.Model = reply.Model
	}
	ans, err := ParseAnswer(reply.Text)
	if err != nil {
		res.parseError = parseReason(err)
		if reply.FinishReason == "length" {
			return fmt.Errorf("answer from %s, cut off at the token limit: %w", res.Model, err)
		}
		return fmt.Errorf("answer from %s: %w", res.Model, err)
	}
	res.Answer = ans
	t := a.now()
	verdict, err := Verify(ctx, ans, res.Pack, a.lookup)
	ms := a.now().Sub(t).Milliseconds()
	a.mu.Lock()
	a.verifyMS += ms
	a.mu.Unlock()
	if err != nil {
		return fmt.Errorf("verify answer from %s: %w", res.Model, err)
	}
	res.Verdict = verdict
	return nil
}

// parseReason is what went wrong with an unreadable reply, in words fit to
// send back to the model.
func parseReason(err error) string {
	var perr *ParseError
	if errors.As(err, &perr) {
		return perr.Err.Error()
	}
	return err.Error()
}

// finish books the asker's account into res.
func (a *asker) finish(res *Result) {
	if res == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	u := causeway.Usage{Priced: !a.unpriced && len(a.calls) > 0, Calls: append([]causeway.CallUsage(nil), a.calls...)}
	for _, c := range a.calls {
		u.PromptTokens += c.PromptTokens
		u.CompletionTokens += c.CompletionTokens
		u.CachedTokens += c.CachedTokens
		u.CostUSD += c.CostUSD
		u.WallMS += c.WallMS
	}
	if res.Pack != nil {
		u.ContextTokens = res.Pack.Tokens
	}
	res.Usage = u
	res.Timings.AskMS, res.Timings.VerifyMS = a.askMS, a.verifyMS
	res.Warnings = append(res.Warnings, a.warnings...)
}

// addUsage is the usage of two rounds together; ContextTokens is the
// later round's.
func addUsage(first, second causeway.Usage) causeway.Usage {
	u := second
	u.PromptTokens += first.PromptTokens
	u.CompletionTokens += first.CompletionTokens
	u.CachedTokens += first.CachedTokens
	u.CostUSD += first.CostUSD
	u.WallMS += first.WallMS
	u.Priced = first.Priced && second.Priced
	u.Calls = append(append([]causeway.CallUsage(nil), first.Calls...), second.Calls...)
	return u
}

// modelError makes sure a backend failure carries the EMODEL code, keeping
// cancellation recognizable through errors.Is.
func modelError(model causeway.Model, err error) error {
	err = fmt.Errorf("ask %s: %w", model.Name(), err)
	var ce *causeway.Error
	if errors.As(err, &ce) {
		return err
	}
	return &causeway.Error{Code: causeway.EMODEL, Message: "the model failed", Err: err}
}
