package prompt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt/builtin"
)

// Finding is one fact that a map-reduce window's lines show, as the model
// reported it, with the citations that were kept: those naming a line of
// the window.
type Finding struct {
	Text      string              `json:"text"`
	Citations []causeway.Citation `json:"citations"`
}

// Window is one map round of a map-reduce: a time window of the pack and
// what the model found in it.
type Window struct {
	Index, Count int
	Pack         *causeway.Pack
	Findings     []Finding
	// Dropped counts citations left out because they named no line of the
	// window, and findings left out because none of their citations did.
	DroppedCitations int
	DroppedFindings  int
	RawReply         string
	// Error says why the window's reply could not be read; its findings
	// are then missing, and the synthesis is told so.
	Error string
}

// Caps on what one window carries to the synthesis, so that the synthesis
// of many windows still fits one context.
const (
	// minWindowEvidence is the least evidence a window must hold for a
	// map-reduce to be worth running.
	minWindowEvidence   = 1000
	maxFindings         = 20
	maxFindingCitations = 5
	// maxSplits bounds how often a window the endpoint refuses as too long
	// is halved.
	maxSplits = 3
)

// mapReduce answers about a pack larger than the model's context: it splits
// the pack into consecutive time windows that each fit limit, asks each for
// findings with citations, then asks for the answer over the findings and
// the lines they cite. The answer is verified against the whole pack, so
// its citations keep the pack's line ids.
func (a *asker) mapReduce(ctx context.Context, pack *causeway.Pack, limit int) (*Result, error) {
	fixed := a.windowOverhead(pack, limit)
	if limit-fixed < minWindowEvidence {
		return a.newResult(pack, nil), causeway.Errorf(causeway.EINVALID,
			"the model's context of %d tokens is too small to read evidence in: instructions and reply take %d of it", limit, fixed)
	}
	packs := a.split(pack, limit, fixed)
	maxWindows := a.opts.MaxWindows
	if maxWindows <= 0 {
		maxWindows = DefaultMaxWindows
	}
	if len(packs) > maxWindows {
		return a.newResult(pack, nil), causeway.Errorf(causeway.EINVALID,
			"the pack of %d tokens would take %d windows of the model's %d-token context, more than %d: pack a smaller budget or use a model with a larger context",
			pack.Tokens, len(packs), limit, maxWindows)
	}
	windows := make([]*Window, len(packs))
	for i, p := range packs {
		windows[i] = &Window{Index: i + 1, Count: len(packs), Pack: p}
	}
	a.logger.Info("map-reduce", "lines", len(pack.Lines), "tokens", pack.Tokens, "context", limit, "windows", len(windows))

	errs := make([]error, len(windows))
	par := max(a.opts.Parallel, 1)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, w := range windows {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = a.mapWindow(ctx, w, w.Pack, fmt.Sprintf("map %d/%d", w.Index, w.Count), 0)
		}()
	}
	wg.Wait()

	res := a.newResult(pack, nil)
	res.Windows = windows
	read := 0
	for i, w := range windows {
		var perr *ParseError
		switch err := errs[i]; {
		case err == nil:
			read++
		case errors.As(err, &perr):
			w.Error = "its reply could not be read"
			a.warn("map-reduce window %d of %d: %v", w.Index, w.Count, err)
		default:
			return res, modelError(a.model, fmt.Errorf("window %d of %d: %w", w.Index, w.Count, err))
		}
		if w.DroppedCitations > 0 {
			a.warn("map-reduce window %d of %d: %d citations named no line of the window and were left out (%d findings with them)",
				w.Index, w.Count, w.DroppedCitations, w.DroppedFindings)
		}
	}
	if read == 0 {
		return res, &causeway.Error{Code: causeway.EMODEL, Message: "the model's replies are not valid findings",
			Err: fmt.Errorf("none of %d map-reduce windows could be read: %w", len(windows), errs[0])}
	}
	return a.reduce(ctx, res, limit)
}

