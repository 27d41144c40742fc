package builtin

import "slices"

// Category says what part a signature's lines play in an incident.
type Category string

// The categories of signature.
const (
	// Cause marks a fault that can explain other failures; causes are the
	// candidates for the root cause.
	Cause Category = "cause"
	// State marks how Kubernetes reports a failing workload (a crash loop,
	// a failed job, a pending pod): it has a cause of its own, and is named
	// as the root cause only when the evidence shows none.
	State Category = "state"
	// Symptom marks what users or clients see fail; never a root cause.
	Symptom Category = "symptom"
	// Hint marks context that may start a causal chain but is no fault by
	// itself, such as an autoscaler's scale-down.
	Hint Category = "hint"
)

// Layer places a signature in the stack, from the machine up to the user.
// Faults propagate upwards: a causal chain runs in layer order, and a
// failure explains related failures in the layers above it.
type Layer int

// The layers, lowest first.
const (
	LayerNode       Layer = iota // nodes, disks, kernel, network partitions and policies, storage
	LayerScheduling              // placing pods: capacity, selectors, quotas, autoscaling
	LayerResource                // a container's memory and CPU: OOM kills, throttling, evictions
	LayerDependency              // what a process needs from outside: DNS, certificates, databases, objects
	LayerProcess                 // the process itself: crashes, bad commands, missing configuration
	LayerWorkload                // pods and jobs as Kubernetes reports them: crash loops, restarts, probes
	LayerControl                 // controllers and their objects: rejected configuration, conditions
	LayerNetwork                 // proxies between components: upstream connect errors, resets
	LayerUser                    // what clients see: 5xx responses, latency, dropped requests
)

var layerNames = [...]string{"node", "scheduling", "resource", "dependency", "process", "workload", "control", "network", "user"}

func (l Layer) String() string {
	if l < 0 || int(l) >= len(layerNames) {
		return "unknown"
	}
	return layerNames[l]
}

// Signature is one known failure pattern, as data: what it looks like in a
// line and in a question, what it explains, how much it weighs, and what to
// do about it.
type Signature struct {
	Name     string
	Category Category
	Layer    Layer
	// Weight is how strongly one matching line suggests the failure, 1-10.
	Weight float64
	// Local marks failures confined to one pod (an OOM kill, a crash): in a
	// namespace where nothing else fails they cannot explain a symptom
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
	// Patterns are regular expressions for what a phrase cannot express,
	// written in lower case: they run on the line with its ASCII letters
	// lowered. A named group "key" captures the object the failure is about
	// (a host, a name, a resource), for details and typo hints.
	Patterns []Pattern
	// Not lists regular expressions (lower case, like Patterns) of lines that mention
	// the failure without showing it ("DiskPressure False", "kubelet has no
	// disk pressure").
	Not []string
	// Aliases are how questions and alerts name the failure ("oom kill",
	// "latency", "KubePodCrashLooping"), matched case-insensitively besides
	// the phrases.
	Aliases []string
	// Explains names signatures that this one causes beyond the layer order,
	// such as a deny-all network policy and the DNS failures behind it.
	Explains []string
	// Remote marks failures a caller sees of what it calls (a connection
	// refused, a timeout, a 502): when the caller's lines name another
	// failing component, that component explains the failure whatever the
	// layers, and the failure explains nothing about it.
	Remote bool
	// NeedsEffect keeps the signature's lines out of the candidates unless
	// a failure it Explains shows in the same pod or namespace: a deny-all
	// network policy is normal until something fails to connect.
	NeedsEffect bool
	// Resolved lists case-insensitive phrases that, in the same source after
	// the failure's last line, show it was over ("SuccessfulCreate" after a
	// FailedCreate), which rules the failure out.
	Resolved []string
	// Generic marks a catch-all (the word "error"): it counts only on lines
	// that no specific signature matches.
	Generic bool
	// LogsOnly counts only lines of a process's own log, not object dumps,
	// event tables or metric summaries: for words as common as "error".
	LogsOnly bool
	// Details find the facts behind the failure in lines of the same pod,
	// object or source: the limit an OOM kill hit, a pod's node selector.
	Details     []Detail
	Remediation []string
	// Attrs match a line by the attributes a parser gave it (an access
	// log's response_flags, a /memory line's limit_used_pct) rather than
	// by its words: any one of them shows the failure.
	Attrs []AttrMatch
	// KeyAttrs name attributes that hold what the failure is about (the
	// Envoy cluster of a /stats line or of an access log line), read when
	// no pattern names it: lines with the same key are one story, across
	// components.
	KeyAttrs []string
	// AtAttr names an attribute that holds when the failure happened, in
	// RFC 3339, for lines written later: a certificate's not_after in a
	// /certs dump taken an hour after it expired.
	AtAttr string
	// Snapshot marks configuration or state in force (a cluster's
	// circuit-breaker limits, a metric label's definition): the line's time
	// is when someone looked, not when the failure began, so it does not
	// place the failure in time.
	Snapshot bool
	// Owners name the kinds of configuration object that set what the
	// failure is about (the DestinationRule behind an Envoy cluster's
	// connection-pool limits): the answer names the object and its last
	// change.
	Owners []string
}

// AttrMatch matches a line by one of its attributes.
type AttrMatch struct {
	Attr string
	// Any lists values (matched case-insensitively) of which the attribute
	// holds one, whole or as an item of a comma-separated list: "UF" in
	// "UF,URX".
	Any []string
	// Contains lists lower-case substrings of which the attribute holds
	// one.
	Contains []string
	// Min, when set, keeps attributes that are numbers of at least Min.
	Min float64
}

// Pattern is a regular expression with substrings of which one must be in
// the line (case-insensitively) before the expression is tried, which keeps
// the scan of a million-token pack fast.
type Pattern struct {
	Expr string
	Need []string
	// Starts marks a pattern whose match begins with one of the needed
	// substrings, so that it is tried from there rather than on the whole
	// line.
	Starts bool
	// KeyOnly marks a pattern that only names the key of a line another
	// pattern or phrase of the signature found ("pulling image "x"" is no
	// failure by itself).
	KeyOnly bool
	// MinSeconds keeps only matches that report a duration of at least this
	// long, read from the named group "ms" (milliseconds), "s" (seconds), or
	// "dur" with its unit in "unit".
	MinSeconds float64
	// Min keeps only matches whose named group "n" (a count or a
	// percentage, commas allowed) is at least Min: 55,000 stats, not 600.
	Min float64
	// Prev, when set, is a regular expression (lower case) that the line
	// before, in the same source, must match: a bare number is a count of
	// stats only under the command that counted them ("... stats | wc
	// -l"). Such patterns are tried on short lines only.
	Prev string
}

