package builtin_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// clockAt renders base plus m minutes as a log timestamp.
func clockAt(m float64) string {
	return base.Add(time.Duration(m * float64(time.Minute))).UTC().Format("2006-01-02T15:04:05Z")
}

// recurringScaleDown is an intermittent 502 that comes back after every
// run of a scheduled job: the job loads the API, the autoscaler scales it
// up and, once the job is done, down; the pods it stops get 15 s for
// requests that take 40 s. Five runs six hours apart, four of them with
// long requests in flight. Decoys: slow queries at all hours, a burst of
// them two minutes before the largest 502 burst, and an OOM kill of
// another pod.
func recurringScaleDown() []ln {
	api := func(pod string) []string { return []string{"namespace=shop", "pod=" + pod} }
	hpa := []string{"namespace=shop", "name=orders-api", "kind=HorizontalPodAutoscaler"}
	cron := []string{"namespace=batch", "name=report-etl", "kind=CronJob"}
	gwAttrs := []string{"namespace=ingress"}
	ls := []ln{
		{-10, "objects/deployments.json", `Deployment shop/orders-api spec.template.spec.terminationGracePeriodSeconds: 15`, []string{"namespace=shop", "name=orders-api", "kind=Deployment"}},
		{100, evts, `Warning OOMKilling node/w2 (ns media): Memory cgroup out of memory: Killed process 71 (resizer) in pod media/image-resizer-6d5f8c7b9-w2kx7`,
			[]string{"namespace=media", "pod=image-resizer-6d5f8c7b9-w2kx7"}},
	}
	for run := range 5 {
		t0 := float64(run) * 360
		job := fmt.Sprintf("report-etl-%d", 29288160+run)
		pod := fmt.Sprintf("orders-api-7d9f6b5c4-%c2x9k", "bcdfg"[run])
		ls = append(ls,
			ln{t0, evts, `Normal SuccessfulCreate cronjob/report-etl (ns batch): Created job ` + job, cron},
			ln{t0 + 2, evts, `Normal SuccessfulRescale horizontalpodautoscaler/orders-api (ns shop): New size: 8; reason: cpu resource utilization (percentage of request) above target`, hpa},
			ln{t0 + 34, evts, `Normal SawCompletedJob cronjob/report-etl (ns batch): Saw completed job: ` + job + `, status: Complete`, cron},
			ln{t0 + 40, evts, `Normal SuccessfulRescale horizontalpodautoscaler/orders-api (ns shop): New size: 3; reason: All metrics below target`, hpa},
			ln{t0 + 40.1, "logs/orders-api.log", clockAt(t0+40.1) + ` INFO received SIGTERM, draining 3 in-flight requests`, api(pod)},
			ln{t0 + 10, "logs/orders-api.log", clockAt(t0+10) + ` INFO request completed path=/v1/reports/export status=200 duration=41s`, api(pod)},
		)
		if run == 0 {
			continue // nothing long was in flight
		}
		for i := range run + 1 {
			m := t0 + 40.4 + float64(i)*0.05
			ls = append(ls,
				ln{m, "logs/ingress-error.log", fmt.Sprintf(`%s [error] 7#7: *%d upstream prematurely closed connection while reading response header from upstream, request: "POST /v1/reports/export HTTP/1.1"`, clockAt(m), 100*run+i), gwAttrs},
				ln{m, "logs/ingress.log", fmt.Sprintf(`10.0.0.%d - - "POST /v1/reports/export HTTP/1.1" 502 150 t=%s`, i, clockAt(m)), gwAttrs})
		}
	}
	for i := range 12 {
		m := 45 + float64(i)*131
		ls = append(ls, ln{m, "logs/orders-db.log", fmt.Sprintf(`%s WARN slow query took 2.4s: SELECT * FROM orders WHERE id = %d`, clockAt(m), i), api("orders-db-0")})
	}
	for i := range 6 {
		m := 4*360 + 38 + float64(i)*0.2
		ls = append(ls, ln{m, "logs/orders-db.log", fmt.Sprintf(`%s ERROR slow query took 3.1s: UPDATE orders SET state = 'paid' WHERE id = %d`, clockAt(m), 900+i), api("orders-db-0")})
	}
	for i := range 20 {
		m := float64(i) * 90
		ls = append(ls, ln{m, "logs/ingress.log", fmt.Sprintf(`10.0.0.9 - - "GET /v1/items HTTP/1.1" 200 512 t=%s`, clockAt(m)), gwAttrs})
	}
	return ls
}

