package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt"
	"github.com/causeway-rca/causeway/prompt/modeltest"
	"github.com/causeway-rca/causeway/prompt/openai"
)

// These tests run prompt.Ask through the OpenAI client against modeltest:
// the grounding behaviours as an endpoint sees them.

// countTokens is the token count that the client and the test server
// agree on, so that "fits the context" means the same to both.
func countTokens(s string) int { return (len(s) + 3) / 4 }

func newClient(t *testing.T, srv *modeltest.Server, mod func(*openai.Config)) *openai.Client {
	t.Helper()
	cfg := openai.Config{BaseURL: srv.BaseURL(), APIKey: "sk-test", Model: "test-model", MaxRetries: -1}
	if mod != nil {
		mod(&cfg)
	}
	c, err := openai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var t0 = time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC)

// incidentPack is n lines over three sources, one line a second, with an
// ERROR line every errorEvery lines that the scripted models cite.
func incidentPack(n, errorEvery int) *causeway.Pack {
	sources := []string{"logs/gateway.log", "logs/storage.log", "logs/api.log"}
	p := &causeway.Pack{IncidentID: 1, Budget: 1_000_000, Encoding: "o200k_base"}
	for si, src := range sources {
		p.Sources = append(p.Sources, causeway.PackSource{Name: src, Kind: causeway.KindPodLog})
		for i := si; i < n; i += len(sources) {
			text := fmt.Sprintf("INFO request %d served in %dms by worker-%d route=/v1/chat/completions status=200", i, 20+i%70, i%7)
			if i%errorEvery == errorEvery/2 {
				text = fmt.Sprintf("ERROR volume /var/lib/data on node-%d is %d%% full, writes slowing down (seq %d)", i%5, 80+i*19/n, i)
			}
			l := causeway.Line{IncidentID: 1, Num: int64(i + 1), Source: src, Kind: causeway.LineLog, Time: t0.Add(time.Duration(i) * time.Second), Text: text}
			p.Lines = append(p.Lines, l)
			p.Sources[si].Lines++
		}
	}
	for i := range p.Lines {
		tok := countTokens(prompt.RenderLine(&p.Lines[i]) + "\n")
		p.Tokens += tok
		for j := range p.Sources {
			if p.Sources[j].Name == p.Lines[i].Source {
				p.Sources[j].Tokens += tok
				p.Sources[j].Total++
			}
		}
	}
	p.Total = int64(len(p.Lines))
	return p
}

// sentLine is an evidence line as a request rendered it.
type sentLine struct{ id, text string }

func parseSent(lines []string) []sentLine {
	var out []sentLine
	for _, l := range lines {
		f := strings.SplitN(l, " ", 4)
		if len(f) == 4 {
			out = append(out, sentLine{f[0], f[3]})
		}
	}
	return out
}

