package files

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// certDetails is one certificate of Envoy's /certs.
type certDetails struct {
	Path            string `json:"path"`
	SerialNumber    string `json:"serial_number"`
	SubjectAltNames []struct {
		URI       string `json:"uri"`
		DNS       string `json:"dns"`
		IPAddress string `json:"ip_address"`
	} `json:"subject_alt_names"`
	DaysUntilExpiration json.Number `json:"days_until_expiration"`
	ValidFrom           string      `json:"valid_from"`
	ExpirationTime      string      `json:"expiration_time"`
}

// certs reads Envoy's /certs: a line per certificate with its time left,
// or a line saying that no certificate is loaded at all (a sidecar whose
// certificate never came).
func (a *adminOut) certs(data []byte) error {
	var doc struct {
		Certificates []struct {
			CACert    []certDetails `json:"ca_cert"`
			CertChain []certDetails `json:"cert_chain"`
		} `json:"certificates"`
	}
	if err := decodeJSON(data, &doc); err != nil {
		return err
	}
	n := 0
	for _, c := range doc.Certificates {
		for _, group := range [...]struct {
			kind  string
			certs []certDetails
		}{{"cert_chain", c.CertChain}, {"ca_cert", c.CACert}} {
			for _, d := range group.certs {
				n++
				if err := a.cert(group.kind, d); err != nil {
					return err
				}
			}
		}
	}
	if n == 0 {
		return a.add("no certificates loaded", "certificates", "0")
	}
	return nil
}

func (a *adminOut) cert(kind string, d certDetails) error {
	var names []string
	for _, san := range d.SubjectAltNames {
		if s := firstNonEmpty(san.URI, san.DNS, san.IPAddress); s != "" {
			names = append(names, s)
		}
	}
	what := kind + " certificate"
	if d.SerialNumber != "" {
		what += " serial " + d.SerialNumber
	}
	if len(names) > 0 {
		what += " (" + strings.Join(names, ", ") + ")"
	}
	if d.Path != "" && d.Path != "<inline>" {
		what += " from " + d.Path
	}
	until, ok := parseTimeString(d.ExpirationTime)
	if !ok {
		return a.add(what+" has no expiration time", "cert_type", kind)
	}
	from, _ := parseTimeString(d.ValidFrom)
	text, kv := expiryText(what, a.at, from, until, d.DaysUntilExpiration.String())
	kv = append(kv, "cert_type", kind, "serial", d.SerialNumber)
	if len(names) > 0 {
		kv = append(kv, "san", names[0])
	}
	return a.add(text, kv...)
}

// envoyCluster is what /clusters says about one cluster.
type envoyCluster struct {
	name       string
	limits     map[string]string // default_priority circuit breaker thresholds
	hosts      []string          // in order of appearance
	hostStats  map[string]map[string]string
	outlierAvg string
}

// splitAdminFields splits a /clusters line on "::", except inside the
// brackets of an IPv6 address ("[fd00::1]:8080").
func splitAdminFields(line string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ':':
			if depth == 0 && i+1 < len(line) && line[i+1] == ':' {
				parts = append(parts, line[start:i])
				start = i + 2
				i++
			}
		}
	}
	return append(parts, line[start:])
}

// Envoy's default circuit breaker thresholds: a cluster configured below
// them has limits someone chose, which is where pool exhaustion starts.
const defaultCircuitLimit = 1024

