package builtin

import (
	"context"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// hit is one line showing one signature.
type hit struct {
	line       *causeway.Line
	idx        int // position in the pack, the tie-breaker that keeps order stable
	m          *matcher
	start, end int    // the span that shows the signature, in line.Text
	key        string // what the failure is about, when the signature names it
	seconds    float64
	score      float64
	// at is when the line places the failure: its time, or none for a
	// snapshot of state (a /stats dump, a metric's whole-range summary),
	// or the time an attribute names (a certificate's expiry).
	at time.Time
}

// candidate is a group of hits of one signature about one entity (a
// workload's pods, an object, a node or a source) that are close in time:
// one possible cause, step or symptom of the incident.
type candidate struct {
	sig         *matcher
	hits        []hit // in time order
	best        hit   // the line that shows the signature most clearly
	lead        hit   // the earliest line nearly as telling as best: the one cited
	first, last time.Time
	ent         entity
	key         string
	sources     map[string]bool
	namespaces  map[string]bool
	pods        map[string]bool
	workloads   map[string]bool
	strength    float64
	chat        []hit // conversation lines that name the same failure
	resolvedBy  *hit  // a later line showing the failure was over
	// synthetic marks a candidate made from the failure a question names
	// and the facts found about it, when no line shows the failure itself.
	synthetic bool
	facts     []fact // for a synthetic candidate, the facts it was made of
	// output holds, for the lines a control question names that start a
	// check (a shell command), the lines of what it showed.
	output []hit

	// Set by each decision.
	rank     float64
	eligible bool
	why      string // why it is ruled out, when it is
	whyKind  string // "unrelated", "unrelated in time", "resolved", "another component"
	whyHits  []hit  // lines that show why, besides its own
	focus    bool
}

// evidence is what one scan of a pack found, independent of any question.
type evidence struct {
	a          *Analyzer
	pack       *causeway.Pack
	kinds      map[string]causeway.SourceKind
	ents       []entity // per line of the pack
	namespaces map[string]bool
	names      map[string]bool // pods, workloads, containers, nodes, objects: what a question may name
	containers map[string]bool // the containers lines come from, lower case
	candidates []*candidate
	chat       []hit
	timed      bool // whether any line has a time
	// termCount counts, for the words of the candidates' telling lines,
	// the lines of the pack that hold them; built on first use.
	termCount map[string]int
	// lower caches lines' lowered text, for the names matched in them.
	lower []string
}

// lowered is line i's text with ASCII letters lowered, computed once.
func (ev *evidence) lowered(i int) string {
	if ev.lower == nil {
		ev.lower = make([]string, len(ev.pack.Lines))
	}
	if ev.lower[i] == "" {
		ev.lower[i] = asciiLower(ev.pack.Lines[i].Text)
	}
	return ev.lower[i]
}

func (a *Analyzer) scan(ctx context.Context, pack *causeway.Pack) (*evidence, error) {
	lines := pack.Lines
	ev := &evidence{a: a, pack: pack, kinds: map[string]causeway.SourceKind{}, ents: make([]entity, len(lines)),
		namespaces: map[string]bool{}, names: map[string]bool{}, containers: map[string]bool{}}
	for _, s := range pack.Sources {
		ev.kinds[s.Name] = s.Kind
	}
	counts := make(map[string]int, len(lines)/4+1)
	keys := make([]string, len(lines))
	for i := range lines {
		l := &lines[i]
		keys[i] = templateKey(l)
		counts[keys[i]]++
		if ns := l.Attrs["namespace"]; ns != "" {
			ev.namespaces[ns] = true
		}
		ev.timed = ev.timed || !l.Time.IsZero()
	}
	for i := range lines {
		l := &lines[i]
		ev.ents[i] = entityOf(l, ev.namespaces)
		for _, n := range ev.ents[i].names() {
			ev.names[n] = true
		}
		if c := l.Attrs["container"]; c != "" {
			ev.containers[strings.ToLower(c)] = true
		}
		for _, k := range []string{"container", "deployment", "app", "service", "job", "name"} {
			if v := l.Attrs[k]; v != "" {
				ev.names[strings.ToLower(v)] = true
			}
		}
	}

	type groupKey struct {
		m   *matcher
		key string
		// subject splits a signature's lines by what they are about when
		// an attribute names it (an Envoy cluster, a status code): the
		// clusters of one proxy are different failures.
		subject string
	}
	groups := make(map[groupKey][]hit)
	var order []groupKey
	sc := newScanner(a.table)
	var found []match
	for i := range lines {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		l := &lines[i]
		prev := ""
		if i > 0 && lines[i-1].Source == l.Source {
			prev = lines[i-1].Text
		}
		found = sc.scanLine(l.Text, l.Attrs, prev, found[:0])
		if len(found) == 0 {
			continue
		}
		conversation := isConversation(l, ev.kinds[l.Source])
		snapshot := isSnapshot(l, ev.kinds[l.Source])
		var level float64
		for _, mt := range found {
			h := hit{line: l, idx: i, m: mt.m, start: mt.start, end: mt.end, key: mt.key, seconds: mt.seconds, at: l.Time}
			if snapshot || mt.m.Snapshot {
				h.at = time.Time{}
			}
			if a := mt.m.AtAttr; a != "" {
				if t, err := time.Parse(time.RFC3339, l.Attrs[a]); err == nil {
					h.at = t
				}
			}
			if conversation {
				// What people say in chat is what they thought, not what
				// happened: it may back a cause found in the telemetry but
				// never makes one.
				ev.chat = append(ev.chat, h)
				continue
			}
			if mt.m.LogsOnly && !isProcessLog(l, ev.kinds[l.Source]) {
				continue
			}
			if level == 0 {
				level = levelFactor(l)
			}
			// Rare lines tell more than the thousandth repeat of a template,
			// and a line that names what failed (a host, a resource) more
			// than one that only says something did.
			h.score = mt.m.Weight * level * (0.5 + 0.5/(1+math.Log(float64(counts[keys[i]]))))
			if mt.key != "" {
				h.score *= 1.15
			}
			// A process's own log line about what it needs is first-hand; an
			// object dump that holds the same words (a job's command echoing
			// it) is second-hand.
			if (mt.m.Layer == LayerDependency || mt.m.Layer == LayerProcess) && ev.kinds[l.Source] == causeway.KindPodLog {
				h.score *= 1.1
			}
			k := groupKey{m: mt.m, key: ev.ents[i].key(l.Source)}
			if len(mt.m.KeyAttrs) > 0 {
				k.subject = strings.ToLower(mt.key)
			}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], h)
		}
	}

	// Signature table order, then order of first appearance: deterministic.
	slices.SortStableFunc(order, func(x, y groupKey) int { return x.m.index - y.m.index })
	for _, k := range order {
		hits := groups[k]
		slices.SortStableFunc(hits, func(x, y hit) int {
			if c := x.at.Compare(y.at); c != 0 {
				return c
			}
			return x.idx - y.idx
		})
		for _, group := range cluster(hits, a.ClusterGap) {
			c := newCandidate(k.m, group, ev.ents[group[0].idx], k.key)
			c.chat = ev.chatAbout(c)
			c.resolvedBy = ev.resolution(c)
			ev.candidates = append(ev.candidates, c)
		}
	}
	ev.dropUnneeded()
	return ev, nil
}