func cite(l sentLine) map[string]string {
	// A distinctive span of the line, as the instructions ask.
	q := l.text
	if len(q) > 60 {
		q = q[:60]
	}
	return map[string]string{"id": l.id, "quote": q}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// answerCiting is an answer whose one claim cites every given line.
func answerCiting(lines []sentLine) string {
	var cs []map[string]string
	for _, l := range lines {
		cs = append(cs, cite(l))
	}
	return mustJSON(map[string]any{
		"relevant_lines": cs,
		"root_cause":     "the data volume filled up",
		"summary":        "the volume filled and writes failed",
		"causal_chain":   []any{map[string]any{"step": 1, "text": "volume filling", "citations": cs}},
		"claims":         []any{}, "ruled_out": []any{}, "remediation": []string{"grow the volume"}, "open_questions": []string{},
		"confidence": 0.8,
	})
}

// findingsCiting is a window's findings, one per ERROR line it was sent.
func findingsCiting(lines []sentLine) string {
	fs := []any{}
	for _, l := range lines {
		if strings.Contains(l.text, "ERROR") {
			fs = append(fs, map[string]any{"text": "volume filling: " + l.text[:30], "citations": []any{cite(l)}})
		}
	}
	return mustJSON(map[string]any{"findings": fs})
}

func errorLines(lines []sentLine) []sentLine {
	var out []sentLine
	for _, l := range lines {
		if strings.Contains(l.text, "ERROR") {
			out = append(out, l)
		}
	}
	return out
}

func TestMapReduceOverFourContexts(t *testing.T) {
	const contextTokens = 8000
	srv := modeltest.New(t, modeltest.WithContext(contextTokens, countTokens))
	srv.Handle(func(r modeltest.Request) modeltest.Reply {
		lines := parseSent(r.EvidenceLines())
		if r.Schema() == prompt.FindingsSchemaName {
			return modeltest.Reply{Content: findingsCiting(lines)}
		}
		return modeltest.Reply{Content: answerCiting(errorLines(lines))}
	})
	c := newClient(t, srv, func(cfg *openai.Config) { cfg.ContextTokens = contextTokens })
	pack := incidentPack(1400, 100)
	if pack.Tokens < 4*contextTokens {
		t.Fatalf("pack has %d tokens, want at least four contexts (%d)", pack.Tokens, 4*contextTokens)
	}

	var stages []string
	res, err := prompt.Ask(context.Background(), c, pack, "Why are writes slowing down?", nil, prompt.AskOptions{
		MaxTokens: 1000, Count: countTokens, Progress: func(s string) { stages = append(stages, s) },
	})
	if err != nil {
		t.Fatal(err)
	}

	reqs := srv.Requests()
	maps, reduce := reqs[:len(reqs)-1], reqs[len(reqs)-1]
	if len(maps) < 4 {
		t.Fatalf("%d map requests, want at least 4 for a pack of four contexts", len(maps))
	}
	// Every line was read once, in one window, and windows follow time.
	seen := map[string]int{}
	var last time.Time
	for i, r := range maps {
		if r.Schema() != prompt.FindingsSchemaName || !r.Contains(fmt.Sprintf("window %d of %d", i+1, len(maps))) {
			t.Errorf("map request %d asks for %q, not window %d's findings", i, r.Schema(), i+1)
		}
		if n := srv.Tokens(r) + r.MaxTokens; n > contextTokens {
			t.Errorf("map request %d has %d tokens, over the context of %d", i, n, contextTokens)
		}
		for _, l := range parseSent(r.EvidenceLines()) {
			seen[l.id]++
		}
		first := maps[i].Messages[1].Content
		if ts := firstTime(t, first); ts.Before(last) {
			t.Errorf("window %d starts at %v, before the previous one ended (%v)", i+1, ts, last)
		}
		last = lastTime(t, first)
	}
	for i := range pack.Lines {
		if n := seen[pack.Lines[i].ID()]; n != 1 {
			t.Fatalf("line %s was sent in %d windows, want exactly 1 (no silent truncation)", pack.Lines[i].ID(), n)
		}
	}

	// The synthesis sees the findings and the cited lines, and its
	// citations verify against the original ids.
	if !reduce.Contains(fmt.Sprintf("## findings of window %d of %d", len(maps), len(maps))) || reduce.Schema() != prompt.AnswerSchemaName {
		t.Errorf("the synthesis request lacks the windows' findings:\n%s", reduce.Messages[1].Content)
	}
	v := res.Verdict
	if v.Total != len(pack.Lines)/100 || v.Verified != v.Total || v.Grounded != 1 {
		t.Errorf("verdict %d of %d verified, %d grounded; want every ERROR line cited and verified", v.Verified, v.Total, v.Grounded)
	}
	windowsCited := map[int]bool{}
	for _, cv := range v.Citations {
		for wi, w := range res.Windows {
			if slices.ContainsFunc(w.Pack.Lines, func(l causeway.Line) bool { return l.ID() == cv.ID }) {
				windowsCited[wi] = true
			}
		}
	}
	if len(windowsCited) != len(maps) {
		t.Errorf("citations come from %d windows, want all %d", len(windowsCited), len(maps))
	}
	if len(res.Usage.Calls) != len(reqs) || stages[len(stages)-1] != "reduce" || stages[0] != fmt.Sprintf("map 1/%d", len(maps)) {
		t.Errorf("calls %d for %d requests, stages %v", len(res.Usage.Calls), len(reqs), stages)
	}
	if res.Pack != pack || res.Usage.ContextTokens != pack.Tokens {
		t.Error("the result is not verified against the whole pack")
	}
}

// lineTimes returns the times of the evidence lines rendered in s.
func lineTimes(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if f := strings.SplitN(l, " ", 3); len(f) == 3 && strings.HasPrefix(f[0], "L") {
			out = append(out, f[1])
		}
	}
	return out
}

