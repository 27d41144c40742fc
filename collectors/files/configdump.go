package files

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// dumpCluster is the part of an Envoy Cluster a summary shows.
type dumpCluster struct {
	Name           string `json:"name"`
	Type           string `json:"type"`
	LbPolicy       string `json:"lb_policy"`
	ConnectTimeout string `json:"connect_timeout"`
	ClusterType    *struct {
		Name string `json:"name"`
	} `json:"cluster_type"`
	CircuitBreakers *struct {
		Thresholds []map[string]json.RawMessage `json:"thresholds"`
	} `json:"circuit_breakers"`
	OutlierDetection map[string]json.RawMessage `json:"outlier_detection"`
	OriginalDstLb    *struct {
		UseHTTPHeader  bool   `json:"use_http_header"`
		HTTPHeaderName string `json:"http_header_name"`
	} `json:"original_dst_lb_config"`
	TypedExtensionProtocolOptions map[string]struct {
		CommonHTTPProtocolOptions map[string]json.RawMessage `json:"common_http_protocol_options"`
	} `json:"typed_extension_protocol_options"`
}

// dumpListener is the part of an Envoy Listener a summary shows.
type dumpListener struct {
	Name    string `json:"name"`
	Address struct {
		SocketAddress struct {
			Address   string `json:"address"`
			PortValue int    `json:"port_value"`
		} `json:"socket_address"`
	} `json:"address"`
	FilterChains []struct {
		Filters []struct {
			Name        string `json:"name"`
			TypedConfig struct {
				StatPrefix string `json:"stat_prefix"`
				Rds        *struct {
					RouteConfigName string `json:"route_config_name"`
				} `json:"rds"`
				HTTPFilters []struct {
					Name     string `json:"name"`
					Disabled bool   `json:"disabled"`
				} `json:"http_filters"`
			} `json:"typed_config"`
		} `json:"filters"`
	} `json:"filter_chains"`
}

// dumpRouteConfig is the part of an Envoy RouteConfiguration a summary
// shows.
type dumpRouteConfig struct {
	Name         string `json:"name"`
	VirtualHosts []struct {
		Name    string      `json:"name"`
		Domains []string    `json:"domains"`
		Routes  []dumpRoute `json:"routes"`
	} `json:"virtual_hosts"`
}

// dumpRoute is one route of a virtual host.
type dumpRoute struct {
	Name  string `json:"name"`
	Match struct {
		Prefix    *string `json:"prefix"`
		Path      *string `json:"path"`
		SafeRegex *struct {
			Regex string `json:"regex"`
		} `json:"safe_regex"`
		PathSeparatedPrefix *string                      `json:"path_separated_prefix"`
		Headers             []map[string]json.RawMessage `json:"headers"`
	} `json:"match"`
	Route *struct {
		Cluster          string `json:"cluster"`
		ClusterHeader    string `json:"cluster_header"`
		WeightedClusters *struct {
			Clusters []struct {
				Name   string          `json:"name"`
				Weight json.RawMessage `json:"weight"`
			} `json:"clusters"`
		} `json:"weighted_clusters"`
	} `json:"route"`
	DirectResponse *struct {
		Status int `json:"status"`
	} `json:"direct_response"`
	Redirect             json.RawMessage            `json:"redirect"`
	TypedPerFilterConfig map[string]json.RawMessage `json:"typed_per_filter_config"`
}

// dumpSecret is an SDS secret of the config dump: a certificate chain or
// a validation context, with the certificates inline (private keys are
// redacted by Envoy).
type dumpSecret struct {
	Name        string `json:"name"`
	LastUpdated string `json:"last_updated"`
	Secret      struct {
		Name           string `json:"name"`
		TLSCertificate *struct {
			CertificateChain dataSource `json:"certificate_chain"`
		} `json:"tls_certificate"`
		ValidationContext *struct {
			TrustedCA dataSource `json:"trusted_ca"`
		} `json:"validation_context"`
	} `json:"secret"`
	warming bool
}

