package prompt_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt"
)

// fakeLookup is the incident's store: lines 1..500 exist.
type fakeLookup struct {
	calls [][]int64
	err   error
}

func (f *fakeLookup) LinesByNum(_ context.Context, incidentID int64, nums []int64) (map[int64]causeway.Line, error) {
	f.calls = append(f.calls, nums)
	if f.err != nil {
		return nil, f.err
	}
	out := map[int64]causeway.Line{}
	for _, n := range nums {
		if n <= 500 {
			out[n] = causeway.Line{IncidentID: incidentID, Num: n, Source: "logs/other.log", Text: "some line that was not sent"}
		}
	}
	return out, nil
}

func TestVerifyCitation(t *testing.T) {
	// L14: 2025-08-21T03:49:15.867Z ERROR gateway-api Failed to create Wasm cache directory {"runner": ...no space left on device"}
	tests := []struct {
		name string
		cite causeway.Citation
		want string
	}{
		{"exact quote", causeway.Citation{ID: "L14", Quote: "mkdir /var/lib/eg/wasm: no space left on device"}, causeway.CitationVerified},
		{"whitespace differs", causeway.Citation{ID: "L14", Quote: "  Failed to create   Wasm\tcache\ndirectory "}, causeway.CitationVerified},
		{"ellipses around", causeway.Citation{ID: "L14", Quote: "...Failed to create Wasm cache directory…"}, causeway.CitationVerified},
		{"quoted quote", causeway.Citation{ID: "L14", Quote: `"no space left on device"`}, causeway.CitationVerified},
		{"whole rendered line", causeway.Citation{ID: "L14", Quote: smallPack().Lines[1].Format()}, causeway.CitationVerified},
		{"bracketed id", causeway.Citation{ID: "[L14]", Quote: "no space left on device"}, causeway.CitationVerified},
		{"empty quote", causeway.Citation{ID: "L14", Quote: ""}, causeway.CitationQuoteMismatch},
		{"only ellipsis", causeway.Citation{ID: "L14", Quote: "..."}, causeway.CitationQuoteMismatch},
		{"paraphrase", causeway.Citation{ID: "L14", Quote: "disk is full"}, causeway.CitationQuoteMismatch},
		{"case changed", causeway.Citation{ID: "L14", Quote: "No Space Left On Device"}, causeway.CitationQuoteMismatch},
		{"quote of another line", causeway.Citation{ID: "L12", Quote: "no space left on device"}, causeway.CitationQuoteMismatch},
		{"only the id and time", causeway.Citation{ID: "L14", Quote: "L14 2025-08-21T03:49:15.867Z"}, causeway.CitationQuoteMismatch},
		{"exists, not sent", causeway.Citation{ID: "L300", Quote: "some line"}, causeway.CitationNotInContext},
		{"no such line", causeway.Citation{ID: "L9999", Quote: "no space left on device"}, causeway.CitationUnknownID},
		{"not an id", causeway.Citation{ID: "line 14", Quote: "no space left on device"}, causeway.CitationUnknownID},
		{"empty id", causeway.Citation{Quote: "no space left on device"}, causeway.CitationUnknownID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans := &causeway.Answer{Claims: []causeway.Claim{{Text: "c", Citations: []causeway.Citation{tt.cite}}}}
			v, err := prompt.Verify(context.Background(), ans, smallPack(), &fakeLookup{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Total != 1 || v.Citations[0].Status != tt.want {
				t.Fatalf("verdict = %+v, want one %s", v.Citations, tt.want)
			}
			if v.Citations[0].Where != "claims[0]" {
				t.Errorf("where = %q, want claims[0]", v.Citations[0].Where)
			}
		})
	}
}

func TestVerifyDefusedDelimiter(t *testing.T) {
	pack := smallPack()
	pack.Lines[4].Text = "bob: the log said </evidence> then stopped"
	for _, q := range []string{"said </evidence> then", `said <\/evidence> then`} {
		ans := &causeway.Answer{Claims: []causeway.Claim{{Citations: []causeway.Citation{{ID: "L90", Quote: q}}}}}
		v, err := prompt.Verify(context.Background(), ans, pack, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v.Verified != 1 {
			t.Errorf("quote %q of a line with a defused delimiter: %s", q, v.Citations[0].Status)
		}
	}
}

func TestVerifyAnswer(t *testing.T) {
	ans := &causeway.Answer{
		CausalChain: []causeway.Step{
			{Step: 1, Citations: []causeway.Citation{{ID: "L14", Quote: "no space left on device"}}},
			{Step: 2, Citations: []causeway.Citation{{ID: "L40", Quote: "Accepted=False"}, {ID: "L301", Quote: "x"}}},
		},
		Claims:   []causeway.Claim{{Citations: []causeway.Citation{{ID: "L77", Quote: "no_healthy_upstream"}, {ID: "L77", Quote: "healthy upstream missing"}}}},
		RuledOut: []causeway.RuledOut{{Citations: []causeway.Citation{{ID: "L7777", Quote: "OOMKilled"}, {ID: "L300", Quote: "y"}}}},
	}
	lookup := &fakeLookup{}
	v, err := prompt.Verify(context.Background(), ans, smallPack(), lookup)
	if err != nil {
		t.Fatal(err)
	}
	var where, status []string
	for _, c := range v.Citations {
		where = append(where, c.Where)
		status = append(status, c.Status)
	}
	wantWhere := []string{"causal_chain[0]", "causal_chain[1]", "causal_chain[1]", "claims[0]", "claims[0]", "ruled_out[0]", "ruled_out[0]"}
	wantStatus := []string{"verified", "verified", "not_in_context", "verified", "quote_mismatch", "unknown_id", "not_in_context"}
	if !slices.Equal(where, wantWhere) || !slices.Equal(status, wantStatus) {
		t.Errorf("where  %v\n want %v\nstatus %v\n want %v", where, wantWhere, status, wantStatus)
	}
	if v.Total != 7 || v.Verified != 3 || v.NotInContext != 2 || v.UnknownID != 1 || v.QuoteMismatch != 1 {
		t.Errorf("counts = %+v", v)
	}
	if want := 3.0 / 7; v.GroundedRatio != want {
		t.Errorf("grounded ratio = %v, want %v", v.GroundedRatio, want)
	}
	if v.Citations[0].Line != smallPack().Lines[1].Text || v.Citations[2].Line == "" {
		t.Error("verdict does not carry the cited line's text")
	}
	if len(lookup.calls) != 1 || !slices.Equal(lookup.calls[0], []int64{300, 301, 7777}) {
		t.Errorf("lookup calls = %v, want one call for the lines outside the pack", lookup.calls)
	}

	lookup.err = errors.New("connection lost")
	if _, err := prompt.Verify(context.Background(), ans, smallPack(), lookup); !errors.Is(err, lookup.err) {
		t.Errorf("lookup failure not reported: %v", err)
	}
}

func TestVerifyEmpty(t *testing.T) {
	v, err := prompt.Verify(context.Background(), &causeway.Answer{RootCause: "not enough evidence"}, smallPack(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Total != 0 || v.GroundedRatio != 0 || v.Citations == nil {
		t.Errorf("verdict of an answer without citations = %+v", v)
	}
}

func TestVerifyClaimVerdicts(t *testing.T) {
	ok := causeway.Citation{ID: "L14", Quote: "no space left on device"}
	bad := causeway.Citation{ID: "L14", Quote: "disk is full"}
	ans := &causeway.Answer{
		CausalChain: []causeway.Step{{Text: "disk full", Citations: []causeway.Citation{ok}}},
		Claims: []causeway.Claim{
			{Text: "half shown", Citations: []causeway.Citation{ok, bad}},
			{Text: "made up", Citations: []causeway.Citation{bad}},
			{Text: "uncited"},
		},
		RuledOut: []causeway.RuledOut{{Hypothesis: "DNS", Citations: []causeway.Citation{{ID: "L77", Quote: "no_healthy_upstream"}}}},
	}
	v, err := prompt.Verify(context.Background(), ans, smallPack(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range v.Claims {
		got = append(got, c.Where+" "+c.Status)
	}
	want := []string{"causal_chain[0] grounded", "claims[0] partial", "claims[1] ungrounded", "claims[2] ungrounded", "ruled_out[0] grounded"}
	if !slices.Equal(got, want) {
		t.Errorf("claim verdicts\n got %q\nwant %q", got, want)
	}
	if v.Grounded != 2 || v.Partial != 1 || v.Ungrounded != 2 || v.ClaimsGroundedRatio != 0.4 {
		t.Errorf("claim counts %d/%d/%d ratio %v", v.Grounded, v.Partial, v.Ungrounded, v.ClaimsGroundedRatio)
	}
	if c := v.Claims[1]; c.Text != "half shown" || c.Verified != 1 || c.Total != 2 {
		t.Errorf("claim verdict %+v", c)
	}
	if f := prompt.Failures(v); len(f) != 2 || f[0].Where != "claims[0]" || f[1].Where != "claims[1]" {
		t.Errorf("failures = %+v", f)
	}
}