func firstTime(t *testing.T, s string) time.Time { return minMaxTime(t, s, true) }
func lastTime(t *testing.T, s string) time.Time  { return minMaxTime(t, s, false) }

func minMaxTime(t *testing.T, s string, first bool) time.Time {
	t.Helper()
	var out time.Time
	for _, v := range lineTimes(s) {
		ts, err := time.Parse(causeway.LineTimeLayout, v)
		if err != nil {
			t.Fatalf("line time %q: %v", v, err)
		}
		if out.IsZero() || (first && ts.Before(out)) || (!first && ts.After(out)) {
			out = ts
		}
	}
	return out
}

func TestContextLengthThenSmallerBudget(t *testing.T) {
	// The endpoint holds 6,000 tokens while the client was told 40,000
	// (a wrong CAUSEWAY_MODEL_CONTEXT): the first prompt is refused.
	const real = 6000
	newServer := func(t *testing.T) *modeltest.Server {
		srv := modeltest.New(t, modeltest.WithContext(real, countTokens))
		srv.Handle(func(r modeltest.Request) modeltest.Reply {
			lines := parseSent(r.EvidenceLines())
			if r.Schema() == prompt.FindingsSchemaName {
				return modeltest.Reply{Content: findingsCiting(lines)}
			}
			return modeltest.Reply{Content: answerCiting(errorLines(lines))}
		})
		return srv
	}
	pack := incidentPack(300, 50)

	t.Run("repacked", func(t *testing.T) {
		srv := newServer(t)
		c := newClient(t, srv, func(cfg *openai.Config) { cfg.ContextTokens = 40_000 })
		var budgets []int
		var smaller *causeway.Pack
		repack := func(_ context.Context, budget int) (*causeway.Pack, error) {
			budgets = append(budgets, budget)
			// The packer keeps what fits; here, the latest lines.
			keep := 0
			for i := len(pack.Lines) - 1; i >= 0 && keep < budget/2; i-- {
				keep += countTokens(prompt.RenderLine(&pack.Lines[i]) + "\n")
				smaller = &causeway.Pack{IncidentID: 1, Sources: pack.Sources, Lines: pack.Lines[i:], Tokens: keep}
			}
			return smaller, nil
		}
		res, err := prompt.Ask(context.Background(), c, pack, "", nil, prompt.AskOptions{MaxTokens: 500, Count: countTokens, Repack: repack})
		if err != nil {
			t.Fatal(err)
		}
		reqs := srv.Requests()
		if len(reqs) != 2 || len(budgets) != 1 || budgets[0] >= srv.Tokens(reqs[0]) || budgets[0] > real {
			t.Fatalf("%d requests, repack budgets %v; want one refusal, then one request within a budget under %d", len(reqs), budgets, real)
		}
		if res.Pack != smaller || res.Verdict.Verified == 0 || res.Verdict.Verified != res.Verdict.Total {
			t.Errorf("answer not verified against the smaller pack: %+v", res.Verdict)
		}
		calls := res.Usage.Calls
		if len(calls) != 2 || calls[0].Error == "" || calls[1].Stage != "shrink" || len(res.Warnings) == 0 {
			t.Errorf("calls %+v warnings %q: the refusal is not on record", calls, res.Warnings)
		}
	})

	t.Run("window halved", func(t *testing.T) {
		// The client's token count is half the server's: windows it sizes
		// to fit are refused, and are read in halves instead.
		srv := newServer(t)
		c := newClient(t, srv, func(cfg *openai.Config) { cfg.ContextTokens = real })
		half := func(s string) int { return countTokens(s) / 2 }
		res, err := prompt.Ask(context.Background(), c, pack, "", nil, prompt.AskOptions{MaxTokens: 500, Count: half})
		if !slices.ContainsFunc(res.Usage.Calls, func(c causeway.CallUsage) bool { return strings.Contains(c.Stage, "part 2/2") }) {
			t.Errorf("no window was halved: calls %+v", res.Usage.Calls)
		}
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		refused := 0
		for _, r := range srv.Requests() {
			if srv.Tokens(r)+r.MaxTokens > real {
				refused++
				continue
			}
			if r.Schema() == prompt.FindingsSchemaName {
				for _, l := range parseSent(r.EvidenceLines()) {
					seen[l.id]++
				}
			}
		}
		if refused == 0 || len(seen) != len(pack.Lines) {
			t.Errorf("%d refusals; %d of %d lines read in accepted windows", refused, len(seen), len(pack.Lines))
		}
		if res.Verdict.Total != 6 || res.Verdict.Verified != 6 {
			t.Errorf("verdict %d of %d, want the 6 ERROR lines verified", res.Verdict.Verified, res.Verdict.Total)
		}
	})

	t.Run("map-reduced", func(t *testing.T) {
		srv := newServer(t)
		c := newClient(t, srv, func(cfg *openai.Config) { cfg.ContextTokens = 40_000 })
		res, err := prompt.Ask(context.Background(), c, pack, "", nil, prompt.AskOptions{MaxTokens: 500, Count: countTokens})
		if err != nil {
			t.Fatal(err)
		}
		reqs := srv.Requests()
		if srv.Tokens(reqs[0])+500 <= real || len(res.Windows) < 2 {
			t.Fatalf("first request %d tokens, %d windows after it", srv.Tokens(reqs[0]), len(res.Windows))
		}
		for _, r := range reqs[1:] {
			if n := srv.Tokens(r) + r.MaxTokens; n > real {
				t.Errorf("a request after the refusal has %d tokens, over %d", n, real)
			}
		}
		if res.Verdict.Total != 6 || res.Verdict.Verified != 6 {
			t.Errorf("verdict %d of %d, want the 6 ERROR lines verified", res.Verdict.Verified, res.Verdict.Total)
		}
	})
}

