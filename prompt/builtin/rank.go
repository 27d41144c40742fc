package builtin

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// decision is the analysis of the evidence for one question: the symptom
// it asks about, the root cause, the chain between them and the
// alternatives, each with the lines that show it.
type decision struct {
	ev    *evidence
	q     *query
	cands []*candidate
	// focused marks a question that names entities of the evidence.
	focused bool
	symptom *candidate
	// episodes are the bursts of a recurring symptom, in time order; the
	// maps below cache what recurrence needs.
	episodes   []*candidate
	bySig      map[*matcher][]*candidate
	occMemo    map[*candidate][]*candidate
	recursMemo map[*candidate]bool
	// explainsMemo caches explains, which the chain asks about the same
	// pairs many times.
	explainsMemo map[[2]*candidate]bool
	root         *candidate
	chain        []*candidate // root first, symptom last
	triggers     []*candidate // what set the root off, such as a scale-down
	kin          []*candidate // the root's failure seen through other signatures
	rivals       []*candidate // other causes nearly as likely
	ruledOut     []*candidate
	// fallback marks a root that says what fails rather than why: a State
	// (a crash loop whose reason no line shows) or a failure only the
	// question names.
	fallback bool
	// suspect is what a control question asks about, and related whether
	// it is part of the chain.
	suspect *candidate
	related bool
	// elsewhere is set when a fix a question asks about acts on another
	// container than the one that fails: the line that shows which fails.
	elsewhere *misdirected
}

// misdirected is a fix aimed at one container while another one fails.
type misdirected struct {
	asked, fails string
	where        hit
}

var layerFactor = map[Layer]float64{LayerNode: 1.3, LayerScheduling: 1.25, LayerResource: 1.2, LayerDependency: 1.15,
	LayerProcess: 1.1, LayerWorkload: 1, LayerControl: 0.95, LayerNetwork: 0.7, LayerUser: 0.5}

// closeBehind is how soon after a wide failure another one counts as its
// consequence even in another namespace.
const closeBehind = 2 * time.Minute

// maxGraph bounds the candidates the explanation graph considers, so that a
// pack with thousands of minor candidates stays fast.
const maxGraph = 300

func (ev *evidence) decide(q *query) *decision {
	d := &decision{ev: ev, q: q}
	for _, c := range ev.candidates {
		cp := *c
		cp.rank, cp.eligible, cp.why, cp.whyKind, cp.whyHits, cp.focus = 0, false, "", "", nil, false
		d.cands = append(d.cands, &cp)
	}
	for _, c := range d.cands {
		c.focus = ev.mentionsAny(c, q.focus) || len(q.focus) == 0 && inNamespaces(c, q.nsFocus)
	}
	d.synthesize()
	// A question whose names match no failing line is answered about the
	// whole incident.
	for _, c := range d.cands {
		d.focused = d.focused || c.focus
	}
	d.pickSymptom()
	d.findEpisodes()
	for _, c := range d.cands {
		d.judge(c)
	}
	d.connect()
	d.isolate()
	d.trimGraph()
	d.chooseRoot()
	d.reanchor()
	d.buildChain()
	d.classify()
	if q.control {
		d.judgeSuspect()
	}
	return d
}

// synthesize makes a candidate of a failure the question names when no line
// shows it but its facts are there: "CPUThrottlingHigh" for a pod whose
// description shows a 10m CPU limit.
func (d *decision) synthesize() {
	if len(d.q.focus)+len(d.q.nsFocus) == 0 {
		return
	}
	for _, m := range d.q.named {
		if len(m.details) == 0 || m.Category != Cause {
			continue
		}
		shown := false
		for _, c := range d.cands {
			shown = shown || c.sig == m && c.focus
		}
		if shown {
			continue
		}
		var hits []hit
		facts := d.ev.details(m, hit{}, func(h hit) bool { return d.inFocus(h) })
		for _, f := range facts {
			f.hit.score = m.Weight
			hits = append(hits, f.hit)
		}
		if len(hits) == 0 {
			continue
		}
		c := newCandidate(m, hits, d.ev.ents[hits[0].idx], "question")
		c.synthetic, c.focus, c.facts = true, true, facts
		d.cands = append(d.cands, c)
	}
}

// inFocus reports whether a line is about what the question names.
func (d *decision) inFocus(h hit) bool {
	if len(d.q.focus) > 0 {
		return d.ev.mentions(h, d.q.focus)
	}
	for _, ns := range d.q.nsFocus {
		if h.line.Attrs["namespace"] == ns {
			return true
		}
	}
	return false
}

func (d *decision) isNamed(c *candidate) bool { return slices.Contains(d.q.named, c.sig) }

// pickSymptom chooses what the incident, or the question, is about: the
// failure the question names, else what users see fail, preferring what
// the question's entities show and the largest group.
func (d *decision) pickSymptom() {
	// A question that names what users see ("503 reset reason: overflow")
	// and, in the same words, a cause ("overflow") asks about the former.
	namesSymptom := false
	for _, m := range d.q.named {
		namesSymptom = namesSymptom || m.Category == Symptom
	}
	best := 0.0
	for _, c := range d.cands {
		named := d.isNamed(c)
		if !named && c.sig.Category != Symptom && c.sig.Category != State {
			continue
		}
		if d.focused && !c.focus {
			continue
		}
		score := c.strength * (1 + 0.3*math.Log(float64(len(c.hits))))
		switch {
		case named && namesSymptom && c.sig.Category == Cause:
		case named:
			score *= 3
		}
		// The status code and the paths the question names pick its
		// failure out of others of the same kind: the 502s on
		// /v1/reports/export, not the 504s on /v1/search.
		score *= d.termMatch(c)
		if c.sig.Category == State && !named {
			// What users see is the symptom; a pod's state only when the
			// question is about that pod.
			score *= 0.5
		}
		if score > best {
			best, d.symptom = score, c
		}
	}
}