// clusters reads Envoy's /clusters text output: a summary, then a line for
// each cluster with a host that is not healthy, or with circuit breaker
// limits below Envoy's defaults, or for every cluster when there are few.
func (a *adminOut) clusters(data []byte) error {
	byName := map[string]*envoyCluster{}
	var order []string
	bad := 0
	for len(data) > 0 {
		var raw []byte
		raw, data, _ = bytes.Cut(data, []byte{'\n'})
		line := strings.TrimSpace(string(raw))
		if line == "" {
			continue
		}
		f := splitAdminFields(line)
		if len(f) < 3 {
			bad++
			continue
		}
		c := byName[f[0]]
		if c == nil {
			c = &envoyCluster{name: f[0], limits: map[string]string{}, hostStats: map[string]map[string]string{}}
			byName[f[0]] = c
			order = append(order, f[0])
		}
		switch {
		case len(f) == 4 && f[1] == "default_priority":
			c.limits[f[2]] = f[3]
		case len(f) == 4 && f[1] == "high_priority":
		case len(f) == 4 && f[1] == "outlier":
			if f[2] == "success_rate_average" {
				c.outlierAvg = f[3]
			}
		case len(f) == 4:
			st := c.hostStats[f[1]]
			if st == nil {
				st = map[string]string{}
				c.hostStats[f[1]] = st
				c.hosts = append(c.hosts, f[1])
			}
			st[f[2]] = f[3]
		}
	}
	if bad > 0 {
		a.o.warnf("%s not in the /clusters format skipped", plural(int64(bad), "line"))
	}
	if len(order) == 0 {
		return fmt.Errorf("no cluster in the /clusters output")
	}
	hosts, unhealthy, limited := 0, 0, 0
	flagCount := map[string]int{}
	var notable []*envoyCluster
	for _, name := range order {
		c := byName[name]
		hosts += len(c.hosts)
		sick := 0
		for _, h := range c.hosts {
			if hf := c.hostStats[h]["health_flags"]; hf != "" && hf != "healthy" {
				sick++
				for _, fl := range strings.Split(strings.TrimPrefix(hf, "/"), "/") {
					flagCount[fl]++
				}
			}
		}
		unhealthy += sick
		isLimited := c.limited()
		if isLimited {
			limited++
		}
		if sick > 0 || isLimited || len(order) <= 20 {
			notable = append(notable, c)
		}
	}
	summary := fmt.Sprintf("%s, %s, %d not healthy", plural(int64(len(order)), "cluster"), plural(int64(hosts), "host"), unhealthy)
	if len(flagCount) > 0 {
		summary += " (" + topCounts(flagCount, 10) + ")"
	}
	if limited > 0 {
		summary += fmt.Sprintf(", %s with circuit breaker limits below Envoy's defaults", plural(int64(limited), "cluster"))
	}
	if err := a.add(summary, "clusters", strconv.Itoa(len(order)), "hosts", strconv.Itoa(hosts), "unhealthy_hosts", strconv.Itoa(unhealthy)); err != nil {
		return err
	}
	for i, c := range notable {
		if i == adminMaxDetail {
			return a.add(fmt.Sprintf("%d more clusters are not listed", len(notable)-i))
		}
		if err := a.cluster(c); err != nil {
			return err
		}
	}
	return nil
}

// limited reports whether a cluster's default-priority limits are below
// Envoy's defaults.
func (c *envoyCluster) limited() bool {
	for _, k := range [...]string{"max_connections", "max_pending_requests", "max_requests"} {
		if v, err := strconv.ParseUint(c.limits[k], 10, 64); err == nil && v < defaultCircuitLimit {
			return true
		}
	}
	return false
}

func (a *adminOut) cluster(c *envoyCluster) error {
	var b strings.Builder
	healthy := 0
	var sick []string
	sums := map[string]uint64{}
	for _, h := range c.hosts {
		st := c.hostStats[h]
		if hf := st["health_flags"]; hf == "" || hf == "healthy" {
			healthy++
		} else {
			sick = append(sick, h+" "+hf)
		}
		for _, k := range [...]string{"cx_active", "rq_active", "cx_connect_fail", "rq_error", "rq_timeout"} {
			v, _ := strconv.ParseUint(st[k], 10, 64)
			sums[k] += v
		}
	}
	fmt.Fprintf(&b, "cluster %s: %s, %d healthy", c.name, plural(int64(len(c.hosts)), "host"), healthy)
	if len(sick) > 0 {
		shown := sick[:min(len(sick), 10)]
		fmt.Fprintf(&b, ", not healthy: %s", strings.Join(shown, ", "))
		if len(sick) > len(shown) {
			fmt.Fprintf(&b, " and %d more", len(sick)-len(shown))
		}
	}
	if c.outlierAvg != "" && c.outlierAvg != "-1" {
		fmt.Fprintf(&b, "; outlier success rate average %s", c.outlierAvg)
	}
	kv := []string{"cluster", c.name, "hosts", strconv.Itoa(len(c.hosts)), "healthy_hosts", strconv.Itoa(healthy)}
	if c.limited() {
		// Limits at their defaults say nothing; limits someone lowered are
		// where a pool runs out.
		b.WriteString("; circuit breakers")
		for _, k := range [...]string{"max_connections", "max_pending_requests", "max_requests", "max_retries"} {
			if v, ok := c.limits[k]; ok {
				fmt.Fprintf(&b, " %s=%s", k, v)
				kv = append(kv, k, v)
			}
		}
		b.WriteString(" (below Envoy's defaults)")
	}
	var totals []string
	for _, k := range [...]string{"cx_active", "rq_active", "cx_connect_fail", "rq_error", "rq_timeout"} {
		if sums[k] > 0 {
			totals = append(totals, fmt.Sprintf("%s %d", k, sums[k]))
		}
	}
	if len(totals) > 0 {
		b.WriteString("; hosts total " + strings.Join(totals, ", "))
	}
	return a.add(b.String(), kv...)
}

