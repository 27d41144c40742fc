package builtin

import (
	"context"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// hit is one line matching one signature.
type hit struct {
	line       *causeway.Line
	idx        int // position in the pack, the tie-breaker that keeps order stable
	sig        *matcher
	start, end int // the match in line.Text
	score      float64
}

// candidate is a group of hits of one signature about one entity (pod,
// object, node or source) that are close in time: one possible cause, step
// or symptom of the incident.
type candidate struct {
	sig         *matcher
	hits        []hit // in time order
	best        hit   // the line that shows the signature most clearly
	lead        hit   // the earliest line nearly as telling as best: the one cited
	first, last time.Time
	sources     map[string]bool
	namespaces  map[string]bool
	pods        map[string]bool
	strength    float64
	rank        float64 // strength adjusted for how well it explains the symptom
	eligible    bool
	why         string // why it is ruled out, when it is
	whyKind     string // "unrelated" or "unrelated in time"
	focus       bool   // mentions an entity the question names
	chat        *hit   // a chat or ticket line pointing at the same failure
}

// analysis is the state of one Analyze call.
type analysis struct {
	a          *Analyzer
	pack       *causeway.Pack
	question   string
	candidates []*candidate
	symptom    *candidate
	root       *candidate
	chain      []*candidate
	ruledOut   []*candidate
	rivals     []*candidate
	kin        []*candidate // the root's own failure seen through other signatures
}

// local reports whether the candidate's failure stays within its pod: a
// local signature, or a condition of a pod (Ready=False, PodScheduled=False)
// rather than of a gateway, route or policy.
func (c *candidate) local() bool {
	return c.sig.Local || c.sig.Layer == LayerConfig && len(c.pods) > 0
}

// sameFamily reports whether two candidates are one failure seen two ways,
// like a full disk and the node's DiskPressure condition.
func sameFamily(a, b *candidate) bool {
	return a.sig.Family != "" && a.sig.Family == b.sig.Family
}

func (an *analysis) scan(ctx context.Context) error {
	lines := an.pack.Lines
	counts := make(map[string]int, len(lines)/4+1)
	keys := make([]string, len(lines))
	for i := range lines {
		keys[i] = templateKey(&lines[i])
		counts[keys[i]]++
	}
	focus := focusEntities(an.question, lines)

	type groupKey struct {
		m      *matcher
		entity string
	}
	groups := make(map[groupKey][]hit)
	var order []groupKey
	chat := make(map[*matcher]*hit)
	for i := range lines {
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		l := &lines[i]
		lower := asciiLower(l.Text)
		for _, m := range an.a.matchers {
			start, end, ok := m.match(l.Text, lower)
			if !ok {
				continue
			}
			if isConversation(l) {
				// What people say in chat is what they thought, not what
				// happened: it may back a cause found in the telemetry but
				// never makes one.
				if chat[m] == nil {
					chat[m] = &hit{line: l, idx: i, sig: m, start: start, end: end}
				}
				continue
			}
			score := m.Weight * levelFactor(l, lower) * (0.5 + 0.5/(1+math.Log(float64(counts[keys[i]]))))
			k := groupKey{m, entity(l)}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], hit{line: l, idx: i, sig: m, start: start, end: end, score: score})
		}
	}

	// Signature table order, then order of first appearance: deterministic.
	slices.SortStableFunc(order, func(x, y groupKey) int { return an.a.index[x.m] - an.a.index[y.m] })
	for _, k := range order {
		hits := groups[k]
		slices.SortStableFunc(hits, func(x, y hit) int {
			if c := x.line.Time.Compare(y.line.Time); c != 0 {
				return c
			}
			return x.idx - y.idx
		})
		for _, group := range cluster(hits, an.a.ClusterGap) {
			c := newCandidate(k.m, group)
			c.chat = chat[k.m]
			c.focus = mentionsAny(group, focus)
			an.candidates = append(an.candidates, c)
		}
	}
	return nil
}

// entity names what a line is about, so that one pod's crash and another's
// are separate candidates: its pod, else its object, node or source.
func entity(l *causeway.Line) string {
	switch a := l.Attrs; {
	case a["pod"] != "":
		return "pod/" + a["namespace"] + "/" + a["pod"]
	case a["name"] != "":
		return a["kind"] + "/" + a["namespace"] + "/" + a["name"]
	case a["node"] != "":
		return "node/" + a["node"]
	}
	return "source/" + l.Source
}

