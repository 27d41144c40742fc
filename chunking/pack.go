package chunking

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/causeway-rca/causeway"
)

// DefaultBudget is the token budget of a pack when none is given: the
// context of today's long-context models.
const DefaultBudget = 1_000_000

// DefaultReserve is what a budget keeps free for the instructions, the
// question and the answer.
const DefaultReserve = 16_000

// LineSource streams an incident's lines within its window, in (source
// name, seq) order, and lists its sources.
type LineSource interface {
	ScanWindow(ctx context.Context, inc *causeway.Incident, fn func(causeway.Line) error) error
	Sources(ctx context.Context, incidentID int64) ([]*causeway.Source, error)
}

// Packer selects the evidence lines that fit a token budget.
type Packer struct {
	Tokenizer *Tokenizer
	// Reserve is kept free within the budget for instructions, question and
	// answer; DefaultReserve when zero.
	Reserve int
	// Neighbours is how many lines before and after a high-signal line, in
	// its own source, come with it; 2 when zero (1 under a 64k budget).
	Neighbours int
	// Workers score lines in parallel; GOMAXPROCS when zero.
	Workers int
	Logger  *slog.Logger
	// Progress, when set, is told how many lines were read so far.
	Progress func(read int64)
}

// NewPacker returns a packer that counts with tok.
func NewPacker(tok *Tokenizer) *Packer {
	return &Packer{Tokenizer: tok, Reserve: DefaultReserve, Logger: slog.New(slog.DiscardHandler)}
}

// EvidenceBudget is the share of budget the evidence may take.
func (p *Packer) EvidenceBudget(budget int) int {
	reserve := p.Reserve
	if reserve == 0 {
		reserve = DefaultReserve
	}
	// A small budget keeps a quarter for the rest rather than nothing.
	reserve = min(reserve, budget/4)
	return budget - reserve
}

// Request says what a pack is for.
type Request struct {
	// Question is what will be asked; its terms raise the lines that name
	// them. The incident's own question when empty.
	Question string
	// Budget is the prompt's budget in tokens; DefaultBudget when zero.
	Budget int
}

// Signal is a packed line that stands out, with the score that says why.
type Signal struct {
	Num    int64     `json:"num"`
	Source string    `json:"source"`
	Time   time.Time `json:"time,omitzero"`
	Score
}

// ID is the signal's line id, e.g. "L4821".
func (s *Signal) ID() string { return causeway.LineID(s.Num) }

// The weights of the packer's own decisions.
const (
	seedScore     = 4.0  // a line scoring this much is kept with its neighbours
	chatShare     = 0.35 // of the evidence budget that chat and tickets may take first
	metricShare   = 0.15 // likewise for metric summaries and key samples
	smallShare    = 0.20 // likewise for small sources, whole
	smallSource   = 120  // lines: a snapshot or capture (df, describe, a debug session) someone chose to include
	repShare      = 0.20 // likewise for one line of every template
	maxSignals    = 100  // signals returned with a pack
	digestEntries = 10   // signals named in the digest
	chatWindow    = 5 * time.Minute
	captureWeight = 0.5             // of a captured line's terms, against a chat message's
	namedBefore   = 5 * time.Minute // how long before a named moment a line counts as near it
	namedAfter    = time.Minute     // and how long after
	symptomBefore = 30 * time.Minute
	symptomAfter  = 2 * time.Minute
)

// Pack reads the incident's lines and selects those that fit the budget,
// for the incident's own question; see PackFor.
func (p *Packer) Pack(ctx context.Context, inc *causeway.Incident, src LineSource, budget int) (*causeway.Pack, error) {
	pack, _, err := p.PackFor(ctx, inc, src, Request{Question: inc.Question, Budget: budget})
	return pack, err
}

