// Package causeway holds the domain of the Causeway root-cause service: the
// incidents it investigates, the evidence lines it collects, the answers a
// model gives and the verdicts on their citations, and the small contracts
// between the packages that implement them (Collector, Model).
//
// It imports only the standard library; every outside dependency lives in
// the package that owns it (store, chunking, prompt, collectors, server).
package causeway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Incident is one production incident under investigation: a time window and
// the sources of evidence collected for it.
type Incident struct {
	ID          int64     `json:"id"`
	Key         string    `json:"key,omitempty"` // external id, e.g. a bundle id; unique when set
	Title       string    `json:"title"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Question    string    `json:"question,omitempty"` // default question, e.g. from a bundle
	CreatedAt   time.Time `json:"created_at"`
}

// SourceKind names the format a source's evidence comes in.
type SourceKind string

// The source kinds of the incident bundle format.
const (
	KindPodLog     SourceKind = "k8s-pod-log"
	KindEvents     SourceKind = "k8s-events"
	KindObjects    SourceKind = "k8s-objects"
	KindPrometheus SourceKind = "prometheus"
	KindSlack      SourceKind = "slack"
	KindJira       SourceKind = "jira"
	KindLog        SourceKind = "log"
	KindDoc        SourceKind = "doc"
	// KindMeshAdmin is recorded proxy and control-plane admin output
	// (Envoy /certs, /clusters, /stats, /memory, /config_dump; istiod
	// syncz; Linkerd /metrics).
	KindMeshAdmin SourceKind = "mesh-admin"
)

// Valid reports whether k is one of the known source kinds.
func (k SourceKind) Valid() bool {
	switch k {
	case KindPodLog, KindEvents, KindObjects, KindPrometheus, KindSlack, KindJira, KindLog, KindDoc, KindMeshAdmin:
		return true
	}
	return false
}

// Source is one origin of evidence lines within an incident: a log file, an
// events export, a metric query, a chat channel. Its Name is unique within
// the incident (for bundles, the path relative to the bundle).
type Source struct {
	ID         int64             `json:"id"`
	IncidentID int64             `json:"incident_id"`
	Name       string            `json:"name"`
	Kind       SourceKind        `json:"kind"`
	Labels     map[string]string `json:"labels,omitempty"`
	Query      string            `json:"query,omitempty"`
	Lines      int64             `json:"lines"`
	Error      string            `json:"error,omitempty"` // why the source could not be (fully) read
}

// LineKind says what an evidence line stands for.
type LineKind string

// The kinds of evidence line.
const (
	LineLog       LineKind = "log"
	LineEvent     LineKind = "event"
	LineCondition LineKind = "condition" // an object's status condition
	LineStatus    LineKind = "status"    // container state, replica counts...
	LineMetric    LineKind = "metric"    // a summary of a metric series
	LineChat      LineKind = "chat"
	LineComment   LineKind = "comment"
	LineDoc       LineKind = "doc"
)

// Line is one evidence line: a timestamped, attributed line of text. Its
// short id (Num, rendered "L4821") is unique within the incident and is what
// a model cites.
type Line struct {
	IncidentID int64  `json:"incident_id"`
	SourceID   int64  `json:"source_id"`
	Source     string `json:"source"` // the source's Name
	Num        int64  `json:"num"`    // short id within the incident; 0 until stored
	// Time is zero when neither the line nor any line before it had one.
	Time time.Time `json:"time,omitzero"`
	// TimeInferred marks a time inherited from the previous line because the
	// line's own could not be parsed.
	TimeInferred bool              `json:"time_inferred,omitempty"`
	Seq          int64             `json:"seq"` // order within the source, from 0
	Kind         LineKind          `json:"kind"`
	Text         string            `json:"text"`
	Template     string            `json:"template,omitempty"`
	Tokens       int               `json:"tokens,omitempty"`
	Attrs        map[string]string `json:"attrs,omitempty"` // namespace, pod, container, node, channel, author...
	// Fold, set by the packer, says that this line stands for a run of
	// lines of its template that the pack leaves out.
	Fold *Fold `json:"fold,omitempty"`
}

// Fold is a packed line's account of the lines of its template it stands
// for: Count lines (itself included) between First and Last. Times are zero
// when none of those lines has one.
type Fold struct {
	Count int64     `json:"count"`
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
}

// suffix renders a fold after its line's text: " ×120 between T1 and T2".
func (f *Fold) suffix() string {
	if f == nil {
		return ""
	}
	s := " ×" + strconv.FormatInt(f.Count, 10)
	switch {
	case f.First.IsZero():
		return s
	case f.Last.Equal(f.First):
		return s + " at " + f.First.UTC().Format(LineTimeLayout)
	}
	return s + " between " + f.First.UTC().Format(LineTimeLayout) + " and " + f.Last.UTC().Format(LineTimeLayout)
}

// LineID renders a short line id as cited by models: "L4821".
func LineID(num int64) string { return "L" + strconv.FormatInt(num, 10) }

// ParseLineID reads a short line id ("L4821", tolerating "[L4821]" and
// lower case) and reports whether it was one.
func ParseLineID(s string) (int64, bool) {
	s = strings.Trim(strings.TrimSpace(s), "[]")
	if len(s) < 2 || (s[0] != 'L' && s[0] != 'l') {
		return 0, false
	}
	n, err := strconv.ParseInt(s[1:], 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// ID is the line's short id, e.g. "L4821".
func (l *Line) ID() string { return LineID(l.Num) }

// LineTimeLayout is how line times are rendered for a model: UTC, millisecond
// precision, fixed width so that columns line up and tokenize alike.
const LineTimeLayout = "2006-01-02T15:04:05.000Z"

// Format renders the line as a model sees and cites it:
// "L4821 2025-08-21T03:49:15.867Z logs/envoy-gateway.log <text>", followed
// by its fold when it has one ("... ×120 between T1 and T2"). A line
// without a time shows "-" in its place. Packer and prompt both use it, so
// the tokens counted are the tokens sent.
func (l *Line) Format() string {
	t := "-"
	if !l.Time.IsZero() {
		t = l.Time.UTC().Format(LineTimeLayout)
	}
	return LineID(l.Num) + " " + t + " " + l.Source + " " + l.Text + l.Fold.suffix()
}

// Investigation statuses.
const (
	StatusQueued     = "queued"
	StatusCollecting = "collecting"
	StatusPacking    = "packing"
	StatusAsking     = "asking"
	StatusVerifying  = "verifying"
	StatusDone       = "done"
	StatusFailed     = "failed"
	StatusCanceled   = "canceled"
)

// Investigation is one question asked about an incident, with the answer,
// the verdict on its citations and what it cost.
type Investigation struct {
	ID            int64     `json:"id"`
	IncidentID    int64     `json:"incident_id"`
	Question      string    `json:"question"`
	Budget        int       `json:"budget_tokens"`
	Model         string    `json:"model"`
	PromptVersion string    `json:"prompt_version,omitempty"`
	Status        string    `json:"status"`
	ContextHash   string    `json:"context_hash,omitempty"`
	Answer        *Answer   `json:"answer,omitempty"`
	Verdict       *Verdict  `json:"verdict,omitempty"`
	Usage         Usage     `json:"usage"`
	Timings       Timings   `json:"timings"`
	Error         string    `json:"error,omitempty"`
	RawReply      string    `json:"raw_reply,omitempty"` // kept when the reply did not parse
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Usage counts the tokens an investigation cost.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	CachedTokens     int `json:"cached_tokens,omitempty"`
	ContextTokens    int `json:"context_tokens"` // evidence tokens packed, by our own count
	// CostUSD is the estimated cost from the configured price table; Priced
	// says the model had a price (builtin is free and priced).
	CostUSD float64 `json:"cost_usd,omitempty"`
	Priced  bool    `json:"priced,omitempty"`
	// WallMS is the time spent waiting for the model, over all calls.
	WallMS int64 `json:"wall_ms,omitempty"`
	// Calls lists every model call behind the answer: the answer itself, a
	// repair round, each map-reduce window, a retry with a smaller budget.
	Calls []CallUsage `json:"calls,omitempty"`
}

// CallUsage is what one model call cost.
type CallUsage struct {
	Stage            string  `json:"stage"` // "answer", "repair", "map 2/4", "reduce", "shrink"
	Model            string  `json:"model,omitempty"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	CachedTokens     int     `json:"cached_tokens,omitempty"`
	CostUSD          float64 `json:"cost_usd,omitempty"`
	WallMS           int64   `json:"wall_ms"`
	FinishReason     string  `json:"finish_reason,omitempty"`
	Error            string  `json:"error,omitempty"`
}

