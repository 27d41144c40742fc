package files

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// bodyStyle is how a log line reads after any leading ISO stamp.
type bodyStyle int

const (
	bodyPlain  bodyStyle = iota // [level segment] message
	bodyJSON                    // one JSON object
	bodyKlog                    // I0821 03:49:15.867123  1 file.go:12] message
	bodyLogfmt                  // level=info msg="..." key=value
	bodySyslog                  // Aug 21 03:49:15 host proc[pid]: message
	bodyAccess                  // client - - [21/Aug/2025:03:49:15 +0000] "GET / HTTP/1.1" 200 ...
)

// logStyle is a log source's line layout, learned from its healthy lines.
type logStyle struct {
	// prefix is the layout of a leading ISO stamp ("" for none), with the
	// blanks that follow it; bracket says it is in brackets.
	prefix, prefixSep string
	bracket           bool
	loc               *time.Location
	body              bodyStyle
	// accessLike says most lines are requests.
	accessLike bool

	// plain: the level segment around the level word.
	levelPre, levelPost string
	levelCase           letterCase
	hasLevel            bool

	// json
	keys            []jsonKey
	keySep, itemSep string
	timeKey, msgKey int // indexes into keys, -1 for none
	levelKey        int
	levelNum        bool
	jsonTimeNumeric int // digits after the point of a numeric epoch, -1 for integer
	jsonTimeUnit    time.Duration

	// klog
	klogPID    string
	klogFiles  []string
	klogQuoted bool

	// logfmt: the leading keys up to the message, with the values the
	// first healthy line gave them.
	lfKeys, lfVals []string

	// syslog
	host  string
	procs []string
}

type letterCase int

const (
	caseLower letterCase = iota
	caseUpper
	caseTitle
)

func caseOf(b []byte) letterCase {
	switch {
	case len(b) > 0 && b[0] >= 'A' && b[0] <= 'Z' && (len(b) == 1 || b[1] >= 'A' && b[1] <= 'Z'):
		return caseUpper
	case len(b) > 0 && b[0] >= 'A' && b[0] <= 'Z':
		return caseTitle
	}
	return caseLower
}

