package builtin

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/causeway-rca/causeway"
)

// NotEnoughEvidence is the root cause given when no cause can be named.
const NotEnoughEvidence = "not enough evidence"

// maxRuledOut bounds the hypotheses an answer rejects.
const maxRuledOut = 4

// answer writes the decision up in the answer schema. main, when set, is
// the decision about the whole incident, which a question about one entity
// is related to or not.
func (d *decision) answer(main *decision) *causeway.Answer {
	ans := &causeway.Answer{
		CausalChain:   []causeway.Step{},
		Claims:        []causeway.Claim{},
		RuledOut:      []causeway.RuledOut{},
		Remediation:   []string{},
		OpenQuestions: []string{},
	}
	for _, c := range d.chain {
		h := c.lead
		if c == d.symptom && c != d.root {
			h = c.hits[0]
		}
		ans.CausalChain = append(ans.CausalChain, causeway.Step{Step: len(ans.CausalChain) + 1, Text: d.stepText(c, h), Citations: cites(h)})
	}
	if m := d.elsewhere; m != nil {
		ans.RuledOut = append(ans.RuledOut, causeway.RuledOut{
			Hypothesis: capitalize(d.q.suspect),
			Why:        fmt.Sprintf("Wrong container: it acts on %s, while the failure is in container %s.", m.asked, m.fails),
			Citations:  cites(m.where),
		})
	}
	for _, c := range d.ruledOut[:min(len(d.ruledOut), maxRuledOut)] {
		r := causeway.RuledOut{
			Hypothesis: capitalize(d.describe(c)),
			Why:        capitalize(c.whyKind) + ": " + c.why + ".",
			Citations:  cites(c.lead),
		}
		for _, h := range c.whyHits {
			r.Citations = append(r.Citations, cites(h)...)
		}
		ans.RuledOut = append(ans.RuledOut, r)
	}
	if d.root == nil {
		d.notEnough(ans)
		return ans
	}
	root := d.root
	var facts []fact
	switch {
	case root.synthetic:
		facts = root.facts
	case root.sig.Name == "container_error":
		facts = d.ev.details(d.ev.a.table.byName["crashloop"], root.lead, d.scopeOf(root))
	default:
		facts = d.ev.details(root.sig, root.lead, d.scopeOf(root))
	}
	ty, hasTypo := d.ev.typoOf(root)
	var own *owner
	if !root.synthetic {
		if o, ok := d.ev.ownerOf(root, d.failureStart()); ok {
			own = &o
		}
	}
	ans.RootCause = d.rootCause(facts, ty, hasTypo, own)
	ans.Summary = d.summary(main)

	support := causeway.Claim{Text: fmt.Sprintf("%s reports %s", root.lead.line.Source, root.sig.Summary), Citations: cites(root.lead)}
	switch t := root.lead.line.Time; {
	case t.IsZero():
	case root.lead.at.IsZero():
		// A snapshot: when it was read, not when it began.
		support.Text += " (read at " + clock(t) + ")"
	default:
		support.Text += " at " + clock(t)
	}
	support.Text += "."
	if root.synthetic {
		support.Text = fmt.Sprintf("The question reports %s in %s; the evidence shows what it runs up against:", root.sig.Summary, d.ev.component(root.lead))
		support.Citations = nil
		for i, f := range facts {
			if i > 0 {
				support.Text += ";"
			}
			support.Text += fmt.Sprintf(" its %s is %s", f.label, prose(f.hit))
			support.Citations = append(support.Citations, cites(f.hit)...)
		}
		support.Text += "."
		facts = nil
	}
	// Corroboration from other sources: the root's own lines elsewhere (a
	// df output), then the same failure seen through another signature.
	seenSrc := map[string]bool{root.lead.line.Source: true}
	kin := slices.Clone(d.kin)
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
	for _, f := range facts {
		ans.Claims = append(ans.Claims, causeway.Claim{
			Text:      fmt.Sprintf("The %s of %s: %s.", f.label, d.ev.component(f.hit), prose(f.hit)),
			Citations: cites(f.hit),
		})
	}
	if own != nil {
		text := fmt.Sprintf("%s sets it: %s.", own.name, segment(own.where))
		if own.changed {
			text = fmt.Sprintf("%s sets it; it was last changed at %s, before the failure: %s.", own.name, clock(own.where.at), segment(own.where))
		}
		ans.Claims = append(ans.Claims, causeway.Claim{Text: text, Citations: cites(own.where)})
	}
	if hasTypo && ty.where != nil {
		ans.Claims = append(ans.Claims, causeway.Claim{
			Text:      fmt.Sprintf("%q does not exist, but %q does: the name is probably misspelt.", ty.name, ty.want),
			Citations: cites(*ty.where),
		})
	}
	for _, t := range d.triggers {
		ans.Claims = append(ans.Claims, causeway.Claim{
			Text:      fmt.Sprintf("Before it, %s in %s at %s.", t.sig.Summary, d.ev.component(t.lead), clock(t.first)),
			Citations: cites(t.lead),
		})
	}
	if c, ok := d.timingClaim(); ok {
		ans.Claims = append(ans.Claims, c)
	}
	if c, ok := d.recurrenceClaim(); ok {
		ans.Claims = append(ans.Claims, c)
	}
	if sym := d.symptom; sym != nil && sym != root {
		ans.Claims = append(ans.Claims, symptomClaim(sym))
	}
	if len(root.chat) > 0 {
		ans.Claims = append(ans.Claims, causeway.Claim{
			Text:      "People in the incident chat or tickets point at the same failure.",
			Citations: cites(root.chat[0]),
		})
	}
	ans.Remediation = d.remediation()
	ans.OpenQuestions = d.openQuestions()
	ans.Confidence = d.confidence()
	return ans
}