// Timings records how long each stage took, in milliseconds.
type Timings struct {
	ImportMS int64 `json:"import_ms,omitempty"`
	PackMS   int64 `json:"pack_ms"`
	AskMS    int64 `json:"ask_ms"`
	VerifyMS int64 `json:"verify_ms"`
	TotalMS  int64 `json:"total_ms"`
}

// Answer is a model's structured answer. Its JSON field names are part of
// the API.
type Answer struct {
	// RelevantLines are the lines the model listed as mattering before it
	// answered (quote first, then answer). They are its reading notes, not
	// claims: the verdict does not count them.
	RelevantLines []Citation `json:"relevant_lines,omitempty"`
	RootCause     string     `json:"root_cause"`
	Summary       string     `json:"summary"`
	CausalChain   []Step     `json:"causal_chain"`
	Claims        []Claim    `json:"claims"`
	RuledOut      []RuledOut `json:"ruled_out"`
	Remediation   []string   `json:"remediation"`
	OpenQuestions []string   `json:"open_questions"`
	Confidence    float64    `json:"confidence"`
}

// Step is one link of the causal chain from root cause to symptom.
type Step struct {
	Step      int        `json:"step"`
	Text      string     `json:"text"`
	Citations []Citation `json:"citations"`
}

// Claim is one statement of the answer and the lines that support it.
type Claim struct {
	Text      string     `json:"text"`
	Citations []Citation `json:"citations"`
}