// cluster splits time-ordered hits where they are more than gap apart:
// the same failure an hour later is another occurrence, maybe another
// incident. Hits without a time (a df output, an object's status) cannot be
// placed, so they join the largest timed group as corroboration.
func cluster(hits []hit, gap time.Duration) [][]hit {
	var untimed, timed []hit
	for _, h := range hits {
		if h.line.Time.IsZero() {
			untimed = append(untimed, h)
		} else {
			timed = append(timed, h)
		}
	}
	if len(timed) == 0 {
		return [][]hit{untimed}
	}
	var out [][]hit
	start, largest := 0, -1
	for i := 1; i <= len(timed); i++ {
		if i == len(timed) || timed[i].line.Time.Sub(timed[i-1].line.Time) > gap {
			g := timed[start:i:i]
			if largest < 0 || len(g) > len(out[largest]) {
				largest = len(out)
			}
			out = append(out, g)
			start = i
		}
	}
	out[largest] = append(out[largest], untimed...)
	return out
}

func newCandidate(m *matcher, hits []hit) *candidate {
	c := &candidate{sig: m, hits: hits, sources: map[string]bool{}, namespaces: map[string]bool{}, pods: map[string]bool{}}
	c.best = hits[0]
	for _, h := range hits {
		// Strictly greater keeps the earliest of equally telling lines.
		if h.score > c.best.score {
			c.best = h
		}
		if t := h.line.Time; !t.IsZero() {
			if c.first.IsZero() || t.Before(c.first) {
				c.first = t
			}
			if t.After(c.last) {
				c.last = t
			}
		}
		c.sources[h.line.Source] = true
		if ns := h.line.Attrs["namespace"]; ns != "" {
			c.namespaces[ns] = true
		}
		if pod := h.line.Attrs["pod"]; pod != "" {
			c.pods[pod] = true
		}
	}
	c.lead = c.best
	for _, h := range hits {
		if h.score >= 0.9*c.best.score && !h.line.Time.IsZero() {
			c.lead = h
			break
		}
	}
	// Repetition and corroboration by other sources add to the best line,
	// but slowly: a hundred repeats of one line are still one fact.
	c.strength = c.best.score + 0.5*math.Log(float64(1+len(hits))) + 0.4*float64(min(len(c.sources)-1, 2))
	return c
}

var layerFactor = map[Layer]float64{LayerInfra: 1.3, LayerWorkload: 1.15, LayerConfig: 1.0, LayerNetwork: 0.7, LayerUser: 0.5}

// decide picks the symptom, ranks the causes against it and builds the
// causal chain.
func (an *analysis) decide() {
	an.pickSymptom()
	var causes []*candidate
	for _, c := range an.candidates {
		if c.sig.Category != Cause {
			continue
		}
		an.judge(c)
		causes = append(causes, c)
	}
	an.isolate(causes)

	slices.SortStableFunc(causes, func(x, y *candidate) int { return byRank(x, y) })
	focused := false
	for _, c := range causes {
		focused = focused || c.eligible && c.focus
	}
	for _, c := range causes {
		switch {
		case c.eligible && an.root == nil && (c.focus || !focused):
			an.root = c
		case c.eligible && an.root != nil && sameFamily(c, an.root):
			an.kin = append(an.kin, c)
		case c.eligible:
			an.rivals = append(an.rivals, c)
		case c.sig.Weight >= 5 || c.best.score >= 5:
			an.ruledOut = append(an.ruledOut, c)
		}
	}
	an.buildChain()
}

func byRank(x, y *candidate) int {
	if x.rank != y.rank {
		if x.rank > y.rank {
			return -1
		}
		return 1
	}
	if c := x.first.Compare(y.first); c != 0 {
		return c
	}
	return strings.Compare(x.sig.Name, y.sig.Name)
}

// pickSymptom chooses what the incident is about: the symptom group that
// is largest and best matches the question.
func (an *analysis) pickSymptom() {
	terms := questionTerms(an.question)
	// A question about one entity ("why did pod X restart?") is about that
	// entity's symptoms, however loud the others are.
	focused := false
	for _, c := range an.candidates {
		focused = focused || c.sig.Category == Symptom && c.focus
	}
	best := 0.0
	for _, c := range an.candidates {
		if c.sig.Category != Symptom || focused && !c.focus {
			continue
		}
		score := c.strength * (1 + 0.3*math.Log(float64(len(c.hits))))
		if mentionsTerm(c, terms) {
			score *= 1.5
		}
		if c.focus {
			score *= 2
		}
		if score > best {
			best, an.symptom = score, c
		}
	}
}