// recurringSidecarOOM is a proxy that runs out of memory every two days
// because a metric label takes every request path: each OOM kill of the
// istio-proxy container comes with a burst of 503s at the gateway. The
// admin output (stats count, heap) was read once, after the last burst;
// a one-off connection error right before the last burst is the decoy.
func recurringSidecarOOM() []ln {
	proxy := func(pod string) []string {
		return []string{"namespace=search", "pod=" + pod, "container=istio-proxy"}
	}
	app := []string{"namespace=search", "pod=search-api-84c5f7d9b6-h6vnc", "container=search-api"}
	gw := []string{"namespace=istio-system", "pod=istio-ingressgateway-5c9f7b6d8-8wq2n", "container=istio-proxy"}
	ls := []ln{
		{-600, "logs/captures.log", `apiVersion: telemetry.istio.io/v1`, []string{"namespace=search"}},
		{-600, "logs/captures.log", `kind: Telemetry`, []string{"namespace=search"}},
		{-600, "logs/captures.log", `metadata:`, []string{"namespace=search"}},
		{-600, "logs/captures.log", `  name: mesh-default`, []string{"namespace=search"}},
		{-600, "logs/captures.log", `  namespace: istio-system`, []string{"namespace=search"}},
		{-600, "logs/captures.log", `spec:`, []string{"namespace=search"}},
		{-600, "logs/captures.log", `  metrics:`, []string{"namespace=search"}},
		{-600, "logs/captures.log", `  - overrides:`, []string{"namespace=search"}},
		{-600, "logs/captures.log", `    - tagOverrides:`, []string{"namespace=search"}},
		{-600, "logs/captures.log", `        request_path:`, []string{"namespace=search"}},
		{-600, "logs/captures.log", `          value: request.url_path`, []string{"namespace=search"}},
		{6000, "mesh/search-api-84c5f7d9b6-h6vnc/memory.json", `envoy /memory: allocated 862.2 MiB, heap_size 949.0 MiB; heap is 92.7% of the container's 1Gi memory limit`,
			append(proxy("search-api-84c5f7d9b6-h6vnc"), "limit_used_pct=92.7")},
		{6000, "mesh/search-api-84c5f7d9b6-h6vnc/stats.txt", `envoy /stats: 55265 stats; most by name: istio_requests_total 38148, cluster 493, http 58`,
			append(proxy("search-api-84c5f7d9b6-h6vnc"), "stats_count=55265")},
	}
	for k, pod := range []string{"search-api-84c5f7d9b6-t3bqs", "search-api-84c5f7d9b6-x8ljd", "search-api-84c5f7d9b6-h6vnc", "search-api-84c5f7d9b6-q2wpz"} {
		t0 := float64(k) * 2880
		ls = append(ls,
			ln{t0, "objects/pods.json", fmt.Sprintf(`Pod search/%s container istio-proxy last terminated reason=OOMKilled exitCode=137`, pod), proxy(pod)},
			ln{t0 + 0.1, "logs/search-api-istio-proxy.log", clockAt(t0+0.1) + ` info Envoy proxy is ready`, proxy(pod)},
		)
		for i := range 4 {
			m := t0 + 0.2 + float64(i)*0.1
			ls = append(ls, ln{m, "logs/ingressgateway.log",
				fmt.Sprintf(`[%s] "GET /api/v1/products/%d HTTP/1.1" 503 UF,URX upstream_reset_before_response_started{remote_connection_failure} - "-" 0 95 88 -`, clockAt(m), 5000+i),
				append(gw, "response_code=503", "response_flags=UF,URX", "upstream_cluster=outbound|8080||search-api.search.svc.cluster.local")})
		}
	}
	for i := range 5 {
		m := 3*2880 - 3 + float64(i)*0.2
		ls = append(ls, ln{m, "logs/search-api.log", fmt.Sprintf(`%s ERROR I/O error on POST request for "http://elasticsearch.search-data:9200/_search": Connection refused (%d)`, clockAt(m), i), app})
	}
	return ls
}

