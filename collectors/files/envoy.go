package files

import (
	"bytes"
	"strings"
)

// EnvoyFlag is one of the response flags Envoy writes in an access log
// (%RESPONSE_FLAGS%), with what it says about the request.
type EnvoyFlag struct {
	// Code is the short form access logs show: "UH".
	Code string
	// Name is the long form (%RESPONSE_FLAGS_LONG%): "NoHealthyUpstream".
	Name string
	// Meaning says in plain words what happened.
	Meaning string
	// Side is where the failure lies: "upstream" (the called service or
	// the way to it), "downstream" (the caller) or "proxy" (the proxy's own
	// configuration or policy: routes, limits, filters).
	Side string
}

// EnvoyFlags lists every response flag of Envoy 1.32, HTTP and TCP, as
// documented for %RESPONSE_FLAGS%. It is data so that signals and
// signatures can use the meanings rather than repeat them.
var EnvoyFlags = []EnvoyFlag{
	{"UH", "NoHealthyUpstream", "no healthy upstream host in the cluster (503)", "upstream"},
	{"UF", "UpstreamConnectionFailure", "upstream connection failure (503)", "upstream"},
	{"UO", "UpstreamOverflow", "upstream overflow: circuit breaker or connection pool limit reached (503)", "proxy"},
	{"NR", "NoRouteFound", "no route configured for the request (404), or no filter chain for the connection", "proxy"},
	{"URX", "UpstreamRetryLimitExceeded", "upstream retry limit or maximum connect attempts reached", "upstream"},
	{"NC", "NoClusterFound", "upstream cluster not found", "proxy"},
	{"DT", "DurationTimeout", "request or connection exceeded max_connection_duration or max_downstream_connection_duration", "proxy"},
	{"DC", "DownstreamConnectionTermination", "downstream connection terminated", "downstream"},
	{"LH", "FailedLocalHealthCheck", "local service failed its health check (503)", "upstream"},
	{"UT", "UpstreamRequestTimeout", "upstream request timeout (504)", "upstream"},
	{"LR", "LocalReset", "connection reset locally by the proxy (503)", "proxy"},
	{"UR", "UpstreamRemoteReset", "upstream reset the connection (503)", "upstream"},
	{"UC", "UpstreamConnectionTermination", "upstream connection terminated (503)", "upstream"},
	{"DI", "DelayInjected", "request delayed by fault injection", "proxy"},
	{"FI", "FaultInjected", "request aborted by fault injection", "proxy"},
	{"RL", "RateLimited", "request rate limited locally by the HTTP rate limit filter (429)", "proxy"},
	{"UAEX", "UnauthorizedExternalService", "request denied by the external authorization service", "proxy"},
	{"RLSE", "RateLimitServiceError", "request rejected because of an error in the rate limit service", "proxy"},
	{"IH", "InvalidEnvoyRequestHeaders", "request rejected for an invalid value in a strictly checked header (400)", "downstream"},
	{"SI", "StreamIdleTimeout", "stream idle timeout (408 or 504)", "proxy"},
	{"DPE", "DownstreamProtocolError", "downstream request had an HTTP protocol error", "downstream"},
	{"UPE", "UpstreamProtocolError", "upstream response had an HTTP protocol error", "upstream"},
	{"UMSDR", "UpstreamMaxStreamDurationReached", "upstream request reached its max stream duration", "upstream"},
	{"OM", "OverloadManagerTerminated", "request terminated by the overload manager", "proxy"},
	{"DF", "DnsResolutionFailed", "request terminated because DNS resolution failed", "upstream"},
	{"DO", "DropOverload", "request dropped by the cluster's drop_overloads (503)", "proxy"},
	{"DR", "DownstreamRemoteReset", "downstream reset the stream", "downstream"},
	{"UDO", "UnconditionalDropOverload", "request dropped because drop_overloads is 100% (503)", "proxy"},
}

var envoyFlagIndex = func() map[string]*EnvoyFlag {
	m := make(map[string]*EnvoyFlag, 2*len(EnvoyFlags))
	for i := range EnvoyFlags {
		m[EnvoyFlags[i].Code] = &EnvoyFlags[i]
		m[EnvoyFlags[i].Name] = &EnvoyFlags[i]
	}
	return m
}()

// LookupEnvoyFlag finds a response flag by its short or long form.
func LookupEnvoyFlag(code string) (EnvoyFlag, bool) {
	f, ok := envoyFlagIndex[code]
	if !ok {
		return EnvoyFlag{}, false
	}
	return *f, true
}

