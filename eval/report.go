package eval

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// Result is the score of one case answered by one model at one budget.
// Its JSON field names are what reports are compared by.
type Result struct {
	ID     string `json:"id"`
	Model  string `json:"model"`
	Budget int    `json:"budget"`

	RootCauseHit bool       `json:"root_cause_hit"`
	Judge        *Judgement `json:"judge,omitempty"`
	// EvidenceRecallPacked is the share of expected evidence lines that
	// were in the pack; EvidenceRecallCited the share cited with a
	// verified citation.
	EvidenceRecallPacked float64 `json:"evidence_recall_packed"`
	EvidenceRecallCited  float64 `json:"evidence_recall_cited"`
	CitationsTotal       int     `json:"citations_total"`
	CitationsVerified    int     `json:"citations_verified"`
	GroundedRatio        float64 `json:"grounded_ratio"`
	// ControlCorrect is the share of control questions answered right;
	// absent when the case has none.
	ControlCorrect *float64        `json:"control_correct,omitempty"`
	Control        []ControlResult `json:"control,omitempty"`

	// Tokens, time and cost cover the main question and the control
	// questions.
	TokensIn     int     `json:"tokens_in"`
	TokensOut    int     `json:"tokens_out"`
	TokensCached int     `json:"tokens_cached"`
	WallMS       int64   `json:"wall_ms"`
	CostUSD      float64 `json:"cost_usd"`
	// Unpriced says the model has no price, so CostUSD is 0 for want of
	// one rather than because it was free.
	Unpriced bool `json:"unpriced,omitempty"`

	// ImportMS is how long the case's import took; it is shared by every
	// model and budget of the case and not part of WallMS.
	ImportMS int64 `json:"import_ms"`

	// What the scores were computed from.
	Evidence          int        `json:"evidence"`
	PackTokens        int        `json:"pack_tokens"`
	PackLines         int        `json:"pack_lines"`
	TotalLines        int64      `json:"total_lines"`
	RootCause         string     `json:"root_cause"`
	ExpectedRootCause string     `json:"expected_root_cause"`
	MissingKeywords   [][]string `json:"missing_keywords,omitempty"`
	NotPacked         []string   `json:"not_packed,omitempty"`
	NotCited          []string   `json:"not_cited,omitempty"`
	// Unverified lists the main answer's citations that failed, as
	// "status ID \"quote\"".
	Unverified []string `json:"unverified,omitempty"`
	// Problems are expected evidence lines that did not resolve to
	// exactly one line of the incident.
	Problems []string `json:"problems,omitempty"`
	Error    string   `json:"error,omitempty"`

	IncidentID      int64 `json:"incident_id,omitempty"`
	InvestigationID int64 `json:"investigation_id,omitempty"`

	// Prior is what memory recalled for the answer (none without a
	// memory); Confirmed says a memory run confirmed the answer, so that
	// later cases may recall it.
	Prior     []PriorUse `json:"prior,omitempty"`
	Confirmed bool       `json:"confirmed,omitempty"`
}

// Key names a result within a report: case, model and budget.
func (r *Result) Key() string { return fmt.Sprintf("%s %s@%d", r.ID, r.Model, r.Budget) }

// ControlResult is one control question's answer and score.
type ControlResult struct {
	Question          string     `json:"question"`
	Correct           bool       `json:"correct"`
	Answer            string     `json:"answer"`
	MissingKeywords   [][]string `json:"missing_keywords,omitempty"`
	CitationsTotal    int        `json:"citations_total"`
	CitationsVerified int        `json:"citations_verified"`
	Unverified        []string   `json:"unverified,omitempty"`
	Error             string     `json:"error,omitempty"`
}

// Summary is the mean of every score over the cases one model answered at
// one budget.
type Summary struct {
	Model  string `json:"model"`
	Budget int    `json:"budget"`
	Cases  int    `json:"cases"`
	Errors int    `json:"errors"`

	RootCauseHit         float64  `json:"root_cause_hit"`
	JudgeMatch           *float64 `json:"judge_match,omitempty"`
	EvidenceRecallPacked float64  `json:"evidence_recall_packed"`
	EvidenceRecallCited  float64  `json:"evidence_recall_cited"`
	CitationsTotal       float64  `json:"citations_total"`
	CitationsVerified    float64  `json:"citations_verified"`
	GroundedRatio        float64  `json:"grounded_ratio"`
	ControlCorrect       *float64 `json:"control_correct,omitempty"`
	PackTokens           float64  `json:"pack_tokens"`
	TokensIn             float64  `json:"tokens_in"`
	TokensOut            float64  `json:"tokens_out"`
	TokensCached         float64  `json:"tokens_cached"`
	WallMS               float64  `json:"wall_ms"`
	CostUSD              float64  `json:"cost_usd"`
}

