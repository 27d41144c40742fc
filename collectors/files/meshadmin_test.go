package files

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
)

// meshLabels are the labels the recorded admin outputs are read with: a
// booking-api sidecar, read at 09:22:48 on the day its mesh CA expired.
var meshLabels = map[string]string{"namespace": "booking", "pod": "booking-api-7b9c5d8f6-j4npx", "container": "istio-proxy",
	LabelAt: "2025-11-04T09:22:48Z", LabelMemoryLimit: "1Gi"}

// TestMeshAdminGolden parses each recorded admin output (real formats of
// Envoy's /certs, /clusters, /stats in text, JSON and Prometheus form,
// /memory, /server_info and /config_dump, istiod's /debug/syncz and a
// Linkerd proxy's /metrics) and compares its lines with a golden file.
// Every line is at the time the output was taken and names its endpoint.
func TestMeshAdminGolden(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "mesh"))
	if err != nil {
		t.Fatal(err)
	}
	at, _ := time.Parse(time.RFC3339, meshLabels[LabelAt])
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			lines := parseFile(t, filepath.Join("testdata", "mesh", e.Name()),
				causeway.Source{Name: "mesh/booking-api-7b9c5d8f6-j4npx/" + e.Name(), Kind: KindMeshAdmin, Labels: meshLabels})
			if len(lines) == 0 {
				t.Fatal("no lines")
			}
			for _, l := range lines {
				if !l.Time.Equal(at) || l.TimeInferred {
					t.Errorf("line %d at %v, want %v: %s", l.Seq, l.Time, at, l.Text)
				}
				if l.Attrs["endpoint"] == "" || l.Attrs[LabelAt] != "" || l.Attrs["pod"] == "" {
					t.Errorf("line %d attrs %v: want the endpoint and the labels without %q", l.Seq, l.Attrs, LabelAt)
				}
			}
			checkGolden(t, "mesh/"+e.Name()+".golden", renderLines(lines))
		})
	}
}