// rootCause names the root cause, where it is, the line that shows it and
// the facts behind it.
func (d *decision) rootCause(facts []fact, ty typo, hasTypo bool, own *owner) string {
	root := d.root
	var b strings.Builder
	if root.synthetic {
		fmt.Fprintf(&b, "%s in %s, as the question reports", capitalize(root.sig.Summary), d.ev.component(root.lead))
	} else {
		fmt.Fprintf(&b, "%s in %s: %s (%s)", capitalize(root.sig.Summary), d.ev.component(root.lead), segment(root.lead), root.lead.line.ID())
	}
	for i, f := range facts {
		sep := "; "
		if root.synthetic && i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s %s (%s)", sep, f.label, prose(f.hit), f.hit.line.ID())
	}
	if s := shorterThan(facts); s != "" {
		b.WriteString("; " + s)
	}
	if own != nil {
		fmt.Fprintf(&b, "; set by %s", own.name)
		if own.changed {
			fmt.Fprintf(&b, ", last changed at %s", clock(own.where.at))
		}
		fmt.Fprintf(&b, " (%s: %s)", own.where.line.ID(), segment(own.where))
	}
	if hasTypo {
		fmt.Fprintf(&b, "; %q is probably a typo for %q", ty.name, ty.want)
		if ty.where != nil {
			fmt.Fprintf(&b, ", which exists (%s)", ty.where.line.ID())
		}
	}
	for i, t := range d.triggers {
		sep := "; it followed "
		if i > 0 {
			sep = ", after "
		}
		what := t.sig.Summary
		if w := d.ev.ents[t.lead.idx].workload; w != "" && t.lead.key != "" {
			what += ", " + w + " " + t.lead.key // "new version started, checkout-gateway 1.9.0"
		}
		fmt.Fprintf(&b, "%s%s in %s (%s: %s)", sep, what, d.ev.component(t.lead), t.lead.line.ID(), segment(t.lead))
	}
	if d.fallback && !root.synthetic {
		b.WriteString("; the evidence does not show what makes it fail")
	}
	return b.String()
}

var secondsRE = regexp.MustCompile(`(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds)?\b`)

// shorterThan compares a grace period with the longest request when both
// are among the facts: the comparison is the finding.
func shorterThan(facts []fact) string {
	var grace, longest float64
	for _, f := range facts {
		m := secondsRE.FindStringSubmatch(f.hit.line.Text[f.hit.start:f.hit.end])
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		if m[2] == "ms" {
			v /= 1000
		}
		switch f.label {
		case "grace period":
			grace = v
		case "longest request":
			longest = v
		}
	}
	if grace > 0 && longest > grace {
		return fmt.Sprintf("the %gs grace period is shorter than requests of up to %gs", grace, longest)
	}
	return ""
}

