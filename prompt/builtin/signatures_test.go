package builtin

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// signatureCases gives every signature a line it must find (and the span
// it must quote) and a near miss it must not: the same words in a line
// that does not show the failure.
var signatureCases = []struct {
	sig     string
	match   string
	want    string // a substring of the span that shows the signature
	key     string // the object the failure is about, when the signature names one
	noMatch string
}{
	{sig: "disk_full", match: `mkdir /var/lib/eg/wasm: no space left on device`, want: "no space left on device", noMatch: `disk usage at 40%, 12G free`},
	{sig: "disk_full", match: `/dev/sda1        59G   59G     0 100% /`, want: " 100% /", noMatch: `/dev/sda1        59G   20G    39G  34% /`},
	{sig: "disk_pressure", match: `Warning EvictionThresholdMet node/kind-control-plane Attempting to reclaim ephemeral-storage`, want: "EvictionThresholdMet",
		noMatch: `  DiskPressure     False   Mon, 18 Nov 2024 11:27:57 +0100   KubeletHasNoDiskPressure     kubelet has no disk pressure`},
	{sig: "disk_pressure", match: `Node kind-control-plane DiskPressure=True reason=KubeletHasDiskPressure`, want: "DiskPressure", noMatch: `Node kind-control-plane DiskPressure=False`},
	{sig: "memory_pressure", match: `Warning EvictionThresholdMet node/w1 Attempting to reclaim memory`, want: "reclaim memory",
		noMatch: `  MemoryPressure   False   Mon, 18 Nov 2024   KubeletHasSufficientMemory   kubelet has sufficient memory available`},
	{sig: "node_not_ready", match: `Warning NodeNotReady node/worker-2 Node worker-2 status is now: NodeNotReady`, want: "NodeNotReady", noMatch: `Normal NodeReady node/worker-2 Node worker-2 status is now: NodeReady`},
	{sig: "readonly_fs", match: `open /data/wal/000123: read-only file system`, want: "read-only file system", noMatch: `mounted /config as read-only volume`},
	{sig: "conntrack_full", match: `kernel: nf_conntrack: table full, dropping packet`, want: "nf_conntrack: table full", noMatch: `conntrack entries 1200 of 262144`},
	{sig: "fsync_slow", match: `etcd: slow fdatasync took 1.2s, expected less than 1s`, want: "slow fdatasync", noMatch: `fsync enabled on wal`},
	{sig: "network_partition", match: `    "network_partitions_detected": true,`, want: "network_partitions_detected", noMatch: `    "network_partitions_detected": false,`},
	{sig: "network_partition", match: `rabbit@rabbitmq-1: partial partition detected with rabbit@rabbitmq-0`, want: "partial partition", noMatch: `"partitions": [],`},
	{sig: "network_policy", match: `└── NetworkPolicy/default-deny-egress   -`, want: "default-deny", noMatch: `NetworkPolicy/allow-frontend   -`},
	{sig: "volume_failure", match: `Warning  ProvisioningFailed  2m  persistentvolume-controller  storageclass.storage.k8s.io "standard-v2" not found`,
		want: "ProvisioningFailed", key: "standard-v2", noMatch: `StorageClass:  standard-v2`},
	{sig: "volume_failure", match: `Warning FailedMount pod/db-0 MountVolume.SetUp failed for volume "data"`, want: "FailedMount", noMatch: `Normal SuccessfulAttachVolume pod/db-0 AttachVolume.Attach succeeded`},
	{sig: "unschedulable", match: `Warning  FailedScheduling  16m  default-scheduler  0/1 nodes are available: 1 Insufficient nvidia.com/gpu.`,
		want: "FailedScheduling", key: "nvidia.com/gpu", noMatch: `Normal  Scheduled  16m  default-scheduler  Successfully assigned default/api-1 to node-1`},
	{sig: "unschedulable", match: `0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.`, want: "didn't match Pod's node affinity", noMatch: `Unschedulable:      false`},
	{sig: "too_many_pods", match: `Warning KubeletTooManyPods node/ip-10-0-0-1 Kubelet is running at 110% of its Pod capacity`, want: "KubeletTooManyPods", noMatch: `Non-terminated Pods:          (9 in total)`},
	{sig: "quota_exceeded", match: `Error creating: pods "api-7d9f" is forbidden: exceeded quota: compute, requested: cpu=2`, want: "exceeded quota", noMatch: `ResourceQuotas: none`},
	{sig: "scale_event", match: `Normal SuccessfulRescale horizontalpodautoscaler/api New size: 2; reason: All metrics below target`, want: "SuccessfulRescale", noMatch: `hpa/api current replicas 5, desired 5`},
	{sig: "new_version", match: `INFO 1 --- [main] c.m.CheckoutGatewayApplication : Starting CheckoutGatewayApplication v1.9.0 using Java 17.0.8`, want: "Starting CheckoutGatewayApplication v1.9.0",
		key: "1.9.0", noMatch: `INFO Starting service [Tomcat]`},
	{sig: "cron_job", match: `Normal SuccessfulCreate cronjob/etl Created job etl-28491`, want: "cronjob", noMatch: `Normal SuccessfulCreate replicaset/api-7d9f Created pod: api-7d9f-x2x9k`},
	{sig: "resource_spike", match: `container_cpu_usage_seconds_total{pod="etl-1"}: level shift at 03:00:00: mean 0.2 before, 3.8 after`, want: "level shift",
		noMatch: `kube_pod_container_resource_limits{resource="cpu"}: level shift at 03:00:00`},
	{sig: "oom_killed", match: `container etl lastState terminated reason=OOMKilled`, want: "OOMKilled", noMatch: `reason=Completed exitCode=0`},
	{sig: "oom_killed", match: `Last State: Terminated, Exit Code: 137`, want: "Exit Code: 137", noMatch: `Exit Code: 1`},
	{sig: "memory_leak", match: `container_memory_working_set_bytes{container="istio-proxy"}: level shift at 10:00: mean 200MB before, 1.9GB after`, want: "level shift",
		noMatch: `kube_pod_container_resource_limits{resource="memory"}: level shift at 10:00`},
	{sig: "cpu_throttling", match: `Warning CPUThrottlingHigh 100% throttling of CPU in namespace default for container stress`, want: "CPUThrottlingHigh", noMatch: `cpu:     10m`},
	{sig: "evicted", match: `Pod shop/api-1 was evicted: The node was low on resource: memory`, want: "was evicted", noMatch: `cache entry evicted after 10m`},
	{sig: "too_many_files", match: `accept tcp [::]:8080: accept4: too many open files`, want: "too many open files", noMatch: `opened 12 files`},
	{sig: "dns_failure", match: `dial tcp: lookup db.svc.cluster.local on 10.96.0.10:53: no such host`, want: "no such host", key: "db.svc.cluster.local",
		noMatch: `resolved db.svc.cluster.local to 10.0.0.3`},
	{sig: "dns_failure", match: `NameResolutionError: Failed to resolve 'nginx-service.test-ns' ([Errno -3] Try again)`, want: "NameResolutionError", key: "nginx-service.test-ns",
		noMatch: `failed to resolve reference "docker.io/yourcompany/crw:latest": pull access denied`},
	{sig: "cert_invalid", match: `x509: certificate has expired or is not yet valid`, want: "x509:", noMatch: `certificate renewed, valid until 2026-01-01`},
	{sig: "cert_invalid", match: `2024-08-03 17:00:08 - ERROR - SSL certificate expired`, want: "SSL certificate expired", noMatch: `checking certificate expiry: 200 days left`},
	{sig: "missing_object", match: `one or more objects failed to apply, reason: namespaces "my-demoshop-namespaces" not found`, want: `not found`, key: "my-demoshop-namespaces",
		noMatch: `GET /api/items/42 404 not found`},
	{sig: "conn_failure", match: `All host(s) tried for db query failed (tried: prod-db:3333) - no available connection`, want: "host(s) tried", key: "prod-db:3333",
		noMatch: `INFO:app:Connecting to database at db:5432`},
	{sig: "conn_failure", match: `dial tcp 10.0.0.5:5432: connect: connection refused`, want: "connection refused", noMatch: `connection established to 10.0.0.5:5432`},
	{sig: "timeout", match: `rpc error: code = DeadlineExceeded desc = context deadline exceeded`, want: "context deadline exceeded", noMatch: `read timeout: 30s`},
	{sig: "pool_exhausted", match: `FATAL: remaining connection slots are reserved for non-replication superuser connections`, want: "remaining connection slots are reserved",
		noMatch: `connection pool size 20, 3 in use`},
	{sig: "pool_exhausted", match: `{"response_code":503,"response_flags":"UO","upstream_cluster":"outbound|8080||api"}`, want: `"response_flags":"UO"`,
		noMatch: `{"response_code":200,"response_flags":"-"}`},
	{sig: "slow_query", match: `INFO:app:Database call completed in 10.01 seconds.`, want: "10.01 seconds", noMatch: `INFO:app:Database call completed in 0.12 seconds.`},
	{sig: "slow_query", match: `      ├─ postgres.query (fraud-service) - 6209.41ms (span_id=4a3c)`, want: "6209.41ms", noMatch: `      ├─ postgres.query (auth-service) - 260.29ms (span_id=d8b8)`},
	{sig: "exec_failed", match: `exec: "wge": executable file not found in $PATH: unknown`, want: "executable file not found", key: "wge", noMatch: `exec: "wget": started`},
	{sig: "exec_failed", match: `/bin/sh: wgett: not found`, want: "wgett: not found", key: "wgett", noMatch: `error: image "app:v2" not found`},
	{sig: "script_error", match: `/bin/sh: syntax error: unexpected "fi"`, want: "syntax error", noMatch: `checked script syntax: ok`},
	{sig: "config_missing", match: `Environment variable DEPLOY_ENV is undefined`, want: "Environment variable DEPLOY_ENV is undefined", key: "DEPLOY_ENV",
		noMatch: `if [[ -z "${DEPLOY_ENV}" ]]; then echo DEPLOY_ENV not set; fi`},
	{sig: "config_missing", match: `fatal: missing required environment variable DATABASE_URL`, want: "missing required environment variable", noMatch: `loaded environment variable DATABASE_URL`},
	{sig: "config_invalid", match: `failed to load config: yaml: unmarshal errors: cannot unmarshal string into int`, want: "failed to load config", noMatch: `loaded config from /etc/app.yaml`},
	{sig: "http_protocol_error", match: `upstream_reset_before_response_started{protocol_error} duplicate header transfer-encoding`, want: "protocol_error", noMatch: `http/1.1 200 OK`},
	{sig: "process_crash", match: `panic: runtime error: invalid memory address or nil pointer dereference`, want: "panic:", noMatch: `recovered from panic in handler`},
	{sig: "app_error", match: `2025-08-21T03:00:00Z ERROR could not process order 42`, want: "ERROR", noMatch: `2025-08-21T03:00:00Z INFO failure-domain.beta.kubernetes.io/zone=us-east-2c`},
	{sig: "image_pull", match: `Failed to pull image "reg/app:v9": rpc error: manifest unknown`, want: "Failed to pull image", key: "reg/app:v9",
		noMatch: `Normal Pulling kubelet Pulling image "reg/app:v9"`},
	{sig: "crashloop", match: `Back-off restarting failed container api in pod api-7d9f`, want: "Back-off restarting failed container", noMatch: `Started container api`},
	{sig: "container_error", match: `      Exit Code:    2`, want: "Exit Code:    2", noMatch: `      Exit Code:    0`},
	{sig: "job_failed", match: `Warning  BackoffLimitExceeded  13m  job-controller  Job has reached the specified backoff limit`, want: "BackoffLimitExceeded",
		noMatch: `Pods Statuses:    1 Active (1 Ready) / 0 Succeeded / 0 Failed`},
	{sig: "pvc_unbound", match: `0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.`, want: "unbound immediate PersistentVolumeClaims", noMatch: `Status:  Bound`},
	{sig: "pod_pending", match: `Status:           Pending`, want: "Pending", noMatch: `Status:           Running`},
	{sig: "replicas_unavailable", match: `Replicas:   1 desired | 1 updated | 1 total | 0 available | 1 unavailable`, want: "0 available",
		noMatch: `Replicas:   1 desired | 1 updated | 1 total | 1 available | 0 unavailable`},
	{sig: "failed_create", match: `Warning  FailedCreate  9m  job-controller  Error creating: pods "get-data-" is forbidden`, want: "FailedCreate", noMatch: `Normal  SuccessfulCreate  job-controller  Created pod: get-data-x`},
	{sig: "probe_failed", match: `Readiness probe failed: HTTP probe failed with statuscode: 500`, want: "Readiness probe failed",
		noMatch: `Liveness:  http-get http://:3005/health delay=15s timeout=1s period=20s #success=1 #failure=3`},
	{sig: "restart", match: `container api restartCount=3`, want: "restartCount=3", noMatch: `container api restartCount=0`},
	{sig: "shutdown", match: `received SIGTERM, shutting down with 12 requests in flight`, want: "SIGTERM", noMatch: `graceful shutdown completed`},
	{sig: "grace_exceeded", match: `graceful shutdown timed out after 15s, 3 requests still in flight`, want: "graceful shutdown timed out", noMatch: `graceful shutdown completed in 2s`},
	{sig: "leader_lost", match: `leaderelection lost for controller-manager`, want: "leaderelection lost", noMatch: `successfully acquired lease kube-system/controller`},
	{sig: "config_rejected", match: `failed to translate xds ir: embedded message failed validation`, want: "failed to translate", noMatch: `translated xds ir in 3ms`},
	{sig: "sync_failed", match: `Message:  one or more objects failed to apply, reason: namespaces "x" not found`, want: "one or more objects failed to apply", noMatch: `Sync Status:  Synced to HEAD`},
	{sig: "condition_false", match: `EnvoyExtensionPolicy x condition Accepted=False reason=Invalid`, want: "Accepted=False", noMatch: `HTTPRoute y condition Accepted=True`},
	{sig: "condition_false", match: `Type: Ready  Status: False`, want: "Type: Ready  Status: False", noMatch: `Type: Ready  Status: True`},
	{sig: "condition_false", match: `  Ready                       False`, want: "Ready                       False", noMatch: `  Ready                       True`},
	{sig: "upstream_connect", match: `upstream connect error or disconnect/reset before headers. reset reason: connection termination`, want: "upstream connect error",
		noMatch: `upstream connected in 2ms`},
	{sig: "conn_reset", match: `read tcp 10.0.0.7:51234->10.0.0.9:8080: read: connection reset by peer`, want: "connection reset by peer", noMatch: `reset counters at 00:00`},
	{sig: "no_healthy_upstream", match: `{"response_code":503,"response_flags":"UH"}`, want: `"response_flags":"UH"`, noMatch: `{"response_code":200,"response_flags":"-"}`},
	{sig: "http_5xx", match: `{"response_code":503,"response_code_details":"x"}`, want: `response_code":503`, noMatch: `{"response_code":200}`},
	{sig: "http_5xx", match: `10.0.0.7 - - [21/Aug/2025:03:11:00 +0000] "POST /api/pay HTTP/1.1" 502 19`, want: `HTTP/1.1" 502`, noMatch: `"GET / HTTP/1.1" 200 512 5023`},
	{sig: "request_dropped", match: `upstream prematurely closed connection while reading response header`, want: "upstream prematurely closed", noMatch: `upstream closed connection normally`},
	{sig: "slow_request", match: `{"level":30,"res":{"statusCode":200},"responseTime":6047.6,"msg":"request completed"}`, want: "6047.6",
		noMatch: `{"level":30,"res":{"statusCode":200},"responseTime":0.45,"msg":"request completed"}`},
	{sig: "slow_request", match: `INFO:app:Page rendered in 10.01 seconds.`, want: "10.01 seconds", noMatch: `INFO:app:Page rendered in 0.21 seconds.`},
}