// TestMeshAdminFindings: the facts each admin output is read for are in
// its lines, in words a signature can match.
func TestMeshAdminFindings(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"certs.json", []string{
			"envoy /certs: cert_chain certificate serial 5b68382b4a1f05e4e972edf3e303ccd0 (spiffe://cluster.local/ns/booking/sa/booking-api) expires 2025-11-04T22:10:44Z: 12.8 hours left of a 1.0-day lifetime",
			"EXPIRES WITHIN 7 DAYS, 2.9 days left of a 90.0-day lifetime",
			"(partner-api.skyline.travel) EXPIRED at 2025-11-01T00:00:00Z, 3.4 days ago",
		}},
		{"certs-empty.json", []string{"envoy /certs: no certificates loaded"}},
		{"clusters.txt", []string{
			"envoy /clusters: 5 clusters, 17 hosts, 2 not healthy (failed_outlier_check 2, failed_active_hc 1), 1 cluster with circuit breaker limits below Envoy's defaults",
			"cluster outbound|8080||eligibility-api.eligibility.svc.cluster.local: 3 hosts, 1 healthy, not healthy: 10.244.3.52:8080 /failed_outlier_check, [fd00:10:244::9]:8080 /failed_active_hc/failed_outlier_check; hosts total cx_active 2",
			"cluster outbound|8080||payments-api.payments.svc.cluster.local: 12 hosts, 12 healthy; circuit breakers max_connections=8 max_pending_requests=4 max_requests=4294967295 max_retries=4294967295 (below Envoy's defaults); hosts total cx_active 8, rq_active 8",
		}},
		{"stats.txt", []string{
			"envoy /stats: 51 stats; most by name: cluster 27, server 8, http 5, cluster_manager 3, istio_requests_total 3",
			"cluster outbound|8080||payments-api.payments.svc.cluster.local: upstream_rq_5xx 5815, upstream_rq_503 5815, upstream_rq_pending_overflow 5777, upstream_cx_overflow 11971, circuit_breakers.default.cx_open 1, circuit_breakers.default.rq_pending_open 1, upstream_cx_active 8",
			"cluster inbound|8080||: upstream_rq_5xx 686, upstream_rq_503 686, upstream_cx_destroy_local_with_active_rq 686, upstream_cx_protocol_error 686",
			"cluster outbound|8080||booking-api.booking.svc.cluster.local: upstream_rq_5xx 1020, upstream_cx_connect_fail 1412, ssl.connection_error 1412, ssl.fail_verify_error 1412",
			"cluster original_destination_cluster: upstream_cx_none_healthy 183",
			"listener inbound_0.0.0.0_8080: downstream_rq_5xx 686, downstream_cx_active 12",
			"listener_manager.lds.update_rejected 2",
			"server.memory_heap_size 995139918",
		}},
		{"stats.json", []string{"envoy /stats: 4 stats", "cluster outbound|8080||payments-api.payments.svc.cluster.local: upstream_rq_pending_overflow 5777, upstream_cx_active 8"}},
		{"stats-prometheus.txt", []string{
			"envoy /stats/prometheus: 12 series in 6 metrics; most series: istio_request_duration_milliseconds 4, istio_requests_total 3",
			"cluster outbound|8080||payments-api.payments.svc.cluster.local: upstream_rq_pending_overflow 5777, circuit_breakers.default.cx_open 1, upstream_cx_active 8",
		}},
		{"memory.json", []string{"envoy /memory: allocated 862.2 MiB, heap_size 949.0 MiB", "heap is 92.7% of the container's 1Gi memory limit"}},
		{"server_info.json", []string{"envoy /server_info: envoy 1.30.4-dev, state LIVE, up 11h14m, node sidecar~10.31.2.41~booking-api-7b9c5d8f6-j4npx.booking~booking.svc.cluster.local"}},
		{"syncz.json", []string{
			"istiod /debug/syncz: 4 proxies connected: 2 SYNCED, 2 STALE, 0 with nothing sent",
			"proxy booking-api-7b9c5d8f6-f2kmw.booking (1.22.3): CDS STALE, LDS STALE, EDS STALE, RDS STALE, ECDS NOT SENT",
			"proxy booking-api-6c8d7f9b5-wd4kx.booking (1.22.3): CDS STALE (never acknowledged), LDS NOT SENT",
		}},
		{"linkerd-metrics.txt", []string{
			"linkerd-proxy /metrics: identity certificate EXPIRED at 2025-11-04T08:00:00Z, 1.4 hours ago",
			"resident memory 39.4 MiB",
			"outbound failed responses to payments.payments.svc.cluster.local:8080: 1209 (status 503)",
			`outbound_http_errors_total{error="failfast"} 1188`,
			"open TCP connections: inbound 14, outbound 3",
		}},
		{"config_dump.json", []string{
			"node envoy-aibrix-system-aibrix-eg-903790dc-7c8dd7d4b9-64w68; envoy 1.32.3; 5 clusters (1 static, 1 warming), 1 listener (1 with a rejected update), 1 route config with 4 routes, 3 secrets",
			"listener aibrix-system/aibrix-eg/http update REJECTED at 2025-08-21T03:22:49.301Z: Proto constraint validation failed",
			"cluster envoyextensionpolicy/aibrix-system/aibrix-gateway-plugins-extension-policy/0 (STRICT_DNS) WARMING: not yet in use",
			"cluster original_destination_cluster (ORIGINAL_DST, CLUSTER_PROVIDED); destination taken from request header target-pod",
			"circuit breakers max_connections=8 max_pending_requests=4 max_requests=4294967295 max_retries=4294967295; max_requests_per_connection=10; outlier detection base_ejection_time=30s consecutive_5xx=5 interval=10s",
			"listener aibrix-system/aibrix-eg/http (0.0.0.0:10080): http filters envoy.filters.http.router; routes from aibrix-system/aibrix-eg/http",
			`route original_route (route config aibrix-system/aibrix-eg/http, virtual host aibrix-system/aibrix-eg/http/*): prefix /v1, header routing-strategy {"safe_regex":{"regex":".*"}} -> cluster original_destination_cluster; per-route filter config: none`,
			`path prefix /v1/chat/completions, header model {"exact":"llama2-7b"}`,
			"-> clusters mock-a 90, mock-b 10; per-route filter config: envoy.filters.http.ext_proc/envoyextensionpolicy/aibrix-system/aibrix-gateway-plugins-extension-policy/extproc/0",
			"secret default certificate chain 2 of 2 (CN=Skyline Mesh Intermediate CA prod-eu-1,O=Skyline Travel,L=prod-eu-1, issuer CN=Skyline Root CA 2024,O=Skyline Travel) EXPIRED at 2025-11-04T08:00:00Z, 1.4 hours ago",
			"secret default certificate chain 1 of 2 (spiffe://cluster.local/ns/booking/sa/booking-api",
			"secret ROOTCA trusted CA 1 of 1 (CN=Skyline Root CA 2024,O=Skyline Travel",
			"secret kubernetes://booking-skyline-travel-tls WARMING: not yet delivered by SDS",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			lines := parseFile(t, filepath.Join("testdata", "mesh", tt.file), causeway.Source{Kind: KindMeshAdmin, Labels: meshLabels})
			var all strings.Builder
			for _, l := range lines {
				all.WriteString(l.Text + "\n")
			}
			for _, w := range tt.want {
				if !strings.Contains(all.String(), w) {
					t.Errorf("no line holds %q; lines:\n%s", w, all.String())
				}
			}
		})
	}
}

