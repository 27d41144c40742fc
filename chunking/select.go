package chunking

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// packing is one run of the packer's selection over a scored corpus.
type packing struct {
	*Packer
	c      *corpus
	s      *scoring
	inc    *causeway.Incident
	budget int
	limit  int // the evidence budget

	cost   []int32 // each line's tokens as rendered, with its prefix (and fold, for a template's representative)
	chosen []bool
	value  []float64 // the order of choice; the lowest go first when the pack must shrink
}

func (pk *packing) run() (*causeway.Pack, []Signal) {
	c := pk.c
	pk.costs()
	pk.chosen = make([]bool, len(c.recs))
	pk.value = make([]float64, len(c.recs))
	for i := range c.recs {
		pk.value[i] = float64(c.recs[i].eff)
	}

	all := int64(0)
	for _, v := range pk.cost {
		all += int64(v)
	}
	headers := pk.headerBound()
	if all+int64(headers) <= int64(pk.limit) {
		for i := range pk.chosen {
			pk.chosen[i] = true
		}
	} else {
		reserve := min(pk.limit/8, 800)
		pk.choose(pk.limit - headers - reserve)
	}
	return pk.finish()
}

// costs counts each line as rendered: its text's tokens as stored (space
// before, newline after) plus its "L<id> <time> <source>" prefix. Digits
// split into fixed groups and never merge with their neighbours, so every
// id of one length and every time cost the same: prefixes are counted once
// per id length, presence of a time, and source. A template's
// representative is counted with its fold.
func (pk *packing) costs() {
	c := pk.c
	memo := map[[3]int64]int32{}
	pk.cost = make([]int32, len(c.recs))
	for i := range c.recs {
		r := &c.recs[i]
		key := [3]int64{int64(len(strconv.FormatInt(r.num, 10))), int64(r.flags & flagTime), int64(r.src)}
		n, ok := memo[key]
		if !ok {
			probe := causeway.Line{Num: r.num, Source: c.srcs[r.src].name}
			if r.flags&flagTime != 0 {
				probe.Time = time.Unix(0, r.t)
			}
			n = int32(pk.Tokenizer.Count(strings.TrimSuffix(probe.Format(), " ")))
			memo[key] = n
		}
		pk.cost[i] = n + r.tokens
	}
	for ti := range c.tmpls {
		t := &c.tmpls[ti]
		if t.count > 1 {
			l := c.line(t.rep, 0)
			l.Fold = pk.fold(int32(ti))
			pk.cost[t.rep] = int32(pk.Tokenizer.Count(l.Format() + "\n"))
		}
	}
}

func (pk *packing) fold(ti int32) *causeway.Fold {
	t := &pk.c.tmpls[ti]
	f := &causeway.Fold{Count: int64(t.count)}
	if t.timed {
		f.First, f.Last = time.Unix(0, t.first).UTC(), time.Unix(0, t.last).UTC()
	}
	return f
}

// headerBound is what the source headers can cost at most: every source
// with lines shown, its counts written with as many digits as its total.
func (pk *packing) headerBound() int {
	n := 0
	for si := range pk.c.srcs {
		s := &pk.c.srcs[si]
		if s.lines == 0 {
			continue
		}
		nines, _ := strconv.ParseInt(strings.Repeat("9", len(strconv.FormatInt(s.lines, 10))), 10, 64)
		n += pk.Tokenizer.Count(causeway.SourceHeader(causeway.PackSource{Name: s.name, Kind: s.kind, Lines: int(nines - 1), Total: nines}))
	}
	return n
}

// The tiers of choice, highest first.
const (
	tierChat   = 4e6
	tierMetric = 3e6
	tierSmall  = 2.5e6
	tierSeed   = 2e6
	tierRep    = 1e6 // a seed's neighbours rank this far below it when the pack shrinks
	repBonus   = 3
	// sourceBonus raises each source's strongest line among the
	// representatives.
	sourceBonus = 4
	// densityTokens is the length of line up to which cost does not lower
	// a line's rank.
	densityTokens = 40
)