func (c letterCase) apply(s string) string {
	switch c {
	case caseUpper:
		return strings.ToUpper(s)
	case caseTitle:
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// failureWords are what filler must never say: a sample line with one of
// them teaches no style, and a test keeps the vocabulary free of them.
var failureWords = []string{
	"error", "fail", "exception", "panic", "fatal", "timeout", "timed out", "refused", "reset", "denied",
	"unavailable", "unhealthy", "no_healthy", "no healthy", "oom", "kill", "crash", "backoff", "back-off",
	"evict", "terminat", "abort", "reject", "invalid", "expired", "unable", "cannot", "lost", "no space",
	"exceeded", "overflow", "unreachable", "critical", "severe", "warn", "degraded", "retry", "retries",
}

func hasFailureWord(b []byte) bool {
	lower := bytes.ToLower(b)
	for _, w := range failureWords {
		if bytes.Contains(lower, []byte(w)) {
			return true
		}
	}
	return false
}

// learnStyle learns a log source's layout from its first lines: the layout
// of the majority of lines that carry a time. It returns nil when the lines
// have no times (filler could not be placed) or no healthy line to learn
// from.
func learnStyle(samples [][]byte, year int) *logStyle {
	var healthy [][]byte
	counts := map[bodyStyle]int{}
	for _, raw := range samples {
		if _, ok := parseStamp(raw, year); !ok {
			if f, isJSON := scanJSONLine(raw); !isJSON || f.time == nil {
				continue
			}
		}
		counts[classify(raw, year)]++
		if healthyLine(raw, year) {
			healthy = append(healthy, raw)
		}
	}
	if len(healthy) == 0 {
		return nil
	}
	body, best := bodyPlain, -1
	for b, n := range counts {
		if n > best || n == best && b < body {
			body, best = b, n
		}
	}
	var lines [][]byte
	for _, raw := range healthy {
		if classify(raw, year) == body {
			lines = append(lines, raw)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	st := &logStyle{body: body, timeKey: -1, msgKey: -1, levelKey: -1, loc: time.UTC}
	if !st.learnPrefix(lines[0], year) {
		return nil
	}
	access := 0
	for _, raw := range lines {
		if looksLikeRequest(raw) {
			access++
		}
	}
	st.accessLike = access*2 > len(lines)
	var ok bool
	switch body {
	case bodyJSON:
		ok = st.learnJSON(lines, year)
	case bodyKlog:
		ok = st.learnKlog(lines)
	case bodyLogfmt:
		ok = st.learnLogfmt(lines, year)
	case bodySyslog:
		ok = st.learnSyslog(lines)
	case bodyAccess:
		ok = true
	default:
		ok = st.learnPlain(lines, year)
	}
	if !ok {
		return nil
	}
	return st
}

// classify names the body style of one raw line.
func classify(raw []byte, year int) bodyStyle {
	body := raw
	if st, ok := parseStamp(raw, year); ok {
		if st.strip {
			body = raw[st.end:]
		} else {
			switch c := raw[0]; {
			case (c == 'I' || c == 'W' || c == 'E' || c == 'F') && isDigit(raw[1]):
				return bodyKlog
			case c >= 'A' && c <= 'Z':
				if _, ok := parseSyslog(raw, year); ok {
					return bodySyslog
				}
			}
			if _, ok := parseAccessLog(raw); ok {
				return bodyAccess
			}
		}
	}
	if _, ok := scanJSONLine(body); ok {
		return bodyJSON
	}
	if len(body) > 15 && (body[0] == 'I' || body[0] == 'W') && isDigit(body[1]) {
		if _, ok := parseKlog(body, year); ok {
			return bodyKlog
		}
	}
	if logfmtPairs(body) >= 3 {
		return bodyLogfmt
	}
	return bodyPlain
}

// healthyLine reports whether a sample line may teach filler: no failure
// word in its text (in a JSON line, in its values: Envoy's access log has
// keys such as upstream_transport_failure_reason on every line) and no
// failing HTTP status.
func healthyLine(raw []byte, year int) bool {
	if badStatus(raw) {
		return false
	}
	body := bodyOf(raw, year)
	if _, ok := scanJSONLine(body); !ok {
		return !hasFailureWord(raw)
	}
	healthy := !hasFailureWord(raw[:len(raw)-len(body)])
	_ = eachMember(body, func(_ string, v []byte) {
		if healthy && hasFailureWord(v) {
			healthy = false
		}
	})
	return healthy
}

// badStatus reports an HTTP status of 400 or more in a line, as access logs
// print it.
func badStatus(raw []byte) bool {
	for _, k := range []string{`"response_code":`, `"status":`, `"status_code":`, `"statusCode":`, `statusCode=`, `status=`, `HTTP/1.1" `, `HTTP/1.0" `, `HTTP/2" `, `HTTP/2.0" `} {
		i := bytes.Index(raw, []byte(k))
		if i < 0 {
			continue
		}
		j := skipWS(raw, i+len(k))
		if j < len(raw) && raw[j] == '"' {
			j++
		}
		if code, ok := num(raw, j, 3); ok && code >= 400 {
			return true
		}
	}
	return false
}

func looksLikeRequest(raw []byte) bool {
	for _, m := range []string{`"GET `, `"POST `, `"PUT `, `"DELETE `, `"PATCH `, `"HEAD `, `"method":`, `"response_code":`, `"status":`} {
		if bytes.Contains(raw, []byte(m)) {
			return true
		}
	}
	return false
}

// learnPrefix learns a leading ISO stamp's layout from a sample line.
func (st *logStyle) learnPrefix(raw []byte, year int) bool {
	stamp, ok := parseStamp(raw, year)
	if !ok || !stamp.strip {
		return true
	}
	b := raw
	if b[0] == '[' {
		st.bracket = true
		b = b[1:]
	}
	t, n, ok := parseISO(b)
	if !ok {
		return false
	}
	layout, loc, ok := isoLayout(string(b[:n]), t)
	if !ok {
		return false
	}
	st.prefix, st.loc = layout, loc
	end := n
	if st.bracket {
		end = n + 2
	}
	st.prefixSep = string(raw[end:stamp.end])
	if st.prefixSep == "" {
		st.prefixSep = " "
	}
	return true
}

// isoLayout returns the Go layout that prints t exactly as s (an ISO
// stamp) does, with the zone s is in.
func isoLayout(s string, t time.Time) (string, *time.Location, bool) {
	if len(s) < 19 {
		return "", nil, false
	}
	var b strings.Builder
	sep := string(s[4])
	b.WriteString("2006" + sep + "01" + sep + "02")
	b.WriteByte(s[10])
	b.WriteString("15:04:05")
	i := 19
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		b.WriteByte(s[i])
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		b.WriteString(strings.Repeat("0", j-i-1))
		i = j
	}
	rest := s[i:]
	loc := time.UTC
	switch {
	case rest == "":
	case rest == "Z":
		b.WriteString("Z07:00")
	default:
		zone := rest
		if strings.HasPrefix(zone, " ") {
			b.WriteByte(' ')
			zone = zone[1:]
		}
		switch {
		case len(zone) == 6 && zone[3] == ':':
			b.WriteString("-07:00")
		case len(zone) == 5:
			b.WriteString("-0700")
		case len(zone) == 3:
			b.WriteString("-07")
		default:
			return "", nil, false
		}
		if pt, err := time.Parse(b.String(), s); err == nil {
			loc = pt.Location()
		}
	}
	layout := b.String()
	if t.In(loc).Format(layout) != s {
		return "", nil, false
	}
	return layout, loc, true
}

// appendPrefix writes the leading stamp, if the style has one.
func (st *logStyle) appendPrefix(dst []byte, t time.Time) []byte {
	if st.prefix == "" {
		return dst
	}
	if st.bracket {
		dst = append(dst, '[')
	}
	dst = t.In(st.loc).AppendFormat(dst, st.prefix)
	if st.bracket {
		dst = append(dst, ']')
	}
	return append(dst, st.prefixSep...)
}

// bodyOf returns a line without its leading ISO stamp.
func bodyOf(raw []byte, year int) []byte {
	if st, ok := parseStamp(raw, year); ok && st.strip {
		return raw[st.end:]
	}
	return raw
}

// learnPlain learns the level segment the most healthy lines share: the
// bytes around an info level word and the separators after it.
func (st *logStyle) learnPlain(lines [][]byte, year int) bool {
	if st.prefix == "" {
		return false // no time the parser would read
	}
	type frame struct {
		pre, post string
		c         letterCase
	}
	counts := map[frame]int{}
	none := 0
	for _, raw := range lines {
		body := bodyOf(raw, year)
		i, j, ok := levelWord(body)
		if !ok {
			none++
			continue
		}
		if levelName(body[i:j]) != "info" {
			continue
		}
		k := j
		for k < len(body) && k < j+12 && strings.IndexByte(" \t:]|-", body[k]) >= 0 {
			k++
		}
		counts[frame{string(body[:i]), string(body[j:k]), caseOf(body[i:j])}]++
	}
	var best frame
	n := 0
	for f, c := range counts {
		if c > n || c == n && f.pre+f.post < best.pre+best.post {
			best, n = f, c
		}
	}
	if n > 0 && n >= none/2 {
		st.hasLevel, st.levelPre, st.levelPost, st.levelCase = true, best.pre, best.post, best.c
	}
	return true
}

// levelWord finds the level word of a plain body, by the rules of
// detectLevel, and returns where it is.
func levelWord(b []byte) (int, int, bool) {
	n := min(len(b), 40)
	for i := 0; i < n; {
		if !isLetter(b[i]) {
			i++
			continue
		}
		j := i
		upper := true
		for j < len(b) && isLetter(b[j]) {
			if b[j] >= 'a' {
				upper = false
			}
			j++
		}
		if size := j - i; size >= 3 && size <= 13 && (upper || i <= 2 || b[i-1] == '[') && levelName(b[i:j]) != "" {
			return i, j, true
		}
		i = j
	}
	return 0, 0, false
}

// jsonKey is one member of a JSON log line and how filler fills it.
type jsonKey struct {
	name string
	// values are the raw values healthy lines had.
	values [][]byte
	mode   valueMode
	lo, hi float64 // numeric range
	digits int     // decimals of numeric values
	layout string  // for ISO time strings
	loc    *time.Location
}

type valueMode int

const (
	valuePick   valueMode = iota // one of the values seen
	valueNumber                  // a number in the range seen
	valueShape                   // a seen string with its digits and hex redrawn
	valueTime                    // the line's time in the layout seen
)

// learnJSON learns the members of JSON lines: the set of keys most healthy
// lines have, in their order, and the values each key takes.
func (st *logStyle) learnJSON(lines [][]byte, year int) bool {
	var orders [][]string
	count := map[string]int{}
	for _, raw := range lines {
		var keys []string
		_ = eachMember(bodyOf(raw, year), func(k string, _ []byte) { keys = append(keys, k) })
		sig := strings.Join(keys, "\x00")
		if count[sig] == 0 {
			orders = append(orders, keys)
		}
		count[sig]++
	}
	var order []string
	best := 0
	for _, keys := range orders {
		if n := count[strings.Join(keys, "\x00")]; n > best {
			order, best = keys, n
		}
	}
	if len(order) == 0 {
		return false
	}
	first := bodyOf(lines[0], year)
	st.keySep, st.itemSep = ":", ","
	if bytes.Contains(first, []byte(`": `)) {
		st.keySep = ": "
	}
	if bytes.Contains(first, []byte(`, "`)) {
		st.itemSep = ", "
	}
	index := map[string]int{}
	for i, k := range order {
		index[k] = i
		st.keys = append(st.keys, jsonKey{name: k})
	}
	for _, raw := range lines {
		_ = eachMember(bodyOf(raw, year), func(k string, v []byte) {
			if i, ok := index[k]; ok {
				st.keys[i].values = append(st.keys[i].values, bytes.Clone(v))
			}
		})
	}
	for _, k := range timeKeys {
		if i, ok := index[k]; ok {
			st.timeKey = i
			break
		}
	}
	for _, k := range levelKeys {
		if i, ok := index[k]; ok {
			st.levelKey = i
			break
		}
	}
	for _, k := range []string{"msg", "message", "log", "event"} {
		if i, ok := index[k]; ok {
			st.msgKey = i
			break
		}
	}
	if st.prefix == "" && st.timeKey < 0 {
		return false
	}
	for i := range st.keys {
		k := &st.keys[i]
		k.learn()
		if i == st.timeKey && k.mode != valueTime && !st.learnJSONTime(k) {
			return false
		}
		if i == st.levelKey && len(k.values) > 0 && k.values[0][0] != '"' {
			st.levelNum = true
		}
	}
	return true
}

// eachMember calls fn with each top-level member of a JSON object.
func eachMember(b []byte, fn func(key string, value []byte)) error {
	if _, ok := scanJSONLine(b); !ok {
		return errors.New("not a JSON object")
	}
	i := skipWS(b, 0) + 1
	for {
		i = skipWS(b, i)
		if b[i] == '}' {
			return nil
		}
		kEnd := endOfString(b, i)
		key, _ := jsonString(b[i:kEnd])
		i = skipWS(b, skipWS(b, kEnd)+1)
		vEnd := endOfValue(b, i)
		fn(key, b[i:vEnd])
		i = skipWS(b, vEnd)
		if b[i] != ',' {
			return nil
		}
		i++
	}
}

// learn decides how a member is filled from the values healthy lines gave
// it: values that repeat (a method, a route, a component) are reused;
// values that do not (ids, addresses, durations) are drawn anew, numbers
// from their range and strings in their shape, so that filler never
// repeats a real id.
func (k *jsonKey) learn() {
	if len(k.values) == 0 {
		k.values = [][]byte{[]byte("null")}
		return
	}
	if s, ok := jsonString(k.values[0]); ok {
		if t, n, ok := parseISO([]byte(s)); ok && n == len(s) {
			if layout, loc, ok := isoLayout(s, t); ok {
				k.mode, k.layout, k.loc = valueTime, layout, loc
				return
			}
		}
	}
	distinct := map[string]bool{}
	numbers, idLike, digits := true, false, false
	for _, v := range k.values {
		distinct[string(v)] = true
		if v[0] != '-' && !isDigit(v[0]) {
			numbers = false
		}
		if s, ok := jsonString(v); ok {
			idLike = idLike || looksLikeID(s)
			digits = digits || strings.ContainsAny(s, "0123456789")
		}
	}
	repeats := len(distinct) < len(k.values)
	switch {
	case idLike:
	case repeats && (len(distinct) <= 3 || len(distinct)*4 <= len(k.values)):
		k.mode = valuePick
		return
	case len(k.values) == 1 && !digits && !numbers:
		k.mode = valuePick // one value without digits: a name, not an id
		return
	}
	if numbers {
		k.mode, k.lo, k.hi = valueNumber, math.Inf(1), math.Inf(-1)
		for _, v := range k.values {
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				k.mode = valuePick
				return
			}
			k.lo, k.hi = min(k.lo, f), max(k.hi, f)
			if _, frac, ok := strings.Cut(string(v), "."); ok {
				k.digits = max(k.digits, len(frac))
			}
		}
		return
	}
	if k.values[0][0] == '"' {
		k.mode = valueShape
		return
	}
	k.mode = valuePick
}

// looksLikeID reports a value that names one thing (a request id, a hash,
// an address): filler must not repeat it.
func looksLikeID(s string) bool {
	digits, hex := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			digits++
		case c >= 'a' && c <= 'f':
			hex++
		}
	}
	return digits >= 6 || len(s) >= 8 && digits+hex >= len(s)*3/4
}

