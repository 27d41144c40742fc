package files

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// Noise expansion turns a small bundle into a large one at import time, so
// that a case of 850,000 tokens lives in the repository as a few kilobytes:
// incident.yaml's `noise: {seed, tokens, profile}` adds routine filler to
// the bundle's log and event sources until the bundle's lines, rendered as
// a model reads them (causeway.Line.Format: id, time, source, text), come
// to about `tokens` tokens. The filler is:
//
//   - for log and k8s-pod-log sources, lines in the source's own style
//     (JSON with the same keys, klog, logfmt, syslog, access log, or plain
//     lines with the same stamp and level layout), learned from the
//     source's healthy lines: access and probe lines, periodic jobs and
//     routine INFO from the profile's vocabulary, and now and then an
//     unrelated deprecation WARN;
//   - for k8s-events sources, routine Normal events of unrelated CronJobs;
//   - nothing for metrics, objects, chat, tickets and docs, which stay as
//     they are.
//
// Filler is spread evenly over the incident window and merged with the real
// lines by time; real lines keep their relative order. Everything is drawn
// from a PCG generator seeded by (seed, source path), so the same bundle and
// seed give the same lines, byte for byte.

// noiseProfiles are the vocabularies noise.profile may name.
var noiseProfiles = map[string]*noiseProfile{
	"default": profileDefault,
	"web":     profileWeb,
	"batch":   profileBatch,
	"mesh":    profileMesh,
}

// NoiseProfiles lists the profile names noise.profile accepts.
func NoiseProfiles() []string {
	names := make([]string, 0, len(noiseProfiles))
	for n := range noiseProfiles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// CheckNoise reports a noise spec that cannot be expanded: an unknown
// profile or a negative token count. A nil spec is fine.
func CheckNoise(n *NoiseSpec) error {
	if n == nil {
		return nil
	}
	if n.Tokens < 0 {
		return fmt.Errorf("noise.tokens %d is negative", n.Tokens)
	}
	if _, ok := noiseProfiles[n.profile()]; !ok {
		return fmt.Errorf("noise.profile %q is unknown (want one of %s)", n.Profile, strings.Join(NoiseProfiles(), ", "))
	}
	return nil
}

func (n *NoiseSpec) profile() string {
	if n.Profile == "" {
		return "default"
	}
	return n.Profile
}

// EstimateTokens estimates the o200k token count of an evidence line's
// text without a tokenizer, which collectors do not carry. o200k keeps a
// common word whole and splits identifiers at about eight letters, numbers
// into groups of three digits, and merges punctuation such as `":"` into one
// token; so a run of letters (underscore included) counts a token per eight
// letters or part of it, a run of digits one per three, a run of other
// characters one per three, and a run of several blanks one. Measured
// against the exact count on the example bundle expanded with every
// profile, the estimate is within 11% for each log and event source and
// within 2% for the whole bundle (docs/bundle-format.md).
func EstimateTokens(s string) float64 {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		j := i + 1
		switch {
		case isWordByte(c):
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			n += (j - i + 7) / 8
		case isDigit(c):
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			n += (j - i + 2) / 3
		case c == ' ':
			for j < len(s) && s[j] == ' ' {
				j++
			}
			if j-i > 1 {
				n++
			}
		default:
			for j < len(s) && !isWordByte(s[j]) && !isDigit(s[j]) && s[j] != ' ' {
				j++
			}
			n += (j - i + 2) / 3
		}
		i = j
	}
	return float64(n)
}

func isWordByte(c byte) bool { return c == '_' || isLetter(c) }

// typicalLineNum stands for a line's short id when estimating how the line
// renders: ids of a large incident run to five or six digits.
const typicalLineNum = 123456

// renderedTokens estimates a line's tokens as a model reads it: with its
// short id, time and source in front (causeway.Line.Format). Token budgets
// count lines so, and an "850,000-token bundle" is one that fills 850,000
// tokens of a model's context, not one whose bare texts add up to that.
func renderedTokens(l *causeway.Line) float64 {
	c := *l
	c.Num = typicalLineNum
	return EstimateTokens(c.Format())
}

// noisePlan is the filler each source gets.
type noisePlan struct {
	sources map[string]*noiseSource
	// existing is the estimated token count of the bundle's own text.
	existing float64
	filler   float64
}

// source returns the filler plan of the file at p, nil when it gets none.
func (p *noisePlan) source(path string) *noiseSource {
	if p == nil {
		return nil
	}
	return p.sources[path]
}

// noiseSource plans and produces one source's filler.
type noiseSource struct {
	path  string
	kind  causeway.SourceKind
	lines int
	start time.Time
	span  time.Duration
	seed  [2]uint64
	year  int
	style *logStyle   // log sources
	ev    *eventNoise // event sources
	prof  *noiseProfile
}