// PackFor reads the incident's lines in one pass and selects what the model
// sees for req, returning the pack and its strongest signals.
//
// When everything fits, everything goes in. Otherwise, in this order and as
// long as the budget allows, each tier up to its share: chat and ticket
// text in full; metric summaries and each per-sample series' baseline,
// peak, trough and largest changes; small sources whole (a df or describe
// snapshot, a debug session); then every high-signal line (see Score) with
// its neighbours, and one line of every template and the strongest of
// every source among them, ranked by score per token; then the best of the
// rest. A template's lines left out are folded into its representative as
// "×N between T1 and T2" (the representative keeps its own id, so it is
// citable; a collector's fold_key attribute, when set, is the template).
// Within a source, lines are in time order (a line without a time stays
// after the line before it). A digest of the strongest signals heads the
// evidence. The same data, question and budget give the same pack, and
// Tokens, the exact count of Evidence(), never exceeds
// EvidenceBudget(Budget).
func (p *Packer) PackFor(ctx context.Context, inc *causeway.Incident, src LineSource, req Request) (*causeway.Pack, []Signal, error) {
	budget := req.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	question := req.Question
	if question == "" {
		question = inc.Question
	}
	srcs, err := src.Sources(ctx, inc.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("pack incident %d: %w", inc.ID, err)
	}
	c := newCorpus(p.Tokenizer, srcs)
	var read int64
	err = src.ScanWindow(ctx, inc, func(l causeway.Line) error {
		c.add(&l)
		read++
		if p.Progress != nil && read%50_000 == 0 {
			p.Progress(read)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("pack incident %d: %w", inc.ID, err)
	}
	if p.Progress != nil {
		p.Progress(read)
	}
	s := p.score(c, question)
	pk := &packing{Packer: p, c: c, s: s, inc: inc, budget: budget, limit: p.EvidenceBudget(budget)}
	pack, signals := pk.run()
	p.logger().Info("packed", "incident", inc.ID, "lines", len(pack.Lines), "of", pack.Total, "tokens", pack.Tokens, "budget", budget)
	return pack, signals, nil
}

func (p *Packer) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

func (p *Packer) workers() int {
	if p.Workers > 0 {
		return p.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// parallel calls fn(worker, lo, hi) over [0, n) in contiguous ranges.
func (p *Packer) parallel(n int, fn func(w, lo, hi int)) {
	workers := min(p.workers(), max(1, n/4096))
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / max(workers, 1)
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, n)
		if lo >= hi {
			break
		}
		wg.Go(func() { fn(w, lo, hi) })
	}
	wg.Wait()
}

// scoring is what the packer learns about an incident beyond single lines.
type scoring struct {
	terms   termSet
	tm      *matcher
	idf     []float64
	msgs    []int32 // chat lines with a time, in time order
	onset   int64   // when the symptom starts (unix ns); 0 when unknown
	symptom int32   // the template that names the symptom, -1 when none
	ranks   []int32 // each line's rank within its template
}

// score computes every line's score: its own signals, its mentions, its
// closeness to chat messages and to the symptom, and its template's share.
func (p *Packer) score(c *corpus, question string) *scoring {
	s := &scoring{symptom: -1}
	c.markSeries()
	// People's words: chat and tickets, and what they captured by hand (a
	// small source of command output, such as a curl session) next to it,
	// whose lines point at what happened at their moment.
	for i := range c.recs {
		r := &c.recs[i]
		if r.flags&flagTime != 0 && (r.flags&flagChat != 0 || c.capture(r)) {
			s.msgs = append(s.msgs, int32(i))
		}
	}
	slices.SortStableFunc(s.msgs, func(a, b int32) int { return cmp.Compare(c.recs[a].t, c.recs[b].t) })
	s.terms.add(question, -1, time.Time{}, 2, false)
	for mi, ri := range s.msgs {
		r := &c.recs[ri]
		if r.flags&flagChat != 0 {
			s.terms.add(c.textOf(r), int32(mi), time.Unix(0, r.t), 1, false)
		} else {
			s.terms.add(c.textOf(r), int32(mi), time.Time{}, captureWeight, true)
		}
	}
	for ri := range c.recs { // chat lines without a time still name things
		if r := &c.recs[ri]; r.flags&flagChat != 0 && r.flags&flagTime == 0 {
			s.terms.add(c.textOf(r), -2, time.Time{}, 1, false)
		}
	}
	slices.SortStableFunc(s.terms.instants, func(a, b instant) int { return cmp.Compare(a.t, b.t) })
	pats := make([]matchPattern, len(s.terms.terms))
	for i, t := range s.terms.terms {
		pats[i] = matchPattern{text: t.text, wholeWord: true, digits: t.clock}
	}
	s.tm = newMatcher(pats)

	// Pass 1: each line's own signals, and how many lines name each term.
	nw := p.workers()
	df := make([][]int32, nw)
	p.parallel(len(c.recs), func(w, lo, hi int) {
		counts := make([]int32, len(pats))
		var seen []int32
		for i := lo; i < hi; i++ {
			r := &c.recs[i]
			text := c.textOf(r)
			var sc Score
			lineSignals(text, c.kind(r), c.attrs[r.attrs], &sc, false)
			keySample(r, &sc, false)
			r.base = float32(sc.Value)
			if sc.Value > 0 && hasSignal(sc, SignalSeverity) {
				r.flags |= flagSevere
			}
			if r.flags&flagChat != 0 || len(pats) == 0 {
				continue
			}
			seen = s.matchTerms(text, seen[:0])
			for _, t := range seen {
				counts[t]++
			}
		}
		df[w] = counts
	})
	others := 0
	for i := range c.recs {
		if c.recs[i].flags&flagChat == 0 {
			others++
		}
	}
	s.idf = make([]float64, len(pats))
	for t := range pats {
		n := 0
		for w := range df {
			if df[w] != nil {
				n += int(df[w][t])
			}
		}
		// A term most lines name says nothing about any of them.
		if n > 0 && float64(n) <= 0.2*float64(others)+1 {
			s.idf[t] = math.Log(float64(others+1)/float64(n+1)) / math.Log(float64(others+2))
		}
	}

	// Pass 2: mentions and closeness to chat; the strongest question
	// mention of each template finds the symptom.
	qmax := make([][]float32, nw)
	p.parallel(len(c.recs), func(w, lo, hi int) {
		q := make([]float32, len(c.tmpls))
		var seen []int32
		for i := lo; i < hi; i++ {
			r := &c.recs[i]
			r.line = r.base
			if r.flags&flagChat != 0 || len(pats) == 0 {
				continue
			}
			seen = s.matchTerms(c.textOf(r), seen[:0])
			var sc, mo Score
			qv := s.mentions(seen, &sc, false)
			s.beforeChat(c, r, seen, &mo, false)
			r.moment = float32(mo.Value)
			r.line += float32(sc.Value + mo.Value)
			q[r.tmpl] = max(q[r.tmpl], float32(qv))
		}
		qmax[w] = q
	})
	for ti := range c.tmpls {
		for w := range qmax {
			if qmax[w] != nil {
				c.tmpls[ti].qmax = max(c.tmpls[ti].qmax, qmax[w][ti])
			}
		}
	}
	s.findSymptom(c)

	// Templates' own signals, then each line's share by its rank.
	for ti := range c.tmpls {
		var sc Score
		s.templateSignals(c, int32(ti), &sc, false)
		c.tmpls[ti].score = float32(sc.Value)
	}
	s.weighInstants(c)
	for i := range c.recs {
		r := &c.recs[i]
		if r.flags&flagChat != 0 {
			continue
		}
		var mo Score
		s.nearNamed(c, r, &mo, false)
		if s.onset != 0 && r.flags&(flagSevere|flagTime) == flagSevere|flagTime {
			mo.add(SignalNearSymptom, nearSymptomLine(r.t, s.onset), "")
		}
		r.line += float32(mo.Value)
		r.moment += float32(mo.Value)
	}
	s.rank(c)
	for i := range c.recs {
		r := &c.recs[i]
		content := float64(r.line - r.moment)
		r.eff = float32(float64(r.moment) + effective(content, float64(c.tmpls[r.tmpl].score), s.ranks[i]))
	}
	return s
}

// keySample marks a sample that a summary of its series cites: the first
// and last, the peak and trough, the largest changes.
func keySample(r *rec, sc *Score, explain bool) {
	if r.flags&flagMetricKey != 0 {
		sc.add(SignalMetric, 2, detailf(explain, "baseline, peak, trough or largest change of its series"))
	}
}

func hasSignal(sc Score, signal string) bool {
	for _, r := range sc.Reasons {
		if r.Signal == signal {
			return true
		}
	}
	return false
}

// matchTerms appends the distinct terms text names to seen.
func (s *scoring) matchTerms(text string, seen []int32) []int32 {
	s.tm.scan(text, func(t int32, _, _ int) {
		if !slices.Contains(seen, t) {
			seen = append(seen, t)
		}
	})
	return seen
}

// mentions scores the terms a line names, each by its weight and rarity,
// and returns the question's share.
func (s *scoring) mentions(seen []int32, sc *Score, explain bool) float64 {
	total, q := 0.0, 0.0
	var names []string
	for _, t := range seen {
		term := &s.terms.terms[t]
		w := term.weight * s.idf[t]
		if w <= 0 {
			continue
		}
		total += w
		if term.question {
			q += w
		}
		if explain {
			names = append(names, term.text)
		}
	}
	if total < 0.3 {
		return 0
	}
	sc.add(SignalMention, math.Min(total, 4), strings.Join(names, ", "))
	return q
}

// beforeChat rewards a line that a chat message a little later describes:
// what someone saw and then reported.
func (s *scoring) beforeChat(c *corpus, r *rec, seen []int32, sc *Score, explain bool) {
	if r.flags&flagTime == 0 || len(s.msgs) == 0 || len(seen) == 0 {
		return
	}
	lo := r.t - int64(time.Minute)
	hi := r.t + int64(chatWindow)
	first, _ := slices.BinarySearchFunc(s.msgs, lo, func(m int32, t int64) int { return cmp.Compare(c.recs[m].t, t) })
	best, bestMsg := 0.0, int32(-1)
	var bestNames []string
	for mi := first; mi < len(s.msgs) && c.recs[s.msgs[mi]].t <= hi; mi++ {
		if m := &c.recs[s.msgs[mi]]; m == r || m.src == r.src {
			continue // a capture says nothing new about its own lines
		}
		overlap := 0.0
		var names []string
		for _, t := range seen {
			term := &s.terms.terms[t]
			if _, ok := slices.BinarySearch(term.msgs, int32(mi)); ok {
				overlap += term.weight * s.idf[t]
				if explain {
					names = append(names, term.text)
				}
			}
		}
		if overlap < 1 {
			continue
		}
		dt := max(0, c.recs[s.msgs[mi]].t-r.t)
		v := math.Min(3, 1.5*overlap) * (1 - float64(dt)/float64(chatWindow+time.Second))
		if v > best {
			best, bestMsg, bestNames = v, s.msgs[mi], names
		}
	}
	if best <= 0 {
		return
	}
	detail := ""
	if explain {
		m := &c.recs[bestMsg]
		detail = fmt.Sprintf("%s before chat %s naming %s", time.Duration(max(0, m.t-r.t)).Round(time.Second),
			causeway.LineID(m.num), strings.Join(bestNames, ", "))
	}
	sc.add(SignalBeforeChat, best, detail)
}

// nearNamed rewards a line just before (or at) a moment that the question,
// the chat or a ticket names: "burst of 7 at 12:41:34", "since 03:49".
func (s *scoring) nearNamed(c *corpus, r *rec, sc *Score, explain bool) {
	ins := s.terms.instants
	if r.flags&flagTime == 0 || len(ins) == 0 {
		return
	}
	first, _ := slices.BinarySearchFunc(ins, r.t-int64(namedAfter), func(in instant, t int64) int { return cmp.Compare(in.t, t) })
	best, which := 0.0, -1
	for i := first; i < len(ins) && ins[i].t <= r.t+int64(namedBefore); i++ {
		d := ins[i].t - r.t // the line comes d before the named moment
		closeness := 1 - float64(d)/float64(namedBefore+time.Second)
		if d < 0 {
			closeness = 1 - float64(-d)/float64(namedAfter+time.Second)
		}
		if v := ins[i].weight * closeness; v > best {
			best, which = v, i
		}
	}
	if which < 0 {
		return
	}
	detail := ""
	if explain {
		in := ins[which]
		by := "the question"
		if in.msg >= 0 {
			by = causeway.LineID(c.recs[s.msgs[in.msg]].num)
		}
		detail = fmt.Sprintf("%s %q named in %s", relative(in.t-r.t), in.text, by)
	}
	sc.add(SignalNamedTime, best, detail)
}

// weighInstants merges the named moments within a minute of each other
// and weighs each: 3, or 4 when named to the second (someone looked
// closely); one more for each other message that names it, up to two;
// three more when the symptom occurred then, which confirms it was the
// moment that mattered.
func (s *scoring) weighInstants(c *corpus) {
	var symptom []int64
	if s.symptom >= 0 {
		for i := range c.recs {
			if r := &c.recs[i]; r.tmpl == s.symptom && r.flags&flagTime != 0 {
				symptom = append(symptom, r.t)
			}
		}
		slices.Sort(symptom)
	}
	var merged []instant
	for _, in := range s.terms.instants {
		if n := len(merged); n > 0 && in.t-merged[n-1].t <= int64(time.Minute) {
			last := &merged[n-1]
			if last.msg != in.msg {
				last.names++
			}
			if in.t%int64(time.Minute) != 0 && last.t%int64(time.Minute) == 0 {
				last.t, last.text = in.t, in.text // the more precise naming
			}
			continue
		}
		in.names = 1
		merged = append(merged, in)
	}
	for i := range merged {
		in := &merged[i]
		in.weight = 3
		if in.t%int64(time.Minute) != 0 {
			in.weight = 4
		}
		in.weight += float64(min(in.names-1, 2))
		j, _ := slices.BinarySearch(symptom, in.t-int64(2*time.Minute))
		if j < len(symptom) && symptom[j] <= in.t+int64(time.Minute) {
			in.weight += 3
		}
	}
	s.terms.instants = merged
}

// findSymptom takes as the symptom the template (outside chat and docs)
// that names the question's terms and recurs most: what users saw is what
// they asked about, and they saw it many times. Its first line is the
// symptom's onset.
func (s *scoring) findSymptom(c *corpus) {
	best := 0.0
	for ti := range c.tmpls {
		t := &c.tmpls[ti]
		src := &c.srcs[t.src]
		if !t.timed || src.chat || src.kind == causeway.KindDoc || t.qmax < 1 || t.count < 2 {
			continue
		}
		v := float64(t.qmax) * math.Log2(1+float64(t.count))
		if v > best || v == best && t.first < c.tmpls[s.symptom].first {
			best, s.symptom = v, int32(ti)
		}
	}
	if s.symptom >= 0 {
		s.onset = c.tmpls[s.symptom].first
	}
}

// templateSignals adds a template's signals: rare in its source, first
// appearing or stopping well inside the source's span, bursting, starting
// close to the symptom.
func (s *scoring) templateSignals(c *corpus, ti int32, sc *Score, explain bool) {
	t := &c.tmpls[ti]
	src := &c.srcs[t.src]
	if src.chat {
		return
	}
	n := float64(src.lines)
	if n >= 10 {
		if w := 3 * (1 - math.Log(float64(t.count))/math.Log(n)); w >= 0.5 {
			sc.add(SignalRare, w, detailf(explain, "%d of %d lines", t.count, src.lines))
		}
	}
	if !t.timed || !src.timed {
		return
	}
	span := src.last - src.first
	margin := max(int64(5*time.Minute), span/10)
	if span > 2*margin && float64(t.count) < 0.5*n {
		if t.first-src.first >= margin {
			sc.add(SignalNew, 2.5, detailf(explain, "first at %s, %s into its source", clock(t.first),
				time.Duration(t.first-src.first).Round(time.Second)))
		}
		if t.count >= 5 && src.last-t.last >= margin && t.last-t.first >= margin {
			sc.add(SignalStopped, 1.5, detailf(explain, "last at %s, %s before its source ends", clock(t.last),
				time.Duration(src.last-t.last).Round(time.Second)))
		}
	}
	minutes := float64(span/int64(time.Minute) + 1)
	rate := float64(t.count) / minutes
	if t.peakN >= 5 && float64(t.peakN) >= 5*rate {
		w := math.Min(3, 1+math.Log2(float64(t.peakN)/math.Max(rate, 0.1))/3)
		sc.add(SignalBurst, w, detailf(explain, "%d lines in the minute of %s, %.1f a minute otherwise",
			t.peakN, clock(t.peakMin*int64(time.Minute)), rate))
	}
	if s.onset != 0 && ti != s.symptom {
		if d := s.onset - t.first; d >= -int64(symptomAfter) && d <= int64(symptomBefore) {
			w := 2 * (1 - float64(max(d, 0))/float64(symptomBefore))
			sc.add(SignalNearSymptom, w, detailf(explain, "first %s, symptom at %s", relative(d), clock(s.onset)))
		}
	}
}

// nearSymptomLine rewards a severe line shortly before the symptom starts.
func nearSymptomLine(t, onset int64) float64 {
	d := onset - t
	if d < -int64(time.Minute) || d > int64(10*time.Minute) {
		return 0
	}
	return 1
}

func detailf(explain bool, format string, args ...any) string {
	if !explain {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

func clock(ns int64) string { return time.Unix(0, ns).UTC().Format("15:04:05") }

func relative(d int64) string {
	if d >= 0 {
		return time.Duration(d).Round(time.Second).String() + " before"
	}
	return time.Duration(-d).Round(time.Second).String() + " after"
}

// rank orders each template's lines by their own score, strongest first
// and then in time order, so that a template's share goes mostly to its
// best lines: the thousandth 503 adds little to the first.
func (s *scoring) rank(c *corpus) {
	s.ranks = make([]int32, len(c.recs))
	// Representatives first: each fold group's strongest line, the
	// earliest of equals.
	for ti := range c.tmpls {
		c.tmpls[ti].rep = -1
	}
	for i := range c.recs {
		r := &c.recs[i]
		t := &c.tmpls[r.tmpl]
		if t.rep < 0 {
			t.rep = int32(i)
			continue
		}
		if b := &c.recs[t.rep]; r.line > b.line || r.line == b.line && (r.et < b.et || r.et == b.et && r.num < b.num) {
			t.rep = int32(i)
		}
	}
	// Ranks within the finer Drain template: two lines a collector folds
	// together (the same route and code) may still say different things
	// (one from curl, the rest from a load test).
	var strong []int32
	for i := range c.recs {
		if c.recs[i].line > 0 {
			strong = append(strong, int32(i))
		}
	}
	slices.SortFunc(strong, func(a, b int32) int {
		ra, rb := &c.recs[a], &c.recs[b]
		return cmp.Or(cmp.Compare(ra.drain, rb.drain), cmp.Compare(rb.line, ra.line), cmp.Compare(ra.et, rb.et), cmp.Compare(ra.num, rb.num))
	})
	next := make([]int32, c.drains)
	for _, i := range strong {
		d := c.recs[i].drain
		s.ranks[i] = next[d]
		next[d]++
	}
	for i := range c.recs {
		if c.recs[i].line > 0 {
			continue
		}
		d := c.recs[i].drain
		s.ranks[i] = next[d]
		next[d]++
	}
}

// effective is the share of a line's score that repeats with its content:
// what it says and its template's signals, less for each line of the
// template ranked before it. What only its moment earns (closeness to a
// named time, a chat message, the symptom) is added whole.
func effective(content, tmpl float64, rank int32) float64 {
	return (content + tmpl) / (1 + 0.5*float64(rank))
}

// explain recomputes a line's score with its reasons; its Value equals the
// line's eff.
func (s *scoring) explain(c *corpus, ri int32) Score {
	r := &c.recs[ri]
	var sc Score
	text := c.textOf(r)
	lineSignals(text, c.kind(r), c.attrs[r.attrs], &sc, true)
	keySample(r, &sc, true)
	var mo Score
	if r.flags&flagChat == 0 && len(s.terms.terms) > 0 {
		seen := s.matchTerms(text, nil)
		s.mentions(seen, &sc, true)
		s.beforeChat(c, r, seen, &mo, true)
		s.nearNamed(c, r, &mo, true)
	}
	if s.onset != 0 && r.flags&(flagSevere|flagTime) == flagSevere|flagTime && r.flags&flagChat == 0 {
		if w := nearSymptomLine(r.t, s.onset); w > 0 {
			mo.add(SignalNearSymptom, w, "severe "+relative(s.onset-r.t)+" the symptom")
		}
	}
	s.templateSignals(c, r.tmpl, &sc, true)
	if rank := s.ranks[ri]; rank > 0 {
		share := effective(sc.Value, 0, rank)
		sc.Reasons = append(sc.Reasons, Reason{Signal: "repeat", Weight: share - sc.Value,
			Detail: fmt.Sprintf("line %d of its template's %d", rank+1, c.tmpls[r.tmpl].count)})
		sc.Value = share
	}
	sc.Value += mo.Value
	sc.Reasons = append(sc.Reasons, mo.Reasons...)
	return sc
}
