package memory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store"
)

// Memory stores and searches what Causeway remembers, in one embedder's
// space.
type Memory struct {
	DB       *store.DB
	Embedder Embedder
	Logger   *slog.Logger
	// Batch is how many texts go to the embedder at once (default 64).
	Batch int
	Now   func() time.Time
}

// New returns the memory of db in emb's space (Local when emb is nil).
func New(db *store.DB, emb Embedder) *Memory {
	if emb == nil {
		emb = Local{}
	}
	return &Memory{DB: db, Embedder: emb, Logger: slog.New(slog.DiscardHandler), Batch: 64, Now: time.Now}
}

// Init creates the HNSW index of the embedder's vectors when needed.
func (m *Memory) Init(ctx context.Context) error {
	return m.DB.EnsureMemoryIndex(ctx, m.Embedder.Name(), m.Embedder.Dim())
}

func hashOf(title, body string) string {
	h := sha256.Sum256([]byte(title + "\x00" + body))
	return hex.EncodeToString(h[:12])
}

// text is what is embedded of an item: its title and body.
func text(it *store.MemoryItem) string { return it.Title + "\n" + it.Body }

// DocResult counts what AddDoc did to one document.
type DocResult struct {
	Name     string `json:"name"`
	Sections int    `json:"sections"`
	Embedded int    `json:"embedded"`
	Removed  int64  `json:"removed"` // sections the document no longer has
}

// AddDoc stores a markdown document's sections (Sections) under name,
// replacing the sections it had before, and embeds those that changed.
// incidentID, when not 0, ties the document to the incident whose bundle
// it came with: that incident's own docs are evidence already, so its
// searches leave them out, and they go when it is deleted.
func (m *Memory) AddDoc(ctx context.Context, name, markdown string, incidentID int64) (DocResult, error) {
	res := DocResult{Name: name}
	source := docSource(name, incidentID)
	var keys []string
	for i, s := range Sections(name, markdown) {
		it := &store.MemoryItem{Kind: store.MemoryDoc, Key: "doc:" + source + "#" + strconv.Itoa(i+1), Title: s.Title, Body: s.Body,
			Source: source, Hash: hashOf(s.Title, s.Body), IncidentID: incidentID}
		if err := m.DB.PutMemoryItem(ctx, it); err != nil {
			return res, fmt.Errorf("add doc %s: %w", name, err)
		}
		keys = append(keys, it.Key)
		res.Sections++
	}
	var err error
	if res.Removed, err = m.DB.DeleteMemoryItems(ctx, store.MemoryDoc, source, keys); err != nil {
		return res, fmt.Errorf("add doc %s: %w", name, err)
	}
	n, err := m.Reembed(ctx, nil)
	res.Embedded = n
	if err != nil {
		return res, fmt.Errorf("add doc %s: %w", name, err)
	}
	return res, nil
}

// docSource names a document within memory: a bundle's doc is scoped to
// its incident, so that two bundles' "docs/runbook.md" stay apart.
func docSource(name string, incidentID int64) string {
	if incidentID == 0 {
		return name
	}
	return "incident/" + strconv.FormatInt(incidentID, 10) + "/" + name
}

// IncidentKey is the memory key of an investigation's confirmed root cause.
func IncidentKey(investigationID int64) string {
	return "investigation:" + strconv.FormatInt(investigationID, 10)
}

// maxSignature bounds how many cited lines stand for an incident's
// signature in its memory item.
const maxSignature = 12

// Confirm remembers an investigation's answer as a confirmed root cause:
// the incident's title and question, the root cause, summary, causal chain
// and remediation, and as its signature the evidence lines the answer
// cited and that were verified. Only confirmed answers are remembered, so
// a wrong answer cannot teach later investigations.
func (m *Memory) Confirm(ctx context.Context, inc *causeway.Incident, inv *causeway.Investigation) error {
	if inv.Answer == nil || strings.TrimSpace(inv.Answer.RootCause) == "" {
		return causeway.Errorf(causeway.EINVALID, "investigation %d has no root cause to remember", inv.ID)
	}
	title, body := IncidentText(inc, inv)
	it := &store.MemoryItem{Kind: store.MemoryIncident, Key: IncidentKey(inv.ID), Title: title, Body: body,
		Source: inc.Title, Hash: hashOf(title, body), IncidentID: inc.ID, InvestigationID: inv.ID}
	if err := m.DB.PutMemoryItem(ctx, it); err != nil {
		return fmt.Errorf("remember investigation %d: %w", inv.ID, err)
	}
	if _, err := m.Reembed(ctx, nil); err != nil {
		return fmt.Errorf("remember investigation %d: %w", inv.ID, err)
	}
	return nil
}

