package files

import (
	"errors"
	"io"
	"time"

	"github.com/causeway-rca/causeway"
)

// parseLog reads plain and JSON log lines. A line whose time cannot be read
// (a stack trace frame, a continuation) keeps its place and takes the time
// of the line before it, flagged TimeInferred.
func parseLog(o *out, in *input, kind causeway.LineKind) error {
	lr := newLineReader(in, o.opts.MaxLineBytes)
	defer func() { o.warnings = append(o.warnings, lr.warnings()...) }()
	var prev time.Time
	for {
		raw, err := lr.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if blank(raw) {
			continue
		}
		text, t, level, isJSON := splitLogLine(raw, o.opts.Year)
		l := causeway.Line{Kind: kind, Text: string(text), Time: t}
		if t.IsZero() {
			l.Time, l.TimeInferred = prev, true
		} else {
			prev = t
		}
		l.Attrs = o.logAttrs(text, level, isJSON)
		if err := o.add(l); err != nil {
			return err
		}
	}
}

// logAttrs returns a log line's attributes: the source's labels, its
// level, and what it says as an Envoy access log entry when it is one.
func (o *out) logAttrs(text []byte, level string, isJSON bool) map[string]string {
	access, isAccess := envoyAccessLine(text, isJSON)
	var m map[string]string
	switch {
	case isAccess:
		m = o.attrs(accessAttrs + 1)
		access.setAttrs(m)
	case level != "":
		m = o.attrs(1)
	default:
		return o.attrs(0)
	}
	if level != "" {
		m["level"] = level
	}
	return m
}

func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// splitLogLine finds a log line's time and level and the text to keep: the
// line without its leading ISO stamp (rendered separately), or the whole
// line for formats whose stamp is part of how they read. Only the first
// stamp is stripped, so a `kubectl logs --timestamps` prefix goes and the
// application's own stamp stays. isJSON says that text is one valid JSON
// object.
func splitLogLine(raw []byte, year int) (text []byte, t time.Time, level string, isJSON bool) {
	text = raw
	st, ok := parseStamp(raw, year)
	if ok {
		t, level = st.t, st.level
		if st.strip && st.end < len(raw) {
			text = raw[st.end:]
		}
	}
	if len(text) > 0 && text[0] == '{' {
		if f, isJSON := scanJSONLine(text); isJSON {
			if !ok {
				t, _ = jsonTime(f.time)
			}
			return text, t, jsonLevel(f.level), true
		}
	}
	if level == "" {
		level = detectLevel(text)
	}
	return text, t, level, false
}

// levelReach is how far into a line's text a level word is looked for:
// levels sit near the start, and words further on are message.
const levelReach = 128

// detectLevel finds an obvious severity word near the start of a line: an
// upper-case word (ERROR, WARN, INFO...), or any case when it is the first
// word, in brackets ("[error]") or after level=, lvl= or severity=.
func detectLevel(b []byte) string {
	n := min(len(b), levelReach)
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
		if size := j - i; size >= 3 && size <= 13 {
			if upper || i <= 2 || b[i-1] == '[' || afterLevelKey(b, i) {
				if lv := levelName(b[i:j]); lv != "" {
					return lv
				}
			}
		}
		i = j
	}
	return ""
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// afterLevelKey reports whether b[i] follows "level=", "lvl=" or
// "severity=", as in logfmt.
func afterLevelKey(b []byte, i int) bool {
	if i < 4 || b[i-1] != '=' {
		return false
	}
	key := b[:i-1]
	for _, k := range [...]string{"level", "lvl", "severity"} {
		if len(key) >= len(k) && string(key[len(key)-len(k):]) == k {
			return true
		}
	}
	return false
}
