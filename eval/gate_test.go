package eval

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/collectors/files"
)

// TestIncidents is the CI gate over every bundle in eval/incidents (new
// ones are picked up as they land): each must validate, and run through
// the whole pipeline with the builtin model at 1,000,000 tokens, it must
// pack every expected evidence line, and every citation of its answer and
// of its control answers must verify.
func TestIncidents(t *testing.T) {
	ctx := context.Background()
	cases, err := LoadCases("incidents")
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(t)
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			problems, err := ValidateBundle(ctx, c.Dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				if !p.Warning {
					t.Errorf("bundle problem: %s", p)
				}
			}
			start := time.Now()
			r := &Runner{Service: svc, Budgets: []int{chunking.DefaultBudget}}
			rep, err := r.Run(ctx, "incidents", []Case{c})
			if err != nil {
				t.Fatal(err)
			}
			res := rep.Cases[0]
			t.Logf("%s: %d lines, %d packed tokens; root cause hit %v; evidence packed %.2f cited %.2f; citations %d/%d; control %v; %s",
				c.ID, res.TotalLines, res.PackTokens, res.RootCauseHit, res.EvidenceRecallPacked, res.EvidenceRecallCited,
				res.CitationsVerified, res.CitationsTotal, fmtControl(res.ControlCorrect), time.Since(start).Round(time.Millisecond))
			if res.Error != "" {
				t.Fatalf("investigation failed: %s", res.Error)
			}
			if res.EvidenceRecallPacked < 1 {
				t.Errorf("evidence packed %.2f at %d tokens, want 1; not packed: %v; answer-key problems: %v",
					res.EvidenceRecallPacked, res.Budget, res.NotPacked, res.Problems)
			}
			if res.CitationsVerified != res.CitationsTotal {
				t.Errorf("%d of %d citations verified; failed: %v", res.CitationsVerified, res.CitationsTotal, res.Unverified)
			}
			for _, cr := range res.Control {
				if cr.Error != "" {
					t.Errorf("control %q failed: %s", cr.Question, cr.Error)
				}
				if cr.CitationsVerified != cr.CitationsTotal {
					t.Errorf("control %q: %d of %d citations verified; failed: %v", cr.Question, cr.CitationsVerified, cr.CitationsTotal, cr.Unverified)
				}
			}
		})
	}
}

func fmtControl(f *float64) string {
	if f == nil {
		return "none"
	}
	return fmt.Sprintf("%.2f", *f)
}

// TestNoiseTokens checks noise expansion against exact o200k counts: a
// bundle expanded with each profile holds the tokens asked for, ± 10%, its
// lines counted as a model reads them (Line.Format, as packs render them).
func TestNoiseTokens(t *testing.T) {
	tok := chunking.MustTokenizer("")
	const target = 200_000
	for _, profile := range []string{"default", "web", "batch", "mesh"} {
		t.Run(profile, func(t *testing.T) {
			dir := copyBundle(t, filepath.Join("testdata", "small"), fmt.Sprintf("noise: {seed: 9, tokens: %d, profile: %s}\n", target, profile))
			var total int
			var num int64
			sink := countSink(func(l causeway.Line) {
				num++
				l.Num = num
				total += tok.Count(l.Format())
			})
			if _, err := importInto(dir, sink); err != nil {
				t.Fatal(err)
			}
			if ratio := float64(total) / target; ratio < 0.9 || ratio > 1.1 {
				t.Errorf("expanded bundle has %d o200k tokens, want %d ± 10%% (%.3f)", total, target, ratio)
			} else {
				t.Logf("%s: %d tokens for %d asked (%.3f)", profile, total, target, ratio)
			}
		})
	}
}

// copyBundle copies a bundle into a temporary directory and appends extra
// to its incident.yaml.
func copyBundle(t testing.TB, src, extra string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == "incident.yaml" {
			data = append(data, extra...)
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// countSink hands each line to fn and keeps nothing.
type countSink func(l causeway.Line)

func (f countSink) WriteLines(_ context.Context, _ *causeway.Source, lines []causeway.Line) error {
	for _, l := range lines {
		f(l)
	}
	return nil
}

func importInto(dir string, sink causeway.LineSink) (*files.Report, error) {
	return files.Import(context.Background(), dir, sink, files.Options{})
}
