package chunking

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store"
)

// TemplateStore keeps the templates of an incident's lines; store.DB is one.
type TemplateStore interface {
	FixLineTemplates(ctx context.Context, incidentID, sourceID int64, fixes []store.TemplateFix) error
	RefreshTemplates(ctx context.Context, incidentID int64, sourceIDs []int64) error
}

var _ TemplateStore = (*store.DB)(nil)

// Annotator is a causeway.LineSink that prepares lines for the packer
// before passing them on: it redacts secrets (evidence is stored redacted,
// so no secret reaches a model or the UI), makes the text storable, counts
// its tokens as a pack renders it (Tokenizer.LineTokens) and files it under
// a Drain template of its source. Everything but the Drain walk runs on
// several cores; the packer then reads counts and templates instead of
// computing them.
//
// Drain refines a template as lines arrive, so lines stored early may carry
// an older text of it. Flush corrects them and stores each source's
// templates; call it when an import or collection is done.
//
// An Annotator is safe for concurrent use; lines of one source must come in
// Seq order, as LineSink requires.
type Annotator struct {
	Next      causeway.LineSink
	Tokenizer *Tokenizer
	// Redactor replaces the secrets of lines with numbered placeholders
	// (<secret:3>), the same secret with the same number across the whole
	// import; Annotate gives each Annotator its own. nil redacts without
	// numbering.
	Redactor *Redactor
	// Templates receives the templates at Flush; Annotate sets it to Next
	// when Next keeps templates.
	Templates TemplateStore
	// Workers annotate a batch in parallel; GOMAXPROCS when zero.
	Workers int
	// Pipeline lets WriteLines return as soon as its lines are annotated,
	// so that the caller reads the next batch and the annotator prepares it
	// while the store copies earlier ones; consecutive batches of a source
	// are gathered into writes of about 20,000 lines. The caller must not
	// touch lines after handing them over. A write's error, and src.ID,
	// come with a later WriteLines or with Flush, which must be called.
	Pipeline bool

	mu      sync.Mutex
	sources map[sourceKey]*sourceState

	writeMu sync.Mutex // held by the caller of WriteLines across the hand-over
	pending *pendingWrite
	batch   *gathered
}

// pendingWrite is a write running in the background under Pipeline.
type pendingWrite struct {
	done chan struct{}
	err  error
	src  *causeway.Source // the caller's, to receive the ID
	copy causeway.Source  // what the write works on
	st   *sourceState
}

var _ causeway.LineSink = (*Annotator)(nil)

type sourceKey struct {
	incident int64
	name     string
}

// sourceState is one source's Drain and, for each template version that
// lines were stored with, the seqs of those lines.
type sourceState struct {
	mu       sync.Mutex
	incident int64
	id       int64
	drain    *Drain
	written  map[*Cluster][]versionSpan
}

type versionSpan struct {
	version int
	text    string
	lo, hi  int64
}

// Annotate wraps next.
func Annotate(next causeway.LineSink, tok *Tokenizer) *Annotator {
	a := &Annotator{Next: next, Tokenizer: tok, Redactor: DefaultRedactor()}
	if ts, ok := next.(TemplateStore); ok {
		a.Templates = ts
	}
	return a
}

func (a *Annotator) state(src *causeway.Source) *sourceState {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sources == nil {
		a.sources = make(map[sourceKey]*sourceState)
	}
	k := sourceKey{src.IncidentID, src.Name}
	st := a.sources[k]
	if st == nil {
		st = &sourceState{incident: src.IncidentID, drain: NewDrain(), written: make(map[*Cluster][]versionSpan)}
		a.sources[k] = st
	}
	return st
}

// WriteLines annotates lines in place and writes them to the next sink.
// Lines that come with a template keep it.
func (a *Annotator) WriteLines(ctx context.Context, src *causeway.Source, lines []causeway.Line) error {
	masked := make([]string, len(lines))
	a.parallel(len(lines), func(i int) {
		l := &lines[i]
		l.Text = storable(l.Text)
		if text, fired := a.redact(l.Text); len(fired) > 0 {
			l.Text = text
			if l.Attrs == nil {
				l.Attrs = map[string]string{}
			}
			l.Attrs["redacted"] = strings.Join(fired, ",")
		}
		if l.Template == "" {
			masked[i] = Mask(l.Text)
		}
		if l.Tokens == 0 {
			l.Tokens = a.Tokenizer.LineTokens(l.Text)
		}
	})

	st := a.state(src)
	st.mu.Lock()
	for i := range lines {
		l := &lines[i]
		if l.Template != "" {
			continue
		}
		c := st.drain.AddMasked(masked[i])
		l.Template = c.Template()
		spans := st.written[c]
		if n := len(spans); n > 0 && spans[n-1].version == c.Version {
			spans[n-1].lo = min(spans[n-1].lo, l.Seq)
			spans[n-1].hi = max(spans[n-1].hi, l.Seq)
		} else {
			st.written[c] = append(spans, versionSpan{version: c.Version, text: l.Template, lo: l.Seq, hi: l.Seq})
		}
	}
	st.mu.Unlock()
	if !a.Pipeline {
		if err := a.Next.WriteLines(ctx, src, lines); err != nil {
			return err
		}
		st.mu.Lock()
		st.id = src.ID
		st.mu.Unlock()
		return nil
	}
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	// Batches of one source are gathered into larger writes: every write
	// is a transaction with its own bookkeeping and commit.
	if b := a.batch; b != nil && b.src != src {
		if err := a.handOver(ctx); err != nil {
			return err
		}
	}
	if a.batch == nil {
		a.batch = &gathered{src: src, st: st}
	}
	a.batch.copy = *src
	a.batch.lines = append(a.batch.lines, lines...)
	if len(a.batch.lines) >= gatherLines {
		return a.handOver(ctx)
	}
	return nil
}

