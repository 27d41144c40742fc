package eval

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/causeway-rca/causeway/investigate"
)

// BenchmarkImportNoise850k expands the small bundle to 850,000 tokens and
// imports it into the store (parse, filler, redaction, templates, token
// counts, COPY): what an eval pays per case before it packs.
func BenchmarkImportNoise850k(b *testing.B) {
	dir := copyBundle(b, filepath.Join("testdata", "small"), "noise: {seed: 1, tokens: 850000, profile: batch}\n")
	svc := newService(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		inc, rep, err := svc.ImportBundle(ctx, dir, investigate.ImportOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rep.Lines), "lines")
		b.StopTimer()
		if err := svc.DB.DeleteIncident(ctx, inc.ID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkRunNoise850k runs the builtin model at 1,000,000 tokens on the
// small bundle expanded to 850,000 tokens, import to score, without
// control questions.
func BenchmarkRunNoise850k(b *testing.B) {
	dir := copyBundle(b, filepath.Join("testdata", "small"), "noise: {seed: 1, tokens: 850000, profile: batch}\n")
	cases, err := LoadCases(dir)
	if err != nil {
		b.Fatal(err)
	}
	r := &Runner{Service: newService(b), SkipControls: true}
	b.ResetTimer()
	for b.Loop() {
		rep, err := r.Run(context.Background(), dir, cases)
		if err != nil || rep.Cases[0].Error != "" {
			b.Fatal(err, rep.Cases[0].Error)
		}
		b.ReportMetric(rep.Cases[0].EvidenceRecallPacked, "packed")
	}
}