func (d *decision) summary(main *decision) string {
	root, sym := d.root, d.symptom
	var b strings.Builder
	if d.q.control {
		b.WriteString(d.verdict())
		b.WriteByte(' ')
	} else if s := d.unrelatedToMain(main); s != "" {
		b.WriteString(s)
		b.WriteByte(' ')
	}
	fmt.Fprintf(&b, "%s in %s (%s: %s).", capitalize(root.sig.Summary), d.ev.component(root.lead), root.lead.line.ID(), segment(root.lead))
	var steps []string
	for _, c := range d.chain[1:] {
		if c != sym {
			steps = append(steps, fmt.Sprintf("%s in %s (%s: %s)", c.sig.Summary, d.ev.component(c.lead), c.lead.line.ID(), segment(c.lead)))
		}
	}
	if len(steps) > 0 {
		fmt.Fprintf(&b, " It led to %s.", strings.Join(steps, ", then "))
	}
	if sym != nil && sym != root {
		fmt.Fprintf(&b, " Symptom: %s, %s", sym.sig.Summary, lines(len(sym.hits)))
		if !sym.first.IsZero() {
			fmt.Fprintf(&b, " from %s", clock(sym.first))
		}
		fmt.Fprintf(&b, " (%s).", sym.hits[0].line.ID())
	}
	return b.String()
}

// verdict answers a control question: yes or no, and why.
func (d *decision) verdict() string {
	if m := d.elsewhere; m != nil {
		return fmt.Sprintf("No, it would not help: it acts on container %s, but the container that fails is %s (%s: %s).",
			m.asked, m.fails, m.where.line.ID(), segment(m.where))
	}
	s := d.suspect
	if s == nil {
		return fmt.Sprintf("No evidence that it did: no line matches %q, so nothing shows it is related to the %s; it is not the cause the evidence points to.", d.q.suspect, d.symptomName())
	}
	desc := d.describe(s)
	switch {
	case d.q.remedy && d.related:
		return fmt.Sprintf("Probably yes: the %s stop after the %s.", d.symptomName(), desc)
	case d.q.remedy:
		return fmt.Sprintf("No, it did not: %s (the action: %s).", s.why, desc)
	case !d.related && d.q.causal:
		return fmt.Sprintf("No. The %s is not the cause of the %s: %s.", desc, d.symptomName(), s.why)
	case !d.related:
		return fmt.Sprintf("No. The %s is not related to the %s: %s.", desc, d.symptomName(), s.why)
	case s == d.root:
		return fmt.Sprintf("Yes. The %s is the root cause of the %s.", desc, d.symptomName())
	case slices.Contains(d.triggers, s):
		return fmt.Sprintf("Yes. The %s set off the root cause of the %s.", desc, d.symptomName())
	}
	return fmt.Sprintf("Yes. The %s is part of the causal chain that led to the %s.", desc, d.symptomName())
}

// unrelatedToMain says, for a question about one entity, whether what it
// asks about is part of the incident's main failure.
func (d *decision) unrelatedToMain(main *decision) string {
	if main == nil || main.root == nil || main.fallback || main.symptom == nil || main.symptom.sig.Category != Symptom {
		return ""
	}
	// A question that names what users see is about the incident itself.
	for _, m := range d.q.named {
		if m.Category == Symptom {
			return ""
		}
	}
	for _, c := range main.chain {
		if c.key == d.root.key && c.sig == d.root.sig {
			return ""
		}
	}
	if main.root.key == d.root.key && sameFamily(main.root, d.root) {
		return ""
	}
	why := "it is in " + d.ev.component(d.root.lead) + ", apart from that chain"
	for _, c := range main.cands {
		if c.key == d.root.key && c.sig == d.root.sig && c.why != "" {
			why = c.why
		}
	}
	return fmt.Sprintf("This is not related to the %s, whose root cause is %s in %s (%s): %s.",
		main.symptom.sig.Summary, main.root.sig.Summary, main.ev.component(main.root.lead), main.root.lead.line.ID(), why)
}

// describe names a candidate in prose: its failure and where.
func (d *decision) describe(c *candidate) string {
	if c.sig.Name == "suspect" {
		return fmt.Sprintf("%q logged by %s (%s)", segment(c.lead), d.ev.component(c.lead), c.lead.line.ID())
	}
	return fmt.Sprintf("%s in %s (%s)", c.sig.Summary, d.ev.where(c.lead), c.lead.line.ID())
}

