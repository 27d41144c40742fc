package chunking

import (
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/causeway-rca/causeway"
)

// corpus is an incident's window as the packer holds it after its one pass
// over the store: each line's text once, in an arena, and a compact record
// per line; templates, sources and attribute sets once each.
type corpus struct {
	srcs    []srcInfo
	srcIdx  map[string]int32
	recs    []rec
	text    arena
	attrs   []map[string]string
	attrIdx map[string]int32
	tmpls   []tmplInfo
	tmplIdx map[uint64]int32
	drains  int32 // templates, which a collector's fold key may group more coarsely
	drainIx map[uint64]int32
	series  []seriesInfo
	serIdx  map[uint64]int32
	seed    maphash.Seed
	tok     *Tokenizer
	kinds   []causeway.LineKind // the line kinds seen, as rec.kind indexes them

	lastAttrs map[string]string // the previous line's attributes, usually the next one's too
	lastAttr  int32
}

type srcInfo struct {
	name        string
	id          int64
	kind        causeway.SourceKind
	chat        bool // a chat channel or a ticket: kept in full when the budget allows
	lines       int64
	first, last int64 // unix nanoseconds of its timed lines
	timed       bool
	lastTime    int64 // the last time seen, for lines without one
}

const (
	flagTime      = 1 << iota // the line has a time of its own
	flagInferred              // its time was inferred at import
	flagSevere                // it has a severity signal
	flagChat                  // it is a chat message or ticket comment
	flagMetricKey             // it is a baseline, peak or change point of a metric series
)

// rec is one line without its text.
type rec struct {
	num    int64
	seq    int64
	t      int64 // own time, unix nanoseconds, when flagTime
	et     int64 // time for ordering within the source: its own, else the previous line's
	ref    textRef
	src    int32
	tmpl   int32 // the fold group: its template, or the collector's fold key
	drain  int32 // its template (finer than tmpl when a fold key groups lines)
	attrs  int32
	tokens int32 // as stored: the text with the space before and newline after
	kind   uint8 // index into corpus.kinds
	flags  uint8
	base   float32 // the line's own signals
	line   float32 // base plus mentions, closeness to chat and to the symptom
	moment float32 // the part of line that its time earns
	eff    float32 // line plus its template's share: what the packer ranks by
}

type tmplInfo struct {
	src         int32
	count       int32
	text        string
	first, last int64
	timed       bool
	curMin      int64 // the minute being counted, for bursts
	curN        int32
	peakMin     int64
	peakN       int32
	score       float32 // the template's signals
	qmax        float32 // the strongest question mention among its lines
	rep         int32   // the line that stands for it
	chosen      int32   // how many of its lines the pack shows
}

// seriesInfo follows one metric series that comes as a line per sample,
// for its baseline, peak, trough and largest changes.
type seriesInfo struct {
	first, last, hi, lo int32 // rec indices
	hiV, loV, prevV     float64
	jumps               [2]seriesJump
}

type seriesJump struct {
	rec   int32
	delta float64
}

func newCorpus(tok *Tokenizer, srcs []*causeway.Source) *corpus {
	var lines int64
	for _, s := range srcs {
		lines += s.Lines
	}
	c := &corpus{
		// Sized for every line up front: growing by doubling would copy
		// the records and hold both copies at the peak.
		recs:    make([]rec, 0, min(lines, 1<<28)),
		srcIdx:  make(map[string]int32),
		attrIdx: make(map[string]int32),
		tmplIdx: make(map[uint64]int32),
		drainIx: make(map[uint64]int32),
		serIdx:  make(map[uint64]int32),
		seed:    maphash.MakeSeed(),
		tok:     tok,
	}
	for _, s := range srcs {
		c.source(s.Name, s.ID, s.Kind)
	}
	return c
}

func (c *corpus) source(name string, id int64, kind causeway.SourceKind) int32 {
	if i, ok := c.srcIdx[name]; ok {
		return i
	}
	i := int32(len(c.srcs))
	c.srcIdx[name] = i
	c.srcs = append(c.srcs, srcInfo{name: name, id: id, kind: kind, chat: kind == causeway.KindSlack || kind == causeway.KindJira})
	return i
}

// add takes one line of the scan.
func (c *corpus) add(l *causeway.Line) {
	si := c.source(l.Source, l.SourceID, "")
	s := &c.srcs[si]
	s.lines++
	r := rec{num: l.Num, seq: l.Seq, src: si, kind: c.kindOf(l.Kind), tokens: int32(l.Tokens)}
	if r.tokens == 0 {
		r.tokens = int32(c.tok.LineTokens(l.Text))
	}
	if l.Kind == causeway.LineChat || l.Kind == causeway.LineComment || s.chat {
		r.flags |= flagChat
	}
	if !l.Time.IsZero() {
		r.t = l.Time.UnixNano()
		r.flags |= flagTime
		if l.TimeInferred {
			r.flags |= flagInferred
		}
		if !s.timed || r.t < s.first {
			s.first = r.t
		}
		if !s.timed || r.t > s.last {
			s.last = r.t
		}
		s.timed = true
		s.lastTime = r.t
	}
	r.et = s.lastTime
	r.ref = c.text.add(l.Text)
	r.attrs = c.intern(l.Attrs)
	r.tmpl = c.template(si, l, &r)
	c.recs = append(c.recs, r)
	if l.Kind == causeway.LineMetric {
		c.sample(int32(len(c.recs)-1), l)
	}
}

