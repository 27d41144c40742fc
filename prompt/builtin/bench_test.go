package builtin_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/causeway-rca/causeway/prompt/builtin"
)

// BenchmarkAnalyzeMillionTokens analyzes a pack the size of a 1M-token
// budget: 40,000 lines of about 25 tokens, mostly noise, with the disk-full
// cascade buried in it. Issue 6 wants this under 2 seconds.
func BenchmarkAnalyzeMillionTokens(b *testing.B) {
	lines := diskFullCascade()
	for i := range 40000 {
		m := float64(i) * 0.0015
		switch i % 4 {
		case 0:
			lines = append(lines, ln{m, "logs/api.log", fmt.Sprintf(`2025-08-21T03:%02d:%02d.000Z INFO handled request id=%d path=/v1/items/%d status=200 duration_ms=%d`, int(m), i%60, i, i%977, i%113), nil})
		case 1:
			lines = append(lines, ln{m, "logs/worker.log", fmt.Sprintf(`I0821 03:%02d:%02d.%06d   1 queue.go:88] processed job %d in %dms (attempt 1)`, int(m), i%60, i, i, i%300), nil})
		case 2:
			lines = append(lines, ln{m, "logs/db.log", fmt.Sprintf(`2025-08-21 03:%02d:%02d.123 UTC [%d] LOG:  duration: %d.%03d ms  statement: SELECT * FROM items WHERE id = %d`, int(m), i%60, 1000+i%50, i%40, i%1000, i), nil})
		default:
			lines = append(lines, ln{m, "logs/api.log", fmt.Sprintf(`2025-08-21T03:%02d:%02d.000Z WARN slow upstream response from inventory took %dms retrying request id=%d`, int(m), i%60, 800+i%400, i), nil})
		}
	}
	pack := mkPack(lines...)
	a := builtin.New()
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.Analyze(context.Background(), pack, "why 503?"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(pack.Lines)), "lines")
}