// poolLimits is a DestinationRule that lowered a cluster's connection-pool
// limits hours before the load grew: the calling proxy rejects requests
// with 503 UO. Its admin output names the limits and the overflow; Argo CD
// logged the change. A database warning hours before is the decoy.
func poolLimits() []ln {
	proxy := []string{"namespace=checkout", "pod=checkout-api-6f9d7b8c4-bx7rw", "container=istio-proxy"}
	cluster := "cluster=outbound|8080||payments-api.payments.svc.cluster.local"
	ls := []ln{
		{-270, "logs/argocd.log", `{"level":"info","msg":"Adding resource result, status: 'Synced', phase: 'Running', message: 'destinationrule.networking.istio.io/payments-api configured'","application":"argocd/payments"}`,
			[]string{"namespace=argocd", "pod=argocd-application-controller-0"}},
		{-180, "logs/payments-api.log", `WARN HikariPool-1 - Failed to validate connection org.postgresql.jdbc.PgConnection@1a2b (This connection has been closed.)`,
			[]string{"namespace=payments", "pod=payments-api-7c6d5f9b8-fz4nt"}},
		{70, "mesh/checkout-api-6f9d7b8c4-bx7rw/stats.txt", `envoy /stats: cluster outbound|8080||payments-api.payments.svc.cluster.local: upstream_rq_5xx 5815, upstream_rq_pending_overflow 5777, upstream_cx_overflow 11971, circuit_breakers.default.cx_open 1`,
			append(proxy, cluster)},
		{71, "mesh/checkout-api-6f9d7b8c4-bx7rw/config_dump.json", `envoy /config_dump: cluster outbound|8080||payments-api.payments.svc.cluster.local (EDS, LEAST_REQUEST); circuit breakers max_connections=8 max_pending_requests=4 max_requests=4294967295`,
			append(proxy, cluster)},
	}
	for i := range 30 {
		m := float64(i) * 2
		code, flags, details := "201", "-", "via_upstream"
		if i >= 10 {
			code, flags, details = "503", "UO", "upstream_reset_before_response_started{overflow}"
		}
		ls = append(ls, ln{m, "logs/checkout-api-istio-proxy.log",
			fmt.Sprintf(`[%s] "POST /v1/authorizations HTTP/1.1" %s %s %s - "-" 436 81 12 -`, clockAt(m), code, flags, details),
			append(proxy, "response_code="+code, "response_flags="+flags, "response_code_details="+details, "upstream_cluster=outbound|8080||payments-api.payments.svc.cluster.local")})
	}
	ls = append(ls, ln{40, evts, `Normal ScalingReplicaSet deployment/payments-api (ns payments): Scaled up replica set payments-api-7c6d5f9b8 to 12 from 6`,
		[]string{"namespace=payments", "name=payments-api", "kind=Deployment"}})
	return ls
}