// judge decides whether a cause can explain the symptom, and how well.
func (an *analysis) judge(c *candidate) {
	c.eligible = true
	timing := 1.0
	if s := an.symptom; s != nil && !c.first.IsZero() && !s.first.IsZero() {
		before := s.first.Sub(c.first)
		switch {
		case before > an.a.Lookback:
			c.eligible = false
			c.whyKind, c.why = "unrelated in time", "it was last seen "+duration(s.first.Sub(c.last))+" before the first "+s.sig.Summary+
				" line and does not recur near it"
			if c.last.After(s.first.Add(-an.a.Lookback)) {
				c.eligible = true // it lasted into the incident
			}
		case before >= 0:
			timing = 1 - 0.3*float64(before)/float64(an.a.Lookback)
		case c.first.After(s.last.Add(an.a.ClusterGap)):
			c.eligible = false
			c.whyKind, c.why = "unrelated in time", "it only starts "+duration(c.first.Sub(s.last))+" after the last "+s.sig.Summary+" line"
		default:
			// It first shows after the symptom began but while it lasts:
			// plausible (a cause is often logged late or retried), but less
			// so than one that precedes it.
			timing = 0.75
		}
	} else if c.first.IsZero() {
		timing = 0.6
	}
	c.rank = c.strength * layerFactor[c.sig.Layer] * timing
	if c.focus {
		c.rank *= 1.5
	}
	if c.chat != nil {
		c.rank *= 1.1
	}
}

// isolate rules out eligible local causes (an OOM kill, a crash) in
// namespaces that neither the symptom nor any wider failure touches, as
// long as some cause remains: an OOM kill of a monitoring pod does not
// explain a gateway's 503s. Node- and control-plane-wide failures are never
// isolated; they are the ones that surface three components away.
func (an *analysis) isolate(causes []*candidate) {
	if an.symptom == nil || len(an.symptom.namespaces) == 0 {
		return
	}
	connected := maps.Clone(an.symptom.namespaces)
	for _, c := range causes {
		if c.eligible && !c.local() {
			maps.Copy(connected, c.namespaces)
		}
	}
	var lone []*candidate
	remains := false
	for _, c := range causes {
		switch {
		case !c.eligible:
		case c.local() && len(c.namespaces) > 0 && !overlaps(c.namespaces, connected):
			lone = append(lone, c)
		default:
			remains = true
		}
	}
	if !remains {
		return
	}
	for _, c := range lone {
		c.eligible = false
		c.whyKind, c.why = "unrelated", "it is in namespace "+strings.Join(sortedKeys(c.namespaces), ", ")+
			", which neither the "+an.symptom.sig.Summary+" nor the failures around it touch"
	}
}

// buildChain orders the steps from the root cause to the symptom: by layer,
// since faults propagate up the stack, and by time within a layer.
func (an *analysis) buildChain() {
	if an.root == nil {
		if an.symptom != nil {
			an.chain = []*candidate{an.symptom}
		}
		return
	}
	root, sym := an.root, an.symptom
	var mids []*candidate
	for _, c := range an.candidates {
		if c == root || c == sym || !c.eligible && c.sig.Category == Cause || sameFamily(c, root) {
			continue
		}
		if c.sig.Layer < root.sig.Layer || (c.sig.Layer == root.sig.Layer && c.first.Before(root.first)) {
			continue
		}
		if sym != nil {
			if c.sig.Layer > sym.sig.Layer || c.first.After(sym.last) || c.first.Before(root.first.Add(-an.a.Lookback)) ||
				sharesLines(c, sym) {
				continue
			}
		}
		if c.strength < 0.3*root.strength {
			continue
		}
		mids = append(mids, c)
	}
	slices.SortStableFunc(mids, func(x, y *candidate) int {
		if x.strength != y.strength {
			if x.strength > y.strength {
				return -1
			}
			return 1
		}
		return x.first.Compare(y.first)
	})
	mids = mids[:min(len(mids), an.a.MaxSteps-2)]
	slices.SortStableFunc(mids, func(x, y *candidate) int {
		if x.sig.Layer != y.sig.Layer {
			return int(x.sig.Layer - y.sig.Layer)
		}
		return x.first.Compare(y.first)
	})
	an.chain = append([]*candidate{root}, mids...)
	if sym != nil {
		an.chain = append(an.chain, sym)
	}
}

// sharesLines reports whether c is mostly the same lines as s, as when an
// access log line both says "no healthy upstream" and carries status 503.
func sharesLines(c, s *candidate) bool {
	in := make(map[*causeway.Line]bool, len(s.hits))
	for _, h := range s.hits {
		in[h.line] = true
	}
	shared := 0
	for _, h := range c.hits {
		if in[h.line] {
			shared++
		}
	}
	return shared*2 >= len(c.hits)
}

var klogLevelRE = regexp.MustCompile(`^[EWIF]\d{4} `)