// EnvoyDetail is a %RESPONSE_CODE_DETAILS% value (or the start of one)
// with what it means.
type EnvoyDetail struct {
	// Prefix matches the details value: "upstream_reset_before_response_started"
	// also matches "upstream_reset_before_response_started{overflow}".
	Prefix  string
	Meaning string
}

// EnvoyDetails lists the response code details that tell most, longest
// prefixes first where they overlap.
var EnvoyDetails = []EnvoyDetail{
	{"via_upstream", "the response came from the upstream"},
	{"route_not_found", "no route matched the request"},
	{"cluster_not_found", "the route names a cluster the proxy does not have"},
	{"no_healthy_upstream", "the cluster had no healthy host to send the request to"},
	{"upstream_reset_before_response_started", "the upstream connection or stream failed before any response header"},
	{"upstream_reset_after_response_started", "the upstream stream was reset after the response had started"},
	{"upstream_response_timeout", "the upstream did not answer within the route timeout"},
	{"upstream_per_try_timeout", "an upstream try did not answer within the per-try timeout"},
	{"upstream_per_try_idle_timeout", "an upstream try was idle past its per-try idle timeout"},
	{"upstream_max_stream_duration_reached", "the upstream stream reached its max duration"},
	{"request_overall_timeout", "the request exceeded its overall timeout"},
	{"stream_idle_timeout", "the stream was idle past the idle timeout"},
	{"downstream_remote_disconnect", "the caller disconnected before the response"},
	{"downstream_local_disconnect", "the proxy closed the caller's connection"},
	{"duration_timeout", "the connection reached its max duration"},
	{"direct_response", "the proxy answered by itself (a direct response route)"},
	{"maintenance_mode", "the cluster is in maintenance mode"},
	{"overload", "the overload manager rejected the request"},
	{"filter_chain_not_found", "no listener filter chain matched the connection"},
	{"ext_authz_denied", "external authorization denied the request"},
	{"ext_authz_error", "the external authorization service failed"},
	{"ext_proc_error", "the external processing (ext_proc) service failed"},
	{"rbac_access_denied", "an authorization (RBAC) policy denied the request"},
	{"request_rate_limited", "the rate limit service limited the request"},
	{"local_rate_limited", "the local rate limit filter limited the request"},
	{"rate_limited", "the request was rate limited"},
	{"fault_filter_abort", "fault injection aborted the request"},
	{"request_headers_failed_strict_check", "a strictly checked request header was invalid"},
	{"request_payload_too_large", "the request body exceeded the buffer limit"},
	{"response_payload_too_large", "the response body exceeded the buffer limit"},
	{"wasm_fail_stream", "a Wasm filter failed the stream"},
	{"lua_response", "a Lua filter answered"},
	{"internal_redirect", "the request was redirected internally"},
	{"low_version", "the HTTP version is not allowed"},
	{"codec_error", "the HTTP codec rejected the message"},
	{"http1.codec_error", "the HTTP/1 codec rejected the message"},
	{"http2.", "the HTTP/2 codec rejected the stream"},
	{"admin_filter_response", "the admin filter answered"},
}

// envoyResetReasons are the reasons in braces after an upstream_reset
// detail, what they mean.
var envoyResetReasons = map[string]string{
	"connection_failure":          "connection failure",
	"remote_connection_failure":   "the upstream refused or failed the connection",
	"local_connection_failure":    "the proxy failed to connect",
	"connection_timeout":          "connection timeout",
	"connection_termination":      "the upstream connection was closed before a response",
	"overflow":                    "connection pool or circuit breaker limit reached",
	"local_reset":                 "reset by the proxy",
	"remote_reset":                "reset by the upstream",
	"remote_refused_stream_reset": "the upstream refused the stream",
	"protocol_error":              "protocol error",
	"overload_manager":            "overload manager",
	"connect_error":               "CONNECT failed",
}

// EnvoyMeaning explains an access log entry's failure in plain words, from
// its response flags ("UF,URX"), response code details and upstream
// cluster: each flag's meaning, then the details' when they add to it.
// It returns "" for a request that did not fail in the proxy (no flags,
// details via_upstream or none).
func EnvoyMeaning(flags, details, cluster string) string {
	var parts []string
	noHost := false
	if flags != "" && flags != "-" {
		for _, code := range strings.Split(flags, ",") {
			code = strings.TrimSpace(code)
			if f, ok := LookupEnvoyFlag(code); ok {
				parts = append(parts, f.Code+": "+f.Meaning)
				noHost = noHost || f.Code == "UH"
			} else if code != "" {
				parts = append(parts, code+": unknown flag")
			}
		}
	}
	if d := detailMeaning(details); d != "" {
		parts = append(parts, details+": "+d)
	}
	if noHost && isOriginalDst(cluster) {
		// An original-destination cluster has hosts only as requests name
		// them: UH there means nothing named one (the header or filter
		// that sets the destination did not run), not that backends died.
		parts = append(parts, cluster+" is an original-destination cluster: no destination was set for the request")
	}
	if cluster == "BlackHoleCluster" {
		parts = append(parts, "BlackHoleCluster: the destination is unknown to the mesh and outbound traffic is restricted to known services")
	}
	return strings.Join(parts, "; ")
}

