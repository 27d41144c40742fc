// Package builtin is Causeway's deterministic analyzer: a causeway.Model
// named "builtin" that needs no network. It reads the packed lines (not the
// rendered prompt), matches them against a table of known failure
// signatures, groups the matches into candidate causes, ranks them by how
// well they explain the symptom (strength, layer, time before the symptom)
// and answers in the answer schema with citations that always verify.
//
// It is the default model when no endpoint is configured and the baseline
// every eval reports.
package builtin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// Name is the builtin model's name.
const Name = "builtin"

// Defaults of an Analyzer's tuning.
const (
	DefaultLookback   = 2 * time.Hour
	DefaultClusterGap = 30 * time.Minute
	DefaultMaxSteps   = 6
)

// Analyzer is the builtin model.
type Analyzer struct {
	// Lookback is how long before the first symptom a cause may start and
	// still explain it; older ones are ruled out.
	Lookback time.Duration
	// ClusterGap splits a signature's lines into separate occurrences
	// where they are further apart than this.
	ClusterGap time.Duration
	// MaxSteps bounds the causal chain, root cause and symptom included.
	MaxSteps int

	matchers []*matcher
	index    map[*matcher]int // position in the table, for stable ordering
}

var _ causeway.Model = (*Analyzer)(nil)

var defaultMatchers = mustCompile(Signatures)

func mustCompile(sigs []Signature) []*matcher {
	m, err := compile(sigs)
	if err != nil {
		panic(err)
	}
	return m
}

// New returns an analyzer with the builtin signature table.
func New() *Analyzer {
	return &Analyzer{Lookback: DefaultLookback, ClusterGap: DefaultClusterGap, MaxSteps: DefaultMaxSteps, matchers: defaultMatchers}
}

// NewWithSignatures returns an analyzer with another signature table.
func NewWithSignatures(sigs []Signature) (*Analyzer, error) {
	m, err := compile(sigs)
	if err != nil {
		return nil, err
	}
	a := New()
	a.matchers = m
	return a, nil
}

// Name is "builtin".
func (a *Analyzer) Name() string { return Name }

// Ask analyzes req.Pack and replies with the answer as JSON text, like any
// model. It ignores req.Messages: everything it needs is in the pack.
func (a *Analyzer) Ask(ctx context.Context, req causeway.ModelRequest) (*causeway.ModelReply, error) {
	if req.Pack == nil {
		return nil, causeway.Errorf(causeway.EINVALID, "the builtin model needs the packed lines, not only the rendered prompt")
	}
	ans, err := a.Analyze(ctx, req.Pack, req.Question)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(ans)
	if err != nil {
		return nil, fmt.Errorf("encode builtin answer: %w", err)
	}
	if req.Stream != nil {
		req.Stream(string(b))
	}
	return &causeway.ModelReply{Text: string(b), Model: Name}, nil
}

// Analyze answers question about pack.
func (a *Analyzer) Analyze(ctx context.Context, pack *causeway.Pack, question string) (*causeway.Answer, error) {
	an := &analysis{a: a.withDefaults(), pack: pack, question: strings.TrimSpace(question)}
	if err := an.scan(ctx); err != nil {
		return nil, fmt.Errorf("builtin analysis of %d lines: %w", len(pack.Lines), err)
	}
	an.decide()
	return an.answer(), nil
}

func (a *Analyzer) withDefaults() *Analyzer {
	c := *a
	if c.Lookback <= 0 {
		c.Lookback = DefaultLookback
	}
	if c.ClusterGap <= 0 {
		c.ClusterGap = DefaultClusterGap
	}
	if c.MaxSteps < 2 {
		c.MaxSteps = DefaultMaxSteps
	}
	if c.matchers == nil {
		c.matchers = defaultMatchers
	}
	c.index = make(map[*matcher]int, len(c.matchers))
	for i, m := range c.matchers {
		c.index[m] = i
	}
	return &c
}