// levelFactor weighs a line by its severity: the same words in an ERROR
// line say more than in an INFO line.
func levelFactor(l *causeway.Line, lower string) float64 {
	level := strings.ToLower(l.Attrs["level"])
	if level == "" {
		if m := klogLevelRE.FindString(l.Text); m != "" {
			level = map[byte]string{'E': "error", 'W': "warn", 'I': "info", 'F': "fatal"}[m[0]]
		}
	}
	if level == "" {
		switch {
		case containsWord(lower, "fatal"), containsWord(lower, "panic"), containsWord(lower, "critical"),
			containsWord(lower, "error"), containsWord(lower, "err"):
			level = "error"
		case containsWord(lower, "warn"), containsWord(lower, "warning"):
			level = "warn"
		case containsWord(lower, "info"), containsWord(lower, "debug"):
			level = "info"
		}
	}
	switch level {
	case "fatal", "panic", "critical", "error", "err":
		return 1.3
	case "warn", "warning":
		return 1.1
	case "info", "debug", "trace":
		return 0.9
	}
	return 1
}

// containsWord reports whether w occurs in s delimited by non-letters.
func containsWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(w)
		if (j == 0 || !isLetter(s[j-1])) && (end == len(s) || !isLetter(s[end])) {
			return true
		}
		i = j + 1
	}
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// templateKey groups lines that differ only in numbers, for rarity: the
// packer's template when it set one, else the text with digits folded.
func templateKey(l *causeway.Line) string {
	if l.Template != "" {
		return l.Source + "\x00" + l.Template
	}
	text := l.Text
	if len(text) > 160 {
		text = text[:160]
	}
	b := make([]byte, 0, len(l.Source)+1+len(text))
	b = append(b, l.Source...)
	b = append(b, 0)
	digits := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		if '0' <= c && c <= '9' {
			if !digits {
				b = append(b, '#')
			}
			digits = true
			continue
		}
		digits = false
		b = append(b, c)
	}
	return string(b)
}

func isConversation(l *causeway.Line) bool {
	return l.Kind == causeway.LineChat || l.Kind == causeway.LineComment || l.Kind == causeway.LineDoc
}

var (
	statusCodeRE = regexp.MustCompile(`\b([1-5]\d\d)s?\b`) // "503" and "503s"
	wordRE       = regexp.MustCompile(`[a-z][a-z0-9_-]{3,}`)
	stopWords    = map[string]bool{"what": true, "when": true, "where": true, "which": true, "with": true, "without": true,
		"that": true, "this": true, "from": true, "they": true, "their": true, "there": true, "does": true, "did": true,
		"root": true, "cause": true, "causes": true, "caused": true, "incident": true, "fail": true, "fails": true, "failed": true,
		"failing": true, "requests": true, "request": true, "error": true, "errors": true, "happen": true, "happened": true,
		"because": true, "while": true, "after": true, "before": true, "about": true, "have": true, "were": true, "been": true}
)

// questionTerms lists what the question says about the symptom: status
// codes and content words.
func questionTerms(q string) []string {
	q = strings.ToLower(q)
	var terms []string
	for _, m := range statusCodeRE.FindAllStringSubmatch(q, -1) {
		terms = append(terms, m[1])
	}
	for _, w := range wordRE.FindAllString(q, -1) {
		if !stopWords[w] {
			terms = append(terms, w)
		}
	}
	return terms
}

func mentionsTerm(c *candidate, terms []string) bool {
	lower := strings.ToLower(c.best.line.Text)
	for _, t := range terms {
		if strings.Contains(lower, t) {
			return true
		}
	}
	return false
}

// entityAttrs are the attributes that name things a question may ask about.
var entityAttrs = []string{"pod", "container", "deployment", "node", "name", "object", "app", "service"}

// focusEntities returns the question's words that name an entity of the
// pack by its attributes, e.g. the pod in "why did pod api-7d9f restart?".
func focusEntities(q string, lines []causeway.Line) []string {
	words := wordRE.FindAllString(strings.ToLower(q), -1)
	if len(words) == 0 {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for i := range lines {
		for _, k := range entityAttrs {
			v := strings.ToLower(lines[i].Attrs[k])
			if v == "" || seen[v] {
				continue
			}
			for _, w := range words {
				if len(w) >= 5 && !stopWords[w] && (v == w || strings.HasPrefix(v, w+"-")) {
					out = append(out, w)
					seen[v] = true
				}
			}
		}
	}
	return out
}

func mentionsAny(hits []hit, entities []string) bool {
	if len(entities) == 0 {
		return false
	}
	for _, h := range hits {
		for _, k := range entityAttrs {
			v := strings.ToLower(h.line.Attrs[k])
			for _, e := range entities {
				if v != "" && (v == e || strings.HasPrefix(v, e+"-")) {
					return true
				}
			}
		}
	}
	return false
}

func overlaps(a, b map[string]bool) bool {
	for k := range a {
		if b[k] {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
