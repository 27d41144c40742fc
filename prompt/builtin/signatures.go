package builtin

import (
	"fmt"
	"regexp"
	"strings"
)

// Category says what part a signature's lines play in an incident.
type Category string

// The categories of signature.
const (
	// Cause marks a fault that can explain other failures; only causes
	// are candidates for the root cause.
	Cause Category = "cause"
	// Symptom marks what users or clients see fail.
	Symptom Category = "symptom"
	// Hint marks context that may sit on the causal chain but explains
	// nothing by itself, such as a scaling event.
	Hint Category = "hint"
)

// Layer places a signature in the stack, from the machine up to the user.
// Faults propagate upwards, so a causal chain runs in layer order and a
// lower layer is the likelier root cause of the same symptom.
type Layer int

// The layers, lowest first.
const (
	LayerInfra    Layer = iota // disks, memory, kernel, DNS, certificates
	LayerWorkload              // processes, containers, pods, pools, leases
	LayerConfig                // configuration and object status conditions
	LayerNetwork               // connections between components
	LayerUser                  // responses clients see
)

// Signature is one known failure pattern, as data: what it looks like in a
// line, how much it weighs, and what to do about it.
type Signature struct {
	Name     string
	Category Category
	Layer    Layer
	// Weight is how strongly one matching line suggests the failure, 1-10.
	Weight float64
	// Local marks failures confined to one pod (an OOM kill, a crash): in
	// a namespace where nothing else fails they cannot explain a symptom
	// elsewhere. Node- and control-plane-wide failures are not local; they
	// are exactly the ones that surface three components away.
	Local bool
	// Family groups signatures that are one failure seen two ways (a full
	// disk and the node's DiskPressure): they corroborate each other rather
	// than compete or form a chain.
	Family string
	// Summary names the failure in an answer, e.g. "disk full".
	Summary string
	// Phrases are matched as case-insensitive substrings.
	Phrases []string
	// Patterns are case-insensitive regular expressions for what a phrase
	// cannot express.
	Patterns    []Pattern
	Remediation []string
}

// Pattern is a regular expression with substrings of which one must be in
// the line (case-insensitively) before the expression is tried, which keeps
// the scan of a million-token pack fast.
type Pattern struct {
	Expr string
	Need []string
}