// meshCertExpiry is a mesh intermediate CA that expired at base: the
// proxies' handshakes fail from then on. The expired certificate shows in
// a /config_dump read 80 minutes later. Decoys: cert-manager renewing two
// public certificates before, and a clock check afterwards that shows the
// clocks in sync.
func meshCertExpiry() []ln {
	proxy := []string{"namespace=booking", "pod=booking-api-7b9c5d8f6-j4npx", "container=istio-proxy"}
	gw := []string{"namespace=istio-system", "pod=istio-ingressgateway-7f8c6d9b4-h2xqp", "container=istio-proxy"}
	ls := []ln{
		{-300, evts, `Normal Issuing certificate/partner-api-tls (ns istio-system): The certificate has been successfully issued`,
			[]string{"namespace=istio-system", "name=partner-api-tls", "kind=Certificate"}},
		{-29, evts, `Normal Issuing certificate/shop-public-tls (ns istio-system): The certificate has been successfully issued`,
			[]string{"namespace=istio-system", "name=shop-public-tls", "kind=Certificate"}},
		{80, "mesh/booking-api-7b9c5d8f6-j4npx/config_dump.json", `envoy /config_dump: secret default certificate chain 2 of 2 (CN=Mesh Intermediate CA,O=Shop, issuer CN=Shop Root CA) EXPIRED at ` + clockAt(0) + `, 1.3 hours ago`,
			append(proxy, "cert_status=expired", "not_after="+clockAt(0), "subject=CN=Mesh Intermediate CA,O=Shop", "secret=default")},
		{70, "logs/checks.log", clockAt(70) + ` # clock skew check on all nodes`, nil},
		{70.01, "logs/checks.log", clockAt(70.01) + ` $ ssh node-1 chronyc tracking | grep 'System time'`, nil},
		{70.02, "logs/checks.log", clockAt(70.02) + ` System time     : 0.000023208 seconds fast of NTP time`, nil},
		{70.03, "logs/checks.log", clockAt(70.03) + ` System time     : 0.000059506 seconds slow of NTP time`, nil},
	}
	for i := range 12 {
		m := 2 + float64(i)*5
		ls = append(ls,
			ln{m, "logs/ingressgateway.log", fmt.Sprintf(`[%s] "GET /booking HTTP/1.1" 503 UF upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: TLS error: CERTIFICATE_VERIFY_FAILED`, clockAt(m)),
				append(gw, "response_code=503", "response_flags=UF")},
			ln{m + 0.5, "logs/booking-api-istio-proxy.log", clockAt(m+0.5) + ` warning envoy connection TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED`, proxy})
	}
	return ls
}

// TestMeshAndRecurringCauses checks the mechanisms behind the mesh seeds on
// small line sets: a cause judged against every burst of a recurring
// symptom and the trigger that precedes each, configuration values that
// explain a symptom and the object that set them, admin snapshots read
// after the fact, and a certificate placed at its expiry.
func TestMeshAndRecurringCauses(t *testing.T) {
	tests := []struct {
		name      string
		lines     []ln
		question  string
		rootLine  string   // a substring of the line the first chain step cites
		rootWords []string // words root_cause must contain
		claims    []string // substrings some claim must contain
		notRoot   []string // substrings the root's line must not contain
	}{
		{
			name:      "a scale-down before every burst, not the slow queries before the largest",
			lines:     recurringScaleDown(),
			question:  "Why do POST /v1/reports/export requests fail with 502 a few at a time, days apart?",
			rootLine:  "received SIGTERM",
			rootWords: []string{"grace period", "terminationGracePeriodSeconds: 15", "autoscaler scale-down", "CronJob batch/report-etl"},
			claims:    []string{"came in 4 bursts"},
			notRoot:   []string{"slow query"},
		},
		{
			name:      "a proxy OOM-killed before every burst, from an unbounded metric label",
			lines:     recurringSidecarOOM(),
			question:  "Why do the search-api pods restart every two days with a burst of 503s?",
			rootLine:  "value: request.url_path",
			rootWords: []string{"request path", "Telemetry istio-system/mesh-default"},
			notRoot:   []string{"Connection refused"},
		},
		{
			name:      "connection-pool limits and the DestinationRule that set them",
			lines:     poolLimits(),
			question:  `Why do authorizations to payments-api fail with 503 "reset reason: overflow"?`,
			rootLine:  "circuit breakers max_connections=8",
			rootWords: []string{"connection pool limits", "DestinationRule payments/payments-api", "last changed at 2025-08-20T22:30:00Z"},
			claims:    []string{"DestinationRule payments/payments-api sets it"},
		},
		{
			name:      "a certificate expired before the first failed handshake, read an hour later",
			lines:     meshCertExpiry(),
			question:  "Why do calls to booking fail with 503 since 03:00?",
			rootLine:  "EXPIRED at 2025-08-21T03:00:00Z",
			rootWords: []string{"expired certificate", "CN=Mesh Intermediate CA"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pack := mkPack(tt.lines...)
			ans := analyze(t, pack, tt.question)
			if len(ans.CausalChain) == 0 || !strings.Contains(lineText(pack, ans.CausalChain[0].Citations[0]), tt.rootLine) {
				t.Errorf("root cause %q cites %v, want the line with %q", ans.RootCause, chainTexts(pack, ans), tt.rootLine)
			}
			for _, w := range tt.rootWords {
				if !strings.Contains(strings.ToLower(ans.RootCause), strings.ToLower(w)) {
					t.Errorf("root cause %q does not say %q", ans.RootCause, w)
				}
			}
			for _, w := range tt.claims {
				found := false
				for _, c := range ans.Claims {
					found = found || strings.Contains(c.Text, w)
				}
				if !found {
					t.Errorf("no claim says %q: %+v", w, ans.Claims)
				}
			}
			for _, w := range tt.notRoot {
				if len(ans.CausalChain) > 0 && strings.Contains(lineText(pack, ans.CausalChain[0].Citations[0]), w) {
					t.Errorf("the root cause is the decoy: %q", ans.RootCause)
				}
			}
		})
	}
}

