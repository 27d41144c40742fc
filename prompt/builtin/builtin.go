// Package builtin is Causeway's deterministic analyzer: a causeway.Model
// named "builtin" that needs no network. It reads the packed lines (not the
// rendered prompt) and matches them, in one pass, against a table of known
// failure signatures kept as data (signatures.go, and mesh.go for proxies
// and their control planes), by their words and by the attributes the
// collectors parsed (an access log's response flags). Matches become candidate
// causes: groups of lines of one signature about one entity (a workload's
// pods, an object, a node) close in time. Candidates are ranked by how well
// they explain the symptom the question names: layer of the stack, time
// before the symptom, propagation to the components that name them,
// strength, and chat that points at them; a symptom that comes back in
// bursts is judged burst by burst, and a cause must come back with it
// (recur.go). The answer gives the causal chain
// with one cited line per step, the facts behind the root cause (limits,
// selectors, likely typos), what set it off, the alternatives ruled out with
// the lines that rule them out, and a yes or no to control questions.
// Every quote is a verbatim span of its line.
//
// It is the default model when no endpoint is configured and the baseline
// every eval reports; Digest gives its findings as the short signals block
// that heads every prompt.
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

	table *table
}

var _ causeway.Model = (*Analyzer)(nil)

var defaultTable = mustCompile(Signatures)

func mustCompile(sigs []Signature) *table {
	t, err := compile(sigs)
	if err != nil {
		panic(err)
	}
	return t
}

// New returns an analyzer with the builtin signature table.
func New() *Analyzer {
	return &Analyzer{Lookback: DefaultLookback, ClusterGap: DefaultClusterGap, MaxSteps: DefaultMaxSteps, table: defaultTable}
}

// NewWithSignatures returns an analyzer with another signature table.
func NewWithSignatures(sigs []Signature) (*Analyzer, error) {
	t, err := compile(sigs)
	if err != nil {
		return nil, err
	}
	a := New()
	a.table = t
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

// Analyze answers question about pack. A question that names entities of
// the evidence ("why did pod X restart?") is answered about them, and said
// to be related to the incident's main failure or not; a control question
// ("was the OOM kill related to the 503s?") gets a yes or no with the lines
// that show why.
func (a *Analyzer) Analyze(ctx context.Context, pack *causeway.Pack, question string) (*causeway.Answer, error) {
	if pack == nil {
		pack = &causeway.Pack{}
	}
	ev, err := a.withDefaults().scan(ctx, pack)
	if err != nil {
		return nil, fmt.Errorf("builtin analysis of %d lines: %w", len(pack.Lines), err)
	}
	q := ev.parseQuestion(strings.TrimSpace(question))
	d := ev.decide(q)
	var main *decision
	if d.focused && !q.control {
		main = ev.decide(ev.parseQuestion(""))
	}
	return d.answer(main), nil
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
	if c.table == nil {
		c.table = defaultTable
	}
	return &c
}
