// Package files reads incident bundles, and the real export formats they
// hold, into evidence lines: plain and JSON log lines, `kubectl get -o json`
// events and objects, Prometheus query_range responses, Slack export day
// files, Jira REST issues and markdown runbooks. Import walks a bundle
// directory and writes to a causeway.LineSink; Parse reads one source and
// is what uploads and collectors share.
//
// How each format becomes lines:
//
//   - Logs (log, k8s-pod-log): one line per non-blank line, gzip read
//     transparently. A leading ISO/RFC 3339 stamp (T or space, comma or dot
//     fraction, optional zone, optionally in brackets; also "2025/08/21")
//     is the line's time and is stripped from its text; only the first, so
//     the application's own stamp after a `kubectl logs --timestamps`
//     prefix stays. klog, syslog, Apache error and nginx/Apache access log
//     stamps give the time but stay in the text. Stamps without a year take
//     Options.Year (Import: the year the window starts). A JSON line keeps
//     its bytes as text and takes its time from ts, time, timestamp,
//     @timestamp or start_time (RFC 3339, or epoch s/ms/µs/ns by
//     magnitude). A line with no readable time takes the previous line's,
//     flagged TimeInferred; before any, it has none. Attrs["level"] is
//     trace, debug, info, warn, error or fatal when obvious. An Envoy
//     access log entry (Envoy's default text format, Istio's, or JSON with
//     Envoy's member names) keeps its text and gets attributes:
//     response_code, response_flags, response_code_details, route,
//     upstream_cluster, upstream_host, duration_ms, request_id,
//     response_meaning (from EnvoyFlags and EnvoyDetails) and fold_key
//     ("route cluster code flags").
//   - Events (k8s-events): one event line per core/v1 or events.k8s.io/v1
//     Event, at lastTimestamp, series.lastObservedTime, eventTime,
//     firstTimestamp or creationTimestamp, whichever comes first:
//     "Warning BackOff pod/web (ns default): Back-off restarting ... (x12)".
//   - Objects (k8s-objects): a condition line per status.conditions[],
//     status.ancestors[].conditions[] and status.parents[].conditions[]
//     entry, at its lastTransitionTime; status lines for container
//     states (waiting, terminated, last terminated, restarts), phases and
//     replica counts. A status line without a time of its own is placed at
//     the latest time the object records, flagged TimeInferred.
//   - Metrics (prometheus): per series, a summary line at its first sample
//     and up to MaxNotable lines for spikes, dips, level shifts and gaps.
//   - Chat (slack): one line per message, "@Alice Ng: text", mentions and
//     links resolved; chat/users.json names the users.
//   - Tickets (jira): the summary at creation, then one line per paragraph
//     of the description and of each comment, each line prefixed with the
//     key and the author so that it reads alone.
//   - Docs (doc): one line per non-blank line, without time, with the
//     heading it sits under.
//   - Mesh admin outputs (mesh-admin): Envoy's /certs, /clusters, /stats,
//     /memory, /server_info and /config_dump, istiod's /debug/syncz and
//     Linkerd's /metrics, each read into a few summary lines ("envoy
//     /certs: ... EXPIRED at ...", a line per cluster with unhealthy hosts
//     or lowered circuit breakers or failure counters) at the time the
//     source's "at" label gives.
//
// Every text is made storable in Postgres: invalid UTF-8 becomes U+FFFD,
// NUL bytes go, and a line over Options.MaxLineBytes is cut with a
// "…[truncated N bytes]" marker. Each repair is a warning in the report, not
// an error; only a file that cannot be read to its end is an error, and the
// lines before the break are kept.
package files
