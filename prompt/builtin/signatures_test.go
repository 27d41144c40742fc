package builtin

import (
	"testing"
)

// TestSignatures checks every signature against a line it must match and
// one it must not, so that a change to the table shows what it breaks.
func TestSignatures(t *testing.T) {
	tests := []struct {
		sig     string
		match   string
		want    string // the span that matches
		noMatch string
	}{
		{"disk_full", `mkdir /var/lib/eg/wasm: no space left on device`, "no space left on device", `disk usage at 40%`},
		{"disk_full", `/dev/sda1        59G   59G     0 100% /`, " 100% /", `/dev/sda1        59G   20G    39G  34% /`},
		{"disk_pressure", `Warning EvictionThresholdMet node/kind-control-plane Attempting to reclaim ephemeral-storage`, "reclaim ephemeral-storage", `node condition MemoryPressure=False`},
		{"oom_killed", `container etl lastState terminated reason=OOMKilled`, "OOMKilled", `reason=Completed exitCode=0`},
		{"oom_killed", `Last State: Terminated, Exit Code: 137`, "Exit Code: 137", `exit code 1`},
		{"fsync_slow", `etcd: slow fdatasync took 1.2s`, "slow fdatasync", `fsync enabled`},
		{"conntrack_full", `kernel: nf_conntrack: table full, dropping packet`, "nf_conntrack: table full", `conntrack entries 1200`},
		{"dns_failure", `dial tcp: lookup db.svc.cluster.local on 10.96.0.10:53: no such host`, "no such host", `resolved db.svc.cluster.local to 10.0.0.3`},
		{"cert_invalid", `x509: certificate has expired or is not yet valid`, "x509:", `certificate renewed, valid until 2026-01-01`},
		{"image_pull", `Failed to pull image "reg/app:v9": manifest unknown`, "Failed to pull image", `Successfully pulled image "reg/app:v9"`},
		{"evicted", `Pod shop/api-1 was evicted: The node was low on resource: memory`, "was evicted", `cache entry evicted after 10m`},
		{"process_crash", `panic: runtime error: invalid memory address or nil pointer dereference`, "panic:", `recovered from panic in handler`},
		{"crashloop", `Back-off restarting failed container api in pod api-7d9f`, "Back-off restarting failed container", `Started container api`},
		{"leader_lost", `leaderelection lost for controller-manager`, "leaderelection lost", `successfully acquired lease kube-system/controller`},
		{"pool_exhausted", `FATAL: remaining connection slots are reserved for non-replication superuser connections`, "remaining connection slots are reserved", `connection pool size 20`},
		{"shutdown", `received SIGTERM, shutting down with 12 requests in flight`, "SIGTERM", `graceful shutdown completed`},
		{"scale_event", `Normal SuccessfulRescale hpa/api New size: 2; reason: All metrics below target`, "SuccessfulRescale", `hpa/api current replicas 5`},
		{"probe_failed", `Readiness probe failed: HTTP probe failed with statuscode: 500`, "Readiness probe failed", `probe succeeded`},
		{"config_rejected", `failed to translate xds ir: embedded message failed validation`, "failed to translate", `translated xds ir in 3ms`},
		{"condition_false", `EnvoyExtensionPolicy x condition Accepted=False reason=Invalid`, "Accepted=False", `HTTPRoute y condition Accepted=True`},
		{"condition_false", `Type: Ready  Status: False`, "Type: Ready  Status: False", `Type: Ready  Status: True`},
		{"upstream_connect", `upstream connect error or disconnect/reset before headers. reset reason: connection termination`, "upstream connect error", `upstream connected in 2ms`},
		{"conn_refused", `dial tcp 10.0.0.5:5432: connect: connection refused`, "connection refused", `connection established`},
		{"no_healthy_upstream", `{"response_code":503,"response_flags":"UH"}`, `"response_flags":"UH"`, `{"response_code":200,"response_flags":"-"}`},
		{"http_5xx", `{"response_code":503,"response_code_details":"x"}`, `"response_code":503`, `{"response_code":200}`},
		{"http_5xx", `10.0.0.7 - - [21/Aug/2025:03:11:00 +0000] "POST /api/pay HTTP/1.1" 502 19`, `HTTP/1.1" 502`, `"GET / HTTP/1.1" 200 512 5023`},
		{"request_dropped", `upstream prematurely closed connection while reading response header`, "upstream prematurely closed", `upstream closed connection normally`},
		{"restart", `container api restartCount=3`, "restartCount=3", `container api restartCount=0`},
	}
	bySig := map[string]*matcher{}
	for _, m := range defaultMatchers {
		bySig[m.Name] = m
	}
	tested := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.sig, func(t *testing.T) {
			m := bySig[tt.sig]
			if m == nil {
				t.Fatalf("no signature %q", tt.sig)
			}
			tested[tt.sig] = true
			start, end, ok := m.match(tt.match, asciiLower(tt.match))
			if !ok || tt.match[start:end] != tt.want {
				t.Errorf("match(%q) = %q, %v; want %q", tt.match, tt.match[start:end], ok, tt.want)
			}
			if _, _, ok := m.match(tt.noMatch, asciiLower(tt.noMatch)); ok {
				t.Errorf("matches %q", tt.noMatch)
			}
		})
	}
	for _, s := range Signatures {
		if !tested[s.Name] {
			t.Errorf("signature %s has no test", s.Name)
		}
		if s.Category == Cause && len(s.Remediation) == 0 {
			t.Errorf("cause %s has no remediation", s.Name)
		}
		if s.Weight <= 0 || s.Weight > 10 || s.Summary == "" {
			t.Errorf("signature %s: weight %v summary %q", s.Name, s.Weight, s.Summary)
		}
	}
}

func TestCompileRejectsBadPattern(t *testing.T) {
	if _, err := NewWithSignatures([]Signature{{Name: "bad", Patterns: []Pattern{{Expr: "("}}}}); err == nil {
		t.Error("a signature with a broken regular expression was accepted")
	}
}
