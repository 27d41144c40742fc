package files

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// noiseProfile is a vocabulary of routine activity.
type noiseProfile struct {
	// paths are the requests of access and probe lines.
	paths []httpPath
	// info are routine messages: "msg|key=value key=value", with
	// placeholders expanded by expand.
	info []string
	// warn are clearly unrelated warnings.
	warn []string
	// workloads name the CronJobs whose routine events fill event sources.
	workloads []string
	// loggers name components in formats that carry one (klog file names).
	files []string
}

// httpPath is one kind of request: "GET /healthz" with the agent that
// sends it and the statuses it gets, all healthy.
type httpPath struct {
	method, path, agent string
	status              []int
	weight              int
}

const (
	agentProbe   = "kube-probe/1.30"
	agentProm    = "Prometheus/2.53.0"
	agentBrowser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	agentClient  = "python-requests/2.32.3"
	agentGo      = "Go-http-client/1.1"
)

var probePaths = []httpPath{
	{"GET", "/healthz", agentProbe, []int{200}, 6},
	{"GET", "/readyz", agentProbe, []int{200}, 6},
	{"GET", "/metrics", agentProm, []int{200}, 4},
}

var profileDefault = &noiseProfile{
	paths: append(slices.Clone(probePaths),
		httpPath{"GET", "/api/v1/status", agentGo, []int{200}, 3},
		httpPath{"GET", "/api/v1/items/{n:1-9999}", agentClient, []int{200}, 6},
		httpPath{"POST", "/api/v1/items", agentClient, []int{201}, 2},
	),
	info: []string{
		"cache refreshed|entries={n:40-900} took={ms:1-35}",
		"periodic resync completed|objects={n:10-400} took={ms:2-90}",
		"heartbeat sent|peer=peer-{n:1-5} seq={n:1000-99999}",
		"configuration checksum unchanged|checksum={hex:12}",
		"metrics flushed|series={n:200-4000} took={ms:1-20}",
		"worker stats|busy={n:0-6} idle={n:2-16} queued={n:0-3}",
		"garbage collection cycle finished|heap_mb={n:40-300} pause={ms:0-3}",
	},
	warn: []string{
		"flag --log-dir is deprecated and will be removed in a future release",
		"configuration key {pick:cache.ttl,log.format,ui.theme} is deprecated; using the default",
	},
	workloads: []string{"log-shipper-rotate", "config-snapshot", "metrics-rollup"},
	files:     []string{"reconciler.go", "cache.go", "server.go", "worker.go"},
}

var profileWeb = &noiseProfile{
	paths: append(slices.Clone(probePaths),
		httpPath{"GET", "/", agentBrowser, []int{200}, 4},
		httpPath{"GET", "/static/js/app.{hex:8}.js", agentBrowser, []int{200, 304}, 5},
		httpPath{"GET", "/api/v1/products?page={n:1-40}", agentBrowser, []int{200}, 8},
		httpPath{"GET", "/api/v1/products/{n:1000-99999}", agentBrowser, []int{200}, 8},
		httpPath{"POST", "/api/v1/cart/items", agentBrowser, []int{201}, 3},
		httpPath{"GET", "/api/v1/users/me", agentBrowser, []int{200}, 4},
		httpPath{"GET", "/favicon.ico", agentBrowser, []int{304}, 1},
	),
	info: []string{
		"session store compacted|sessions={n:100-5000} took={ms:2-40}",
		"template cache warmed|templates={n:10-80}",
		"page rendered|route=/{pick:products,cart,account,search} took={ms:3-60}",
		"cache refreshed|entries={n:40-900} took={ms:1-35}",
		"static asset manifest loaded|assets={n:20-200}",
	},
	warn: []string{
		"cookie attribute SameSite not set on {pick:prefs,theme}; defaulting to Lax",
		"configuration key {pick:cdn.host,ui.theme} is deprecated; using the default",
	},
	workloads: []string{"sitemap-builder", "newsletter-digest", "image-cache-warm"},
	files:     []string{"handler.go", "router.go", "session.go", "render.go"},
}

var profileBatch = &noiseProfile{
	paths: slices.Clone(probePaths),
	info: []string{
		"job run started|job={pick:nightly-rollup,invoice-export,search-reindex,thumbnail-sweep} run={hex:8}",
		"batch committed|batch={n:1-500} rows={n:100-5000} took={ms:20-900}",
		"checkpoint saved|offset={n:100000-999999}",
		"scheduler tick|queued={n:0-9} running={n:0-4}",
		"job run finished|job={pick:nightly-rollup,invoice-export,search-reindex,thumbnail-sweep} run={hex:8} took={n:2-300}s",
		"partition compacted|partition={n:0-31} segments={n:2-40}",
	},
	warn: []string{
		"config field spec.parallelismHint is deprecated; ignored",
		"flag --legacy-scheduler is deprecated and will be removed in a future release",
	},
	workloads: []string{"nightly-rollup", "invoice-export", "search-reindex"},
	files:     []string{"scheduler.go", "runner.go", "batch.go", "checkpoint.go"},
}

