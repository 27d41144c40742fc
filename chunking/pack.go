package chunking

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/causeway-rca/causeway"
)

// DefaultBudget is the token budget of a pack when none is given: the
// context of today's long-context models.
const DefaultBudget = 1_000_000

// DefaultReserve is what a budget keeps free for the instructions, the
// question and the answer.
const DefaultReserve = 16_000

// LineSource streams an incident's lines within its window, in (source
// name, seq) order, and lists its sources.
type LineSource interface {
	ScanWindow(ctx context.Context, inc *causeway.Incident, fn func(causeway.Line) error) error
	Sources(ctx context.Context, incidentID int64) ([]*causeway.Source, error)
}

// Packer selects the evidence lines that fit a token budget.
type Packer struct {
	Tokenizer *Tokenizer
	// Reserve is kept free within the budget for instructions, question and
	// answer; DefaultReserve when zero.
	Reserve int
	Logger  *slog.Logger
	// Progress, when set, is told how many lines were read so far.
	Progress func(read int64)
}

// NewPacker returns a packer that counts with tok.
func NewPacker(tok *Tokenizer) *Packer {
	return &Packer{Tokenizer: tok, Reserve: DefaultReserve, Logger: slog.New(slog.DiscardHandler)}
}

// EvidenceBudget is the share of budget the evidence may take.
func (p *Packer) EvidenceBudget(budget int) int {
	reserve := p.Reserve
	if reserve == 0 {
		reserve = DefaultReserve
	}
	// A small budget keeps a quarter for the rest rather than nothing.
	reserve = min(reserve, budget/4)
	return budget - reserve
}

type candidate struct {
	line  causeway.Line
	cost  int
	score float64
	order int
}

// Pack reads the incident's lines and selects those that fit the budget:
// all of them when they fit; otherwise the most telling ones (severity,
// failure words, rare templates, events, conditions, chat) until the
// evidence budget is full. The result is grouped by source in source order,
// as it is rendered, and its Tokens is the exact count of the rendered
// evidence lines and source headers.
func (p *Packer) Pack(ctx context.Context, inc *causeway.Incident, src LineSource, budget int) (*causeway.Pack, error) {
	if budget <= 0 {
		budget = DefaultBudget
	}
	limit := p.EvidenceBudget(budget)
	srcs, err := src.Sources(ctx, inc.ID)
	if err != nil {
		return nil, fmt.Errorf("pack incident %d: %w", inc.ID, err)
	}
	kinds := make(map[string]causeway.SourceKind, len(srcs))
	totals := make(map[string]int64, len(srcs))
	for _, s := range srcs {
		kinds[s.Name] = s.Kind
	}
	var (
		cands     []candidate
		templates = map[string]int{}
		read      int64
		prefixes  = map[string]int{}
	)
	err = src.ScanWindow(ctx, inc, func(l causeway.Line) error {
		totals[l.Source]++
		if l.Tokens == 0 {
			l.Tokens = p.Tokenizer.LineTokens(l.Text)
		}
		if l.Template == "" {
			l.Template = Template(l.Text)
		}
		templates[l.Source+"\x00"+l.Template]++
		cands = append(cands, candidate{line: l, cost: l.Tokens + p.prefixCost(prefixes, &l), order: len(cands)})
		read++
		if p.Progress != nil && read%50_000 == 0 {
			p.Progress(read)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pack incident %d: %w", inc.ID, err)
	}
	pack := &causeway.Pack{IncidentID: inc.ID, Budget: budget, Encoding: p.Tokenizer.Name(), Total: int64(len(cands))}

	total := 0
	for _, c := range cands {
		total += c.cost
	}
	chosen := cands
	if total+p.headerCost(cands, kinds) > limit {
		for i := range cands {
			cands[i].score = Score(&cands[i].line, templates[cands[i].line.Source+"\x00"+cands[i].line.Template])
		}
		chosen = p.choose(cands, limit, p.headerCost(cands, kinds))
	}
	slices.SortFunc(chosen, func(a, b candidate) int { return cmp.Compare(a.order, b.order) })
	fill(pack, chosen, kinds, totals)
	// Prefixes, lines and headers add up to the exact count of the render.
	pack.Tokens = 0
	for i := range pack.Sources {
		pack.Tokens += pack.Sources[i].Tokens + p.Tokenizer.Count(causeway.SourceHeader(pack.Sources[i]))
	}
	pack.Dropped = pack.Total - int64(len(pack.Lines))
	p.Logger.Info("packed", "incident", inc.ID, "lines", len(pack.Lines), "of", pack.Total, "tokens", pack.Tokens, "budget", budget)
	return pack, nil
}

// choose takes the best-scoring candidates until limit is reached, leaving
// room for the source headers.
func (p *Packer) choose(cands []candidate, limit, headers int) []candidate {
	byScore := slices.Clone(cands)
	slices.SortStableFunc(byScore, func(a, b candidate) int { return cmp.Compare(b.score, a.score) })
	used := headers // an upper bound: every source keeps a header
	var chosen []candidate
	for _, c := range byScore {
		if used+c.cost > limit {
			continue // a smaller line further down may still fit
		}
		used += c.cost
		chosen = append(chosen, c)
	}
	return chosen
}

// prefixCost counts the tokens of a rendered line's "L<id> <time> <source>"
// prefix. Digits tokenize in fixed groups and never merge with their
// neighbours, so every id of one length and every time cost the same: the
// count is memoized by id length, presence of a time, and source.
func (p *Packer) prefixCost(memo map[string]int, l *causeway.Line) int {
	key := fmt.Sprintf("%d|%t|%s", len(causeway.LineID(l.Num)), l.Time.IsZero(), l.Source)
	if n, ok := memo[key]; ok {
		return n
	}
	probe := *l
	probe.Text = ""
	n := p.Tokenizer.Count(strings.TrimSuffix(probe.Format(), " "))
	memo[key] = n
	return n
}

func (p *Packer) headerCost(cands []candidate, kinds map[string]causeway.SourceKind) int {
	seen := map[string]bool{}
	n := 0
	for _, c := range cands {
		if !seen[c.line.Source] {
			seen[c.line.Source] = true
			n += p.Tokenizer.Count(causeway.SourceHeader(causeway.PackSource{Name: c.line.Source, Kind: kinds[c.line.Source], Lines: 999999, Total: 999999}))
		}
	}
	return n
}

func fill(pack *causeway.Pack, chosen []candidate, kinds map[string]causeway.SourceKind, totals map[string]int64) {
	pack.Lines = make([]causeway.Line, len(chosen))
	pack.Sources = pack.Sources[:0]
	for i, c := range chosen {
		pack.Lines[i] = c.line
		if n := len(pack.Sources); n == 0 || pack.Sources[n-1].Name != c.line.Source {
			name := c.line.Source
			pack.Sources = append(pack.Sources, causeway.PackSource{Name: name, Kind: kinds[name], Total: totals[name]})
		}
		ps := &pack.Sources[len(pack.Sources)-1]
		ps.Lines++
		ps.Tokens += c.cost
	}
}