// TestSignatures checks every signature against a line it must match and
// one it must not, so that a change to the table shows what it breaks.
func TestSignatures(t *testing.T) {
	sc := newScanner(defaultTable)
	tested := map[string]bool{}
	for _, tt := range signatureCases {
		t.Run(tt.sig, func(t *testing.T) {
			if defaultTable.byName[tt.sig] == nil {
				t.Fatalf("no signature %q", tt.sig)
			}
			tested[tt.sig] = true
			mt, ok := find(sc, tt.match, tt.sig)
			switch {
			case !ok:
				t.Errorf("%q does not show %s; it shows %v", tt.match, tt.sig, names(sc.scan(tt.match, nil)))
			case !strings.Contains(tt.match[mt.start:mt.end], tt.want):
				t.Errorf("%s quotes %q of %q, want a span with %q", tt.sig, tt.match[mt.start:mt.end], tt.match, tt.want)
			case tt.key != "" && mt.key != tt.key:
				t.Errorf("%s names %q in %q, want %q", tt.sig, mt.key, tt.match, tt.key)
			}
			if _, ok := find(sc, tt.noMatch, tt.sig); ok {
				t.Errorf("%s matches the near miss %q", tt.sig, tt.noMatch)
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

func find(sc *scanner, text, sig string) (match, bool) {
	for _, mt := range sc.scan(text, nil) {
		if mt.m.Name == sig {
			return mt, true
		}
	}
	return match{}, false
}

func names(ms []match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.m.Name)
	}
	return out
}

// TestGenericOnlyWhereNothingSpecific checks that the catch-all "error"
// signature gives way to a specific one on the same line.
func TestGenericOnlyWhereNothingSpecific(t *testing.T) {
	sc := newScanner(defaultTable)
	got := names(sc.scan(`2025-08-21T03:00:00Z ERROR failed to pull image "reg/app:v9": manifest unknown`, nil))
	if slices.Contains(got, "app_error") || !slices.Contains(got, "image_pull") {
		t.Errorf("signatures = %v, want image_pull without app_error", got)
	}
}

// TestAutomatonAgreesWithSearch checks the keyword automaton against a
// plain substring search on random text made of the keywords' own bytes.
func TestAutomatonAgreesWithSearch(t *testing.T) {
	words := []string{"he", "she", "his", "hers", "no space", "space left", "x509:", "ers", "s"}
	a := newAutomaton(words)
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := "hersiHERS noxpacelft509:"
	for range 500 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		text := string(b)
		got := map[string]int{}
		a.find(text, func(id, end int) { got[fmt.Sprint(id, "@", end)]++ })
		want := map[string]int{}
		lower := strings.ToLower(text)
		for id, w := range words {
			for i := 0; i+len(w) <= len(lower); i++ {
				if lower[i:i+len(w)] == w {
					want[fmt.Sprint(id, "@", i+len(w))]++
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("text %q: automaton found %v, search %v", text, got, want)
		}
	}
}

func TestCompileRejectsBadTables(t *testing.T) {
	tests := []struct {
		name string
		sigs []Signature
	}{
		{"broken pattern", []Signature{{Name: "bad", Patterns: []Pattern{{Expr: "("}}}}},
		{"broken exclusion", []Signature{{Name: "bad", Phrases: []string{"x"}, Not: []string{"("}}}},
		{"duplicate name", []Signature{{Name: "a", Phrases: []string{"x"}}, {Name: "a", Phrases: []string{"y"}}}},
		{"unknown explained signature", []Signature{{Name: "a", Phrases: []string{"x"}, Explains: []string{"nope"}}}},
		{"duration without a group", []Signature{{Name: "a", Patterns: []Pattern{{Expr: "took", MinSeconds: 1}}}}},
		{"key-only pattern without a key", []Signature{{Name: "a", Patterns: []Pattern{{Expr: "x", KeyOnly: true}}}}},
		{"non-ASCII phrase", []Signature{{Name: "a", Phrases: []string{"plein à craquer"}}}},
		{"detail without expression", []Signature{{Name: "a", Phrases: []string{"x"}, Details: []Detail{{Label: "y"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewWithSignatures(tt.sigs); err == nil {
				t.Error("the table was accepted")
			}
		})
	}
}

func TestWorkloadOf(t *testing.T) {
	tests := map[string]string{
		"payment-processing-worker-747ccfb9db-78qds": "payment-processing-worker",
		"envoy-gateway-6f8b9c7d54-9wz7t":             "envoy-gateway",
		"get-data-mldtn":                             "get-data",
		"rabbitmq-0":                                 "rabbitmq",
		"logging-agent":                              "logging-agent",
		"frontend-service":                           "frontend-service",
		"batch-etl-28491-7xk2p":                      "batch-etl-28491",
		"nginx":                                      "nginx",
	}
	for pod, want := range tests {
		if got := workloadOf(pod); got != want {
			t.Errorf("workloadOf(%q) = %q, want %q", pod, got, want)
		}
	}
}

func TestRowSubject(t *testing.T) {
	ns := map[string]bool{"default": true}
	tests := []struct{ text, want string }{
		{"payment-processing-worker-747ccfb9db-4wrhh   0/1     CrashLoopBackOff   85 (65s ago)   22h", "payment-processing-worker-747ccfb9db-4wrhh"},
		{"default              product-data-scraper-2s4j2     0/1     Error     0     23h", "product-data-scraper-2s4j2"},
		{"├── Pod/product-data-scraper-2s4j2   0/1     Error    23h", "product-data-scraper-2s4j2"},
		{"Status:           Running", ""},
		{"2025-08-21T03:00:00Z ERROR request 1/2 failed   retrying   soon", ""},
	}
	for _, tt := range tests {
		if got := rowSubject(tt.text, ns); got != tt.want {
			t.Errorf("rowSubject(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b  string
		limit int
		want  int
	}{
		{"wge", "wget", 1, 1},
		{"my-demoshop-namespaces", "my-demoshop-namespace", 2, 1},
		{"kitten", "sitting", 3, 3},
		{"kitten", "sitting", 1, 2}, // more than the limit: limit+1
		{"same", "same", 1, 0},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b, tt.limit); got != tt.want {
			t.Errorf("editDistance(%q, %q, %d) = %d, want %d", tt.a, tt.b, tt.limit, got, tt.want)
		}
	}
}
