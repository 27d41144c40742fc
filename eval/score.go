package eval

import (
	"fmt"
	"strings"

	"github.com/causeway-rca/causeway"
)

// MatchKeywords reports whether text has a term of every group, and the
// groups it misses. Terms match case-insensitively as whole words or
// phrases, so that "no" does not match "node" or "not"; camelCase and
// digits-to-letters boundaries count as word boundaries ("disk" matches
// "DiskPressure", "oom" matches "OOMKilled"), and a trailing "s" is allowed
// ("certificate" matches "certificates").
func MatchKeywords(text string, groups [][]string) (bool, [][]string) {
	var missing [][]string
	for _, g := range groups {
		hit := false
		for _, term := range g {
			if ContainsTerm(text, term) {
				hit = true
				break
			}
		}
		if !hit {
			missing = append(missing, g)
		}
	}
	return len(missing) == 0, missing
}

// ContainsTerm reports whether text holds term as a whole word or phrase;
// see MatchKeywords.
func ContainsTerm(text, term string) bool {
	term = strings.TrimSpace(term)
	if term == "" {
		return false
	}
	lt, lk := asciiLower(text), asciiLower(term)
	for from := 0; from <= len(lt)-len(lk); {
		i := strings.Index(lt[from:], lk)
		if i < 0 {
			return false
		}
		start := from + i
		end := start + len(lk)
		if end < len(text) && (text[end] == 's' || text[end] == 'S') && wordStart(text, end+1) {
			end++
		}
		if wordStart(text, start) && wordStart(text, end) {
			return true
		}
		from = start + 1
	}
	return false
}

// asciiLower lowers ASCII letters only, so that byte offsets stay those of
// the original text.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// wordStart reports whether a word may begin (or end) at offset i of s: at
// either end of s, next to a character that is not a letter or digit, or at
// a camelCase step (aB, ABc).
func wordStart(s string, i int) bool {
	if i <= 0 || i >= len(s) {
		return true
	}
	a, b := s[i-1], s[i]
	if !isAlnum(a) || !isAlnum(b) {
		return true
	}
	switch {
	case isLower(a) && isUpper(b):
		return true
	case isUpper(a) && isUpper(b) && i+1 < len(s) && isLower(s[i+1]):
		return true
	case isDigit(a) != isDigit(b) && isUpper(b):
		return true
	}
	return false
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isLower(c) || isUpper(c) || isDigit(c) || c >= 0x80 }

// Resolution is where an expected evidence line was found among an
// incident's lines.
type Resolution struct {
	Evidence
	// Matches counts the lines of Source that contain the substring.
	Matches int
	// Num is the matched line's short id when exactly one line matched.
	Num int64
	// Seqs are the positions in Source of the first few matches, for
	// messages.
	Seqs []int64
	// SourceSeen says Source has at least one line.
	SourceSeen bool
}

// Problem says why the evidence does not name exactly one line, "" when it
// does.
func (r Resolution) Problem() string {
	switch {
	case !r.SourceSeen:
		return fmt.Sprintf("evidence %s: source %s has no lines (missing file, or not a source of the bundle)", r.Evidence, r.Source)
	case r.Matches == 0:
		return fmt.Sprintf("evidence %s: matches no line of %s", r.Evidence, r.Source)
	case r.Matches > 1:
		return fmt.Sprintf("evidence %s: matches %d lines of %s (lines %s), want exactly one", r.Evidence, r.Matches, r.Source, seqList(r.Seqs, r.Matches))
	}
	return ""
}

func seqList(seqs []int64, total int) string {
	parts := make([]string, len(seqs))
	for i, s := range seqs {
		parts[i] = fmt.Sprint(s + 1)
	}
	if total > len(seqs) {
		parts = append(parts, "...")
	}
	return strings.Join(parts, ", ")
}

// Resolver finds expected evidence among lines fed to it one by one, so
// that an incident of a million lines is read once, streaming.
type Resolver struct {
	res []Resolution
	// bySource maps a source name to the indexes of its evidence.
	bySource map[string][]int
}

// maxSeqs is how many matching positions a Resolution keeps.
const maxSeqs = 5

// NewResolver returns a resolver for ev.
func NewResolver(ev []Evidence) *Resolver {
	r := &Resolver{res: make([]Resolution, len(ev)), bySource: map[string][]int{}}
	for i, e := range ev {
		r.res[i].Evidence = e
		r.bySource[e.Source] = append(r.bySource[e.Source], i)
	}
	return r
}

// Add looks for the evidence in one line. It never fails; its signature
// fits store.DB.ScanLines.
func (r *Resolver) Add(l causeway.Line) error {
	for _, i := range r.bySource[l.Source] {
		res := &r.res[i]
		res.SourceSeen = true
		if !strings.Contains(l.Text, res.Contains) {
			continue
		}
		res.Matches++
		if res.Matches == 1 {
			res.Num = l.Num
		} else {
			res.Num = 0
		}
		if len(res.Seqs) < maxSeqs {
			res.Seqs = append(res.Seqs, l.Seq)
		}
	}
	return nil
}

// Resolutions returns what was found, in the order of the evidence.
func (r *Resolver) Resolutions() []Resolution { return r.res }

// answerText is the text root-cause keywords are looked for in.
func answerText(a *causeway.Answer) string {
	if a == nil {
		return ""
	}
	return a.RootCause + "\n" + a.Summary
}

// controlText is the text a control answer's keywords are looked for in:
// root cause, summary, claims and what was ruled out.
func controlText(a *causeway.Answer) string {
	if a == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(a.RootCause + "\n" + a.Summary + "\n")
	for _, c := range a.Claims {
		b.WriteString(c.Text + "\n")
	}
	for _, r := range a.RuledOut {
		b.WriteString(r.Hypothesis + ": " + r.Why + "\n")
	}
	return b.String()
}

// recall scores expected evidence against a set of line ids: the share of
// the evidence whose line is in the set, and the evidence that is not.
// Evidence that did not resolve to one line counts as missing.
func recall(res []Resolution, in map[int64]bool) (float64, []string) {
	if len(res) == 0 {
		return 1, nil
	}
	var missing []string
	hit := 0
	for _, r := range res {
		if r.Num != 0 && in[r.Num] {
			hit++
			continue
		}
		missing = append(missing, r.Evidence.String())
	}
	return float64(hit) / float64(len(res)), missing
}

// verifiedCited returns the ids of the lines an answer cites with a
// verified citation.
func verifiedCited(v *causeway.Verdict) map[int64]bool {
	ids := map[int64]bool{}
	if v == nil {
		return ids
	}
	for _, c := range v.Citations {
		if c.Status != causeway.CitationVerified {
			continue
		}
		if n, ok := causeway.ParseLineID(c.ID); ok {
			ids[n] = true
		}
	}
	return ids
}

// packed returns the ids of a pack's lines.
func packed(p *causeway.Pack) map[int64]bool {
	ids := map[int64]bool{}
	if p == nil {
		return ids
	}
	for i := range p.Lines {
		ids[p.Lines[i].Num] = true
	}
	return ids
}
