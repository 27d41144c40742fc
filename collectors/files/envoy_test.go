package files

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway"
)

// parseFile parses one testdata file as a source of kind.
func parseFile(t *testing.T, path string, src causeway.Source) []causeway.Line {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if src.Name == "" {
		src.Name = filepath.Base(path)
	}
	var lines []causeway.Line
	if _, err := Parse(context.Background(), src, f, Options{Year: 2025}, func(l causeway.Line) error {
		lines = append(lines, l)
		return nil
	}); err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	return lines
}

// TestEnvoyAccessLogGolden parses Envoy's default text access log, Istio's
// text format and JSON access logs, each with every response flag, and
// compares the lines and their attributes with golden files. Every flag of
// EnvoyFlags must show in each format's attributes.
func TestEnvoyAccessLogGolden(t *testing.T) {
	for _, name := range []string{"access-envoy.log", "access-istio.log", "access-json.log"} {
		t.Run(name, func(t *testing.T) {
			lines := parseFile(t, filepath.Join("testdata", "envoy", name),
				causeway.Source{Kind: causeway.KindPodLog, Labels: map[string]string{"namespace": "booking", "container": "istio-proxy"}})
			checkGolden(t, "envoy/"+name+".golden", renderLines(lines))
			seen := map[string]bool{}
			for _, l := range lines {
				if l.Attrs["fold_key"] == "" || l.Attrs["response_code"] == "" {
					t.Errorf("line %d is not read as an access log entry: %s", l.Seq, l.Text)
				}
				if l.Time.IsZero() || l.TimeInferred {
					t.Errorf("line %d has no time of its own: %s", l.Seq, l.Text)
				}
				for _, f := range strings.Split(l.Attrs["response_flags"], ",") {
					seen[f] = true
				}
			}
			for _, f := range EnvoyFlags {
				if !seen[f.Code] {
					t.Errorf("no line of %s has flag %s", name, f.Code)
				}
			}
		})
	}
}