// shareRareTerm reports whether the telling lines of a and b share a word
// that few lines of the pack hold: a gateway's "Failed to create Wasm
// cache directory" and a policy's "wasm cache is not initialized" are one
// story told by two components.
func (ev *evidence) shareRareTerm(a, b *candidate) bool {
	if ev.termCount == nil {
		ev.countTerms()
	}
	limit := max(3, len(ev.pack.Lines)/300)
	ta := terms(a.lead.line.Text)
	for _, t := range terms(b.lead.line.Text) {
		if n := ev.termCount[t]; n > 0 && n <= limit && slices.Contains(ta, t) {
			return true
		}
	}
	return false
}

func (ev *evidence) countTerms() {
	ev.termCount = map[string]int{}
	for _, c := range ev.candidates {
		for _, t := range terms(c.lead.line.Text) {
			ev.termCount[t] = 0
		}
	}
	var seen []string
	for i := range ev.pack.Lines {
		seen = seen[:0]
		eachTerm(asciiLower(ev.pack.Lines[i].Text), func(t string) {
			if n, ok := ev.termCount[t]; ok && !slices.Contains(seen, t) {
				seen = append(seen, t)
				ev.termCount[t] = n + 1
			}
		})
	}
}

// terms lists a line's words that can tie it to another: four letters or
// more, lower case, no stop words.
func terms(text string) []string {
	var out []string
	eachTerm(asciiLower(text), func(w string) {
		if !stopWords[w] && !slices.Contains(out, w) {
			out = append(out, w)
		}
	})
	return out
}