// learnJSONTime reads a numeric epoch time member.
func (st *logStyle) learnJSONTime(k *jsonKey) bool {
	v := string(k.values[0])
	intPart, frac, hasFrac := strings.Cut(strings.Trim(v, `"`), ".")
	if _, err := strconv.ParseInt(intPart, 10, 64); err != nil {
		return false
	}
	k.mode = valueTime
	st.jsonTimeNumeric = -1
	if hasFrac {
		st.jsonTimeNumeric = len(frac)
	}
	switch n := len(intPart); {
	case n <= 11:
		st.jsonTimeUnit = time.Second
	case n <= 14:
		st.jsonTimeUnit = time.Millisecond
	case n <= 17:
		st.jsonTimeUnit = time.Microsecond
	default:
		st.jsonTimeUnit = time.Nanosecond
	}
	return true
}

// learnKlog learns the pid column and file names of klog lines.
func (st *logStyle) learnKlog(lines [][]byte) bool {
	files := map[string]bool{}
	quoted := 0
	for _, raw := range lines {
		body := raw
		if st.prefix != "" {
			body = bodyOf(raw, 0)
		}
		if len(body) < 23 {
			continue
		}
		end := bytes.Index(body, []byte("] "))
		if end < 22 {
			continue
		}
		head := body[21:end] // "       1 file.go:162"
		sp := bytes.LastIndexByte(head, ' ')
		if sp < 0 {
			continue
		}
		if st.klogPID == "" {
			st.klogPID = string(head[:sp])
		}
		if file, _, ok := bytes.Cut(head[sp+1:], []byte(":")); ok {
			files[string(file)] = true
		}
		if end+2 < len(body) && body[end+2] == '"' {
			quoted++
		}
	}
	if st.klogPID == "" {
		return false
	}
	st.klogFiles = sortedKeys(files)
	st.klogQuoted = quoted*2 > len(lines)
	return true
}

