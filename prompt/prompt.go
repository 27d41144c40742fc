// Package prompt turns a packed incident into a conversation with a model and
// the model's reply into a verified answer: it renders the grounding prompt
// from embedded templates, parses the JSON answer however the model wrapped
// it, and checks every citation against the lines that were sent.
//
// The backends live in subpackages: prompt/openai for OpenAI-compatible
// endpoints and prompt/builtin for the deterministic analyzer.
package prompt

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt/builtin"
)

// Version names the prompt templates and answer schema. It is stored with
// every investigation so that answers are compared across prompt changes;
// a test fails when the templates change and Version does not.
const Version = "2026-11-23.2"

// DefaultQuestion is asked when the caller gives none.
const DefaultQuestion = "What is the root cause of this incident?"

//go:embed templates/*.tmpl templates/*.schema.json
var templateFS embed.FS

var (
	templates      = template.Must(template.New("").ParseFS(templateFS, "templates/*.tmpl"))
	schema         = mustCompactSchema("templates/answer.schema.json")
	findingsSchema = mustCompactSchema("templates/findings.schema.json")
)

func mustCompactSchema(name string) []byte {
	raw, err := templateFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		panic(fmt.Sprintf("%s: %v", name, err))
	}
	return buf.Bytes()
}

// AnswerSchema returns the JSON Schema of the answer, as sent in a
// response_format of type json_schema. The caller owns the returned bytes.
func AnswerSchema() json.RawMessage {
	return bytes.Clone(schema)
}

// AnswerSchemaName is the schema's name in a response_format request.
const AnswerSchemaName = "causeway_answer"

// FindingsSchema returns the JSON Schema of one map-reduce window's reply:
// {"findings": [{"text", "citations"}]}. The caller owns the returned bytes.
func FindingsSchema() json.RawMessage {
	return bytes.Clone(findingsSchema)
}

// FindingsSchemaName is the findings schema's name in a response_format.
const FindingsSchemaName = "causeway_findings"

// Build renders the conversation for one question about a pack: the system
// instructions, the incident context (header and evidence), and the question
// last. The first two messages depend only on the pack, so they are
// byte-identical for every question about it and providers' prompt caches
// hit on follow-ups.
func Build(pack *causeway.Pack, question string) []causeway.Message {
	if strings.TrimSpace(question) == "" {
		question = DefaultQuestion
	}
	return []causeway.Message{
		{Role: "system", Content: render("system.tmpl", struct{ Schema string }{string(schema)})},
		{Role: "user", Content: render("context.tmpl", newContextData(pack))},
		{Role: "user", Content: render("question.tmpl", struct{ Question string }{strings.TrimSpace(question)})},
	}
}

