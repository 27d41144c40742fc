package chunking

import (
	"context"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway"
)

// BenchmarkCount measures tokens counted per second by Tokenizer.Count,
// the counter used at ingest, next to tiktoken-go's encoder over the same
// megabyte of log text in the same run, after checking that both count
// exactly the same tokens on it.
func BenchmarkCount(b *testing.B) {
	tok := MustTokenizer("")
	ref, err := tok.reference()
	if err != nil {
		b.Fatal(err)
	}
	text := benchText(1 << 20)
	tokens := tok.Count(text)
	if want := len(ref.EncodeOrdinary(text)); tokens != want {
		b.Fatalf("Count says %d tokens, tiktoken-go %d", tokens, want)
	}
	b.Run("causeway", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for i := 0; i < b.N; i++ {
			tok.Count(text)
		}
		b.ReportMetric(float64(tokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
	b.Run("baseline-tiktoken-go", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for i := 0; i < b.N; i++ {
			ref.EncodeOrdinary(text)
		}
		b.ReportMetric(float64(tokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
}

// BenchmarkPack measures packing 200,000 lines in memory into a 128k
// budget next to a naive packer that takes lines in order until the budget
// is full, and reports how many of the decisive lines each kept.
func BenchmarkPack(b *testing.B) {
	tok := MustTokenizer("")
	m := noisyIncident(200_000)
	for i := range m.lines {
		m.lines[i].Tokens = tok.LineTokens(m.lines[i].Text)
	}
	const budget = 128_000
	kept := func(lines []causeway.Line) int {
		n := 0
		for _, l := range lines {
			if strings.Contains(l.Text, "no space left on device") {
				n++
			}
		}
		return n
	}
	b.Run("causeway", func(b *testing.B) {
		p := NewPacker(tok)
		var pack *causeway.Pack
		for i := 0; i < b.N; i++ {
			var err error
			if pack, err = p.Pack(context.Background(), &causeway.Incident{ID: 1}, m, budget); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/pack")
		b.ReportMetric(float64(kept(pack.Lines)), "decisive-kept")
	})
	b.Run("baseline-naive", func(b *testing.B) {
		p := NewPacker(tok)
		var lines []causeway.Line
		for i := 0; i < b.N; i++ {
			lines = lines[:0]
			used, limit := 0, p.EvidenceBudget(budget)
			_ = m.ScanWindow(context.Background(), nil, func(l causeway.Line) error {
				if c := l.Tokens + 20; used+c <= limit {
					used += c
					lines = append(lines, l)
				}
				return nil
			})
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/pack")
		b.ReportMetric(float64(kept(lines)), "decisive-kept")
	})
}