// eachTerm calls fn with each run of four or more letters (or
// underscores) in the first 400 bytes of lower.
func eachTerm(lower string, fn func(string)) {
	lower = lower[:min(len(lower), 400)]
	for i := 0; i < len(lower); {
		j := i
		for j < len(lower) && (lower[j] >= 'a' && lower[j] <= 'z' || lower[j] == '_') {
			j++
		}
		if j-i >= 4 && (i == 0 || !isAlnum(lower[i-1])) && (j == len(lower) || !isAlnum(lower[j])) {
			fn(lower[i:j])
		}
		if j == i {
			j++
		}
		i = j
	}
}

// dropUnneeded removes the candidates of signatures that only matter next
// to an effect they explain (a deny-all network policy) when no such effect
// shows in the same workload or namespace.
func (ev *evidence) dropUnneeded() {
	kept := ev.candidates[:0]
	for _, c := range ev.candidates {
		if !c.sig.NeedsEffect || ev.hasEffect(c) {
			kept = append(kept, c)
		}
	}
	ev.candidates = kept
}

func (ev *evidence) hasEffect(c *candidate) bool {
	for _, e := range ev.candidates {
		if e == c || !c.sig.explains[e.sig.Name] {
			continue
		}
		// What the two are about, when both name it (an Envoy cluster),
		// must be the same: a cluster with no hosts explains the 503s of
		// that cluster, not of another.
		if ck, ek := c.best.key, e.best.key; ck != "" && ek != "" {
			if strings.EqualFold(ck, ek) {
				return true
			}
			continue
		}
		if overlaps(c.workloads, e.workloads) || overlaps(c.namespaces, e.namespaces) ||
			len(c.namespaces) == 0 && len(e.namespaces) == 0 {
			return true
		}
	}
	return false
}

// resolution finds a line after the candidate's last one, in the same
// source, that shows the failure was over ("SuccessfulCreate").
func (ev *evidence) resolution(c *candidate) *hit {
	if len(c.sig.resolved) == 0 {
		return nil
	}
	lines := ev.pack.Lines
	last := c.hits[0]
	for _, h := range c.hits {
		if h.idx > last.idx {
			last = h
		}
	}
	for i := last.idx + 1; i < len(lines) && i < last.idx+200 && lines[i].Source == last.line.Source; i++ {
		lower := strings.ToLower(lines[i].Text)
		for _, r := range c.sig.resolved {
			if j := strings.Index(lower, r); j >= 0 {
				return &hit{line: &lines[i], idx: i, m: c.sig, start: j, end: j + len(r), at: lines[i].Time}
			}
		}
	}
	return nil
}

// chatAbout lists the conversation lines that name the candidate's failure.
func (ev *evidence) chatAbout(c *candidate) []hit {
	var out []hit
	for _, h := range ev.chat {
		if h.m == c.sig && len(out) < 3 {
			out = append(out, h)
		}
	}
	return out
}

