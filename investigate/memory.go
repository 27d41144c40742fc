package investigate

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/memory"
	"github.com/causeway-rca/causeway/store"
)

// Prior is one piece of prior knowledge an investigation starts from: a
// confirmed past incident or a runbook section, citable as D<id>. It is
// what the organization knew before, never evidence of this incident.
type Prior struct {
	ID              string  `json:"id"`   // "D12": the memory item's id
	Kind            string  `json:"kind"` // "incident" or "doc"
	Title           string  `json:"title"`
	Text            string  `json:"text"`
	Score           float64 `json:"score"` // cosine similarity to the investigation's question
	IncidentID      int64   `json:"incident_id,omitempty"`
	InvestigationID int64   `json:"investigation_id,omitempty"`
	Tokens          int     `json:"tokens"`
}

// PriorID renders a memory item's id as cited: "D12".
func PriorID(itemID int64) string { return "D" + strconv.FormatInt(itemID, 10) }

// ParsePriorID reads "D12" (tolerating "[D12]" and lower case).
func ParsePriorID(s string) (int64, bool) {
	s = strings.Trim(strings.TrimSpace(s), "[]")
	if len(s) < 2 || (s[0] != 'D' && s[0] != 'd') {
		return 0, false
	}
	n, err := strconv.ParseInt(s[1:], 10, 64)
	return n, err == nil && n > 0
}

// Recall limits: how many of each kind, how similar they must be, and how
// much of the token budget prior knowledge may take.
const (
	recallIncidents = 3
	recallDocs      = 3
	recallMinScore  = 0.02
	recallMaxTokens = 4000
	recallBudgetDiv = 20 // at most 1/20 of the budget
)

// Recall indexes the incident's own documents into memory (so that later
// incidents find them) and returns the prior knowledge most similar to its
// signature (see Signature): confirmed past incidents first, then runbook
// sections, within budget/20 tokens (at most 4,000). The incident's own
// documents and root causes are left out: they are evidence, not prior
// knowledge. Recall returns nothing when the service has no memory.
func (s *Service) Recall(ctx context.Context, inc *causeway.Incident, signature string, budget int) ([]Prior, error) {
	if s.Memory == nil {
		return nil, nil
	}
	if err := s.IndexDocs(ctx, inc); err != nil {
		return nil, err
	}
	text := signature
	var hits []store.MemoryHit
	for _, q := range []memory.Query{
		{Text: text, Kinds: []string{store.MemoryIncident}, ExcludeIncident: inc.ID, Limit: recallIncidents, MinScore: recallMinScore},
		{Text: text, Kinds: []string{store.MemoryDoc}, ExcludeIncident: inc.ID, Limit: recallDocs, MinScore: recallMinScore},
	} {
		h, err := s.Memory.Search(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("recall for incident %d: %w", inc.ID, err)
		}
		hits = append(hits, h...)
	}
	limit := min(budget/recallBudgetDiv, recallMaxTokens)
	var priors []Prior
	used := 0
	for _, h := range hits {
		p := Prior{ID: PriorID(h.ID), Kind: h.Kind, Title: h.Title, Text: h.Body, Score: h.Score,
			IncidentID: h.IncidentID, InvestigationID: h.InvestigationID}
		p.Tokens = s.count(p.Title + "\n" + p.Text)
		if used+p.Tokens > limit {
			continue // a smaller one further down may still fit
		}
		used += p.Tokens
		priors = append(priors, p)
	}
	return priors, nil
}

func (s *Service) count(text string) int {
	if s.Tokenizer != nil {
		return s.Tokenizer.Count(text)
	}
	return (len(text) + 3) / 4
}

// IndexDocs adds the incident's documents (sources of kind doc, a bundle's
// docs/*.md) to memory, section by section; unchanged ones cost nothing.
func (s *Service) IndexDocs(ctx context.Context, inc *causeway.Incident) error {
	if s.Memory == nil {
		return nil
	}
	srcs, err := s.DB.Sources(ctx, inc.ID)
	if err != nil {
		return err
	}
	for _, src := range srcs {
		if src.Kind != causeway.KindDoc {
			continue
		}
		lines, err := s.DB.SourceLines(ctx, inc.ID, src.ID)
		if err != nil {
			return err
		}
		var b strings.Builder
		for _, l := range lines {
			b.WriteString(l.Text)
			b.WriteByte('\n')
		}
		if _, err := s.Memory.AddDoc(ctx, src.Name, b.String(), inc.ID); err != nil {
			return fmt.Errorf("index docs of incident %d: %w", inc.ID, err)
		}
	}
	return nil
}

