package builtin

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt"
)

// NotEnoughEvidence is the root cause given when no cause can be named.
const NotEnoughEvidence = "not enough evidence"

// answer writes the analysis up in the answer schema.
func (an *analysis) answer() *causeway.Answer {
	ans := &causeway.Answer{
		CausalChain:   []causeway.Step{},
		Claims:        []causeway.Claim{},
		RuledOut:      []causeway.RuledOut{},
		Remediation:   []string{},
		OpenQuestions: []string{},
	}
	for i, c := range an.chain {
		h := c.lead
		if c == an.symptom {
			h = c.hits[0]
		}
		ans.CausalChain = append(ans.CausalChain, causeway.Step{Step: i + 1, Text: an.stepText(c, h), Citations: cites(h)})
	}
	// A question about one suspect ("was the OOM kill related?") gets its
	// answer first.
	slices.SortStableFunc(an.ruledOut, func(x, y *candidate) int { return boolRank(y.focus) - boolRank(x.focus) })
	for _, c := range an.ruledOut[:min(len(an.ruledOut), 3)] {
		ans.RuledOut = append(ans.RuledOut, causeway.RuledOut{
			Hypothesis: capitalize(c.sig.Summary) + " in " + where(c.lead.line),
			Why:        capitalize(c.whyKind) + ": " + c.why + ".",
			Citations:  cites(c.lead),
		})
	}
	if an.root == nil {
		an.notEnough(ans)
		return ans
	}

	root, sym := an.root, an.symptom
	ans.RootCause = fmt.Sprintf("%s in %s: %s (%s)", capitalize(root.sig.Summary), component(root.lead.line), segment(root.lead), root.lead.line.ID())
	ans.Summary = an.summary()
	for _, c := range an.ruledOut {
		if c.focus {
			ans.Summary = fmt.Sprintf("The %s in %s (%s) is not related to the %s: %s. ",
				c.sig.Summary, component(c.lead.line), c.lead.line.ID(), an.symptomName(), c.why) + ans.Summary
			break
		}
	}

	support := causeway.Claim{
		Text:      fmt.Sprintf("%s reports %s at %s.", root.lead.line.Source, root.sig.Summary, clock(root.lead.line.Time)),
		Citations: cites(root.lead),
	}
	// Corroboration from other sources: the root's own lines elsewhere (a
	// df output), then the same failure seen through another signature.
	seenSrc := map[string]bool{root.lead.line.Source: true}
	kin := slices.Clone(an.kin)
	slices.SortStableFunc(kin, func(x, y *candidate) int { return boolRank(y.sig == root.sig) - boolRank(x.sig == root.sig) })
	for _, c := range append([]*candidate{root}, kin...) {
		for _, h := range c.hits {
			if !seenSrc[h.line.Source] && len(support.Citations) < 4 {
				seenSrc[h.line.Source] = true
				support.Text += fmt.Sprintf(" %s shows %s too.", h.line.Source, c.sig.Summary)
				support.Citations = append(support.Citations, cites(h)...)
			}
		}
	}
	ans.Claims = append(ans.Claims, support)

	// The failure's first sign may come through a sibling signature: a
	// node's DiskPressure before the first "no space left on device".
	first, firstSig := root.hits[0], root.sig
	for _, k := range an.kin {
		if !k.first.IsZero() && (first.line.Time.IsZero() || k.first.Before(first.line.Time)) {
			first, firstSig = k.hits[0], k.sig
		}
	}
	if t := first.line.Time; sym != nil && !t.IsZero() && !sym.first.IsZero() {
		var text string
		if d := sym.first.Sub(t); d >= 0 {
			text = fmt.Sprintf("The first sign of it, %s, is at %s, %s before the first %s at %s.",
				firstSig.Summary, clock(t), duration(d), sym.sig.Summary, clock(sym.first))
		} else {
			text = fmt.Sprintf("The first %s line (%s) comes %s after the first %s (%s); the fault was probably present before it was logged.",
				firstSig.Summary, clock(t), duration(-d), sym.sig.Summary, clock(sym.first))
		}
		ans.Claims = append(ans.Claims, causeway.Claim{Text: text, Citations: append(cites(first), cites(sym.hits[0])...)})
	}
	if sym != nil {
		ans.Claims = append(ans.Claims, symptomClaim(sym))
	}
	if root.chat != nil {
		ans.Claims = append(ans.Claims, causeway.Claim{
			Text:      "People in the incident chat point at the same failure.",
			Citations: cites(*root.chat),
		})
	}

	seen := map[string]bool{}
	for _, c := range append(an.chain, root) {
		for _, r := range c.sig.Remediation {
			if !seen[r] && len(ans.Remediation) < 5 {
				seen[r] = true
				ans.Remediation = append(ans.Remediation, r)
			}
		}
	}
	for _, c := range an.rivals {
		if c.rank >= 0.6*root.rank && len(ans.OpenQuestions) < 3 {
			ans.OpenQuestions = append(ans.OpenQuestions, fmt.Sprintf(
				"Could the %s in %s (%s) be the cause instead? It is also close to the symptom in time.",
				c.sig.Summary, where(c.lead.line), c.lead.line.ID()))
		}
	}
	if sym == nil {
		ans.OpenQuestions = append(ans.OpenQuestions,
			"Which failure does the question ask about? No line shows a known symptom (HTTP errors, connection failures), so causes were ranked on their own.")
	} else if root.first.After(sym.first) {
		ans.OpenQuestions = append(ans.OpenQuestions, fmt.Sprintf(
			"Was the %s already present before %s? Its first line in the evidence is later than the first symptom.",
			root.sig.Summary, clock(sym.first)))
	}
	ans.Confidence = an.confidence()
	return ans
}