// choose marks the lines that fit limit tokens, tier by tier.
func (pk *packing) choose(limit int) {
	c := pk.c
	if limit <= 0 {
		return
	}
	var chat, metric, reps []int32
	for i := range c.recs {
		r := &c.recs[i]
		pk.value[i] = pk.density(int32(i))
		switch {
		case r.flags&flagChat != 0:
			chat = append(chat, int32(i))
		case c.kind(r) == causeway.LineMetric && r.flags&flagMetricKey != 0,
			c.kind(r) == causeway.LineMetric && c.attrs[r.attrs]["stat"] != "value" && c.tmpls[r.tmpl].count <= 50:
			metric = append(metric, int32(i))
		case float64(r.eff) >= seedScore:
			pk.value[i] += tierSeed
		}
	}
	// Every source's strongest line, and every template's, stand for what
	// the source and the template say: the decisive line is often where
	// nobody looked.
	best := make([]int32, len(c.srcs))
	for i := range best {
		best[i] = -1
	}
	for i := range c.recs {
		r := &c.recs[i]
		if b := best[r.src]; b < 0 || r.eff > c.recs[b].eff {
			best[r.src] = int32(i)
		}
	}
	for ti := range c.tmpls {
		if rep := c.tmpls[ti].rep; pk.value[rep] < tierSeed && c.recs[rep].flags&flagChat == 0 {
			reps = append(reps, rep)
		}
	}
	for _, b := range best {
		if b >= 0 && pk.value[b] < tierSeed && c.recs[b].flags&flagChat == 0 {
			pk.value[b] += sourceBonus
			if !slices.Contains(reps, b) {
				reps = append(reps, b)
			}
		}
	}
	pk.tier(chat, tierChat, chatShare*float64(limit))
	pk.tier(metric, tierMetric, metricShare*float64(limit))
	pk.small(smallShare * float64(limit))
	// A template not yet shown at all says more than the fifth line of one
	// that is: its representative competes with the high-signal lines, a
	// little ahead of its own score.
	pk.tier(reps, tierSeed+repBonus, repShare*float64(limit))

	order := make([]int32, len(c.recs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		return cmp.Or(cmp.Compare(pk.value[b], pk.value[a]), cmp.Compare(c.recs[a].num, c.recs[b].num))
	})
	k := pk.Neighbours
	if k <= 0 {
		k = 2
		if pk.budget < 64_000 {
			k = 1
		}
	}
	used := 0
	take := func(i int32) bool {
		if pk.chosen[i] || used+int(pk.cost[i]) > limit {
			return false
		}
		pk.chosen[i] = true
		used += int(pk.cost[i])
		return true
	}
	for _, i := range order {
		if !take(i) || pk.value[i] < tierSeed || pk.value[i] >= tierSmall {
			continue
		}
		// A high-signal line brings its neighbours, which say what led to
		// it and what followed; they leave first when the pack shrinks.
		for d := 1; d <= k; d++ {
			for _, j := range [2]int32{i - int32(d), i + int32(d)} {
				if j >= 0 && int(j) < len(c.recs) && c.recs[j].src == c.recs[i].src && take(j) {
					pk.value[j] = max(pk.value[j], pk.value[i]-tierRep-float64(d))
				}
			}
		}
	}
}

// tier raises the lines of a tier that fit share tokens, densest first, to
// value base; the rest compete with the other lines.
func (pk *packing) tier(lines []int32, base, share float64) {
	c := pk.c
	slices.SortFunc(lines, func(a, b int32) int {
		return cmp.Or(cmp.Compare(pk.value[b], pk.value[a]), cmp.Compare(c.recs[a].num, c.recs[b].num))
	})
	used := 0.0
	for _, i := range lines {
		if used+float64(pk.cost[i]) > share {
			continue
		}
		used += float64(pk.cost[i])
		pk.value[i] = base + pk.density(i)
	}
}