// Detail finds one fact behind a failure in a line of the same pod, object
// or source, such as "memory: 100Mi" under "Limits:".
type Detail struct {
	// Label names the fact in an answer: "memory limit".
	Label string
	// Need lists substrings of which one must be in the line (case
	// insensitively) before Expr is tried.
	Need []string
	// Expr is a regular expression in lower case, run on the lowered line;
	// its match is quoted.
	Expr string
	// After, when set, is a regular expression (lower case) for a header that must be
	// among the few lines before in the same source ("Limits:"), because
	// kubectl describe puts a value's meaning on the line above it.
	After string
	// Skip is a regular expression (lower case) of matches that say nothing ("<none>").
	Skip string
	// Context, when set, is a regular expression (lower case) the whole
	// line must match too: what kind of line the fact may come from.
	Context string
	// Anywhere looks in every telemetry line, not only the failing
	// entity's: a certificate's subject is printed by whoever checked it.
	Anywhere bool
	// Longest picks, of the lines that match, the one that reports the
	// longest duration (groups as in Pattern.MinSeconds) rather than the
	// first: the longest request, against a shutdown's grace period.
	Longest bool
	// KeyLine, when set, looks for the failure's key (the "key" group of
	// its pattern, e.g. "nvidia.com/gpu") followed by this expression
	// instead of Expr: the line that requests the resource the scheduler
	// found insufficient.
	KeyLine string
}

// limitDetails find a container's resource limits in kubectl describe or
// JSON output.
var (
	memoryLimit    = Detail{Label: "memory limit", Need: []string{"memory:"}, Expr: `^\s*memory:\s*\S+`, After: `^\s*limits:\s*$`}
	cpuLimit       = Detail{Label: "CPU limit", Need: []string{"cpu:"}, Expr: `^\s*cpu:\s*\S+`, After: `^\s*limits:\s*$`}
	jsonMemory     = Detail{Label: "memory limit", Need: []string{`"limits"`}, Expr: `"limits"\s*:\s*\{[^}]*"memory"\s*:\s*"[^"]+"`}
	jsonCPU        = Detail{Label: "CPU limit", Need: []string{`"limits"`}, Expr: `"limits"\s*:\s*\{[^}]*"cpu"\s*:\s*"[^"]+"`}
	lastState      = Detail{Label: "last termination", Need: []string{"reason:", "exit code:"}, Expr: `^\s*(reason:\s*(error|oomkilled|starterror|containercannotrun)|exit code:\s*[1-9]\d*)\b`}
	longestRequest = Detail{Label: "longest request", Need: []string{"duration", "took", "elapsed", "request_time", "latency", "age"}, Longest: true,
		Expr: `(?:duration|took|elapsed|request_time|latency|age)"?[=:" ]+"?(?P<dur>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|sec|secs|seconds)\b`,
		// A request's, not a background job's: "job run finished took=300s"
		// says nothing about what a shutdown cuts off.
		Context: `\b(?:get|post|put|patch|delete|head) /|\brequests?\b|in.flight|"path"|\bpath=|\bhttp/`}
	gracePeriod = Detail{Label: "grace period", Need: []string{"grace"}, Expr: `terminationgraceperiodseconds"?\s*[:=]\s*\d+|grace[ -]?period"?\s*[=:]\s*\d+|grace[ -]?period\D{0,20}\d+\s*s\b`}
)

// Signatures is the builtin table of failure signatures of Kubernetes,
// service meshes and the services that run on them.
var Signatures = slices.Concat(coreSignatures, meshSignatures)