func (an *analysis) notEnough(ans *causeway.Answer) {
	ans.RootCause = NotEnoughEvidence
	n := len(an.pack.Lines)
	if sym := an.symptom; sym != nil {
		ans.Summary = fmt.Sprintf("The evidence shows %s (%s from %s to %s) but no known failure that precedes it and could explain it.",
			sym.sig.Summary, lines(len(sym.hits)), clock(sym.first), clock(sym.last))
		ans.Claims = append(ans.Claims, symptomClaim(sym))
		ans.OpenQuestions = append(ans.OpenQuestions, fmt.Sprintf(
			"Which component fails first? None of the %d lines in the evidence matches a known cause near the %s; add the logs, events and object status of the components the failing requests pass through, or widen the window.",
			n, sym.sig.Summary))
		ans.Confidence = 0.1
		return
	}
	ans.Summary = fmt.Sprintf("None of the %d lines in the evidence matches a known failure signature.", n)
	ans.OpenQuestions = append(ans.OpenQuestions,
		"What is the symptom, and when did it start? Add the logs of the failing component and of what it depends on for that time.")
	ans.Confidence = 0.05
}

func symptomClaim(sym *candidate) causeway.Claim {
	first, last := sym.hits[0], sym.hits[len(sym.hits)-1]
	c := causeway.Claim{
		Text:      fmt.Sprintf("%s show %s between %s and %s.", capitalize(lines(len(sym.hits))), sym.sig.Summary, clock(sym.first), clock(sym.last)),
		Citations: cites(first),
	}
	if last.line != first.line {
		c.Citations = append(c.Citations, cites(last)...)
	}
	return c
}

func (an *analysis) stepText(c *candidate, h hit) string {
	switch {
	case c == an.symptom && len(c.hits) == 1:
		return fmt.Sprintf("%s in %s at %s.", capitalize(c.sig.Summary), where(h.line), clock(c.first))
	case c == an.symptom:
		return fmt.Sprintf("%s in %s: %s from %s to %s.", capitalize(c.sig.Summary), where(h.line), lines(len(c.hits)), clock(c.first), clock(c.last))
	case c == an.root:
		return fmt.Sprintf("%s in %s, first at %s.", capitalize(c.sig.Summary), where(h.line), clock(c.first))
	}
	return fmt.Sprintf("%s in %s at %s.", capitalize(c.sig.Summary), where(h.line), clock(h.line.Time))
}

func (an *analysis) summary() string {
	root, sym := an.root, an.symptom
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %s (%s: %s).", capitalize(root.sig.Summary), component(root.lead.line), root.lead.line.ID(), segment(root.lead))
	var steps []string
	for _, c := range an.chain[1:] {
		if c != sym {
			steps = append(steps, fmt.Sprintf("%s in %s (%s: %s)", c.sig.Summary, component(c.lead.line), c.lead.line.ID(), segment(c.lead)))
		}
	}
	if len(steps) > 0 {
		fmt.Fprintf(&b, " It led to %s.", strings.Join(steps, ", then "))
	}
	if sym != nil {
		fmt.Fprintf(&b, " Symptom: %s, %s from %s (%s).", sym.sig.Summary, lines(len(sym.hits)), clock(sym.first), sym.hits[0].line.ID())
	}
	return b.String()
}