// clusterStatKey is a per-cluster statistic /stats lines are read for.
type clusterStatKey struct {
	stat string
	// failure marks counters that only grow when something goes wrong; a
	// cluster gets a line when one of them is above zero.
	failure bool
}

// clusterStatKeys are the per-cluster statistics that tell of failures
// (connect failures, pool overflow, resets, ejections, TLS verification)
// and the gauges that put them in context.
var clusterStatKeys = []clusterStatKey{
	{"upstream_rq_5xx", true},
	{"upstream_rq_503", true},
	{"upstream_cx_connect_fail", true},
	{"upstream_cx_connect_timeout", true},
	{"upstream_rq_pending_overflow", true},
	{"upstream_cx_overflow", true},
	{"upstream_rq_retry_overflow", true},
	{"upstream_cx_none_healthy", true},
	{"upstream_rq_timeout", true},
	{"upstream_rq_per_try_timeout", true},
	{"upstream_cx_destroy_remote_with_active_rq", true},
	{"upstream_cx_destroy_local_with_active_rq", true},
	{"upstream_cx_protocol_error", true},
	{"upstream_rq_rx_reset", true},
	{"upstream_rq_tx_reset", true},
	{"upstream_rq_maintenance_mode", true},
	{"outlier_detection.ejections_active", true},
	{"outlier_detection.ejections_enforced_total", true},
	{"ssl.connection_error", true},
	{"ssl.fail_verify_error", true},
	{"ssl.fail_verify_san", true},
	{"circuit_breakers.default.cx_open", true},
	{"circuit_breakers.default.rq_pending_open", true},
	{"circuit_breakers.default.rq_open", true},
	{"upstream_cx_active", false},
	{"upstream_rq_active", false},
	{"upstream_rq_pending_active", false},
	{"upstream_rq_total", false},
	{"membership_healthy", false},
	{"membership_total", false},
}

// downstreamStatKeys are the per-listener (http.<prefix>.) statistics read.
var downstreamStatKeys = []clusterStatKey{
	{"downstream_rq_5xx", true},
	{"downstream_cx_overflow", true},
	{"downstream_rq_overload_close", true},
	{"downstream_cx_protocol_error", true},
	{"downstream_cx_active", false},
	{"downstream_rq_total", false},
}

// serverStatKeys are the proxy-wide statistics read, with the xDS
// updates the proxy rejected (a configuration it would not load).
var serverStatKeys = []string{
	"server.memory_allocated", "server.memory_heap_size", "server.memory_physical_size", "server.uptime",
	"server.total_connections", "server.hot_restart_epoch", "server.state", "server.live",
	"control_plane.connected_state",
	"cluster_manager.cds.update_rejected", "listener_manager.lds.update_rejected",
	"cluster_manager.warming_clusters", "listener_manager.total_listeners_warming",
}