// coreSignatures are the failures of Kubernetes and of the processes that
// run on it; meshSignatures (mesh.go) those that proxies and their control
// planes report.
var coreSignatures = []Signature{
	// Nodes, disks, kernel, network.
	{
		Name: "disk_full", Category: Cause, Family: "disk", Layer: LayerNode, Weight: 10,
		Summary: "disk full (no space left on device)",
		Phrases: []string{"no space left on device", "disk full", "disk is full", "filesystem is full", "file system is full",
			"enospc", "disk quota exceeded", "not enough space on the disk", "insufficient disk space", "out of disk space",
			"could not write to disk", "disk space is low"},
		Patterns: []Pattern{
			// df output: "/dev/sda1 59G 59G 0 100% /"
			{Expr: `\s(9[5-9]|100)%\s+/\S*\s*$`, Need: []string{"%"}},
		},
		Aliases: []string{"disk space", "no space", "out of disk", "full disk"},
		Remediation: []string{
			"Free space on the full filesystem (prune unused images, containers, volumes and old logs) and alert when its usage passes 85%.",
			"Restart the components that failed while the disk was full so that they recreate what they could not write, then confirm their status conditions recover.",
		},
	},
	{
		Name: "disk_pressure", Category: Cause, Family: "disk", Layer: LayerNode, Weight: 8,
		Summary: "node disk pressure",
		Phrases: []string{"diskpressure", "disk pressure", "low on resource: ephemeral-storage", "reclaim ephemeral-storage",
			"nodefs.available", "imagefs.available", "freeing disk space", "evictionthresholdmet"},
		Not:         []string{`no\s*disk\s*pressure`, `diskpressure"?\s*[:=,]?\s*(status:?\s*)?"?false`},
		Remediation: []string{"Free disk space on the node (images, container logs, emptyDir volumes) and set ephemeral-storage requests and limits on the heavy pods."},
	},
	{
		Name: "memory_pressure", Category: Cause, Family: "memory", Layer: LayerNode, Weight: 7,
		Summary: "node memory pressure",
		Phrases: []string{"memorypressure", "memory pressure", "low on resource: memory", "nodehasinsufficientmemory",
			"system oom encountered", "reclaim memory"},
		Not:         []string{`no\s*memory\s*pressure`, `memorypressure"?\s*[:=,]?\s*(status:?\s*)?"?false`, `sufficient\s*memory`},
		Aliases:     []string{"memory pressure"},
		Remediation: []string{"Reduce memory use on the node or add capacity, and give the pods memory requests that match their use so the scheduler does not overcommit it."},
	},
	{
		Name: "node_not_ready", Category: Cause, Layer: LayerNode, Weight: 7,
		Summary: "node not ready",
		Phrases: []string{"nodenotready", "node is not ready", "kubelet stopped posting node status", "node not ready",
			"kubelet is not ready", "container runtime is down", "pleg is not healthy"},
		Aliases:     []string{"node down"},
		Remediation: []string{"Find why the node's kubelet stopped reporting (kubelet and container runtime logs, node resources, network), then cordon and replace it if it does not recover."},
	},
	{
		Name: "readonly_fs", Category: Cause, Family: "disk", Layer: LayerNode, Weight: 7,
		Summary:     "read-only file system",
		Phrases:     []string{"read-only file system", "erofs", "remounting filesystem read-only"},
		Remediation: []string{"Check the node's disk for errors (dmesg) or the volume's mount options, and move the workload off the failing disk."},
	},
	{
		Name: "conntrack_full", Category: Cause, Layer: LayerNode, Weight: 8,
		Summary:     "conntrack table full",
		Phrases:     []string{"nf_conntrack: table full", "conntrack table full", "nf_conntrack: dropping packet"},
		Aliases:     []string{"conntrack"},
		Explains:    []string{"dns_failure", "conn_failure", "timeout"},
		Remediation: []string{"Raise net.netfilter.nf_conntrack_max on the nodes and look for the client opening short-lived connections at a high rate."},
	},
	{
		Name: "fsync_slow", Category: Cause, Layer: LayerNode, Weight: 6,
		Summary: "slow disk writes (fsync)",
		Phrases: []string{"slow fdatasync", "fsync took", "wal fsync", "fsync duration", "apply request took too long", "slow disk",
			"disk latency is high", "sync duration of"},
		Aliases:     []string{"fsync"},
		Explains:    []string{"leader_lost"},
		Remediation: []string{"Move the data directory to faster, dedicated storage and check the disk's latency and IOPS limits."},
	},
	{
		Name: "network_partition", Category: Cause, Layer: LayerNode, Weight: 8,
		Summary: "network partition (split brain)",
		Phrases: []string{"network partition detected", "partitioned network", "split brain", "split-brain", "partial partition",
			"inconsistent_database", "network partition"},
		Patterns: []Pattern{
			{Expr: `network_partitions?_detected"?\s*[:=]\s*"?true`, Need: []string{"network_partition"}},
		},
		Aliases:     []string{"partition"},
		Remediation: []string{"Restore connectivity between the cluster's members, then let the partitioned members rejoin (restart the minority side) and check the data they diverged on."},
	},
	{
		Name: "network_policy", Category: Cause, Layer: LayerNode, Weight: 5, NeedsEffect: true,
		Summary: "network policy blocking traffic",
		Phrases: []string{"default-deny", "deny-all", "denied by network policy", "blocked by network policy", "networkpolicy denied"},
		Patterns: []Pattern{
			{Expr: `networkpolic(?:y|ies)\S*[/ ]\S*deny\S*`, Need: []string{"networkpolic"}},
		},
		Aliases:     []string{"network policy", "networkpolicy"},
		Explains:    []string{"dns_failure", "conn_failure", "timeout", "upstream_connect"},
		Remediation: []string{"Allow the blocked traffic in the NetworkPolicy (egress to kube-dns on port 53 and to the service's port), then confirm the pod resolves and connects."},
	},
	{
		Name: "volume_failure", Category: Cause, Layer: LayerNode, Weight: 8,
		Summary: "persistent volume cannot be provisioned, bound or mounted",
		Phrases: []string{"provisioningfailed", "failed to provision volume", "no persistent volumes available",
			"failedmount", "failedattachvolume", "unable to attach or mount volumes", "multi-attach error", "failed to bind volumes",
			"mountvolume.setup failed"},
		Patterns: []Pattern{
			{Expr: `storageclass(?:\.storage\.k8s\.io)?\s+"(?P<key>[^"]+)"\s+not found`, Need: []string{"not found"}},
		},
		Aliases:  []string{"pvc", "persistentvolumeclaim", "persistent volume", "volume"},
		Explains: []string{"pvc_unbound", "unschedulable", "pod_pending"},
		Details: []Detail{
			{Label: "storage class", Need: []string{"storageclass:"}, Expr: `^\s*storageclass:\s+\S+`, Skip: `<none>|<unset>`},
		},
		Remediation: []string{"Point the PersistentVolumeClaim at a StorageClass that exists (kubectl get storageclass) or create it, then confirm the claim is Bound and the pod schedules."},
	},
	// Scheduling and capacity.
	{
		Name: "unschedulable", Category: Cause, Local: true, Layer: LayerScheduling, Weight: 8,
		Summary: "pod cannot be scheduled",
		Phrases: []string{"failedscheduling", "didn't match pod's node affinity", "didn't match node selector", "untolerated taint",
			"had taint", "pod didn't trigger scale-up", "no nodes available to schedule pods", "unschedulable"},
		Patterns: []Pattern{
			{Expr: `\binsufficient (?P<key>[a-z0-9./-]*[a-z0-9])`, Need: []string{"insufficient"}},
			{Expr: `\d+/\d+ nodes are available`, Need: []string{"nodes are available"}},
		},
		Not:      []string{`unschedulable:\s*false`},
		Aliases:  []string{"pending", "not scheduled", "scheduling"},
		Explains: []string{"pod_pending", "replicas_unavailable", "condition_false"},
		Details: []Detail{
			{Label: "node selector", Need: []string{"node-selectors:"}, Expr: `^\s*node-selectors:\s+\S+`, Skip: `<none>`},
			{Label: "requested", KeyLine: `["':\s]+\s*\d`},
			{Label: "requested", Need: []string{"pod requires:"}, Expr: `pod requires:\W*[\d.]+\s*\S+`},
		},
		Remediation: []string{"Make the pod fit a node: lower its resource requests or node selector/affinity to what the nodes offer, or add nodes that have them (the scheduler's message names what is missing)."},
	},
	{
		Name: "too_many_pods", Category: Cause, Layer: LayerScheduling, Weight: 6,
		Summary: "node at its maximum pod capacity",
		Phrases: []string{"kubelettoomanypods", "too many pods", "toomanypods", "outofpods"},
		Aliases: []string{"too many pods", "pod capacity", "max pods"},
		Details: []Detail{
			{Label: "pods running", Need: []string{"non-terminated pods:"}, Expr: `non-terminated pods:\s*\(\d+ in total\)`},
			{Label: "pod capacity", Need: []string{"pods:"}, Expr: `^\s*pods:\s*\d+`, After: `^\s*(capacity|allocatable):\s*$`},
		},
		Remediation: []string{"Spread the pods over more nodes (add nodes or use larger instance types with a higher pod limit) and set the autoscaler to account for the per-node pod limit."},
	},
	{
		Name: "quota_exceeded", Category: Cause, Layer: LayerScheduling, Weight: 7,
		Summary:     "resource quota exceeded",
		Phrases:     []string{"exceeded quota", "forbidden: exceeded quota", "must specify limits", "maximum cpu usage per container", "maximum memory usage per container"},
		Aliases:     []string{"quota"},
		Explains:    []string{"failed_create", "replicas_unavailable"},
		Remediation: []string{"Raise the namespace's ResourceQuota or lower the pods' requests, then confirm the ReplicaSet creates its pods."},
	},
	{
		Name: "scale_down", Category: Hint, Layer: LayerScheduling, Weight: 3,
		Summary: "autoscaler scale-down",
		Phrases: []string{"scaled down replica set", "all metrics below target"},
		Patterns: []Pattern{
			{Expr: `new size: \d+; reason: [^;]*\bbelow target`, Need: []string{"below target"}},
		},
		Aliases:     []string{"scale-down", "scale down", "scaled down", "scaling down", "scales down"},
		Explains:    []string{"shutdown", "grace_exceeded"},
		Remediation: []string{"Check the autoscaler's scale-down behaviour (stabilization window, policies) against the workload's request durations."},
	},
	{
		// A change of the replica count that is no scale-down: pods are
		// added, none is stopped.
		Name: "scale_event", Category: Hint, Layer: LayerScheduling, Weight: 2,
		Summary:  "autoscaler changed the replica count",
		Phrases:  []string{"successfulrescale", "new size:", "scaled up replica set", "scaling replica set"},
		Not:      []string{`below target`, `scaled down`},
		Aliases:  []string{"hpa", "autoscal", "scale-up", "scale up", "scaled up"},
		Explains: []string{"pod_pending"},
	},
	{
		Name: "new_version", Category: Hint, Layer: LayerScheduling, Weight: 3,
		Summary: "new version started",
		Patterns: []Pattern{
			{Expr: `\bstarting \S+(?: \S+)? v?(?P<key>\d+\.\d+\.\d+)\b`, Need: []string{"starting"}},
			{Expr: `\b(?:version|release)[=: ]+"?v?(?P<key>\d+\.\d+\.\d+)\b.*\b(?:started|deployed|rolled out)`, Need: []string{"version", "release"}},
		},
		Aliases: []string{"rollout", "new version", "deploy", "release", "upgrade"},
		Explains: []string{"http_protocol_error", "process_crash", "config_missing", "config_invalid", "exec_failed", "crashloop",
			"app_error", "conn_failure", "pool_exhausted", "slow_query", "memory_leak", "missing_object", "probe_failed"},
		Remediation: []string{"Roll back to the previous version to confirm it brings the failure, then fix the change it introduced."},
	},
	{
		Name: "cron_job", Category: Hint, Layer: LayerScheduling, Weight: 2,
		Summary: "scheduled job (CronJob) ran",
		Phrases: []string{"created job", "sawcompletedjob", "cronjob"},
		Patterns: []Pattern{
			{Expr: `cronjob/(?P<key>[a-z0-9][\w.-]*)`, Need: []string{"cronjob/"}, KeyOnly: true},
		},
		Aliases:  []string{"cronjob", "cron job", "cron"},
		Explains: []string{"scale_event", "scale_down", "resource_spike"},
	},
	{
		Name: "resource_spike", Category: Hint, Layer: LayerScheduling, Weight: 2,
		Summary: "CPU or memory use rose sharply",
		Patterns: []Pattern{
			{Expr: `(cpu|memory)\S*.*\b(level shift|spike|above median)`, Need: []string{"level shift", "spike", "above median"}},
		},
		Not:      []string{`(limit|request)s?\b.*\b(level shift|spike)`},
		Explains: []string{"scale_event", "scale_down"},
	},
	// A container's resources.
	{
		Name: "oom_killed", Category: Cause, Local: true, Family: "memory", Layer: LayerResource, Weight: 8,
		Summary: "container killed for running out of memory (OOMKilled)",
		Phrases: []string{"oomkilled", "oom-kill", "oom killer", "oom_kill", "oomkilling", "out of memory", "memory cgroup out of memory",
			"java.lang.outofmemoryerror", "cannot allocate memory", "oom-killed", "oom killed"},
		Patterns: []Pattern{
			{Expr: `exit(ed)?[ _-]?(code|status)?["']?\s*[:=]?\s*137\b`, Need: []string{"137"}},
			// The kernel names the process it killed: the sidecar, not the app.
			{Expr: `killed process \d+ \((?P<key>[^)]+)\)`, Need: []string{"killed process"}, KeyOnly: true},
		},
		Aliases:     []string{"oom", "out-of-memory", "memory limit"},
		Details:     []Detail{memoryLimit, jsonMemory},
		Remediation: []string{"Raise the container's memory limit or reduce its memory use (heap size, caches, batch sizes), and alert on working-set memory near the limit."},
	},
	{
		Name: "memory_leak", Category: Cause, Local: true, Family: "memory", Layer: LayerResource, Weight: 5,
		Summary: "memory use growing without bound",
		Phrases: []string{"memory leak", "memory usage is high", "high memory usage", "memory grows", "memory growth", "heap growth",
			"heap size grew", "memory usage keeps growing"},
		Patterns: []Pattern{
			{Expr: `(memory|heap|rss|working_set)\S*.*\b(level shift|rising|trend up|increase)`, Need: []string{"level shift", "rising", "trend up", "increase"}},
		},
		Not:         []string{`(limit|request)s?\b.*\b(level shift|rising|increase)`},
		Aliases:     []string{"memory leak", "memory growth"},
		Explains:    []string{"oom_killed", "memory_pressure"},
		Remediation: []string{"Find what grows (heap profile; for Envoy, the number of stats: curl localhost:15000/stats | wc -l) and cap it, e.g. limit Envoy stats with proxyStatsMatcher; set a memory limit that restarts the container before it hurts the node."},
	},
	{
		Name: "cpu_throttling", Category: Cause, Local: true, Layer: LayerResource, Weight: 5,
		Summary:     "CPU throttling at the container's CPU limit",
		Phrases:     []string{"cputhrottlinghigh", "cpu throttling", "cpu throttled", "cfs_throttled", "throttled_periods"},
		Aliases:     []string{"throttl"},
		Details:     []Detail{cpuLimit, jsonCPU},
		Remediation: []string{"Raise the container's CPU limit (or remove it and keep the request) to what the workload needs, or reduce the work it does; confirm container_cpu_cfs_throttled_periods_total stops growing."},
	},
	{
		Name: "evicted", Category: Cause, Local: true, Layer: LayerResource, Weight: 6,
		Summary:     "pod evicted",
		Phrases:     []string{"the node was low on resource", "pod evicted", "was evicted", "evicting pod", "reason=evicted", "reason: evicted", `"reason":"evicted"`},
		Aliases:     []string{"evict"},
		Remediation: []string{"Find the resource the node ran low on and give the evicted pods requests that match their use."},
	},
	{
		Name: "too_many_files", Category: Cause, Local: true, Layer: LayerResource, Weight: 6,
		Summary:     "too many open files",
		Phrases:     []string{"too many open files", "emfile", "file descriptor limit"},
		Remediation: []string{"Raise the process's open-file limit (ulimit -n) and look for leaked connections or file handles."},
	},
	// What a process needs from outside.
	{
		Name: "dns_failure", Category: Cause, Layer: LayerDependency, Weight: 7,
		Summary: "DNS resolution failure",
		Phrases: []string{"nxdomain", "no such host", "temporary failure in name resolution", "name or service not known",
			"could not resolve host", "server misbehaving", "dns resolution failed", "getaddrinfo enotfound", "unknownhostexception",
			"nameresolutionerror", "[errno -3] try again", "servfail", "name resolution failed"},
		Patterns: []Pattern{
			{Expr: `lookup (?P<key>[\w.-]+) on [\d.:]+: (no such host|server misbehaving|i/o timeout|read udp)`, Need: []string{"lookup"}},
			{Expr: `resolve(?: host)?:? '(?P<key>[a-z0-9][\w.-]*\.[a-z][\w-]*)'`, Need: []string{"resolve"}},
		},
		Aliases:     []string{"dns", "name resolution", "resolve"},
		Explains:    []string{"conn_failure", "image_pull", "upstream_connect", "timeout"},
		Remediation: []string{"Check the DNS servers (CoreDNS pods, their logs and upstreams), the exact name being resolved including its search domains, and that the pod may reach kube-dns on port 53."},
	},
	{
		Name: "cert_invalid", Category: Cause, Family: "cert", Layer: LayerDependency, Weight: 8,
		Summary: "expired or untrusted TLS certificate",
		Phrases: []string{"x509:", "certificate has expired", "certificate expired", "certificate is not yet valid", "certificate verify failed",
			"unknown certificate authority", "certificate signed by unknown authority", "tls: bad certificate", "certificate_expired",
			"expiredcertexception", "certificate_verify_failed", "ssl certificate expired", "cert expired", "certificate rotation failed"},
		Patterns: []Pattern{
			// Envoy's count of peer certificates it could not verify.
			{Expr: `ssl\.fail_verify_error[ :=]+[1-9]`, Need: []string{"ssl.fail_verify_error"}},
		},
		Aliases:  []string{"certificate", "cert ", "x509", "tls", "mtls"},
		Explains: []string{"upstream_connect", "conn_failure"},
		Details: []Detail{
			// Which certificate, and when it ran out: openssl's own output,
			// wherever someone ran it.
			{Label: "certificate", Need: []string{"subject="}, Expr: `subject=.*\bcn\s*=\s*[^,/]+`, Anywhere: true},
			{Label: "valid until", Need: []string{"notafter="}, Expr: `notafter=.+`, Anywhere: true},
		},
		Remediation: []string{"Renew or re-issue the certificate (and the CA bundle the clients trust), then alert on certificate expiry well ahead of time."},
	},
	{
		Name: "missing_object", Category: Cause, Layer: LayerDependency, Weight: 7,
		Summary: "referenced object does not exist",
		Patterns: []Pattern{
			{Expr: `\b(namespaces?|configmaps?|secrets?|serviceaccounts?|service accounts?|persistentvolumeclaims?|services?|deployments?|ingress(?:es)?|roles?|rolebindings?|clusterroles?|crds?|customresourcedefinitions?)\s+"(?P<key>[^"]+)"\s+not found`, Need: []string{"not found"}},
			{Expr: `error looking up service account (?P<key>\S+)`, Need: []string{"looking up service account"}},
		},
		Aliases:     []string{"not found", "missing"},
		Explains:    []string{"failed_create", "sync_failed", "container_error", "pod_pending", "job_failed"},
		Resolved:    []string{"successfulcreate", "created pod:"},
		Remediation: []string{"Create the missing object or fix the name that refers to it (namespace, ConfigMap, Secret, ServiceAccount), then re-sync or restart what depends on it."},
	},
	{
		Name: "conn_failure", Remote: true, Category: Cause, Layer: LayerDependency, Weight: 4,
		Summary: "cannot connect to a dependency",
		Phrases: []string{"connection refused", "econnrefused", "could not connect", "couldn't connect", "failed to connect", "unable to connect",
			"can't connect", "cannot connect", "no available connection", "connection timed out", "no route to host", "network is unreachable",
			"max retries exceeded", "communications link failure", "connectexception", "host(s) tried", "connection error"},
		Patterns: []Pattern{
			{Expr: `(?:tried: |connect to |connecting to |dial tcp |host=')(?P<key>[a-z][\w.-]*(?::\d+)?)`, Need: []string{"tried:", "connect to", "connecting to", "dial tcp", "host='"}, KeyOnly: true},
		},
		Aliases:     []string{"connect", "unreachable"},
		Explains:    []string{"job_failed", "timeout"},
		Remediation: []string{"Check the dependency the process cannot reach: that it runs and is ready, that its service name and port are right, and that nothing (network policy, firewall) blocks the way."},
	},
	{
		Name: "timeout", Remote: true, Category: Cause, Layer: LayerDependency, Weight: 3,
		Summary:     "calls to a dependency time out",
		Phrases:     []string{"context deadline exceeded", "i/o timeout", "timed out", "timeout exceeded", "deadline exceeded", "read timeout", "request timeout"},
		Not:         []string{`upstream request timeout`, `timeout\s*[:=]\s*\d`, `timed out progressing`, `shutdown timed out`},
		Aliases:     []string{"timeout", "timed out"},
		Remediation: []string{"Find the slow or unreachable dependency behind the timeouts (its latency and saturation at that time) and make the caller's timeouts and retries fit it."},
	},
	{
		Name: "pool_exhausted", Category: Cause, Layer: LayerDependency, Weight: 7,
		Summary: "connection pool exhausted",
		Phrases: []string{"too many connections", "remaining connection slots are reserved", "connection pool exhausted", "pool exhausted",
			"timeout waiting for connection from pool", "could not obtain connection", "unable to acquire connection", "too many clients already",
			"connection pool is full", "pool is exhausted", "connection is not available, request timed out"},
		Aliases:     []string{"pool", "too many connections", "connection limit"},
		Explains:    []string{"timeout", "conn_failure", "slow_request"},
		Remediation: []string{"Size the connection pools against the server's max_connections across all replicas (and the mesh's connectionPool limits), or put a pooler in front of the server."},
	},
	{
		Name: "slow_query", Category: Cause, Layer: LayerDependency, Weight: 6,
		Summary: "slow database or downstream calls",
		Phrases: []string{"slow query", "slow_query", "long running query", "query took too long"},
		Patterns: []Pattern{
			{Expr: `(database|\bdb\b|query|sql|postgres|mysql|redis|mongo|stored procedure|cassandra|elasticsearch)[^\n]{0,80}?(?:took|completed in|\bin|duration[:=]?|-|=)\s*(?P<dur>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|sec|secs|seconds)\b`,
				Need: []string{"database", "db", "query", "sql", "postgres", "mysql", "redis", "mongo", "stored procedure", "cassandra", "elasticsearch"}, MinSeconds: 1, Starts: true},
			{Expr: `execution_time_ms"?\s*[:=]\s*(?P<ms>\d+(?:\.\d+)?)`, Need: []string{"execution_time_ms"}, MinSeconds: 1},
		},
		Aliases:     []string{"slow query", "database"},
		Explains:    []string{"slow_request", "timeout"},
		Remediation: []string{"Find the slow statement (the database's slow query log and its plan), add the missing index or rewrite it, and give the caller a timeout shorter than its own deadline."},
	},
	// The process itself.
	{
		Name: "exec_failed", Category: Cause, Local: true, Layer: LayerProcess, Weight: 8,
		Summary: "container command cannot be executed",
		Phrases: []string{"executable file not found", "command not found", "exec format error", "no such file or directory: unknown",
			"runcontainererror", "createcontainererror", "containercannotrun"},
		Patterns: []Pattern{
			{Expr: `exec: "(?P<key>[^"]+)": executable file not found`, Need: []string{"executable file not found"}},
			{Expr: `(?P<key>[\w./-]+): (?:command )?not found`, Need: []string{"not found"}},
		},
		Not:         []string{`"[^"]+"\s+not found`, `(image|manifest|page|route|resource|key|file|host|user|object)s?\b[^:]*: not found`},
		Aliases:     []string{"executable", "command not found"},
		Explains:    []string{"crashloop", "container_error"},
		Remediation: []string{"Fix the container's command (or entrypoint) so that it names an executable that exists in the image, then roll the pod out again."},
	},
	{
		Name: "script_error", Category: Cause, Local: true, Layer: LayerProcess, Weight: 7,
		Summary: "script syntax error",
		Phrases: []string{"syntax error", "syntaxerror", "unexpected token", "unexpected end of file", "bad substitution", "unterminated quoted string",
			"parse error near"},
		Explains:    []string{"crashloop", "container_error", "job_failed"},
		Remediation: []string{"Fix the syntax of the container's script (run it locally with sh -n), then re-run the job or roll the pod out."},
	},
	{
		Name: "config_missing", Category: Cause, Local: true, Layer: LayerProcess, Weight: 7,
		Summary: "required configuration missing",
		Patterns: []Pattern{
			{Expr: `(environment variable|env var(iable)?|config(uration)? (key|value|option|setting|file)|setting|parameter)\s+\$?\{?(?P<key>[\w.-]+)?\}?\s*(is |was )?(undefined|not set|not defined|missing|required|empty|unset)`,
				Need: []string{"undefined", "not set", "not defined", "missing", "required", "empty", "unset"}},
			{Expr: `missing (required )?(environment variable|env var|env|config|configuration|argument|parameter|secret|setting)\S*\s*:?\s*(?P<key>[\w.-]+)?`, Need: []string{"missing"}},
			{Expr: `(?P<key>\b[a-z][a-z0-9_]{2,})\s+(?:is )?(?:undefined|not set|unset|must be set)`, Need: []string{"undefined", "not set", "unset", "must be set"}},
		},
		Not:         []string{`if \[\[? -z`},
		Aliases:     []string{"environment variable", "env var", "config"},
		Explains:    []string{"crashloop", "container_error", "process_crash"},
		Remediation: []string{"Set the missing setting in the pod spec (env, ConfigMap or Secret reference) and roll the pods; make the service fail its readiness check with a clear message rather than exit when a setting is missing."},
	},
	{
		Name: "config_invalid", Category: Cause, Local: true, Layer: LayerProcess, Weight: 6,
		Summary: "invalid configuration",
		Phrases: []string{"invalid configuration", "failed to load config", "failed to parse config", "configuration error", "error parsing config",
			"cannot unmarshal", "error unmarshaling", "unknown field", "invalid value for"},
		Aliases:     []string{"misconfig", "configuration"},
		Explains:    []string{"crashloop", "container_error", "process_crash"},
		Remediation: []string{"Fix the configuration the process rejects (its error names the key), then roll the pods and confirm they become ready."},
	},
	{
		Name: "http_protocol_error", Category: Cause, Family: "protocol", Layer: LayerProcess, Weight: 6,
		Summary: "malformed HTTP response from the application",
		Phrases: []string{"protocol error", "protocol_error", "http1.codec_error", "hpe_", "invalid header", "duplicate header",
			"header value contains invalid characters", "multiple content-length", "content-length and transfer-encoding",
			"invalid http response", "malformed http response", "transfer-encoding and content-length"},
		Patterns: []Pattern{
			{Expr: `"response_flags"\s*:\s*"upe"`, Need: []string{`"upe"`}},
		},
		Attrs: []AttrMatch{
			{Attr: "response_flags", Any: []string{"UPE"}},
			{Attr: "response_code_details", Contains: []string{"protocol_error"}},
			{Attr: "connection_termination_details", Contains: []string{"protocol error", "protocol_error"}},
		},
		Aliases:     []string{"headers", "protocol"},
		Explains:    []string{"upstream_connect", "http_5xx"},
		Remediation: []string{"Return a response built by the service itself instead of proxying an upstream response with its hop-by-hop headers (Transfer-Encoding, Connection, Content-Length); confirm the proxy stops resetting the connection."},
	},
	{
		Name: "process_crash", Category: Cause, Local: true, Layer: LayerProcess, Weight: 6,
		Summary: "process crash",
		Phrases: []string{"panic:", "fatal error:", "segmentation fault", "sigsegv", "traceback (most recent call last)", "unhandled exception",
			`exception in thread "main"`, "core dumped", "sigabrt", "uncaught exception"},
		Patterns: []Pattern{
			{Expr: `\bfatal\b.*\b(config|configuration|startup|initiali[sz]e|missing)`, Need: []string{"fatal"}},
		},
		Aliases:     []string{"crash"},
		Explains:    []string{"crashloop", "container_error"},
		Remediation: []string{"Fix the crash shown in the container's last log lines (kubectl logs --previous), then roll the fix out."},
	},
	{
		Name: "app_error", Category: Cause, Local: true, Layer: LayerProcess, Weight: 2, LogsOnly: true, Generic: true,
		Summary: "application error",
		Patterns: []Pattern{
			// The words alone, not inside names ("failure-domain", "--stop-writes-on-bgsave-error").
			{Expr: `(?:^|[^\w./-])(error|exception|fatal|failed|failure)(?:[^\w./-]|$)`, Need: []string{"error", "exception", "fatal", "failed", "failure"}},
		},
		Not: []string{`\b(0|no) (errors?|failures?)\b`, `"error"\s*:\s*null`, `error(s|_count|count)?["=:\s]+0\b`, `^\s*(warning|normal)\s+\S+\s+\S+`,
			`#failure=`, `^\s*"?[\w.-]+"?\s*:\s*"?(true|false|null|none)"?,?\s*$`,
			// kubectl describe's "Status:   Failed" is an object's field, not a process's error.
			`^\s*[a-z][\w .-]*:\s{2,}\S`},
		Explains:    []string{"crashloop", "container_error", "job_failed"},
		Remediation: []string{"Read the failing process's errors around that time and fix what they name."},
	},
	// Pods and jobs.
	{
		Name: "image_pull", Category: Cause, Local: true, Layer: LayerWorkload, Weight: 7,
		Summary: "image pull failure",
		Phrases: []string{"imagepullbackoff", "errimagepull", "failed to pull image", "manifest unknown", "pull access denied",
			"back-off pulling image", "repository does not exist", "image can't be pulled", "invalidimagename"},
		Patterns: []Pattern{
			{Expr: `pull(?:ing)? image \\*"(?P<key>[^"\\]+)`, Need: []string{"image"}, KeyOnly: true},
		},
		Not:         []string{`successfully pulled`},
		Aliases:     []string{"image", "pull"},
		Resolved:    []string{"successfully pulled image"},
		Remediation: []string{"Fix the image reference or the registry credentials (imagePullSecrets), and check that the registry resolves and is reachable from the nodes."},
	},
	{
		Name: "crashloop", Category: State, Local: true, Layer: LayerWorkload, Weight: 5,
		Summary:     "container in CrashLoopBackOff",
		Phrases:     []string{"crashloopbackoff", "back-off restarting failed container"},
		Aliases:     []string{"crashloop", "crash loop", "crashlooping", "crash looping", "crashing"},
		Details:     []Detail{lastState},
		Remediation: []string{"Read the crashing container's previous logs (kubectl logs --previous) and its last termination reason to find why it exits."},
	},
	{
		Name: "container_error", Category: State, Local: true, Layer: LayerWorkload, Weight: 4,
		Summary: "container exited with an error",
		Patterns: []Pattern{
			{Expr: `^\s*reason:\s*(error|starterror|containercannotrun|createcontainerconfigerror|createcontainererror|runcontainererror)\b`, Need: []string{"reason"}},
			{Expr: `^\s*exit code:\s*[1-9]\d*`, Need: []string{"exit code"}},
			{Expr: `\s\d+/\d+\s+(error|init:error|createcontainerconfigerror|containercannotrun|starterror)\s`, Need: []string{"error", "containercannotrun"}},
			{Expr: `exit(?:ed)? (?:with )?(?:code|status) [1-9]\d*`, Need: []string{"exit"}},
			{Expr: `\breason[=:]\s*"?(error|starterror|containercannotrun)\b`, Need: []string{"reason"}},
			{Expr: `exit_?code"?\s*[:=]\s*"?[1-9]\d*`, Need: []string{"exitcode", "exit_code"}},
		},
		Not:         []string{`exit_?code"?:?\s*[:=]?\s*"?137`, `exit code:\s*137`, `reason[=:]\s*(completed|oomkilled)`},
		Aliases:     []string{"exit code", "exited"},
		Remediation: []string{"Read the container's last log lines and its termination message to find why it exits non-zero."},
	},
	{
		Name: "job_failed", Category: State, Layer: LayerWorkload, Weight: 5,
		Summary: "job failed",
		Phrases: []string{"backofflimitexceeded", "job has reached the specified backoff limit", "job failed", "deadlineexceeded",
			"job was active longer than specified deadline"},
		Not: []string{`progressdeadlineexceeded`},
		Patterns: []Pattern{
			{Expr: `pods statuses:.*\b[1-9]\d* failed`, Need: []string{"failed"}},
		},
		Aliases:     []string{"jobfailed", "job failed", "jobfailure", "job failure", "job fail"},
		Remediation: []string{"Read the logs of the job's failed pods (kubectl logs job/NAME) to find why each attempt failed, fix it, and re-run the job."},
	},
	{
		Name: "pvc_unbound", Category: State, Layer: LayerScheduling, Weight: 5,
		Summary:     "persistent volume claim not bound",
		Phrases:     []string{"unbound immediate persistentvolumeclaims", "persistentvolumeclaim is not bound", "waiting for a volume to be created", "waiting for first consumer"},
		Aliases:     []string{"unbound"},
		Explains:    []string{"unschedulable", "pod_pending"},
		Remediation: []string{"Find why the claim does not bind (kubectl describe pvc: its StorageClass and provisioner events)."},
	},
	{
		Name: "pod_pending", Category: State, Local: true, Layer: LayerWorkload, Weight: 3,
		Summary: "pod stuck in Pending",
		Patterns: []Pattern{
			{Expr: `^\s*status:\s+pending\b`, Need: []string{"pending"}},
			{Expr: `\s0/\d+\s+pending\s`, Need: []string{"pending"}},
		},
		Aliases:     []string{"pending"},
		Remediation: []string{"Read the pod's scheduling events (kubectl describe pod) to find what keeps it from being placed."},
	},
	{
		Name: "replicas_unavailable", Category: State, Layer: LayerWorkload, Weight: 4,
		Summary: "deployment has no available replicas",
		Phrases: []string{"minimumreplicasunavailable", "does not have minimum availability", "progressdeadlineexceeded",
			"has not matched the expected number of replicas", "has timed out progressing"},
		Patterns: []Pattern{
			{Expr: `\d+ desired \| \d+ updated \| \d+ total \| 0 available`, Need: []string{"0 available"}},
		},
		Aliases:     []string{"replicasmismatch", "replicas mismatch", "unavailable replicas", "not available"},
		Remediation: []string{"Find why the deployment's new pods do not become available (their events and conditions), fix that, and watch the rollout complete."},
	},
	{
		Name: "failed_create", Category: Cause, Layer: LayerWorkload, Weight: 5,
		Summary:     "pods could not be created",
		Phrases:     []string{"failedcreate", "error creating:"},
		Resolved:    []string{"successfulcreate", "created pod:"},
		Remediation: []string{"Fix what the controller's FailedCreate event names (quota, admission webhook, service account), then confirm the pods are created."},
	},
	{
		Name: "probe_failed", Category: State, Local: true, Layer: LayerWorkload, Weight: 4,
		Summary:     "health probe failing",
		Phrases:     []string{"liveness probe failed", "readiness probe failed", "startup probe failed", "probe failed", "unhealthy"},
		Not:         []string{`#failure=`, `unhealthy threshold`},
		Aliases:     []string{"probe", "not ready", "notready"},
		Remediation: []string{"Find why the probed endpoint fails or is slow, and check the probe's timeout and threshold against the application's startup and load."},
	},
	{
		Name: "restart", Category: State, Local: true, Layer: LayerWorkload, Weight: 2,
		Summary: "container restarted",
		Phrases: []string{"container restarted", "has restarted", "restarting container"},
		Patterns: []Pattern{
			{Expr: `restart_?count"?\s*[:=]\s*"?[1-9]`, Need: []string{"restart"}},
		},
		Aliases: []string{"restart"},
	},
	{
		Name: "shutdown", Category: Cause, Local: true, Family: "shutdown", Layer: LayerWorkload, Weight: 5,
		Summary: "pods terminated (SIGTERM) while serving requests",
		Phrases: []string{"sigterm", "received signal terminated", "signal: terminated", "shutting down gracefully", "graceful shutdown started",
			"killing container with a grace period", "stopping container", "waiting for in-flight requests", "draining in-flight"},
		Aliases:     []string{"sigterm", "shutdown", "terminat"},
		Explains:    []string{"request_dropped", "conn_failure", "conn_reset", "upstream_connect"},
		Details:     []Detail{gracePeriod, longestRequest},
		Remediation: []string{"Make terminationGracePeriodSeconds longer than the longest request and add a preStop delay so that endpoints are removed before the process stops."},
	},
	{
		Name: "grace_exceeded", Category: Cause, Local: true, Family: "shutdown", Layer: LayerWorkload, Weight: 7,
		Summary: "graceful shutdown shorter than the requests in flight",
		Phrases: []string{"graceful shutdown timed out", "grace period expired", "exceeded grace period", "forcibly killed",
			"did not terminate gracefully", "killed after grace period", "requests still in flight", "in-flight requests dropped",
			"shutdown timeout exceeded", `msg="kill container`, "sigkill"},
		Aliases:     []string{"grace period", "graceful"},
		Explains:    []string{"request_dropped", "conn_failure", "conn_reset", "upstream_connect"},
		Details:     []Detail{gracePeriod, longestRequest},
		Remediation: []string{"Make terminationGracePeriodSeconds longer than the longest request and add a preStop delay so that endpoints are removed before the process stops."},
	},
	{
		Name: "leader_lost", Category: Cause, Layer: LayerWorkload, Weight: 6,
		Summary:     "leader election lost",
		Phrases:     []string{"leaderelection lost", "leader election lost", "lost leadership", "failed to renew lease", "stopped leading", "lost lease"},
		Aliases:     []string{"leader"},
		Remediation: []string{"Check the API server's and etcd's latency at that time and the lease settings (renew deadline) of the controller."},
	},
	// Controllers and their objects.
	{
		Name: "config_rejected", Category: Cause, Layer: LayerControl, Weight: 6,
		Summary: "configuration rejected",
		Phrases: []string{"failed validation", "validation failed", "failed to translate", "denied the request", "config rejected",
			"configuration rejected", "failed to apply configuration", "admission webhook", "is invalid:"},
		Remediation: []string{"Fix the configuration the controller rejects (its error names the field) and confirm the resulting status conditions turn True."},
	},
	{
		Name: "sync_failed", Category: State, Layer: LayerControl, Weight: 5,
		Summary: "GitOps sync failed",
		Phrases: []string{"one or more objects failed to apply", "sync failed", "comparisonerror", "syncerror", "outofsync"},
		Aliases: []string{"argocd", "sync", "outofsync"},
		Remediation: []string{
			"Fix the manifest the sync fails on (the sync message names the object), then sync the application again and confirm it is Synced and Healthy.",
		},
	},
	{
		Name: "condition_false", Category: State, Family: "condition", Layer: LayerControl, Weight: 7,
		Summary: "resource condition not satisfied",
		Patterns: []Pattern{
			{Expr: `\b(accepted|ready|programmed|available|resolvedrefs|reconciled|synced|healthy|initialized|containersready|podscheduled)\s*[=:]\s*"?false\b`, Need: []string{"false"}},
			{Expr: `type:\s*"?(accepted|ready|programmed|available|resolvedrefs|reconciled|synced)"?,?\s+status:\s*"?false\b`, Need: []string{"false"}},
			{Expr: `^\s*(ready|initialized|containersready|podscheduled|available|accepted|programmed)\s+false\b`, Need: []string{"false"}},
		},
		Aliases:     []string{"not ready", "notready", "accepted=false", "ready=false"},
		Remediation: []string{"Read the failing condition's reason and message on the resource (kubectl describe) and fix what it names; the resource stays out of service until the condition is True."},
	},
	// Proxies and clients.
	{
		Name: "upstream_connect", Remote: true, Category: Symptom, Layer: LayerNetwork, Weight: 5,
		Summary: "upstream connect error",
		Phrases: []string{"upstream connect error", "disconnect/reset before headers", "upstream reset", "upstream_reset", "upstream request timeout",
			"upstream_reset_before_response_started"},
		Patterns: []Pattern{
			{Expr: `"response_flags"\s*:\s*"(uf|urx|uc|ut)"`, Need: []string{`"uf"`, `"urx"`, `"uc"`, `"ut"`}},
		},
		Attrs: []AttrMatch{
			{Attr: "response_flags", Any: []string{"UF", "URX", "UC", "UT", "UR", "LR"}},
			{Attr: "response_code_details", Contains: []string{"upstream_reset_before_response_started"}},
		},
		KeyAttrs:    []string{"upstream_cluster"},
		Aliases:     []string{"upstream connect", "reset before headers", "connection termination"},
		Remediation: []string{"Check the upstream the proxy could not reach: its endpoints, its logs at that time, and the proxy's cluster and connection settings for it."},
	},
	{
		Name: "conn_reset", Remote: true, Category: Symptom, Layer: LayerNetwork, Weight: 3,
		Summary: "connections reset",
		Phrases: []string{"connection reset by peer", "econnreset", "broken pipe", "connection reset", "connection closed by peer"},
		Aliases: []string{"reset"},
	},
	{
		Name: "no_healthy_upstream", Remote: true, Category: Symptom, Layer: LayerUser, Weight: 6,
		Summary: "no healthy upstream (HTTP 503)",
		Phrases: []string{"no healthy upstream", "no_healthy_upstream"},
		Patterns: []Pattern{
			{Expr: `"response_flags"\s*:\s*"uh"`, Need: []string{`"uh"`}},
		},
		Attrs:       []AttrMatch{{Attr: "response_flags", Any: []string{"UH"}}},
		KeyAttrs:    []string{"upstream_cluster"},
		Aliases:     []string{"503", "unavailable"},
		Remediation: []string{"Find why the route has no healthy endpoint: the route or cluster the proxy chose, its endpoints' readiness, and the controller that programs them."},
	},
	{
		Name: "http_5xx", Remote: true, Category: Symptom, Layer: LayerUser, Weight: 4,
		Summary: "HTTP 5xx responses",
		Patterns: []Pattern{
			{Expr: `(response_code|status|status_code|statuscode|http_status)"?\s*[:=]\s*"?(?P<key>5\d\d)\b`, Need: []string{"response_code", "status"}, Starts: true},
			{Expr: `http/\d(\.\d)?"?\s+(?P<key>5\d\d)\b`, Need: []string{"http/"}, Starts: true},
			{Expr: `\b(?P<key>5\d\d) (service unavailable|bad gateway|gateway timeout|internal server error)`,
				Need: []string{"service unavailable", "bad gateway", "gateway timeout", "internal server error"}},
		},
		// A readiness probe's 503 is the pod's answer to the kubelet, not
		// one a client saw.
		Not:      []string{`probe failed with statuscode`},
		Attrs:    []AttrMatch{{Attr: "response_code", Min: 500}},
		KeyAttrs: []string{"response_code"},
		Aliases:  []string{"500", "502", "503", "504", "5xx", "bad gateway", "gateway timeout", "internal server error", "service unavailable", "is down", "app down", "appdown"},
	},
	{
		Name: "request_dropped", Remote: true, Category: Symptom, Layer: LayerUser, Weight: 4,
		Summary: "in-flight requests dropped",
		Phrases: []string{"upstream prematurely closed", "client disconnected", "request aborted", "connection closed before the response",
			"dropped in-flight", "upstream_reset_after_response_started", "downstream_remote_disconnect"},
		Aliases:  []string{"dropped", "in-flight"},
		Explains: []string{"http_5xx"},
	},
	{
		Name: "slow_request", Remote: true, Category: Symptom, Layer: LayerUser, Weight: 3,
		Summary: "slow requests",
		Patterns: []Pattern{
			{Expr: `(responsetime|response_time|duration_ms|latency_ms|request_time|elapsed_ms)"?\s*[:=]\s*"?(?P<ms>\d+(?:\.\d+)?)`,
				Need: []string{"responsetime", "response_time", "duration_ms", "latency_ms", "request_time", "elapsed_ms"}, MinSeconds: 1, Starts: true},
			{Expr: `(rendered|handled|served|completed|processed|took)\s+(?:in\s+)?(?P<dur>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|sec|secs|seconds)\b`,
				Need: []string{"rendered", "handled", "served", "completed", "processed", "took"}, MinSeconds: 1, Starts: true},
		},
		Aliases: []string{"latency", "slow", "response time", "takes long"},
	},
}
