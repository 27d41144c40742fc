package builtin

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// matcher is a Signature ready to scan lines.
type matcher struct {
	*Signature
	index    int // position in the table: the tie-breaker that keeps order stable
	phrases  []string
	patterns []compiledPattern
	not      []*regexp.Regexp
	resolved []string
	details  []compiledDetail
	aliases  []string
	explains map[string]bool
	attrs    []compiledAttr
	owners   []string
}

type compiledAttr struct {
	AttrMatch
	any []string
}

type compiledPattern struct {
	re         *regexp.Regexp
	anchored   *regexp.Regexp // re anchored at its start, for Starts patterns
	need       []int          // keyword ids of Need
	starts     bool
	minSeconds float64
	key        int // index of the "key" group, or -1
	keyOnly    bool
	min        float64
	prev       *regexp.Regexp
}

type compiledDetail struct {
	Detail
	re, after, skip, context *regexp.Regexp
	keyLine                  string
	need                     []string
}

// table is a compiled signature table: its matchers and the keyword
// automaton that finds, in one pass over a line, every phrase and every
// pattern's needed substring of every signature.
type table struct {
	matchers []*matcher
	byName   map[string]*matcher
	ac       *automaton
	// kw maps a keyword id to the phrases that are that keyword.
	phraseOf [][]phraseRef
	// attrNames are the attributes any signature matches on, and
	// withAttrs and withPrev the matchers that need a line's attributes or
	// the line before.
	attrNames []string
	withAttrs []*matcher
	withPrev  []*matcher
}

type phraseRef struct {
	m      *matcher
	phrase int
}