// stats reads Envoy's /stats, text ("name: value") or JSON (?format=json):
// how many statistics there are and which names have the most (a stats
// explosion shows there), the proxy-wide figures, and a line for each
// cluster or listener whose failure counters are above zero.
func (a *adminOut) stats(data []byte) error {
	values := map[string]float64{}
	count := map[string]int{}
	total := 0
	if b := bytes.TrimSpace(data); len(b) > 0 && b[0] == '{' {
		var doc struct {
			Stats []struct {
				Name  string          `json:"name"`
				Value json.RawMessage `json:"value"`
			} `json:"stats"`
		}
		if err := decodeJSON(b, &doc); err != nil {
			return err
		}
		for _, s := range doc.Stats {
			if s.Name == "" {
				continue
			}
			total++
			count[statFamily(s.Name)]++
			if v, err := strconv.ParseFloat(string(s.Value), 64); err == nil {
				values[s.Name] = v
			}
		}
	} else {
		for len(data) > 0 {
			var raw []byte
			raw, data, _ = bytes.Cut(data, []byte{'\n'})
			line := bytes.TrimSpace(raw)
			if len(line) == 0 {
				continue
			}
			i := bytes.LastIndex(line, []byte(": "))
			if i <= 0 {
				continue
			}
			name := string(line[:i])
			total++
			count[statFamily(name)]++
			if v, err := strconv.ParseFloat(string(line[i+2:]), 64); err == nil {
				values[name] = v
			}
		}
	}
	if total == 0 {
		return fmt.Errorf("no statistics in the /stats output")
	}
	if err := a.add(fmt.Sprintf("%d stats; most by name: %s", total, topCounts(count, 5)), "stats_count", strconv.Itoa(total)); err != nil {
		return err
	}
	return a.envoyStats(values)
}

// statFamily is the name a statistic is counted under: its first segment
// ("cluster", "http", "listener"), or for Istio's tagged statistics
// ("reporter=.=destination;.;...;.;istio_requests_total") the metric.
func statFamily(name string) string {
	if i := strings.LastIndexByte(name, ';'); i >= 0 {
		return strings.TrimPrefix(name[i+1:], ".")
	}
	first, _, _ := strings.Cut(name, ".")
	return first
}

// envoyStats writes the proxy-wide line and the per-cluster and
// per-listener lines of a set of statistics.
func (a *adminOut) envoyStats(values map[string]float64) error {
	var server []string
	var skv []string
	for _, k := range serverStatKeys {
		if v, ok := values[k]; ok {
			server = append(server, fmt.Sprintf("%s %s", k, statNum(v)))
			skv = append(skv, strings.TrimPrefix(k, "server."), statNum(v))
		}
	}
	var down, up float64
	for name, v := range values {
		if strings.HasPrefix(name, "http.") && strings.HasSuffix(name, ".downstream_cx_active") {
			down += v
		}
		if strings.HasPrefix(name, "cluster.") && strings.HasSuffix(name, ".upstream_cx_active") {
			up += v
		}
	}
	server = append(server, "downstream cx_active "+statNum(down), "upstream cx_active "+statNum(up))
	if err := a.add("proxy "+strings.Join(server, ", "), skv...); err != nil {
		return err
	}
	if err := a.perObject(values, "cluster.", clusterStatKeys, "cluster"); err != nil {
		return err
	}
	return a.perObject(values, "http.", downstreamStatKeys, "listener")
}

// perObject writes a line per object (cluster, http connection manager)
// with one failure counter above zero, objects in name order.
func (a *adminOut) perObject(values map[string]float64, prefix string, keys []clusterStatKey, what string) error {
	objs := map[string]map[string]float64{}
	for name, v := range values {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		rest := name[len(prefix):]
		for _, k := range keys {
			if len(rest) > len(k.stat)+1 && strings.HasSuffix(rest, k.stat) && rest[len(rest)-len(k.stat)-1] == '.' {
				obj := rest[:len(rest)-len(k.stat)-1]
				if objs[obj] == nil {
					objs[obj] = map[string]float64{}
				}
				objs[obj][k.stat] = v
				break
			}
		}
	}
	names := slices.Sorted(maps.Keys(objs))
	n := 0
	for _, obj := range names {
		st := objs[obj]
		failing := false
		for _, k := range keys {
			failing = failing || k.failure && st[k.stat] > 0
		}
		if !failing {
			continue
		}
		if n == adminMaxDetail {
			return a.add(fmt.Sprintf("more %ss with failures are not listed", what))
		}
		n++
		var parts []string
		kv := []string{what, obj}
		for _, k := range keys {
			// Zeros say nothing, but for membership: no healthy host is the
			// point.
			if v, ok := st[k.stat]; ok && (v > 0 || strings.HasPrefix(k.stat, "membership_")) {
				parts = append(parts, k.stat+" "+statNum(v))
				kv = append(kv, k.stat, statNum(v))
			}
		}
		if err := a.add(what+" "+obj+": "+strings.Join(parts, ", "), kv...); err != nil {
			return err
		}
	}
	return nil
}

