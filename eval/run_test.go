package eval

import (
	"context"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/prompt/builtin"
	"github.com/causeway-rca/causeway/store/storetest"
)

// fakeModel replies with a fixed text and usage; it stands for a remote
// model (a judge, or a priced model).
type fakeModel struct {
	name  string
	reply string
	usage causeway.Usage
	asked []causeway.ModelRequest
}

func (f *fakeModel) Name() string { return f.name }

func (f *fakeModel) Ask(_ context.Context, req causeway.ModelRequest) (*causeway.ModelReply, error) {
	f.asked = append(f.asked, req)
	return &causeway.ModelReply{Text: f.reply, Model: f.name, Usage: f.usage}, nil
}

// newService returns a service on a fresh database whose models are
// builtin and the given fakes.
func newService(t testing.TB, fakes ...*fakeModel) *investigate.Service {
	t.Helper()
	db := storetest.MustOpenDB(t)
	return investigate.New(db, chunking.MustTokenizer(""), func(name string) (causeway.Model, error) {
		if name == "" || name == "builtin" {
			return builtin.New(), nil
		}
		for _, f := range fakes {
			if f.name == name {
				return f, nil
			}
		}
		return nil, causeway.Errorf(causeway.EINVALID, "no model %q", name)
	})
}

// TestRunSmall runs the small bundle end to end with the builtin model at
// two budgets and a judge, and checks every score against what the bundle
// holds.
func TestRunSmall(t *testing.T) {
	ctx := context.Background()
	judge := &fakeModel{name: "judge", reply: `{"match": true, "reason": "both name the full volume"}`, usage: causeway.Usage{PromptTokens: 300}}
	svc := newService(t, judge)
	cases, err := LoadCases("testdata/small")
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	r := &Runner{Service: svc, Budgets: []int{1_000_000, 8_000}, Judge: "judge", Progress: func(p Progress) {
		if len(stages) == 0 || stages[len(stages)-1] != p.Stage {
			stages = append(stages, p.Stage)
		}
	}}
	rep, err := r.Run(ctx, "testdata/small", cases)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Cases) != 2 || len(rep.Summary) != 2 {
		t.Fatalf("%d results and %d summaries, want 2 and 2", len(rep.Cases), len(rep.Summary))
	}
	for _, res := range rep.Cases {
		t.Run(res.Key(), func(t *testing.T) {
			if res.Error != "" || len(res.Problems) > 0 {
				t.Fatalf("error %q, problems %v", res.Error, res.Problems)
			}
			if !res.RootCauseHit {
				t.Errorf("root cause missed: %q (missing %v)", res.RootCause, res.MissingKeywords)
			}
			if res.EvidenceRecallPacked != 1 {
				t.Errorf("evidence packed %.2f; not packed: %v", res.EvidenceRecallPacked, res.NotPacked)
			}
			if res.CitationsTotal == 0 || res.CitationsVerified != res.CitationsTotal || res.GroundedRatio != 1 {
				t.Errorf("citations %d/%d verified: %v", res.CitationsVerified, res.CitationsTotal, res.Unverified)
			}
			if res.EvidenceRecallCited == 0 || res.EvidenceRecallCited > 1 {
				t.Errorf("evidence cited %.2f, want some", res.EvidenceRecallCited)
			}
			if len(res.Control) != 1 || res.ControlCorrect == nil {
				t.Fatalf("control: %+v", res.Control)
			}
			if c := res.Control[0]; !c.Correct || c.CitationsVerified != c.CitationsTotal {
				t.Errorf("control answered %q, correct %v, citations %d/%d", c.Answer, c.Correct, c.CitationsVerified, c.CitationsTotal)
			}
			if res.Judge == nil || !res.Judge.Match || res.Judge.Reason == "" {
				t.Errorf("judge: %+v", res.Judge)
			}
			if res.PackTokens == 0 || res.PackTokens > res.Budget || res.TotalLines == 0 || res.WallMS < 0 {
				t.Errorf("pack %d tokens of %d, %d lines", res.PackTokens, res.Budget, res.TotalLines)
			}
			if res.CostUSD != 0 || res.Unpriced {
				t.Errorf("builtin cost %v (unpriced %v)", res.CostUSD, res.Unpriced)
			}
		})
	}
	if len(judge.asked) != 2 || !strings.Contains(judge.asked[0].Messages[1].Content, "orders-db volume") {
		t.Errorf("judge asked %d times; first: %+v", len(judge.asked), judge.asked)
	}
	want := []string{StageImport, StageInvestigate, StageControl, StageJudge, StageScored, StageInvestigate, StageControl, StageJudge, StageScored}
	if strings.Join(stages, ",") != strings.Join(want, ",") {
		t.Errorf("stages %v, want %v", stages, want)
	}
	// The case's incident is gone once scored.
	if incs, err := svc.DB.Incidents(ctx, 10); err != nil || len(incs) != 0 {
		t.Errorf("incidents left: %v %v", incs, err)
	}
}