// Forget drops an investigation's root cause from memory (an answer marked
// wrong after it was confirmed).
func (m *Memory) Forget(ctx context.Context, investigationID int64) error {
	return m.DB.DeleteMemoryItem(ctx, IncidentKey(investigationID))
}

// IncidentText renders a confirmed investigation as a memory item's title
// and body.
func IncidentText(inc *causeway.Incident, inv *causeway.Investigation) (title, body string) {
	a := inv.Answer
	title = inc.Title
	if title == "" {
		title = "incident " + strconv.FormatInt(inc.ID, 10)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Question: %s\nRoot cause: %s\n", oneLine(inv.Question), oneLine(a.RootCause))
	if a.Summary != "" {
		fmt.Fprintf(&b, "Summary: %s\n", oneLine(a.Summary))
	}
	for _, s := range a.CausalChain {
		fmt.Fprintf(&b, "Chain %d: %s\n", s.Step, oneLine(s.Text))
	}
	for _, r := range a.Remediation {
		fmt.Fprintf(&b, "Resolved by: %s\n", oneLine(r))
	}
	if inv.Verdict != nil {
		seen := map[string]bool{}
		n := 0
		for _, c := range inv.Verdict.Citations {
			if c.Status != causeway.CitationVerified || c.Line == "" || seen[c.Line] || n == maxSignature {
				continue
			}
			seen[c.Line] = true
			n++
			fmt.Fprintf(&b, "Signature: %s\n", oneLine(Truncate(c.Line, 300)))
		}
	}
	return title, b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Truncate cuts s to at most n bytes (and an ellipsis), at a rune
// boundary.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n-- // do not cut a UTF-8 sequence
	}
	return s[:n] + "…"
}

// Reembed embeds every item that has no current vector of the embedder's
// (new, changed, or stored under another embedder), in batches, and
// returns how many it embedded. progress, when set, is told the counts
// after each batch.
func (m *Memory) Reembed(ctx context.Context, progress func(done, todo int64)) (int, error) {
	name, dim := m.Embedder.Name(), m.Embedder.Dim()
	if err := m.Init(ctx); err != nil {
		return 0, err
	}
	batch := m.Batch
	if batch <= 0 {
		batch = 64
	}
	done := 0
	for {
		items, err := m.DB.MemoryItemsToEmbed(ctx, name, batch)
		if err != nil || len(items) == 0 {
			return done, err
		}
		texts := make([]string, len(items))
		for i, it := range items {
			texts[i] = text(it)
		}
		vecs, err := m.Embedder.Embed(ctx, texts)
		if err != nil {
			return done, fmt.Errorf("re-embed with %s: %w", name, err)
		}
		if err := m.DB.PutEmbeddings(ctx, name, dim, items, vecs); err != nil {
			return done, err
		}
		done += len(items)
		if progress != nil {
			all, embedded, err := m.DB.MemoryCounts(ctx, name)
			if err == nil {
				progress(embedded, all-embedded)
			}
		}
	}
}

// Background re-embeds the memory with the current embedder until it is
// done or ctx ends, and then drops the vectors of other embedders (which
// searches no longer read). Run it in a goroutine at start: an embedder
// change makes the memory searchable again in the new space as it goes,
// never by comparing vectors of two spaces.
func (m *Memory) Background(ctx context.Context) error {
	start := m.Now()
	n, err := m.Reembed(ctx, nil)
	if err != nil {
		m.Logger.Warn("memory: re-embedding stopped", "embedder", m.Embedder.Name(), "embedded", n, "error", err)
		return err
	}
	dropped, err := m.DB.DropEmbeddings(ctx, m.Embedder.Name(), m.Embedder.Dim())
	if err != nil {
		return err
	}
	if n > 0 || dropped > 0 {
		m.Logger.Info("memory: embedded", "embedder", m.Embedder.Name(), "items", n, "dropped_vectors", dropped, "took", m.Now().Sub(start).Round(time.Millisecond))
	}
	return nil
}

// Query is a similarity search.
type Query struct {
	Text            string
	Kinds           []string // store.MemoryDoc, store.MemoryIncident; empty for both
	ExcludeIncident int64
	Limit           int
	MinScore        float64
}

// Search returns the items most similar to the query's text.
func (m *Memory) Search(ctx context.Context, q Query) ([]store.MemoryHit, error) {
	vecs, err := m.Embedder.Embed(ctx, []string{q.Text})
	if err != nil {
		return nil, fmt.Errorf("search memory: %w", err)
	}
	return m.DB.SearchMemory(ctx, store.MemoryQuery{Embedder: m.Embedder.Name(), Vector: vecs[0], Kinds: q.Kinds,
		ExcludeIncident: q.ExcludeIncident, Limit: q.Limit, MinScore: q.MinScore})
}