func isOriginalDst(cluster string) bool {
	c := strings.ToLower(cluster)
	return strings.Contains(c, "original_dst") || strings.Contains(c, "original_destination") || strings.Contains(c, "orig_dst")
}

// detailMeaning explains a details value, "" when it is unremarkable.
func detailMeaning(details string) string {
	if details == "" || details == "-" || details == "via_upstream" {
		return ""
	}
	for _, d := range EnvoyDetails {
		if !strings.HasPrefix(details, d.Prefix) {
			continue
		}
		m := d.Meaning
		if _, inner, ok := strings.Cut(details, "{"); ok {
			inner = strings.TrimSuffix(inner, "}")
			reason, _, _ := strings.Cut(inner, "|")
			if r, ok := envoyResetReasons[reason]; ok {
				m += " (" + r + ")"
			}
		}
		return m
	}
	return ""
}

// envoyAccess is what one Envoy access log entry says about its request.
type envoyAccess struct {
	code, flags, details, termination, transport string
	duration, upstreamHost, cluster, route       string
	requestID, method                            string
}

// accessAttrs are the attributes an access log line gets, for a cap on the
// map it is built in.
const accessAttrs = 12

// setAttrs records the entry as line attributes, leaving out what it does
// not have ("-", empty). fold_key is the identity under which the packer
// may fold access log lines: one representative per (route, cluster,
// code, flags).
func (a *envoyAccess) setAttrs(m map[string]string) {
	set := func(k, v string) {
		if v != "" && v != "-" {
			m[k] = v
		}
	}
	set("response_code", a.code)
	set("response_flags", a.flags)
	set("response_code_details", a.details)
	set("connection_termination_details", a.termination)
	set("upstream_transport_failure_reason", a.transport)
	set("duration_ms", a.duration)
	set("upstream_host", a.upstreamHost)
	set("upstream_cluster", a.cluster)
	set("route", a.route)
	set("request_id", a.requestID)
	set("response_meaning", EnvoyMeaning(a.flags, a.details, a.cluster))
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	m["fold_key"] = dash(a.route) + " " + dash(a.cluster) + " " + dash(a.code) + " " + dash(a.flags)
}

// parseEnvoyText reads Envoy's default text access log format and Istio's
// (which adds response code details, connection termination details, the
// transport failure reason, the upstream cluster and the route name):
//
//	[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ...
//
// The leading stamp may already be stripped. Lines of other shapes report
// false, so that an nginx or application line is never misread.
func parseEnvoyText(b []byte) (envoyAccess, bool) {
	if len(b) > 0 && b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return envoyAccess{}, false
		}
		b = b[skipBlanks(b, end+1):]
	}
	if len(b) < 20 || b[0] != '"' {
		return envoyAccess{}, false
	}
	var f [21]accessField
	n := splitAccessFields(b, f[:])
	if n < 12 || !f[0].quoted || f[1].quoted || f[2].quoted || !isStatus(f[1].v) || !isFlags(f[2].v) {
		return envoyAccess{}, false
	}
	method, _, _ := strings.Cut(f[0].v, " ")
	a := envoyAccess{code: f[1].v, flags: f[2].v, method: method}
	switch {
	case n >= 16 && !f[3].quoted && !f[4].quoted && f[5].quoted && !f[6].quoted && f[10].quoted && f[14].quoted && !f[15].quoted:
		// Istio: details, termination details, "transport failure", then
		// bytes, duration, ... "upstream host" cluster ... route.
		a.details, a.termination, a.transport = f[3].v, f[4].v, f[5].v
		a.duration = f[8].v
		a.requestID, a.upstreamHost, a.cluster = f[12].v, f[14].v, f[15].v
		if n >= 21 {
			a.route = f[20].v
		}
	case !f[3].quoted && !f[4].quoted && !f[5].quoted && !f[6].quoted && f[7].quoted && f[11].quoted:
		// Envoy's default: bytes, duration, upstream service time, then
		// quoted x-forwarded-for, user agent, request id, authority,
		// upstream host.
		a.duration = f[5].v
		a.requestID, a.upstreamHost = f[9].v, f[11].v
	default:
		return envoyAccess{}, false
	}
	return a, true
}

