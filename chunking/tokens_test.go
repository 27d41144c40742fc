package chunking

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestTokenizerCountsLikeTheModel(t *testing.T) {
	tests := []struct {
		encoding string
		text     string
		want     int
	}{
		{EncodingO200K, "", 0},
		{EncodingO200K, "hello world", 2},
		{EncodingCL100K, "hello world", 2},
		{EncodingO200K, "<|endoftext|>", 7}, // special tokens in evidence are plain text
	}
	for _, tt := range tests {
		t.Run(tt.encoding+"/"+tt.text, func(t *testing.T) {
			tok, err := NewTokenizer(tt.encoding)
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Count(tt.text); got != tt.want {
				t.Errorf("Count(%q) = %d, want %d", tt.text, got, tt.want)
			}
		})
	}
	if _, err := NewTokenizer("gpt2"); err == nil {
		t.Error("an unknown encoding was accepted")
	}
}

// alphabet mixes what makes pre-tokenizers differ: cases, contractions,
// digits of several scripts, marks, every kind of space and newline,
// punctuation runs and slashes, and bytes that are not UTF-8.
var alphabet = []string{
	"a", "b", "Z", "Q", "é", "É", "ß", "ǅ", "ʰ", "日", "本", "ا", "\u0301", "\u0903", "ſ", "K",
	"0", "7", "٣", "Ⅻ", "½", "²",
	" ", " ", " ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u2028", "\u3000", "\x85", "\v", "\f",
	"'", "'s", "'S", "'re", "'LL", "'ve", "'d", "'m", "'t", "'x",
	".", ",", "/", "//", ":", "{", "}", "\"", "-", "_", "=", "<|endoftext|>", "😀", "\x00",
	"\xff", "\xc3", "\x80",
	"error", "Error", "ERROR", "HTTP", "GETs", "McDonald's", "JSON", "iPhone",
}

func randomText(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

// TestCountAgreesWithTiktoken checks the hand-written pre-tokenizers and
// merging against tiktoken-go on text built to hit every branch of the
// encodings' regular expressions, on long pieces, and on log lines.
func TestCountAgreesWithTiktoken(t *testing.T) {
	for _, name := range []string{EncodingO200K, EncodingCL100K} {
		t.Run(name, func(t *testing.T) {
			tok := MustTokenizer(name)
			ref, err := tok.reference()
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			var texts []string
			for i := 0; i < 8_000; i++ {
				texts = append(texts, randomText(r, 1+r.IntN(40)))
			}
			letters := []string{"a", "b", "c", "e", "r", "s", "t", "in", "the", "ing", "x", "q", "Z", "é"}
			for i := 0; i < 150; i++ {
				var b strings.Builder
				for n := 129 + r.IntN(400); b.Len() < n; {
					b.WriteString(letters[r.IntN(len(letters))])
				}
				texts = append(texts, b.String())
			}
			texts = append(texts, strings.Repeat("x", 3000), strings.Repeat("ab", 700)+" "+strings.Repeat("-", 400),
				strings.Repeat("aGVsbG8gd29ybGQ", 100), strings.Repeat("  \n", 100), strings.Repeat("日本語", 200), benchText(20_000))
			for _, s := range texts {
				if got, want := tok.Count(s), len(ref.EncodeOrdinary(s)); got != want {
					t.Fatalf("Count(%.200q) = %d, tiktoken-go %d", s, got, want)
				}
			}
		})
	}
}

func TestBytePairMergeHeapAgreesWithScan(t *testing.T) {
	tok := MustTokenizer("")
	r := rand.New(rand.NewPCG(3, 4))
	letters := []string{"a", "b", "c", "e", "r", "s", "t", "in", "the", "ing", "x", "q", "é", "-", "=", "ab"}
	var b bpeScratch
	for i := 0; i < 20_000; i++ {
		var sb strings.Builder
		for n := 2 + r.IntN(60); sb.Len() < n; {
			sb.WriteString(letters[r.IntN(len(letters))])
		}
		s := sb.String()
		if scan, heap := b.scan(s, tok.enc.ranks), b.merge(s, tok.enc.ranks); scan != heap {
			t.Fatalf("%q: scanning merges to %d tokens, the heap to %d", s, scan, heap)
		}
	}
}

func TestCountIsExactForLongTextAndFastForHugeWords(t *testing.T) {
	tok := MustTokenizer("")
	var b strings.Builder
	for i := 0; b.Len() < 200_000; i++ {
		fmt.Fprintf(&b, "2025-08-21T03:%02d:%02dZ ERROR  pod web-%d: connection reset by peer (attempt %d) ünïcode 日本語\n", i%60, i%60, i, i)
	}
	s := b.String()
	ref, err := tok.reference()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tok.Count(s), len(ref.EncodeOrdinary(s)); got != want {
		t.Errorf("count %d, tiktoken-go %d", got, want)
	}
	if got, want := tok.Count(strings.Repeat("\x80", 5000)), len(ref.EncodeOrdinary(strings.Repeat("\x80", 5000))); got != want {
		t.Errorf("invalid UTF-8 counts %d tokens, tiktoken-go %d", got, want)
	}
	// A 64 KiB word would take tiktoken-go's quadratic merge seconds; the
	// heap merges it in milliseconds, exactly (checked on shorter words
	// above).
	huge := strings.Repeat("x", 64<<10)
	if n := tok.Count(huge); n < 64<<10/16 || n > 64<<10 {
		t.Errorf("a 64 KiB word counts %d tokens", n)
	}
}

func benchText(bytes int) string {
	var b strings.Builder
	for i := 0; b.Len() < bytes; i++ {
		fmt.Fprintf(&b, `2025-08-21T03:%02d:%02dZ INFO {"route":"httproute/aibrix-system/llama2-7b-router/rule/0","response_code":%d,"duration":%d,"upstream_host":"10.244.0.%d:8000"}`+"\n", i%60, i%60, 200+i%3, i%97, i%250)
	}
	return b.String()
}