// Signatures is the builtin table of failure signatures of Kubernetes,
// service meshes and the services that run on them.
var Signatures = []Signature{
	{
		Name: "disk_full", Category: Cause, Family: "disk", Layer: LayerInfra, Weight: 10,
		Summary: "disk full (no space left on device)",
		Phrases: []string{"no space left on device", "disk full", "disk is full", "filesystem is full", "file system is full",
			"enospc", "disk quota exceeded", "not enough space on the disk", "insufficient disk space", "out of disk space"},
		Patterns: []Pattern{
			// df output: "/dev/sda1 59G 59G 0 100% /"
			{Expr: `\s(9[5-9]|100)%\s+/\S*\s*$`, Need: []string{"%"}},
		},
		Remediation: []string{
			"Free space on the full filesystem (prune unused images, containers, volumes and old logs) and alert when its usage passes 85%.",
			"Restart the components that failed while the disk was full so that they recreate what they could not write, then confirm their status conditions recover.",
		},
	},
	{
		Name: "disk_pressure", Category: Cause, Family: "disk", Layer: LayerInfra, Weight: 8,
		Summary: "node disk pressure",
		Phrases: []string{"diskpressure", "disk pressure", "low on resource: ephemeral-storage", "reclaim ephemeral-storage",
			"nodefs.available", "imagefs.available", "freeing disk space"},
		Remediation: []string{"Free disk space on the node (images, container logs, emptyDir volumes) and set ephemeral-storage requests and limits on the heavy pods."},
	},
	{
		Name: "oom_killed", Category: Cause, Local: true, Family: "memory", Layer: LayerInfra, Weight: 8,
		Summary: "container killed for running out of memory (OOMKilled)",
		Phrases: []string{"oomkilled", "oom-kill", "oom killer", "oom_kill", "out of memory", "memory cgroup out of memory",
			"java.lang.outofmemoryerror", "cannot allocate memory"},
		Patterns: []Pattern{
			{Expr: `exit(ed)?[ _-]?(code|status)?["']?\s*[:=]?\s*137\b`, Need: []string{"137"}},
		},
		Remediation: []string{"Raise the container's memory limit or reduce its memory use (heap size, caches, batch sizes), and alert on working-set memory near the limit."},
	},
	{
		Name: "fsync_slow", Category: Cause, Layer: LayerInfra, Weight: 6,
		Summary:     "slow disk writes (fsync)",
		Phrases:     []string{"slow fdatasync", "fsync took", "wal fsync", "fsync duration", "apply request took too long", "slow disk", "disk latency is high"},
		Remediation: []string{"Move the data directory to faster, dedicated storage and check the disk's latency and IOPS limits."},
	},
	{
		Name: "conntrack_full", Category: Cause, Layer: LayerInfra, Weight: 8,
		Summary:     "conntrack table full",
		Phrases:     []string{"nf_conntrack: table full", "conntrack table full", "nf_conntrack: dropping packet"},
		Remediation: []string{"Raise net.netfilter.nf_conntrack_max on the nodes and look for the client opening short-lived connections at a high rate."},
	},
	{
		Name: "dns_failure", Category: Cause, Layer: LayerInfra, Weight: 7,
		Summary: "DNS resolution failure",
		Phrases: []string{"nxdomain", "no such host", "temporary failure in name resolution", "name or service not known",
			"could not resolve host", "server misbehaving", "dns resolution failed", "getaddrinfo enotfound", "unknownhostexception"},
		Remediation: []string{"Check the DNS servers (CoreDNS pods, their logs and upstreams) and the exact name being resolved, including its search domains."},
	},
	{
		Name: "cert_invalid", Category: Cause, Layer: LayerInfra, Weight: 8,
		Summary: "expired or untrusted TLS certificate",
		Phrases: []string{"x509:", "certificate has expired", "certificate expired", "certificate is not yet valid", "certificate verify failed",
			"unknown certificate authority", "certificate signed by unknown authority", "tls: bad certificate", "certificate_expired"},
		Remediation: []string{"Renew or re-issue the certificate (and the CA bundle the clients trust), then alert on certificate expiry well ahead of time."},
	},
	{
		Name: "image_pull", Category: Cause, Local: true, Layer: LayerWorkload, Weight: 7,
		Summary:     "image pull failure",
		Phrases:     []string{"imagepullbackoff", "errimagepull", "failed to pull image", "manifest unknown", "pull access denied", "back-off pulling image"},
		Remediation: []string{"Fix the image reference or the registry credentials (imagePullSecrets), and check that the registry is reachable from the nodes."},
	},
	{
		Name: "evicted", Category: Cause, Local: true, Layer: LayerWorkload, Weight: 6,
		Summary:     "pod evicted",
		Phrases:     []string{"the node was low on resource", "pod evicted", "was evicted", "evicting pod", "reason=evicted", "reason: evicted", `"reason":"evicted"`},
		Remediation: []string{"Find the resource the node ran low on and give the evicted pods requests that match their use."},
	},
	{
		Name: "process_crash", Category: Cause, Local: true, Layer: LayerWorkload, Weight: 6,
		Summary: "process crash",
		Phrases: []string{"panic:", "fatal error:", "segmentation fault", "sigsegv", "traceback (most recent call last)", "unhandled exception",
			`exception in thread "main"`, "core dumped"},
		Patterns: []Pattern{
			{Expr: `\bfatal\b.*\b(config|configuration|startup|initiali[sz]e|missing)`, Need: []string{"fatal"}},
		},
		Remediation: []string{"Fix the crash shown in the container's last log lines (kubectl logs --previous), then roll the fix out."},
	},
	{
		Name: "crashloop", Category: Cause, Local: true, Layer: LayerWorkload, Weight: 5,
		Summary:     "container in CrashLoopBackOff",
		Phrases:     []string{"crashloopbackoff", "back-off restarting failed container"},
		Remediation: []string{"Read the crashing container's previous logs (kubectl logs --previous) and its last termination reason to find why it exits."},
	},
	{
		Name: "leader_lost", Category: Cause, Layer: LayerWorkload, Weight: 6,
		Summary:     "leader election lost",
		Phrases:     []string{"leaderelection lost", "leader election lost", "lost leadership", "failed to renew lease", "stopped leading", "lost lease"},
		Remediation: []string{"Check the API server's and etcd's latency at that time and the lease settings (renew deadline) of the controller."},
	},
	{
		Name: "pool_exhausted", Category: Cause, Layer: LayerWorkload, Weight: 7,
		Summary: "connection pool exhausted",
		Phrases: []string{"too many connections", "remaining connection slots are reserved", "connection pool exhausted", "pool exhausted",
			"timeout waiting for connection from pool", "could not obtain connection", "unable to acquire connection", "too many clients already"},
		Remediation: []string{"Size the connection pools against the server's max_connections across all replicas, or put a pooler in front of the server."},
	},
	{
		Name: "shutdown", Category: Cause, Local: true, Layer: LayerWorkload, Weight: 5,
		Summary: "pods terminated (SIGTERM) while serving requests",
		Phrases: []string{"sigterm", "received signal terminated", "signal: terminated", "graceful shutdown timed out", "grace period expired",
			"exceeded grace period", "forcibly killed", "killing container with a grace period"},
		Remediation: []string{"Make terminationGracePeriodSeconds longer than the longest request and add a preStop delay so that endpoints are removed before the process stops."},
	},
	{
		Name: "scale_event", Category: Hint, Layer: LayerInfra, Weight: 3,
		Summary:     "autoscaler changed the replica count",
		Phrases:     []string{"successfulrescale", "new size:", "scaled down replica set", "scaled up replica set"},
		Remediation: []string{"Check the autoscaler's scale-down behaviour (stabilization window, policies) against the workload's request durations."},
	},
	{
		Name: "probe_failed", Category: Cause, Local: true, Layer: LayerConfig, Weight: 4,
		Summary:     "health probe failing",
		Phrases:     []string{"liveness probe failed", "readiness probe failed", "startup probe failed", "probe failed"},
		Remediation: []string{"Find why the probed endpoint fails or is slow, and check the probe's timeout and threshold against the application's startup and load."},
	},
	{
		Name: "config_rejected", Category: Cause, Layer: LayerConfig, Weight: 6,
		Summary: "configuration rejected",
		Phrases: []string{"failed validation", "validation failed", "invalid configuration", "failed to translate",
			"denied the request", "config rejected", "configuration rejected", "failed to apply configuration"},
		Remediation: []string{"Fix the configuration the controller rejects (its error names the field) and confirm the resulting status conditions turn True."},
	},
	{
		Name: "condition_false", Category: Cause, Layer: LayerConfig, Weight: 7,
		Summary: "resource condition not satisfied",
		Patterns: []Pattern{
			{Expr: `\b(accepted|ready|programmed|available|resolvedrefs|reconciled|synced|healthy|initialized|containersready|podscheduled)\s*[=:]\s*"?false\b`, Need: []string{"false"}},
			{Expr: `type:\s*"?(accepted|ready|programmed|available|resolvedrefs|reconciled|synced)"?,?\s+status:\s*"?false\b`, Need: []string{"false"}},
		},
		Remediation: []string{"Read the failing condition's reason and message on the resource (kubectl describe) and fix what it names; the resource stays out of service until the condition is True."},
	},
	{
		Name: "upstream_connect", Category: Symptom, Layer: LayerNetwork, Weight: 5,
		Summary:     "upstream connect error",
		Phrases:     []string{"upstream connect error", "disconnect/reset before headers", "upstream reset", "upstream_reset", "upstream request timeout"},
		Remediation: []string{"Check the upstream the proxy could not reach: its endpoints, its logs at that time, and the proxy's cluster and connection settings for it."},
	},
	{
		Name: "conn_refused", Category: Symptom, Layer: LayerNetwork, Weight: 3,
		Summary: "connections refused or reset",
		Phrases: []string{"connection refused", "connection reset by peer", "econnrefused", "econnreset", "broken pipe", "context deadline exceeded", "i/o timeout"},
	},
	{
		Name: "no_healthy_upstream", Category: Symptom, Layer: LayerUser, Weight: 6,
		Summary: "no healthy upstream (HTTP 503)",
		Phrases: []string{"no healthy upstream", "no_healthy_upstream"},
		Patterns: []Pattern{
			{Expr: `"response_flags"\s*:\s*"UH"`, Need: []string{`"uh"`}},
		},
		Remediation: []string{"Find why the route has no healthy endpoint: the route or cluster the proxy chose, its endpoints' readiness, and the controller that programs them."},
	},
	{
		Name: "http_5xx", Category: Symptom, Layer: LayerUser, Weight: 4,
		Summary: "HTTP 5xx responses",
		Patterns: []Pattern{
			{Expr: `"?\b(response_code|status|status_code|statuscode|http_status)"?\s*[:=]\s*"?5\d\d\b`, Need: []string{"status", "code"}},
			{Expr: `HTTP/\d(\.\d)?"?\s+5\d\d\b`, Need: []string{"http/"}},
			{Expr: `\b5\d\d (service unavailable|bad gateway|gateway timeout|internal server error)`,
				Need: []string{"service unavailable", "bad gateway", "gateway timeout", "internal server error"}},
		},
	},
	{
		Name: "request_dropped", Category: Symptom, Layer: LayerUser, Weight: 4,
		Summary: "in-flight requests dropped",
		Phrases: []string{"upstream prematurely closed", "client disconnected", "request aborted", "connection closed before the response", "dropped in-flight"},
	},
	{
		Name: "restart", Category: Symptom, Layer: LayerNetwork, Weight: 2,
		Summary: "container restarted",
		Phrases: []string{"container restarted", "has restarted", "restarting container"},
		Patterns: []Pattern{
			{Expr: `restart_?count"?\s*[:=]\s*"?[1-9]`, Need: []string{"restart"}},
		},
	},
}