// Report is one eval run.
type Report struct {
	Set     string    `json:"set"`
	Started time.Time `json:"started"`
	WallMS  int64     `json:"wall_ms"`
	Cases   []Result  `json:"cases"`
	Summary []Summary `json:"summary"`
}

// Summarize computes Summary from Cases: one entry per model and budget,
// in the order they first appear.
func (r *Report) Summarize() {
	r.Summary = nil
	index := map[string]int{}
	type acc struct {
		judged, judgeHits   int
		controlled          int
		controlSum          float64
		s                   *Summary
		hit, packed, cited  float64
		total, verified     float64
		grounded            float64
		in, out, cached, ms float64
		cost, pack          float64
	}
	var accs []*acc
	for i := range r.Cases {
		c := &r.Cases[i]
		key := fmt.Sprintf("%s@%d", c.Model, c.Budget)
		k, ok := index[key]
		if !ok {
			k = len(accs)
			index[key] = k
			accs = append(accs, &acc{s: &Summary{Model: c.Model, Budget: c.Budget}})
		}
		a := accs[k]
		a.s.Cases++
		if c.Error != "" {
			a.s.Errors++
		}
		if c.RootCauseHit {
			a.hit++
		}
		if c.Judge != nil && c.Judge.Error == "" {
			a.judged++
			if c.Judge.Match {
				a.judgeHits++
			}
		}
		if c.ControlCorrect != nil {
			a.controlled++
			a.controlSum += *c.ControlCorrect
		}
		a.packed += c.EvidenceRecallPacked
		a.cited += c.EvidenceRecallCited
		a.total += float64(c.CitationsTotal)
		a.verified += float64(c.CitationsVerified)
		a.grounded += c.GroundedRatio
		a.pack += float64(c.PackTokens)
		a.in += float64(c.TokensIn)
		a.out += float64(c.TokensOut)
		a.cached += float64(c.TokensCached)
		a.ms += float64(c.WallMS)
		a.cost += c.CostUSD
	}
	for _, a := range accs {
		n := float64(a.s.Cases)
		s := a.s
		s.RootCauseHit, s.EvidenceRecallPacked, s.EvidenceRecallCited = a.hit/n, a.packed/n, a.cited/n
		s.CitationsTotal, s.CitationsVerified, s.GroundedRatio = a.total/n, a.verified/n, a.grounded/n
		s.PackTokens, s.TokensIn, s.TokensOut, s.TokensCached, s.WallMS, s.CostUSD = a.pack/n, a.in/n, a.out/n, a.cached/n, a.ms/n, a.cost/n
		if a.judged > 0 {
			v := float64(a.judgeHits) / float64(a.judged)
			s.JudgeMatch = &v
		}
		if a.controlled > 0 {
			v := a.controlSum / float64(a.controlled)
			s.ControlCorrect = &v
		}
		r.Summary = append(r.Summary, *s)
	}
}

// SortCases orders the results by case, model and budget (largest budget
// first), the order reports show them in.
func (r *Report) SortCases() {
	slices.SortStableFunc(r.Cases, func(a, b Result) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Model, b.Model), cmp.Compare(b.Budget, a.Budget))
	})
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write eval report: %w", err)
	}
	return nil
}

// ReadReport reads a JSON report written by WriteJSON.
func ReadReport(name string) (*Report, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, &causeway.Error{Code: causeway.EINVALID, Message: "read eval report", Err: err}
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, &causeway.Error{Code: causeway.EINVALID, Message: "eval report " + name, Err: err}
	}
	return &r, nil
}