var profileMesh = &noiseProfile{
	paths: append(slices.Clone(probePaths),
		httpPath{"GET", "/healthz/ready", agentProbe, []int{200}, 4},
		httpPath{"GET", "/stats/prometheus", agentProm, []int{200}, 3},
		httpPath{"GET", "/api/v1/orders/{n:1000-99999}", agentGo, []int{200}, 8},
		httpPath{"POST", "/api/v1/orders", agentGo, []int{201}, 3},
		httpPath{"GET", "/api/v1/catalog?page={n:1-20}", agentGo, []int{200}, 6},
	),
	info: []string{
		"xds push completed|type={pick:CDS,EDS,LDS,RDS} resources={n:5-200} version={hex:10}",
		"endpoints updated|cluster=outbound|{pick:8080,9090,5000}||{pick:catalog,orders,ratings,search}.svc.cluster.local endpoints={n:2-12}",
		"stats flushed|counters={n:500-9000} gauges={n:100-2000}",
		"listener config unchanged|listener=0.0.0.0_{pick:8080,15006,15001}",
		"route table synced|routes={n:10-300} version={hex:10}",
	},
	warn: []string{
		"runtime key envoy.reloadable_features.{pick:http_legacy_headers,old_stats_names} is deprecated",
		"configuration key {pick:meshConfig.defaultConfig.holdApplicationUntilProxyStarts,global.logAsJson} is deprecated; using the default",
	},
	workloads: []string{"mesh-telemetry-export", "route-audit", "config-snapshot"},
	files:     []string{"xds.go", "discovery.go", "proxy.go", "stats.go"},
}

// expand fills a vocabulary string's placeholders: {n:A-B} an integer,
// {ms:A-B} a duration in milliseconds, {hex:K} K hex digits, {pick:a,b}
// one of the choices.
func expand(r *rand.Rand, dst []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return append(dst, s...)
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		kind, arg, _ := strings.Cut(s[i+1:i+j], ":")
		switch kind {
		case "n", "ms":
			lo, hi, _ := strings.Cut(arg, "-")
			a, _ := strconv.Atoi(lo)
			b, _ := strconv.Atoi(hi)
			dst = strconv.AppendInt(dst, int64(a+r.IntN(b-a+1)), 10)
			if kind == "ms" {
				dst = append(dst, "ms"...)
			}
		case "hex":
			k, _ := strconv.Atoi(arg)
			dst = appendHex(r, dst, k)
		case "pick":
			choices := strings.Split(arg, ",")
			dst = append(dst, choices[r.IntN(len(choices))]...)
		default:
			dst = append(dst, s[i:i+j+1]...)
		}
		s = s[i+j+1:]
	}
}

func appendHex(r *rand.Rand, dst []byte, k int) []byte {
	const digits = "0123456789abcdef"
	for range k {
		dst = append(dst, digits[r.IntN(16)])
	}
	return dst
}

// noiseRecord is one routine happening before it is rendered in a style.
type noiseRecord struct {
	level  string // "info" or "warn"
	msg    string
	fields []string // "key=value"
	http   *httpRecord
}

// httpRecord is one healthy request.
type httpRecord struct {
	method, path, agent, client string
	status, bytes               int
	ms                          int
}

// Shares of a source's filler, in thousandths: access logs get mostly
// requests; other logs mostly routine messages. Unrelated warnings stay
// rare, so filler never reads as an incident.
const (
	warnPerMille       = 5
	accessHTTPPerMille = 900
	otherHTTPPerMille  = 150
)

// record draws the next routine happening of the profile.
func (g *fillerGen) record(accessLike bool) noiseRecord {
	p := g.ns.prof
	roll := g.r.IntN(1000)
	httpShare := otherHTTPPerMille
	if accessLike {
		httpShare = accessHTTPPerMille
	}
	switch {
	case roll < warnPerMille:
		return noiseRecord{level: "warn", msg: string(expand(g.r, nil, p.warn[g.r.IntN(len(p.warn))]))}
	case roll < warnPerMille+httpShare:
		return noiseRecord{level: "info", http: g.request()}
	}
	msg, fields, _ := strings.Cut(string(expand(g.r, nil, p.info[g.r.IntN(len(p.info))])), "|")
	return noiseRecord{level: "info", msg: msg, fields: strings.Fields(fields)}
}