// mapWindow asks for the findings of one window (or part of it, after the
// endpoint refused the whole as too long) and adds them to w.
func (a *asker) mapWindow(ctx context.Context, w *Window, part *causeway.Pack, stage string, splits int) error {
	msgs := BuildMap(part, a.question, w.Index, w.Count)
	reply, err := a.call(ctx, stage, causeway.ModelRequest{
		Messages:   msgs,
		Pack:       part,
		Question:   a.question,
		MaxTokens:  a.opts.MaxTokens,
		Schema:     findingsSchema,
		SchemaName: FindingsSchemaName,
	})
	if errors.Is(err, ErrContextLength) && splits < maxSplits && len(part.Lines) > 1 {
		for i, half := range a.halve(part) {
			if err := a.mapWindow(ctx, w, half, fmt.Sprintf("%s part %d/2", stage, i+1), splits+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	w.RawReply += reply.Text
	findings, err := ParseFindings(reply.Text)
	if err != nil {
		return err
	}
	inWindow := make(map[string]bool, len(part.Lines))
	for i := range part.Lines {
		inWindow[part.Lines[i].ID()] = true
	}
	for _, f := range findings {
		kept := f.Citations[:0]
		for _, c := range f.Citations {
			// A citation whose quote is off still points the synthesis
			// at a real line, shown to it verbatim; one whose id is not in
			// the window points at nothing.
			if inWindow[c.ID] && len(kept) < maxFindingCitations {
				kept = append(kept, c)
			} else if !inWindow[c.ID] {
				w.DroppedCitations++
			}
		}
		if len(kept) == 0 || strings.TrimSpace(f.Text) == "" {
			w.DroppedFindings++
			continue
		}
		if len(w.Findings) < maxFindings*(splits+1) {
			w.Findings = append(w.Findings, Finding{Text: strings.TrimSpace(f.Text), Citations: kept})
		}
	}
	return nil
}

// reduce asks for the answer over the windows' findings and the lines they
// cite; the answer is verified against the whole pack.
func (a *asker) reduce(ctx context.Context, res *Result, limit int) (*Result, error) {
	full := res.Pack
	digest := builtin.Digest(full)
	var msgs []causeway.Message
	for level := 0; ; level++ {
		trimmed, last := trimFindings(res.Windows, level)
		msgs = buildReduce(full, digest, trimmed, a.question)
		if a.fits(msgs, limit) {
			if level > 0 {
				a.warn("the findings of %d windows did not fit the model's context together; the synthesis saw fewer of them (level %d)", len(res.Windows), level)
			}
			break
		}
		if last {
			a.warn("the findings of %d windows do not fit the model's context even when cut short", len(res.Windows))
			break
		}
	}
	res.Messages, res.ContextHash = msgs, ContextHash(msgs)
	reply, err := a.call(ctx, "reduce", causeway.ModelRequest{
		Messages:  msgs,
		Pack:      full,
		Question:  a.question,
		MaxTokens: a.opts.MaxTokens,
		Stream:    a.opts.Stream,
	})
	if err != nil {
		return res, modelError(a.model, err)
	}
	return res, a.settle(ctx, res, reply)
}

// trimFindings returns the windows' findings cut to what level allows:
// level 0 all, then fewer citations per finding, then fewer findings per
// window. last is set at the deepest level.
func trimFindings(windows []*Window, level int) (out []*Window, last bool) {
	caps := []struct{ findings, citations int }{{1 << 30, 1 << 30}, {1 << 30, 2}, {10, 1}, {5, 1}, {2, 1}, {1, 1}}
	level = min(level, len(caps)-1)
	c := caps[level]
	for _, w := range windows {
		t := *w
		t.Findings = nil
		for _, f := range w.Findings[:min(len(w.Findings), c.findings)] {
			f.Citations = f.Citations[:min(len(f.Citations), c.citations)]
			t.Findings = append(t.Findings, f)
		}
		out = append(out, &t)
	}
	return out, level == len(caps)-1
}

// split cuts pack into consecutive time windows whose map prompts fit
// limit. Lines keep the pack's order within a window; a line without a
// time goes with the line before it in its source.
func (a *asker) split(pack *causeway.Pack, limit, fixed int) []*causeway.Pack {
	n := len(pack.Lines)
	tokens := make([]int, n)
	keys := make([]time.Time, n)
	var first time.Time
	for i := range pack.Lines {
		if t := pack.Lines[i].Time; !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	for i := range pack.Lines {
		l := &pack.Lines[i]
		tokens[i] = a.count(RenderLine(l) + "\n")
		switch {
		case !l.Time.IsZero():
			keys[i] = l.Time
		case i > 0 && pack.Lines[i-1].Source == l.Source:
			keys[i] = keys[i-1]
		default:
			keys[i] = first
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool { return keys[order[x]].Before(keys[order[y]]) })

	budget := max(limit-fixed, 1)

	var spans [][]int
	var cur []int
	used := 0
	seen := map[string]bool{}
	for _, i := range order {
		cost := tokens[i]
		if src := pack.Lines[i].Source; !seen[src] {
			cost += a.count(src) + 16 // the source's header in this window
		}
		if len(cur) > 0 && used+cost > budget {
			spans = append(spans, cur)
			cur, used, seen = nil, 0, map[string]bool{}
			cost = tokens[i] + a.count(pack.Lines[i].Source) + 16
		}
		cur = append(cur, i)
		used += cost
		seen[pack.Lines[i].Source] = true
	}
	if len(cur) > 0 {
		spans = append(spans, cur)
	}
	// Check each window as it will be rendered; halve any that the
	// estimate got wrong.
	var out []*causeway.Pack
	var fit func(span []int, depth int)
	fit = func(span []int, depth int) {
		w := subPack(pack, span, tokens, limit)
		if depth >= 8 || len(span) == 1 || a.fits(BuildMap(w, a.question, 999, 999), limit) {
			out = append(out, w)
			return
		}
		fit(span[:len(span)/2], depth+1)
		fit(span[len(span)/2:], depth+1)
	}
	for _, s := range spans {
		fit(s, 0)
	}
	return out
}

// windowOverhead is the fixed part of a window's prompt: instructions,
// header, question, digest and the reply; measured on a window without
// lines, with room for a digest, which names at most a few lines.
func (a *asker) windowOverhead(pack *causeway.Pack, limit int) int {
	return a.promptTokens(BuildMap(&causeway.Pack{IncidentID: pack.IncidentID}, a.question, 999, 999)) + a.reserve(limit) + 600
}

// subPack is the part of pack made of the lines at idx, in the pack's
// order, with its sources' counts. tokens are the lines' rendered counts.
func subPack(pack *causeway.Pack, idx []int, tokens []int, budget int) *causeway.Pack {
	sorted := append([]int(nil), idx...)
	sort.Ints(sorted)
	p := &causeway.Pack{IncidentID: pack.IncidentID, Budget: budget, Encoding: pack.Encoding}
	stats := map[string]*causeway.PackSource{}
	for _, i := range sorted {
		l := pack.Lines[i]
		p.Lines = append(p.Lines, l)
		t := 0
		if tokens != nil {
			t = tokens[i]
		}
		p.Tokens += t
		s := stats[l.Source]
		if s == nil {
			s = &causeway.PackSource{Name: l.Source}
			for _, ps := range pack.Sources {
				if ps.Name == l.Source {
					s.Kind, s.Total = ps.Kind, ps.Total
				}
			}
			stats[l.Source] = s
		}
		s.Lines++
		s.Tokens += t
	}
	for _, ps := range pack.Sources {
		if s := stats[ps.Name]; s != nil {
			p.Sources = append(p.Sources, *s)
			delete(stats, ps.Name)
		}
	}
	// Sources the pack does not list (a hand-made pack) keep their order of
	// appearance.
	for i := range p.Lines {
		if s := stats[p.Lines[i].Source]; s != nil {
			p.Sources = append(p.Sources, *s)
			delete(stats, s.Name)
		}
	}
	return p
}

// halve splits a window's pack in two by time.
func (a *asker) halve(p *causeway.Pack) []*causeway.Pack {
	idx := make([]int, len(p.Lines))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(x, y int) bool { return p.Lines[idx[x]].Time.Before(p.Lines[idx[y]].Time) })
	tokens := make([]int, len(p.Lines))
	for i := range p.Lines {
		tokens[i] = a.count(RenderLine(&p.Lines[i]) + "\n")
	}
	mid := len(idx) / 2
	return []*causeway.Pack{subPack(p, idx[:mid], tokens, p.Budget), subPack(p, idx[mid:], tokens, p.Budget)}
}

// BuildMap renders the conversation for one map-reduce window: the map
// instructions (findings schema), the window's context, and the question
// with the window's place last.
func BuildMap(pack *causeway.Pack, question string, index, count int) []causeway.Message {
	if strings.TrimSpace(question) == "" {
		question = DefaultQuestion
	}
	d := newContextData(pack)
	return []causeway.Message{
		{Role: "system", Content: render("map-system.tmpl", struct{ Schema string }{string(findingsSchema)})},
		{Role: "user", Content: render("context.tmpl", d)},
		{Role: "user", Content: render("map-question.tmpl", struct {
			Index, Count     int
			Window, Question string
		}{index, count, d.Window, strings.TrimSpace(question)})},
	}
}

type reduceData struct {
	IncidentID int64
	Window     string
	Read       int
	ReadTokens int
	Count      int
	Lines      int
	Digest     string
	Windows    []reduceWindow
	Groups     []sourceGroup
}

type reduceWindow struct {
	Index, Count int
	Window       string
	Findings     []string
	Error        string
}

var lineIDRE = regexp.MustCompile(`\bL[0-9]+\b`)

// buildReduce renders the synthesis: the answer instructions, the findings
// of every window with the lines they cite (and the lines the whole pack's
// digest names), and the question.
func buildReduce(full *causeway.Pack, digest string, windows []*Window, question string) []causeway.Message {
	want := map[string]bool{}
	for _, w := range windows {
		for _, f := range w.Findings {
			for _, c := range f.Citations {
				want[c.ID] = true
			}
		}
	}
	for _, id := range lineIDRE.FindAllString(digest, -1) {
		want[id] = true
	}
	var idx []int
	for i := range full.Lines {
		if want[full.Lines[i].ID()] {
			idx = append(idx, i)
		}
	}
	cited := subPack(full, idx, nil, full.Budget)
	groups, _ := sourceGroups(cited)
	d := reduceData{
		IncidentID: full.IncidentID,
		Window:     window(full.Lines),
		Read:       len(full.Lines),
		ReadTokens: full.Tokens,
		Count:      len(windows),
		Lines:      len(cited.Lines),
		Digest:     digest,
		Groups:     groups,
	}
	for _, w := range windows {
		rw := reduceWindow{Index: w.Index, Count: w.Count, Window: window(w.Pack.Lines), Error: w.Error}
		for _, f := range w.Findings {
			ids := make([]string, len(f.Citations))
			for i, c := range f.Citations {
				ids[i] = c.ID
			}
			// Findings are the model's reading of untrusted lines: they
			// stay inside the evidence block, defused like lines.
			rw.Findings = append(rw.Findings, defuse(f.Text)+" ["+strings.Join(ids, ", ")+"]")
		}
		d.Windows = append(d.Windows, rw)
	}
	if strings.TrimSpace(question) == "" {
		question = DefaultQuestion
	}
	return []causeway.Message{
		{Role: "system", Content: render("system.tmpl", struct{ Schema string }{string(schema)})},
		{Role: "user", Content: render("reduce.tmpl", d)},
		{Role: "user", Content: render("question.tmpl", struct{ Question string }{strings.TrimSpace(question)})},
	}
}

// wireFindings is a window's reply as models write it.
type wireFindings struct {
	Findings []struct {
		Text      flexString     `json:"text"`
		Citations []wireCitation `json:"citations"`
	} `json:"findings"`
}

// ParseFindings reads a map-reduce window's findings from its reply, as
// tolerantly as ParseAnswer reads an answer; a reply that holds an answer
// instead gives its statements as findings. A reply with neither returns a
// *causeway.Error with code EMODEL wrapping a *ParseError.
func ParseFindings(text string) ([]Finding, error) {
	var firstErr error
	for _, candidate := range candidates(text) {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal([]byte(candidate), &keys); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if _, ok := keys["findings"]; !ok {
			continue
		}
		var w wireFindings
		if err := json.Unmarshal([]byte(candidate), &w); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		out := make([]Finding, 0, len(w.Findings))
		for _, f := range w.Findings {
			out = append(out, Finding{Text: string(f.Text), Citations: citations(f.Citations)})
		}
		return out, nil
	}
	if ans, err := ParseAnswer(text); err == nil {
		var out []Finding
		for _, s := range ans.CausalChain {
			out = append(out, Finding{Text: s.Text, Citations: s.Citations})
		}
		for _, c := range ans.Claims {
			out = append(out, Finding{Text: c.Text, Citations: c.Citations})
		}
		for _, r := range ans.RuledOut {
			out = append(out, Finding{Text: "ruled out: " + r.Hypothesis + ": " + r.Why, Citations: r.Citations})
		}
		return out, nil
	}
	if firstErr == nil {
		firstErr = errors.New("no JSON object with findings in the reply")
	}
	return nil, &causeway.Error{
		Code:    causeway.EMODEL,
		Message: "the model's reply is not a valid list of findings",
		Err:     &ParseError{Raw: text, Err: firstErr},
	}
}
