package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/store"
)

// PriorUse is one item memory recalled for an answer, and whether the
// answer cited it with a verified citation.
type PriorUse struct {
	ID              string  `json:"id"`   // "D12"
	Kind            string  `json:"kind"` // store.MemoryIncident or store.MemoryDoc
	Title           string  `json:"title"`
	Score           float64 `json:"score"`
	IncidentID      int64   `json:"incident_id,omitempty"`
	InvestigationID int64   `json:"investigation_id,omitempty"`
	Cited           bool    `json:"cited,omitempty"`
	// FromCase names the earlier case of a memory run the item came from;
	// empty when it was in memory before the run.
	FromCase string `json:"from_case,omitempty"`
}

// priorUses records what was recalled and which of it the verdict shows
// cited and verified.
func priorUses(priors []investigate.Prior, v *causeway.Verdict) []PriorUse {
	if len(priors) == 0 {
		return nil
	}
	cited := map[int64]bool{}
	if v != nil {
		for _, c := range v.Citations {
			if id, ok := investigate.ParsePriorID(c.ID); ok && c.Status == causeway.CitationVerified {
				cited[id] = true
			}
		}
	}
	out := make([]PriorUse, 0, len(priors))
	for _, p := range priors {
		id, _ := investigate.ParsePriorID(p.ID)
		out = append(out, PriorUse{ID: p.ID, Kind: p.Kind, Title: p.Title, Score: p.Score,
			IncidentID: p.IncidentID, InvestigationID: p.InvestigationID, Cited: cited[id]})
	}
	return out
}

// MemoryReport compares one set run twice: with memory off, then with
// memory on, case after case, each hit confirmed as an engineer would so
// that later cases can recall it.
type MemoryReport struct {
	Set     string       `json:"set"`
	Started time.Time    `json:"started"`
	WallMS  int64        `json:"wall_ms"`
	Total   MemoryTotal  `json:"total"`
	Cases   []MemoryCase `json:"cases"`
	Off     *Report      `json:"off"`
	On      *Report      `json:"on"`
}

// MemoryCase is what memory changed for one case, model and budget.
type MemoryCase struct {
	ID     string `json:"id"`
	Model  string `json:"model"`
	Budget int    `json:"budget"`

	RootCauseHitOff bool `json:"root_cause_hit_off"`
	RootCauseHitOn  bool `json:"root_cause_hit_on"`
	// EvidenceCitedOff and On are the share of expected evidence cited
	// with a verified citation.
	EvidenceCitedOff float64 `json:"evidence_cited_off"`
	EvidenceCitedOn  float64 `json:"evidence_cited_on"`
	// Recalled counts the items memory recalled; FromEarlier those that
	// came from an earlier case of the run; PriorCited those the answer
	// cited.
	Recalled    int        `json:"recalled"`
	FromEarlier int        `json:"from_earlier"`
	PriorCited  int        `json:"prior_cited"`
	Confirmed   bool       `json:"confirmed"`
	Prior       []PriorUse `json:"prior,omitempty"`
	Error       string     `json:"error,omitempty"`
}

// MemoryTotal sums MemoryCase over the run.
type MemoryTotal struct {
	Runs             int     `json:"runs"`
	HitsOff          int     `json:"hits_off"`
	HitsOn           int     `json:"hits_on"`
	Gained           int     `json:"gained"` // missed off, hit on
	Lost             int     `json:"lost"`   // hit off, missed on
	EvidenceCitedOff float64 `json:"evidence_cited_off"`
	EvidenceCitedOn  float64 `json:"evidence_cited_on"`
	Recalled         int     `json:"recalled"`
	FromEarlier      int     `json:"from_earlier"`
	PriorCited       int     `json:"prior_cited"`
	Confirmed        int     `json:"confirmed"`
}

// feedbackAuthor is who a memory run's confirmations are recorded as.
const feedbackAuthor = "causeway eval --memory"

