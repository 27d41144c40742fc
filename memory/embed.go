// Package memory is what Causeway remembers between incidents: runbook and
// knowledge-base sections, and the root causes engineers confirmed, as
// vectors in Postgres (pgvector, HNSW) so that an investigation starts from
// the most similar of them.
//
// Text is embedded by an Embedder: Local, a deterministic feature-hashing
// embedder that needs no network and is the default, or OpenAI, any
// OpenAI-compatible /v1/embeddings endpoint. Every vector is stored with
// its embedder's name and dimension; a search compares only vectors of the
// current embedder, and changing the embedder re-embeds the memory in the
// background (Memory.Reembed) rather than mixing spaces.
package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"unicode"

	"github.com/sashabaranov/go-openai"
)

// Embedder turns texts into vectors of one space. Name identifies the space
// (a different model or version is a different name) and Dim its size.
type Embedder interface {
	Name() string
	Dim() int
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// DefaultDim is the local embedder's dimension.
const DefaultDim = 384

// Local is a deterministic embedder that needs no network: feature hashing
// of normalized tokens (numbers, ids and hex dropped, camelCase split,
// light suffix stemming) and their bigrams into Dim buckets with a sign
// bit, weighted by 1+ln(tf) and normalized to unit length. It matches texts
// by shared vocabulary, which is what runbooks and past incidents of the
// same failure share: error strings, component and field names.
type Local struct {
	Dimensions int // DefaultDim when zero
}

var _ Embedder = Local{}

// Name is the embedder's space: its algorithm version and dimension.
func (e Local) Name() string { return fmt.Sprintf("local-hash-v1-%d", e.Dim()) }

// Dim is the vectors' dimension.
func (e Local) Dim() int {
	if e.Dimensions <= 0 {
		return DefaultDim
	}
	return e.Dimensions
}

// Embed embeds each text; it never fails.
func (e Local) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = e.vector(t)
	}
	return out, nil
}

func (e Local) vector(text string) []float32 {
	dim := e.Dim()
	counts := make(map[string]float64)
	toks := Tokens(text)
	for i, t := range toks {
		counts["u:"+t]++
		if i > 0 {
			counts["b:"+toks[i-1]+" "+t] += 0.5
		}
	}
	v := make([]float64, dim)
	for f, c := range counts {
		h := fnv.New64a()
		h.Write([]byte(f))
		x := h.Sum64()
		w := 1 + math.Log(c)
		if c < 1 {
			w = c
		}
		if x>>63 == 1 {
			w = -w
		}
		v[x%uint64(dim)] += w
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	out := make([]float32, dim)
	if norm == 0 {
		// A zero vector has no cosine distance; an empty text gets a fixed
		// direction that matches nothing in particular.
		out[0] = 1
		return out
	}
	norm = math.Sqrt(norm)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}

// Tokens normalizes text into the stems the local embedder hashes: words
// lower-cased, camelCase and snake_case split (the whole word kept too),
// numbers, hex and id-like words dropped, stop words dropped, and common
// suffixes stripped so that "expired", "expiry" and "expires" meet.
func Tokens(text string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' }) {
		parts := splitWord(w)
		if len(parts) > 1 {
			if t := stem(strings.ToLower(strings.ReplaceAll(w, "_", ""))); keep(t) {
				out = append(out, t)
			}
		}
		for _, p := range parts {
			if t := stem(strings.ToLower(p)); keep(t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// splitWord splits "ResponseEntity", "max_connections" and "http1MaxPending"
// into their parts.
func splitWord(w string) []string {
	var parts []string
	rs := []rune(w)
	start := 0
	for i := 1; i <= len(rs); i++ {
		if i == len(rs) || rs[i] == '_' ||
			(unicode.IsUpper(rs[i]) && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1])))) {
			if p := strings.Trim(string(rs[start:i]), "_"); p != "" {
				parts = append(parts, p)
			}
			start = i
		}
	}
	return parts
}

func keep(t string) bool {
	if len(t) < 2 || stopWords[t] {
		return false
	}
	digits := 0
	for _, r := range t {
		if unicode.IsDigit(r) {
			digits++
		}
	}
	// Numbers, and ids and hashes (mostly digits, or long with some), say
	// nothing about the kind of failure.
	return digits == 0 || (digits*3 < len(t) && len(t) < 12)
}

func stem(t string) string {
	for _, suf := range []string{"ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "e", "s", "y"} {
		if strings.HasSuffix(t, suf) && len(t)-len(suf) >= 4 {
			return t[:len(t)-len(suf)]
		}
	}
	return t
}

var stopWords = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(`a an and are as at be been but by can could did do does for from had has have how
		if in into is it its not of on or so than that the their then there these they this to was were what when where
		which while who why will with within without would you your our we after before about all also any each more most
		other some such only same over under up down out no yes`) {
		m[w] = true
	}
	return m
}()

// OpenAIConfig configures an OpenAI-compatible embeddings endpoint.
type OpenAIConfig struct {
	BaseURL string // e.g. https://api.openai.com/v1 or http://localhost:11434/v1
	APIKey  string
	Model   string // e.g. text-embedding-3-small, nomic-embed-text
	// Dim is the vectors' dimension; every reply is checked against it.
	Dim int
	// RequestDim sends Dim as the request's "dimensions" (text-embedding-3
	// shortens its vectors); servers that reject the field leave it false.
	RequestDim bool
}

// OpenAI embeds with an OpenAI-compatible /v1/embeddings endpoint.
type OpenAI struct {
	cfg    OpenAIConfig
	client *openai.Client
}

var _ Embedder = (*OpenAI)(nil)

// NewOpenAI returns an embedder for the endpoint of cfg.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	if cfg.Model == "" || cfg.Dim <= 0 {
		return nil, fmt.Errorf("openai embedder: model and dimension are required (got %q, %d)", cfg.Model, cfg.Dim)
	}
	c := openai.DefaultConfig(cfg.APIKey)
	if cfg.BaseURL != "" {
		c.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	return &OpenAI{cfg: cfg, client: openai.NewClientWithConfig(c)}, nil
}

// Name is "openai:" and the model.
func (e *OpenAI) Name() string { return "openai:" + e.cfg.Model }

// Dim is the configured dimension.
func (e *OpenAI) Dim() int { return e.cfg.Dim }

// ErrDimension is returned when an endpoint's vectors are not of the
// configured dimension.
var ErrDimension = errors.New("embedding dimension mismatch")

// Embed embeds texts in one request.
func (e *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	req := openai.EmbeddingRequestStrings{Input: texts, Model: openai.EmbeddingModel(e.cfg.Model)}
	if e.cfg.RequestDim {
		req.Dimensions = e.cfg.Dim
	}
	resp, err := e.client.CreateEmbeddings(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("embed %d texts with %s: %w", len(texts), e.cfg.Model, err)
	}
	if len(resp.Data) != len(texts) {
		return nil, fmt.Errorf("embed %d texts with %s: got %d vectors", len(texts), e.cfg.Model, len(resp.Data))
	}
	out := make([][]float32, len(texts))
	for _, d := range resp.Data {
		if d.Index < 0 || d.Index >= len(texts) {
			return nil, fmt.Errorf("embed with %s: vector index %d out of range", e.cfg.Model, d.Index)
		}
		if len(d.Embedding) != e.cfg.Dim {
			return nil, fmt.Errorf("embed with %s: %w: got %d, configured %d", e.cfg.Model, ErrDimension, len(d.Embedding), e.cfg.Dim)
		}
		out[d.Index] = d.Embedding
	}
	return out, nil
}
