package files

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The members a JSON log line may carry its time and severity in, in order
// of preference. start_time is Envoy's JSON access log.
var (
	timeKeys  = [...]string{"ts", "time", "timestamp", "@timestamp", "start_time"}
	levelKeys = [...]string{"level", "severity", "lvl", "levelname", "log.level"}
)

// jsonLine is what a JSON log line says about itself.
type jsonLine struct {
	time  []byte // raw JSON value of the preferred time member
	level []byte // raw JSON value of the preferred level member
}

// scanJSONLine reads the top-level members of one JSON object and keeps the
// raw values of the time and level members; it reports false when b is not
// a single valid JSON object. It validates first and then walks the bytes
// without decoding, which costs a fraction of json.Unmarshal into a map.
// When a key repeats, the last one wins, as in encoding/json.
func scanJSONLine(b []byte) (jsonLine, bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' || !json.Valid(b) {
		return jsonLine{}, false
	}
	var times [len(timeKeys)][]byte
	var levels [len(levelKeys)][]byte
	i++
	for {
		i = skipWS(b, i)
		if b[i] == '}' {
			break
		}
		kEnd := endOfString(b, i)
		key := b[i+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			if json.Unmarshal(b[i:kEnd], &k) == nil {
				key = []byte(k)
			}
		}
		i = skipWS(b, kEnd) + 1 // the colon
		i = skipWS(b, i)
		vEnd := endOfValue(b, i)
		if n := matchKey(key, timeKeys[:]); n >= 0 {
			times[n] = b[i:vEnd]
		} else if n := matchKey(key, levelKeys[:]); n >= 0 {
			levels[n] = b[i:vEnd]
		}
		i = skipWS(b, vEnd)
		if b[i] != ',' {
			break
		}
		i++
	}
	var f jsonLine
	for _, v := range times {
		if v != nil {
			f.time = v
			break
		}
	}
	for _, v := range levels {
		if v != nil {
			f.level = v
			break
		}
	}
	return f, true
}

func matchKey(key []byte, keys []string) int {
	for n, k := range keys {
		if string(key) == k {
			return n
		}
	}
	return -1
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index after the string that starts at b[i].
func endOfString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// endOfValue returns the index after the valid JSON value at b[i].
func endOfValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return endOfString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = endOfString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' &&
		b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j
}

// jsonString returns the string a raw JSON string value holds.
func jsonString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// jsonTime reads a time member: an ISO/RFC 3339 string, or epoch seconds,
// milliseconds, microseconds or nanoseconds as a number or numeric string.
func jsonTime(raw []byte) (time.Time, bool) {
	if len(raw) == 0 {
		return time.Time{}, false
	}
	if raw[0] == '"' {
		s, ok := jsonString(raw)
		if !ok {
			return time.Time{}, false
		}
		if t, ok := parseTimeString(s); ok {
			return t, true
		}
		return parseEpoch(s)
	}
	return parseEpoch(string(raw))
}

// minEpoch rejects numbers too small to be a timestamp of a recorded
// incident (before 2000), such as a "time" member holding a duration.
const minEpoch = 946684800

// parseEpoch reads a Unix time, choosing its unit by magnitude: seconds up
// to 1e11 (year 5138), then milliseconds, microseconds, nanoseconds. Digits
// are read as text so that "1692590000.123456" keeps its microseconds.
func parseEpoch(s string) (time.Time, bool) {
	if s == "" || !isDigit(s[0]) {
		return time.Time{}, false
	}
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f > 1e19 {
			return time.Time{}, false
		}
		return epochUnit(int64(f), int((f-float64(int64(f)))*1e9))
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if len(intPart) > 19 {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	nsec := 0
	if frac != "" {
		v, end := fraction([]byte(frac), 0)
		if end != len(frac) {
			return time.Time{}, false
		}
		nsec = v
	}
	return epochUnit(n, nsec)
}

// epochUnit reads n in the unit its magnitude suggests; frac is the
// fraction of one such unit, in billionths.
func epochUnit(n int64, frac int) (time.Time, bool) {
	var t time.Time
	switch {
	case n < 1e11:
		t = time.Unix(n, int64(frac))
	case n < 1e14:
		t = time.UnixMilli(n).Add(time.Duration(frac / 1e3))
	case n < 1e17:
		t = time.UnixMicro(n).Add(time.Duration(frac / 1e6))
	default:
		t = time.Unix(0, n)
	}
	if t.Unix() < minEpoch {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// jsonLevel reads a level member: a name, or a pino/bunyan number.
func jsonLevel(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		s, ok := jsonString(raw)
		if !ok {
			return ""
		}
		return levelName(s)
	}
	switch string(raw) {
	case "10":
		return "trace"
	case "20":
		return "debug"
	case "30":
		return "info"
	case "40":
		return "warn"
	case "50":
		return "error"
	case "60":
		return "fatal"
	}
	return ""
}

// levelName maps the many spellings of a severity onto six: trace, debug,
// info, warn, error, fatal. Unknown names give "".
func levelName[S string | []byte](s S) string {
	if len(s) < 3 || len(s) > 13 {
		return ""
	}
	var buf [13]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(s)]) {
	case "trace", "finest", "finer":
		return "trace"
	case "debug", "dbug", "fine":
		return "debug"
	case "info", "information", "informational", "notice":
		return "info"
	case "warn", "warning":
		return "warn"
	case "error", "err", "eror", "severe":
		return "error"
	case "fatal", "critical", "crit", "panic", "dpanic", "alert", "emerg", "emergency":
		return "fatal"
	}
	return ""
}
