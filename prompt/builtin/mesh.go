package builtin

// meshSignatures are the failures Envoy, Istio, Envoy Gateway and Linkerd
// report: in proxy admin output (the mesh-admin lines, prefixed "envoy
// /stats:", "envoy /certs:", "istiod /debug/syncz:"...), in access logs by
// their parsed attributes (response_flags, response_code_details), and in
// control-plane logs and object status.
var meshSignatures = []Signature{
	// Certificates.
	{
		Name: "cert_expired", Category: Cause, Family: "cert", Layer: LayerDependency, Weight: 9,
		Summary: "expired certificate",
		Phrases: []string{"identity certificate expired at"},
		Patterns: []Pattern{
			{Expr: `^envoy /(?:certs|config_dump): .*\bexpired at\b`, Need: []string{"expired at"}},
		},
		Attrs: []AttrMatch{{Attr: "cert_status", Any: []string{"expired"}}},
		// The certificate's subject names it best; a /certs dump of a
		// workload certificate has only the secret.
		KeyAttrs: []string{"subject", "secret"},
		AtAttr:   "not_after",
		Aliases:  []string{"certificate", "cert ", "expired", "expiry", "x509", "tls", "mtls"},
		Explains: []string{"cert_invalid", "no_cert", "upstream_connect", "conn_failure", "probe_failed", "condition_false", "proxy_stale"},
		Remediation: []string{
			"Issue a new certificate from a CA that is still valid (for a mesh CA: a new intermediate in the CA secret, e.g. istio-system/cacerts), restart the control plane so that it signs with it, then restart the workloads so that they get new certificates.",
			"Alert on certificate expiry well ahead of time (for Istio: citadel_server_cert_chain_expiry_timestamp; for Envoy: /certs days_until_expiration).",
		},
	},
	{
		Name: "cert_expiring", Category: Hint, Family: "cert", Layer: LayerDependency, Weight: 3,
		Summary:  "certificate expires within 7 days",
		Phrases:  []string{"expires within 7 days"},
		Attrs:    []AttrMatch{{Attr: "cert_status", Any: []string{"expiring"}}},
		KeyAttrs: []string{"subject", "secret"},
		AtAttr:   "not_after",
		Aliases:  []string{"expiring", "expires soon"},
	},
	{
		Name: "no_cert", Category: State, Family: "cert", Layer: LayerDependency, Weight: 5,
		Summary: "proxy has no certificate",
		Phrases: []string{"envoy /certs: no certificates loaded"},
		Patterns: []Pattern{
			{Expr: `secret \S+ warming: not yet delivered by sds`, Need: []string{"not yet delivered by sds"}},
		},
		Aliases:     []string{"no certificate", "sds"},
		Explains:    []string{"upstream_connect", "conn_failure", "probe_failed", "cert_invalid"},
		Remediation: []string{"Find why the proxy gets no certificate from its agent (SDS): the agent's log, its connection to the control plane, and the CA that should sign it."},
	},
	// Memory and stats.
	{
		Name: "stats_explosion", Category: Cause, Layer: LayerResource, Weight: 7, Snapshot: true,
		Summary: "proxy stats explosion (too many metric series)",
		Patterns: []Pattern{
			{Expr: `^envoy /stats: (?P<n>\d+) stats; most by name`, Need: []string{"stats; most by name"}, Min: 20000},
			{Expr: `/metrics: (?P<n>\d+) series`, Need: []string{" series"}, Min: 20000},
			// The series one pod exposes to Prometheus, sidecar stats
			// included.
			{Expr: `scrape_samples_scraped\S*.*\bmax=(?P<n>\d+)`, Need: []string{"scrape_samples_scraped"}, Min: 20000},
			// Command output: the count under "... stats | wc -l".
			{Expr: `^\s*(?P<n>\d[\d,]*)\s*$`, Min: 20000, Prev: `\b(?:stats|metrics)\b.*\|\s*(?:wc -l|grep -c)`},
		},
		Attrs:    []AttrMatch{{Attr: "stats_count", Min: 20000}},
		Aliases:  []string{"stats", "cardinality", "metric series", "time series"},
		Explains: []string{"memory_leak", "proxy_memory", "oom_killed"},
		Remediation: []string{
			"Cut the metric cardinality at its source: remove the label that takes unbounded values (an Istio Telemetry tagOverride on the request path, an inclusion in proxyStatsMatcher), then restart the proxies to free the stats they hold.",
		},
	},
	{
		// A metric label filled from the request path makes a new series
		// for every distinct path: Istio's documentation warns against it.
		// Configuration, but it acts on a proxy's memory: it sits in the
		// resource layer, below what it fills up.
		Name: "metric_label_unbounded", Category: Cause, Layer: LayerResource, Weight: 6, Snapshot: true,
		Summary: "metric label set from the request path (unbounded stats cardinality)",
		Patterns: []Pattern{
			{Expr: `^\s*value:\s*"?request\.(?:url_path|path)\b`, Need: []string{"request.url_path", "request.path"}},
			{Expr: `"value"\s*:\s*"request\.(?:url_path|path)"`, Need: []string{"request.url_path", "request.path"}},
		},
		Owners:   []string{"Telemetry"},
		Aliases:  []string{"tagoverride", "request_path", "telemetry"},
		Explains: []string{"stats_explosion"},
		Remediation: []string{
			"Remove the request-path tag from the Telemetry resource (or map it to a route template with few values), then restart the sidecars to drop the stats they hold.",
		},
	},
	{
		Name: "proxy_memory", Category: Cause, Local: true, Family: "memory", Layer: LayerResource, Weight: 6, Snapshot: true,
		Summary: "proxy memory near its container limit",
		Patterns: []Pattern{
			{Expr: `heap is (?P<n>\d+(?:\.\d+)?)% of the container's`, Need: []string{"% of the container's"}, Min: 80},
		},
		Attrs:       []AttrMatch{{Attr: "limit_used_pct", Min: 80}},
		Aliases:     []string{"proxy memory", "sidecar memory", "envoy memory"},
		Explains:    []string{"oom_killed"},
		Remediation: []string{"Find what the proxy's memory holds (its stats count, clusters, listeners: /memory, /stats, /config_dump) and cut it; a larger limit only delays the OOM kill."},
	},
	// Connection pools and circuit breakers.
	{
		Name: "pool_overflow", Category: Cause, Family: "pool", Layer: LayerNetwork, Weight: 7,
		Summary: "proxy connection pool overflowing (circuit breaker open)",
		Patterns: []Pattern{
			{Expr: `upstream_rq_pending_overflow"?[ :=]+[1-9]\d*`, Need: []string{"upstream_rq_pending_overflow"}},
			{Expr: `upstream_cx_overflow"?[ :=]+[1-9]\d*`, Need: []string{"upstream_cx_overflow"}},
			{Expr: `circuit_breakers\.default\.(?:cx_open|rq_pending_open)"?[ :=]+1\b`, Need: []string{"circuit_breakers.default."}},
			{Expr: `cluster\.(?P<key>\S+?)\.upstream_(?:rq_pending|cx)_overflow`, Need: []string{"_overflow"}, KeyOnly: true},
		},
		KeyAttrs: []string{"cluster", "upstream_cluster"},
		Aliases:  []string{"overflow", "pending overflow", "circuit breaker", "circuit breaking"},
		Explains: []string{"upstream_overflow", "http_5xx", "timeout", "slow_request"},
		Remediation: []string{
			"Raise the connection-pool limits of the overflowing cluster to fit peak concurrency per calling proxy (Istio DestinationRule trafficPolicy.connectionPool, Envoy Gateway BackendTrafficPolicy circuitBreaker); scaling the upstream does not help, the limit is per caller.",
		},
	},
	{
		Name: "pool_limit", Category: Cause, Layer: LayerControl, Weight: 7, Snapshot: true,
		Summary: "connection pool limits too low for the load (circuit breaker)",
		Patterns: []Pattern{
			{Expr: `circuit breakers max_connections=(?P<n>\d+) .*\(below envoy's defaults\)`, Need: []string{"circuit breakers max_connections="}},
			{Expr: `circuit breakers max_connections=(?P<n>\d{1,3}) `, Need: []string{"circuit breakers max_connections="}},
			{Expr: `"maxconnections"\s*:\s*(?P<n>\d{1,3})\b`, Need: []string{`"maxconnections"`}},
			{Expr: `^\s*maxconnections:\s*(?P<n>\d{1,3})\s*$`, Need: []string{"maxconnections:"}},
		},
		KeyAttrs: []string{"cluster"},
		Owners:   []string{"DestinationRule", "BackendTrafficPolicy"},
		Aliases:  []string{"connection pool", "connectionpool", "maxconnections", "circuit breaker", "destinationrule"},
		Explains: []string{"pool_overflow", "upstream_overflow", "http_5xx"},
		Remediation: []string{
			"Raise or remove the connection-pool limits (maxConnections, http1MaxPendingRequests, maxRequestsPerConnection) so that they fit peak concurrency per calling proxy, then watch upstream_rq_pending_overflow stop growing.",
		},
	},
	{
		Name: "upstream_overflow", Remote: true, Category: Symptom, Layer: LayerUser, Weight: 6,
		Summary: "requests rejected by the proxy's circuit breaker (503 UO)",
		Phrases: []string{"reset reason: overflow", "upstream_reset_before_response_started{overflow}"},
		Attrs: []AttrMatch{
			{Attr: "response_flags", Any: []string{"UO"}},
			{Attr: "response_code_details", Contains: []string{"{overflow}"}},
		},
		KeyAttrs: []string{"upstream_cluster"},
		Aliases:  []string{"overflow", "uo"},
		Explains: []string{"http_5xx"},
	},
	// Routes and endpoints.
	{
		Name: "no_route", Remote: true, Category: Symptom, Layer: LayerUser, Weight: 5,
		Summary:  "no route matched the request (404 NR)",
		Phrases:  []string{"route_not_found"},
		Attrs:    []AttrMatch{{Attr: "response_flags", Any: []string{"NR"}}},
		KeyAttrs: []string{"route"},
		Aliases:  []string{"no route", "route not found", "404"},
	},
	{
		Name: "no_endpoints", Category: State, Layer: LayerNetwork, Weight: 5, NeedsEffect: true,
		Summary: "cluster has no healthy endpoint",
		Patterns: []Pattern{
			{Expr: `upstream_cx_none_healthy"?[ :=]+[1-9]\d*`, Need: []string{"upstream_cx_none_healthy"}},
			{Expr: `^envoy /clusters: cluster \S+: 0 hosts\b`, Need: []string{": 0 hosts"}},
			{Expr: `membership_healthy"?[ :=]+0\b`, Need: []string{"membership_healthy"}},
		},
		KeyAttrs:    []string{"cluster"},
		Explains:    []string{"no_healthy_upstream"},
		Remediation: []string{"Find why the cluster has no endpoint: the service's selector and ready pods, or for an original-destination cluster the header or filter that should set the destination."},
	},
	// Resets and protocol errors.
	{
		Name: "proxy_rejected_response", Category: Cause, Family: "protocol", Layer: LayerNetwork, Weight: 7,
		Summary: "proxy rejected the upstream's response (HTTP protocol error) and reset the connection",
		Patterns: []Pattern{
			{Expr: `upstream_cx_destroy_local_with_active_rq"?[ :=]+[1-9]\d*.*upstream_cx_protocol_error"?[ :=]+[1-9]\d*`, Need: []string{"upstream_cx_destroy_local_with_active_rq"}},
			{Expr: `upstream_cx_protocol_error"?[ :=]+[1-9]\d*.*upstream_cx_destroy_local_with_active_rq"?[ :=]+[1-9]\d*`, Need: []string{"upstream_cx_protocol_error"}},
		},
		KeyAttrs:    []string{"cluster"},
		Explains:    []string{"upstream_connect", "http_5xx"},
		Remediation: []string{"Find which response header the proxy rejects (its debug log names the codec error) and make the application send a well-formed response: no hop-by-hop or duplicate framing headers copied from another response."},
	},
	{
		// The control plane's own gRPC streams (xDS, SDS) are closed and
		// reopened all the time; data-plane clusters losing requests is
		// the finding.
		Name: "upstream_closed", Remote: true, Category: State, Layer: LayerNetwork, Weight: 3,
		Summary:  "upstream closed connections with requests in flight",
		Patterns: []Pattern{{Expr: `upstream_cx_destroy_remote_with_active_rq"?[ :=]+[1-9]\d*`, Need: []string{"upstream_cx_destroy_remote_with_active_rq"}}},
		Not:      []string{`cluster (?:xds-grpc|xds_cluster|sds-grpc)\b`},
		KeyAttrs: []string{"cluster"},
		Explains: []string{"upstream_connect", "http_5xx"},
	},
	{
		Name: "outlier_ejection", Remote: true, Category: State, Layer: LayerNetwork, Weight: 4,
		Summary: "hosts ejected by outlier detection",
		Patterns: []Pattern{
			{Expr: `/failed_outlier_check`, Need: []string{"/failed_outlier_check"}},
			{Expr: `outlier_detection\.ejections_active"?[ :=]+[1-9]\d*`, Need: []string{"outlier_detection.ejections_active"}},
		},
		KeyAttrs: []string{"cluster"},
		Explains: []string{"no_healthy_upstream", "upstream_connect"},
	},
	// Configuration the proxies or their controllers reject.
	{
		Name: "policy_rejected", Category: Cause, Family: "condition", Layer: LayerControl, Weight: 7,
		Summary: "gateway policy not accepted",
		Patterns: []Pattern{
			{Expr: `\b(?:envoyextensionpolicy|envoypatchpolicy|securitypolicy|backendtrafficpolicy|clienttrafficpolicy) (?P<key>\S+) (?:condition )?accepted=false`,
				Need: []string{"accepted=false"}},
		},
		Aliases:     []string{"policy", "extension policy"},
		Explains:    []string{"no_healthy_upstream", "no_route", "upstream_connect", "http_5xx"},
		Remediation: []string{"Fix what the policy's Accepted=False condition names (its reason and message), then confirm the condition turns True and the proxy's configuration carries the policy again."},
	},
	{
		Name: "xds_rejected", Category: Cause, Layer: LayerControl, Weight: 7,
		Summary: "proxy rejected its configuration (xDS update rejected)",
		Patterns: []Pattern{
			{Expr: `listener (?P<key>\S+) update rejected`, Need: []string{"update rejected"}},
			{Expr: `(?:cds|lds)\.update_rejected"?[ :=]+[1-9]\d*`, Need: []string{"update_rejected"}},
		},
		Aliases:     []string{"xds", "rejected config", "nack"},
		Explains:    []string{"no_route", "no_healthy_upstream", "upstream_connect", "http_5xx"},
		Remediation: []string{"Read the rejection's message (the proxy's log or the control plane's ACK ERROR) and fix the resource that produces the invalid configuration, then confirm update_rejected stops growing."},
	},
	{
		Name: "proxy_stale", Category: State, Layer: LayerControl, Weight: 4,
		Summary: "proxy configuration out of sync (STALE)",
		Patterns: []Pattern{
			{Expr: `^istiod /debug/syncz: proxy (?P<key>\S+) .*\bstale\b`, Need: []string{"istiod /debug/syncz: proxy"}},
		},
		Attrs:       []AttrMatch{{Attr: "sync", Any: []string{"stale"}}},
		Aliases:     []string{"stale", "out of sync", "proxy-status"},
		Remediation: []string{"Find why the proxy does not acknowledge the control plane's configuration (its connection to istiod, rejected updates in its log) and restart it once the cause is fixed."},
	},
}