// logfmtPairs counts the key=value pairs of a line.
func logfmtPairs(b []byte) int {
	n := 0
	for _, f := range bytes.Fields(b) {
		if k, _, ok := bytes.Cut(f, []byte("=")); ok && len(k) > 0 && isLetter(k[0]) {
			n++
		}
	}
	return n
}

// learnLogfmt learns the leading keys of logfmt lines, up to the message,
// with the values the first healthy line gave them.
func (st *logStyle) learnLogfmt(lines [][]byte, year int) bool {
	if st.prefix == "" {
		return false
	}
	for _, f := range bytes.Fields(bodyOf(lines[0], year)) {
		k, v, ok := bytes.Cut(f, []byte("="))
		if !ok {
			break
		}
		st.lfKeys = append(st.lfKeys, string(k))
		st.lfVals = append(st.lfVals, string(v))
		if s := string(k); s == "msg" || s == "message" {
			break
		}
		if len(v) > 0 && v[0] == '"' && (len(v) == 1 || v[len(v)-1] != '"') {
			// A quoted value with blanks: what follows is not learned.
			st.lfKeys, st.lfVals = st.lfKeys[:len(st.lfKeys)-1], st.lfVals[:len(st.lfVals)-1]
			break
		}
	}
	return len(st.lfKeys) > 0
}