// ContextHash identifies the stable prefix of a conversation (every message
// but the last, the question): the same pack rendered by the same prompt
// version gives the same hash.
func ContextHash(msgs []causeway.Message) string {
	h := sha256.New()
	for _, m := range msgs[:max(len(msgs)-1, 0)] {
		fmt.Fprintf(h, "%s\x00%s\x00", m.Role, m.Content)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func render(name string, data any) string {
	var b strings.Builder
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		// The templates are embedded and their data types fixed, so an
		// execution error is a programming error that the golden test catches.
		panic(fmt.Sprintf("render %s: %v", name, err))
	}
	return b.String()
}

type contextData struct {
	IncidentID int64
	Window     string
	Lines      int
	Tokens     int
	Budget     int
	Total      int64
	Groups     []sourceGroup
	Empty      []string
	Digest     string // the builtin analyzer's signals; from the pack alone, so the prefix is the same for every question
	// PackDigest is the packer's account of its strongest signals, counted
	// in the pack's tokens. It quotes masked line text, so it goes inside
	// the evidence block, defused like a line.
	PackDigest string
	Prior      []priorItem
}

// priorItem is a recalled runbook section or past root cause, defused like
// evidence: it is organization text, not instructions.
type priorItem struct {
	ID, Title, Text string
}

type sourceGroup struct {
	Header string
	Lines  []string
}

func newContextData(pack *causeway.Pack) contextData {
	if pack == nil {
		pack = &causeway.Pack{}
	}
	d := contextData{
		IncidentID: pack.IncidentID,
		Lines:      len(pack.Lines),
		Tokens:     pack.Tokens,
		Budget:     pack.Budget,
		Total:      pack.Total,
		Window:     window(pack.Lines),
		Digest:     builtin.Digest(pack),
		PackDigest: defuseBlock(pack.Digest),
	}
	for _, p := range pack.Prior {
		d.Prior = append(d.Prior, priorItem{ID: defuse(p.ID), Title: defuse(p.Title), Text: defuseBlock(p.Text)})
	}
	d.Groups, d.Empty = sourceGroups(pack)
	return d
}

// sourceGroups renders the pack's lines under their sources' headers, and
// names the sources of which no line was kept.
func sourceGroups(pack *causeway.Pack) (groups []sourceGroup, empty []string) {
	stats := make(map[string]causeway.PackSource, len(pack.Sources))
	for _, s := range pack.Sources {
		stats[s.Name] = s
	}
	shown := make(map[string]int)
	for i := range pack.Lines {
		shown[pack.Lines[i].Source]++
	}
	for i := range pack.Lines {
		l := &pack.Lines[i]
		// The packer groups lines by source; a source that comes back later
		// gets its header again rather than its lines reordered, because the
		// pack's order is what was counted and what the model should read.
		if len(groups) == 0 || pack.Lines[i-1].Source != l.Source {
			groups = append(groups, sourceGroup{Header: sourceHeader(l.Source, stats[l.Source], shown[l.Source])})
		}
		g := &groups[len(groups)-1]
		g.Lines = append(g.Lines, RenderLine(l))
	}
	for _, s := range pack.Sources {
		if shown[s.Name] == 0 {
			empty = append(empty, sourceHeader(s.Name, s, 0))
		}
	}
	return groups, empty
}

func sourceHeader(name string, s causeway.PackSource, shown int) string {
	var parts []string
	if s.Kind != "" {
		parts = append(parts, string(s.Kind))
	}
	if s.Total > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d lines", shown, s.Total))
	} else {
		parts = append(parts, fmt.Sprintf("%d lines", shown))
	}
	return name + " (" + strings.Join(parts, ", ") + ")"
}

func window(lines []causeway.Line) string {
	var first, last time.Time
	for i := range lines {
		t := lines[i].Time
		if t.IsZero() {
			continue
		}
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	if first.IsZero() {
		return "unknown"
	}
	return fmt.Sprintf("%s to %s (%s)",
		first.UTC().Format(causeway.LineTimeLayout), last.UTC().Format(causeway.LineTimeLayout), last.Sub(first).Round(time.Second))
}

// RenderLine renders a line exactly as the prompt shows it: its Format(),
// on one physical line, with anything that looks like the evidence block's
// delimiters defused so that a log line can never close the block early.
func RenderLine(l *causeway.Line) string {
	return defuse(l.Format())
}

var (
	// A tag-like "<evidence" or "</evidence" inside a line is rendered as
	// "<\evidence" or "<\/evidence".
	delimiterRE = regexp.MustCompile(`(?i)<(/?(?:evidence|prior))`)
	newlineRE   = regexp.MustCompile(`[\r\n\v\f\x{2028}\x{2029}]+`)
)

// defuseBlock defuses each line of a multi-line text, keeping its lines;
// the result is empty or ends in a newline.
func defuseBlock(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = defuse(l)
	}
	return strings.Join(lines, "\n") + "\n"
}

func defuse(s string) string {
	if strings.ContainsAny(s, "\r\n\v\f\u2028\u2029") {
		s = newlineRE.ReplaceAllString(s, " ")
	}
	if strings.Contains(s, "<") {
		s = delimiterRE.ReplaceAllString(s, `<\$1`)
	}
	return s
}