// RunMemory runs the cases twice: first with the service's memory
// switched off, then with it on, in case order, keeping every case's
// incident until the end and confirming each answer whose root cause hit
// through Service.Feedback (what POST /v1/investigations/{id}/feedback
// does), so that only confirmed root causes feed memory. It reports, per
// case and in total, what memory changed. The runner's Keep is honoured;
// its Memory and Scored are set for each pass.
func (r *Runner) RunMemory(ctx context.Context, set string, cases []Case) (*MemoryReport, error) {
	if r.Service == nil {
		return nil, errors.New("eval runner has no service")
	}
	if r.Service.Memory == nil {
		return nil, causeway.Errorf(causeway.EINVALID, "eval --memory needs a memory (the service has none)")
	}
	start := r.now()
	rep := &MemoryReport{Set: set, Started: start}

	off := *r
	svcOff := *r.Service
	svcOff.Memory = nil
	off.Service, off.Memory, off.Scored = &svcOff, false, nil
	var err error
	if rep.Off, err = off.Run(ctx, set, cases); err != nil {
		return rep.finish(r.now().Sub(start)), err
	}

	on := *r
	caseOf := map[int64]string{} // incident id -> case id, of the cases run so far
	on.Memory = true
	on.Scored = func(ctx context.Context, res *Result) {
		if res.IncidentID != 0 {
			caseOf[res.IncidentID] = res.ID
		}
		for i := range res.Prior {
			res.Prior[i].FromCase = caseOf[res.Prior[i].IncidentID]
		}
		if !res.RootCauseHit || res.InvestigationID == 0 {
			return
		}
		f := &store.Feedback{InvestigationID: res.InvestigationID, Verdict: store.FeedbackCorrect,
			Note: "root cause hit the expected keywords", Author: feedbackAuthor}
		if err := r.Service.Feedback(ctx, f); err != nil {
			r.logger().Warn("confirm eval answer", "case", res.ID, "investigation", res.InvestigationID, "error", err)
			return
		}
		res.Confirmed = true
	}
	rep.On, err = on.Run(ctx, set, cases)
	return rep.finish(r.now().Sub(start)), err
}

// finish pairs the two passes' results and totals them.
func (m *MemoryReport) finish(took time.Duration) *MemoryReport {
	m.WallMS = took.Milliseconds()
	m.Cases, m.Total = nil, MemoryTotal{}
	if m.Off == nil || m.On == nil {
		return m
	}
	offBy := map[string]*Result{}
	for i := range m.Off.Cases {
		offBy[m.Off.Cases[i].Key()] = &m.Off.Cases[i]
	}
	t := &m.Total
	for i := range m.On.Cases {
		on := &m.On.Cases[i]
		off := offBy[on.Key()]
		if off == nil {
			continue
		}
		c := MemoryCase{ID: on.ID, Model: on.Model, Budget: on.Budget,
			RootCauseHitOff: off.RootCauseHit, RootCauseHitOn: on.RootCauseHit,
			EvidenceCitedOff: off.EvidenceRecallCited, EvidenceCitedOn: on.EvidenceRecallCited,
			Recalled: len(on.Prior), Confirmed: on.Confirmed, Prior: on.Prior, Error: cmpError(off.Error, on.Error)}
		for _, p := range on.Prior {
			if p.FromCase != "" {
				c.FromEarlier++
			}
			if p.Cited {
				c.PriorCited++
			}
		}
		t.Runs++
		t.HitsOff += b2i(c.RootCauseHitOff)
		t.HitsOn += b2i(c.RootCauseHitOn)
		t.Gained += b2i(!c.RootCauseHitOff && c.RootCauseHitOn)
		t.Lost += b2i(c.RootCauseHitOff && !c.RootCauseHitOn)
		t.EvidenceCitedOff += c.EvidenceCitedOff
		t.EvidenceCitedOn += c.EvidenceCitedOn
		t.Recalled += c.Recalled
		t.FromEarlier += c.FromEarlier
		t.PriorCited += c.PriorCited
		t.Confirmed += b2i(c.Confirmed)
		m.Cases = append(m.Cases, c)
	}
	if t.Runs > 0 {
		t.EvidenceCitedOff /= float64(t.Runs)
		t.EvidenceCitedOn /= float64(t.Runs)
	}
	return m
}

