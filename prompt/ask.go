package prompt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// ErrContextLength is wrapped by a model backend's error when the endpoint
// refuses the prompt as longer than the model's context, so that the caller
// can shrink the budget and ask again.
var ErrContextLength = errors.New("prompt exceeds the model's context length")

// AskOptions tune one Ask.
type AskOptions struct {
	// MaxTokens bounds the reply; 0 leaves it to the model.
	MaxTokens int
	// Stream, when set, receives the reply text as it is generated.
	Stream func(delta string)
	// Repair, when set, is given one chance to improve a result whose reply
	// did not parse or whose citations did not all verify.
	Repair RepairFunc
	// Now is the clock for timings; nil means time.Now.
	Now func() time.Time
}

// RepairFunc runs a repair round over a first result that failed to parse
// (Answer is nil, RawReply holds the reply) or whose verdict has failures.
// It returns the result to keep, or nil to keep the first one. The repair
// round itself (sending the failures back and asking for a corrected answer)
// belongs to the grounding work; Ask only guarantees it is called once.
type RepairFunc func(ctx context.Context, model causeway.Model, pack *causeway.Pack, first *Result) (*Result, error)

// Result is one answered question: the answer and its verdict, what it cost,
// and what is needed to reproduce or audit it.
type Result struct {
	Answer  *causeway.Answer
	Verdict *causeway.Verdict
	Usage   causeway.Usage
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
}

// NeedsRepair reports whether the result would gain from a repair round:
// its reply held no answer, or some citation did not verify.
func (r *Result) NeedsRepair() bool {
	return r.Answer == nil || r.Verdict == nil || r.Verdict.Verified < r.Verdict.Total
}

// Ask asks model one question about pack and verifies the answer: Build,
// model.Ask, ParseAnswer, Verify. Once the model has been asked, Ask returns
// a Result even with an error, so that the raw reply, usage and timings of a
// failed attempt are kept. Model failures and unparseable replies are
// *causeway.Error with code EMODEL.
func Ask(ctx context.Context, model causeway.Model, pack *causeway.Pack, question string, lookup LineLookup, opts AskOptions) (*Result, error) {
	if model == nil {
		return nil, causeway.Errorf(causeway.EINVALID, "no model to ask")
	}
	if pack == nil {
		return nil, causeway.Errorf(causeway.EINVALID, "no packed context to ask about")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	res, err := ask(ctx, model, pack, question, lookup, opts, now)
	var perr *ParseError
	replied := err == nil || errors.As(err, &perr)
	if opts.Repair != nil && replied && res.NeedsRepair() && ctx.Err() == nil {
		repaired, rerr := opts.Repair(ctx, model, pack, res)
		switch {
		case rerr != nil:
			err = errors.Join(err, fmt.Errorf("repair answer: %w", rerr))
		case repaired != nil:
			repaired.Initial = res
			res, err = repaired, nil
		}
	}
	if res != nil {
		res.Timings.TotalMS = now().Sub(start).Milliseconds()
	}
	return res, err
}

func ask(ctx context.Context, model causeway.Model, pack *causeway.Pack, question string, lookup LineLookup, opts AskOptions, now func() time.Time) (*Result, error) {
	question = strings.TrimSpace(question)
	if question == "" {
		question = DefaultQuestion
	}
	msgs := Build(pack, question)
	res := &Result{
		Model:         model.Name(),
		PromptVersion: Version,
		ContextHash:   ContextHash(msgs),
		Messages:      msgs,
		Usage:         causeway.Usage{ContextTokens: pack.Tokens},
	}
	t := now()
	reply, err := model.Ask(ctx, causeway.ModelRequest{
		Messages:  msgs,
		Pack:      pack,
		Question:  question,
		MaxTokens: opts.MaxTokens,
		Stream:    opts.Stream,
	})
	res.Timings.AskMS = now().Sub(t).Milliseconds()
	if err != nil {
		return res, modelError(model, err)
	}
	res.RawReply = reply.Text
	if reply.Model != "" {
		res.Model = reply.Model
	}
	res.Usage.PromptTokens = reply.Usage.PromptTokens
	res.Usage.CompletionTokens = reply.Usage.CompletionTokens
	res.Usage.CachedTokens = reply.Usage.CachedTokens

	ans, err := ParseAnswer(reply.Text)
	if err != nil {
		return res, fmt.Errorf("answer from %s: %w", res.Model, err)
	}
	res.Answer = ans

	t = now()
	verdict, err := Verify(ctx, ans, pack, lookup)
	res.Timings.VerifyMS = now().Sub(t).Milliseconds()
	if err != nil {
		return res, fmt.Errorf("verify answer from %s: %w", res.Model, err)
	}
	res.Verdict = verdict
	return res, nil
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
