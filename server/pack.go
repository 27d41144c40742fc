package server

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/chunking"
)

// packView is GET /v1/investigations/{id}/pack: what the model was shown.
type packView struct {
	InvestigationID int64                 `json:"investigation_id"`
	Budget          int                   `json:"budget_tokens"`
	Encoding        string                `json:"encoding"`
	Tokens          int                   `json:"tokens"`
	Lines           int                   `json:"lines"`
	Total           int64                 `json:"total_lines"`
	Dropped         int64                 `json:"dropped_lines"`
	Digest          string                `json:"digest"`
	Sources         []causeway.PackSource `json:"sources"`
	// Folded are the packed lines that stand for repeats left out, most
	// repeated first (at most maxFolded); FoldedLines counts them all and
	// FoldedAway the lines they stand for.
	Folded      []foldedLine `json:"folded"`
	FoldedLines int          `json:"folded_lines"`
	FoldedAway  int64        `json:"folded_away"`
	Signals     []packSignal `json:"signals"`
	// SameAsSent says whether packing again selected exactly the lines
	// that were sent; false when the evidence changed since (an upload),
	// or nothing was recorded as sent.
	SameAsSent bool `json:"same_as_sent"`
	SentLines  int  `json:"sent_lines"`
}

type foldedLine struct {
	Line   string    `json:"line"`
	Source string    `json:"source"`
	Time   time.Time `json:"time,omitzero"`
	Text   string    `json:"text"`
	Count  int64     `json:"count"`
	First  time.Time `json:"first,omitzero"`
	Last   time.Time `json:"last,omitzero"`
}

type packSignal struct {
	Line   string    `json:"line"`
	Source string    `json:"source"`
	Time   time.Time `json:"time,omitzero"`
	Score  float64   `json:"score"`
	Why    string    `json:"why"`
}

const (
	maxFolded  = 200
	maxSignals = 30
)

// getPack packs the investigation's incident again for its question and
// budget (the packer is deterministic) and shows what that pack holds:
// tokens per source, the folded repeats, the digest and the strongest
// signals, and whether it is the pack that was sent.
func (s *Server) getPack(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	inv, err := s.DB.Investigation(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	inc, err := s.DB.Incident(ctx, inv.IncidentID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sent, err := s.DB.ContextLines(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// A pack costs as much as a chat's: share its bound.
	select {
	case s.chatSem <- struct{}{}:
		defer func() { <-s.chatSem }()
	case <-ctx.Done():
		return
	}
	packer := chunking.NewPacker(s.Service.Tokenizer)
	packer.Logger = s.Logger
	pack, signals, err := packer.PackFor(ctx, inc, s.DB, chunking.Request{Question: inv.Question, Budget: inv.Budget})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := packView{InvestigationID: id, Budget: pack.Budget, Encoding: pack.Encoding, Tokens: pack.Tokens, Lines: len(pack.Lines),
		Total: pack.Total, Dropped: pack.Dropped, Digest: pack.Digest, Sources: pack.Sources, Folded: []foldedLine{},
		Signals: []packSignal{}, SentLines: len(sent)}
	if v.Sources == nil {
		v.Sources = []causeway.PackSource{}
	}
	packed := make([]int64, 0, len(pack.Lines))
	for i := range pack.Lines {
		l := &pack.Lines[i]
		packed = append(packed, l.Num)
		if l.Fold == nil {
			continue
		}
		v.FoldedLines++
		v.FoldedAway += l.Fold.Count - 1
		v.Folded = append(v.Folded, foldedLine{Line: l.ID(), Source: l.Source, Time: l.Time, Text: l.Text,
			Count: l.Fold.Count, First: l.Fold.First, Last: l.Fold.Last})
	}
	slices.SortStableFunc(v.Folded, func(a, b foldedLine) int { return cmp.Compare(b.Count, a.Count) })
	v.Folded = v.Folded[:min(len(v.Folded), maxFolded)]
	for i, sg := range signals {
		if i == maxSignals {
			break
		}
		v.Signals = append(v.Signals, packSignal{Line: sg.ID(), Source: sg.Source, Time: sg.Time, Score: sg.Value, Why: sg.String()})
	}
	slices.Sort(packed)
	sentSorted := slices.Clone(sent)
	slices.Sort(sentSorted)
	v.SameAsSent = len(sent) > 0 && slices.Equal(packed, sentSorted)
	writeJSON(w, http.StatusOK, v)
}