// TestEnvoyAccessAttrs: the attributes a user (and the packer) relies on,
// for one entry of each shape, and lines that only look like access logs.
func TestEnvoyAccessAttrs(t *testing.T) {
	tests := []struct {
		name, line string
		want       map[string]string // nil: not an access log entry
	}{
		{"envoy gateway JSON UH on original_route",
			`{"duration":0,"response_code":503,"response_code_details":"no_healthy_upstream","response_flags":"UH","route_name":"original_route","start_time":"2025-08-21T03:49:18.001Z","upstream_cluster":"original_destination_cluster","upstream_host":null,"x-request-id":"34137566-5a0d-4835-878e-bfebcb2e67fd"}`,
			map[string]string{"response_code": "503", "response_flags": "UH", "response_code_details": "no_healthy_upstream",
				"route": "original_route", "upstream_cluster": "original_destination_cluster", "duration_ms": "0",
				"request_id": "34137566-5a0d-4835-878e-bfebcb2e67fd", "fold_key": "original_route original_destination_cluster 503 UH",
				"response_meaning": "UH: no healthy upstream host in the cluster (503); no_healthy_upstream: the cluster had no healthy host to send the request to; " +
					"original_destination_cluster is an original-destination cluster: no destination was set for the request"}},
		{"istio UO overflow",
			`[2025-11-28T14:02:11.482Z] "POST /v1/authorizations HTTP/1.1" 503 UO upstream_reset_before_response_started{overflow} - "-" 435 91 0 - "-" "Go-http-client/1.1" "fea491b5-be3a-4f13-ae3a-fe59adcd3af1" "payments-api.payments.svc.cluster.local:8080" "-" outbound|8080||payments-api.payments.svc.cluster.local - 10.56.14.201:8080 10.52.3.41:40780 - default`,
			map[string]string{"response_code": "503", "response_flags": "UO", "response_code_details": "upstream_reset_before_response_started{overflow}",
				"route": "default", "upstream_cluster": "outbound|8080||payments-api.payments.svc.cluster.local", "duration_ms": "0",
				"request_id": "fea491b5-be3a-4f13-ae3a-fe59adcd3af1", "fold_key": "default outbound|8080||payments-api.payments.svc.cluster.local 503 UO",
				"response_meaning": "UO: upstream overflow: circuit breaker or connection pool limit reached (503); upstream_reset_before_response_started{overflow}: " +
					"the upstream connection or stream failed before any response header (connection pool or circuit breaker limit reached)"}},
		{"envoy default text, no cluster or route",
			`[2025-08-21T03:49:15.867Z] "GET /v1/models HTTP/2" 504 UT 0 24 15001 - "10.0.0.1" "curl/8.7.1" "d6c3c5e4-6f3c-4d3f-9c55-2a9e7cbd2f0a" "gw.example.com" "10.244.0.19:8000"`,
			map[string]string{"response_code": "504", "response_flags": "UT", "duration_ms": "15001", "upstream_host": "10.244.0.19:8000",
				"request_id": "d6c3c5e4-6f3c-4d3f-9c55-2a9e7cbd2f0a", "fold_key": "- - 504 UT",
				"response_meaning": "UT: upstream request timeout (504)"}},
		{"nginx access log is not envoy", `10.0.0.1 - - [21/Aug/2025:03:49:15 +0000] "GET / HTTP/1.1" 503 612 "-" "curl/8.7.1"`, nil},
		{"quoted application line", `"GET /x HTTP/1.1" took 12ms`, nil},
		{"JSON without envoy members", `{"ts":"2025-08-21T03:49:15Z","level":"error","response_code":503,"msg":"upstream said no"}`, nil},
		{"bracketed log line", `[2025-08-21 03:49:07.530][1][warning][config] gRPC config stream to xds_cluster closed`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []causeway.Line
			_, err := Parse(context.Background(), causeway.Source{Name: "x.log", Kind: causeway.KindLog}, strings.NewReader(tt.line+"\n"),
				Options{}, func(l causeway.Line) error { lines = append(lines, l); return nil })
			if err != nil || len(lines) != 1 {
				t.Fatalf("Parse: %d lines, %v", len(lines), err)
			}
			got := lines[0].Attrs
			if tt.want == nil {
				if got["fold_key"] != "" {
					t.Fatalf("read as an access log entry: %v", got)
				}
				return
			}
			delete(got, "level")
			if len(got) != len(tt.want) {
				t.Errorf("attrs = %v\nwant %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("attr %s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestEnvoyMeaning: flags and details are explained; requests that did not
// fail in the proxy have no meaning to show.
func TestEnvoyMeaning(t *testing.T) {
	tests := []struct {
		flags, details, cluster string
		want                    string
	}{
		{"-", "via_upstream", "outbound|8080||a", ""},
		{"", "", "", ""},
		{"UC", "upstream_reset_before_response_started{connection_termination}", "inbound|8080||",
			"UC: upstream connection terminated (503); upstream_reset_before_response_started{connection_termination}: the upstream connection or stream failed before any response header (the upstream connection was closed before a response)"},
		{"NR", "route_not_found", "", "NR: no route configured for the request (404), or no filter chain for the connection; route_not_found: no route matched the request"},
		{"UH", "no_healthy_upstream", "outbound|80||web", "UH: no healthy upstream host in the cluster (503); no_healthy_upstream: the cluster had no healthy host to send the request to"},
		{"-", "-", "BlackHoleCluster", "BlackHoleCluster: the destination is unknown to the mesh and outbound traffic is restricted to known services"},
		{"ZZ", "", "", "ZZ: unknown flag"},
	}
	for _, tt := range tests {
		if got := EnvoyMeaning(tt.flags, tt.details, tt.cluster); got != tt.want {
			t.Errorf("EnvoyMeaning(%q, %q, %q)\n got %q\nwant %q", tt.flags, tt.details, tt.cluster, got, tt.want)
		}
	}
	for _, f := range EnvoyFlags {
		long, ok := LookupEnvoyFlag(f.Name)
		if !ok || long.Code != f.Code || f.Meaning == "" || (f.Side != "upstream" && f.Side != "downstream" && f.Side != "proxy") {
			t.Errorf("flag %s: lookup by %s gave %+v, %v", f.Code, f.Name, long, ok)
		}
	}
}

// TestGatewayPolicyStatus: the status of Envoy Gateway policies and Gateway
// API objects, which say why a policy never reached the proxy, is read from
// `kubectl get -o json` as condition lines (ancestors for policies, parents
// for routes, conditions for gateways).
func TestGatewayPolicyStatus(t *testing.T) {
	lines := parseFile(t, filepath.Join("testdata", "envoy", "gateway-status.json"), causeway.Source{Kind: causeway.KindObjects})
	want := []string{
		"Gateway aibrix-system/aibrix-eg Programmed=True reason=Programmed: Address assigned to the Gateway, 1/1 envoy replicas available",
		"EnvoyPatchPolicy aibrix-system/aibrix-patch-policy Accepted=False reason=Invalid: Unable to translate xds: jsonpatch failed: RouteConfiguration aibrix-system/aibrix-eg/http not found (ancestor: Gateway aibrix-system/aibrix-eg)",
		"EnvoyExtensionPolicy aibrix-system/ext-proc Accepted=True reason=Accepted: Policy has been accepted. (ancestor: Gateway aibrix-system/aibrix-eg)",
		"HTTPRoute aibrix-system/llama2-7b-router ResolvedRefs=False reason=BackendNotFound: Service default/llama2-7b not found (parent: Gateway aibrix-system/aibrix-eg)",
	}
	var got []string
	for _, l := range lines {
		got = append(got, l.Text)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("no line %q in\n%s", w, strings.Join(got, "\n"))
		}
	}
}
