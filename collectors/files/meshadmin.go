package files

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// KindMeshAdmin is the source kind of a service mesh component's admin or
// debug endpoint output, recorded as the endpoint returned it: Envoy's
// /certs, /clusters, /stats (text, JSON or Prometheus), /memory,
// /server_info and /config_dump; istiod's /debug/syncz; a Linkerd proxy's
// /metrics. Bundles keep such files under mesh/.
const KindMeshAdmin = causeway.KindMeshAdmin

// LabelAt is the source label that says when an admin output was taken
// (RFC 3339). The output itself carries no time, so every line of it
// takes this one; the label is not copied to the lines' attributes.
const LabelAt = "at"

// LabelMemoryLimit, when a mesh-admin source has it ("1Gi", "512Mi" or
// bytes), is the proxy container's memory limit, which /memory and the
// heap size are measured against.
const LabelMemoryLimit = "memory_limit"

// The admin endpoints a mesh-admin source may hold, as AdminEndpoint names
// them.
const (
	EndpointCerts      = "certs"
	EndpointClusters   = "clusters"
	EndpointStats      = "stats"
	EndpointMemory     = "memory"
	EndpointServerInfo = "server_info"
	EndpointConfigDump = "config_dump"
	EndpointSyncz      = "syncz"   // istiod /debug/syncz: the data behind istioctl proxy-status
	EndpointMetrics    = "metrics" // Prometheus text: Linkerd's /metrics, Envoy's /stats/prometheus
)

// adminMaxDetail bounds the per-object lines (clusters, routes, proxies)
// one output gives; the summary lines always count everything.
const adminMaxDetail = 200

// AdminEndpoint says which endpoint's output a mesh-admin source holds:
// the one its Query (the request path, "/certs", "/stats?usedonly",
// "/debug/syncz") names, else the one its file name names
// ("mesh/gw/clusters.txt"), else the one its content looks like. It
// returns "" when none fits.
func AdminEndpoint(src causeway.Source, data []byte) string {
	if e := endpointOfPath(src.Query); e != "" {
		return e
	}
	base := strings.ToLower(path.Base(src.Name))
	for {
		ext := path.Ext(base)
		if ext == "" || len(ext) > 5 {
			break
		}
		base = strings.TrimSuffix(base, ext)
	}
	if e := endpointOfPath("/" + base); e != "" {
		return e
	}
	return sniffEndpoint(data)
}

// endpointOfPath names the endpoint of a request path; a name that only
// ends with the endpoint's ("booking-api-certs") counts too.
func endpointOfPath(p string) string {
	p, _, _ = strings.Cut(strings.TrimSpace(p), "?")
	if _, rest, ok := strings.Cut(p, " "); ok { // "GET /certs"
		p = rest
	}
	p = strings.ToLower(strings.TrimSuffix(p, "/"))
	if strings.HasSuffix(p, "stats/prometheus") {
		return EndpointMetrics
	}
	last := p[strings.LastIndexAny(p, "/-_.")+1:]
	if strings.HasSuffix(p, "config_dump") || strings.HasSuffix(p, "config-dump") {
		return EndpointConfigDump
	}
	if strings.HasSuffix(p, "server_info") || strings.HasSuffix(p, "server-info") {
		return EndpointServerInfo
	}
	switch last {
	case EndpointCerts, EndpointClusters, EndpointStats, EndpointMemory, EndpointSyncz, EndpointMetrics:
		return last
	}
	return ""
}

// sniffEndpoint recognizes an output by its shape.
func sniffEndpoint(data []byte) string {
	b := bytes.TrimSpace(data)
	if len(b) == 0 {
		return ""
	}
	if b[0] == '{' || b[0] == '[' {
		var probe struct {
			Certificates   json.RawMessage `json:"certificates"`
			Configs        json.RawMessage `json:"configs"`
			Allocated      json.RawMessage `json:"allocated"`
			HeapSize       json.RawMessage `json:"heap_size"`
			Stats          json.RawMessage `json:"stats"`
			State          json.RawMessage `json:"state"`
			CommandLine    json.RawMessage `json:"command_line_options"`
			ClusterStatues json.RawMessage `json:"cluster_statuses"`
		}
		if b[0] == '[' {
			var items []map[string]json.RawMessage
			if json.Unmarshal(b, &items) == nil && (len(items) == 0 || items[0]["proxy"] != nil) {
				return EndpointSyncz
			}
			return ""
		}
		if json.Unmarshal(b, &probe) != nil {
			return ""
		}
		switch {
		case probe.Certificates != nil:
			return EndpointCerts
		case probe.Configs != nil:
			return EndpointConfigDump
		case probe.Allocated != nil && probe.HeapSize != nil:
			return EndpointMemory
		case probe.Stats != nil:
			return EndpointStats
		case probe.State != nil && probe.CommandLine != nil:
			return EndpointServerInfo
		}
		return ""
	}
	first, _, _ := bytes.Cut(b, []byte{'\n'})
	switch {
	case bytes.Contains(first, []byte("::")):
		return EndpointClusters
	case bytes.HasPrefix(first, []byte("# HELP")) || bytes.HasPrefix(first, []byte("# TYPE")) || bytes.IndexByte(first, '{') > 0:
		return EndpointMetrics
	case bytes.Contains(first, []byte(": ")):
		return EndpointStats
	}
	return ""
}