func (d *decision) notEnough(ans *causeway.Answer) {
	ans.RootCause = NotEnoughEvidence
	n := len(d.ev.pack.Lines)
	prefix := ""
	if d.q.control {
		prefix = d.verdict() + " "
	}
	if sym := d.symptom; sym != nil {
		ans.Summary = prefix + fmt.Sprintf("The evidence shows %s (%s", sym.sig.Summary, lines(len(sym.hits)))
		if !sym.first.IsZero() {
			ans.Summary += fmt.Sprintf(" from %s to %s", clock(sym.first), clock(sym.last))
		}
		ans.Summary += ") but no known failure that precedes it and could explain it."
		ans.Claims = append(ans.Claims, symptomClaim(sym))
		ans.OpenQuestions = append(ans.OpenQuestions, fmt.Sprintf(
			"Which component fails first? None of the %d lines in the evidence matches a known cause near the %s; add the logs, events and object status of the components the failing requests pass through, or widen the window.",
			n, sym.sig.Summary))
		ans.Confidence = 0.1
		return
	}
	ans.Summary = prefix + fmt.Sprintf("None of the %d lines in the evidence matches a known failure signature.", n)
	ans.OpenQuestions = append(ans.OpenQuestions,
		"What is the symptom, and when did it start? Add the logs of the failing component and of what it depends on for that time.")
	ans.Confidence = 0.05
}

// timingClaim places the root's first sign against the symptom's first.
func (d *decision) timingClaim() (causeway.Claim, bool) {
	root, sym := d.root, d.symptom
	if sym == nil || sym == root {
		return causeway.Claim{}, false
	}
	// The failure's first sign may come through a sibling signature: a
	// node's DiskPressure before the first "no space left on device".
	first, firstSig := root.hits[0], root.sig
	for _, k := range d.kin {
		if !k.first.IsZero() && (first.at.IsZero() || k.first.Before(first.at)) {
			first, firstSig = k.hits[0], k.sig
		}
	}
	t := first.at
	if t.IsZero() || sym.first.IsZero() {
		return causeway.Claim{}, false
	}
	var text string
	if dur := sym.first.Sub(t); dur >= 0 {
		text = fmt.Sprintf("The first sign of it, %s, is at %s, %s before the first %s at %s.",
			firstSig.Summary, clock(t), duration(dur), sym.sig.Summary, clock(sym.first))
	} else {
		text = fmt.Sprintf("The first %s line (%s) comes %s after the first %s (%s); the fault was probably present before it was logged.",
			firstSig.Summary, clock(t), duration(-dur), sym.sig.Summary, clock(sym.first))
	}
	return causeway.Claim{Text: text, Citations: append(cites(first), cites(sym.hits[0])...)}, true
}

// recurrenceClaim says, for a symptom that came in bursts, how the
// failure on the chain that recurs with it lines up with them, citing two
// other bursts and what preceded each.
func (d *decision) recurrenceClaim() (causeway.Claim, bool) {
	if len(d.episodes) == 0 {
		return causeway.Claim{}, false
	}
	for _, c := range d.chain {
		if c == d.symptom || c.first.IsZero() {
			continue
		}
		covered, pairs := d.recurrence(c)
		if covered < 2 {
			continue
		}
		first, last := d.episodes[0], d.episodes[len(d.episodes)-1]
		text := fmt.Sprintf("The %s came in %d bursts between %s and %s; %s came before %d of them",
			d.symptomName(), len(d.episodes), clock(first.first), clock(last.last), c.sig.Summary, covered)
		var cs []causeway.Citation
		for i, p := range pairs {
			sep := ", e.g."
			if i > 0 {
				sep = " and"
			}
			text += fmt.Sprintf("%s at %s (%s) before the burst at %s (%s)", sep, clock(p[0].first), p[0].lead.line.ID(), clock(p[1].first), p[1].hits[0].line.ID())
			cs = append(cs, cites(p[0].lead)...)
			cs = append(cs, cites(p[1].hits[0])...)
		}
		return causeway.Claim{Text: text + ".", Citations: cs}, true
	}
	return causeway.Claim{}, false
}

func symptomClaim(sym *candidate) causeway.Claim {
	first, last := sym.hits[0], sym.hits[len(sym.hits)-1]
	c := causeway.Claim{Citations: cites(first)}
	if sym.first.IsZero() {
		c.Text = fmt.Sprintf("%s show %s.", capitalize(lines(len(sym.hits))), sym.sig.Summary)
	} else {
		c.Text = fmt.Sprintf("%s show %s between %s and %s.", capitalize(lines(len(sym.hits))), sym.sig.Summary, clock(sym.first), clock(sym.last))
	}
	if last.line != first.line {
		c.Citations = append(c.Citations, cites(last)...)
	}
	return c
}

