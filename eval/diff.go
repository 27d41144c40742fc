package eval

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Change is one metric of one result (or of one summary) that differs
// between two reports.
type Change struct {
	// Key is "case model@budget", or "model@budget" for a summary.
	Key    string  `json:"key"`
	Metric string  `json:"metric"`
	A      float64 `json:"a"`
	B      float64 `json:"b"`
	// Better is +1 when B is better than A, -1 when worse, 0 when the
	// metric has no better direction.
	Better int `json:"better"`
}

// Comparison is what changed from report A to report B.
type Comparison struct {
	Cases   []Change `json:"cases"`
	Summary []Change `json:"summary"`
	// OnlyA and OnlyB are results present in one report only.
	OnlyA []string `json:"only_a,omitempty"`
	OnlyB []string `json:"only_b,omitempty"`
	// Errors are results whose error appeared or went away.
	Errors []Change `json:"errors,omitempty"`
}

// metric reads one score of a result.
type metric struct {
	name string
	// dir is +1 when higher is better, -1 when lower is, 0 for neither.
	dir int
	// minRel is the relative change below which a difference is noise.
	minRel float64
	get    func(*Result) (float64, bool)
	sum    func(*Summary) (float64, bool)
}

func always(f float64) (float64, bool) { return f, true }

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func opt(f *float64) (float64, bool) {
	if f == nil {
		return 0, false
	}
	return *f, true
}

// wallNoise is how much wall time may move before a diff calls it a
// change: timings on a shared machine wander.
const wallNoise = 0.25

var metrics = []metric{
	{"root_cause_hit", 1, 0, func(r *Result) (float64, bool) { return boolf(r.RootCauseHit), true }, func(s *Summary) (float64, bool) { return always(s.RootCauseHit) }},
	{"judge_match", 1, 0, func(r *Result) (float64, bool) {
		if r.Judge == nil || r.Judge.Error != "" {
			return 0, false
		}
		return boolf(r.Judge.Match), true
	}, func(s *Summary) (float64, bool) { return opt(s.JudgeMatch) }},
	{"evidence_recall_packed", 1, 0, func(r *Result) (float64, bool) { return always(r.EvidenceRecallPacked) }, func(s *Summary) (float64, bool) { return always(s.EvidenceRecallPacked) }},
	{"evidence_recall_cited", 1, 0, func(r *Result) (float64, bool) { return always(r.EvidenceRecallCited) }, func(s *Summary) (float64, bool) { return always(s.EvidenceRecallCited) }},
	{"citations_total", 0, 0, func(r *Result) (float64, bool) { return always(float64(r.CitationsTotal)) }, func(s *Summary) (float64, bool) { return always(s.CitationsTotal) }},
	{"citations_verified", 0, 0, func(r *Result) (float64, bool) { return always(float64(r.CitationsVerified)) }, func(s *Summary) (float64, bool) { return always(s.CitationsVerified) }},
	{"grounded_ratio", 1, 0, func(r *Result) (float64, bool) { return always(r.GroundedRatio) }, func(s *Summary) (float64, bool) { return always(s.GroundedRatio) }},
	{"control_correct", 1, 0, func(r *Result) (float64, bool) { return opt(r.ControlCorrect) }, func(s *Summary) (float64, bool) { return opt(s.ControlCorrect) }},
	{"pack_tokens", 0, 0, func(r *Result) (float64, bool) { return always(float64(r.PackTokens)) }, func(s *Summary) (float64, bool) { return always(s.PackTokens) }},
	{"tokens_in", -1, 0, func(r *Result) (float64, bool) { return always(float64(r.TokensIn)) }, func(s *Summary) (float64, bool) { return always(s.TokensIn) }},
	{"tokens_out", -1, 0, func(r *Result) (float64, bool) { return always(float64(r.TokensOut)) }, func(s *Summary) (float64, bool) { return always(s.TokensOut) }},
	{"tokens_cached", 0, 0, func(r *Result) (float64, bool) { return always(float64(r.TokensCached)) }, func(s *Summary) (float64, bool) { return always(s.TokensCached) }},
	{"wall_ms", -1, wallNoise, func(r *Result) (float64, bool) { return always(float64(r.WallMS)) }, func(s *Summary) (float64, bool) { return always(s.WallMS) }},
	{"cost_usd", -1, 0, func(r *Result) (float64, bool) { return always(r.CostUSD) }, func(s *Summary) (float64, bool) { return always(s.CostUSD) }},
}