// learnSyslog learns the host and processes of syslog lines.
func (st *logStyle) learnSyslog(lines [][]byte) bool {
	procs := map[string]bool{}
	for _, raw := range lines {
		f := bytes.Fields(raw)
		if len(f) < 5 || !bytes.HasSuffix(f[4], []byte(":")) {
			continue
		}
		if st.host == "" {
			st.host = string(f[3])
		}
		procs[string(f[4])] = true
	}
	st.procs = sortedKeys(procs)
	return st.host != "" && len(st.procs) > 0
}

// render writes one filler line in the style.
func (st *logStyle) render(g *fillerGen, t time.Time, dst []byte) []byte {
	rec := g.record(st.accessLike)
	dst = st.appendPrefix(dst, t)
	switch st.body {
	case bodyJSON:
		return st.renderJSON(g, t, rec, dst)
	case bodyKlog:
		letter := byte('I')
		if rec.level == "warn" {
			letter = 'W'
		}
		dst = append(dst, letter)
		dst = t.UTC().AppendFormat(dst, "0102 15:04:05.000000")
		dst = append(dst, st.klogPID...)
		dst = append(dst, ' ')
		files := st.klogFiles
		if len(files) == 0 {
			files = g.ns.prof.files
		}
		dst = append(dst, files[g.r.IntN(len(files))]...)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, int64(20+g.r.IntN(400)), 10)
		dst = append(dst, "] "...)
		if st.klogQuoted {
			return appendKlogStructured(dst, rec)
		}
		return rec.text(dst)
	case bodyLogfmt:
		for i, k := range st.lfKeys {
			dst = append(dst, k...)
			dst = append(dst, '=')
			switch k {
			case "ts", "time", "timestamp":
				dst = t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
			case "level", "lvl", "severity":
				dst = append(dst, caseOf([]byte(st.lfVals[i])).apply(rec.level)...)
			case "msg", "message":
				msg := rec.text(nil)
				if rec.http == nil {
					msg = []byte(rec.msg)
				}
				dst = strconv.AppendQuote(dst, string(msg))
			default:
				dst = append(dst, st.lfVals[i]...)
			}
			dst = append(dst, ' ')
		}
		if rec.http == nil {
			for _, f := range rec.fields {
				dst = append(dst, f...)
				dst = append(dst, ' ')
			}
		}
		return bytes.TrimRight(dst, " ")
	case bodySyslog:
		dst = t.UTC().AppendFormat(dst, "Jan _2 15:04:05")
		dst = append(dst, ' ')
		dst = append(dst, st.host...)
		dst = append(dst, ' ')
		dst = append(dst, st.procs[g.r.IntN(len(st.procs))]...)
		dst = append(dst, ' ')
		return rec.text(dst)
	case bodyAccess:
		h := rec.http
		if h == nil {
			h = g.request()
		}
		host, _, _ := strings.Cut(h.client, ":")
		dst = append(dst, host...)
		dst = append(dst, " - - ["...)
		dst = t.UTC().AppendFormat(dst, "02/Jan/2006:15:04:05 -0700")
		dst = append(dst, `] "`...)
		dst = append(dst, h.method+" "+h.path+` HTTP/1.1" `...)
		dst = strconv.AppendInt(dst, int64(h.status), 10)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(h.bytes), 10)
		return append(dst, ` "-" "`+h.agent+`"`...)
	}
	// Plain: the level segment, then the message; requests read the way
	// Python's and Go's servers log them.
	if st.hasLevel {
		dst = append(dst, st.levelPre...)
		dst = append(dst, st.levelCase.apply(rec.level)...)
		dst = append(dst, st.levelPost...)
	}
	if h := rec.http; h != nil && st.accessLike {
		dst = append(dst, h.client...)
		dst = append(dst, ` - "`+h.method+" "+h.path+` HTTP/1.1" `...)
		dst = strconv.AppendInt(dst, int64(h.status), 10)
		dst = append(dst, ' ')
		return append(dst, statusText(h.status)...)
	}
	return rec.text(dst)
}