// adminOut writes the lines of one admin output: all at the time it was
// taken, each with the source's labels (but the time) and its own facts.
type adminOut struct {
	o        *out
	at       time.Time
	labels   map[string]string
	endpoint string
	prefix   string // "envoy /certs: "
}

func (a *adminOut) add(text string, kv ...string) error {
	attrs := make(map[string]string, len(a.labels)+1+len(kv)/2)
	maps.Copy(attrs, a.labels)
	attrs["endpoint"] = a.endpoint
	for i := 0; i+1 < len(kv); i += 2 {
		attrs[kv[i]] = kv[i+1]
	}
	return a.o.addText(causeway.Line{Kind: causeway.LineStatus, Time: a.at, Text: a.prefix + text, Attrs: attrs})
}

// parseMeshAdmin reads one admin output; see KindMeshAdmin.
func parseMeshAdmin(o *out, in *input) error {
	data, err := in.readAll()
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		o.warnf("file is empty")
		return nil
	}
	a := &adminOut{o: o, endpoint: AdminEndpoint(*o.src, data), labels: map[string]string{}}
	for k, v := range o.src.Labels {
		if k != LabelAt {
			a.labels[k] = v
		}
	}
	if s := o.src.Labels[LabelAt]; s != "" {
		t, ok := parseTimeString(s)
		if !ok {
			o.warnf("label %s %q is not an RFC 3339 time; lines have no time", LabelAt, s)
		}
		a.at = t
	} else {
		o.warnf("no %s label saying when the output was taken; lines have no time", LabelAt)
	}
	switch a.endpoint {
	case EndpointCerts:
		a.prefix = "envoy /certs: "
		return a.certs(data)
	case EndpointClusters:
		a.prefix = "envoy /clusters: "
		return a.clusters(data)
	case EndpointStats:
		a.prefix = "envoy /stats: "
		return a.stats(data)
	case EndpointMemory:
		a.prefix = "envoy /memory: "
		return a.memory(data)
	case EndpointServerInfo:
		a.prefix = "envoy /server_info: "
		return a.serverInfo(data)
	case EndpointConfigDump:
		a.prefix = "envoy /config_dump: "
		return a.configDump(data)
	case EndpointSyncz:
		a.prefix = "istiod /debug/syncz: "
		return a.syncz(data)
	case EndpointMetrics:
		return a.metrics(data)
	}
	return fmt.Errorf("cannot tell which admin endpoint this output is from (give its request path as the source's query, such as /certs, /clusters, /stats, /memory, /server_info, /config_dump, /debug/syncz or /metrics)")
}

// decodeJSON unmarshals an admin output, with the position of a syntax
// error.
func decodeJSON(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return jsonError(data, err)
	}
	return nil
}

// syncStatus is one proxy's entry of istiod's /debug/syncz.
type syncStatus struct {
	ClusterID            string `json:"cluster_id"`
	ProxyID              string `json:"proxy"`
	ProxyType            string `json:"proxy_type"`
	ProxyVersion         string `json:"proxy_version"`
	IstioVersion         string `json:"istio_version"`
	ClusterSent          string `json:"cluster_sent"`
	ClusterAcked         string `json:"cluster_acked"`
	ListenerSent         string `json:"listener_sent"`
	ListenerAcked        string `json:"listener_acked"`
	RouteSent            string `json:"route_sent"`
	RouteAcked           string `json:"route_acked"`
	EndpointSent         string `json:"endpoint_sent"`
	EndpointAcked        string `json:"endpoint_acked"`
	ExtensionConfigSent  string `json:"extensionconfig_sent"`
	ExtensionConfigAcked string `json:"extensionconfig_acked"`
}

// xdsStatus is istioctl proxy-status's verdict on one xDS type: nothing
// sent, the last push acknowledged, or a push not (yet) acknowledged.
func xdsStatus(sent, acked string) string {
	switch {
	case sent == "":
		return "NOT SENT"
	case sent == acked:
		return "SYNCED"
	case acked == "":
		return "STALE (never acknowledged)"
	}
	return "STALE"
}

