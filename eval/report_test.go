package eval

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, got)
	}
}

func ptr(f float64) *float64 { return &f }

// sampleReport is a report of two cases, one model at two budgets, with a
// miss of each kind at the smaller budget.
func sampleReport() *Report {
	rc := "Disk full on node-3: no space left on device writing the WAL."
	exp := "The orders-db volume filled up."
	r := &Report{Set: "eval/incidents", Started: time.Date(2025, 9, 2, 12, 0, 0, 0, time.UTC), WallMS: 4321}
	r.Cases = []Result{
		{ID: "aibrix", Model: "builtin", Budget: 1_000_000, RootCauseHit: true, EvidenceRecallPacked: 1, EvidenceRecallCited: 0.5,
			CitationsTotal: 17, CitationsVerified: 17, GroundedRatio: 1, ControlCorrect: ptr(1),
			Control:  []ControlResult{{Question: "Was the OOM kill related?", Correct: true, Answer: "Unrelated", CitationsTotal: 2, CitationsVerified: 2}},
			TokensIn: 505_100, TokensOut: 2_000, WallMS: 1200, Evidence: 6, PackTokens: 505_100, PackLines: 3565, TotalLines: 3565,
			RootCause: rc, ExpectedRootCause: exp, NotCited: []string{`logs/a.log: "x"`, `logs/a.log: "y"`, `logs/a.log: "z"`}},
		{ID: "aibrix", Model: "builtin", Budget: 128_000, RootCauseHit: false, EvidenceRecallPacked: 5.0 / 6, EvidenceRecallCited: 0,
			CitationsTotal: 10, CitationsVerified: 9, GroundedRatio: 0.9, ControlCorrect: ptr(0),
			Control:  []ControlResult{{Question: "Was the OOM kill related?", Correct: false, Answer: "The OOM kill", MissingKeywords: [][]string{{"no", "unrelated"}}}},
			TokensIn: 120_000, TokensOut: 1_500, WallMS: 900, Evidence: 6, RootCause: "Leader election lost", ExpectedRootCause: exp,
			MissingKeywords: [][]string{{"disk", "no space"}}, NotPacked: []string{`logs/envoy.log: "34137566"`},
			Unverified: []string{`claims[0] quote_mismatch L12 "nope"`}},
		{ID: "cronjob", Model: "builtin", Budget: 1_000_000, RootCauseHit: true, EvidenceRecallPacked: 1, EvidenceRecallCited: 1,
			CitationsTotal: 8, CitationsVerified: 8, GroundedRatio: 1, TokensIn: 840_000, WallMS: 5000, Evidence: 2},
		{ID: "cronjob", Model: "builtin", Budget: 128_000, Error: "model: endpoint refused", Evidence: 2, ExpectedRootCause: "HPA scale-down",
			MissingKeywords: [][]string{{"hpa"}}, Problems: []string{`evidence logs/x: "y": matches 2 lines of logs/x (lines 3, 9), want exactly one`}},
	}
	r.Summarize()
	return r
}

func TestReportGolden(t *testing.T) {
	r := sampleReport()
	var js, md bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "report.json", js.Bytes())
	checkGolden(t, "report.md", md.Bytes())
}

// TestSummarize: means per model and budget, control and judge averaged
// over the cases that have them.
func TestSummarize(t *testing.T) {
	r := sampleReport()
	if len(r.Summary) != 2 {
		t.Fatalf("summary has %d rows, want one per budget", len(r.Summary))
	}
	big, small := r.Summary[0], r.Summary[1]
	if big.Budget != 1_000_000 || big.Cases != 2 || big.RootCauseHit != 1 || big.EvidenceRecallCited != 0.75 || big.TokensIn != 672_550 {
		t.Errorf("1M summary: %+v", big)
	}
	if big.ControlCorrect == nil || *big.ControlCorrect != 1 {
		t.Errorf("control over the one case that has it: %v", big.ControlCorrect)
	}
	if small.Errors != 1 || small.RootCauseHit != 0 || small.JudgeMatch != nil {
		t.Errorf("128k summary: %+v", small)
	}
}

func TestReadReportRoundTrip(t *testing.T) {
	r := sampleReport()
	name := filepath.Join(t.TempDir(), "r.json")
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(name)
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(r, back); len(d.Cases)+len(d.Summary)+len(d.OnlyA)+len(d.OnlyB)+len(d.Errors) != 0 {
		t.Errorf("a report differs from itself read back: %+v", d)
	}
	if _, err := ReadReport(filepath.Join("testdata", "small", "incident.yaml")); err == nil {
		t.Error("ReadReport read YAML as a report")
	}
}

// TestDiff: B fixes the 128k root cause and recall, loses a control
// answer at 1M, drops a case and adds one; timings within noise are not
// changes.
func TestDiff(t *testing.T) {
	a := sampleReport()
	b := sampleReport()
	b.Cases[0].ControlCorrect = ptr(0)
	b.Cases[0].WallMS = 1300 // within noise
	b.Cases[1].RootCauseHit = true
	b.Cases[1].EvidenceRecallPacked = 1
	b.Cases[1].TokensIn = 100_000
	b.Cases[3].Error = ""
	b.Cases = append(b.Cases[:2], b.Cases[3])
	b.Cases = append(b.Cases, Result{ID: "istio", Model: "builtin", Budget: 1_000_000, RootCauseHit: true})
	b.Summarize()
	c := Diff(a, b)
	var out bytes.Buffer
	if err := c.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "diff.txt", out.Bytes())
	text := out.String()
	for _, want := range []string{"Only in A: cronjob builtin@1000000", "Only in B: istio builtin@1000000"} {
		if !strings.Contains(text, want) {
			t.Errorf("diff lacks %q", want)
		}
	}
	if strings.Contains(text, "aibrix builtin@1000000 wall_ms") {
		t.Error("a wall time change within noise is reported")
	}
	worse := 0
	for _, ch := range c.Cases {
		if ch.Better < 0 {
			worse++
			if ch.Key != "aibrix builtin@1000000" || ch.Metric != "control_correct" {
				t.Errorf("unexpected change for the worse: %+v", ch)
			}
		}
	}
	if worse != 1 {
		t.Errorf("%d case changes for the worse, want 1", worse)
	}
	if len(c.Errors) != 1 || c.Errors[0].Better != 1 {
		t.Errorf("errors: %+v, want the fixed 128k error as better", c.Errors)
	}
	if got := Diff(a, a); got.Worse() != 0 || len(got.Cases) != 0 {
		t.Errorf("a report differs from itself: %+v", got)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 128000: "128,000", 1000000: "1,000,000", -1500: "-1,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