// appendKlogStructured writes a klog structured message: "msg" key="value".
func appendKlogStructured(dst []byte, rec noiseRecord) []byte {
	if h := rec.http; h != nil {
		dst = append(dst, `"HTTP" verb="`+h.method+`" URI="`+h.path+`" latency="`...)
		dst = strconv.AppendInt(dst, int64(h.ms), 10)
		dst = append(dst, `ms" userAgent="`+h.agent+`" resp=`...)
		return strconv.AppendInt(dst, int64(h.status), 10)
	}
	dst = strconv.AppendQuote(dst, rec.msg)
	for _, f := range rec.fields {
		k, v, _ := strings.Cut(f, "=")
		dst = append(dst, ' ')
		dst = append(dst, k...)
		dst = append(dst, '=')
		dst = strconv.AppendQuote(dst, v)
	}
	return dst
}

// renderJSON writes a JSON line with the learned members in their order.
func (st *logStyle) renderJSON(g *fillerGen, t time.Time, rec noiseRecord, dst []byte) []byte {
	dst = append(dst, '{')
	for i := range st.keys {
		k := &st.keys[i]
		if i > 0 {
			dst = append(dst, st.itemSep...)
		}
		dst = strconv.AppendQuote(dst, k.name)
		dst = append(dst, st.keySep...)
		switch {
		case i == st.timeKey:
			dst = st.appendJSONTime(dst, k, t)
		case i == st.levelKey:
			dst = st.appendJSONLevel(dst, k, rec.level)
		case i == st.msgKey:
			msg, _ := json.Marshal(string(rec.text(nil)))
			dst = append(dst, msg...)
		default:
			dst = k.appendValue(g.r, dst, t)
		}
	}
	return append(dst, '}')
}