func (g *fillerGen) request() *httpRecord {
	p := g.ns.prof
	total := 0
	for _, hp := range p.paths {
		total += hp.weight
	}
	k := g.r.IntN(total)
	hp := p.paths[0]
	for _, c := range p.paths {
		if k < c.weight {
			hp = c
			break
		}
		k -= c.weight
	}
	h := &g.http
	*h = httpRecord{method: hp.method, path: string(expand(g.r, nil, hp.path)), agent: hp.agent,
		status: hp.status[g.r.IntN(len(hp.status))], bytes: 120 + g.r.IntN(4000), ms: 1 + g.r.IntN(60)}
	h.client = "10.244." + strconv.Itoa(g.r.IntN(4)) + "." + strconv.Itoa(2+g.r.IntN(250)) + ":" + strconv.Itoa(30000+g.r.IntN(30000))
	if hp.agent == agentProbe {
		h.bytes, h.ms = 2+g.r.IntN(20), g.r.IntN(3)
	}
	return h
}

func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 204:
		return "No Content"
	case 304:
		return "Not Modified"
	}
	return ""
}

// text renders a record as a message: "cache refreshed entries=12", or a
// request as "GET /healthz 200 1ms".
func (rec noiseRecord) text(dst []byte) []byte {
	if h := rec.http; h != nil {
		dst = append(dst, h.method...)
		dst = append(dst, ' ')
		dst = append(dst, h.path...)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(h.status), 10)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(h.ms), 10)
		return append(dst, "ms"...)
	}
	dst = append(dst, rec.msg...)
	for _, f := range rec.fields {
		dst = append(dst, ' ')
		dst = append(dst, f...)
	}
	return dst
}

// eventNoise produces routine Normal events: the runs of a few unrelated
// CronJobs, each one job, one pod and its lifecycle.
type eventNoise struct {
	prof       *noiseProfile
	namespaces []string
	nodes      []string
	// the run in progress
	workload, ns, node, job, pod, image string
}

func newEventNoise(prof *noiseProfile, namespaces, nodes []string) *eventNoise {
	if len(namespaces) == 0 {
		namespaces = []string{"default"}
	}
	if len(nodes) == 0 {
		nodes = []string{"node-1"}
	}
	return &eventNoise{prof: prof, namespaces: namespaces, nodes: nodes}
}

// cronRunSteps is how many events one CronJob run makes.
const cronRunSteps = 8

func (e *eventNoise) line(g *fillerGen, t time.Time, i int) causeway.Line {
	step := i % cronRunSteps
	if step == 0 || e.workload == "" {
		e.workload = e.prof.workloads[g.r.IntN(len(e.prof.workloads))]
		e.ns = e.namespaces[g.r.IntN(len(e.namespaces))]
		e.node = e.nodes[g.r.IntN(len(e.nodes))]
		e.job = e.workload + "-" + strconv.FormatInt(t.Unix()/60, 10)
		suffix := make([]byte, 5)
		for k := range suffix {
			suffix[k] = "bcdfghjklmnpqrstvwxz2456789"[g.r.IntN(27)]
		}
		e.pod = e.job + "-" + string(suffix)
		e.image = "registry.local/" + e.workload + ":1." + strconv.Itoa(g.r.IntN(9)) + "." + strconv.Itoa(g.r.IntN(20))
	}
	ev := kubeEvent{Type: "Normal"}
	ref := objectRef{Namespace: e.ns}
	switch step {
	case 0:
		ref.Kind, ref.Name, ev.Reason, ev.Message = "CronJob", e.workload, "SuccessfulCreate", "Created job "+e.job
		ev.Source.Component = "cronjob-controller"
	case 1:
		ref.Kind, ref.Name, ev.Reason, ev.Message = "Job", e.job, "SuccessfulCreate", "Created pod: "+e.pod
		ev.Source.Component = "job-controller"
	case 2:
		ref.Kind, ref.Name, ev.Reason, ev.Message = "Pod", e.pod, "Scheduled", "Successfully assigned "+e.ns+"/"+e.pod+" to "+e.node
		ev.Source.Component = "default-scheduler"
	case 3:
		ref.Kind, ref.Name, ev.Reason, ev.Message = "Pod", e.pod, "Pulled", `Container image "`+e.image+`" already present on machine`
		ev.Source.Component, ev.Source.Host = "kubelet", e.node
	case 4:
		ref.Kind, ref.Name, ev.Reason, ev.Message = "Pod", e.pod, "Created", "Created container "+e.workload
		ev.Source.Component, ev.Source.Host = "kubelet", e.node
	case 5:
		ref.Kind, ref.Name, ev.Reason, ev.Message = "Pod", e.pod, "Started", "Started container "+e.workload
		ev.Source.Component, ev.Source.Host = "kubelet", e.node
	case 6:
		ref.Kind, ref.Name, ev.Reason, ev.Message = "Job", e.job, "Completed", "Job completed"
		ev.Source.Component = "job-controller"
	default:
		ref.Kind, ref.Name, ev.Reason, ev.Message = "CronJob", e.workload, "SawCompletedJob", "Saw completed job: "+e.job+", status: Complete"
		ev.Source.Component = "cronjob-controller"
	}
	ev.InvolvedObject = ref
	ev.LastTimestamp.Time = t.UTC().Truncate(time.Second)
	return eventLine(g.out, &ev)
}
