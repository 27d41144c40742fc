package chunking

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/causeway-rca/causeway"
)

// The signals a score is made of. A line's score adds its own signals
// (severity, Kubernetes state, mentions, closeness to a chat message) to its
// template's (rarity, first appearance, stop, burst, closeness to the
// symptom).
const (
	SignalSeverity    = "severity"     // a log level or failure words
	SignalWarning     = "warning"      // a Kubernetes Warning event
	SignalCondition   = "condition"    // a status condition in a bad state
	SignalTermination = "termination"  // a container terminated or waiting in a failure state
	SignalMetric      = "metric"       // a metric spike, dip, step or gap
	SignalState       = "state"        // a status, condition or metric line: state is evidence
	SignalMention     = "mention"      // names what the question, chat or tickets name
	SignalBeforeChat  = "before-chat"  // just before a chat message that describes it
	SignalNamedTime   = "named-time"   // at or just before a moment the question or chat names
	SignalRare        = "rare"         // its template is rare in its source
	SignalNew         = "new"          // its template first appears inside the window
	SignalStopped     = "stopped"      // its template stops well before its source does
	SignalBurst       = "burst"        // its template bursts in one minute
	SignalNearSymptom = "near-symptom" // it starts close to when the symptom starts
	SignalChange      = "change"       // it announces a change: a start, a new version, a rollout, a reload
)

// Reason is one cause of a score: the signal, its weight and what was seen.
type Reason struct {
	Signal string  `json:"signal"`
	Weight float64 `json:"weight"`
	Detail string  `json:"detail"`
}

// Score is how much a line says about an incident, and why: Value is the
// sum of the reasons' weights.
type Score struct {
	Value   float64  `json:"score"`
	Reasons []Reason `json:"reasons,omitempty"`
}

func (s *Score) add(signal string, w float64, detail string) {
	if w == 0 {
		return
	}
	s.Value += w
	s.Reasons = append(s.Reasons, Reason{Signal: signal, Weight: w, Detail: detail})
}

// String renders the score with its reasons, strongest first:
// "14.2: severity 6 (no space left on device, error) + new 2.5 (...)".
func (s Score) String() string {
	var b strings.Builder
	b.WriteString(strconv.FormatFloat(s.Value, 'f', 1, 64))
	for i, r := range s.sorted() {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(" + ")
		}
		fmt.Fprintf(&b, "%s %s", r.Signal, strconv.FormatFloat(r.Weight, 'f', 1, 64))
		if r.Detail != "" {
			b.WriteString(" (" + r.Detail + ")")
		}
	}
	return b.String()
}

// sorted returns the reasons, strongest first.
func (s Score) sorted() []Reason {
	rs := append([]Reason(nil), s.Reasons...)
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Weight > rs[j-1].Weight; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	return rs
}

// failureWords are phrases that mark a line as telling of a failure, with
// their weight. They are generic: no incident's own strings belong here.
var failureWords = []struct {
	phrase string
	weight float64
}{
	{"no space left on device", 6}, {"disk full", 5}, {"diskpressure", 4}, {"disk pressure", 4}, {"oomkilled", 5},
	{"out of memory", 4}, {"panic", 4}, {"fatal", 4}, {"crashloopbackoff", 4}, {"back off", 2}, {"exit code", 2},
	{"exitcode", 2}, {"x509", 4}, {"certificate", 2}, {"expired", 3}, {"connection refused", 3},
	{"connection reset", 3}, {"upstream connect error", 4}, {"no healthy upstream", 4}, {"timeout", 2},
	{"timed out", 2}, {"deadline exceeded", 3}, {"too many connections", 4}, {"pool exhausted", 4}, {"evict", 3},
	{"failed", 2}, {"failure", 2}, {"error", 2}, {"exception", 2}, {"denied", 2}, {"invalid", 2},
	{"unhealthy", 2}, {"refused", 2}, {"killed", 3}, {"sigterm", 2}, {"sigkill", 3}, {"lost leadership", 4},
	{"leader election lost", 4}, {"leaderelection lost", 4}, {"no such host", 3}, {"nxdomain", 3},
	{"not initialized", 3}, {"unable to", 2}, {"cannot", 1.5}, {"could not", 1.5}, {"warn", 1},
	{"500", 1}, {"502", 2}, {"503", 2}, {"504", 2}, {"=false", 2}, {"100%", 3}, {"reset before headers", 3},
}

// changeWords mark a line that announces a change to the system. Changes
// are the commonest cause of incidents, and the line that says one
// happened ("Starting app v1.9.0", "rolled out", "config reloaded") is
// often the only one that does.
var changeWords = []string{
	"starting", "started", "version", "deployed", "deploying", "rollout", "rolled out", "rolling update",
	"upgrad", "downgrad", "reloaded", "reloading", "config changed", "configuration changed", "scaled",
}