func compile(sigs []Signature) (*table, error) {
	t := &table{byName: make(map[string]*matcher, len(sigs))}
	kwID := map[string]int{}
	var kws []string
	keyword := func(s string) int {
		s = strings.ToLower(s)
		if id, ok := kwID[s]; ok {
			return id
		}
		kwID[s] = len(kws)
		kws = append(kws, s)
		t.phraseOf = append(t.phraseOf, nil)
		return len(kws) - 1
	}
	for i := range sigs {
		s := &sigs[i]
		if s.Name == "" {
			return nil, fmt.Errorf("signature %d has no name", i)
		}
		if _, dup := t.byName[s.Name]; dup {
			return nil, fmt.Errorf("signature %s is in the table twice", s.Name)
		}
		m := &matcher{Signature: s, index: i, explains: map[string]bool{}}
		for _, p := range s.Phrases {
			if !isASCII(p) || p == "" {
				return nil, fmt.Errorf("signature %s: phrase %q must be non-empty ASCII", s.Name, p)
			}
			id := keyword(p)
			t.phraseOf[id] = append(t.phraseOf[id], phraseRef{m: m, phrase: len(m.phrases)})
			m.phrases = append(m.phrases, strings.ToLower(p))
		}
		for _, p := range s.Patterns {
			re, err := compileLower(p.Expr)
			if err != nil {
				return nil, fmt.Errorf("signature %s: pattern: %w", s.Name, err)
			}
			cp := compiledPattern{re: re, minSeconds: p.MinSeconds, key: re.SubexpIndex("key"), keyOnly: p.KeyOnly, starts: p.Starts, min: p.Min}
			if p.Min > 0 && re.SubexpIndex("n") < 0 {
				return nil, fmt.Errorf("signature %s: pattern %q has Min but no n group", s.Name, p.Expr)
			}
			if p.Prev != "" {
				if cp.prev, err = compileLower(p.Prev); err != nil {
					return nil, fmt.Errorf("signature %s: pattern's line before: %w", s.Name, err)
				}
				if !slices.Contains(t.withPrev, m) {
					t.withPrev = append(t.withPrev, m)
				}
			}
			if p.Starts {
				cp.anchored = regexp.MustCompile(`^(?:` + p.Expr + `)`)
			}
			if p.KeyOnly && cp.key < 0 {
				return nil, fmt.Errorf("signature %s: key-only pattern %q has no key group", s.Name, p.Expr)
			}
			for _, n := range p.Need {
				if !isASCII(n) || n == "" {
					return nil, fmt.Errorf("signature %s: needed substring %q must be non-empty ASCII", s.Name, n)
				}
				cp.need = append(cp.need, keyword(n))
			}
			if p.MinSeconds > 0 && re.SubexpIndex("ms") < 0 && re.SubexpIndex("s") < 0 && re.SubexpIndex("dur") < 0 {
				return nil, fmt.Errorf("signature %s: pattern %q has MinSeconds but no ms, s or dur group", s.Name, p.Expr)
			}
			m.patterns = append(m.patterns, cp)
		}
		for _, n := range s.Not {
			re, err := compileLower(n)
			if err != nil {
				return nil, fmt.Errorf("signature %s: exclusion: %w", s.Name, err)
			}
			m.not = append(m.not, re)
		}
		for _, a := range s.Attrs {
			if a.Attr == "" || len(a.Any)+len(a.Contains) == 0 && a.Min == 0 {
				return nil, fmt.Errorf("signature %s: attribute match %+v names no attribute or no value", s.Name, a)
			}
			ca := compiledAttr{AttrMatch: a}
			for _, v := range a.Any {
				ca.any = append(ca.any, strings.ToLower(v))
			}
			m.attrs = append(m.attrs, ca)
			if !slices.Contains(t.attrNames, a.Attr) {
				t.attrNames = append(t.attrNames, a.Attr)
			}
		}
		if len(m.attrs) > 0 {
			t.withAttrs = append(t.withAttrs, m)
		}
		for _, o := range s.Owners {
			m.owners = append(m.owners, strings.ToLower(o))
		}
		for _, r := range s.Resolved {
			m.resolved = append(m.resolved, strings.ToLower(r))
		}
		for _, a := range s.Aliases {
			m.aliases = append(m.aliases, strings.ToLower(a))
		}
		for _, e := range s.Explains {
			m.explains[e] = true
		}
		for _, d := range s.Details {
			cd := compiledDetail{Detail: d, keyLine: d.KeyLine}
			for _, n := range d.Need {
				cd.need = append(cd.need, strings.ToLower(n))
			}
			var err error
			if d.Expr != "" {
				if cd.re, err = compileLower(d.Expr); err != nil {
					return nil, fmt.Errorf("signature %s: detail: %w", s.Name, err)
				}
			}
			if d.After != "" {
				if cd.after, err = compileLower(d.After); err != nil {
					return nil, fmt.Errorf("signature %s: detail header: %w", s.Name, err)
				}
			}
			if d.Skip != "" {
				if cd.skip, err = compileLower(d.Skip); err != nil {
					return nil, fmt.Errorf("signature %s: detail skip: %w", s.Name, err)
				}
			}
			if d.Context != "" {
				if cd.context, err = compileLower(d.Context); err != nil {
					return nil, fmt.Errorf("signature %s: detail context: %w", s.Name, err)
				}
			}
			if d.Expr == "" && d.KeyLine == "" {
				return nil, fmt.Errorf("signature %s: detail %q has neither Expr nor KeyLine", s.Name, d.Label)
			}
			if d.KeyLine != "" {
				if _, err := regexp.Compile(d.KeyLine); err != nil {
					return nil, fmt.Errorf("signature %s: detail key line %q: %w", s.Name, d.KeyLine, err)
				}
			}
			m.details = append(m.details, cd)
		}
		t.matchers = append(t.matchers, m)
		t.byName[s.Name] = m
	}
	for _, m := range t.matchers {
		for e := range m.explains {
			if t.byName[e] == nil {
				return nil, fmt.Errorf("signature %s explains %q, which is not in the table", m.Name, e)
			}
		}
	}
	t.ac = newAutomaton(kws)
	return t, nil
}

