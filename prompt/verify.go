package prompt

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/causeway-rca/causeway"
)

// LineLookup finds an incident's lines by short id. Verify uses it to tell a
// line that exists but was not sent (not_in_context) from one that does not
// exist at all (unknown_id). Nums with no line are absent from the map.
type LineLookup interface {
	LinesByNum(ctx context.Context, incidentID int64, nums []int64) (map[int64]causeway.Line, error)
}

// Verify checks every citation of ans against the pack that was sent:
// the cited line must be in the pack and the quote must be in that line,
// after whitespace is normalized. A quote may also be the whole rendered
// line, and "..." around it is ignored; an empty quote never matches. With a
// nil lookup, lines outside the pack cannot be told apart and count as
// unknown_id.
func Verify(ctx context.Context, ans *causeway.Answer, pack *causeway.Pack, lookup LineLookup) (*causeway.Verdict, error) {
	v := &causeway.Verdict{Citations: []causeway.CitationVerdict{}}
	if ans == nil {
		return v, nil
	}
	sent := make(map[int64]*causeway.Line)
	var incidentID int64
	if pack != nil {
		incidentID = pack.IncidentID
		for i := range pack.Lines {
			sent[pack.Lines[i].Num] = &pack.Lines[i]
		}
	}

	prior := make(map[string]*causeway.Prior)
	if pack != nil {
		for i := range pack.Prior {
			prior[strings.ToUpper(pack.Prior[i].ID)] = &pack.Prior[i]
		}
	}

	var outside []int64
	for _, c := range located(ans) {
		cv := causeway.CitationVerdict{Citation: c.Citation, Where: c.where}
		// Prior knowledge (D12) is checked against what was shown of it.
		if p, isPrior := priorCited(prior, c.ID); isPrior {
			cv.Status = causeway.CitationUnknownID
			if p != nil {
				cv.Line = p.Text
				cv.Status = causeway.CitationQuoteMismatch
				if QuoteMatches(c.Quote, &causeway.Line{Text: p.Title + "\n" + p.Text}) {
					cv.Status = causeway.CitationVerified
				}
			}
			v.Citations = append(v.Citations, cv)
			continue
		}
		n, ok := causeway.ParseLineID(c.ID)
		switch l := sent[n]; {
		case !ok:
			cv.Status = causeway.CitationUnknownID
		case l == nil:
			outside = append(outside, n)
		default:
			cv.Line = l.Text
			cv.Status = causeway.CitationQuoteMismatch
			if QuoteMatches(c.Quote, l) {
				cv.Status = causeway.CitationVerified
			}
		}
		v.Citations = append(v.Citations, cv)
	}

	if len(outside) > 0 {
		found, err := lookupLines(ctx, lookup, incidentID, outside)
		if err != nil {
			return nil, err
		}
		for i := range v.Citations {
			cv := &v.Citations[i]
			if cv.Status != "" {
				continue
			}
			n, _ := causeway.ParseLineID(cv.ID)
			cv.Status = causeway.CitationUnknownID
			if l, ok := found[n]; ok {
				cv.Status = causeway.CitationNotInContext
				cv.Line = l.Text
			}
		}
	}

	for _, cv := range v.Citations {
		v.Total++
		switch cv.Status {
		case causeway.CitationVerified:
			v.Verified++
		case causeway.CitationUnknownID:
			v.UnknownID++
		case causeway.CitationNotInContext:
			v.NotInContext++
		case causeway.CitationQuoteMismatch:
			v.QuoteMismatch++
		}
	}
	if v.Total > 0 {
		v.GroundedRatio = float64(v.Verified) / float64(v.Total)
	}
	judgeClaims(v, ans)
	return v, nil
}

// judgeClaims gives every statement of the answer its verdict from those of
// its citations: grounded when all verified, partial when some did,
// ungrounded when none did or it cites nothing.
func judgeClaims(v *causeway.Verdict, ans *causeway.Answer) {
	type tally struct{ verified, total int }
	byWhere := make(map[string]tally, len(v.Citations))
	for _, cv := range v.Citations {
		t := byWhere[cv.Where]
		t.total++
		if cv.Status == causeway.CitationVerified {
			t.verified++
		}
		byWhere[cv.Where] = t
	}
	add := func(where, text string) {
		t := byWhere[where]
		cv := causeway.ClaimVerdict{Where: where, Text: text, Verified: t.verified, Total: t.total}
		switch {
		case t.total > 0 && t.verified == t.total:
			cv.Status = causeway.ClaimGrounded
			v.Grounded++
		case t.verified > 0:
			cv.Status = causeway.ClaimPartial
			v.Partial++
		default:
			cv.Status = causeway.ClaimUngrounded
			v.Ungrounded++
		}
		v.Claims = append(v.Claims, cv)
	}
	for i, s := range ans.CausalChain {
		add(fmt.Sprintf("causal_chain[%d]", i), s.Text)
	}
	for i, c := range ans.Claims {
		add(fmt.Sprintf("claims[%d]", i), c.Text)
	}
	for i, r := range ans.RuledOut {
		add(fmt.Sprintf("ruled_out[%d]", i), r.Hypothesis)
	}
	if n := len(v.Claims); n > 0 {
		v.ClaimsGroundedRatio = float64(v.Grounded) / float64(n)
	}
}

