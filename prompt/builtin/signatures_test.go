package builtin

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
)

// base is the time the internal tests' lines start from.
var base = time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC)

// signatureCases gives every signature a line it must find (and the span
// it must quote) and a near miss it must not: the same words in a line
// that does not show the failure.
var signatureCases = []struct {
	sig     string
	match   string
	want    string // a substring of the span that shows the signature
	key     string // the object the failure is about, when the signature names one
	noMatch string
	// attrs and prev are the match's attributes ("k=v") and the line
	// before it; noAttrs and noPrev the near miss's.
	attrs, noAttrs []string
	prev, noPrev   string
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
	{sig: "scale_down", match: `Normal SuccessfulRescale horizontalpodautoscaler/api New size: 2; reason: All metrics below target`, want: "below target",
		noMatch: `Normal SuccessfulRescale horizontalpodautoscaler/api New size: 8; reason: cpu resource utilization (percentage of request) above target`},
	{sig: "scale_down", match: `Normal ScalingReplicaSet deployment/orders-api Scaled down replica set orders-api-7d9f6b5c4 to 4 from 10`, want: "Scaled down replica set",
		noMatch: `Normal ScalingReplicaSet deployment/orders-api Scaled up replica set orders-api-7d9f6b5c4 to 7 from 4`},
	{sig: "scale_event", match: `Normal SuccessfulRescale horizontalpodautoscaler/api New size: 8; reason: cpu resource utilization (percentage of request) above target`,
		want: "SuccessfulRescale", noMatch: `Normal SuccessfulRescale horizontalpodautoscaler/api New size: 2; reason: All metrics below target`},
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
	{sig: "pool_exhausted", match: `HikariPool-1 - Connection is not available, request timed out after 30000ms.`, want: "Connection is not available",
		noMatch: `HikariPool-1 - Start completed.`},
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
	{sig: "no_healthy_upstream", match: `[2025-08-21T03:49:22.000Z] "POST /v1/chat/completions HTTP/1.1" 503 UH - 0 19 0 - "-"`, want: "UH",
		attrs: []string{"response_flags=UH", "response_code=503", "upstream_cluster=original_destination_cluster"}, key: "original_destination_cluster",
		noMatch: `[2025-08-21T03:49:22.000Z] "POST /v1/chat/completions HTTP/1.1" 200 - via_upstream 0 19 0 -`, noAttrs: []string{"response_flags=-", "response_code=200"}},
	{sig: "http_5xx", match: `{"response_code":503,"response_code_details":"x"}`, want: `response_code":503`, key: "503", noMatch: `{"response_code":200}`},
	{sig: "http_5xx", match: `"GET /checkout/v1/eligibility?id=89" 503 UC upstream_reset_before_response_started{connection_termination}`, want: "503", key: "503",
		attrs: []string{"response_code=503"}, noMatch: `Warning Unhealthy pod/api-1 Readiness probe failed: HTTP probe failed with statuscode: 503`},
	{sig: "http_5xx", match: `10.0.0.7 - - [21/Aug/2025:03:11:00 +0000] "POST /api/pay HTTP/1.1" 502 19`, want: `HTTP/1.1" 502`, noMatch: `"GET / HTTP/1.1" 200 512 5023`},
	{sig: "upstream_connect", match: `[2025-10-14T07:44:08.000Z] "GET /checkout/v1/eligibility?id=89 HTTP/1.1" 503 UC - "-" 0 95 9 -`, want: "UC",
		attrs:   []string{"response_flags=UC", "response_code=503", "upstream_cluster=inbound|8080||"},
		noMatch: `[2025-10-14T07:44:08.000Z] "GET /checkout/v1/eligibility?id=9999 HTTP/1.1" 404 - via_upstream - "-" 0 95 9 8`, noAttrs: []string{"response_flags=-", "response_code=404"}},
	{sig: "http_protocol_error", match: `[2025-10-14T09:47:12.000Z] "GET /checkout/v1/eligibility?id=89 HTTP/1.1" 502 UPE - "-" 0 87 3 -`, want: "UPE",
		attrs: []string{"response_flags=UPE"}, noMatch: `[2025-10-14T09:47:12.000Z] "GET /checkout/v1/eligibility?id=89 HTTP/1.1" 502 UF - "-" 0 87 3 -`,
		noAttrs: []string{"response_flags=UF"}},
	{sig: "request_dropped", match: `upstream prematurely closed connection while reading response header`, want: "upstream prematurely closed", noMatch: `upstream closed connection normally`},
	{sig: "slow_request", match: `{"level":30,"res":{"statusCode":200},"responseTime":6047.6,"msg":"request completed"}`, want: "6047.6",
		noMatch: `{"level":30,"res":{"statusCode":200},"responseTime":0.45,"msg":"request completed"}`},
	{sig: "slow_request", match: `INFO:app:Page rendered in 10.01 seconds.`, want: "10.01 seconds", noMatch: `INFO:app:Page rendered in 0.21 seconds.`},

	// Mesh: admin output as collectors/files writes it, and access logs
	// by their attributes.
	{sig: "cert_expired", match: `envoy /config_dump: secret default certificate chain 2 of 2 (CN=Skyline Mesh Intermediate CA prod-eu-1,O=Skyline Travel, issuer CN=Skyline Root CA 2024) EXPIRED at 2025-11-04T08:00:00Z, 1.4 hours ago`,
		want: "EXPIRED at", attrs: []string{"cert_status=expired", "subject=CN=Skyline Mesh Intermediate CA prod-eu-1,O=Skyline Travel", "not_after=2025-11-04T08:00:00Z"},
		key:     "CN=Skyline Mesh Intermediate CA prod-eu-1,O=Skyline Travel",
		noMatch: `envoy /config_dump: secret default certificate chain 1 of 2 (spiffe://cluster.local/ns/booking/sa/booking-api) expires 2025-11-04T22:10:44Z: 12.8 hours left of a 1.0-day lifetime`,
		noAttrs: []string{"cert_status=valid", "not_after=2025-11-04T22:10:44Z"}},
	{sig: "cert_expired", match: `linkerd-proxy /metrics: identity certificate EXPIRED at 2025-11-04T08:00:00Z, 1.4 hours ago`, want: "identity certificate EXPIRED at",
		noMatch: `linkerd-proxy /metrics: identity certificate expires 2025-11-05T08:00:00Z: 22.6 hours left`},
	{sig: "cert_expiring", match: `envoy /certs: cert_chain certificate serial 4e1f0b33 (booking.skyline.travel) expires 2025-11-07T06:31:49Z: EXPIRES WITHIN 7 DAYS, 2.9 days left of a 90.0-day lifetime`,
		want: "EXPIRES WITHIN 7 DAYS", attrs: []string{"cert_status=expiring"},
		noMatch: `envoy /certs: cert_chain certificate serial 5b68 (spiffe://cluster.local/ns/booking/sa/booking-api) expires 2025-11-04T22:10:44Z: 12.8 hours left of a 1.0-day lifetime`,
		noAttrs: []string{"cert_status=valid"}},
	{sig: "no_cert", match: `envoy /certs: no certificates loaded`, want: "no certificates loaded", noMatch: `envoy /certs: ca_cert certificate serial 7a2f9c41 expires 2034-10-26T09:12:00Z`},
	{sig: "no_cert", match: `envoy /config_dump: secret kubernetes://booking-tls WARMING: not yet delivered by SDS`, want: "not yet delivered by SDS",
		noMatch: `envoy /config_dump: secret ROOTCA trusted CA 1 of 1 (CN=Root) expires 2034-10-26T09:12:00Z`},
	{sig: "stats_explosion", match: `envoy /stats: 55265 stats; most by name: istio_requests_total 38148, cluster 493, http 58`, want: "55265 stats",
		attrs: []string{"stats_count=55265"}, noMatch: `envoy /stats: 601 stats; most by name: cluster 493, http 58, server 23`, noAttrs: []string{"stats_count=601"}},
	{sig: "stats_explosion", match: `55265`, want: "55265", prev: `$ kubectl -n search exec search-api-84c5f7d9b6-h6vnc -c istio-proxy -- pilot-agent request GET stats | wc -l`,
		noMatch: `55265`, noPrev: `$ kubectl -n search get pods | wc -l`},
	{sig: "stats_explosion", match: `scrape_samples_scraped{job="kubernetes-pods",pod="search-api-1"}: 629 samples 15:10:00–Jun 15 23:50:00 min=3497 median=27514 max=52402 at Jun 13 18:50:00`,
		want: "max=52402", noMatch: `scrape_samples_scraped{job="kubernetes-pods",pod="cart-api-1"}: 629 samples 15:10:00–Jun 15 23:50:00 min=3497 median=3614 max=4102 at Jun 13 18:50:00`},
	{sig: "stats_explosion", match: `linkerd-proxy /metrics: 48210 series in 96 metrics; most series: response_total 40000`, want: "48210 series",
		noMatch: `linkerd-proxy /metrics: 15 series in 8 metrics; most series: outbound_http_errors_total 3`},
	{sig: "metric_label_unbounded", match: `          value: request.url_path`, want: "value: request.url_path", noMatch: `          value: destination.service.name`},
	{sig: "proxy_memory", match: `envoy /memory: allocated 862.2 MiB, heap_size 949.0 MiB; heap is 92.7% of the container's 1Gi memory limit`, want: "92.7",
		attrs: []string{"limit_used_pct=92.7"}, noMatch: `envoy /memory: allocated 112.2 MiB, heap_size 140.0 MiB; heap is 13.7% of the container's 1Gi memory limit`,
		noAttrs: []string{"limit_used_pct=13.7"}},
	{sig: "pool_overflow", match: `envoy /stats: cluster outbound|8080||payments-api.payments.svc.cluster.local: upstream_rq_5xx 5815, upstream_rq_pending_overflow 5777, upstream_cx_overflow 11971, circuit_breakers.default.cx_open 1`,
		want: "upstream_rq_pending_overflow 5777", attrs: []string{"cluster=outbound|8080||payments-api.payments.svc.cluster.local"}, key: "outbound|8080||payments-api.payments.svc.cluster.local",
		noMatch: `envoy /stats: cluster outbound|8080||cart-api.cart.svc.cluster.local: upstream_rq_pending_overflow 0, circuit_breakers.default.cx_open 0, upstream_cx_active 3`},
	{sig: "pool_overflow", match: `cluster.outbound|8080||payments-api.payments.svc.cluster.local.upstream_cx_overflow: 11971`, want: "upstream_cx_overflow: 11971",
		key: "outbound|8080||payments-api.payments.svc.cluster.local", noMatch: `cluster.outbound|8080||payments-api.payments.svc.cluster.local.upstream_cx_overflow: 0`},
	{sig: "pool_limit", match: `envoy /clusters: cluster outbound|8080||payments-api.payments.svc.cluster.local: 12 hosts, 12 healthy; circuit breakers max_connections=8 max_pending_requests=4 max_requests=4294967295 (below Envoy's defaults)`,
		want: "circuit breakers max_connections=8", attrs: []string{"cluster=outbound|8080||payments-api.payments.svc.cluster.local"}, key: "outbound|8080||payments-api.payments.svc.cluster.local",
		noMatch: `envoy /config_dump: cluster httproute/aibrix-system/llama2-7b-router/rule/0 (EDS, LEAST_REQUEST); circuit breakers max_retries=1024; updated 2025-08-21T03:49:16.201Z`},
	{sig: "pool_limit", match: `envoy /config_dump: cluster outbound|8080||payments-api.payments.svc.cluster.local (EDS, LEAST_REQUEST); circuit breakers max_connections=8 max_pending_requests=4 max_requests=4294967295`,
		want: "max_connections=8", noMatch: `envoy /config_dump: cluster outbound|8080||cart-api.cart.svc.cluster.local (EDS, LEAST_REQUEST); circuit breakers max_connections=4294967295 max_pending_requests=4294967295`},
	{sig: "upstream_overflow", match: `"POST /v1/authorizations HTTP/1.1" 503 UO upstream_reset_before_response_started{overflow} - "-" 436 81 1251 -`, want: "overflow",
		attrs:   []string{"response_flags=UO", "response_code=503", "upstream_cluster=outbound|8080||payments-api.payments.svc.cluster.local"},
		noMatch: `"POST /v1/authorizations HTTP/1.1" 201 - via_upstream - "-" 435 322 211 209`, noAttrs: []string{"response_flags=-", "response_code=201"}},
	{sig: "no_route", match: `"GET /v2/items HTTP/1.1" 404 NR route_not_found - "-" 0 0 0 -`, want: "route_not_found",
		attrs: []string{"response_flags=NR", "response_code=404"}, noMatch: `"GET /v2/items HTTP/1.1" 404 - via_upstream - "-" 0 0 3 2`, noAttrs: []string{"response_flags=-", "response_code=404"}},
	{sig: "no_endpoints", match: `envoy /stats: cluster original_destination_cluster: upstream_cx_none_healthy 114, upstream_rq_total 502, membership_healthy 0, membership_total 0`,
		want: "upstream_cx_none_healthy 114", attrs: []string{"cluster=original_destination_cluster"}, key: "original_destination_cluster",
		noMatch: `envoy /stats: cluster outbound|8080||api.shop.svc.cluster.local: upstream_cx_none_healthy 0, membership_healthy 3, membership_total 3`},
	{sig: "proxy_rejected_response", match: `envoy /stats: cluster inbound|8080||: upstream_rq_5xx 686, upstream_rq_503 686, upstream_cx_destroy_local_with_active_rq 686, upstream_cx_protocol_error 686`,
		want: "upstream_cx_destroy_local_with_active_rq 686", noMatch: `envoy /stats: cluster inbound|8080||: upstream_cx_destroy_local_with_active_rq 12, upstream_cx_active 2`},
	{sig: "upstream_closed", match: `envoy /stats: cluster outbound|9200||elasticsearch.search-data.svc.cluster.local: upstream_cx_destroy_remote_with_active_rq 31, upstream_cx_active 4`,
		want: "upstream_cx_destroy_remote_with_active_rq 31", noMatch: `envoy /stats: cluster xds-grpc: upstream_cx_destroy_remote_with_active_rq 46, upstream_cx_active 1`},
	{sig: "outlier_ejection", match: `envoy /clusters: cluster outbound|8080||eligibility-api.eligibility.svc.cluster.local: 3 hosts, 1 healthy, not healthy: 10.244.3.52:8080 /failed_outlier_check`,
		want: "/failed_outlier_check", noMatch: `envoy /clusters: cluster outbound|8080||eligibility-api.eligibility.svc.cluster.local: 3 hosts, 3 healthy`},
	{sig: "policy_rejected", match: `EnvoyExtensionPolicy aibrix-system/aibrix-gateway-plugins-extension-policy Accepted=False reason=Invalid: Wasm: wasm cache is not initialized.`,
		want: "Accepted=False", key: "aibrix-system/aibrix-gateway-plugins-extension-policy",
		noMatch: `EnvoyExtensionPolicy aibrix-system/aibrix-gateway-plugins-extension-policy Accepted=True reason=Accepted: Policy has been accepted.`},
	{sig: "xds_rejected", match: `envoy /config_dump: listener aibrix-system/aibrix-eg/http update REJECTED at 2025-08-21T03:22:49.301Z: Proto constraint validation failed`,
		want: "update REJECTED", key: "aibrix-system/aibrix-eg/http",
		noMatch: `envoy /config_dump: 5 clusters (1 static, 1 warming), 1 listener (0 with a rejected update), 1 route config with 4 routes`},
	{sig: "xds_rejected", match: `envoy /stats: proxy cluster_manager.cds.update_rejected 3, listener_manager.lds.update_rejected 0`, want: "cds.update_rejected 3",
		noMatch: `envoy /stats: proxy cluster_manager.cds.update_rejected 0, listener_manager.lds.update_rejected 0`},
	{sig: "proxy_stale", match: `istiod /debug/syncz: proxy booking-api-7b9c5d8f6-f2kmw.booking (1.22.3): CDS STALE, LDS STALE, EDS STALE, RDS STALE, ECDS NOT SENT`,
		want: "STALE", key: "booking-api-7b9c5d8f6-f2kmw.booking", attrs: []string{"sync=stale"},
		noMatch: `istiod /debug/syncz: 7 proxies connected: 7 SYNCED, 0 STALE, 0 with nothing sent`},
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
			mt, ok := findLine(sc, tt.match, attrMap(tt.attrs), tt.prev, tt.sig)
			switch {
			case !ok:
				t.Errorf("%q does not show %s; it shows %v", tt.match, tt.sig, names(sc.scanLine(tt.match, attrMap(tt.attrs), tt.prev, nil)))
			case !strings.Contains(tt.match[mt.start:mt.end], tt.want):
				t.Errorf("%s quotes %q of %q, want a span with %q", tt.sig, tt.match[mt.start:mt.end], tt.match, tt.want)
			case tt.key != "" && mt.key != tt.key:
				t.Errorf("%s names %q in %q, want %q", tt.sig, mt.key, tt.match, tt.key)
			}
			if _, ok := findLine(sc, tt.noMatch, attrMap(tt.noAttrs), tt.noPrev, tt.sig); ok {
				t.Errorf("%s matches the near miss %q %v", tt.sig, tt.noMatch, tt.noAttrs)
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

func findLine(sc *scanner, text string, attrs map[string]string, prev, sig string) (match, bool) {
	for _, mt := range sc.scanLine(text, attrs, prev, nil) {
		if mt.m.Name == sig {
			return mt, true
		}
	}
	return match{}, false
}

func attrMap(kvs []string) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
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
		{"threshold without a number group", []Signature{{Name: "a", Patterns: []Pattern{{Expr: "stats", Need: []string{"stats"}, Min: 20000}}}}},
		{"broken line-before expression", []Signature{{Name: "a", Patterns: []Pattern{{Expr: `(?P<n>\d+)`, Min: 1, Prev: "("}}}}},
		{"attribute match without a value", []Signature{{Name: "a", Attrs: []AttrMatch{{Attr: "response_flags"}}}}},
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
		// A suffix with characters Kubernetes' generator leaves out,
		// after a template hash, is still the pod's suffix.
		"search-api-84c5f7d9b6-t3bqs": "search-api",
		"nginx":                       "nginx",
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

// TestEffectNamesTheSameThing checks that a failure that only matters next
// to what it explains (a cluster with no hosts) counts only for the
// symptom of the same cluster: Istio's BlackHoleCluster always has none.
func TestEffectNamesTheSameThing(t *testing.T) {
	pod := map[string]string{"namespace": "gw", "pod": "envoy-7c8dd7d4b9-64w68"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range pod {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	lines := []causeway.Line{
		{Num: 1, Source: "mesh/clusters.txt", Kind: causeway.LineStatus, Text: "envoy /clusters: cluster BlackHoleCluster: 0 hosts, 0 healthy", Attrs: with("cluster", "BlackHoleCluster")},
		{Num: 2, Source: "mesh/clusters.txt", Kind: causeway.LineStatus, Text: "envoy /clusters: cluster original_destination_cluster: 0 hosts, 0 healthy", Attrs: with("cluster", "original_destination_cluster")},
	}
	for i := range 3 {
		lines = append(lines, causeway.Line{Num: int64(3 + i), Source: "logs/envoy.log", Kind: causeway.LineLog, Time: base.Add(time.Duration(i) * time.Minute),
			Text:  `"POST /v1/chat/completions HTTP/1.1" 503 UH no_healthy_upstream - "-" 0 19 0 -`,
			Attrs: with("response_flags", "UH", "response_code", "503", "upstream_cluster", "original_destination_cluster")})
	}
	pack := &causeway.Pack{Lines: lines, Sources: []causeway.PackSource{{Name: "mesh/clusters.txt", Kind: causeway.KindMeshAdmin}, {Name: "logs/envoy.log", Kind: causeway.KindPodLog}}}
	ev, err := New().scan(context.Background(), pack)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range ev.candidates {
		if c.sig.Name == "no_endpoints" {
			keys = append(keys, c.best.key)
		}
	}
	if !slices.Equal(keys, []string{"original_destination_cluster"}) {
		t.Errorf("no_endpoints candidates are about %v, want only original_destination_cluster", keys)
	}
}

// TestSnapshotsAreNotTimed checks that admin output read after the fact
// does not place a failure in time, and that a timed log line of the same
// failure is the one cited.
func TestSnapshotsAreNotTimed(t *testing.T) {
	attrs := map[string]string{"namespace": "checkout", "pod": "checkout-gateway-7c9f6d8b5-xk2lp", "cluster": "inbound|8080||"}
	lines := []causeway.Line{
		{Num: 1, Source: "mesh/stats.txt", Kind: causeway.LineStatus, Time: base.Add(3 * time.Hour), Attrs: attrs,
			Text: "envoy /stats: cluster inbound|8080||: upstream_rq_5xx 686, upstream_cx_destroy_local_with_active_rq 686, upstream_cx_protocol_error 686"},
		{Num: 2, Source: "logs/proxy.log", Kind: causeway.LineLog, Time: base.Add(time.Minute), Attrs: attrs,
			Text: "debug envoy client [C4103] Error dispatching received data: http/1.1 protocol error: unsupported transfer encoding"},
	}
	pack := &causeway.Pack{Lines: lines, Sources: []causeway.PackSource{{Name: "mesh/stats.txt", Kind: causeway.KindMeshAdmin}, {Name: "logs/proxy.log", Kind: causeway.KindPodLog}}}
	ev, err := New().scan(context.Background(), pack)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ev.candidates {
		switch c.sig.Name {
		case "proxy_rejected_response":
			if !c.first.IsZero() {
				t.Errorf("the /stats counter places %s at %v; a snapshot has no time", c.sig.Name, c.first)
			}
		case "http_protocol_error":
			if c.lead.line.Num != 2 || !c.first.Equal(base.Add(time.Minute)) {
				t.Errorf("%s leads with L%d at %v, want the timed log line L2", c.sig.Name, c.lead.line.Num, c.first)
			}
		}
	}
}

func TestServiceOf(t *testing.T) {
	tests := []struct{ key, name, ns string }{
		{"outbound|8080||payments-api.payments.svc.cluster.local", "payments-api", "payments"},
		{"outbound|9080|v2|reviews.bookinfo.svc.cluster.local", "reviews", "bookinfo"},
		{"payments-api", "payments-api", ""},
		{"httproute/aibrix-system/llama2-7b-router/rule/0", "", ""}, // a route, not a service
	}
	for _, tt := range tests {
		if name, ns := serviceOf(tt.key); name != tt.name || ns != tt.ns {
			t.Errorf("serviceOf(%q) = %q, %q; want %q, %q", tt.key, name, ns, tt.name, tt.ns)
		}
	}
}