// Diff compares report b with report a, result by result (matched by case,
// model and budget) and summary by summary.
func Diff(a, b *Report) *Comparison {
	c := &Comparison{}
	inA := map[string]*Result{}
	for i := range a.Cases {
		inA[a.Cases[i].Key()] = &a.Cases[i]
	}
	seen := map[string]bool{}
	for i := range b.Cases {
		rb := &b.Cases[i]
		key := rb.Key()
		seen[key] = true
		ra, ok := inA[key]
		if !ok {
			c.OnlyB = append(c.OnlyB, key)
			continue
		}
		if (ra.Error == "") != (rb.Error == "") {
			c.Errors = append(c.Errors, Change{Key: key, Metric: "error", A: boolf(ra.Error != ""), B: boolf(rb.Error != ""), Better: int(boolf(ra.Error != "") - boolf(rb.Error != ""))})
		}
		for _, m := range metrics {
			va, okA := m.get(ra)
			vb, okB := m.get(rb)
			if ch, ok := compare(key, m, va, vb, okA && okB); ok {
				c.Cases = append(c.Cases, ch)
			}
		}
	}
	for i := range a.Cases {
		if key := a.Cases[i].Key(); !seen[key] {
			c.OnlyA = append(c.OnlyA, key)
		}
	}
	sumA := map[string]*Summary{}
	for i := range a.Summary {
		s := &a.Summary[i]
		sumA[fmt.Sprintf("%s@%d", s.Model, s.Budget)] = s
	}
	for i := range b.Summary {
		sb := &b.Summary[i]
		key := fmt.Sprintf("%s@%d", sb.Model, sb.Budget)
		sa, ok := sumA[key]
		if !ok {
			continue
		}
		for _, m := range metrics {
			va, okA := m.sum(sa)
			vb, okB := m.sum(sb)
			if ch, ok := compare(key, m, va, vb, okA && okB); ok {
				c.Summary = append(c.Summary, ch)
			}
		}
	}
	return c
}

func compare(key string, m metric, a, b float64, both bool) (Change, bool) {
	if !both || a == b {
		return Change{}, false
	}
	if m.minRel > 0 && math.Abs(b-a) <= m.minRel*math.Max(math.Abs(a), math.Abs(b)) {
		return Change{}, false
	}
	better := 0
	switch {
	case m.dir > 0 && b > a, m.dir < 0 && b < a:
		better = 1
	case m.dir != 0:
		better = -1
	}
	return Change{Key: key, Metric: m.name, A: a, B: b, Better: better}, true
}

// Worse counts the changes for the worse, over results, summaries and
// errors.
func (c *Comparison) Worse() int {
	n := 0
	for _, list := range [][]Change{c.Cases, c.Summary, c.Errors} {
		for _, ch := range list {
			if ch.Better < 0 {
				n++
			}
		}
	}
	return n
}

// WriteText writes the comparison for people: what got worse first, then
// what got better, then what merely changed.
func (c *Comparison) WriteText(w io.Writer) error {
	var b strings.Builder
	section := func(title string, list []Change, better int) {
		var lines []string
		for _, ch := range list {
			if ch.Better == better {
				lines = append(lines, fmt.Sprintf("  %-58s %-24s %s -> %s", ch.Key, ch.Metric, fmtValue(ch.Metric, ch.A), fmtValue(ch.Metric, ch.B)))
			}
		}
		if len(lines) > 0 {
			fmt.Fprintf(&b, "%s:\n%s\n", title, strings.Join(lines, "\n"))
		}
	}
	all := append(append([]Change{}, c.Errors...), c.Cases...)
	section("Worse", all, -1)
	section("Better", all, 1)
	section("Changed", all, 0)
	section("Summary worse", c.Summary, -1)
	section("Summary better", c.Summary, 1)
	section("Summary changed", c.Summary, 0)
	for _, k := range c.OnlyA {
		fmt.Fprintf(&b, "Only in A: %s\n", k)
	}
	for _, k := range c.OnlyB {
		fmt.Fprintf(&b, "Only in B: %s\n", k)
	}
	if b.Len() == 0 {
		b.WriteString("No differences.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtValue(metric string, v float64) string {
	switch metric {
	case "root_cause_hit", "judge_match", "evidence_recall_packed", "evidence_recall_cited", "grounded_ratio", "control_correct":
		return fmt.Sprintf("%.0f%%", 100*v)
	case "error":
		if v > 0 {
			return "error"
		}
		return "ok"
	case "cost_usd":
		return fmt.Sprintf("$%.4f", v)
	case "wall_ms":
		return fmtMS(v)
	}
	if v == math.Trunc(v) {
		return thousands(int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}