// density is a line's score for its cost: a 250-token access log line must
// say more than a 30-token one to be chosen first. Short lines are not
// raised, so that a terse line does not beat a telling one.
func (pk *packing) density(i int32) float64 {
	return float64(pk.c.recs[i].eff) / math.Sqrt(max(1, float64(pk.cost[i])/densityTokens))
}

// small raises whole small sources, the smallest first, as far as share
// tokens go.
func (pk *packing) small(share float64) {
	c := pk.c
	type span struct {
		lo, hi int
		best   float32
		cost   int
	}
	var spans []span
	for lo := 0; lo < len(c.recs); {
		hi := lo
		for hi < len(c.recs) && c.recs[hi].src == c.recs[lo].src {
			hi++
		}
		if s := &c.srcs[c.recs[lo].src]; !s.chat && s.kind != causeway.KindPrometheus && s.lines <= smallSource && hi-lo == int(s.lines) {
			sp := span{lo: lo, hi: hi}
			for i := lo; i < hi; i++ {
				sp.best = max(sp.best, c.recs[i].eff)
				sp.cost += int(pk.cost[i])
			}
			spans = append(spans, sp)
		}
		lo = hi
	}
	// The smallest first: a ten-line snapshot is cheap and was put there
	// for a reason.
	slices.SortStableFunc(spans, func(a, b span) int { return cmp.Or(cmp.Compare(a.cost, b.cost), cmp.Compare(b.best, a.best)) })
	used := 0
	for _, sp := range spans {
		if float64(used+sp.cost) > share {
			continue
		}
		used += sp.cost
		for i := sp.lo; i < sp.hi; i++ {
			pk.value[i] = max(pk.value[i], tierSmall+float64(c.recs[i].eff))
		}
	}
}

// finish builds the pack from the chosen lines and shrinks it, lowest value
// first, until its exact count fits.
func (pk *packing) finish() (*causeway.Pack, []Signal) {
	for {
		pack, signals := pk.build()
		if pack.Tokens <= pk.limit {
			return pack, signals
		}
		// Drop about the excess, lowest value first, and count again.
		excess := pack.Tokens - pk.limit
		var in []int32
		for i, ok := range pk.chosen {
			if ok {
				in = append(in, int32(i))
			}
		}
		slices.SortFunc(in, func(a, b int32) int {
			return cmp.Or(cmp.Compare(pk.value[a], pk.value[b]), cmp.Compare(pk.c.recs[b].num, pk.c.recs[a].num))
		})
		freed := 0
		for _, i := range in {
			if freed > excess {
				break
			}
			pk.chosen[i] = false
			freed += int(pk.cost[i])
		}
		if len(in) == 0 {
			return pack, signals
		}
	}
}

