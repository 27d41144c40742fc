package eval

import (
	"slices"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway"
)

func TestMatchKeywords(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		groups  [][]string
		hit     bool
		missing int
	}{
		{"every group matches", "The node's disk filled up, so the Wasm cache failed", [][]string{{"disk", "storage"}, {"wasm"}}, true, 0},
		{"one group misses", "The node's disk filled up", [][]string{{"disk"}, {"wasm"}}, false, 1},
		{"any term of a group", "no space left on device", [][]string{{"disk", "no space"}}, true, 0},
		{"case-insensitive", "DISK FULL", [][]string{{"disk"}}, true, 0},
		{"no is a word, not a prefix", "the node was not restarted; none of it", [][]string{{"no"}}, false, 1},
		{"no as a word", "No, it was unrelated.", [][]string{{"no"}}, true, 0},
		{"camelCase splits words", "NodeHasDiskPressure", [][]string{{"disk"}}, true, 0},
		{"acronym before a word", "container OOMKilled", [][]string{{"oom"}}, true, 0},
		{"plural", "expired certificates", [][]string{{"certificate"}}, true, 0},
		{"inside a word does not match", "diskette", [][]string{{"disk"}}, false, 1},
		{"phrase", "it is not related to the 503s", [][]string{{"not related"}}, true, 0},
		{"digits within a token", "x509: certificate has expired", [][]string{{"509"}}, false, 1},
		{"punctuation is a boundary", "graceful-shutdown of 15s", [][]string{{"graceful"}, {"15s"}}, true, 0},
		{"no groups", "anything", nil, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hit, missing := MatchKeywords(tt.text, tt.groups)
			if hit != tt.hit || len(missing) != tt.missing {
				t.Errorf("MatchKeywords(%q, %v) = %v, missing %v; want %v with %d missing", tt.text, tt.groups, hit, missing, tt.hit, tt.missing)
			}
		})
	}
}

func TestResolver(t *testing.T) {
	lines := []causeway.Line{
		{Source: "logs/a.log", Num: 1, Seq: 0, Text: "INFO started"},
		{Source: "logs/a.log", Num: 2, Seq: 1, Text: "ERROR mkdir /var/lib/eg/wasm: no space left on device"},
		{Source: "logs/a.log", Num: 3, Seq: 2, Text: "ERROR retrying: no space left on device"},
		{Source: "logs/b.log", Num: 4, Seq: 0, Text: "wasm cache is not initialized"},
	}
	tests := []struct {
		name    string
		ev      Evidence
		matches int
		num     int64
		problem string
	}{
		{"exactly one line", Evidence{"logs/a.log", "/var/lib/eg/wasm"}, 1, 2, ""},
		{"several lines", Evidence{"logs/a.log", "no space left"}, 2, 0, "matches 2 lines of logs/a.log (lines 2, 3)"},
		{"no line", Evidence{"logs/a.log", "out of memory"}, 0, 0, "matches no line of logs/a.log"},
		{"other source's line does not count", Evidence{"logs/a.log", "wasm cache"}, 0, 0, "matches no line"},
		{"case matters", Evidence{"logs/b.log", "Wasm cache"}, 0, 0, "matches no line"},
		{"unknown source", Evidence{"logs/c.log", "started"}, 0, 0, "source logs/c.log has no lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewResolver([]Evidence{tt.ev})
			for _, l := range lines {
				_ = r.Add(l)
			}
			got := r.Resolutions()[0]
			if got.Matches != tt.matches || got.Num != tt.num {
				t.Errorf("matches %d (line %d), want %d (line %d)", got.Matches, got.Num, tt.matches, tt.num)
			}
			if p := got.Problem(); (tt.problem == "") != (p == "") || !strings.Contains(p, tt.problem) {
				t.Errorf("problem %q, want %q", p, tt.problem)
			}
		})
	}
}

