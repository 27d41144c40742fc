package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway/eval"
)

const smallEvalBundle = "../../eval/testdata/small"

// TestEvalRunAndDiff runs the eval on a small bundle at two budgets,
// writes both reports, and compares the JSON report with itself and with a
// worse copy.
func TestEvalRunAndDiff(t *testing.T) {
	dir := t.TempDir()
	js, md := filepath.Join(dir, "out.json"), filepath.Join(dir, "out.md")
	prices := filepath.Join(dir, "prices.yaml")
	if err := os.WriteFile(prices, []byte("gpt-x: {input: 2, output: 8}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := run(t, map[string]string{"CAUSEWAY_PRICES": prices}, "eval", "--set", smallEvalBundle,
		"--budget", "1000000", "--budget", "64k", "--json", js, "--markdown", md)
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, stderr)
	}
	rep, err := eval.ReadReport(js)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Cases) != 2 || rep.Cases[0].Budget != 1_000_000 || rep.Cases[1].Budget != 64_000 || len(rep.Summary) != 2 {
		t.Fatalf("report: %+v", rep.Cases)
	}
	for _, c := range rep.Cases {
		if c.Error != "" || !c.RootCauseHit || c.EvidenceRecallPacked != 1 || c.CitationsVerified != c.CitationsTotal {
			t.Errorf("%s: %+v", c.Key(), c)
		}
	}
	mdText, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Summary", "| builtin | 1,000,000 | 1 | 100% |", "| small-disk-full | builtin | 64,000 | hit |"} {
		if !strings.Contains(string(mdText), want) {
			t.Errorf("markdown report lacks %q:\n%s", want, mdText)
		}
	}
	for _, want := range []string{"[1/1] small-disk-full builtin@1000000: root cause hit", "eval: 2 runs in", "root cause 2/2", "0 errors"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	stdout, _, err := run(t, map[string]string{}, "eval", "diff", js, js)
	if err != nil || !strings.Contains(stdout, "No differences.") {
		t.Errorf("diff of a report with itself: %v\n%s", err, stdout)
	}
	rep.Cases[1].RootCauseHit = false
	worse := filepath.Join(dir, "worse.json")
	f, err := os.Create(worse)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	stdout, stderr, err = run(t, map[string]string{}, "eval", "diff", js, worse)
	if err != nil || !strings.Contains(stdout, "Worse:") || !strings.Contains(stdout, "small-disk-full builtin@64000") ||
		!strings.Contains(stdout, "root_cause_hit") || !strings.Contains(stderr, "1 changes for the worse") {
		t.Errorf("diff: %v\n%s\n%s", err, stdout, stderr)
	}
}

// TestEvalValidate: a broken set exits 1 and names its problems; a sound
// bundle exits 0.
func TestEvalValidate(t *testing.T) {
	stdout, stderr, err := run(t, map[string]string{}, "eval", "validate", "../../eval/testdata/broken")
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("validate of broken bundles: %v", err)
	}
	for _, want := range []string{"no-expected: expected.yaml: missing", `unknown kind "k8s-logs"`, `"GET /healthz": matches`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("validate output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "18 problems") {
		t.Errorf("summary: %s", stderr)
	}
	if _, stderr, err := run(t, map[string]string{}, "eval", "validate", smallEvalBundle); err != nil || !strings.Contains(stderr, "0 problems, 0 warnings") {
		t.Errorf("validate of a sound bundle: %v %s", err, stderr)
	}
}

func TestEvalUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--budget", "lots"}, `budget "lots" is not a positive number`},
		{[]string{"eval", "--price", "gpt-x=cheap"}, "want MODEL=INPUT/OUTPUT"},
		{[]string{"eval", "--set", smallEvalBundle, "--case", "nope"}, `no case "nope"`},
		{[]string{"eval", "diff", "a.json"}, "needs two JSON reports"},
		{[]string{"eval", "validate"}, "needs one directory"},
		{[]string{"eval", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := run(t, map[string]string{}, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestParseTokens(t *testing.T) {
	for in, want := range map[string]int{"128000": 128000, "128_000": 128000, "128,000": 128000, "128k": 128000, "1m": 1_000_000, "1M": 1_000_000} {
		if got, err := parseTokens(in); err != nil || got != want {
			t.Errorf("parseTokens(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-5", "k", "1.5m"} {
		if _, err := parseTokens(bad); err == nil {
			t.Errorf("parseTokens(%q) accepted", bad)
		}
	}
}
