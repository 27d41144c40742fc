package builtin_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt/builtin"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGoldenAnswers keeps whole answers under review: wording, quotes,
// ruled-out reasons and confidence all show in the diff when they change.
func TestGoldenAnswers(t *testing.T) {
	tests := []struct {
		name     string
		pack     *causeway.Pack
		question string
	}{
		{"disk-full-oom-decoy", mkPack(append(diskFullCascade(), oomDecoy()...)...), "Why do requests with the routing-strategy header fail with 503?"},
		{"oom-control-question", mkPack(append(diskFullCascade(), oomDecoy()...)...), "Why did pod batch-etl-28491-7xk2p restart?"},
		{"hpa-scale-down", mkPack(hpaScaleDown()...), "Why does the gateway return intermittent 502s on /api/export?"},
		{"hpa-control-question", mkPack(hpaScaleDown()...), "Was the OOM kill of report-worker related to the 502s?"},
		{"db-oom-propagation", mkPack(dbOOMPropagation()...), ""},
		{"recurring-scale-down", mkPack(recurringScaleDown()...), "Why do POST /v1/reports/export requests fail with 502 a few at a time, days apart?"},
		{"mesh-pool-limits", mkPack(poolLimits()...), `Why do authorizations to payments-api fail with 503 "reset reason: overflow"?`},
		{"mesh-cert-control-question", mkPack(meshCertExpiry()...), "Was the renewal of the public TLS certificate shop-public-tls by cert-manager at 02:31 related to the 503s?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans, err := builtin.New().Analyze(context.Background(), tt.pack, tt.question)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.MarshalIndent(ans, "", "  ")
			got = append(got, '\n')
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run go test -update to create it): %v", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs; run go test -update and review the diff\n%s", path, got)
			}
		})
	}
}