// remediation gathers the fixes of the root, its own failure seen
// elsewhere, what set it off and the chain, root first.
func (d *decision) remediation() []string {
	out := []string{}
	seen := map[string]bool{}
	var sigs []*matcher
	sigs = append(sigs, d.root.sig)
	for _, c := range d.kin {
		sigs = append(sigs, c.sig)
	}
	for _, c := range d.triggers {
		sigs = append(sigs, c.sig)
	}
	for _, c := range d.chain {
		// Steps that are faults of their own have fixes worth naming; a
		// generic error or a symptom's advice adds little to the root's.
		if c.sig.Category == Cause && c.sig.Weight >= 5 {
			sigs = append(sigs, c.sig)
		}
	}
	for _, m := range sigs {
		for _, r := range m.Remediation {
			if !seen[r] && len(out) < 5 {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out
}

func (d *decision) openQuestions() []string {
	root, sym := d.root, d.symptom
	out := []string{}
	for _, c := range d.rivals {
		if c.rank >= 0.6*root.rank && len(out) < 3 {
			out = append(out, fmt.Sprintf("Could the %s in %s (%s) be the cause instead? It is nearly as likely from the evidence.",
				c.sig.Summary, d.ev.where(c.lead), c.lead.line.ID()))
		}
	}
	switch {
	case root.synthetic:
		out = append(out, fmt.Sprintf("No line shows the %s itself; confirm it with the metric or alert that reported it.", root.sig.Summary))
	case d.fallback:
		out = append(out, fmt.Sprintf("What makes %s fail? Its previous container logs (kubectl logs --previous), termination reason and events are not in the evidence, or show no known failure.",
			d.ev.component(root.lead)))
	}
	if sym == nil && !d.focused {
		out = append(out,
			"Which failure does the question ask about? No line shows a known symptom (HTTP errors, connection failures), so causes were ranked on their own.")
	} else if sym != nil && !root.first.IsZero() && !sym.first.IsZero() && root.first.After(sym.first) {
		out = append(out, fmt.Sprintf(
			"Was the %s already present before %s? Its first line in the evidence is later than the first symptom.",
			root.sig.Summary, clock(sym.first)))
	}
	return out
}

// confidence grows with the margin over the next best cause, with a chain
// in time order and with corroboration, and stays low for an answer that
// says what fails rather than why.
func (d *decision) confidence() float64 {
	root, sym := d.root, d.symptom
	second := 0.0
	if len(d.rivals) > 0 {
		second = d.rivals[0].rank
	}
	conf := 0.4
	if root.rank > 0 {
		conf += 0.3 * max(root.rank-second, 0) / root.rank
	}
	if len(d.chain) >= 3 {
		conf += 0.05 // the propagation to the symptom is shown step by step
	}
	switch {
	case sym == nil:
		conf -= 0.15
	case sym == root:
	case root.first.IsZero() || sym.first.IsZero():
	case root.first.After(sym.first):
		conf -= 0.05
	default:
		conf += 0.1
	}
	if len(root.sources) > 1 || len(d.kin) > 0 {
		conf += 0.05
	}
	if len(root.chat) > 0 {
		conf += 0.05
	}
	if d.recurs(root) {
		conf += 0.05 // it came back with every burst
	}
	// Pattern matching is never certain: even a complete, corroborated
	// chain keeps some doubt.
	hi := 0.9
	switch {
	case root.synthetic:
		hi = 0.45
	case d.fallback:
		hi = 0.35
	case root.sig.Weight <= 3:
		hi = 0.4
	}
	return float64(int(min(max(conf, 0.2), hi)*100+0.5)) / 100
}

// maxMeaning bounds the meaning of an access log's flags quoted in a step.
const maxMeaning = 200

func (d *decision) stepText(c *candidate, h hit) string {
	// An access log line's flags and details, in plain words, say what
	// the proxy did: "UO: upstream overflow: circuit breaker or
	// connection pool limit reached (503)".
	meaning := ""
	if m := oneLine(h.line.Attrs["response_meaning"]); m != "" && c == d.symptom {
		if len(m) > maxMeaning {
			m = strings.TrimSpace(m[:maxMeaning]) + "..."
		}
		meaning = " (" + m + ")"
	}
	switch {
	case c == d.symptom && c != d.root && len(c.hits) == 1 || c.first.IsZero():
		return fmt.Sprintf("%s in %s%s.", capitalize(c.sig.Summary), d.ev.where(h), meaning)
	case c == d.symptom && c != d.root:
		return fmt.Sprintf("%s in %s: %s from %s to %s%s.", capitalize(c.sig.Summary), d.ev.where(h), lines(len(c.hits)), clock(c.first), clock(c.last), meaning)
	case c == d.root:
		return fmt.Sprintf("%s in %s, first at %s.", capitalize(c.sig.Summary), d.ev.where(h), clock(c.first))
	}
	return fmt.Sprintf("%s in %s at %s.", capitalize(c.sig.Summary), d.ev.where(h), clock(h.line.Time))
}

// cites cites a hit's line with a quote that verifies, or not at all.
func cites(h hit) []causeway.Citation {
	for _, q := range []string{excerpt(h, 120), h.line.Text[h.start:h.end], strings.TrimSpace(h.line.Text)} {
		if quoteOK(q, h.line.Text) {
			return []causeway.Citation{{ID: h.line.ID(), Quote: q}}
		}
	}
	return nil
}

// quoteOK reports whether q is a quote any verifier accepts: a non-empty
// span of the text, valid UTF-8, without surrounding space, and not cut
// inside something that looks like a prompt delimiter (which the prompt
// rewrites in the text but not in a cut quote).
func quoteOK(q, text string) bool {
	if q == "" || q != strings.TrimSpace(q) || !utf8.ValidString(q) || !strings.Contains(text, q) {
		return false
	}
	if i := strings.LastIndexByte(q, '<'); i >= 0 && len(q)-i < len("</evidence") {
		return false
	}
	return !strings.ContainsAny(q, "\r\n\v\f")
}

// excerpt is a verbatim span of the hit's line around the match, about
// width bytes, cut at word boundaries: distinctive, and short enough to read.
func excerpt(h hit, width int) string {
	text := h.line.Text
	if len(text) <= width+width/2 {
		return strings.TrimSpace(text)
	}
	mStart, mEnd := h.start, min(h.end, h.start+width)
	start, end := mStart, mEnd
	if pad := width - (mEnd - mStart); pad > 0 {
		// A line usually says what failed before the match and why after
		// it ("Accepted=False reason=...: <message>"): give the right more.
		start, end = max(0, start-pad/4), min(len(text), end+pad-pad/4)
	}
	// Cut where a word or a JSON value ends, not inside one.
	const boundary = " \t,;{}[]"
	if start > 0 {
		if i := strings.IndexAny(text[start:mStart], boundary); i >= 0 {
			start += i + 1
		}
	}
	if end < len(text) {
		if i := strings.LastIndexAny(text[mEnd:end], boundary); i >= 0 {
			end = mEnd + i
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
	if open := lastUnescapedQuote(text[:h.start]); open >= 0 && countUnescapedQuotes(text[:h.start])%2 == 1 {
		if end := firstUnescapedQuote(text[h.end:]); end >= 0 {
			if s := strings.TrimSpace(text[open+1 : h.end+end]); len(s) >= 24 && len(s) <= 300 {
				return oneLine(s)
			}
		}
	}
	return oneLine(strings.Trim(excerpt(h, max(100, min(h.end-h.start+20, 200))), " {[,;:="))
}

// Quotes preceded by a backslash are part of a string, not its end.
func isUnescapedQuote(s string, i int) bool { return s[i] == '"' && (i == 0 || s[i-1] != '\\') }

func countUnescapedQuotes(s string) int {
	n := 0
	for i := range len(s) {
		if isUnescapedQuote(s, i) {
			n++
		}
	}
	return n
}

func lastUnescapedQuote(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if isUnescapedQuote(s, i) {
			return i
		}
	}
	return -1
}

func firstUnescapedQuote(s string) int {
	for i := range len(s) {
		if isUnescapedQuote(s, i) {
			return i
		}
	}
	return -1
}

// prose is a fact's matched span, short and on one line.
func prose(h hit) string {
	s := strings.TrimSpace(h.line.Text[h.start:h.end])
	if len(s) > 100 {
		s = excerpt(h, 100)
	}
	return oneLine(s)
}

func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n\t") {
		s = strings.Join(strings.Fields(s), " ")
	}
	return s
}

func lines(n int) string {
	if n == 1 {
		return "1 line"
	}
	return fmt.Sprintf("%d lines", n)
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