// dataSource is Envoy's DataSource: inline bytes (base64), an inline
// string, or a file the dump cannot show.
type dataSource struct {
	InlineBytes  string `json:"inline_bytes"`
	InlineString string `json:"inline_string"`
	Filename     string `json:"filename"`
}

func (d dataSource) pem() []byte {
	if d.InlineString != "" {
		return []byte(d.InlineString)
	}
	b, err := base64.StdEncoding.DecodeString(d.InlineBytes)
	if err != nil {
		return nil
	}
	return b
}

// dumpEntry is one versioned resource of a config dump, with when it was
// last updated; Listener entries keep their states.
type dumpEntry[T any] struct {
	VersionInfo string `json:"version_info"`
	LastUpdated string `json:"last_updated"`
	Item        T
}

// configDump is what a summary needs of a config dump, gathered from the
// whole dump or from its ?resource= form alike.
type configDump struct {
	node     string
	version  string
	clusters []dumpEntry[dumpCluster]
	warming  []dumpEntry[dumpCluster]
	static   int
	listens  []dumpEntry[dumpListener]
	rejected []listenerError
	routes   []dumpEntry[dumpRouteConfig]
	secrets  []dumpSecret
	// has names the kinds the dump holds: clusters, listeners, routes,
	// secrets.
	has map[string]bool
}

// listenerError is a listener update the proxy rejected.
type listenerError struct {
	name, at, details string
}

// configDump reads Envoy's /config_dump (whole, or one ?resource= kind):
// the node, a count of clusters, listeners, route configurations and
// secrets, then what tells most: rejected listener updates, warming
// clusters and secrets, clusters with circuit breaker limits or an
// original-destination load balancer, listeners with their HTTP filters,
// routes with their match and target, and every certificate of every
// secret with its time left.
func (a *adminOut) configDump(data []byte) error {
	var doc struct {
		Configs []json.RawMessage `json:"configs"`
	}
	if err := decodeJSON(data, &doc); err != nil {
		return err
	}
	d := &configDump{has: map[string]bool{}}
	for _, raw := range doc.Configs {
		var typ struct {
			Type string `json:"@type"`
		}
		if json.Unmarshal(raw, &typ) != nil {
			continue
		}
		name := typ.Type[strings.LastIndexByte(typ.Type, '.')+1:]
		if i := strings.LastIndex(typ.Type, "ConfigDump."); i >= 0 {
			name = typ.Type[i:] // "ConfigDump.DynamicCluster"
		}
		if err := d.read(name, raw); err != nil {
			return fmt.Errorf("read %s: %w", typ.Type, err)
		}
	}
	return a.writeDump(d)
}