// TestControlQuestionsAboutEvents asks about specific events and checks
// that the answer is about that event (its object, its time, what it
// showed) rather than about any failure of its kind.
func TestControlQuestionsAboutEvents(t *testing.T) {
	tests := []struct {
		name     string
		lines    []ln
		question string
		prefix   string // the summary starts with it
		cited    string // a substring of a line the first ruled-out hypothesis cites
		avoid    string // a substring of a line it must not cite
	}{
		{
			name:     "the renewal of another certificate, at the time the question names",
			lines:    meshCertExpiry(),
			question: "Was the renewal of the public TLS certificate shop-public-tls by cert-manager at 02:31 related to the 503s?",
			prefix:   "No. ", cited: "certificate/shop-public-tls", avoid: "CERTIFICATE_VERIFY_FAILED",
		},
		{
			name:     "a check that showed nothing wrong, asked as a cause",
			lines:    meshCertExpiry(),
			question: "Was clock skew on the nodes the cause of the certificate errors?",
			prefix:   "No. ", cited: "seconds fast of NTP time",
		},
		{
			name:     "a fix aimed at the container beside the one that fails",
			lines:    recurringSidecarOOM(),
			question: "Would raising the search-api container's memory limit stop the restarts?",
			prefix:   "No, it would not help: it acts on container search-api, but the container that fails is istio-proxy", cited: "container istio-proxy last terminated",
		},
		{
			name:     "scaling the upstream of a per-caller limit",
			lines:    poolLimits(),
			question: "Did scaling payments-api to 12 replicas fix the 503s?",
			prefix:   "No, it did not", cited: "Scaled up replica set payments-api",
		},
		{
			name:     "the job behind every burst set the cause off",
			lines:    recurringScaleDown(),
			question: "Was the report-etl cronjob related to the 502s?",
			prefix:   "Yes.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pack := mkPack(tt.lines...)
			ans := analyze(t, pack, tt.question)
			if !strings.HasPrefix(ans.Summary, tt.prefix) {
				t.Errorf("summary %q does not start with %q", ans.Summary, tt.prefix)
			}
			if tt.cited == "" {
				return
			}
			if len(ans.RuledOut) == 0 || !cites(pack, ans.RuledOut[0].Citations, tt.cited) {
				t.Errorf("the first ruled-out hypothesis %+v does not cite the line with %q", ans.RuledOut, tt.cited)
			}
			if tt.avoid != "" && len(ans.RuledOut) > 0 && cites(pack, ans.RuledOut[0].Citations, tt.avoid) {
				t.Errorf("the first ruled-out hypothesis cites a line with %q: %+v", tt.avoid, ans.RuledOut[0])
			}
		})
	}
}