// syncz reads istiod's /debug/syncz: a summary of how many proxies are in
// sync, then a line for each proxy that is not (STALE, or CDS/LDS never
// sent), with the proxy's pod and namespace as attributes.
func (a *adminOut) syncz(data []byte) error {
	var all []syncStatus
	if err := decodeJSON(data, &all); err != nil {
		return err
	}
	var synced, stale, notSent int
	var lines []syncStatus
	for _, s := range all {
		types := []string{xdsStatus(s.ClusterSent, s.ClusterAcked), xdsStatus(s.ListenerSent, s.ListenerAcked),
			xdsStatus(s.EndpointSent, s.EndpointAcked), xdsStatus(s.RouteSent, s.RouteAcked)}
		switch {
		case slices.ContainsFunc(types, func(t string) bool { return strings.HasPrefix(t, "STALE") }):
			stale++
			lines = append(lines, s)
		case types[0] == "NOT SENT" || types[1] == "NOT SENT":
			notSent++
			lines = append(lines, s)
		default:
			synced++
		}
	}
	if err := a.add(fmt.Sprintf("%d proxies connected: %d SYNCED, %d STALE, %d with nothing sent", len(all), synced, stale, notSent),
		"proxies", strconv.Itoa(len(all)), "stale", strconv.Itoa(stale)); err != nil {
		return err
	}
	for i, s := range lines {
		if i == adminMaxDetail {
			return a.add(fmt.Sprintf("%d more proxies not in sync are not listed", len(lines)-i))
		}
		name, ns, _ := strings.Cut(s.ProxyID, ".")
		version := firstNonEmpty(s.IstioVersion, s.ProxyVersion)
		text := fmt.Sprintf("proxy %s (%s): CDS %s, LDS %s, EDS %s, RDS %s, ECDS %s", s.ProxyID, version,
			xdsStatus(s.ClusterSent, s.ClusterAcked), xdsStatus(s.ListenerSent, s.ListenerAcked),
			xdsStatus(s.EndpointSent, s.EndpointAcked), xdsStatus(s.RouteSent, s.RouteAcked),
			xdsStatus(s.ExtensionConfigSent, s.ExtensionConfigAcked))
		kv := []string{"proxy", s.ProxyID, "sync", "stale"}
		if ns != "" {
			kv = append(kv, "pod", name, "namespace", ns)
		}
		if !strings.Contains(text, "STALE") {
			kv[3] = "not-sent"
		}
		if err := a.add(text, kv...); err != nil {
			return err
		}
	}
	return nil
}

// promSample is one sample of the Prometheus text exposition format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

// parsePromText reads the Prometheus text exposition format: comments and
// blank lines skipped, a sample per line. Lines it cannot read are counted
// in bad.
func parsePromText(data []byte) (samples []promSample, bad int) {
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		s, ok := parsePromLine(string(line))
		if !ok {
			bad++
			continue
		}
		samples = append(samples, s)
	}
	return samples, bad
}

func parsePromLine(line string) (promSample, bool) {
	s := promSample{}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, false
	}
	s.name = line[:i]
	rest := line[i:]
	if rest[0] == '{' {
		s.labels = map[string]string{}
		j := 1
		for {
			for j < len(rest) && (rest[j] == ' ' || rest[j] == ',') {
				j++
			}
			if j >= len(rest) {
				return s, false
			}
			if rest[j] == '}' {
				j++
				break
			}
			eq := strings.IndexByte(rest[j:], '=')
			if eq < 0 || j+eq+1 >= len(rest) || rest[j+eq+1] != '"' {
				return s, false
			}
			key := strings.TrimSpace(rest[j : j+eq])
			k := j + eq + 2
			var v strings.Builder
			for ; k < len(rest) && rest[k] != '"'; k++ {
				if rest[k] == '\\' && k+1 < len(rest) {
					k++
					switch rest[k] {
					case 'n':
						v.WriteByte('\n')
						continue
					}
				}
				v.WriteByte(rest[k])
			}
			if k >= len(rest) {
				return s, false
			}
			s.labels[key] = v.String()
			j = k + 1
		}
		rest = rest[j:]
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return s, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, false
	}
	s.value = v
	return s, true
}

