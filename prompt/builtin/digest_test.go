package builtin_test

import (
	"strings"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt"
	"github.com/causeway-rca/causeway/prompt/builtin"
)

func TestDigest(t *testing.T) {
	tests := []struct {
		name  string
		pack  *causeway.Pack
		want  []string // substrings, in order
		avoid []string
	}{
		{
			name: "disk full cascade",
			pack: mkPack(append(diskFullCascade(), oomDecoy()...)...),
			want: []string{"- likely root cause: disk full (no space left on device) in pod envoy-gateway-system/envoy-gateway-5d8f9c7b6-x2x9k: L4",
				"- symptom: no healthy upstream (HTTP 503)", "- ruled out (unrelated in time): container killed for running out of memory"},
		},
		{
			name: "scale-down",
			pack: mkPack(hpaScaleDown()...),
			want: []string{"- likely root cause: graceful shutdown shorter than the requests in flight", "- set off by: autoscaler scale-down"},
		},
		{
			name: "connection-pool limits behind 503 UO",
			pack: mkPack(poolLimits()...),
			want: []string{"- likely root cause: connection pool limits too low for the load (circuit breaker) in pod checkout/checkout-api-6f9d7b8c4-bx7rw: L4",
				"- then: proxy connection pool overflowing (circuit breaker open)", "- symptom: requests rejected by the proxy's circuit breaker (503 UO)"},
		},
		{
			name: "a failure behind every burst",
			pack: mkPack(recurringScaleDown()...),
			want: []string{"- likely root cause: pods terminated (SIGTERM) while serving requests", "- set off by: scheduled job (CronJob) ran in CronJob batch/report-etl",
				"- set off by: autoscaler scale-down", "- recurring: 4 bursts of", "came before 4 of them"},
			avoid: []string{"also seen: pods terminated"},
		},
		{
			name:  "nothing found",
			pack:  mkPack(ln{0, "logs/app.log", "2025-08-21T03:00:00Z INFO started", nil}),
			want:  []string{"- none: no line matches a known failure signature."},
			avoid: []string{"likely root cause"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := builtin.Digest(tt.pack)
			rest := d
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("digest lacks %q (in order):\n%s", w, d)
				}
				rest = rest[i+len(w):]
			}
			for _, a := range tt.avoid {
				if strings.Contains(d, a) {
					t.Errorf("digest has %q:\n%s", a, d)
				}
			}
			if n := strings.Count(d, "\n") + 1; n > 10 {
				t.Errorf("digest has %d lines, want a glance:\n%s", n, d)
			}
		})
	}
	if d := builtin.Digest(&causeway.Pack{}); d != "" {
		t.Errorf("digest of an empty pack = %q, want none", d)
	}
}

// TestDigestHeadsThePrompt checks that every model sees the digest, and
// that the prompt's prefix stays the same for every question about a pack.
func TestDigestHeadsThePrompt(t *testing.T) {
	pack := mkPack(diskFullCascade()...)
	a := prompt.Build(pack, "Why 503?")
	b := prompt.Build(pack, "Was the full disk related to the 503s?")
	if prompt.ContextHash(a) != prompt.ContextHash(b) {
		t.Error("the prompt's prefix differs between questions about one pack")
	}
	ctx := a[1].Content
	d := builtin.Digest(pack)
	i, j := strings.Index(ctx, d), strings.Index(ctx, "<evidence>")
	if i < 0 || j < 0 || i > j {
		t.Errorf("the digest is not in the context before the evidence:\n%s", ctx[:min(len(ctx), 2000)])
	}
}