// build renders the chosen lines: by source, in time order within each,
// the representative of each template folded when lines of it are left
// out; then the digest, as far as it fits.
func (pk *packing) build() (*causeway.Pack, []Signal) {
	c := pk.c
	pack := &causeway.Pack{IncidentID: pk.inc.ID, Budget: pk.budget, Encoding: pk.Tokenizer.Name(), Total: int64(len(c.recs))}
	var in []int32
	for i, ok := range pk.chosen {
		if ok {
			in = append(in, int32(i))
			c.tmpls[c.recs[i].tmpl].chosen++
		}
	}
	slices.SortFunc(in, func(a, b int32) int {
		ra, rb := &c.recs[a], &c.recs[b]
		return cmp.Or(cmp.Compare(ra.src, rb.src), cmp.Compare(ra.et, rb.et), cmp.Compare(ra.seq, rb.seq))
	})
	pack.Lines = make([]causeway.Line, len(in))
	tokens := 0
	for k, i := range in {
		r := &c.recs[i]
		l := c.line(i, pk.inc.ID)
		if t := &c.tmpls[r.tmpl]; t.rep == i && t.chosen < t.count {
			l.Fold = pk.fold(r.tmpl)
		}
		if r.eff >= 1 {
			if l.Attrs == nil {
				l.Attrs = map[string]string{}
			}
			l.Attrs["signal"] = strconv.FormatFloat(float64(r.eff), 'f', 1, 64)
		}
		n := pk.Tokenizer.Count(l.Format() + "\n")
		tokens += n
		if ns := len(pack.Sources); ns == 0 || pack.Sources[ns-1].Name != l.Source {
			s := &c.srcs[r.src]
			pack.Sources = append(pack.Sources, causeway.PackSource{Name: s.name, Kind: s.kind, Total: s.lines})
		}
		ps := &pack.Sources[len(pack.Sources)-1]
		ps.Lines++
		ps.Tokens += n
		pack.Lines[k] = l
	}
	for ti := range c.tmpls {
		c.tmpls[ti].chosen = 0
	}
	for _, ps := range pack.Sources {
		tokens += pk.Tokenizer.Count(causeway.SourceHeader(ps))
	}
	signals := pk.signals(in)
	pack.Digest = pk.digest(signals, pk.limit-tokens)
	pack.Tokens = tokens + pk.Tokenizer.Count(pack.Digest)
	pack.Dropped = pack.Total - int64(len(pack.Lines))
	return pack, signals
}

// signals explains the packed lines that stand out, strongest first.
func (pk *packing) signals(in []int32) []Signal {
	c := pk.c
	strong := make([]int32, 0, len(in))
	for _, i := range in {
		if float64(c.recs[i].eff) >= seedScore && c.recs[i].flags&flagChat == 0 {
			strong = append(strong, i)
		}
	}
	slices.SortFunc(strong, func(a, b int32) int {
		return cmp.Or(cmp.Compare(c.recs[b].eff, c.recs[a].eff), cmp.Compare(c.recs[a].num, c.recs[b].num))
	})
	strong = strong[:min(len(strong), maxSignals)]
	out := make([]Signal, len(strong))
	for k, i := range strong {
		r := &c.recs[i]
		out[k] = Signal{Num: r.num, Source: c.srcs[r.src].name, Score: pk.s.explain(c, i)}
		if r.flags&flagTime != 0 {
			out[k].Time = time.Unix(0, r.t).UTC()
		}
	}
	return out
}

// digest renders the strongest signals for the top of the evidence, in at
// most room tokens.
func (pk *packing) digest(signals []Signal, room int) string {
	c := pk.c
	var entries []string
	if sy := pk.s.symptom; sy >= 0 {
		t := &c.tmpls[sy]
		if r := &c.recs[t.rep]; pk.chosen[t.rep] {
			entries = append(entries, fmt.Sprintf("- symptom: %s in %s from %s (×%d; first shown as %s)\n",
				clip(Mask(c.textOf(r)), 80), c.srcs[t.src].name, clock(t.first), t.count, causeway.LineID(r.num)))
		}
	}
	for _, sg := range signals[:min(len(signals), digestEntries)] {
		var why []string
		for _, r := range sg.sorted()[:min(3, len(sg.Reasons))] {
			if r.Weight <= 0 {
				continue
			}
			w := r.Signal
			if r.Detail != "" {
				w += " (" + clip(r.Detail, 70) + ")"
			}
			why = append(why, w)
		}
		at := "-"
		if !sg.Time.IsZero() {
			at = sg.Time.Format("15:04:05")
		}
		entries = append(entries, fmt.Sprintf("- %s %s %s [%.1f]: %s\n", sg.ID(), at, sg.Source, sg.Value, strings.Join(why, "; ")))
	}
	if len(entries) == 0 {
		return ""
	}
	const head = "## signals (strongest first; every line named is in the evidence below)\n"
	for n := len(entries); n > 0; n-- {
		d := head + strings.Join(entries[:n], "")
		if pk.Tokenizer.Count(d) <= room {
			return d
		}
	}
	return ""
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