func (an *analysis) symptomName() string {
	if an.symptom == nil {
		return "incident"
	}
	return an.symptom.sig.Summary
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// confidence grows with the margin over the next best cause and with a
// complete, well-ordered chain.
func (an *analysis) confidence() float64 {
	root, sym := an.root, an.symptom
	second := 0.0
	if len(an.rivals) > 0 {
		second = an.rivals[0].rank
	}
	conf := 0.45 + 0.35*(root.rank-second)/root.rank
	switch {
	case sym == nil:
		conf -= 0.15
	case root.first.After(sym.first):
		conf -= 0.05
	default:
		conf += 0.1
	}
	if len(root.sources) > 1 {
		conf += 0.05
	}
	return float64(int(min(max(conf, 0.2), 0.95)*100+0.5)) / 100
}

// cites cites a hit's line with a quote that verifies, or not at all.
func cites(h hit) []causeway.Citation {
	for _, q := range []string{excerpt(h, 120), h.line.Text[h.start:h.end], strings.TrimSpace(h.line.Text)} {
		if prompt.QuoteMatches(q, h.line) {
			return []causeway.Citation{{ID: h.line.ID(), Quote: q}}
		}
	}
	return nil
}

// excerpt is a verbatim span of the hit's line around the match, about
// width bytes, cut at word boundaries: distinctive, and short enough to read.
func excerpt(h hit, width int) string {
	text := h.line.Text
	if len(text) <= width+width/2 {
		return strings.TrimSpace(text)
	}
	start, end := h.start, h.end
	if end-start >= width {
		end = start + width
	} else {
		// A line usually says what failed before the match and why after
		// it ("Accepted=False reason=...: <message>"): give the right more.
		pad := width - (end - start)
		start, end = max(0, start-pad/4), min(len(text), end+pad-pad/4)
	}
	// Cut where a word or a JSON value ends, not inside one.
	const boundary = " \t,;{}[]"
	if start > 0 {
		if i := strings.IndexAny(text[start:h.start], boundary); i >= 0 {
			start += i + 1
		}
	}
	if end < len(text) {
		if i := strings.LastIndexAny(text[max(h.end, start):end], boundary); i >= 0 {
			end = max(h.end, start) + i
		}
	}
	for start < end && !utf8.RuneStart(text[start]) {
		start++
	}
	for end < len(text) && end > start && !utf8.RuneStart(text[end]) {
		end--
	}
	return strings.TrimSpace(text[start:end])
}

// segment is the part of a hit's line that says what went wrong, for
// prose: the quoted string the match is in (`mkdir /var/lib/eg/wasm: no
// space left on device` out of a JSON log line), else an excerpt.
func segment(h hit) string {
	text := h.line.Text
	if strings.Count(text[:h.start], `"`)%2 == 1 {
		start := strings.LastIndexByte(text[:h.start], '"') + 1
		if end := strings.IndexByte(text[h.end:], '"'); end >= 0 {
			if s := strings.TrimSpace(text[start : h.end+end]); len(s) >= 24 {
				return s
			}
		}
	}
	return strings.Trim(excerpt(h, 100), " {[,;:=")
}

// component names what a line is about: its pod when known, else its source.
func component(l *causeway.Line) string {
	if pod := l.Attrs["pod"]; pod != "" {
		if ns := l.Attrs["namespace"]; ns != "" {
			return "pod " + ns + "/" + pod
		}
		return "pod " + pod
	}
	return l.Source
}

func lines(n int) string {
	if n == 1 {
		return "1 line"
	}
	return fmt.Sprintf("%d lines", n)
}

// where names the component a line comes from.
func where(l *causeway.Line) string {
	if pod := l.Attrs["pod"]; pod != "" {
		if ns := l.Attrs["namespace"]; ns != "" {
			return "pod " + ns + "/" + pod + " (" + l.Source + ")"
		}
		return "pod " + pod + " (" + l.Source + ")"
	}
	return l.Source
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func duration(d time.Duration) string {
	return d.Round(time.Second).String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