// compileLower compiles a regular expression that runs on lowered text,
// rejecting one with an upper-case letter that could never match there.
// Escapes such as \S and \W keep their meaning.
func compileLower(expr string) (*regexp.Regexp, error) {
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; {
		case strings.HasPrefix(expr[i:], "(?P<"):
			i += 3 // a named group
		case c == '\\':
			i++ // the escaped character, e.g. \S
			if i < len(expr) && (expr[i] == 'p' || expr[i] == 'P') {
				for i < len(expr) && expr[i] != '}' {
					i++
				}
			}
		case 'A' <= c && c <= 'Z':
			return nil, fmt.Errorf("%q has upper case %q: lines are matched lowered, so write it in lower case", expr, c)
		}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", expr, err)
	}
	return re, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// match is one signature found in a line.
type match struct {
	m          *matcher
	start, end int    // the span that shows it, in the line's text
	key        string // what the failure is about, when the pattern names it
	seconds    float64

	keyStart, keyEnd int
}

// scanner finds signatures in lines; it holds the buffers one scan reuses.
type scanner struct {
	t     *table
	found []bool // keyword ids seen in the current line
	seen  []int  // ids set in found, to clear them
	first []int  // first offset of each keyword seen
}

func newScanner(t *table) *scanner {
	n := len(t.phraseOf)
	return &scanner{t: t, found: make([]bool, n), first: make([]int, n)}
}

// scan returns every signature the text shows, in table order.
func (s *scanner) scan(text string, out []match) []match { return s.scanLine(text, nil, "", out) }

// maxPrevLine bounds the lines that patterns reading the line before are
// tried on: command output such as a bare count.
const maxPrevLine = 64

// scanLine returns every signature a line shows by its words, by the line
// before it in its source (prev), or by its attributes, in table order.
func (s *scanner) scanLine(text string, attrs map[string]string, prev string, out []match) []match {
	for _, id := range s.seen {
		s.found[id] = false
	}
	s.seen = s.seen[:0]
	s.t.ac.find(text, func(id, end int) {
		if !s.found[id] {
			s.found[id] = true
			s.first[id] = end - len(s.t.ac.words[id])
			s.seen = append(s.seen, id)
		}
	})
	withPrev := prev != "" && len(text) <= maxPrevLine && len(s.t.withPrev) > 0
	withAttrs := len(attrs) > 0 && s.hasAttr(attrs)
	if len(s.seen) == 0 && !withPrev && !withAttrs {
		return out
	}
	// Phrases: the leftmost one of each signature wins, so that a quote
	// around it starts where the line starts telling.
	start := len(out)
	for _, id := range s.seen {
		for _, ref := range s.t.phraseOf[id] {
			at := s.first[id]
			end := at + len(ref.m.phrases[ref.phrase])
			if i := indexOfMatcher(out[start:], ref.m); i >= 0 {
				if cur := out[start+i]; at < cur.start || at == cur.start && end > cur.end {
					out[start+i].start, out[start+i].end = at, end
				}
				continue
			}
			out = append(out, match{m: ref.m, start: at, end: end})
		}
	}
	// Patterns of the signatures whose needed substrings are there, on the
	// lowered line (whose offsets are the line's).
	lower := ""
	lowered := func() string {
		if lower == "" {
			lower = asciiLower(text)
		}
		return lower
	}
	prevLower := ""
	for _, m := range s.t.matchers {
		if len(m.patterns) == 0 || indexOfMatcher(out[start:], m) >= 0 {
			continue
		}
		for _, p := range m.patterns {
			if p.keyOnly {
				continue
			}
			if p.prev != nil {
				if !withPrev || !s.anyFound(p.need) {
					continue
				}
			} else if len(p.need) == 0 && len(s.seen) == 0 || !s.anyFound(p.need) {
				continue
			}
			var mt match
			var ok bool
			if p.starts {
				mt, ok = s.findAt(&p, lowered())
			} else {
				mt, ok = p.find(lowered(), 0)
			}
			if ok && p.prev != nil {
				if prevLower == "" {
					prevLower = asciiLower(prev)
				}
				ok = p.prev.MatchString(prevLower)
			}
			if ok {
				mt.m = m
				if mt.key != "" {
					mt.key = text[mt.keyStart:mt.keyEnd]
				}
				out = append(out, mt)
				break
			}
		}
	}
	// Attributes, for the signatures nothing else found.
	if withAttrs {
		for _, m := range s.t.withAttrs {
			if indexOfMatcher(out[start:], m) >= 0 {
				continue
			}
			if mt, ok := matchAttrs(m, text, attrs); ok {
				out = append(out, mt)
			}
		}
	}
	// Exclusions, then table order.
	kept := out[:start]
	for _, mt := range out[start:] {
		if len(mt.m.not) > 0 {
			excluded := false
			for _, re := range mt.m.not {
				if re.MatchString(lowered()) {
					excluded = true
					break
				}
			}
			if excluded {
				continue
			}
		}
		if mt.key == "" {
			// A line found by a phrase still names its host or object when
			// a pattern of the signature does; the quote then covers both.
			if ok, kStart, kEnd, ps, pe := keyOf(mt.m, lowered()); ok {
				mt.key = text[kStart:kEnd]
				if s, e := min(mt.start, ps), max(mt.end, pe); e-s <= 160 {
					mt.start, mt.end = s, e
				}
			}
		}
		if mt.key == "" {
			for _, k := range mt.m.KeyAttrs {
				if v := attrs[k]; v != "" {
					mt.key = v
					break
				}
			}
		}
		kept = append(kept, mt)
	}
	sortMatches(kept[start:])
	// A catch-all counts only where nothing specific does.
	if n := len(kept) - start; n > 1 {
		specific := kept[:start]
		for _, mt := range kept[start:] {
			if !mt.m.Generic {
				specific = append(specific, mt)
			}
		}
		if len(specific) > start {
			kept = specific
		}
	}
	return kept
}

