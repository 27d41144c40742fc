package builtin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/causeway-rca/causeway"
)

// digestHeader opens every digest, so that a model reads it as leads and
// not as the answer.
const digestHeader = "Known failure signatures the builtin analyzer matched in the evidence (deterministic pattern matching: leads to check against the lines, not conclusions):"

// maxDigestItems bounds the digest to a glance.
const maxDigestItems = 8

// Digest summarizes the strongest signals of a pack in a few lines: the
// likely root cause and the chain to the symptom, other strong candidates,
// what was ruled out and why, each with the id of the line that shows it.
// It depends on the pack alone, so that it is byte-identical for every
// question about the same pack and the prompt prefix stays cacheable. Its
// text is Causeway's own (signature summaries, line ids, times, counts and
// names reduced to safe characters), never copied from a line, so that a
// line cannot speak outside the evidence block through it.
func Digest(pack *causeway.Pack) string {
	if pack == nil || len(pack.Lines) == 0 {
		return ""
	}
	a := New()
	ev, err := a.scan(context.Background(), pack)
	if err != nil {
		return ""
	}
	d := ev.decide(ev.parseQuestion(""))
	var items []string
	add := func(label string, c *candidate) {
		if len(items) < maxDigestItems {
			items = append(items, "- "+label+": "+digestItem(ev, c))
		}
	}
	for _, c := range d.chain {
		switch {
		case c == d.root && d.fallback:
			add("failing, cause not shown", c)
		case c == d.root:
			add("likely root cause", c)
		case c == d.symptom:
			add("symptom", c)
		default:
			add("then", c)
		}
	}
	for _, c := range d.triggers {
		add("set off by", c)
	}
	if len(d.episodes) > 0 && len(items) < maxDigestItems {
		for _, c := range d.chain {
			if c == d.symptom || c.first.IsZero() {
				continue
			}
			if covered, _ := d.recurrence(c); covered >= 2 {
				items = append(items, fmt.Sprintf("- recurring: %d bursts of %s from %s to %s; %s came before %d of them",
					len(d.episodes), d.symptomName(), clock(d.episodes[0].first), clock(d.episodes[len(d.episodes)-1].last), c.sig.Summary, covered))
				break
			}
		}
	}
	var others []*candidate
	others = append(others, d.kin...)
	others = append(others, d.rivals...)
	slices.SortStableFunc(others, byRank)
	for _, c := range others[:min(len(others), 3)] {
		add("also seen", c)
	}
	for _, c := range d.ruledOut[:min(len(d.ruledOut), 2)] {
		if len(items) < maxDigestItems {
			items = append(items, "- ruled out ("+c.whyKind+"): "+digestItem(ev, c))
		}
	}
	if d.root != nil && len(d.root.chat) > 0 && len(items) < maxDigestItems {
		items = append(items, "- chat or tickets name the same failure: "+d.root.chat[0].line.ID())
	}
	if len(items) == 0 {
		return digestHeader + "\n- none: no line matches a known failure signature."
	}
	return digestHeader + "\n" + strings.Join(items, "\n")
}

// digestItem names a candidate for the digest: failure, place, first line,
// time span and size.
func digestItem(ev *evidence, c *candidate) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %s: %s", c.sig.Summary, safeName(ev.component(c.lead)), c.lead.line.ID())
	switch {
	case c.first.IsZero():
	case c.first.Equal(c.last):
		fmt.Fprintf(&b, " at %s", clock(c.first))
	default:
		fmt.Fprintf(&b, " from %s to %s", clock(c.first), clock(c.last))
	}
	fmt.Fprintf(&b, ", %s", lines(len(c.hits)))
	return b.String()
}

// safeName keeps a name to the characters Kubernetes names and file paths
// use, and to a glanceable length.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !isNameByte(c) && c != '/' && c != ':' && c != ' ' {
			b[i] = '?'
		}
	}
	if len(b) > 100 {
		b = append(b[:97], "..."...)
	}
	return string(b)
}
