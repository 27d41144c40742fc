package prompt_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt"
)

// scriptedModel replies with its texts in turn and records what it was asked.
type scriptedModel struct {
	replies []string
	err     error
	asked   []causeway.ModelRequest
}

func (m *scriptedModel) Name() string { return "scripted" }

func (m *scriptedModel) Ask(_ context.Context, req causeway.ModelRequest) (*causeway.ModelReply, error) {
	m.asked = append(m.asked, req)
	if m.err != nil {
		return nil, m.err
	}
	text := m.replies[0]
	m.replies = m.replies[1:]
	if req.Stream != nil {
		req.Stream(text)
	}
	return &causeway.ModelReply{Text: text, Model: "scripted-v2", Usage: causeway.Usage{PromptTokens: 900, CompletionTokens: 80, CachedTokens: 512}}, nil
}

// tick is a clock that advances 10 ms per reading.
func tick() func() time.Time {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(10 * time.Millisecond); return t }
}

const goodReply = `{"root_cause":"disk full","causal_chain":[{"step":1,"text":"disk","citations":[{"id":"L14","quote":"no space left on device"}]}],"confidence":0.7}`
const badQuoteReply = `{"root_cause":"disk full","causal_chain":[{"step":1,"text":"disk","citations":[{"id":"L14","quote":"the disk is full"}]}],"confidence":0.7}`

func TestAsk(t *testing.T) {
	m := &scriptedModel{replies: []string{"Sure! " + goodReply}}
	var streamed strings.Builder
	res, err := prompt.Ask(context.Background(), m, smallPack(), "why 503?", nil, prompt.AskOptions{
		MaxTokens: 2000, Stream: func(d string) { streamed.WriteString(d) }, Now: tick(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Answer.RootCause != "disk full" || res.Verdict.Verified != 1 || res.Verdict.GroundedRatio != 1 {
		t.Errorf("answer %+v verdict %+v", res.Answer, res.Verdict)
	}
	want := prompt.Build(smallPack(), "why 503?")
	if res.PromptVersion != prompt.Version || res.ContextHash != prompt.ContextHash(want) || len(res.Messages) != 3 {
		t.Errorf("result does not record the prompt: version %q hash %q", res.PromptVersion, res.ContextHash)
	}
	if res.RawReply != "Sure! "+goodReply || res.Model != "scripted-v2" {
		t.Errorf("raw reply %q model %q", res.RawReply, res.Model)
	}
	u := res.Usage
	if u.PromptTokens != 900 || u.CompletionTokens != 80 || u.CachedTokens != 512 || u.ContextTokens != 212 || u.WallMS != 10 ||
		len(u.Calls) != 1 || u.Calls[0].Stage != "answer" || u.Calls[0].PromptTokens != 900 || u.Calls[0].Model != "scripted-v2" {
		t.Errorf("usage = %+v, want the reply's tokens, one call, the pack's context tokens", u)
	}
	if res.Timings.AskMS != 10 || res.Timings.VerifyMS != 10 || res.Timings.TotalMS <= res.Timings.AskMS {
		t.Errorf("timings = %+v", res.Timings)
	}
	req := m.asked[0]
	if req.Pack == nil || req.Question != "why 503?" || req.MaxTokens != 2000 || len(req.Messages) != 3 {
		t.Errorf("model request = %+v", req)
	}
	if streamed.String() != res.RawReply {
		t.Errorf("stream got %q", streamed.String())
	}
}

func TestAskGarbageKeepsRawReply(t *testing.T) {
	m := &scriptedModel{replies: []string{"I am fairly sure it's DNS."}}
	res, err := prompt.Ask(context.Background(), m, smallPack(), "", nil, prompt.AskOptions{})
	if causeway.ErrorCode(err) != causeway.EMODEL {
		t.Fatalf("err = %v, want EMODEL", err)
	}
	if res == nil || res.RawReply != "I am fairly sure it's DNS." || res.Answer != nil || res.Usage.PromptTokens != 900 {
		t.Errorf("result of a garbage reply = %+v", res)
	}
	if m.asked[0].Question != prompt.DefaultQuestion {
		t.Errorf("question = %q, want the default", m.asked[0].Question)
	}
}

func TestAskModelFailure(t *testing.T) {
	m := &scriptedModel{err: errors.New("connection refused")}
	repaired := 0
	res, err := prompt.Ask(context.Background(), m, smallPack(), "", nil, prompt.AskOptions{
		Repair: func(context.Context, causeway.Model, *causeway.Pack, *prompt.Result) (*prompt.Result, error) {
			repaired++
			return nil, nil
		},
	})
	if causeway.ErrorCode(err) != causeway.EMODEL || !errors.Is(err, m.err) {
		t.Fatalf("err = %v, want EMODEL wrapping the cause", err)
	}
	if res == nil || res.PromptVersion != prompt.Version {
		t.Errorf("failed ask lost its result: %+v", res)
	}
	if repaired != 0 {
		t.Error("repair ran although the model never replied")
	}
}

func TestAskRepairHook(t *testing.T) {
	tests := []struct {
		name       string
		first      string
		wantRepair bool
	}{
		{"all verified", goodReply, false},
		{"quote mismatch", badQuoteReply, true},
		{"unparseable", "no idea", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &scriptedModel{replies: []string{tt.first, goodReply}}
			var seen *prompt.Result
			repair := func(ctx context.Context, model causeway.Model, pack *causeway.Pack, first *prompt.Result) (*prompt.Result, error) {
				seen = first
				return prompt.Ask(ctx, model, pack, "fix it", nil, prompt.AskOptions{})
			}
			res, err := prompt.Ask(context.Background(), m, smallPack(), "", nil, prompt.AskOptions{Repair: repair})
			if err != nil {
				t.Fatal(err)
			}
			if (seen != nil) != tt.wantRepair {
				t.Fatalf("repair called = %v, want %v", seen != nil, tt.wantRepair)
			}
			if !tt.wantRepair {
				return
			}
			if res.Initial != seen || res.Initial.RawReply != tt.first || res.Verdict.Verified != 1 {
				t.Errorf("repaired result does not keep the first round: %+v", res)
			}
			if len(m.asked) != 2 {
				t.Errorf("model asked %d times, want 2 (one repair round)", len(m.asked))
			}
		})
	}
}