// perLine are attributes that differ from line to line (an access log
// line's request id, duration, upstream address): kept, they would make
// every line's attribute set its own and the corpus hold them all. The
// line's text still has them.
var perLine = map[string]bool{"request_id": true, "duration_ms": true, "upstream_host": true, "trace_id": true,
	"span_id": true, "x_request_id": true, "bytes_sent": true, "bytes_received": true, "count": true}

// maxAttrSets bounds the distinct attribute sets held; past it, new sets
// keep only the attributes the packer reads.
const maxAttrSets = 50_000

var packerAttrs = []string{"level", "type", "reason", "condition", "status", "state", "exit_code", "restarts", "stat",
	"fold_key", "response_meaning", "response_flags", "response_code"}

func (c *corpus) intern(attrs map[string]string) int32 {
	if len(c.attrs) > 0 && maps.Equal(attrs, c.lastAttrs) {
		return c.lastAttr
	}
	c.lastAttrs = attrs
	kept := attrs
	for k := range attrs {
		if perLine[k] {
			kept = maps.Clone(attrs)
			maps.DeleteFunc(kept, func(k, _ string) bool { return perLine[k] })
			break
		}
	}
	if len(c.attrs) >= maxAttrSets {
		kept = make(map[string]string, len(packerAttrs))
		for _, k := range packerAttrs {
			if v, ok := attrs[k]; ok {
				kept[k] = v
			}
		}
	}
	c.lastAttr = c.internSet(kept)
	return c.lastAttr
}

func (c *corpus) internSet(attrs map[string]string) int32 {
	keys := slices.Sorted(maps.Keys(attrs))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(attrs[k])
		b.WriteByte(0)
	}
	key := b.String()
	i, ok := c.attrIdx[key]
	if !ok {
		i = int32(len(c.attrs))
		c.attrIdx[key] = i
		c.attrs = append(c.attrs, maps.Clone(attrs))
	}
	return i
}

// maxTemplateTexts bounds the template texts kept for the pack's lines, for
// a source whose every line is its own template.
const maxTemplateTexts = 200_000

func (c *corpus) template(si int32, l *causeway.Line, r *rec) int32 {
	text := l.Template
	if text == "" {
		text = Mask(l.Text)
	}
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(strconv.Itoa(int(si)))
	h.WriteByte(0)
	h.WriteString(text)
	key := h.Sum64()
	d, ok := c.drainIx[key]
	if !ok {
		d = c.drains
		c.drains++
		c.drainIx[key] = d
	}
	r.drain = d
	if fk := l.Attrs["fold_key"]; fk != "" {
		// The collector knows what makes its lines alike (an access log's
		// route, cluster, code and flags): that is the group to fold by.
		h.Reset()
		h.WriteString(strconv.Itoa(int(si)))
		h.WriteString("\x00\x01fold ")
		h.WriteString(fk)
		key = h.Sum64()
	}
	ti, ok := c.tmplIdx[key]
	if !ok {
		ti = int32(len(c.tmpls))
		c.tmplIdx[key] = ti
		t := tmplInfo{src: si, rep: int32(len(c.recs)), first: r.t, last: r.t, timed: r.flags&flagTime != 0, curMin: math.MinInt64}
		if len(c.tmpls) < maxTemplateTexts {
			t.text = strings.Clone(text)
		}
		c.tmpls = append(c.tmpls, t)
	}
	t := &c.tmpls[ti]
	t.count++
	if r.flags&flagTime != 0 {
		if !t.timed || r.t < t.first {
			t.first = r.t
		}
		if !t.timed || r.t > t.last {
			t.last = r.t
		}
		t.timed = true
		// Bursts are counted over minutes in order; a line back in time
		// (an unsorted events dump) counts for nothing here.
		if m := r.t / int64(time.Minute); m > t.curMin {
			t.curMin, t.curN = m, 1
		} else if m == t.curMin {
			t.curN++
		}
		if t.curN > t.peakN {
			t.peakN, t.peakMin = t.curN, t.curMin
		}
	}
	return ti
}