func cmpError(off, on string) string {
	switch {
	case off != "" && on != "":
		return "off: " + off + "; on: " + on
	case off != "":
		return "off: " + off
	case on != "":
		return "on: " + on
	}
	return ""
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Summary is the run in one line, with counts.
func (m *MemoryReport) Summary() string {
	t := m.Total
	return fmt.Sprintf("eval --memory: %d runs in %s: root cause %d/%d off, %d/%d on (%d gained, %d lost), evidence cited %.0f%% off, %.0f%% on, %d answers confirmed, %d prior items recalled (%d from earlier cases), %d cited",
		t.Runs, (time.Duration(m.WallMS) * time.Millisecond).Round(time.Millisecond), t.HitsOff, t.Runs, t.HitsOn, t.Runs, t.Gained, t.Lost,
		100*t.EvidenceCitedOff, 100*t.EvidenceCitedOn, t.Confirmed, t.Recalled, t.FromEarlier, t.PriorCited)
}

// WriteJSON writes the comparison and both passes as indented JSON.
func (m *MemoryReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("write eval memory report: %w", err)
	}
	return nil
}

// WriteMarkdown writes the comparison for people: totals, one row per
// case in the order it ran, and what each case recalled.
func (m *MemoryReport) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	t := m.Total
	fmt.Fprintf(&b, "# Eval of %s: memory off, then on\n\n", m.Set)
	fmt.Fprintf(&b, "%s, started %s, took %s. With memory on, the cases ran in this order and each root cause hit was confirmed (as `POST /v1/investigations/{id}/feedback` does), so later cases could recall it.\n\n",
		count(t.Runs, "run"), m.Started.UTC().Format(time.RFC3339), fmtMS(float64(m.WallMS)))
	b.WriteString("## Memory\n\n")
	b.WriteString("| | off | on |\n|---|--:|--:|\n")
	fmt.Fprintf(&b, "| root cause | %d / %d | %d / %d |\n", t.HitsOff, t.Runs, t.HitsOn, t.Runs)
	fmt.Fprintf(&b, "| evidence cited | %s | %s |\n", pct(t.EvidenceCitedOff), pct(t.EvidenceCitedOn))
	fmt.Fprintf(&b, "| prior recalled (from earlier cases) | – | %d (%d) |\n", t.Recalled, t.FromEarlier)
	fmt.Fprintf(&b, "| prior cited | – | %d |\n", t.PriorCited)
	fmt.Fprintf(&b, "| answers confirmed | – | %d |\n", t.Confirmed)
	fmt.Fprintf(&b, "\nRoot causes gained with memory: %d; lost: %d.\n\n", t.Gained, t.Lost)

	b.WriteString("## Cases\n\n")
	b.WriteString("| case | model | budget | root cause off → on | evidence cited off → on | recalled | from earlier | cited | confirmed |\n")
	b.WriteString("|---|---|--:|:-:|--:|--:|--:|--:|:-:|\n")
	for _, c := range m.Cases {
		fmt.Fprintf(&b, "| %s | %s | %s | %s → %s | %s → %s | %d | %d | %d | %s |\n", c.ID, c.Model, thousands(int64(c.Budget)),
			hitWord(c.RootCauseHitOff), hitWord(c.RootCauseHitOn), pct(c.EvidenceCitedOff), pct(c.EvidenceCitedOn),
			c.Recalled, c.FromEarlier, c.PriorCited, yesNo(c.Confirmed))
	}
	b.WriteString("\n## Recalled\n")
	recalled := false
	for _, c := range m.Cases {
		if len(c.Prior) == 0 && c.Error == "" {
			continue
		}
		recalled = true
		fmt.Fprintf(&b, "\n### %s · %s · %s\n\n", c.ID, c.Model, thousands(int64(c.Budget)))
		if c.Error != "" {
			b.WriteString("- Error: " + c.Error + "\n")
		}
		for _, p := range c.Prior {
			from := "memory before the run"
			if p.FromCase != "" {
				from = "case " + p.FromCase
			}
			cited := ""
			if p.Cited {
				cited = ", cited"
			}
			fmt.Fprintf(&b, "- %s %s %q (score %.2f, from %s%s)\n", p.ID, p.Kind, oneLine(p.Title), p.Score, from, cited)
		}
	}
	if !recalled {
		b.WriteString("\nNothing: memory recalled no prior knowledge for any case.\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write eval memory report: %w", err)
	}
	return nil
}

func hitWord(hit bool) string {
	if hit {
		return "hit"
	}
	return "miss"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