// matcher is a Signature ready to scan lines.
type matcher struct {
	*Signature
	phrases  []string
	patterns []compiledPattern
}

type compiledPattern struct {
	re   *regexp.Regexp
	need []string
}

func compile(sigs []Signature) ([]*matcher, error) {
	out := make([]*matcher, 0, len(sigs))
	for i := range sigs {
		s := &sigs[i]
		m := &matcher{Signature: s}
		for _, p := range s.Phrases {
			m.phrases = append(m.phrases, strings.ToLower(p))
		}
		for _, p := range s.Patterns {
			re, err := regexp.Compile("(?i)" + p.Expr)
			if err != nil {
				return nil, fmt.Errorf("signature %s: pattern %q: %w", s.Name, p.Expr, err)
			}
			cp := compiledPattern{re: re}
			for _, n := range p.Need {
				cp.need = append(cp.need, strings.ToLower(n))
			}
			m.patterns = append(m.patterns, cp)
		}
		out = append(out, m)
	}
	return out, nil
}

// match finds the signature in a line and returns the byte span of the
// match in text; lower is text with ASCII letters lowered, so offsets agree.
func (m *matcher) match(text, lower string) (start, end int, ok bool) {
	// The leftmost phrase wins, so that a quote around it starts where the
	// line starts telling.
	start = -1
	for _, p := range m.phrases {
		if i := strings.Index(lower, p); i >= 0 && (start < 0 || i < start) {
			start, end = i, i+len(p)
		}
	}
	if start >= 0 {
		return start, end, true
	}
	for _, p := range m.patterns {
		if !containsAny(lower, p.need) {
			continue
		}
		if loc := p.re.FindStringIndex(text); loc != nil {
			return loc[0], loc[1], true
		}
	}
	return 0, 0, false
}

// asciiLower lowers ASCII letters only, so that byte offsets into the
// result are offsets into s.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// containsAny reports whether s contains one of subs, or subs is empty.
func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return len(subs) == 0
}