// WriteMarkdown writes the report for people: the summary table, one row
// per case, and every miss with what was expected and what was given.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Eval of %s\n\n", r.Set)
	fmt.Fprintf(&b, "%s of %s, started %s, took %s.\n\n", count(len(r.Cases), "run"), count(countCases(r.Cases), "case"),
		r.Started.UTC().Format(time.RFC3339), fmtMS(float64(r.WallMS)))

	b.WriteString("## Summary\n\n")
	b.WriteString("| model | budget | cases | root cause | judge | evidence packed | evidence cited | citations verified | grounded | control | pack tokens | tokens in | tokens out | cached | wall | cost |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range r.Summary {
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %.1f / %.1f | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			s.Model, thousands(int64(s.Budget)), s.Cases, pct(s.RootCauseHit), optPct(s.JudgeMatch),
			pct(s.EvidenceRecallPacked), pct(s.EvidenceRecallCited), s.CitationsVerified, s.CitationsTotal,
			pct(s.GroundedRatio), optPct(s.ControlCorrect), thousands(int64(s.PackTokens)), thousands(int64(s.TokensIn)),
			thousands(int64(s.TokensOut)), thousands(int64(s.TokensCached)), fmtMS(s.WallMS), dollars(s.CostUSD))
	}
	b.WriteString("\nMeans per case. Root cause, judge and control are the share answered right; pack tokens are the evidence packed, by Causeway's count; tokens in, out and cached are what the model reported (the builtin model reads the pack and reports none).\n\n")

	b.WriteString("## Cases\n\n")
	b.WriteString("| case | model | budget | root cause | evidence packed | evidence cited | citations verified | control | pack tokens | tokens in | wall |\n")
	b.WriteString("|---|---|--:|:-:|--:|--:|--:|--:|--:|--:|--:|\n")
	for i := range r.Cases {
		c := &r.Cases[i]
		hit := "miss"
		if c.RootCauseHit {
			hit = "hit"
		}
		if c.Error != "" {
			hit = "error"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d / %d | %s | %s | %s | %s |\n",
			c.ID, c.Model, thousands(int64(c.Budget)), hit, ofEvidence(c.EvidenceRecallPacked, c.Evidence),
			ofEvidence(c.EvidenceRecallCited, c.Evidence), c.CitationsVerified, c.CitationsTotal, controlCell(c),
			thousands(int64(c.PackTokens)), thousands(int64(c.TokensIn)), fmtMS(float64(c.WallMS)))
	}

	b.WriteString("\n## Misses\n")
	misses := 0
	for i := range r.Cases {
		if writeMiss(&b, &r.Cases[i]) {
			misses++
		}
	}
	if misses == 0 {
		b.WriteString("\nNone: every root cause hit, every expected line was packed and cited, every control question was answered right and every citation verified.\n")
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write eval report: %w", err)
	}
	return nil
}

// writeMiss writes what a result got wrong and reports whether it got
// anything wrong.
func writeMiss(b *strings.Builder, c *Result) bool {
	var items []string
	if c.Error != "" {
		items = append(items, "Error: "+c.Error)
	}
	if !c.RootCauseHit {
		items = append(items, fmt.Sprintf("Root cause missed (no term of %s).\n  - Expected: %s\n  - Given: %s",
			groups(c.MissingKeywords), oneLine(c.ExpectedRootCause), orNone(oneLine(c.RootCause))))
	}
	if c.Judge != nil && c.Judge.Error == "" && !c.Judge.Match {
		items = append(items, fmt.Sprintf("Judge %s: no match: %s", c.Judge.Model, oneLine(c.Judge.Reason)))
	}
	for _, p := range c.Problems {
		items = append(items, "Answer key: "+p)
	}
	for _, e := range c.NotPacked {
		items = append(items, "Not packed: "+e)
	}
	for _, e := range c.NotCited {
		items = append(items, "Not cited: "+e)
	}
	for _, u := range c.Unverified {
		items = append(items, "Citation failed: "+u)
	}
	for _, cr := range c.Control {
		switch {
		case cr.Error != "":
			items = append(items, fmt.Sprintf("Control %q: error: %s", cr.Question, cr.Error))
		case !cr.Correct:
			items = append(items, fmt.Sprintf("Control %q answered wrong (no term of %s): %s", cr.Question, groups(cr.MissingKeywords), orNone(oneLine(cr.Answer))))
		}
		for _, u := range cr.Unverified {
			items = append(items, fmt.Sprintf("Control %q: citation failed: %s", cr.Question, u))
		}
	}
	if len(items) == 0 {
		return false
	}
	fmt.Fprintf(b, "\n### %s · %s · %s\n\n", c.ID, c.Model, thousands(int64(c.Budget)))
	for _, it := range items {
		b.WriteString("- " + it + "\n")
	}
	return true
}

func countCases(rs []Result) int {
	ids := map[string]bool{}
	for _, r := range rs {
		ids[r.ID] = true
	}
	return len(ids)
}

// count writes "1 case", "2 cases".
func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func controlCell(c *Result) string {
	if len(c.Control) == 0 {
		return "–"
	}
	right := 0
	for _, cr := range c.Control {
		if cr.Correct {
			right++
		}
	}
	return fmt.Sprintf("%d / %d", right, len(c.Control))
}

func ofEvidence(ratio float64, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%d / %d", int(ratio*float64(n)+0.5), n)
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

func optPct(f *float64) string {
	if f == nil {
		return "–"
	}
	return pct(*f)
}

func dollars(f float64) string {
	if f == 0 {
		return "$0"
	}
	return fmt.Sprintf("$%.4f", f)
}

func fmtMS(ms float64) string {
	if ms < 1000 {
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.1f s", ms/1000)
}

// thousands writes n with comma separators: 1,000,000.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func groups(gs [][]string) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = "[" + strings.Join(g, ", ") + "]"
	}
	return strings.Join(parts, " ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