// TestAdminEndpoint: the endpoint comes from the request path, else the
// file name, else the content.
func TestAdminEndpoint(t *testing.T) {
	tests := []struct {
		name, query, data, want string
	}{
		{"query wins over name", "GET /certs", "x", EndpointCerts},
		{"query with parameters", "/stats?usedonly&filter=^cluster", "", EndpointStats},
		{"prometheus stats", "/stats/prometheus", "", EndpointMetrics},
		{"istiod syncz", "/debug/syncz", "", EndpointSyncz},
		{"config dump resource", "/config_dump?resource=dynamic_active_secrets", "", EndpointConfigDump},
		{"mesh/gw/clusters.txt.gz", "", "", EndpointClusters},
		{"mesh/booking-api-memory.json", "", "", EndpointMemory},
		{"mesh/gw/server_info.json", "", "", EndpointServerInfo},
		{"mesh/a.json certs content", "", `{"certificates":[]}`, EndpointCerts},
		{"mesh/b.json dump content", "", `{"configs":[]}`, EndpointConfigDump},
		{"mesh/c.json memory content", "", `{"allocated":"1","heap_size":"2"}`, EndpointMemory},
		{"mesh/d.json syncz content", "", `[{"proxy":"a.b"}]`, EndpointSyncz},
		{"mesh/e.txt clusters content", "", "a::observability_name::a\n", EndpointClusters},
		{"mesh/f.txt stats content", "", "server.live: 1\n", EndpointStats},
		{"mesh/g.txt prometheus content", "", "# TYPE x counter\nx 1\n", EndpointMetrics},
		{"mesh/h.txt unknown content", "", "hello\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, _, _ := strings.Cut(tt.name, " ")
			got := AdminEndpoint(causeway.Source{Name: name, Query: tt.query}, []byte(tt.data))
			if got != tt.want {
				t.Errorf("AdminEndpoint(%s, %q) = %q, want %q", name, tt.query, got, tt.want)
			}
		})
	}
}