// metrics reads the Prometheus text format: a Linkerd proxy's /metrics
// (identity certificate expiry, memory, failed responses and errors,
// open connections) or Envoy's /stats/prometheus (read as /stats is), with
// the number of series and the metrics that have the most.
func (a *adminOut) metrics(data []byte) error {
	samples, bad := parsePromText(data)
	if bad > 0 {
		a.o.warnf("%s not in the Prometheus text format skipped", plural(int64(bad), "line"))
	}
	if len(samples) == 0 {
		return fmt.Errorf("no Prometheus samples in the output")
	}
	envoy, linkerd := false, false
	for _, s := range samples {
		envoy = envoy || strings.HasPrefix(s.name, "envoy_")
		linkerd = linkerd || strings.HasPrefix(s.name, "identity_cert_") || s.name == "request_total" && s.labels["direction"] != ""
	}
	switch {
	case linkerd:
		a.prefix = "linkerd-proxy /metrics: "
	case envoy:
		a.prefix = "envoy /stats/prometheus: "
	default:
		a.prefix = "/metrics: "
	}
	count := map[string]int{}
	for _, s := range samples {
		count[promFamily(s.name)]++
	}
	if err := a.add(fmt.Sprintf("%d series in %d metrics; most series: %s", len(samples), len(count), topCounts(count, 5)),
		"series", strconv.Itoa(len(samples))); err != nil {
		return err
	}
	if envoy {
		return a.envoyStats(promToStats(samples))
	}
	if linkerd {
		return a.linkerd(samples)
	}
	return nil
}

// promFamily folds histogram and summary series into their metric.
func promFamily(name string) string {
	for _, suf := range [...]string{"_bucket", "_sum", "_count"} {
		if strings.HasSuffix(name, suf) {
			return strings.TrimSuffix(name, suf)
		}
	}
	return name
}