// read adds one config of the dump.
func (d *configDump) read(kind string, raw json.RawMessage) error {
	type clusterEntry struct {
		VersionInfo string      `json:"version_info"`
		LastUpdated string      `json:"last_updated"`
		Cluster     dumpCluster `json:"cluster"`
	}
	type routeEntry struct {
		VersionInfo string          `json:"version_info"`
		LastUpdated string          `json:"last_updated"`
		RouteConfig dumpRouteConfig `json:"route_config"`
	}
	type listenerState struct {
		VersionInfo string       `json:"version_info"`
		LastUpdated string       `json:"last_updated"`
		Listener    dumpListener `json:"listener"`
	}
	type listenerEntry struct {
		Name        string         `json:"name"`
		ActiveState *listenerState `json:"active_state"`
		ErrorState  *struct {
			LastUpdateAttempt string `json:"last_update_attempt"`
			Details           string `json:"details"`
		} `json:"error_state"`
		Listener *dumpListener `json:"listener"` // static listeners
	}
	addCluster := func(e clusterEntry, warming bool) {
		de := dumpEntry[dumpCluster]{e.VersionInfo, e.LastUpdated, e.Cluster}
		if warming {
			d.warming = append(d.warming, de)
		} else {
			d.clusters = append(d.clusters, de)
		}
	}
	addListener := func(e listenerEntry) {
		switch {
		case e.ActiveState != nil:
			d.listens = append(d.listens, dumpEntry[dumpListener]{e.ActiveState.VersionInfo, e.ActiveState.LastUpdated, e.ActiveState.Listener})
		case e.Listener != nil:
			d.listens = append(d.listens, dumpEntry[dumpListener]{Item: *e.Listener})
		}
		if e.ErrorState != nil {
			d.rejected = append(d.rejected, listenerError{e.Name, e.ErrorState.LastUpdateAttempt, e.ErrorState.Details})
		}
	}
	switch kind {
	case "BootstrapConfigDump":
		var b struct {
			Bootstrap struct {
				Node struct {
					ID                    string `json:"id"`
					Cluster               string `json:"cluster"`
					UserAgentBuildVersion struct {
						Version struct {
							Major int `json:"major_number"`
							Minor int `json:"minor_number"`
							Patch int `json:"patch"`
						} `json:"version"`
					} `json:"user_agent_build_version"`
				} `json:"node"`
			} `json:"bootstrap"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			return err
		}
		d.node = b.Bootstrap.Node.ID
		if v := b.Bootstrap.Node.UserAgentBuildVersion.Version; v.Major > 0 {
			d.version = fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
		}
	case "ClustersConfigDump":
		d.has["clusters"] = true
		var c struct {
			Static  []clusterEntry `json:"static_clusters"`
			Active  []clusterEntry `json:"dynamic_active_clusters"`
			Warming []clusterEntry `json:"dynamic_warming_clusters"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return err
		}
		d.static += len(c.Static)
		for _, e := range append(c.Static, c.Active...) {
			addCluster(e, false)
		}
		for _, e := range c.Warming {
			addCluster(e, true)
		}
	case "ConfigDump.StaticCluster", "ConfigDump.DynamicCluster":
		d.has["clusters"] = true
		var e clusterEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		addCluster(e, false)
	case "ListenersConfigDump":
		d.has["listeners"] = true
		var l struct {
			Static  []listenerEntry `json:"static_listeners"`
			Dynamic []listenerEntry `json:"dynamic_listeners"`
		}
		if err := json.Unmarshal(raw, &l); err != nil {
			return err
		}
		for _, e := range append(l.Static, l.Dynamic...) {
			addListener(e)
		}
	case "ConfigDump.StaticListener", "ConfigDump.DynamicListener":
		d.has["listeners"] = true
		var e listenerEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		addListener(e)
	case "RoutesConfigDump":
		d.has["routes"] = true
		var r struct {
			Static  []routeEntry `json:"static_route_configs"`
			Dynamic []routeEntry `json:"dynamic_route_configs"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		for _, e := range append(r.Static, r.Dynamic...) {
			d.routes = append(d.routes, dumpEntry[dumpRouteConfig]{e.VersionInfo, e.LastUpdated, e.RouteConfig})
		}
	case "ConfigDump.StaticRouteConfig", "ConfigDump.DynamicRouteConfig":
		d.has["routes"] = true
		var e routeEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		d.routes = append(d.routes, dumpEntry[dumpRouteConfig]{e.VersionInfo, e.LastUpdated, e.RouteConfig})
	case "SecretsConfigDump":
		d.has["secrets"] = true
		var s struct {
			Static  []dumpSecret `json:"static_secrets"`
			Active  []dumpSecret `json:"dynamic_active_secrets"`
			Warming []dumpSecret `json:"dynamic_warming_secrets"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		d.secrets = append(d.secrets, s.Static...)
		d.secrets = append(d.secrets, s.Active...)
		for _, w := range s.Warming {
			w.warming = true
			d.secrets = append(d.secrets, w)
		}
	case "ConfigDump.DynamicSecret", "ConfigDump.StaticSecret":
		d.has["secrets"] = true
		var s dumpSecret
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		d.secrets = append(d.secrets, s)
	}
	return nil
}

func (a *adminOut) writeDump(d *configDump) error {
	nRoutes := 0
	for _, rc := range d.routes {
		for _, vh := range rc.Item.VirtualHosts {
			nRoutes += len(vh.Routes)
		}
	}
	var head []string
	if d.node != "" {
		head = append(head, "node "+d.node)
	}
	if d.version != "" {
		head = append(head, "envoy "+d.version)
	}
	// A dump of one ?resource= kind holds only that kind: the summary
	// counts what it holds, not zeros of what was not asked for.
	var counts []string
	if d.has["clusters"] {
		counts = append(counts, fmt.Sprintf("%s (%d static, %d warming)", plural(int64(len(d.clusters)+len(d.warming)), "cluster"), d.static, len(d.warming)))
	}
	if d.has["listeners"] {
		counts = append(counts, fmt.Sprintf("%s (%d with a rejected update)", plural(int64(len(d.listens)), "listener"), len(d.rejected)))
	}
	if d.has["routes"] {
		counts = append(counts, fmt.Sprintf("%s with %s", plural(int64(len(d.routes)), "route config"), plural(int64(nRoutes), "route")))
	}
	if d.has["secrets"] {
		counts = append(counts, plural(int64(len(d.secrets)), "secret"))
	}
	head = append(head, strings.Join(counts, ", "))
	if err := a.add(strings.Join(head, "; "), "clusters", strconv.Itoa(len(d.clusters)+len(d.warming)),
		"listeners", strconv.Itoa(len(d.listens)), "routes", strconv.Itoa(nRoutes)); err != nil {
		return err
	}
	for _, r := range d.rejected {
		if err := a.add(fmt.Sprintf("listener %s update REJECTED at %s: %s", r.name, r.at, r.details), "listener", r.name); err != nil {
			return err
		}
	}
	all := len(d.clusters)+len(d.warming) <= 20
	n := 0
	for _, group := range [...]struct {
		entries []dumpEntry[dumpCluster]
		warming bool
	}{{d.warming, true}, {d.clusters, false}} {
		for _, e := range group.entries {
			text, notable := clusterText(e, group.warming)
			if !notable && !all {
				continue
			}
			if n++; n > adminMaxDetail {
				break
			}
			if err := a.add(text, "cluster", e.Item.Name); err != nil {
				return err
			}
		}
	}
	if len(d.listens) <= 20 {
		for _, e := range d.listens {
			if err := a.add(listenerText(e), "listener", e.Item.Name); err != nil {
				return err
			}
		}
	}
	for _, rc := range d.routes {
		vhosts := len(rc.Item.VirtualHosts)
		routes := 0
		for _, vh := range rc.Item.VirtualHosts {
			routes += len(vh.Routes)
		}
		text := fmt.Sprintf("route config %s: %s, %s", rc.Item.Name, plural(int64(vhosts), "virtual host"), plural(int64(routes), "route"))
		if rc.LastUpdated != "" {
			text += ", updated " + rc.LastUpdated
		}
		if err := a.add(text, "route_config", rc.Item.Name); err != nil {
			return err
		}
	}
	if nRoutes <= 50 {
		for _, rc := range d.routes {
			for _, vh := range rc.Item.VirtualHosts {
				for _, r := range vh.Routes {
					text := routeText(rc.Item.Name, vh.Name, r)
					if err := a.add(text, "route", r.Name, "route_config", rc.Item.Name); err != nil {
						return err
					}
				}
			}
		}
	}
	for _, s := range d.secrets {
		if err := a.secret(s); err != nil {
			return err
		}
	}
	return nil
}

// clusterText summarizes one cluster and says whether it is notable: not
// yet warmed, limited below Envoy's defaults, or routed by original
// destination.
func clusterText(e dumpEntry[dumpCluster], warming bool) (string, bool) {
	c := e.Item
	typ := c.Type
	if c.ClusterType != nil && c.ClusterType.Name != "" {
		typ = c.ClusterType.Name
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %s (%s", c.Name, firstNonEmpty(typ, "EDS"))
	if c.LbPolicy != "" {
		b.WriteString(", " + c.LbPolicy)
	}
	b.WriteString(")")
	notable := warming
	if warming {
		b.WriteString(" WARMING: not yet in use")
	}
	if c.OriginalDstLb != nil {
		notable = true
		if c.OriginalDstLb.UseHTTPHeader {
			fmt.Fprintf(&b, "; destination taken from request header %s", firstNonEmpty(c.OriginalDstLb.HTTPHeaderName, "x-envoy-original-dst-host"))
		} else {
			b.WriteString("; destination taken from the connection's original destination")
		}
	} else if typ == "ORIGINAL_DST" {
		notable = true
	}
	if c.CircuitBreakers != nil {
		for _, th := range c.CircuitBreakers.Thresholds {
			if p, ok := th["priority"]; ok && strings.Contains(string(p), "HIGH") {
				continue
			}
			var parts []string
			for _, k := range [...]string{"max_connections", "max_pending_requests", "max_requests", "max_retries"} {
				raw, ok := th[k]
				if !ok {
					continue
				}
				v := strings.Trim(string(raw), `"`)
				parts = append(parts, k+"="+v)
				if n, err := strconv.ParseUint(v, 10, 64); err == nil && n < defaultCircuitLimit && k != "max_retries" {
					notable = true
				}
			}
			if len(parts) > 0 {
				b.WriteString("; circuit breakers " + strings.Join(parts, " "))
			}
		}
	}
	for _, opts := range c.TypedExtensionProtocolOptions {
		if raw, ok := opts.CommonHTTPProtocolOptions["max_requests_per_connection"]; ok {
			b.WriteString("; max_requests_per_connection=" + strings.Trim(string(raw), `"`))
		}
	}
	if len(c.OutlierDetection) > 0 {
		var parts []string
		for _, k := range keysOf(c.OutlierDetection) {
			parts = append(parts, k+"="+strings.Trim(string(c.OutlierDetection[k]), `"`))
		}
		b.WriteString("; outlier detection " + strings.Join(parts, " "))
	}
	if e.LastUpdated != "" {
		b.WriteString("; updated " + e.LastUpdated)
	}
	return b.String(), notable
}

// listenerText names a listener's address, its HTTP filters in order and
// where its routes come from: a filter that a policy should have added and
// did not shows here.
func listenerText(e dumpEntry[dumpListener]) string {
	l := e.Item
	var filters, rds, network []string
	seen := map[string]bool{}
	for _, fc := range l.FilterChains {
		for _, f := range fc.Filters {
			if f.Name != "envoy.filters.network.http_connection_manager" {
				if !seen["net:"+f.Name] {
					seen["net:"+f.Name] = true
					network = append(network, f.Name)
				}
				continue
			}
			for _, hf := range f.TypedConfig.HTTPFilters {
				name := hf.Name
				if hf.Disabled {
					name += " (disabled unless a route enables it)"
				}
				if !seen[name] {
					seen[name] = true
					filters = append(filters, name)
				}
			}
			if f.TypedConfig.Rds != nil && !seen["rds:"+f.TypedConfig.Rds.RouteConfigName] {
				seen["rds:"+f.TypedConfig.Rds.RouteConfigName] = true
				rds = append(rds, f.TypedConfig.Rds.RouteConfigName)
			}
		}
	}
	sa := l.Address.SocketAddress
	text := fmt.Sprintf("listener %s (%s:%d)", l.Name, sa.Address, sa.PortValue)
	if len(filters) > 0 {
		text += ": http filters " + strings.Join(filters, ", ")
	}
	if len(rds) > 0 {
		text += "; routes from " + strings.Join(rds, ", ")
	}
	if len(network) > 0 {
		text += "; network filters " + strings.Join(network, ", ")
	}
	if e.LastUpdated != "" {
		text += "; updated " + e.LastUpdated
	}
	return text
}

// routeText renders one route: what it matches, where it sends the
// request, and which filters it configures.
func routeText(config, vhost string, r dumpRoute) string {
	var match []string
	m := r.Match
	switch {
	case m.Prefix != nil:
		match = append(match, "prefix "+*m.Prefix)
	case m.Path != nil:
		match = append(match, "path "+*m.Path)
	case m.PathSeparatedPrefix != nil:
		match = append(match, "path prefix "+*m.PathSeparatedPrefix)
	case m.SafeRegex != nil:
		match = append(match, "path regex "+m.SafeRegex.Regex)
	}
	for _, h := range m.Headers {
		var hn string
		_ = json.Unmarshal(h["name"], &hn)
		cond := "present"
		for _, k := range [...]string{"string_match", "exact_match", "safe_regex_match", "prefix_match", "suffix_match", "present_match"} {
			if raw, ok := h[k]; ok {
				cond = compactJSON(raw)
				if k != "string_match" {
					cond = k + " " + cond
				}
				break
			}
		}
		if raw, ok := h["invert_match"]; ok && string(raw) == "true" {
			cond = "not " + cond
		}
		match = append(match, "header "+hn+" "+cond)
	}
	if len(match) == 0 {
		match = append(match, "any request")
	}
	target := "nothing"
	switch {
	case r.Route != nil && r.Route.Cluster != "":
		target = "cluster " + r.Route.Cluster
	case r.Route != nil && r.Route.ClusterHeader != "":
		target = "the cluster named by header " + r.Route.ClusterHeader
	case r.Route != nil && r.Route.WeightedClusters != nil:
		var parts []string
		for _, c := range r.Route.WeightedClusters.Clusters {
			parts = append(parts, c.Name+" "+strings.Trim(string(c.Weight), `"`))
		}
		target = "clusters " + strings.Join(parts, ", ")
	case r.DirectResponse != nil:
		target = "a direct response " + strconv.Itoa(r.DirectResponse.Status)
	case len(r.Redirect) > 0:
		target = "a redirect"
	}
	filters := "none"
	if len(r.TypedPerFilterConfig) > 0 {
		filters = strings.Join(keysOf(r.TypedPerFilterConfig), ", ")
	}
	return fmt.Sprintf("route %s (route config %s, virtual host %s): %s -> %s; per-route filter config: %s",
		firstNonEmpty(r.Name, "(unnamed)"), config, vhost, strings.Join(match, ", "), target, filters)
}

// keysOf returns a map's keys in order.
func keysOf[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// compactJSON renders a small JSON value on one line.
func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// secret writes one SDS secret: a line per certificate of its chain or
// trust bundle, with its time left, so that an expired intermediate shows
// even while the leaf itself is valid; or a line saying it is still
// warming (never delivered).
func (a *adminOut) secret(s dumpSecret) error {
	name := firstNonEmpty(s.Name, s.Secret.Name)
	if s.warming {
		return a.add(fmt.Sprintf("secret %s WARMING: not yet delivered by SDS", name), "secret", name)
	}
	var src dataSource
	kind := "certificate chain"
	switch {
	case s.Secret.TLSCertificate != nil:
		src = s.Secret.TLSCertificate.CertificateChain
	case s.Secret.ValidationContext != nil:
		src, kind = s.Secret.ValidationContext.TrustedCA, "trusted CA"
	default:
		return nil
	}
	var certs []*x509.Certificate
	rest := src.pem()
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		text := fmt.Sprintf("secret %s %s: no certificate readable", name, kind)
		if src.Filename != "" {
			text = fmt.Sprintf("secret %s %s from file %s", name, kind, src.Filename)
		}
		return a.add(text, "secret", name)
	}
	for i, c := range certs {
		what := fmt.Sprintf("secret %s %s %d of %d (%s, issuer %s)", name, kind, i+1, len(certs), certName(c), c.Issuer.String())
		text, kv := expiryText(what, a.at, c.NotBefore, c.NotAfter, "")
		kv = append(kv, "secret", name, "subject", certName(c))
		if err := a.add(text, kv...); err != nil {
			return err
		}
	}
	return nil
}

// certName names a certificate by its subject, or its first URI or DNS
// name when the subject is empty (SPIFFE workload certificates).
func certName(c *x509.Certificate) string {
	if s := c.Subject.String(); s != "" {
		return s
	}
	if len(c.URIs) > 0 {
		return c.URIs[0].String()
	}
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	return "serial " + c.SerialNumber.Text(16)
}
