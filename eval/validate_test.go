package eval

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateBroken: each broken bundle's every problem is named, and
// nothing else is.
func TestValidateBroken(t *testing.T) {
	tests := []struct {
		bundle string
		want   []string // each problem, by a part of its text
	}{
		{"no-expected", []string{
			"expected.yaml: missing",
		}},
		{"bad-spec", []string{
			`incident.yaml: window.start "yesterday" is not an RFC3339 time`,
			`incident.yaml: sources[0] (logs/app.log): unknown kind "k8s-logs"`,
			"logs/gone.log: listed in incident.yaml but missing",
			"incident.yaml: sources[2] (metrics/rate.json): prometheus source has no query",
			`incident.yaml: noise.profile "cronjob" is unknown`,
			"expected.yaml: root_cause_keywords is missing",
			"expected.yaml: evidence[0]: contains is missing",
			"expected.yaml: control[0]: answer_keywords is missing",
		}},
		{"bad-evidence", []string{
			`expected.yaml: evidence logs/app.log: "connection refused": matches 2 lines of logs/app.log (lines 2, 3), want exactly one`,
			`expected.yaml: evidence logs/app.log: "out of memory": matches no line of logs/app.log`,
			`expected.yaml: evidence logs/missing.log: "anything": source logs/missing.log has no lines`,
			`expected.yaml: evidence logs/app.log: "disk quota exceeded": its line is at 2025-09-02T12:30:00Z, outside the window`,
			`logs/app.log: 1 line starts like a time Causeway cannot read (first: line 4: "2025-09-02 25:61:00 ERROR`,
			"logs/old.log: none of its 2 lines is inside the window",
			"events/events.json: no event has a time Causeway can read",
		}},
		{"noise-collision", []string{
			`expected.yaml: evidence logs/web.log: "GET /healthz": matches`,
		}},
		{"bad-window", []string{
			"incident.yaml: window end 2025-09-02T10:00:00Z is not after its start 2025-09-02T11:00:00Z",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.bundle, func(t *testing.T) {
			dir := filepath.Join("testdata", "broken", tt.bundle)
			problems, err := ValidateBundle(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range problems {
				if !p.Warning {
					got = append(got, strings.TrimPrefix(p.String(), dir+": "))
				}
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					found = found || strings.Contains(g, w)
				}
				if !found {
					t.Errorf("no problem says %q; got:\n  %s", w, strings.Join(got, "\n  "))
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n  %s", len(got), len(tt.want), strings.Join(got, "\n  "))
			}
		})
	}
}

// TestValidateGood: a sound bundle has no problem, and a set is every
// bundle under it.
func TestValidateGood(t *testing.T) {
	problems, err := Validate(context.Background(), filepath.Join("testdata", "small"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("problem in a sound bundle: %s", p)
	}
	all, err := Validate(context.Background(), filepath.Join("testdata", "broken"))
	if err != nil {
		t.Fatal(err)
	}
	bundles := map[string]bool{}
	for _, p := range all {
		bundles[p.Bundle] = true
	}
	if len(bundles) != 5 {
		t.Errorf("problems in %d bundles of the broken set, want 5: %v", len(bundles), bundles)
	}
	if _, err := Validate(context.Background(), filepath.Join("testdata", "nope")); err == nil {
		t.Error("a missing set validated")
	}
}

// TestValidateWeakControl: control keywords that the expected root cause
// already holds are a warning: they cannot tell a right answer to the
// control question from a restatement of the root cause.
func TestValidateWeakControl(t *testing.T) {
	dir := copyBundle(t, filepath.Join("testdata", "small"), "")
	exp := `root_cause: "The orders-db volume filled up: No space left on device."
root_cause_keywords: [["disk", "no space"]]
evidence:
  - {source: logs/orders-db.log, contains: "No space left on device"}
control:
  - question: "Did the OOM kill cause it?"
    answer_keywords: [["no", "unrelated"]]
  - question: "Did the readiness probe failures cause it?"
    answer_keywords: [["unrelated", "a symptom"]]
`
	if err := os.WriteFile(filepath.Join(dir, ExpectedFile), []byte(exp), 0o644); err != nil {
		t.Fatal(err)
	}
	problems, err := ValidateBundle(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !problems[0].Warning || !strings.Contains(problems[0].Message, `control[0]: answer_keywords [no, unrelated] already match the expected root_cause ("no")`) {
		t.Errorf("problems: %v", problems)
	}
}