// RuledOut is a hypothesis the answer rejects, and why.
type RuledOut struct {
	Hypothesis string     `json:"hypothesis"`
	Why        string     `json:"why"`
	Citations  []Citation `json:"citations"`
}

// Citation names an evidence line by short id with a verbatim quote of it.
type Citation struct {
	ID    string `json:"id"`
	Quote string `json:"quote"`
}

// Citations returns every citation of the answer in a stable order: causal
// chain, claims, ruled out.
func (a *Answer) Citations() []Citation {
	var cs []Citation
	for _, s := range a.CausalChain {
		cs = append(cs, s.Citations...)
	}
	for _, c := range a.Claims {
		cs = append(cs, c.Citations...)
	}
	for _, r := range a.RuledOut {
		cs = append(cs, r.Citations...)
	}
	return cs
}

// Citation verdicts.
const (
	CitationVerified      = "verified"
	CitationUnknownID     = "unknown_id"     // no such line in the incident
	CitationNotInContext  = "not_in_context" // the line exists but was not sent
	CitationQuoteMismatch = "quote_mismatch" // the quote is not in the line
)

// CitationVerdict is the check of one citation.
type CitationVerdict struct {
	Citation
	Where  string `json:"where"` // e.g. "causal_chain[0]", "claims[2]"
	Status string `json:"status"`
	Line   string `json:"line,omitempty"` // the cited line's text when it exists
}

// Verdict is the check of every citation of an answer.
type Verdict struct {
	Citations     []CitationVerdict `json:"citations"`
	Total         int               `json:"total"`
	Verified      int               `json:"verified"`
	UnknownID     int               `json:"unknown_id"`
	NotInContext  int               `json:"not_in_context"`
	QuoteMismatch int               `json:"quote_mismatch"`
	GroundedRatio float64           `json:"grounded_ratio"` // Verified / Total; 0 when Total is 0
	// Claims is the verdict on every statement that should cite evidence:
	// each causal-chain step, claim and ruled-out hypothesis.
	Claims     []ClaimVerdict `json:"claims,omitempty"`
	Grounded   int            `json:"grounded_claims"`
	Partial    int            `json:"partial_claims"`
	Ungrounded int            `json:"ungrounded_claims"`
	// ClaimsGroundedRatio is Grounded over all statements; 0 when none.
	ClaimsGroundedRatio float64 `json:"claims_grounded_ratio"`
	// Initial is the first round when a repair round replaced it: both
	// rounds are kept so that a reader sees what was corrected.
	Initial *Round `json:"initial,omitempty"`
}

// Claim verdicts.
const (
	ClaimGrounded   = "grounded"   // every citation verified
	ClaimPartial    = "partial"    // some citations verified
	ClaimUngrounded = "ungrounded" // no citation verified, or none given
)

// ClaimVerdict is the check of one statement of an answer.
type ClaimVerdict struct {
	Where    string `json:"where"` // "causal_chain[0]", "claims[2]", "ruled_out[1]"
	Text     string `json:"text"`
	Status   string `json:"status"`
	Verified int    `json:"verified"`
	Total    int    `json:"total"`
}

// Round is one answer of a conversation with its verdict: the first round
// of an answer that a repair round replaced.
type Round struct {
	Answer   *Answer  `json:"answer,omitempty"` // nil when the reply did not parse
	Verdict  *Verdict `json:"verdict,omitempty"`
	RawReply string   `json:"raw_reply,omitempty"` // kept when the reply did not parse
	Error    string   `json:"error,omitempty"`
}

// Message is one turn of a conversation with a model.
type Message struct {
	Role    string `json:"role"` // system, user, assistant
	Content string `json:"content"`
}

