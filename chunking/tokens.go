// Package chunking turns an incident's evidence lines into what a model can
// read within its budget: exact token counts, line templates (Drain), the
// signals that say which lines matter, and the packer that selects them.
package chunking

import (
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// Encodings that Causeway counts tokens with.
const (
	EncodingO200K  = "o200k_base" // GPT-4o and later; the default
	EncodingCL100K = "cl100k_base"
)

// DefaultEncoding is the tokenizer used when none is configured.
const DefaultEncoding = EncodingO200K

// encoding is one loaded vocabulary, shared by every Tokenizer of its name.
type encoding struct {
	name  string
	ranks map[string]int
	split func(s string, i int) int // the end of the pre-token that starts at i

	refOnce sync.Once
	ref     *tiktoken.Tiktoken
	refErr  error
}

var (
	encMu     sync.Mutex
	encodings = map[string]*encoding{}
)

// Tokenizer counts tokens exactly as an OpenAI-style model would: the
// encoding's pre-tokenizer (its regular expression, implemented by hand so
// that it runs in linear time without backtracking) and byte-pair merging
// over its ranks, with a cache of the counts of the pieces that recur in
// logs. The counts agree exactly with tiktoken-go's EncodeOrdinary, which
// the tests and BenchmarkCount check. A Tokenizer is safe for concurrent use.
type Tokenizer struct {
	enc    *encoding
	caches sync.Pool // *pieceCache
}

// NewTokenizer returns a tokenizer for the named encoding ("" for the
// default). Encodings come from the offline loader's embedded files: nothing
// is downloaded, ever.
func NewTokenizer(name string) (*Tokenizer, error) {
	if name == "" {
		name = DefaultEncoding
	}
	var split func(string, int) int
	switch name {
	case EncodingO200K:
		split = splitO200K
	case EncodingCL100K:
		split = splitCL100K
	default:
		return nil, fmt.Errorf("unknown token encoding %q (want %s or %s)", name, EncodingO200K, EncodingCL100K)
	}
	encMu.Lock()
	defer encMu.Unlock()
	enc, ok := encodings[name]
	if !ok {
		ranks, err := tiktoken_loader.NewOfflineLoader().LoadTiktokenBpe(name + ".tiktoken")
		if err != nil {
			return nil, fmt.Errorf("load token encoding %s: %w", name, err)
		}
		enc = &encoding{name: name, ranks: ranks, split: split}
		encodings[name] = enc
	}
	t := &Tokenizer{enc: enc}
	t.caches.New = func() any { return &pieceCache{counts: make(map[string]int32, 1024)} }
	return t, nil
}

// MustTokenizer is NewTokenizer for encodings known to exist; it panics on
// an unknown name.
func MustTokenizer(encoding string) *Tokenizer {
	t, err := NewTokenizer(encoding)
	if err != nil {
		panic(err)
	}
	return t
}

// Name is the encoding's name.
func (t *Tokenizer) Name() string { return t.enc.name }

// pieceCache remembers the token counts of short pieces: a log repeats the
// same words, keys and punctuation millions of times, and a map lookup is
// far cheaper than merging byte pairs again.
type pieceCache struct {
	counts map[string]int32
	bpe    bpeScratch
}

const (
	maxCachedPiece = 48      // bytes; longer pieces are rare and rarely repeat
	maxCacheSize   = 1 << 16 // entries before the cache starts afresh
)

// Count returns the number of tokens in s. Special-token text such as
// "<|endoftext|>" in evidence counts as ordinary text, as it must: evidence
// never speaks for the prompt.
func (t *Tokenizer) Count(s string) int {
	if !utf8.ValidString(s) {
		// The reference works on runes: every invalid byte is one U+FFFD.
		s = string([]rune(s))
	}
	c := t.caches.Get().(*pieceCache)
	n := 0
	for i := 0; i < len(s); {
		j := t.enc.split(s, i)
		n += t.pieceTokens(c, s[i:j])
		i = j
	}
	t.caches.Put(c)
	return n
}

func (t *Tokenizer) pieceTokens(c *pieceCache, piece string) int {
	if len(piece) <= maxCachedPiece {
		if n, ok := c.counts[piece]; ok {
			return int(n)
		}
	}
	var n int
	if _, ok := t.enc.ranks[piece]; ok {
		n = 1
	} else {
		n = c.bpe.count(piece, t.enc.ranks)
	}
	if len(piece) <= maxCachedPiece {
		if len(c.counts) >= maxCacheSize {
			clear(c.counts)
		}
		c.counts[piece] = int32(n)
	}
	return n
}

// LineTokens counts a line's text as a pack renders it: after its
// "L<id> <time> <source>" prefix, with the space before and the newline
// after. Lines and prefixes then add up to exactly the tokens of the render.
func (t *Tokenizer) LineTokens(text string) int {
	return t.Count(" " + text + "\n")
}

// reference returns tiktoken-go's encoder for the same encoding, the
// implementation that Count must agree with; tests and benchmarks use it.
func (t *Tokenizer) reference() (*tiktoken.Tiktoken, error) {
	e := t.enc
	e.refOnce.Do(func() {
		tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
		e.ref, e.refErr = tiktoken.GetEncoding(e.name)
	})
	return e.ref, e.refErr
}