// cluster splits time-ordered hits where they are more than gap apart:
// the same failure an hour later is another occurrence, maybe another
// incident. Hits without a time (a df output, an object's status) cannot be
// placed, so they join the largest timed group as corroboration.
func cluster(hits []hit, gap time.Duration) [][]hit {
	var untimed, timed []hit
	for _, h := range hits {
		if h.at.IsZero() {
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
		if i == len(timed) || timed[i].at.Sub(timed[i-1].at) > gap {
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

func newCandidate(m *matcher, hits []hit, ent entity, key string) *candidate {
	c := &candidate{sig: m, hits: hits, ent: ent, key: key, sources: map[string]bool{}, namespaces: map[string]bool{},
		pods: map[string]bool{}, workloads: map[string]bool{}}
	c.best = hits[0]
	for _, h := range hits {
		// Strictly greater keeps the earliest of equally telling lines.
		if h.score > c.best.score {
			c.best = h
		}
		if t := h.at; !t.IsZero() {
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
	}
	if ent.pod != "" {
		c.pods[ent.pod] = true
		c.workloads[ent.workload] = true
	}
	for _, h := range hits {
		if pod := h.line.Attrs["pod"]; pod != "" {
			c.pods[pod] = true
			c.workloads[workloadOf(pod)] = true
		}
	}
	c.lead = c.best
	// A snapshot (a /stats counter) tells that it happened; a timed line
	// of a log tells when, and usually how: cite that one when there is
	// one, the most telling of them.
	if c.best.at.IsZero() {
		for _, h := range hits {
			if !h.at.IsZero() && (c.lead.at.IsZero() || h.score > c.lead.score) {
				c.lead = h
			}
		}
	}
	lead := c.lead
	for _, h := range hits {
		if h.score >= 0.9*lead.score && (!h.at.IsZero() || lead.at.IsZero()) && (h.key != "" || lead.key == "") {
			c.lead = h
			break
		}
	}
	// Repetition and corroboration by other sources add to the best line,
	// but slowly: a hundred repeats of one line are still one fact.
	c.strength = c.best.score + 0.5*math.Log(float64(1+len(hits))) + 0.4*float64(min(len(c.sources)-1, 2))
	return c
}

// sameFamily reports whether two candidates are one failure seen two ways,
// like a full disk and the node's DiskPressure condition.
func sameFamily(a, b *candidate) bool {
	return a.sig == b.sig || a.sig.Family != "" && a.sig.Family == b.sig.Family
}

var klogLevelRE = regexp.MustCompile(`^[EWIF]\d{4} `)

// levelFactor weighs a line by its severity: the same words in an ERROR
// line say more than in an INFO line.
func levelFactor(l *causeway.Line) float64 {
	level := strings.ToLower(l.Attrs["level"])
	if level == "" {
		if m := klogLevelRE.FindString(l.Text); m != "" {
			level = map[byte]string{'E': "error", 'W': "warn", 'I': "info", 'F': "fatal"}[m[0]]
		}
	}
	if level == "" {
		lower := asciiLower(l.Text[:min(len(l.Text), 200)])
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

// asciiLower lowers ASCII letters only, so that byte offsets into the
// result are offsets into s.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

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

// isConversation reports whether a line is people talking (chat, ticket
// comments, runbooks) rather than telemetry.
func isConversation(l *causeway.Line, kind causeway.SourceKind) bool {
	switch l.Kind {
	case causeway.LineChat, causeway.LineComment, causeway.LineDoc:
		return true
	}
	return kind == causeway.KindSlack || kind == causeway.KindJira || kind == causeway.KindDoc
}

// isSnapshot reports whether a line shows state as someone read it
// (proxy admin output, a metric series summed up over the whole window)
// rather than something that happened at its time.
func isSnapshot(l *causeway.Line, kind causeway.SourceKind) bool {
	switch {
	case kind == causeway.KindMeshAdmin:
		return true
	case l.Kind == causeway.LineMetric:
		return strings.Contains(l.Text, " samples ")
	}
	return false
}

// isProcessLog reports whether a line is a process's own log output rather
// than an object dump, an event table or a metric summary.
func isProcessLog(l *causeway.Line, kind causeway.SourceKind) bool {
	if l.Kind != causeway.LineLog {
		return false
	}
	switch kind {
	case causeway.KindEvents, causeway.KindObjects, causeway.KindPrometheus:
		return false
	}
	return true
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