func (s *scanner) hasAttr(attrs map[string]string) bool {
	for _, k := range s.t.attrNames {
		if _, ok := attrs[k]; ok {
			return true
		}
	}
	return false
}

// matchAttrs matches a line by the signature's attribute matches: the
// span is where the line shows the matching value, or the whole line.
func matchAttrs(m *matcher, text string, attrs map[string]string) (match, bool) {
	for _, a := range m.attrs {
		v, ok := attrs[a.Attr]
		if !ok {
			continue
		}
		shown, ok := a.matches(v)
		if !ok {
			continue
		}
		mt := match{m: m, start: 0, end: len(text)}
		if i := indexToken(text, shown); i >= 0 {
			mt.start, mt.end = i, i+len(shown)
		}
		return mt, true
	}
	return match{}, false
}

// matches reports whether v satisfies the attribute match, and the part of
// v that does, to find in the line's text.
func (a *compiledAttr) matches(v string) (string, bool) {
	if a.Min > 0 {
		f, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(v), ",", ""), 64)
		if err != nil || f < a.Min {
			return "", false
		}
		if len(a.any)+len(a.Contains) == 0 {
			return v, true
		}
	}
	lower := asciiLower(v)
	for _, want := range a.any {
		if lower == want {
			return v, true
		}
		for i := 0; i < len(lower); {
			j := strings.IndexByte(lower[i:], ',')
			item := lower[i:]
			if j >= 0 {
				item = lower[i : i+j]
			}
			if strings.TrimSpace(item) == want {
				return strings.TrimSpace(v[i : i+len(item)]), true
			}
			if j < 0 {
				break
			}
			i += j + 1
		}
	}
	for _, sub := range a.Contains {
		if strings.Contains(lower, sub) {
			return v, true
		}
	}
	return "", false
}