// TestRecall: evidence counts as packed or cited only when it resolved to
// one line and that line is in the set.
func TestRecall(t *testing.T) {
	res := []Resolution{
		{Evidence: Evidence{"a", "x"}, Matches: 1, Num: 10},
		{Evidence: Evidence{"a", "y"}, Matches: 1, Num: 11},
		{Evidence: Evidence{"a", "z"}, Matches: 2},
	}
	got, missing := recall(res, map[int64]bool{10: true, 12: true})
	if got != 1.0/3 || len(missing) != 2 || !strings.Contains(missing[0], `"y"`) || !strings.Contains(missing[1], `"z"`) {
		t.Errorf("recall = %v, missing %v", got, missing)
	}
	if got, _ := recall(nil, nil); got != 1 {
		t.Errorf("recall of no evidence = %v, want 1", got)
	}
	v := &causeway.Verdict{Citations: []causeway.CitationVerdict{
		{Citation: causeway.Citation{ID: "L10"}, Status: causeway.CitationVerified},
		{Citation: causeway.Citation{ID: "L11"}, Status: causeway.CitationQuoteMismatch},
	}}
	ids := verifiedCited(v)
	if !ids[10] || ids[11] {
		t.Errorf("verified cited ids = %v, want only 10", ids)
	}
	if u := unverified(v); len(u) != 1 || !strings.Contains(u[0], "quote_mismatch L11") {
		t.Errorf("unverified = %v", u)
	}
}

func TestControlText(t *testing.T) {
	a := &causeway.Answer{RootCause: "Disk full", Summary: "s", Claims: []causeway.Claim{{Text: "claim"}},
		RuledOut: []causeway.RuledOut{{Hypothesis: "OOM kill", Why: "Unrelated: other namespace"}}}
	text := controlText(a)
	for _, want := range []string{"Disk full", "claim", "OOM kill: Unrelated"} {
		if !strings.Contains(text, want) {
			t.Errorf("control text %q lacks %q", text, want)
		}
	}
	if strings.Contains(answerText(a), "Unrelated") {
		t.Errorf("the root cause text includes what was ruled out")
	}
}

func TestPrices(t *testing.T) {
	p := Prices{"gpt-x": {Input: 2, Output: 8, CachedInput: 0.5}, "flat": {Input: 1, Output: 1}}
	u := causeway.Usage{PromptTokens: 1_000_000, CachedTokens: 400_000, CompletionTokens: 10_000}
	tests := []struct {
		model  string
		cost   float64
		priced bool
	}{
		{"gpt-x", 0.6*2 + 0.4*0.5 + 0.01*8, true},
		{"flat", 1 + 0.01, true},
		{"builtin", 0, true},
		{"unknown", 0, false},
	}
	for _, tt := range tests {
		cost, priced := p.Cost(tt.model, u)
		if priced != tt.priced || cost < tt.cost-1e-9 || cost > tt.cost+1e-9 {
			t.Errorf("Cost(%s) = %v, %v; want %v, %v", tt.model, cost, priced, tt.cost, tt.priced)
		}
	}
	model, price, err := ParsePrice("gpt-x=2.5/10/1.25")
	if err != nil || model != "gpt-x" || price != (Price{Input: 2.5, Output: 10, CachedInput: 1.25}) {
		t.Errorf("ParsePrice = %s %+v %v", model, price, err)
	}
	for _, bad := range []string{"gpt-x", "gpt-x=1", "=1/2", "m=a/b", "m=-1/2"} {
		if _, _, err := ParsePrice(bad); err == nil {
			t.Errorf("ParsePrice(%q) accepted", bad)
		}
	}
}

func TestLoadCases(t *testing.T) {
	cases, err := LoadCases("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cases {
		ids = append(ids, c.ID)
	}
	if !slices.Contains(ids, "small-disk-full") || !slices.IsSorted(ids) {
		t.Errorf("cases %v", ids)
	}
	one, err := LoadCases("testdata/small")
	if err != nil || len(one) != 1 || one[0].Expected == nil || len(one[0].Expected.Evidence) != 3 {
		t.Fatalf("a bundle as the set: %v %v", one, err)
	}
	if _, err := LoadCases("testdata", "nope"); err == nil || !strings.Contains(err.Error(), "small-disk-full") {
		t.Errorf("unknown case: %v", err)
	}
}