// smallPack is two lines: the symptom and its cause.
func smallPack() *causeway.Pack {
	return &causeway.Pack{IncidentID: 1, Tokens: 40, Lines: []causeway.Line{
		{Num: 1, Source: "logs/app.log", Time: t0, Text: "ERROR upstream returned 503 no_healthy_upstream"},
		{Num: 2, Source: "logs/gw.log", Time: t0.Add(time.Minute), Text: "ERROR mkdir /var/lib/eg/wasm: no space left on device"},
	}}
}

func answerWith(id, quote string) string {
	return mustJSON(map[string]any{
		"root_cause": "disk full", "summary": "s",
		"causal_chain": []any{map[string]any{"step": 1, "text": "the wasm cache disk is full", "citations": []any{map[string]string{"id": id, "quote": quote}}}},
		"claims":       []any{}, "ruled_out": []any{}, "remediation": []string{}, "open_questions": []string{}, "confidence": 0.8,
	})
}

func TestRepairRound(t *testing.T) {
	good := answerWith("L2", "no space left on device")
	tests := []struct {
		name       string
		first      string
		wantStatus string
		wantInMsg  string
	}{
		{"id that was not sent", answerWith("L999", "no space left on device"), causeway.CitationUnknownID, `"L999": no line with this id exists`},
		{"wrong quote", answerWith("L2", "the disk is full"), causeway.CitationQuoteMismatch, `the quote "the disk is full" is not in that line`},
		{"garbage", "I think the disk is full.", "", "could not be read as the JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := modeltest.New(t)
			srv.Enqueue(modeltest.Reply{Content: tt.first}, modeltest.Reply{Content: good})
			c := newClient(t, srv, nil)
			res, err := prompt.Ask(context.Background(), c, smallPack(), "why 503?", nil, prompt.AskOptions{Repair: prompt.Repair})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict.Verified != 1 || res.Verdict.Total != 1 || res.RawReply != good {
				t.Fatalf("final verdict %+v, want the repaired answer verified", res.Verdict)
			}
			// Both rounds are kept: in the result and in the stored verdict.
			first := res.Verdict.Initial
			if res.Initial == nil || first == nil || res.Initial.RawReply != tt.first {
				t.Fatalf("the first round is not kept: %+v", res.Initial)
			}
			if tt.wantStatus != "" && (first.Verdict == nil || first.Verdict.Citations[0].Status != tt.wantStatus || first.Verdict.Ungrounded != 1) {
				t.Errorf("first round verdict %+v, want %s", first.Verdict, tt.wantStatus)
			}
			if tt.wantStatus == "" && (first.Answer != nil || first.RawReply != tt.first || first.Error == "") {
				t.Errorf("unparseable first round kept as %+v", first)
			}
			reqs := srv.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			msgs := reqs[1].Messages
			if len(msgs) != 5 || msgs[0] != reqs[0].Messages[0] || msgs[1] != reqs[0].Messages[1] ||
				msgs[3].Role != "assistant" || msgs[3].Content != tt.first || !strings.Contains(msgs[4].Content, tt.wantInMsg) {
				t.Errorf("repair request does not send the failures back in the same conversation: %+v", msgs)
			}
			if u := res.Usage; len(u.Calls) != 2 || u.Calls[1].Stage != "repair" || u.PromptTokens != u.Calls[0].PromptTokens+u.Calls[1].PromptTokens {
				t.Errorf("usage %+v does not add up both rounds", u)
			}
		})
	}
}