// indexToken finds s in text as a token: not inside a longer word.
func indexToken(text, s string) int {
	if s == "" {
		return -1
	}
	for i := 0; ; {
		j := strings.Index(text[i:], s)
		if j < 0 {
			return -1
		}
		j += i
		end := j + len(s)
		if (j == 0 || !isAlnum(text[j-1])) && (end == len(text) || !isAlnum(text[end])) {
			return j
		}
		i = j + 1
	}
}

// findAt tries a Starts pattern, anchored, where its needed substrings
// occur in the lowered line: far cheaper than searching every offset.
func (s *scanner) findAt(p *compiledPattern, lower string) (match, bool) {
	tries := 0
	for _, id := range p.need {
		if !s.found[id] {
			continue
		}
		word := s.t.ac.words[id]
		for at := s.first[id]; at >= 0 && tries < 8; tries++ {
			if mt, ok := p.findAnchored(lower, at); ok {
				return mt, true
			}
			next := strings.Index(lower[at+1:], word)
			if next < 0 {
				break
			}
			at += 1 + next
		}
	}
	return match{}, false
}

func (s *scanner) anyFound(ids []int) bool {
	for _, id := range ids {
		if s.found[id] {
			return true
		}
	}
	return len(ids) == 0
}

func indexOfMatcher(ms []match, m *matcher) int {
	for i := range ms {
		if ms[i].m == m {
			return i
		}
	}
	return -1
}

func sortMatches(ms []match) {
	// Insertion sort: a line matches a handful of signatures at most.
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].m.index < ms[j-1].m.index; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// find runs the pattern on the lowered text from offset from, honouring
// MinSeconds: the first match that reports a long enough duration.
func (p *compiledPattern) find(lower string, from int) (match, bool) {
	text := lower[from:]
	if p.min > 0 {
		for _, loc := range p.re.FindAllStringSubmatchIndex(text, 8) {
			if numberOf(p.re, text, loc) >= p.min {
				return p.result(loc, from), true
			}
		}
		return match{}, false
	}
	if p.minSeconds <= 0 {
		loc := p.re.FindStringSubmatchIndex(text)
		if loc == nil {
			return match{}, false
		}
		return p.result(loc, from), true
	}
	for _, loc := range p.re.FindAllStringSubmatchIndex(text, 8) {
		secs := durationOf(p.re, text, loc)
		if secs >= p.minSeconds {
			mt := p.result(loc, from)
			mt.seconds = secs
			return mt, true
		}
	}
	return match{}, false
}

// findAnchored tries the pattern at offset at of the lowered line.
func (p *compiledPattern) findAnchored(lower string, at int) (match, bool) {
	loc := p.anchored.FindStringSubmatchIndex(lower[at:])
	if loc == nil {
		return match{}, false
	}
	mt := p.result(loc, at)
	if p.minSeconds > 0 {
		mt.seconds = durationOf(p.anchored, lower[at:], loc)
		if mt.seconds < p.minSeconds {
			return match{}, false
		}
	}
	return mt, true
}

// result turns a match's offsets, relative to from, into a match of the
// line; the key is read from the line itself by the caller.
func (p *compiledPattern) result(loc []int, from int) match {
	mt := match{start: from + loc[0], end: from + loc[1]}
	if p.key >= 0 && loc[2*p.key] >= 0 {
		mt.keyStart, mt.keyEnd = from+loc[2*p.key], from+loc[2*p.key+1]
		mt.key = "?"
	}
	return mt
}

// keyOf finds, in the lowered line, the key of a phrase match from the
// signature's patterns: the key's offsets and the span of the pattern that
// names it.
func keyOf(m *matcher, lower string) (ok bool, keyStart, keyEnd, start, end int) {
	for _, p := range m.patterns {
		if p.key < 0 {
			continue
		}
		if loc := p.re.FindStringSubmatchIndex(lower); loc != nil && loc[2*p.key] >= 0 {
			return true, loc[2*p.key], loc[2*p.key+1], loc[0], loc[1]
		}
	}
	return false, 0, 0, 0, 0
}