// sourceFacts is what the planning pass learns of a source.
type sourceFacts struct {
	f       bundleFile
	kind    causeway.SourceKind
	tokens  float64
	samples [][]byte // raw first lines of a log source
	names   map[string]bool
	nodes   map[string]bool
}

// noiseSampleLines is how many of a log source's first lines its style is
// learned from.
const noiseSampleLines = 400

// eventsShare is the part of the filler that goes to event sources when the
// bundle also has log sources to fill: clusters log far more than they emit
// events.
const eventsShare = 0.03

// planNoise reads the bundle once to estimate its tokens and learn each log
// source's style, and shares out the filler that brings it to spec.Noise's
// token count.
func planNoise(ctx context.Context, dir string, spec *Spec, list []bundleFile, opts Options) (*noisePlan, error) {
	if spec.Noise == nil {
		return nil, nil
	}
	if err := CheckNoise(spec.Noise); err != nil {
		return nil, &causeway.Error{Code: causeway.EINVALID, Message: "bundle spec " + filepath.Join(dir, SpecFile), Err: err}
	}
	plan := &noisePlan{sources: map[string]*noiseSource{}}
	if spec.Noise.Tokens == 0 || spec.Window.End.Sub(spec.Window.Start) <= 0 {
		return plan, nil
	}
	prof := noiseProfiles[spec.Noise.profile()]
	namespaces, nodes := map[string]bool{}, map[string]bool{}
	for _, s := range spec.Sources {
		if ns := s.Labels["namespace"]; ns != "" {
			namespaces[ns] = true
		}
		if n := s.Labels["node"]; n != "" {
			nodes[n] = true
		}
	}
	var facts []*sourceFacts
	for _, f := range list {
		sf, err := learnSource(ctx, dir, f, opts)
		if err != nil {
			return nil, err
		}
		if sf == nil {
			continue
		}
		plan.existing += sf.tokens
		for n := range sf.names {
			namespaces[n] = true
		}
		for n := range sf.nodes {
			nodes[n] = true
		}
		facts = append(facts, sf)
	}
	plan.filler = float64(spec.Noise.Tokens) - plan.existing
	if plan.filler <= 0 {
		return plan, nil
	}

	type share struct {
		ns     *noiseSource
		weight float64
	}
	var logs, events []share
	var logTokens float64
	for _, sf := range facts {
		ns := &noiseSource{path: sf.f.path, kind: sf.kind, start: spec.Window.Start, span: spec.Window.End.Sub(spec.Window.Start),
			seed: [2]uint64{uint64(spec.Noise.Seed), hashString(sf.f.path)}, year: opts.Year, prof: prof}
		switch sf.kind {
		case causeway.KindLog, causeway.KindPodLog:
			if ns.style = learnStyle(sf.samples, opts.Year); ns.style == nil {
				continue
			}
			logs = append(logs, share{ns, sf.tokens})
			logTokens += sf.tokens
		case causeway.KindEvents:
			ns.ev = newEventNoise(prof, sortedKeys(namespaces), sortedKeys(nodes))
			events = append(events, share{ns, 1})
		}
	}
	// A busy log gets more filler than a quiet one, and every log some.
	for i := range logs {
		w := 1 / float64(len(logs))
		if logTokens > 0 {
			w = 0.5*w + 0.5*logs[i].weight/logTokens
		}
		logs[i].weight = w
	}
	logPart, eventPart := 1.0, 0.0
	switch {
	case len(logs) == 0 && len(events) == 0:
		return plan, nil
	case len(logs) == 0:
		logPart, eventPart = 0, 1
	case len(events) > 0:
		logPart, eventPart = 1-eventsShare, eventsShare
	}
	assign := func(s share, part float64) {
		tokens := plan.filler * part * s.weight
		if per := s.ns.meanTokens(); per > 0 {
			s.ns.lines = int(math.Round(tokens / per))
		}
		if s.ns.lines > 0 {
			plan.sources[s.ns.path] = s.ns
		}
	}
	for _, s := range logs {
		assign(s, logPart)
	}
	for _, s := range events {
		assign(s, eventPart/float64(len(events)))
	}
	return plan, nil
}

