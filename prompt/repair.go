package prompt

import (
	"context"
	"fmt"
	"strconv"

	"github.com/causeway-rca/causeway"
)

// Repair is the repair round: it sends the model its first reply back with
// what failed (a reply that did not parse; each citation that named no
// line, a line that was not sent or a quote that is not in its line; each
// statement that cites nothing) and asks for the whole corrected answer,
// in the same conversation so that the evidence prefix is reused. The
// corrected answer is verified against the same pack. Pass it as
// AskOptions.Repair; it asks with the first round's options and lookup.
func Repair(ctx context.Context, model causeway.Model, pack *causeway.Pack, first *Result) (*Result, error) {
	if first == nil || len(first.Messages) == 0 {
		return nil, nil
	}
	if first.Pack != nil {
		pack = first.Pack
	}
	opts := first.opts
	// The repair reply is a second answer: streaming it after the first
	// would show a reader two answers run together.
	opts.Stream = nil
	a := newAsker(model, first.lookup, first.question, opts)
	msgs := append(append([]causeway.Message(nil), first.Messages...),
		causeway.Message{Role: "assistant", Content: first.RawReply},
		causeway.Message{Role: "user", Content: render("repair.tmpl", newRepairData(first))},
	)
	res := a.newResult(pack, msgs)
	// The prefix (instructions and evidence) is the first round's.
	res.ContextHash = first.ContextHash
	reply, err := a.call(ctx, "repair", causeway.ModelRequest{
		Messages:  msgs,
		Pack:      pack,
		Question:  a.question,
		MaxTokens: opts.MaxTokens,
	})
	if err != nil {
		a.finish(res)
		return res, modelError(model, err)
	}
	err = a.settle(ctx, res, reply)
	a.finish(res)
	return res, err
}

type repairData struct {
	ParseError string
	Failed     int
	Total      int
	Failures   []repairFailure
	Ungrounded []string
}

type repairFailure struct {
	Where, ID, Why string
}

// maxRepairItems bounds the failures listed, so that an answer with
// hundreds of bad citations does not make a repair prompt of its own size.
const maxRepairItems = 40

func newRepairData(first *Result) repairData {
	if first.Answer == nil || first.Verdict == nil {
		reason := first.parseError
		if reason == "" {
			reason = "no JSON object in the reply"
		}
		return repairData{ParseError: clip(reason, 300)}
	}
	v := first.Verdict
	d := repairData{Total: v.Total, Failed: v.Total - v.Verified}
	for _, cv := range Failures(v) {
		if len(d.Failures) == maxRepairItems {
			break
		}
		// Ids and quotes are the model's own text; quoting them keeps a
		// stray newline or bracket from reading as part of the message.
		id := strconv.Quote(clip(cv.ID, 40))
		f := repairFailure{Where: cv.Where, ID: id}
		switch cv.Status {
		case causeway.CitationUnknownID:
			f.Why = "no line with this id exists in the evidence"
		case causeway.CitationNotInContext:
			f.Why = "this line is not in the evidence block you were given"
		case causeway.CitationQuoteMismatch:
			if normalizeQuote(cv.Quote) == "" {
				f.Why = "the quote is empty"
			} else {
				f.Why = fmt.Sprintf("the quote %s is not in that line", strconv.Quote(clip(cv.Quote, 120)))
			}
		default:
			f.Why = cv.Status
		}
		d.Failures = append(d.Failures, f)
	}
	for _, c := range v.Claims {
		if c.Total == 0 && len(d.Ungrounded) < maxRepairItems {
			d.Ungrounded = append(d.Ungrounded, c.Where+" "+strconv.Quote(clip(c.Text, 120)))
		}
	}
	return d
}

// clip shortens s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