// numberOf reads the number in a match's group "n", or -1.
func numberOf(re *regexp.Regexp, text string, loc []int) float64 {
	i := re.SubexpIndex("n")
	if i < 0 || loc[2*i] < 0 {
		return -1
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(text[loc[2*i]:loc[2*i+1]], ",", ""), 64)
	if err != nil {
		return -1
	}
	return f
}

// durationOf reads the duration a pattern match reports, in seconds.
func durationOf(re *regexp.Regexp, text string, loc []int) float64 {
	group := func(name string) string {
		i := re.SubexpIndex(name)
		if i < 0 || loc[2*i] < 0 {
			return ""
		}
		return text[loc[2*i]:loc[2*i+1]]
	}
	num := func(s string) float64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return -1
		}
		return f
	}
	if v := group("ms"); v != "" {
		return num(v) / 1000
	}
	if v := group("s"); v != "" {
		return num(v)
	}
	if v := group("dur"); v != "" {
		if strings.HasPrefix(strings.ToLower(group("unit")), "m") {
			return num(v) / 1000
		}
		return num(v)
	}
	return -1
}

// automaton is an Aho-Corasick automaton over ASCII-lowered bytes: one pass
// over a line finds every keyword in it.
type automaton struct {
	words   []string
	class   [256]uint8 // byte -> symbol class; 0 for bytes no keyword has
	classes int
	next    []int32 // state*classes + class -> state
	out     [][]int // state -> ids of the keywords that end there
}

func newAutomaton(words []string) *automaton {
	a := &automaton{words: words}
	n := 1
	for _, w := range words {
		for i := 0; i < len(w); i++ {
			c := w[i]
			if a.class[c] == 0 {
				a.class[c] = uint8(n)
				if 'a' <= c && c <= 'z' {
					a.class[c-'a'+'A'] = uint8(n)
				}
				n++
			}
		}
	}
	a.classes = n
	// The trie, as a dense transition table; -1 is "no edge yet".
	a.next = make([]int32, n)
	for i := range a.next {
		a.next[i] = -1
	}
	a.out = [][]int{nil}
	for id, w := range words {
		s := int32(0)
		for i := 0; i < len(w); i++ {
			c := int(a.class[w[i]])
			if a.next[int(s)*n+c] < 0 {
				a.next[int(s)*n+c] = int32(len(a.out))
				a.out = append(a.out, nil)
				a.next = append(a.next, make([]int32, n)...)
				for j := len(a.next) - n; j < len(a.next); j++ {
					a.next[j] = -1
				}
			}
			s = a.next[int(s)*n+c]
		}
		a.out[s] = append(a.out[s], id)
	}
	// Failure links by breadth-first search, folded into the transitions.
	fail := make([]int32, len(a.out))
	queue := make([]int32, 0, len(a.out))
	for c := range n {
		if t := a.next[c]; t < 0 {
			a.next[c] = 0
		} else {
			fail[t] = 0
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		a.out[s] = append(a.out[s], a.out[fail[s]]...)
		for c := range n {
			t := a.next[int(s)*n+c]
			if t < 0 {
				a.next[int(s)*n+c] = a.next[int(fail[s])*n+c]
				continue
			}
			fail[t] = a.next[int(fail[s])*n+c]
			queue = append(queue, t)
		}
	}
	return a
}

// find calls fn with each keyword id found in text and the offset just
// past it.
func (a *automaton) find(text string, fn func(id, end int)) {
	s := int32(0)
	n := a.classes
	for i := 0; i < len(text); i++ {
		s = a.next[int(s)*n+int(a.class[text[i]])]
		for _, id := range a.out[s] {
			fn(id, i+1)
		}
	}
}