// gatherLines is how many lines of one source a pipelined Annotator
// gathers into one write.
const gatherLines = 20_000

// gathered is the batch a pipelined Annotator is gathering.
type gathered struct {
	src   *causeway.Source
	copy  causeway.Source
	st    *sourceState
	lines []causeway.Line
}

// handOver waits for the write in the background, then starts writing the
// gathered batch. The caller holds writeMu.
func (a *Annotator) handOver(ctx context.Context) error {
	b := a.batch
	a.batch = nil
	if err := a.wait(); err != nil {
		return err
	}
	if b == nil {
		return nil
	}
	w := &pendingWrite{done: make(chan struct{}), src: b.src, copy: b.copy, st: b.st}
	a.pending = w
	go func() {
		defer close(w.done)
		w.err = a.Next.WriteLines(ctx, &w.copy, b.lines)
	}()
	return nil
}

// wait finishes the write in the background, if any, and returns its
// error. The caller holds writeMu.
func (a *Annotator) wait() error {
	w := a.pending
	if w == nil {
		return nil
	}
	<-w.done
	a.pending = nil
	if w.err != nil {
		return w.err
	}
	w.src.ID = w.copy.ID
	w.st.mu.Lock()
	w.st.id = w.copy.ID
	w.st.mu.Unlock()
	return nil
}

// parallel calls fn for every index below n on Workers goroutines.
func (a *Annotator) parallel(n int, fn func(i int)) {
	workers := a.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	const minChunk = 256 // below this, starting goroutines costs more than it saves
	if workers <= 1 || n < 2*minChunk {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	chunk := max((n+workers-1)/workers, minChunk)
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// storable makes text what the store keeps (no NUL byte, valid UTF-8), so
// that the tokens counted are the tokens of the stored text.
func storable(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// Flush gives the lines stored with an outdated template text the current
// one and rebuilds the templates of every source written since the last
// Flush. Without a TemplateStore it only forgets what it tracked.
func (a *Annotator) Flush(ctx context.Context) error {
	a.writeMu.Lock()
	err := a.handOver(ctx)
	if err == nil {
		err = a.wait()
	}
	a.writeMu.Unlock()
	if err != nil {
		return err
	}
	a.mu.Lock()
	states := make([]*sourceState, 0, len(a.sources))
	for _, st := range a.sources {
		states = append(states, st)
	}
	a.mu.Unlock()

	byIncident := map[int64][]int64{}
	var errs []error
	for _, st := range states {
		st.mu.Lock()
		fixes := st.fixes()
		if len(st.written) > 0 && st.id != 0 {
			byIncident[st.incident] = append(byIncident[st.incident], st.id)
		}
		clear(st.written)
		st.mu.Unlock()
		if a.Templates != nil && len(fixes) > 0 && st.id != 0 {
			if err := a.Templates.FixLineTemplates(ctx, st.incident, st.id, fixes); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if a.Templates != nil {
		for inc, ids := range byIncident {
			if err := a.Templates.RefreshTemplates(ctx, inc, ids); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store templates: %w", err)
	}
	return nil
}

// fixes lists, for every template whose text changed after lines were
// stored with it, the seqs to give the current text.
func (st *sourceState) fixes() []store.TemplateFix {
	var out []store.TemplateFix
	for _, c := range st.drain.Clusters() {
		for _, s := range st.written[c] {
			if s.text != c.Template() {
				out = append(out, store.TemplateFix{From: s.text, To: c.Template(), FirstSeq: s.lo, LastSeq: s.hi})
			}
		}
	}
	return out
}

func (a *Annotator) redact(text string) (string, []string) {
	if a.Redactor == nil {
		return Redact(text)
	}
	return a.Redactor.Redact(text)
}