// TestRunKeepAndFailures: --keep leaves the incident; a model that fails
// is scored with its error and the run goes on; a priced model costs.
func TestRunKeepAndFailures(t *testing.T) {
	ctx := context.Background()
	garbage := &fakeModel{name: "garbage", reply: "I think it was DNS.", usage: causeway.Usage{PromptTokens: 2_000_000, CompletionTokens: 1000}}
	svc := newService(t, garbage)
	cases, err := LoadCases("testdata/small")
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Service: svc, Models: []string{"garbage", "builtin"}, Budgets: []int{64_000}, Keep: true, SkipControls: true,
		Prices: Prices{"garbage": {Input: 1, Output: 10}}}
	rep, err := r.Run(ctx, "testdata/small", cases)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Cases) != 2 {
		t.Fatalf("%d results", len(rep.Cases))
	}
	bad, good := rep.Cases[0], rep.Cases[1]
	if bad.Error == "" || bad.RootCauseHit || bad.EvidenceRecallPacked != 1 || bad.CitationsTotal != 0 {
		t.Errorf("garbage model: %+v", bad)
	}
	if bad.CostUSD != 2*(2+0.01) || bad.Unpriced { // the answer and its repair round
		t.Errorf("garbage model cost %v", bad.CostUSD)
	}
	if good.Error != "" || !good.RootCauseHit || good.Control != nil || good.ControlCorrect != nil {
		t.Errorf("builtin after a failing model: %+v", good)
	}
	if rep.Summary[0].Errors != 1 {
		t.Errorf("summary errors %d", rep.Summary[0].Errors)
	}
	incs, err := svc.DB.Incidents(ctx, 10)
	if err != nil || len(incs) != 1 || !strings.HasPrefix(incs[0].Key, "eval/small-disk-full/") {
		t.Errorf("kept incidents: %v %v", incs, err)
	}
	if _, err := (&Runner{Service: svc, Judge: "builtin"}).Run(ctx, "x", cases); causeway.ErrorCode(err) != causeway.EINVALID {
		t.Errorf("builtin as judge: %v", err)
	}
}

func TestParseVerdict(t *testing.T) {
	tests := []struct {
		reply string
		match bool
		ok    bool
	}{
		{`{"match": true, "reason": "same"}`, true, true},
		{"Sure:\n```json\n{\"match\": false, \"reason\": \"a symptom\"}\n```", false, true},
		{`{"root_cause": "match", "summary": "same cause", "causal_chain": [], "claims": []}`, true, true},
		{`{"root_cause": "No match.", "summary": "different", "causal_chain": [], "claims": []}`, false, true},
		{`it is the same`, false, false},
	}
	for _, tt := range tests {
		match, _, err := parseVerdict(tt.reply)
		if match != tt.match || (err == nil) != tt.ok {
			t.Errorf("parseVerdict(%q) = %v, %v; want %v, ok %v", tt.reply, match, err, tt.match, tt.ok)
		}
	}
}