// sample follows a metric series that comes one line per sample, as
// "<series>: <value>[ at <time>]".
func (c *corpus) sample(ri int32, l *causeway.Line) {
	if stat, ok := l.Attrs["stat"]; ok && stat != "value" {
		return // already a summary or a change point
	}
	i := strings.LastIndex(l.Text, ": ")
	if i <= 0 {
		return
	}
	num := l.Text[i+2:]
	if j := strings.IndexByte(num, ' '); j >= 0 {
		num = num[:j]
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(strconv.Itoa(int(c.recs[ri].src)))
	h.WriteByte(0)
	h.WriteString(l.Text[:i])
	key := h.Sum64()
	si, ok := c.serIdx[key]
	if !ok {
		si = int32(len(c.series))
		c.serIdx[key] = si
		c.series = append(c.series, seriesInfo{first: ri, last: ri, hi: ri, lo: ri, hiV: v, loV: v, prevV: v,
			jumps: [2]seriesJump{{rec: -1}, {rec: -1}}})
		return
	}
	s := &c.series[si]
	s.last = ri
	if v > s.hiV {
		s.hi, s.hiV = ri, v
	}
	if v < s.loV {
		s.lo, s.loV = ri, v
	}
	d := math.Abs(v - s.prevV)
	s.prevV = v
	switch {
	case d > s.jumps[0].delta:
		s.jumps[1], s.jumps[0] = s.jumps[0], seriesJump{rec: ri, delta: d}
	case d > s.jumps[1].delta:
		s.jumps[1] = seriesJump{rec: ri, delta: d}
	}
}

// markSeries flags each series' baseline, peak, trough, last sample and
// largest changes, the samples a summary cites.
func (c *corpus) markSeries() {
	for _, s := range c.series {
		for _, ri := range []int32{s.first, s.last, s.hi, s.lo, s.jumps[0].rec, s.jumps[1].rec} {
			if ri >= 0 {
				c.recs[ri].flags |= flagMetricKey
			}
		}
	}
}

// kindOf returns the index of a line kind in c.kinds, adding it on first
// sight; past 255 kinds (never, in practice) they share the last.
func (c *corpus) kindOf(k causeway.LineKind) uint8 {
	for i, known := range c.kinds {
		if known == k {
			return uint8(i)
		}
	}
	if len(c.kinds) == 256 {
		return 255
	}
	c.kinds = append(c.kinds, k)
	return uint8(len(c.kinds) - 1)
}

// capture reports whether a line comes from a small source of command
// output or notes that someone attached (not chat, metrics or docs).
func (c *corpus) capture(r *rec) bool {
	s := &c.srcs[r.src]
	return !s.chat && s.kind != causeway.KindPrometheus && s.kind != causeway.KindDoc && s.kind != causeway.KindEvents &&
		s.kind != causeway.KindObjects && s.lines <= smallSource && r.flags&flagChat == 0
}

// kind returns a line's kind.
func (c *corpus) kind(r *rec) causeway.LineKind { return c.kinds[r.kind] }

// textOf returns a line's text, valid as long as the corpus.
func (c *corpus) textOf(r *rec) string { return c.text.get(r.ref) }

// line rebuilds a packed line.
func (c *corpus) line(ri int32, incidentID int64) causeway.Line {
	r := &c.recs[ri]
	s := &c.srcs[r.src]
	l := causeway.Line{
		IncidentID: incidentID, SourceID: s.id, Source: s.name, Num: r.num, Seq: r.seq, Kind: c.kinds[r.kind],
		Text: strings.Clone(c.textOf(r)), Template: c.tmpls[r.tmpl].text, Tokens: int(r.tokens),
		TimeInferred: r.flags&flagInferred != 0,
	}
	if r.flags&flagTime != 0 {
		l.Time = time.Unix(0, r.t).UTC()
	}
	if a := c.attrs[r.attrs]; len(a) > 0 {
		l.Attrs = maps.Clone(a)
	}
	return l
}

// arena holds the texts of an incident's lines back to back in large
// chunks: one allocation per few megabytes instead of one per line.
type arena struct {
	chunks [][]byte
}

type textRef struct {
	chunk, off, n uint32
}

const arenaChunk = 4 << 20

func (a *arena) add(s string) textRef {
	if len(s) == 0 {
		return textRef{}
	}
	n := len(a.chunks)
	if n == 0 || len(a.chunks[n-1])+len(s) > cap(a.chunks[n-1]) {
		a.chunks = append(a.chunks, make([]byte, 0, max(arenaChunk, len(s))))
		n++
	}
	ch := a.chunks[n-1]
	off := len(ch)
	a.chunks[n-1] = append(ch, s...)
	return textRef{chunk: uint32(n - 1), off: uint32(off), n: uint32(len(s))}
}

func (a *arena) get(r textRef) string {
	if r.n == 0 {
		return ""
	}
	// The chunk never grows past its capacity, so its bytes never move and
	// are never written again: a string over them is safe.
	return unsafe.String(&a.chunks[r.chunk][r.off], int(r.n))
}