// statNum renders a statistic's value: integers without a fraction.
func statNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// memory reads Envoy's /memory (tcmalloc's figures, as strings of bytes),
// measured against the container's memory limit when the source says it.
func (a *adminOut) memory(data []byte) error {
	var m map[string]json.RawMessage
	if err := decodeJSON(data, &m); err != nil {
		return err
	}
	get := func(k string) (float64, bool) {
		raw, ok := m[k]
		if !ok {
			return 0, false
		}
		s := string(raw)
		if str, ok := jsonString(raw); ok {
			s = str
		}
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil
	}
	var parts, kv []string
	for _, k := range [...]string{"allocated", "heap_size", "total_physical_bytes", "pageheap_unmapped", "pageheap_free", "total_thread_cache"} {
		if v, ok := get(k); ok {
			parts = append(parts, k+" "+bytesText(v))
			kv = append(kv, strings.TrimSuffix(k, "_bytes")+"_bytes", statNum(v))
		}
	}
	if len(parts) == 0 {
		return fmt.Errorf("no memory figures in the /memory output")
	}
	text := strings.Join(parts, ", ")
	if limit, ok := parseQuantity(a.labels[LabelMemoryLimit]); ok {
		if heap, ok := get("heap_size"); ok {
			pct := 100 * heap / limit
			text += fmt.Sprintf("; heap is %.1f%% of the container's %s memory limit", pct, a.labels[LabelMemoryLimit])
			kv = append(kv, "limit_used_pct", strconv.FormatFloat(pct, 'f', 1, 64))
		}
	}
	return a.add(text, kv...)
}

// serverInfo reads Envoy's /server_info: version, state and uptime, which
// say whether the proxy restarted.
func (a *adminOut) serverInfo(data []byte) error {
	var info struct {
		Version            string `json:"version"`
		State              string `json:"state"`
		HotRestartVersion  string `json:"hot_restart_version"`
		UptimeCurrentEpoch string `json:"uptime_current_epoch"`
		UptimeAllEpochs    string `json:"uptime_all_epochs"`
		Node               struct {
			ID      string `json:"id"`
			Cluster string `json:"cluster"`
		} `json:"node"`
	}
	if err := decodeJSON(data, &info); err != nil {
		return err
	}
	version := info.Version
	if i := strings.IndexByte(version, '/'); i >= 0 {
		// "ab12cd/1.32.3/Clean/RELEASE/BoringSSL": the release is the second field.
		if f := strings.Split(version, "/"); len(f) > 1 {
			version = f[1]
		}
	}
	text := fmt.Sprintf("envoy %s, state %s, up %s", version, info.State, durationText(info.UptimeCurrentEpoch))
	if info.UptimeAllEpochs != "" && info.UptimeAllEpochs != info.UptimeCurrentEpoch {
		text += " (" + durationText(info.UptimeAllEpochs) + " over all hot restarts)"
	}
	if info.Node.ID != "" {
		text += ", node " + info.Node.ID
	}
	return a.add(text, "state", info.State, "uptime", info.UptimeCurrentEpoch, "version", version)
}

// durationText renders a protobuf duration ("177312s") readably.
func durationText(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return s
	}
	d = d.Round(time.Minute)
	days := d / (24 * time.Hour)
	if days > 0 {
		return fmt.Sprintf("%dd%s", days, strings.TrimSuffix((d-days*24*time.Hour).String(), "0s"))
	}
	return strings.TrimSuffix(d.String(), "0s")
}