// TestMeshAdminProblems: an output that cannot be read says why; a missing
// or bad time is a warning and the lines are kept without a time.
func TestMeshAdminProblems(t *testing.T) {
	parse := func(src causeway.Source, data string) ([]causeway.Line, FileStats, error) {
		var lines []causeway.Line
		stats, err := Parse(context.Background(), src, strings.NewReader(data), Options{}, func(l causeway.Line) error {
			lines = append(lines, l)
			return nil
		})
		return lines, stats, err
	}
	_, _, err := parse(causeway.Source{Name: "mesh/x.txt", Kind: KindMeshAdmin, Labels: map[string]string{LabelAt: "2025-11-04T09:22:48Z"}}, "hello\n")
	if err == nil || !strings.Contains(err.Error(), "which admin endpoint") {
		t.Errorf("unknown output: err = %v, want one naming the admin endpoints", err)
	}
	_, _, err = parse(causeway.Source{Name: "mesh/certs.json", Kind: KindMeshAdmin}, "{\n \"certificates\": [\n")
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("cut JSON: err = %v, want its position", err)
	}
	lines, stats, err := parse(causeway.Source{Name: "mesh/memory.json", Kind: KindMeshAdmin, Labels: map[string]string{LabelAt: "yesterday"}},
		`{"allocated":"1048576","heap_size":"2097152"}`)
	if err != nil || len(lines) != 1 || !lines[0].Time.IsZero() {
		t.Fatalf("bad time: %d lines, %v", len(lines), err)
	}
	if len(stats.Warnings) != 1 || !strings.Contains(stats.Warnings[0], `"yesterday" is not an RFC 3339 time`) {
		t.Errorf("warnings = %q, want one about the time", stats.Warnings)
	}
	_, stats, _ = parse(causeway.Source{Name: "mesh/memory.json", Kind: KindMeshAdmin}, `{"allocated":"1","heap_size":"2"}`)
	if len(stats.Warnings) != 1 || !strings.Contains(stats.Warnings[0], "no at label") {
		t.Errorf("warnings = %q, want one about the missing at label", stats.Warnings)
	}
}

// TestImportMeshFolder: a bundle's mesh/ folder is read as admin outputs,
// each at the time its at label gives.
func TestImportMeshFolder(t *testing.T) {
	dir := t.TempDir()
	spec := `id: mesh
title: mesh
window: {start: "2025-11-04T07:00:00Z", end: "2025-11-04T11:00:00Z"}
question: why?
sources:
  - path: mesh/booking-api/certs.json
    labels: {namespace: booking, pod: booking-api-7b9c5d8f6-j4npx, at: "2025-11-04T09:22:48Z"}
`
	data, err := os.ReadFile(filepath.Join("testdata", "mesh", "certs-empty.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"booking-api", "istiod"} {
		if err := os.MkdirAll(filepath.Join(dir, "mesh", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string][]byte{SpecFile: []byte(spec), "mesh/booking-api/certs.json": data,
		"mesh/istiod/syncz.json": []byte(`[{"proxy":"a-1.ns","cluster_sent":"x","cluster_acked":"y"}]`)} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sink, rep := importBundle(t, dir, Options{})
	if rep.Failed != 0 || len(rep.Files) != 2 {
		t.Fatalf("report: %+v", rep)
	}
	for _, f := range rep.Files {
		if f.Kind != KindMeshAdmin {
			t.Errorf("%s read as %s, want %s", f.Name, f.Kind, KindMeshAdmin)
		}
	}
	certs := sink.lines["mesh/booking-api/certs.json"]
	if len(certs) != 1 || certs[0].Time.Format(time.RFC3339) != "2025-11-04T09:22:48Z" || certs[0].Attrs["pod"] != "booking-api-7b9c5d8f6-j4npx" {
		t.Errorf("certs lines: %+v", certs)
	}
	syncz := sink.lines["mesh/istiod/syncz.json"]
	if len(syncz) != 2 || syncz[1].Attrs["pod"] != "a-1" || syncz[1].Attrs["namespace"] != "ns" {
		t.Errorf("syncz lines: %+v", syncz)
	}
}

// BenchmarkParseEnvoyAccess measures parsing JSON access log lines, the
// bulk of a gateway's log.
func BenchmarkParseEnvoyAccess(b *testing.B) {
	one, err := os.ReadFile(filepath.Join("testdata", "envoy", "access-json.log"))
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat(one, 200)
	src := causeway.Source{Name: "envoy.log", Kind: causeway.KindPodLog}
	b.SetBytes(int64(len(data)))
	var n int64
	for b.Loop() {
		stats, err := Parse(context.Background(), src, bytes.NewReader(data), Options{}, func(causeway.Line) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		n += stats.Lines
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}