// statusRE finds HTTP status codes in a question, also in the plural
// ("the 502s").
var statusRE = regexp.MustCompile(`\b([1-5]\d\d)s?\b`)

// termMatch weighs a candidate by the question's status codes and words
// its lines hold: 1 when the question names none of them.
func (d *decision) termMatch(c *candidate) float64 {
	if d.q.terms == nil {
		d.q.terms = contentWords(d.q.about)
		for _, m := range statusRE.FindAllStringSubmatch(d.q.about, -1) {
			d.q.codes = append(d.q.codes, m[1])
		}
	}
	if len(d.q.terms)+len(d.q.codes) == 0 {
		return 1
	}
	f := 1.0
	code, words := false, 0
	for _, h := range c.hits[:min(len(c.hits), 20)] {
		for _, s := range d.q.codes {
			if !code && containsWord(h.line.Text, s) {
				code = true
			}
		}
	}
	if code {
		f *= 3
	}
	lower := asciiLower(c.hits[0].line.Text)
	for _, t := range d.q.terms {
		if strings.Contains(lower, t) {
			words++
		}
	}
	return f * (1 + 0.3*float64(min(words, 4)))
}

// judge decides whether a candidate can explain the symptom, and how well.
func (d *decision) judge(c *candidate) {
	a := d.ev.a
	c.eligible = true
	timing := 1.0
	// A node's disk can fill for hours before anything breaks; a pod's own
	// crash or OOM kill explains only what follows it closely.
	lookback := a.Lookback
	if c.local() {
		lookback = min(lookback, a.ClusterGap)
	}
	// A recurring symptom is judged burst by burst: against the one the
	// candidate would precede.
	if s := d.episodeFor(c); s != nil && s != c && !c.first.IsZero() && !s.first.IsZero() {
		before := s.first.Sub(c.first)
		switch {
		case before > lookback && c.last.Before(s.first.Add(-lookback)):
			c.eligible = false
			c.whyKind, c.why = "unrelated in time", "it was last seen "+duration(s.first.Sub(c.last))+" before the first "+s.sig.Summary+
				" line and does not recur near it"
		case before > lookback:
			// It lasted into the incident.
			timing = 0.7
		case before >= 0:
			timing = 1 - 0.3*float64(before)/float64(a.Lookback)
		case c.first.After(s.last.Add(a.ClusterGap)):
			c.eligible = false
			c.whyKind, c.why = "unrelated in time", "it only starts "+duration(c.first.Sub(s.last))+" after the last "+s.sig.Summary+" line"
		default:
			// It first shows after the symptom began but while it lasts:
			// plausible (a cause is often logged late or retried), but less
			// so than one that precedes it.
			timing = 0.75
		}
	} else if c.first.IsZero() && d.ev.timed && d.symptom != nil && !d.symptom.first.IsZero() {
		timing = 0.6
	}
	if c.resolvedBy != nil && c.eligible {
		c.eligible = false
		c.whyKind, c.why = "resolved", "it was over before the failure: "+c.resolvedBy.line.ID()+" shows "+
			strings.TrimSpace(c.resolvedBy.line.Text[c.resolvedBy.start:c.resolvedBy.end])+" after it"
		c.whyHits = []hit{*c.resolvedBy}
	}
	c.rank = c.strength * layerFactor[c.sig.Layer] * timing * d.recurrenceFactor(c)
	if len(d.episodes) > 0 && d.episodeFor(c) == d.symptom {
		// Of a failure's occurrences, the one before the burst the
		// evidence shows best is the one to cite.
		c.rank *= 1.05
	}
	switch {
	case c.focus:
		c.rank *= 1.5
	case d.focused:
		c.rank *= 0.4
	}
	if len(c.chat) > 0 {
		c.rank *= 1.1
	}
	if d.isNamed(c) && c.sig.Category == Cause {
		c.rank *= 1.5
	}
}

// connect weakens the causes that nothing links to the symptom: no shared
// workload, namespace, node, name or rare word with it, no recurrence with
// its bursts, and no known link to a failure that has one. A cause next
// to the symptom, or a known step or two away from it (a metric label that
// fills a proxy's stats, which runs it out of memory), explains it better
// than one in a component the evidence never ties to it.
func (d *decision) connect() {
	if d.symptom == nil {
		return
	}
	bySig := map[string][]*candidate{}
	for _, c := range d.cands {
		if c.eligible {
			bySig[c.sig.Name] = append(bySig[c.sig.Name], c)
		}
	}
	linked := map[*candidate]bool{}
	for _, c := range d.cands {
		if !c.eligible {
			continue
		}
		s := d.episodeFor(c)
		linked[c] = c == s || d.relatedTo(c, s) || d.recurs(c)
	}
	for range 3 {
		grew := false
		for _, c := range d.cands {
			if !c.eligible || linked[c] {
				continue
			}
			for _, name := range c.sig.Explains {
				for _, e := range bySig[name] {
					if linked[e] && d.relatedTo(c, e) {
						linked[c], grew = true, true
						break
					}
				}
				if linked[c] {
					break
				}
			}
		}
		if !grew {
			break
		}
	}
	for _, c := range d.cands {
		if c.eligible && c.sig.Category == Cause && !linked[c] {
			c.rank *= 0.5
		}
	}
}