// Pack is the evidence selected for a model: the lines in the order they are
// rendered, with the counts that explain what was kept.
type Pack struct {
	IncidentID int64        `json:"incident_id"`
	Budget     int          `json:"budget_tokens"`
	Encoding   string       `json:"encoding"`
	Tokens     int          `json:"tokens"` // evidence tokens, as rendered
	Lines      []Line       `json:"-"`
	Sources    []PackSource `json:"sources"`
	Total      int64        `json:"total_lines"` // lines the incident has in the window
	// Prior is what memory recalled for this investigation, shown to the
	// model apart from the evidence.
	Prior   []Prior `json:"prior,omitempty"`
	Dropped int64   `json:"dropped_lines"`
	// Digest is the packer's short account of the strongest signals,
	// rendered at the top of Evidence(); empty or ending in a newline.
	Digest string `json:"digest,omitempty"`
}

// Prior is something the organization knew before this incident: a
// runbook section or a confirmed root cause of a past incident, recalled
// from memory. A model may cite it as "D12", but it is never evidence of
// this incident.
type Prior struct {
	ID    string  `json:"id"`   // "D12"
	Kind  string  `json:"kind"` // "incident" or "doc"
	Title string  `json:"title"`
	Text  string  `json:"text"`
	Score float64 `json:"score"` // similarity to the investigation
}

// PackSource is one source's share of a pack.
type PackSource struct {
	Name   string     `json:"name"`
	Kind   SourceKind `json:"kind"`
	Lines  int        `json:"lines"`
	Tokens int        `json:"tokens"`
	Total  int64      `json:"total_lines"`
}

// Evidence renders the pack's digest and then its lines under per-source
// headers, exactly as they are sent to the model and counted by the packer.
func (p *Pack) Evidence() string {
	var b strings.Builder
	b.WriteString(p.Digest)
	si := -1
	for i := range p.Lines {
		l := &p.Lines[i]
		if si < 0 || p.Sources[si].Name != l.Source {
			si++
			b.WriteString(SourceHeader(p.Sources[si]))
		}
		b.WriteString(l.Format())
		b.WriteByte('\n')
	}
	return b.String()
}

// SourceHeader is the line that introduces a source's lines in a pack:
// "## source logs/envoy.log (log, 120 of 4000 lines)".
func SourceHeader(s PackSource) string {
	kind := string(s.Kind)
	if kind == "" {
		kind = "unknown"
	}
	if s.Total > int64(s.Lines) {
		return fmt.Sprintf("## source %s (%s, %d of %d lines)\n", s.Name, kind, s.Lines, s.Total)
	}
	return fmt.Sprintf("## source %s (%s, %d lines)\n", s.Name, kind, s.Lines)
}

// ModelRequest is what a model is asked: the rendered conversation and the
// pack it was rendered from, so that a model that reads structure (builtin)
// need not parse text.
type ModelRequest struct {
	Messages []Message
	Pack     *Pack
	Question string
	// MaxTokens bounds the reply; 0 leaves it to the model.
	MaxTokens int
	// Stream, when set, receives reply text as it is generated.
	Stream func(delta string)
	// Schema, when set, is the JSON Schema the reply must follow, named
	// SchemaName (an eval judge, a map-reduce window); nil means the answer
	// schema. Endpoints without structured outputs get JSON mode or only
	// the instructions in the messages.
	Schema     []byte
	SchemaName string
}

// ModelReply is a model's raw reply.
type ModelReply struct {
	Text  string
	Model string // the model that answered, as it names itself
	Usage Usage
	// FinishReason is why the model stopped: "stop", "length" (cut off at
	// the token limit), "content_filter"...; "" when the endpoint did not say.
	FinishReason string
}

// Model answers questions about a packed incident.
type Model interface {
	Name() string
	Ask(ctx context.Context, req ModelRequest) (*ModelReply, error)
}

// LineSink receives the lines a collector produces, source by source.
type LineSink interface {
	// WriteLines registers src (by Name, setting its ID) and stores lines of
	// it. It may be called several times for one source, in Seq order; a
	// line whose (source, Seq) is already stored is skipped, so collecting
	// the same window twice adds nothing.
	WriteLines(ctx context.Context, src *Source, lines []Line) error
}

// Collector pulls evidence for an incident's window from one kind of system.
type Collector interface {
	Collect(ctx context.Context, inc *Incident, sink LineSink) error
}

// Error codes, mapped to HTTP statuses in one place by the server.
const (
	EINVALID  = "invalid"
	ENOTFOUND = "not_found"
	ECONFLICT = "conflict"
	EINTERNAL = "internal"
	EMODEL    = "model" // the model failed or replied with garbage
)

// Error is a domain error with a code and a message fit for a user.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
