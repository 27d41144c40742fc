// Package chunking turns an incident's evidence lines into what a model can
// read within its budget: exact token counts, line templates, and the packer
// that selects the most telling lines.
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

var (
	loaderOnce sync.Once
	encMu      sync.Mutex
	encodings  = map[string]*tiktoken.Tiktoken{}
)

// Tokenizer counts tokens exactly as an OpenAI-style model would.
type Tokenizer struct {
	name string
	enc  *tiktoken.Tiktoken
}

// NewTokenizer returns a tokenizer for the named encoding ("" for the
// default). Encodings come from the offline loader's embedded files: nothing
// is downloaded, ever.
func NewTokenizer(encoding string) (*Tokenizer, error) {
	if encoding == "" {
		encoding = DefaultEncoding
	}
	switch encoding {
	case EncodingO200K, EncodingCL100K:
	default:
		return nil, fmt.Errorf("unknown token encoding %q (want %s or %s)", encoding, EncodingO200K, EncodingCL100K)
	}
	loaderOnce.Do(func() { tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader()) })
	encMu.Lock()
	defer encMu.Unlock()
	enc, ok := encodings[encoding]
	if !ok {
		var err error
		enc, err = tiktoken.GetEncoding(encoding)
		if err != nil {
			return nil, fmt.Errorf("load token encoding %s: %w", encoding, err)
		}
		encodings[encoding] = enc
	}
	return &Tokenizer{name: encoding, enc: enc}, nil
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
func (t *Tokenizer) Name() string { return t.name }

// Byte-pair merging is quadratic in the length of a piece, so a 64 KiB line
// without a space would take seconds to count, while each call to the
// encoder has a fixed cost. Count therefore hands the encoder segments of
// up to segmentBytes, cut where a word starts (where the encoder's
// pre-tokenizer splits anyway, so the count stays exact), and cuts a run of
// more than maxRunBytes without such a place (then the count is close, not
// exact, and the cost stays linear).
const (
	segmentBytes = 64 << 10
	maxRunBytes  = 1 << 10
)

// Count returns the number of tokens in s. Special-token text such as
// "<|endoftext|>" in evidence counts as ordinary text, as it must: evidence
// never speaks for the prompt.
func (t *Tokenizer) Count(s string) int {
	n := 0
	for len(s) > 0 {
		cut := cutPoint(s)
		n += len(t.enc.EncodeOrdinary(s[:cut]))
		s = s[cut:]
	}
	return n
}

// cutPoint returns where the first segment of s ends.
func cutPoint(s string) int {
	lastWord := 0 // the last place a word starts: a space or newline after a non-space
	run := 0      // bytes since the last such place
	for i := 1; i < len(s); i++ {
		if (s[i] == ' ' || s[i] == '\n') && !isSpace(s[i-1]) {
			if i > segmentBytes {
				return lastWord
			}
			lastWord, run = i, 0
			continue
		}
		run++
		if run > maxRunBytes {
			if lastWord > 0 {
				return lastWord
			}
			for i > 1 && !utf8.RuneStart(s[i]) {
				i--
			}
			return i
		}
	}
	if len(s) > segmentBytes && lastWord > 0 {
		return lastWord
	}
	return len(s)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// LineTokens counts a line's text as a pack renders it: after its
// "L<id> <time> <source>" prefix, with the space before and the newline
// after. Lines and prefixes then add up to exactly the tokens of the render.
func (t *Tokenizer) LineTokens(text string) int {
	return t.Count(" " + text + "\n")
}