// changeMatcher finds changeWords in a line in one pass.
var changeMatcher = func() *matcher {
	pats := make([]matchPattern, len(changeWords))
	for i, w := range changeWords {
		pats[i] = matchPattern{text: w}
	}
	return newMatcher(pats)
}()

// severityMatcher finds failureWords in a line in one pass.
var severityMatcher = func() *matcher {
	pats := make([]matchPattern, len(failureWords))
	for i, w := range failureWords {
		// Codes and percentages must stand alone; words may go on ("errors").
		whole := w.phrase[0] >= '0' && w.phrase[0] <= '9'
		pats[i] = matchPattern{text: w.phrase, wholeWord: whole}
	}
	return newMatcher(pats)
}()

// maxSeverity caps the failure words' sum: a line that says "error" five
// times is not five times as telling.
const maxSeverity = 8

// LineSignals scores what a line says by itself: its level and failure
// words, and the Kubernetes state it reports (Warning events, conditions in
// a bad state, terminated and crash-looping containers, metric changes).
// The packer adds what only the whole incident shows: rarity, first
// appearance, bursts, closeness to the symptom, mentions in chat.
func LineSignals(l *causeway.Line) Score {
	var s Score
	lineSignals(l.Text, l.Kind, l.Attrs, &s, true)
	return s
}

// lineSignals adds a line's own signals to s, with their details only when
// explain is set: the packer scores millions of lines and explains a few.
func lineSignals(text string, kind causeway.LineKind, attrs map[string]string, s *Score, explain bool) {
	var seen [8]int32
	n := 0
	sev := 0.0
	severityMatcher.scan(text, func(p int32, _, _ int) {
		for _, q := range seen[:n] {
			if q == p {
				return
			}
		}
		if n < len(seen) {
			seen[n] = p
			n++
		}
		sev += failureWords[p].weight
	})
	level := strings.ToLower(attrs["level"])
	switch level {
	case "error", "err", "e", "fatal", "f", "critical", "crit", "panic", "emerg", "alert":
		sev += 3
	case "warn", "warning", "w":
		sev += 1.5
	default:
		level = ""
	}
	if sev > 0 {
		detail := ""
		if explain {
			words := make([]string, 0, n+1)
			for _, p := range seen[:n] {
				words = append(words, failureWords[p].phrase)
			}
			if level != "" {
				words = append(words, "level "+level)
			}
			detail = strings.Join(words, ", ")
		}
		s.add(SignalSeverity, math.Min(sev, maxSeverity), detail)
	}

	change := int32(-1)
	changeMatcher.scan(text, func(p int32, _, _ int) {
		if change < 0 {
			change = p
		}
	})
	if change >= 0 {
		s.add(SignalChange, 1.5, detailf(explain, "%q", changeWords[change]))
	}

	switch kind {
	case causeway.LineEvent:
		if strings.EqualFold(attrs["type"], "Warning") {
			s.add(SignalWarning, 2.5, "Warning "+attrs["reason"])
		}
	case causeway.LineCondition:
		s.add(SignalState, 1, "")
		cond, status := attrs["condition"], attrs["status"]
		switch bad := conditionBad(cond, status); {
		case bad:
			s.add(SignalCondition, 4, cond+"="+status+" "+attrs["reason"])
		case status == "Unknown":
			s.add(SignalCondition, 1, cond+"=Unknown")
		}
	case causeway.LineStatus:
		s.add(SignalState, 1, "")
		reason, code := attrs["reason"], attrs["exit_code"]
		switch attrs["state"] {
		case "terminated", "last-terminated":
			w := 0.0
			switch {
			case strings.EqualFold(reason, "OOMKilled"):
				w = 5
			case reason == "Error" || code != "" && code != "0":
				w = 3
			}
			if w > 0 {
				s.add(SignalTermination, w, strings.TrimSpace(reason+" exit code "+code))
			}
		case "waiting":
			switch reason {
			case "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
				s.add(SignalTermination, 3, "waiting "+reason)
			}
		}
		if r := attrs["restarts"]; r != "" && r != "0" {
			s.add(SignalTermination, 1, r+" restarts")
		}
	case causeway.LineMetric:
		if attrs["stat"] != "value" { // a summary, not one sample of many
			s.add(SignalState, 1, "")
		}
		switch stat := attrs["stat"]; stat {
		case "spike", "dip", "step", "gap":
			s.add(SignalMetric, 2, stat)
		}
	}
}