func (st *logStyle) appendJSONTime(dst []byte, k *jsonKey, t time.Time) []byte {
	if k.mode == valueTime && k.layout != "" {
		dst = append(dst, '"')
		dst = t.In(k.loc).AppendFormat(dst, k.layout)
		return append(dst, '"')
	}
	quoted := k.values[0][0] == '"'
	if quoted {
		dst = append(dst, '"')
	}
	if st.jsonTimeNumeric < 0 {
		dst = strconv.AppendInt(dst, t.UnixNano()/int64(st.jsonTimeUnit), 10)
	} else {
		f := float64(t.UnixNano()) / float64(st.jsonTimeUnit)
		dst = strconv.AppendFloat(dst, f, 'f', st.jsonTimeNumeric, 64)
	}
	if quoted {
		dst = append(dst, '"')
	}
	return dst
}

func (st *logStyle) appendJSONLevel(dst []byte, k *jsonKey, level string) []byte {
	if st.levelNum {
		if level == "warn" {
			return append(dst, "40"...)
		}
		return append(dst, "30"...)
	}
	seen, _ := jsonString(k.values[0])
	return strconv.AppendQuote(dst, caseOf([]byte(seen)).apply(level))
}

// appendValue writes a member's value the way it learned to.
func (k *jsonKey) appendValue(r *rand.Rand, dst []byte, t time.Time) []byte {
	switch k.mode {
	case valueTime:
		dst = append(dst, '"')
		dst = t.In(k.loc).AppendFormat(dst, k.layout)
		return append(dst, '"')
	case valueNumber:
		f := k.lo + r.Float64()*(k.hi-k.lo)
		return strconv.AppendFloat(dst, f, 'f', k.digits, 64)
	case valueShape:
		s, _ := jsonString(k.values[r.IntN(len(k.values))])
		v, _ := json.Marshal(reshape(r, s))
		return append(dst, v...)
	}
	return append(dst, k.values[r.IntN(len(k.values))]...)
}