// Failures returns the verdicts of the citations that did not verify.
func Failures(v *causeway.Verdict) []causeway.CitationVerdict {
	if v == nil {
		return nil
	}
	var out []causeway.CitationVerdict
	for _, cv := range v.Citations {
		if cv.Status != causeway.CitationVerified {
			out = append(out, cv)
		}
	}
	return out
}

func lookupLines(ctx context.Context, lookup LineLookup, incidentID int64, nums []int64) (map[int64]causeway.Line, error) {
	if lookup == nil {
		return nil, nil
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	uniq := nums[:0]
	for i, n := range nums {
		if i == 0 || n != nums[i-1] {
			uniq = append(uniq, n)
		}
	}
	found, err := lookup.LinesByNum(ctx, incidentID, uniq)
	if err != nil {
		return nil, fmt.Errorf("look up %d cited lines outside the context of incident %d: %w", len(uniq), incidentID, err)
	}
	return found, nil
}

type locatedCitation struct {
	causeway.Citation
	where string
}

// located lists the citations in the order of Answer.Citations, each with
// the part of the answer it supports.
func located(a *causeway.Answer) []locatedCitation {
	var out []locatedCitation
	add := func(part string, i int, cs []causeway.Citation) {
		for _, c := range cs {
			out = append(out, locatedCitation{Citation: c, where: fmt.Sprintf("%s[%d]", part, i)})
		}
	}
	for i, s := range a.CausalChain {
		add("causal_chain", i, s.Citations)
	}
	for i, c := range a.Claims {
		add("claims", i, c.Citations)
	}
	for i, r := range a.RuledOut {
		add("ruled_out", i, r.Citations)
	}
	return out
}

// QuoteMatches reports whether quote is verbatim evidence from l: after
// whitespace is collapsed and "..." around the quote is dropped, it is part
// of the line's text, or it is the rendered line (or a tail of it that holds
// the whole text). Delimiters that the prompt defused match in either form.
func QuoteMatches(quote string, l *causeway.Line) bool {
	q := normalizeQuote(quote)
	if q == "" {
		return false
	}
	text := normalizeSpace(defuse(l.Text))
	if strings.Contains(text, q) {
		return true
	}
	return strings.Contains(q, text) && strings.Contains(normalizeSpace(RenderLine(l)), q)
}

// normalizeQuote brings a quote to the form it is compared in: defused like
// the rendered line, whitespace collapsed, and without the quotation marks
// or ellipses that models put around an excerpt.
func normalizeQuote(q string) string {
	q = normalizeSpace(defuse(q))
	for {
		before := q
		for _, cut := range []string{"...", "…"} {
			q = strings.TrimPrefix(q, cut)
			q = strings.TrimSuffix(q, cut)
		}
		if len(q) >= 2 && isQuotePair(q[0], q[len(q)-1]) {
			q = q[1 : len(q)-1]
		}
		q = strings.TrimSpace(q)
		if q == before {
			return q
		}
	}
}

func isQuotePair(a, b byte) bool {
	return (a == '"' && b == '"') || (a == '\'' && b == '\'') || (a == '`' && b == '`')
}

// normalizeSpace collapses every run of whitespace to one space and trims
// the ends, so that a quote survives re-wrapping and tab/space changes.
func normalizeSpace(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// priorCited reports whether id names prior knowledge ("D12"), and the
// item when it was shown.
func priorCited(shown map[string]*causeway.Prior, id string) (*causeway.Prior, bool) {
	id = strings.ToUpper(strings.Trim(strings.TrimSpace(id), "[]"))
	if len(id) < 2 || id[0] != 'D' || strings.Trim(id[1:], "0123456789") != "" {
		return nil, false
	}
	return shown[id], true
}