// learnSource estimates a source's tokens and, for logs and events, learns
// what filler in its style needs. It returns nil for a file that cannot be
// read: the import reports it.
func learnSource(ctx context.Context, dir string, f bundleFile, opts Options) (*sourceFacts, error) {
	kind, err := kindOf(f)
	if err != nil {
		return nil, nil
	}
	name := filepath.Join(dir, filepath.FromSlash(f.path))
	file, err := os.Open(name)
	if err != nil {
		return nil, nil
	}
	defer file.Close()
	sf := &sourceFacts{f: f, kind: kind, names: map[string]bool{}, nodes: map[string]bool{}}
	src := causeway.Source{Name: f.path, Kind: kind, Labels: f.spec.Labels}
	_, perr := Parse(ctx, src, file, opts, func(l causeway.Line) error {
		sf.tokens += renderedTokens(&l)
		if kind == causeway.KindEvents {
			if ns := l.Attrs["namespace"]; ns != "" {
				sf.names[ns] = true
			}
			if n := l.Attrs["node"]; n != "" {
				sf.nodes[n] = true
			}
		}
		return nil
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A file that breaks off still teaches its style; the import reports it.
	_ = perr
	if kind == causeway.KindLog || kind == causeway.KindPodLog {
		if _, err := file.Seek(0, 0); err != nil {
			return sf, nil
		}
		in, err := openInput(file)
		if err != nil {
			return sf, nil
		}
		lr := newLineReader(in, opts.MaxLineBytes)
		for len(sf.samples) < noiseSampleLines {
			raw, err := lr.next()
			if err != nil {
				break
			}
			if !blank(raw) {
				sf.samples = append(sf.samples, bytes.Clone(raw))
			}
		}
	}
	return sf, nil
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// meanTokens estimates the tokens of one filler line from a sample drawn
// with a generator of its own, so that planning does not disturb the lines.
func (ns *noiseSource) meanTokens() float64 {
	const n = 256
	g := ns.generator(causeway.Source{Name: ns.path, Kind: ns.kind}, 1)
	var sum float64
	for i := range n {
		l := g.line(i, n)
		l.Source = ns.path
		sum += renderedTokens(&l)
	}
	return sum / n
}

// fillerGen produces a source's filler lines in time order.
type fillerGen struct {
	ns   *noiseSource
	r    *rand.Rand
	src  causeway.Source
	out  *out
	buf  []byte
	http httpRecord
}

// generator returns a fresh generator; stream separates the planning
// sample (1) from the lines imported (0).
func (ns *noiseSource) generator(src causeway.Source, stream uint64) *fillerGen {
	r := rand.New(rand.NewPCG(ns.seed[0]^stream*0x9e3779b97f4a7c15, ns.seed[1]))
	return &fillerGen{ns: ns, r: r, src: src, out: &out{src: &src}}
}

// line returns filler line i of n: its time is spread evenly over the
// window with a jitter that keeps times in order.
func (g *fillerGen) line(i, n int) causeway.Line {
	frac := (float64(i) + g.r.Float64()) / float64(n)
	t := g.ns.start.Add(time.Duration(frac * float64(g.ns.span)))
	if g.ns.ev != nil {
		return g.ns.ev.line(g, t, i)
	}
	g.buf = g.ns.style.render(g, t, g.buf[:0])
	text, lt, level, isJSON := splitLogLine(g.buf, g.ns.year)
	l := causeway.Line{Kind: causeway.LineLog, Text: string(text), Time: lt}
	if lt.IsZero() {
		l.Time = t.UTC()
	}
	l.Attrs = g.out.logAttrs(text, level, isJSON)
	return l
}

// merger interleaves a source's filler with its real lines by time and
// numbers them all anew.
type merger struct {
	gen    *fillerGen
	emit   func(causeway.Line) error
	n, i   int
	next   causeway.Line
	seq    int64
	filler int64
}

// merge wraps emit so that filler lines go out before each real line that
// is later than them; finish writes the filler after the last real line.
func (ns *noiseSource) merge(src causeway.Source, emit func(causeway.Line) error) *merger {
	m := &merger{gen: ns.generator(src, 0), emit: emit, n: ns.lines}
	if m.n > 0 {
		m.next = m.gen.line(0, m.n)
	}
	return m
}

func (m *merger) write(l causeway.Line) error {
	if !l.Time.IsZero() {
		for m.i < m.n && m.next.Time.Before(l.Time) {
			if err := m.fill(); err != nil {
				return err
			}
		}
	}
	l.Seq = m.seq
	if err := m.emit(l); err != nil {
		return err
	}
	m.seq++
	return nil
}

func (m *merger) fill() error {
	l := m.next
	l.Source, l.Seq = m.gen.src.Name, m.seq
	if err := m.emit(l); err != nil {
		return err
	}
	m.seq++
	m.filler++
	m.i++
	if m.i < m.n {
		m.next = m.gen.line(m.i, m.n)
	}
	return nil
}

func (m *merger) finish() error {
	for m.i < m.n {
		if err := m.fill(); err != nil {
			return err
		}
	}
	return nil
}