// accessField is one space-separated field of a text access log line.
type accessField struct {
	v      string
	quoted bool
}

// splitAccessFields splits b into space-separated fields, a quoted field
// running to the quote that ends it (one followed by a space or the end:
// user agents may hold quotes), and returns how many it filled.
func splitAccessFields(b []byte, out []accessField) int {
	n := 0
	for i := 0; i < len(b) && n < len(out); {
		if b[i] == ' ' {
			i++
			continue
		}
		if b[i] == '"' {
			j := i + 1
			for j < len(b) && (b[j] != '"' || (j+1 < len(b) && b[j+1] != ' ')) {
				j++
			}
			out[n] = accessField{v: string(b[i+1 : min(j, len(b))]), quoted: true}
			n++
			i = j + 1
			continue
		}
		j := i
		for j < len(b) && b[j] != ' ' {
			j++
		}
		out[n] = accessField{v: string(b[i:j])}
		n++
		i = j
	}
	return n
}

// isStatus reports whether s reads as an access log's response code: up
// to three digits (0 for TCP, or a failed request) or "-".
func isStatus(s string) bool {
	if s == "-" {
		return true
	}
	if s == "" || len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// isFlags reports whether s reads as response flags: "-", or upper-case
// codes joined by commas.
func isFlags(s string) bool {
	if s == "-" {
		return true
	}
	if s == "" {
		return false
	}
	for _, code := range strings.Split(s, ",") {
		if code == "" || len(code) > 5 {
			return false
		}
		for i := 0; i < len(code); i++ {
			if code[i] < 'A' || code[i] > 'Z' {
				return false
			}
		}
	}
	return true
}

// envoyJSONKeys are the members of a JSON access log entry that are read,
// in Envoy Gateway's names and in Istio's JSON encoding's.
var envoyJSONKeys = map[string]int{
	"response_code": 0, "response_flags": 1, "response_code_details": 2,
	"connection_termination_details": 3, "upstream_transport_failure_reason": 4,
	"duration": 5, "upstream_host": 6, "upstream_cluster": 7, "route_name": 8,
	"x-request-id": 9, "request_id": 9, "method": 10,
}

// parseEnvoyJSON reads a JSON access log entry (Envoy Gateway's default,
// Istio's JSON encoding, or any format using Envoy's member names). An
// object is one when it has response_code and one of response_flags,
// response_code_details or upstream_cluster; b must be valid JSON.
func parseEnvoyJSON(b []byte) (envoyAccess, bool) {
	if !bytes.Contains(b, []byte(`"response_code"`)) {
		return envoyAccess{}, false
	}
	var v [11]string
	var seen [11]bool
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return envoyAccess{}, false
	}
	i++
	for {
		i = skipWS(b, i)
		if i >= len(b) || b[i] == '}' {
			break
		}
		kEnd := endOfString(b, i)
		key, _ := jsonString(b[i:kEnd])
		i = skipWS(b, kEnd) + 1 // the colon
		i = skipWS(b, i)
		vEnd := endOfValue(b, i)
		if n, ok := envoyJSONKeys[key]; ok {
			seen[n] = true
			raw := b[i:vEnd]
			if s, ok := jsonString(raw); ok {
				v[n] = s
			} else if string(raw) != "null" && len(raw) > 0 && raw[0] != '{' && raw[0] != '[' {
				v[n] = string(raw)
			}
		}
		i = skipWS(b, vEnd)
		if i >= len(b) || b[i] != ',' {
			break
		}
		i++
	}
	if !seen[0] || !(seen[1] || seen[2] || seen[7]) {
		return envoyAccess{}, false
	}
	return envoyAccess{code: v[0], flags: v[1], details: v[2], termination: v[3], transport: v[4],
		duration: v[5], upstreamHost: v[6], cluster: v[7], route: v[8], requestID: v[9], method: v[10]}, true
}

// envoyAccessLine reads a log line's text as an Envoy access log entry,
// JSON or text; ok is false for any other line. isJSON says that the text
// is known to be one valid JSON object.
func envoyAccessLine(text []byte, isJSON bool) (envoyAccess, bool) {
	if isJSON {
		return parseEnvoyJSON(text)
	}
	if len(text) == 0 || (text[0] != '"' && text[0] != '[') {
		return envoyAccess{}, false
	}
	return parseEnvoyText(text)
}