// reshape redraws a value's digits (and its hex letters when it is hex),
// keeping its shape so that a UUID stays a UUID; an IPv4 address keeps its
// network and gets another host and port.
func reshape(r *rand.Rand, s string) string {
	if host, port, ok := splitIPv4(s); ok {
		b := []byte(host[:strings.LastIndexByte(host, '.')+1])
		b = strconv.AppendInt(b, int64(2+r.IntN(252)), 10)
		if port != "" {
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(1024+r.IntN(64511)), 10)
		}
		return string(b)
	}
	hex := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && !(c >= 'a' && c <= 'f') && c != '-' {
			hex = false
			break
		}
	}
	if hex {
		b := []byte(s)
		for i, c := range b {
			if isDigit(c) || c >= 'a' && c <= 'f' {
				b[i] = "0123456789abcdef"[r.IntN(16)]
			}
		}
		return string(b)
	}
	// A number in an id loses a digit ("req-5001" becomes "req-731"), so
	// that no filler id contains a real id of the same shape: an answer
	// key's evidence names real lines by such ids.
	b := make([]byte, 0, len(s)+4)
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			b = append(b, s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		n := j - i
		if n > 1 {
			n--
		}
		b = append(b, byte('1'+r.IntN(9)))
		for range n - 1 {
			b = append(b, byte('0'+r.IntN(10)))
		}
		i = j
	}
	return string(b)
}

// splitIPv4 splits "10.244.0.30:53869" (or without port) into host and
// port.
func splitIPv4(s string) (host, port string, ok bool) {
	host, port, _ = strings.Cut(s, ":")
	parts := strings.Split(host, ".")
	if len(parts) != 4 {
		return "", "", false
	}
	for _, p := range append(parts, port) {
		if len(p) > 5 {
			return "", "", false
		}
		for i := 0; i < len(p); i++ {
			if !isDigit(p[i]) {
				return "", "", false
			}
		}
	}
	return host, port, parts[0] != ""
}