// topCounts renders the n largest counts, largest first, ties by name.
func topCounts(count map[string]int, n int) string {
	keys := slices.Collect(maps.Keys(count))
	slices.SortFunc(keys, func(a, b string) int {
		if count[a] != count[b] {
			return count[b] - count[a]
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, fmt.Sprintf("%s %d", k, count[k]))
	}
	return strings.Join(parts, ", ")
}

// promToStats renames Envoy's Prometheus series to its /stats names, so
// that both read alike: envoy_cluster_upstream_rq_pending_overflow
// {envoy_cluster_name="x"} is cluster.x.upstream_rq_pending_overflow.
func promToStats(samples []promSample) map[string]float64 {
	out := make(map[string]float64, len(samples))
	for _, s := range samples {
		switch {
		case strings.HasPrefix(s.name, "envoy_cluster_") && s.labels["envoy_cluster_name"] != "":
			stat := strings.TrimPrefix(s.name, "envoy_cluster_")
			for _, k := range clusterStatKeys {
				if strings.ReplaceAll(k.stat, ".", "_") == stat {
					stat = k.stat
					break
				}
			}
			out["cluster."+s.labels["envoy_cluster_name"]+"."+stat] += s.value
		case strings.HasPrefix(s.name, "envoy_server_"):
			out["server."+strings.TrimPrefix(s.name, "envoy_server_")] += s.value
		case strings.HasPrefix(s.name, "envoy_http_") && s.labels["envoy_http_conn_manager_prefix"] != "":
			out["http."+s.labels["envoy_http_conn_manager_prefix"]+"."+strings.TrimPrefix(s.name, "envoy_http_")] += s.value
		}
	}
	return out
}

// linkerd reads what tells most in a Linkerd proxy's metrics.
func (a *adminOut) linkerd(samples []promSample) error {
	type key struct{ direction, target, status string }
	failures := map[key]float64{}
	errs := map[[2]string]float64{}
	open := map[string]float64{}
	for _, s := range samples {
		switch {
		case s.name == "identity_cert_expiration_timestamp_seconds":
			exp := time.Unix(int64(s.value), 0).UTC()
			text, kv := expiryText("identity certificate", a.at, time.Time{}, exp, "")
			if err := a.add(text, kv...); err != nil {
				return err
			}
		case s.name == "process_resident_memory_bytes":
			if err := a.add("resident memory "+bytesText(s.value), "resident_bytes", strconv.FormatFloat(s.value, 'f', 0, 64)); err != nil {
				return err
			}
		case s.name == "response_total" && s.labels["classification"] == "failure":
			target := firstNonEmpty(s.labels["authority"], s.labels["dst_service"], s.labels["target_addr"], s.labels["dst_deployment"])
			failures[key{s.labels["direction"], target, firstNonEmpty(s.labels["status_code"], s.labels["grpc_status"])}] += s.value
		case strings.HasSuffix(s.name, "_errors_total") && s.labels["error"] != "":
			errs[[2]string{s.name, s.labels["error"]}] += s.value
		case s.name == "tcp_open_connections":
			open[s.labels["direction"]] += s.value
		}
	}
	keys := slices.Collect(maps.Keys(failures))
	slices.SortFunc(keys, func(x, y key) int {
		return cmpJoin(x.direction, y.direction, x.target, y.target, x.status, y.status)
	})
	for i, k := range keys {
		if i == adminMaxDetail || failures[k] == 0 {
			break
		}
		text := fmt.Sprintf("%s failed responses to %s: %s", k.direction, k.target, strconv.FormatFloat(failures[k], 'f', -1, 64))
		if k.status != "" {
			text += " (status " + k.status + ")"
		}
		if err := a.add(text, "direction", k.direction, "target", k.target); err != nil {
			return err
		}
	}
	ekeys := slices.Collect(maps.Keys(errs))
	slices.SortFunc(ekeys, func(x, y [2]string) int { return cmpJoin(x[0], y[0], x[1], y[1]) })
	for _, k := range ekeys {
		if errs[k] > 0 {
			if err := a.add(fmt.Sprintf("%s{error=%q} %s", k[0], k[1], strconv.FormatFloat(errs[k], 'f', -1, 64)), "error", k[1]); err != nil {
				return err
			}
		}
	}
	if len(open) > 0 {
		dirs := slices.Sorted(maps.Keys(open))
		var parts []string
		for _, d := range dirs {
			parts = append(parts, fmt.Sprintf("%s %s", firstNonEmpty(d, "unknown"), strconv.FormatFloat(open[d], 'f', -1, 64)))
		}
		return a.add("open TCP connections: " + strings.Join(parts, ", "))
	}
	return nil
}

// cmpJoin compares pairs of strings in order: (a1, b1), then (a2, b2)...
func cmpJoin(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

// bytesText renders a size in binary units: "862.2 MiB".
func bytesText(b float64) string {
	units := [...]string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatFloat(b, 'f', 0, 64) + " B"
	}
	return strconv.FormatFloat(b, 'f', 1, 64) + " " + units[i]
}

// parseQuantity reads a Kubernetes memory quantity ("1Gi", "512Mi",
// "1G", "1073741824") as bytes.
func parseQuantity(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	mult := 1.0
	for _, u := range [...]struct {
		suffix string
		mult   float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	return v * mult, true
}

// expiryText describes a certificate's validity at time at: how long it
// has left, or that it has expired, or that it expires within 7 days
// while it was meant to last far longer (a short-lived workload
// certificate always expires within a day or so, and is rotated).
// daysField is Envoy's own days_until_expiration, used when at is unknown.
func expiryText(what string, at, from, until time.Time, daysField string) (string, []string) {
	kv := []string{"not_after", until.UTC().Format(time.RFC3339)}
	text := what + " expires " + until.UTC().Format(time.RFC3339)
	lifetime := until.Sub(from)
	if from.IsZero() {
		lifetime = 0
	}
	var left time.Duration
	switch {
	case !at.IsZero():
		left = until.Sub(at)
	case daysField != "":
		d, err := strconv.ParseFloat(daysField, 64)
		if err != nil {
			return text, kv
		}
		left = time.Duration(d * 24 * float64(time.Hour))
		if d == 0 {
			left = -1 // Envoy counts an expired certificate as 0 days
		}
	default:
		return text, kv
	}
	days := left.Hours() / 24
	kv = append(kv, "days_left", strconv.FormatFloat(days, 'f', 2, 64))
	lifeText := ""
	if lifetime > 0 {
		lifeText = fmt.Sprintf(" of a %.1f-day lifetime", lifetime.Hours()/24)
	}
	switch {
	case left < 0:
		kv = append(kv, "cert_status", "expired")
		if at.IsZero() {
			return what + " EXPIRED at " + until.UTC().Format(time.RFC3339), kv
		}
		return fmt.Sprintf("%s EXPIRED at %s, %s ago", what, until.UTC().Format(time.RFC3339), spanText(-left)), kv
	case days < 7 && (lifetime == 0 || lifetime > 14*24*time.Hour):
		kv = append(kv, "cert_status", "expiring")
		return fmt.Sprintf("%s: EXPIRES WITHIN 7 DAYS, %s left%s", text, spanText(left), lifeText), kv
	}
	kv = append(kv, "cert_status", "valid")
	return fmt.Sprintf("%s: %s left%s", text, spanText(left), lifeText), kv
}

// spanText renders a duration in hours under two days, else in days.
func spanText(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%.1f hours", d.Hours())
	}
	return fmt.Sprintf("%.1f days", d.Hours()/24)
}