// isolate rules out eligible local causes (an OOM kill, a crash) in
// namespaces that neither the symptom nor any wider failure touches, as
// long as some cause remains: an OOM kill of a monitoring pod does not
// explain a gateway's 503s. Node- and control-plane-wide failures are never
// isolated; they are the ones that surface three components away.
func (d *decision) isolate() {
	s := d.symptom
	if s == nil || len(s.namespaces) == 0 {
		return
	}
	connected := maps.Clone(s.namespaces)
	for _, c := range d.cands {
		if c.eligible && c.wide() {
			maps.Copy(connected, c.namespaces)
		}
	}
	var lone []*candidate
	remains := false
	for _, c := range d.cands {
		switch {
		case !c.eligible || c.sig.Category != Cause || c == s:
		case c.local() && len(c.namespaces) > 0 && !overlaps(c.namespaces, connected) && !d.mentionedBy(c, s) && !d.recurs(c):
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
			", which neither the "+s.sig.Summary+" nor the failures around it touch"
	}
}

// local reports whether the candidate's failure stays within its pod: a
// local signature, or a condition of a pod (Ready=False) rather than of a
// gateway, route or policy.
func (c *candidate) local() bool {
	return c.sig.Local || c.sig.Category == State && c.sig.Layer == LayerControl && len(c.pods) > 0
}

// wide reports whether the candidate is a failure of a node or of the
// cluster, which reaches every namespace on it.
func (c *candidate) wide() bool {
	return c.sig.Category == Cause && !c.local() && c.sig.Layer <= LayerScheduling
}

// trimGraph keeps the candidates the explanation graph works on to the
// strongest few hundred (and everything the question is about).
func (d *decision) trimGraph() {
	if len(d.cands) <= maxGraph {
		return
	}
	byStrength := slices.Clone(d.cands)
	slices.SortStableFunc(byStrength, func(x, y *candidate) int { return cmpFloat(y.strength, x.strength) })
	keep := map[*candidate]bool{}
	hints := 0
	for i, c := range byStrength {
		// Hints are weak by nature, but what set a failure off is often
		// one of them: they have a quota of their own.
		switch {
		case i < maxGraph:
			keep[c] = true
		case c.sig.Category == Hint && hints < maxGraph/3:
			keep[c] = true
			hints++
		}
	}
	kept := d.cands[:0]
	for _, c := range d.cands {
		if keep[c] || c.focus || c == d.symptom || d.isNamed(c) || slices.Contains(d.q.suspectSigs, c.sig) {
			kept = append(kept, c)
		}
	}
	d.cands = kept
}

// explains reports whether a can be a cause of b: a lower layer of the
// stack or a known causal link, in the same component or one that b's
// lines name (or one that is node- or cluster-wide), and not after b.
func (d *decision) explains(a, b *candidate) bool {
	if a == b || sameFamily(a, b) || a.sig.Category == Symptom && b.sig.Category != Symptom {
		return false
	}
	k := [2]*candidate{a, b}
	if v, ok := d.explainsMemo[k]; ok {
		return v
	}
	v := d.explainsUncached(a, b)
	if d.explainsMemo == nil {
		d.explainsMemo = map[[2]*candidate]bool{}
	}
	d.explainsMemo[k] = v
	return v
}

func (d *decision) explainsUncached(a, b *candidate) bool {
	byLayer := false
	switch {
	case a.sig.Remote && !b.sig.Remote && d.mentionedBy(b, a):
		// A connection refused to X is X's failure seen from outside.
		return false
	case b.sig.Remote && !a.sig.Remote && a.sig.Category != Hint && d.mentionedBy(a, b):
	case a.sig.explains[b.sig.Name]:
	case b.sig.explains[a.sig.Name], a.sig.Category == Hint:
		// A hint is no fault: it explains only what it is known to set off.
		return false
	case a.sig.Layer >= b.sig.Layer, b.sig.Snapshot:
		// Configuration in force (a connection-pool limit) is set by
		// people, not by the failures beneath it.
		return false
	default:
		byLayer = true
	}
	// Without a known link, only a node- or cluster-wide failure explains
	// what follows it long after; anything else must come shortly before.
	if byLayer && !a.wide() && !a.first.IsZero() && !b.first.IsZero() && b.first.Sub(a.first) > d.ev.a.ClusterGap {
		return false
	}
	if !a.first.IsZero() && !b.first.IsZero() &&
		(a.first.After(b.last.Add(d.ev.a.ClusterGap)) || a.last.Before(b.first.Add(-d.ev.a.Lookback))) {
		return false
	}
	return d.relatedTo(a, b)
}

// relatedTo reports whether a failure in a's component can reach b's.
func (d *decision) relatedTo(a, b *candidate) bool {
	switch {
	case overlaps(a.workloads, b.workloads), a.key == b.key, sameSubject(a, b), d.coRecur(a, b):
		return true
	case a.focus && b.focus:
		return true
	case d.mentionedBy(a, b), d.mentionedBy(b, a), d.ev.shareRareTerm(a, b):
		return true
	case (len(a.workloads) == 0 || len(b.workloads) == 0) && overlaps(a.namespaces, b.namespaces):
		// One side's component is unknown (an access log with only its
		// namespace): sharing the namespace is all the evidence tells.
		return true
	case !a.local() && (len(a.namespaces) == 0 || len(b.namespaces) == 0 || overlaps(a.namespaces, b.namespaces) ||
		a.ent.node != "" && a.ent.node == b.ent.node):
		// Node- and cluster-wide failures reach everything that shares a
		// namespace or node with them, or anything when topology is unknown.
		return true
	case a.sig.Category == Hint && a.sig.explains[b.sig.Name] && !a.first.IsZero() && !b.first.IsZero() &&
		!b.first.Before(a.first) && b.first.Sub(a.first) <= d.ev.a.ClusterGap:
		// What a hint is known to set off, shortly after it: the autoscaler
		// scaling down once the batch job it followed completed.
		return true
	case !a.local() && !a.first.IsZero() && !b.first.IsZero() && !b.first.Before(a.first) && b.first.Sub(a.first) <= closeBehind:
		// A failure that follows a wider one within moments, wherever it
		// is, is most likely its consequence: a gateway policy rejected a
		// second after its controller hit a full disk.
		return true
	}
	// Without pods or namespaces on either side the evidence does not say
	// how components connect; one incident's lines are assumed to.
	return len(a.workloads)+len(a.namespaces) == 0 || len(b.workloads)+len(b.namespaces) == 0
}

// sameSubject reports whether two candidates name the same thing they are
// about, such as one Envoy cluster seen in a /stats counter and in the
// access log lines of its requests.
func sameSubject(a, b *candidate) bool {
	ka, kb := a.best.key, b.best.key
	return len(ka) >= 4 && strings.EqualFold(ka, kb) && !isDigits(ka)
}

// mentionedBy reports whether b's lines name a's component or the object
// a's failure is about ("connection refused" to prod-db, where prod-db is
// a's workload).
func (d *decision) mentionedBy(a, b *candidate) bool {
	var names []string
	for w := range a.workloads {
		if len(w) >= 4 {
			names = append(names, strings.ToLower(w))
		}
	}
	if k := strings.ToLower(b.best.key); k != "" {
		for _, w := range names {
			if strings.HasPrefix(k, w) {
				return true
			}
		}
	}
	if len(names) == 0 {
		return false
	}
	slices.Sort(names)
	for _, h := range b.hits[:min(len(b.hits), 20)] {
		if d.ev.mentions(h, names) {
			return true
		}
	}
	return false
}

// chooseRoot picks the best-ranked cause, then follows the explanations
// down: a cause in another component that precedes and explains it is the
// root instead.
func (d *decision) chooseRoot() {
	var pool []*candidate
	for _, c := range d.cands {
		if c.eligible && c.sig.Category == Cause {
			pool = append(pool, c)
		}
	}
	if d.focused {
		var inFocus []*candidate
		for _, c := range pool {
			if c.focus || d.explainsFocus(c) {
				inFocus = append(inFocus, c)
			}
		}
		pool = inFocus
	}
	slices.SortStableFunc(pool, byRank)
	if len(pool) == 0 {
		d.chooseFallback()
		return
	}
	d.root = pool[0]
	d.fallback = d.root.synthetic
	// A failure already on the way down, seen at another time, would
	// close a loop: each signature is visited once.
	visited := map[*matcher]bool{d.root.sig: true}
	for {
		var next *candidate
		for _, c := range d.cands {
			// A known causal link (a metric label fills a proxy's stats)
			// is stronger evidence than the order of the layers: it may
			// lead to a much weaker-looking line.
			need := 0.3
			if c.sig.explains[d.root.sig.Name] {
				need = 0.12
			}
			if visited[c.sig] || !c.eligible || c.sig.Category != Cause || c.rank < need*d.root.rank || !d.explains(c, d.root) {
				continue
			}
			// Behind a symptom that recurs, what comes back with every
			// burst is not explained by what happened once.
			if d.recurs(d.root) && !c.first.IsZero() && !d.recurs(c) {
				continue
			}
			if next == nil || byRank(c, next) < 0 {
				next = c
			}
		}
		if next == nil {
			break
		}
		visited[next.sig] = true
		d.root = next
		d.fallback = false
	}
	// The same failure seen through a more specific signature names it
	// better: the expired certificate itself rather than the handshakes
	// that fail on it.
	for _, c := range d.cands {
		if c != d.root && c.eligible && c.sig != d.root.sig && sameFamily(c, d.root) && c.sig.Category == Cause &&
			c.sig.Weight > d.root.sig.Weight && c.rank >= 0.8*d.root.rank && d.relatedTo(c, d.root) &&
			(c.first.IsZero() || d.root.first.IsZero() || !c.first.After(d.root.first)) {
			d.root = c
		}
	}
	// The same failure seen first elsewhere is where it started: an
	// expired certificate in the control plane before the proxies that
	// cannot verify it.
	for _, c := range d.cands {
		// Behind a recurring symptom an earlier occurrence belongs to an
		// earlier burst: another time, not where this one started.
		if len(d.episodes) > 0 && d.episodeFor(c) != d.episodeFor(d.root) {
			continue
		}
		if c != d.root && c.eligible && c.sig == d.root.sig && !c.first.IsZero() && !d.root.first.IsZero() &&
			(!c.local() || c.best.key == d.root.best.key && c.best.key != "" || overlaps(c.workloads, d.root.workloads)) &&
			c.first.Before(d.root.first.Add(-30*time.Second)) && c.strength >= 0.4*d.root.strength && d.relatedTo(c, d.root) {
			if first := d.root; c.first.Before(first.first) {
				d.root = c
			}
		}
	}
}

// explainsFocus reports whether c explains one of the failures the
// question is about.
func (d *decision) explainsFocus(c *candidate) bool {
	for _, f := range d.cands {
		if f.focus && f.eligible && d.explains(c, f) {
			return true
		}
	}
	return false
}

// chooseFallback names what fails when no cause shows: the State the
// question is about (a crash loop whose reason no line shows).
func (d *decision) chooseFallback() {
	var pool []*candidate
	for _, c := range d.cands {
		if c.eligible && c.sig.Category == State && (!d.focused || c.focus) {
			pool = append(pool, c)
		}
	}
	if len(pool) == 0 {
		return
	}
	slices.SortStableFunc(pool, byRank)
	d.root = pool[0]
	if s := d.symptom; s != nil && s.sig.Category == State && slices.Contains(pool, s) {
		d.root = s
	}
	d.fallback = true
}

func byRank(x, y *candidate) int {
	if c := cmpFloat(y.rank, x.rank); c != 0 {
		return c
	}
	if c := x.first.Compare(y.first); c != 0 {
		return c
	}
	if c := x.sig.index - y.sig.index; c != 0 {
		return c
	}
	return x.lead.idx - y.lead.idx
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// buildChain orders the steps from the root cause to the symptom: the
// failures the root explains that in turn explain the symptom, one per
// layer (faults propagate up the stack), in layer and then time order.
func (d *decision) buildChain() {
	root, sym := d.root, d.symptom
	if root == nil {
		if sym != nil {
			d.chain = []*candidate{sym}
		}
		return
	}
	if sym == root {
		sym = nil
	}
	if sym != nil && !d.explainsStar(root, sym) && !d.relatedTo(root, sym) && root.focus != sym.focus {
		// The symptom is not within the root's reach; show the root alone.
		d.chain = []*candidate{root}
		return
	}
	// The root's failure is also what its own family shows elsewhere: the
	// node's full disk behind a controller's "no space left on device",
	// which may show before the root's own first line.
	family := []*candidate{root}
	start := root.first
	for _, k := range d.cands {
		if k != root && k.eligible && sameFamily(k, root) && d.relatedTo(k, root) {
			family = append(family, k)
			if !k.first.IsZero() && (start.IsZero() || k.first.Before(start)) {
				start = k.first
			}
		}
	}
	fromRoot := func(c *candidate) bool {
		for _, f := range family {
			if d.explains(f, c) || d.explainsVia(f, c) {
				return true
			}
		}
		return false
	}
	type step struct {
		c     *candidate
		score float64
	}
	var steps []step
	for _, c := range d.cands {
		if c == root || c == sym || !c.eligible || sameFamily(c, root) || c.sig.Category == Hint || c.synthetic || c.sig.Generic ||
			sharesLines(c, root) {
			continue
		}
		if c.strength < 0.3*root.strength && !c.focus {
			continue
		}
		if !fromRoot(c) {
			continue
		}
		if sym != nil && (c.sig.Layer > sym.sig.Layer || !d.explains(c, sym) && !d.explainsVia(c, sym) || sharesLines(c, sym) ||
			!c.first.IsZero() && !sym.last.IsZero() && c.first.After(sym.last)) {
			continue
		}
		score := c.rank
		if !c.first.IsZero() && !start.IsZero() && c.first.Before(start.Add(-time.Minute)) {
			score *= 0.5 // before the fault showed: more likely a bystander
		}
		if c.sig.Weight <= 4 {
			score *= 0.7 // generic words ("connection refused") say little on their own
		}
		steps = append(steps, step{c, score})
	}
	slices.SortStableFunc(steps, func(x, y step) int {
		if c := cmpFloat(y.score, x.score); c != 0 {
			return c
		}
		return x.c.lead.idx - y.c.lead.idx
	})
	// One step per failure and component: the strongest first.
	var mids []*candidate
	for _, st := range steps {
		if len(mids) >= d.ev.a.MaxSteps-2 {
			break
		}
		if slices.ContainsFunc(mids, func(m *candidate) bool {
			return m.sig == st.c.sig || m.sig.Layer == st.c.sig.Layer && m.key == st.c.key
		}) {
			continue
		}
		mids = append(mids, st.c)
	}
	slices.SortStableFunc(mids, func(x, y *candidate) int {
		if x.sig.Layer != y.sig.Layer {
			return int(x.sig.Layer - y.sig.Layer)
		}
		if c := x.first.Compare(y.first); c != 0 {
			return c
		}
		return x.lead.idx - y.lead.idx
	})
	d.chain = append([]*candidate{root}, mids...)
	if sym != nil {
		d.chain = append(d.chain, sym)
	}
}

// explainsVia reports whether a explains b through one intermediate
// failure.
func (d *decision) explainsVia(a, b *candidate) bool {
	for _, c := range d.cands {
		if c != a && c != b && c.eligible && d.explains(a, c) && d.explains(c, b) {
			return true
		}
	}
	return false
}

func (d *decision) explainsStar(a, b *candidate) bool { return d.explains(a, b) || d.explainsVia(a, b) }

// sharesLines reports whether c is mostly the same lines as s, as when an
// access log line both says "no healthy upstream" and carries status 503.
func sharesLines(c, s *candidate) bool {
	in := make(map[int]bool, len(s.hits))
	for _, h := range s.hits {
		in[h.idx] = true
	}
	shared := 0
	for _, h := range c.hits {
		if in[h.idx] {
			shared++
		}
	}
	return shared*2 >= len(c.hits)
}

// classify sorts the other candidates into what set the root off, the
// root's own failure seen elsewhere, rivals, and what is ruled out.
func (d *decision) classify() {
	root := d.root
	inChain := map[*candidate]bool{}
	for _, c := range d.chain {
		inChain[c] = true
	}
	for _, c := range d.cands {
		switch {
		case inChain[c]:
		case root != nil && c.eligible && sameFamily(c, root) && d.relatedTo(c, root) && d.sameEpisode(c, root):
			d.kin = append(d.kin, c)
		case root != nil && c.sig.Category == Hint:
			d.triggers = append(d.triggers, c) // candidates; triggerChain keeps those on the way
		case root != nil && c.eligible && sameFamily(c, root) && !d.sameEpisode(c, root):
			// The root's failure before other bursts: its recurrence, not
			// an alternative.
		case root != nil && c.eligible && c.sig.Category == Cause && c.rank >= 0.5*root.rank && !d.explains(root, c):
			d.rivals = append(d.rivals, c)
		case root != nil && sameFamily(c, root):
			// The same failure at other times is not an alternative.
		case !c.eligible && (c.sig.Category == Cause && (c.sig.Weight >= 4 || c.best.score >= 5) || c.sig.Category == State || c.focus):
			d.ruledOut = append(d.ruledOut, c)
		case c.eligible && d.focused && !c.focus && c.sig.Category == Cause && c.sig.Weight >= 6 && root != nil && !d.explains(c, root):
			c.whyKind, c.why = "another component", "it concerns "+d.ev.component(c.lead)+", not what the question asks about"
			d.ruledOut = append(d.ruledOut, c)
		}
	}
	d.triggers = d.triggerChain()
	slices.SortStableFunc(d.rivals, byRank)
	slices.SortStableFunc(d.ruledOut, func(x, y *candidate) int {
		if x.focus != y.focus {
			return boolRank(y.focus) - boolRank(x.focus)
		}
		return cmpFloat(y.strength, x.strength)
	})
}

// maxTriggers bounds the chain of hints that set the root off.
const maxTriggers = 3

// triggerChain follows what set the root off backwards: the latest hint
// before the root that explains it (the scale-down that removed the pods,
// not the scale-up an hour before), then what explains that hint (the
// scheduled job whose load the autoscaler followed), oldest first.
func (d *decision) triggerChain() []*candidate {
	if d.root == nil {
		return nil
	}
	var chain []*candidate
	next, start := d.root, d.failureStart()
	for len(chain) < maxTriggers {
		var best *candidate
		for _, c := range d.triggers {
			if slices.Contains(chain, c) || slices.ContainsFunc(chain, func(t *candidate) bool { return t.sig == c.sig }) ||
				!d.setsOff(c, next, start) {
				continue
			}
			// Behind a recurring symptom, the hint that comes before
			// every burst (the nightly job), not the one that happened
			// to come last this time.
			if best == nil || cmpFloat(d.recurrenceFactor(c), d.recurrenceFactor(best)) > 0 ||
				d.recurrenceFactor(c) == d.recurrenceFactor(best) && c.first.After(best.first) {
				best = c
			}
		}
		if best == nil {
			break
		}
		chain = append(chain, best)
		next, start = best, best.first
	}
	slices.Reverse(chain)
	return chain
}

// failureStart is when the root's failure began to show: its own first
// line, or its family's, or the symptom it explains when that came first
// (a fault logged only once someone turned on debug logging).
func (d *decision) failureStart() time.Time {
	start := d.root.first
	earlier := func(t time.Time) {
		if !t.IsZero() && (start.IsZero() || t.Before(start)) {
			start = t
		}
	}
	for _, k := range d.kin {
		earlier(k.first)
	}
	if s := d.symptom; s != nil && slices.Contains(d.chain, s) {
		earlier(s.first)
	}
	return start
}

// setsOff reports whether hint c set off target, whose failure began at
// start: a known link, c before start and close enough, in a component
// that reaches target's.
func (d *decision) setsOff(c, target *candidate, start time.Time) bool {
	if !c.sig.explains[target.sig.Name] {
		return false
	}
	// A hint that lasts (a job running for half an hour) sets off what
	// follows its end as much as its start; one that comes before every
	// burst of a recurring symptom may be logged a moment after this
	// burst's start (a job's completion written seconds after the
	// scale-down it caused).
	slack := time.Duration(0)
	if d.recurs(c) {
		slack = episodeSlack
	}
	if !c.first.IsZero() && !start.IsZero() && (c.first.After(start.Add(slack)) || start.Sub(c.last) > d.ev.a.ClusterGap) {
		return false
	}
	return overlaps(c.workloads, target.workloads) || c.key == target.key || d.mentionedBy(c, target) || d.mentionedBy(target, c) ||
		!c.local() && (len(c.namespaces) == 0 || len(target.namespaces) == 0 || overlaps(c.namespaces, target.namespaces)) ||
		!c.first.IsZero() && !start.IsZero()
}

// judgeSuspect finds what a control question asks about and decides
// whether it is part of the causal chain.
func (d *decision) judgeSuspect() {
	var best *candidate
	bestScore := 0.0
	for _, c := range d.cands {
		if !slices.Contains(d.q.suspectSigs, c.sig) || c == d.symptom {
			continue
		}
		score := c.strength
		if d.ev.mentionsAny(c, d.q.suspectFocus) {
			score *= 3
		}
		// A failure that happened several times is asked about where it
		// comes closest to the symptom.
		if s := d.symptom; s != nil && !c.first.IsZero() && !s.first.IsZero() {
			score /= 1 + math.Abs(s.first.Sub(c.first).Hours())
		}
		if best == nil || score > bestScore {
			best, bestScore = c, score
		}
	}
	// A suspect named by its own object ("the renewal of certificate
	// booking-tls") is that object's lines, not any failure of its kind.
	if best != nil && len(d.q.suspectFocus) > 0 && !d.ev.mentionsAny(best, d.q.suspectFocus) {
		best = nil
	}
	if d.q.remedy {
		if m, ok := d.misdirectedFix(); ok {
			d.elsewhere = &m
			d.related = false
			return
		}
	}
	if best == nil || d.q.remedy {
		if lines := d.findSuspectLines(); lines != nil {
			best = lines
		}
	}
	if best == nil {
		return
	}
	d.suspect = best
	if d.q.remedy {
		d.judgeRemedy()
		return
	}
	d.related = best == d.root || slices.Contains(d.chain, best) || slices.Contains(d.triggers, best) ||
		d.root != nil && sameFamily(best, d.root) && d.relatedTo(best, d.root) ||
		d.root != nil && best.sig.Category == Cause && best.eligible && d.explains(best, d.root)
	if d.related {
		return
	}
	if best.why == "" {
		best.whyKind, best.why = d.unrelatedReason(best)
	}
	d.ruledOut = slices.DeleteFunc(d.ruledOut, func(c *candidate) bool { return c == best })
	d.ruledOut = append([]*candidate{best}, d.ruledOut...)
}

// misdirectedFix finds a fix that acts on a container other than the one
// that fails: "raise the app container's memory limit" when the proxy
// beside it is the one OOM-killed. The failing containers are those the
// pod-level failures of the causal chain (at any of their times) name.
func (d *decision) misdirectedFix() (misdirected, bool) {
	if d.root == nil {
		return misdirected{}, false
	}
	onChain := map[*matcher]bool{d.root.sig: true}
	workloads := map[string]bool{}
	for _, c := range append(append([]*candidate{d.root}, d.chain...), d.kin...) {
		onChain[c.sig] = true
		maps.Copy(workloads, c.workloads)
	}
	fails := map[string]hit{}
	var order []string
	for _, c := range d.cands {
		if !onChain[c.sig] || !c.eligible || !c.sig.Local || (c.sig.Layer != LayerResource && c.sig.Layer != LayerProcess) ||
			!overlaps(c.workloads, workloads) {
			continue
		}
		for _, h := range c.hits {
			if name := strings.ToLower(h.line.Attrs["container"]); name != "" {
				if _, seen := fails[name]; !seen {
					fails[name] = h
					order = append(order, name)
				}
			}
		}
	}
	if len(fails) == 0 {
		return misdirected{}, false
	}
	for _, tok := range tokenRE.FindAllString(strings.ToLower(d.q.suspect), -1) {
		tok = strings.TrimSuffix(strings.Trim(tok, ".-_"), "'s")
		if _, failing := fails[tok]; failing || !d.ev.containers[tok] {
			continue
		}
		slices.Sort(order)
		return misdirected{asked: tok, fails: order[0], where: fails[order[0]]}, true
	}
	return misdirected{}, false
}

// judgeRemedy decides whether the action a control question names ended
// the symptom: it did not if the symptom goes on after it.
func (d *decision) judgeRemedy() {
	s, c := d.symptom, d.suspect
	d.related = false
	if s == nil || c.first.IsZero() || s.last.IsZero() {
		c.whyKind, c.why = "not shown", "the evidence does not show the "+d.symptomName()+" before and after it"
		return
	}
	// An intermittent symptom comes back days apart: its last occurrence
	// anywhere, not in the burst the analysis looked at, tells.
	last := s.hits[len(s.hits)-1]
	for _, o := range d.ev.candidates {
		if o.sig == s.sig && o.key == s.key && o.last.After(last.line.Time) {
			last = o.hits[len(o.hits)-1]
		}
	}
	if last.line.Time.After(c.first.Add(closeBehind)) {
		c.whyKind = "did not help"
		c.why = "the " + s.sig.Summary + " went on after it, until " + clock(last.line.Time) + " (" + last.line.ID() + ")"
		c.whyHits = []hit{last}
		d.ruledOut = append([]*candidate{c}, slices.DeleteFunc(d.ruledOut, func(r *candidate) bool { return r == c })...)
		return
	}
	d.related = true
}

// unrelatedReason says why a suspect that the analysis did not rule out
// still does not explain the symptom.
func (d *decision) unrelatedReason(c *candidate) (kind, why string) {
	s := d.symptom
	if c.sig.Name == "suspect" {
		why = "no known failure signature matches it; it shows in " + lines(len(c.hits))
		if !c.first.IsZero() {
			why += " from " + clock(c.first) + " to " + clock(c.last)
		}
		if s != nil && !c.first.IsZero() && !s.first.IsZero() && c.first.Before(s.first.Add(-d.ev.a.ClusterGap)) {
			why += ", long before the first " + s.sig.Summary
		}
		if d.root != nil {
			why += ", and nothing on the chain from " + d.root.sig.Summary + " (" + d.root.lead.line.ID() + ") depends on it"
		}
		if len(c.output) > 0 {
			var shown []string
			for _, h := range c.output {
				shown = append(shown, fmt.Sprintf("%q (%s)", oneLine(strings.TrimSpace(h.line.Text)), h.line.ID()))
			}
			why += "; what the check shows: " + strings.Join(shown, ", ")
			c.whyHits = append(c.whyHits, c.output...)
		}
		if doc, ok := d.benignDoc(); ok {
			why += "; " + doc.line.Source + " calls it expected (" + doc.line.ID() + ")"
			c.whyHits = append(c.whyHits, doc)
		}
		return "unrelated", why
	}
	if s != nil && !c.first.IsZero() && !s.first.IsZero() {
		switch {
		case c.first.Before(s.first.Add(-d.ev.a.ClusterGap)) && !c.last.Before(s.first):
			return "unrelated", "it was already logged from " + clock(c.first) + ", " + duration(s.first.Sub(c.first)) +
				" before the first " + s.sig.Summary + ", and went on unchanged while requests succeeded"
		case c.first.Before(s.first.Add(-d.ev.a.ClusterGap)):
			return "unrelated in time", "it was last seen " + duration(s.first.Sub(c.last)) + " before the first " + s.sig.Summary
		case c.first.After(s.last):
			return "unrelated in time", "it only starts after the last " + s.sig.Summary
		}
	}
	if d.root != nil {
		return "unrelated", "the " + d.symptomName() + " follow from " + d.root.sig.Summary + " in " + d.ev.component(d.root.lead) +
			" (" + d.root.lead.line.ID() + "), and nothing links " + d.ev.component(c.lead) + " to that chain"
	}
	return "unrelated", "nothing in the evidence links it to the " + d.symptomName()
}

// benignWords mark documentation that calls something harmless.
var benignWords = []string{"expected", "harmless", "benign", "can be ignored", "safe to ignore", "not a problem", "noise", "cosmetic"}

// benignDoc finds a runbook or documentation line that names the suspect
// by its words and calls it harmless: documentation, unlike chat, states
// what the team knows rather than guesses.
func (d *decision) benignDoc() (hit, bool) {
	terms := d.q.suspectTerms
	if len(terms) == 0 {
		return hit{}, false
	}
	lines := d.ev.pack.Lines
	for i := range lines {
		l := &lines[i]
		if l.Kind != causeway.LineDoc && d.ev.kinds[l.Source] != causeway.KindDoc {
			continue
		}
		lower := strings.ToLower(l.Text)
		n := 0
		for _, t := range terms {
			if strings.Contains(lower, t) {
				n++
			}
		}
		if n < min(2, len(terms)) {
			continue
		}
		for _, w := range benignWords {
			if j := strings.Index(lower, w); j >= 0 {
				start, end := termSpan(l.Text, terms)
				return hit{line: l, idx: i, start: min(start, j), end: max(end, j+len(w)), at: l.Time}, true
			}
		}
	}
	return hit{}, false
}

// findSuspectLines finds the lines a control question's suspect names by
// its rarest words ("HeaderMatcher", "exact_match"), when it names no known
// failure: the line with the most telling words, and its repeats.
func (d *decision) findSuspectLines() *candidate {
	terms := d.q.suspectTerms
	if len(terms) == 0 {
		return nil
	}
	lines := d.ev.pack.Lines
	df := make([]int, len(terms))
	has := make([][]bool, len(terms))
	for t := range terms {
		has[t] = make([]bool, len(lines))
	}
	for i := range lines {
		if isConversation(&lines[i], d.ev.kinds[lines[i].Source]) {
			continue
		}
		lower := strings.ToLower(lines[i].Text)
		for t, term := range terms {
			if strings.Contains(lower, term) {
				has[t][i] = true
				df[t]++
			}
		}
	}
	// A time the question names ("at 07:35") is one more word: the event
	// happened then.
	times := d.q.suspectTimes
	atTime := func(i int) bool { return len(times) > 0 && nearClock(lines[i].Time, times, suspectClockSlack) }
	dfTime := 0
	for i := range lines {
		if atTime(i) {
			dfTime++
		}
	}
	n := float64(len(lines) + 1)
	bestScore, bestIdx := 0.0, -1
	for i := range lines {
		score, words := 0.0, 0
		for t := range terms {
			if has[t][i] {
				score += math.Log(n / float64(df[t]))
				words++
			}
		}
		if words > 0 && atTime(i) {
			score += math.Log(n / float64(dfTime))
			words++
		}
		if words >= min(2, len(terms)) && score > bestScore {
			bestScore, bestIdx = score, i
		}
	}
	if bestIdx < 0 {
		return nil
	}
	key := templateKey(&lines[bestIdx])
	m := &matcher{Signature: &Signature{Name: "suspect", Category: Hint, Layer: LayerProcess, Weight: 1,
		Summary: "lines the question asks about"}, index: len(d.ev.a.table.matchers)}
	var hits []hit
	for i := range lines {
		// Of its repeats, the ones at the time the question names.
		if templateKey(&lines[i]) == key && (!atTime(bestIdx) || atTime(i)) {
			start, end := termSpan(lines[i].Text, terms)
			hits = append(hits, hit{line: &lines[i], idx: i, m: m, start: start, end: end, score: 1, at: lines[i].Time})
		}
	}
	slices.SortStableFunc(hits, func(x, y hit) int {
		if c := x.line.Time.Compare(y.line.Time); c != 0 {
			return c
		}
		return x.idx - y.idx
	})
	c := newCandidate(m, hits, d.ev.ents[hits[0].idx], "suspect")
	c.eligible = true
	c.output = d.ev.commandOutput(bestIdx)
	return c
}

var leadingClockRE = regexp.MustCompile(`^\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d[^\s\]]*\]?\s+`)

// stripClock removes the timestamp a line may start with, and spaces.
func stripClock(text string) string {
	t := strings.TrimSpace(text)
	if loc := leadingClockRE.FindStringIndex(t); loc != nil {
		t = t[loc[1]:]
	}
	return t
}

// suspectClockSlack is how many minutes from a time a question names a
// line may be and still be at that time.
const suspectClockSlack = 5

// maxOutput bounds the output lines quoted after a command.
const maxOutput = 4

// commandOutput returns, for a line that starts a check someone ran (a
// shell command "$ ..." or its comment "# ..."), the output lines that
// follow it in the same source within a minute: what the check showed.
func (ev *evidence) commandOutput(i int) []hit {
	lines := ev.pack.Lines
	start := stripClock(lines[i].Text)
	if !strings.HasPrefix(start, "$ ") && !strings.HasPrefix(start, "# ") {
		return nil
	}
	var out []hit
	for j := i + 1; j < len(lines) && lines[j].Source == lines[i].Source && len(out) < maxOutput; j++ {
		t := stripClock(lines[j].Text)
		if t == "" || strings.HasPrefix(t, "# ") || lines[j].Time.Sub(lines[i].Time) > time.Minute {
			break
		}
		if strings.HasPrefix(t, "$ ") {
			continue // the next command of the same check
		}
		out = append(out, hit{line: &lines[j], idx: j, start: 0, end: len(lines[j].Text), at: lines[j].Time})
	}
	return out
}

// termSpan is the span of text from the first to the last of the terms
// in it, or all of it when none is.
func termSpan(text string, terms []string) (start, end int) {
	lower := asciiLower(text)
	start, end = len(text), 0
	for _, t := range terms {
		if i := strings.Index(lower, t); i >= 0 {
			start, end = min(start, i), max(end, i+len(t))
		}
	}
	if start >= end {
		return 0, len(text)
	}
	return start, end
}

func (d *decision) symptomName() string {
	if d.symptom == nil {
		return "failures"
	}
	return d.symptom.sig.Summary
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func duration(d time.Duration) string {
	return d.Round(time.Second).String()
}
