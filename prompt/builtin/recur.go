package builtin

import (
	"slices"
	"strings"
	"time"
)

// A symptom that comes back in bursts days apart ("a few 502s, every few
// hours, for a week") has a cause that comes back with it: the analysis
// must judge causes against every burst, not only the one it quotes. A
// cause that precedes each burst (a scale-down before every 502 burst, an
// OOM kill of the proxy before every 503 burst) explains the symptom; one
// that precedes a single burst, or happens as often without one, does not.

// minEpisodes is how many bursts make a symptom recurring.
const minEpisodes = 3

// episodeSlack is how long after a burst begins a cause may first be
// logged and still count as preceding it.
const episodeSlack = 2 * time.Minute

// findEpisodes collects the bursts of the symptom: candidates of its
// signature, entity and status code at other times.
func (d *decision) findEpisodes() {
	s := d.symptom
	if s == nil || s.first.IsZero() {
		return
	}
	var eps []*candidate
	for _, c := range d.cands {
		if c.sig == s.sig && c.key == s.key && !c.first.IsZero() && strings.EqualFold(c.best.key, s.best.key) {
			eps = append(eps, c)
		}
	}
	if len(eps) < minEpisodes {
		return
	}
	slices.SortStableFunc(eps, func(x, y *candidate) int { return x.first.Compare(y.first) })
	d.episodes = eps
	d.bySig = map[*matcher][]*candidate{}
	for _, c := range d.cands {
		d.bySig[c.sig] = append(d.bySig[c.sig], c)
	}
}

// episodeFor is the burst a candidate would explain: the first one that
// is not over before the candidate begins, else the last.
func (d *decision) episodeFor(c *candidate) *candidate {
	if len(d.episodes) == 0 || c.first.IsZero() || slices.Contains(d.episodes, c) {
		return d.symptom
	}
	for _, ep := range d.episodes {
		if !ep.last.Add(episodeSlack).Before(c.first) {
			return ep
		}
	}
	return d.episodes[len(d.episodes)-1]
}

// occurrences are the candidate's failure at all times: the candidates of
// its signature about the same entity, or naming the same thing (the
// process the kernel killed, on whichever node).
func (d *decision) occurrences(c *candidate) []*candidate {
	if occ, ok := d.occMemo[c]; ok {
		return occ
	}
	var out []*candidate
	for _, o := range d.bySig[c.sig] {
		if !o.first.IsZero() && (o.key == c.key || sameSubject(o, c)) {
			out = append(out, o)
		}
	}
	if d.occMemo == nil {
		d.occMemo = map[*candidate][]*candidate{}
	}
	d.occMemo[c] = out
	return out
}

// alignment measures how well a failure's occurrences line up with the
// symptom's bursts: coverage is the share of bursts that one of them
// precedes (within window), precision the share of them a burst follows.
func (d *decision) alignment(c *candidate, window time.Duration) (coverage, precision float64, ok bool) {
	occ := d.occurrences(c)
	if len(d.episodes) == 0 || len(occ) == 0 {
		return 0, 0, false
	}
	precedes := func(o, ep *candidate) bool {
		return !o.first.After(ep.first.Add(episodeSlack)) && !o.last.Before(ep.first.Add(-window))
	}
	covered := 0
	for _, ep := range d.episodes {
		for _, o := range occ {
			if precedes(o, ep) {
				covered++
				break
			}
		}
	}
	aligned := 0
	for _, o := range occ {
		for _, ep := range d.episodes {
			if precedes(o, ep) {
				aligned++
				break
			}
		}
	}
	return float64(covered) / float64(len(d.episodes)), float64(aligned) / float64(len(occ)), true
}

// recurrenceFactor weighs a candidate by its alignment with the bursts: a
// cause behind every burst rises, one behind a single burst or behind
// none falls. 1 when the symptom does not recur or the candidate has no
// time.
func (d *decision) recurrenceFactor(c *candidate) float64 {
	if len(d.episodes) == 0 || slices.Contains(d.episodes, c) {
		return 1
	}
	window := d.ev.a.ClusterGap
	if c.wide() {
		window = d.ev.a.Lookback
	}
	cov, prec, ok := d.alignment(c, window)
	if !ok {
		return 1
	}
	return 0.4 + 1.2*cov*(0.5+0.5*prec)
}

// reanchor makes the symptom the burst the root precedes, so that the
// chain runs from the root to a burst it explains.
func (d *decision) reanchor() {
	if len(d.episodes) == 0 || d.root == nil || d.root.first.IsZero() {
		return
	}
	if ep := d.episodeFor(d.root); ep != nil && ep != d.symptom {
		d.symptom = ep
	}
}

// recurrence describes how a failure on the chain lines up with the
// bursts, for the answer: how many bursts one of its occurrences precedes,
// and two of them to cite.
func (d *decision) recurrence(c *candidate) (covered int, pairs [][2]*candidate) {
	if len(d.episodes) == 0 || c == nil {
		return 0, nil
	}
	occ := d.occurrences(c)
	window := d.ev.a.ClusterGap
	if c.wide() {
		window = d.ev.a.Lookback
	}
	for _, ep := range d.episodes {
		for _, o := range occ {
			if !o.first.After(ep.first.Add(episodeSlack)) && !o.last.Before(ep.first.Add(-window)) {
				covered++
				if ep != d.symptom && len(pairs) < 2 {
					pairs = append(pairs, [2]*candidate{o, ep})
				}
				break
			}
		}
	}
	return covered, pairs
}

// sameEpisode reports whether two candidates belong to the same burst of a
// recurring symptom (always, when it does not recur or either has no
// time).
func (d *decision) sameEpisode(a, b *candidate) bool {
	if len(d.episodes) == 0 || a.first.IsZero() || b.first.IsZero() {
		return true
	}
	return d.episodeFor(a) == d.episodeFor(b)
}

// recurs reports whether the candidate's failure precedes (or is) several
// bursts of a recurring symptom: at least as many as make a symptom
// recurring. Failures that come back with the symptom each time are
// linked to it and to each other by time, whatever their namespaces.
func (d *decision) recurs(c *candidate) bool {
	if len(d.episodes) == 0 || c.first.IsZero() {
		return false
	}
	if r, ok := d.recursMemo[c]; ok {
		return r
	}
	cov, _, ok := d.alignment(c, d.ev.a.ClusterGap)
	r := ok && int(cov*float64(len(d.episodes))+0.5) >= minEpisodes
	if d.recursMemo == nil {
		d.recursMemo = map[*candidate]bool{}
	}
	d.recursMemo[c] = r
	return r
}

// coRecur reports whether two failures both come back with every burst of
// a recurring symptom and this occurrence of a precedes b's by little: a
// scale-down in one namespace and the 502s of a gateway in another.
func (d *decision) coRecur(a, b *candidate) bool {
	if len(d.episodes) == 0 || a.first.IsZero() || b.first.IsZero() || !d.recurs(a) || !d.recurs(b) {
		return false
	}
	return !a.first.After(b.first.Add(episodeSlack)) && !a.last.Before(b.first.Add(-d.ev.a.ClusterGap))
}