// conditionBad reports whether a status condition is in a bad state:
// conditions that name a problem (DiskPressure, NetworkUnavailable,
// Degraded) are bad when True; the others (Ready, Accepted, Available,
// Programmed) when False.
func conditionBad(cond, status string) bool {
	for _, neg := range [...]string{"Pressure", "Unavailable", "Degraded", "Failed", "Failure", "Error", "Stalled",
		"Conflict", "Unschedulable", "Evicted", "Disrupted", "Outdated", "Terminating"} {
		if strings.Contains(cond, neg) {
			return status == "True"
		}
	}
	return status == "False"
}

// matchPattern is one phrase a matcher looks for.
type matchPattern struct {
	text      string
	wholeWord bool // must end at a word boundary too, not only start at one
	// digits bounds the phrase only against digits, so that a clock
	// "08:00" is found in "T08:00:00Z" but not in "108:00".
	digits bool
}

// matcher finds many phrases in one pass over a text (Aho-Corasick over
// folded bytes): case does not matter, and '_', '-' and blanks are the same
// separator, so "no_healthy_upstream" matches "no healthy upstream". A
// phrase matches only where a word starts (a phrase that starts with a
// letter or digit must not continue a word), so "error" is found in
// "errors" but not "terror", and "503" not in "15030".
type matcher struct {
	next  [][foldSymbols]int32
	fail  []int32
	out   [][]int32 // patterns that end at a state, its suffixes' included
	pats  []matchPattern
	lens  []int
	alnum []bool
}

const foldSymbols = 43

var foldTable = func() (t [256]uint8) {
	n := uint8(1)
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = n, n
		n++
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = n
		n++
	}
	sep := n
	t[' '], t['_'], t['-'], t['\t'] = sep, sep, sep, sep
	n++
	for _, c := range ".:/%=" {
		t[c] = n
		n++
	}
	return t
}()

func isAlnumSymbol(sym uint8) bool { return sym >= 1 && sym <= 36 }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// fold returns a phrase in the matcher's alphabet, and false when it holds
// a character the alphabet folds away.
func fold(s string) (string, bool) {
	b := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		if foldTable[s[i]] == 0 {
			return "", false
		}
		b[i] = foldTable[s[i]]
	}
	return string(b), true
}

func newMatcher(pats []matchPattern) *matcher {
	m := &matcher{next: [][foldSymbols]int32{{}}, fail: []int32{0}, out: [][]int32{nil}, pats: pats}
	for i, p := range pats {
		f, ok := fold(p.text)
		if !ok || f == "" {
			m.lens = append(m.lens, 0)
			m.alnum = append(m.alnum, false)
			continue
		}
		m.lens = append(m.lens, len(f))
		m.alnum = append(m.alnum, isAlnumSymbol(f[0]))
		st := int32(0)
		for j := 0; j < len(f); j++ {
			sym := f[j]
			if m.next[st][sym] == 0 {
				m.next = append(m.next, [foldSymbols]int32{})
				m.fail = append(m.fail, 0)
				m.out = append(m.out, nil)
				m.next[st][sym] = int32(len(m.next) - 1)
			}
			st = m.next[st][sym]
		}
		m.out[st] = append(m.out[st], int32(i))
	}
	// Breadth first: failure links, then complete the transitions.
	queue := []int32{}
	for sym := 1; sym < foldSymbols; sym++ {
		if s := m.next[0][sym]; s != 0 {
			queue = append(queue, s)
		}
	}
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		m.out[st] = append(m.out[st], m.out[m.fail[st]]...)
		for sym := 1; sym < foldSymbols; sym++ {
			s := m.next[st][sym]
			if s == 0 {
				m.next[st][sym] = m.next[m.fail[st]][sym]
				continue
			}
			m.fail[s] = m.next[m.fail[st]][sym]
			queue = append(queue, s)
		}
	}
	return m
}

// scan calls fn for every match in text with its pattern and byte span.
func (m *matcher) scan(text string, fn func(pat int32, start, end int)) {
	st := int32(0)
	for i := 0; i < len(text); i++ {
		sym := foldTable[text[i]]
		if sym == 0 {
			st = 0
			continue
		}
		st = m.next[st][sym]
		for _, p := range m.out[st] {
			start := i + 1 - m.lens[p]
			if m.pats[p].digits {
				if start > 0 && isDigit(text[start-1]) || i+1 < len(text) && isDigit(text[i+1]) {
					continue
				}
			} else {
				if m.alnum[p] && start > 0 && isAlnumSymbol(foldTable[text[start-1]]) {
					continue
				}
				if m.pats[p].wholeWord && i+1 < len(text) && isAlnumSymbol(foldTable[text[i+1]]) {
					continue
				}
			}
			fn(p, start, i+1)
		}
	}
}