// Similar returns the confirmed past incidents and runbook sections most
// similar to an investigation, for the answer and the UI.
func (s *Service) Similar(ctx context.Context, investigationID int64) ([]Prior, error) {
	inv, err := s.DB.Investigation(ctx, investigationID)
	if err != nil {
		return nil, err
	}
	inc, err := s.DB.Incident(ctx, inv.IncidentID)
	if err != nil {
		return nil, err
	}
	return s.Recall(ctx, inc, Signature(inc, inv.Question, nil, inv.Answer), inv.Budget)
}

// signatureLines bounds how many of the digest's lines stand for an
// incident in a memory search.
const signatureLines = 12

// signatureLineBytes bounds each of those lines.
const signatureLineBytes = 200

var lineRefRE = regexp.MustCompile(`\bL(\d+)\b`)

// Signature is the text an incident is searched by in memory: its title
// and question, then what is known of it so far. From a pack, the packer's
// digest and the text of the strongest lines it names (the error strings
// a runbook or a past incident shares); from an answer, its root cause,
// summary and causal chain.
func Signature(inc *causeway.Incident, question string, pack *causeway.Pack, ans *causeway.Answer) string {
	var b strings.Builder
	b.WriteString(inc.Title + "\n" + question + "\n")
	if pack != nil {
		byNum := make(map[int64]*causeway.Line, len(pack.Lines))
		for i := range pack.Lines {
			byNum[pack.Lines[i].Num] = &pack.Lines[i]
		}
		seen := map[int64]bool{}
		for _, m := range lineRefRE.FindAllStringSubmatch(pack.Digest, -1) {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			if l := byNum[n]; l != nil && !seen[n] && len(seen) < signatureLines {
				seen[n] = true
				// The template, cut short: the error string, without the
				// ids and the long JSON of an access log that would drown it.
				t := l.Template
				if t == "" {
					t = l.Text
				}
				b.WriteString(memory.Truncate(t, signatureLineBytes) + "\n")
			}
		}
	}
	if ans != nil {
		b.WriteString(ans.RootCause + "\n" + ans.Summary + "\n")
		for _, st := range ans.CausalChain {
			b.WriteString(st.Text + "\n")
		}
	}
	return b.String()
}

// Feedback records an engineer's verdict on an investigation's answer. A
// correct answer is remembered as a confirmed root cause; a wrong one is
// forgotten if it had been confirmed before. Only done investigations with
// an answer can be confirmed.
func (s *Service) Feedback(ctx context.Context, f *store.Feedback) error {
	inv, err := s.DB.Investigation(ctx, f.InvestigationID)
	if err != nil {
		return err
	}
	if f.Verdict == store.FeedbackCorrect && (inv.Status != causeway.StatusDone || inv.Answer == nil || strings.TrimSpace(inv.Answer.RootCause) == "") {
		return causeway.Errorf(causeway.ECONFLICT, "investigation %d has no finished answer to confirm (status %s)", inv.ID, inv.Status)
	}
	if err := s.DB.SetFeedback(ctx, f); err != nil {
		return err
	}
	if s.Memory == nil {
		return nil
	}
	if f.Verdict != store.FeedbackCorrect {
		return s.Memory.Forget(ctx, inv.ID)
	}
	inc, err := s.DB.Incident(ctx, inv.IncidentID)
	if err != nil {
		return err
	}
	return s.Memory.Confirm(ctx, inc, inv)
}

// priorForPrompt picks the recalled items the prompt shows, best first, in
// at most a quarter of the room the packer keeps free beside the evidence,
// so that prior knowledge never crowds out the incident's own lines.
func priorForPrompt(items []Prior, tok *chunking.Tokenizer, reserve int) []causeway.Prior {
	if reserve <= 0 {
		reserve = chunking.DefaultReserve
	}
	room := reserve / 4
	var out []causeway.Prior
	for _, p := range items {
		n := p.Tokens
		if n == 0 {
			n = tok.Count(p.Title + "\n" + p.Text)
		}
		if n > room {
			continue
		}
		room -= n
		out = append(out, causeway.Prior{ID: p.ID, Kind: p.Kind, Title: p.Title, Text: p.Text, Score: p.Score})
	}
	return out
}