func TestRepairNotKeptWhenWorse(t *testing.T) {
	srv := modeltest.New(t)
	srv.Enqueue(modeltest.Reply{Content: answerWith("L2", "the disk is full")}, modeltest.Reply{Content: "sorry"})
	c := newClient(t, srv, nil)
	res, err := prompt.Ask(context.Background(), c, smallPack(), "", nil, prompt.AskOptions{Repair: prompt.Repair})
	if err != nil {
		t.Fatal(err)
	}
	if res.Initial != nil || res.Verdict.QuoteMismatch != 1 || len(res.Usage.Calls) != 2 || len(res.Warnings) != 1 {
		t.Errorf("a garbage repair replaced the answer or went unrecorded: verdict %+v calls %d warnings %q", res.Verdict, len(res.Usage.Calls), res.Warnings)
	}
}

func TestCostFromPriceTable(t *testing.T) {
	srv := modeltest.New(t)
	srv.Enqueue(modeltest.Reply{Content: answerWith("L2", "no space left on device"),
		Usage: &modeltest.Usage{PromptTokens: 1_000_000, CompletionTokens: 100_000, CachedTokens: 400_000}})
	c := newClient(t, srv, func(cfg *openai.Config) {
		cfg.Prices = prompt.Prices{"test-model": {Input: 2, Output: 8, CachedInput: 0.5}}
	})
	res, err := prompt.Ask(context.Background(), c, smallPack(), "", nil, prompt.AskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 600k fresh at $2 + 400k cached at $0.50 + 100k out at $8 per million.
	if want := 1.2 + 0.2 + 0.8; !res.Usage.Priced || !near(res.Usage.CostUSD, want) || !near(res.Usage.Calls[0].CostUSD, want) {
		t.Errorf("cost %v (priced %v), want %v", res.Usage.CostUSD, res.Usage.Priced, want)
	}

	srv.Enqueue(modeltest.Reply{Content: answerWith("L2", "no space left on device")})
	res, _ = prompt.Ask(context.Background(), newClient(t, srv, nil), smallPack(), "", nil, prompt.AskOptions{})
	if res.Usage.Priced || res.Usage.CostUSD != 0 {
		t.Errorf("a model without a price reports cost %v priced %v", res.Usage.CostUSD, res.Usage.Priced)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestReplyCutOffAtTokenLimit(t *testing.T) {
	srv := modeltest.New(t)
	full := answerWith("L2", "no space left on device")
	srv.Enqueue(modeltest.Reply{Content: full[:len(full)/2], FinishReason: "length"})
	res, err := prompt.Ask(context.Background(), newClient(t, srv, nil), smallPack(), "", nil, prompt.AskOptions{MaxTokens: 50})
	var perr *prompt.ParseError
	if !errors.As(err, &perr) || !strings.Contains(err.Error(), "cut off at the token limit") || res.FinishReason != "length" {
		t.Errorf("err = %v, finish %q; want a parse error that says the reply was cut off", err, res.FinishReason)
	}
}

func TestSilentTruncationWarns(t *testing.T) {
	srv := modeltest.New(t)
	// Ollama with its default num_ctx counts a fraction of what was sent.
	srv.Enqueue(modeltest.Reply{Content: answerWith("L2", "no space left on device"), Usage: &modeltest.Usage{PromptTokens: 2048, CompletionTokens: 100}})
	res, err := prompt.Ask(context.Background(), newClient(t, srv, nil), incidentPack(400, 50), "", nil, prompt.AskOptions{Count: countTokens})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "CAUSEWAY_MODEL_CONTEXT") {
		t.Errorf("warnings = %q, want one about a prompt cut short", res.Warnings)
	}
}
