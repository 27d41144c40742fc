package chunking

import (
	"unicode"
	"unicode/utf8"
)

// The pre-tokenizers below implement the encodings' regular expressions as
// tiktoken-go runs them (dlclark/regexp2: ordered alternation, greedy
// quantifiers with backtracking, Go's Unicode tables, \s = unicode.IsSpace),
// one alternative at a time and without backtracking over the input, so a
// line of any length is split in linear time. Each function returns where
// the pre-token that starts at byte i of s ends; s is valid UTF-8.
//
// o200k_base:
//
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// cl100k_base:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+

// Character classes, as bits.
const (
	cUpper   = 1 << iota // Lu Lt Lm Lo M: o200k's first letter class
	cLower               // Ll Lm Lo M: o200k's second letter class
	cLetter              // \p{L}
	cNumber              // \p{N}
	cSpace               // \s
	cNewline             // \r or \n
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := 0; c < utf8.RuneSelf; c++ {
		t[c] = classOf(rune(c))
	}
	return t
}()

func classOf(r rune) uint8 {
	var c uint8
	switch {
	case unicode.IsLetter(r):
		c |= cLetter
		switch {
		case unicode.Is(unicode.Lu, r), unicode.Is(unicode.Lt, r):
			c |= cUpper
		case unicode.Is(unicode.Ll, r):
			c |= cLower
		default: // Lm, Lo belong to both
			c |= cUpper | cLower
		}
	case unicode.IsMark(r):
		c |= cUpper | cLower
	case unicode.IsNumber(r):
		c |= cNumber
	case unicode.IsSpace(r):
		c |= cSpace
		if r == '\r' || r == '\n' {
			c |= cNewline
		}
	}
	return c
}

// classAt returns the class of the character at byte i and its width; past the
// end it returns class 0 and width 0.
func classAt(s string, i int) (uint8, int) {
	if i >= len(s) {
		return 0, 0
	}
	if b := s[i]; b < utf8.RuneSelf {
		return asciiClass[b], 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	return classOf(r), w
}

// run returns the end of the run of characters from i whose class has any
// of the bits in want.
func run(s string, i int, want uint8) int {
	for {
		c, w := classAt(s, i)
		if w == 0 || c&want == 0 {
			return i
		}
		i += w
	}
}

// prefixable reports whether a character of class c may stand before a
// word as [^\r\n\p{L}\p{N}].
func prefixable(c uint8, w int) bool { return w > 0 && c&(cLetter|cNumber|cNewline) == 0 }

// contraction matches (?i:'s|'t|'re|'ve|'m|'ll|'d) at i, returning its end
// or -1.
func contraction(s string, i int) int {
	if i >= len(s) || s[i] != '\'' {
		return -1
	}
	lower := func(j int) (rune, int) {
		if j >= len(s) {
			return 0, 0
		}
		r, w := utf8.DecodeRuneInString(s[j:])
		return unicode.ToLower(r), w
	}
	r1, w1 := lower(i + 1)
	switch r1 {
	case 's', 't', 'm', 'd':
		return i + 1 + w1
	case 'r', 'v', 'l':
		r2, w2 := lower(i + 1 + w1)
		if (r1 == 'l' && r2 == 'l') || (r1 != 'l' && r2 == 'e') {
			return i + 1 + w1 + w2
		}
	}
	return -1
}

func withContraction(s string, end int) int {
	if e := contraction(s, end); e > 0 {
		return e
	}
	return end
}

// o200kWordStar matches [U]*[Lw]+ at i, backtracking the first run as the
// regular expression does, or returns -1.
func o200kWordStar(s string, i int) int {
	k := run(s, i, cUpper)
	for {
		if c, w := classAt(s, k); w > 0 && c&cLower != 0 {
			return withContraction(s, run(s, k, cLower))
		}
		if k == i {
			return -1
		}
		_, w := utf8.DecodeLastRuneInString(s[i:k])
		k -= w
	}
}

// o200kWordPlus matches [U]+[Lw]* at i, or returns -1.
func o200kWordPlus(s string, i int) int {
	k := run(s, i, cUpper)
	if k == i {
		return -1
	}
	return withContraction(s, run(s, k, cLower))
}

func splitO200K(s string, i int) int {
	c0, w0 := classAt(s, i)
	pre := prefixable(c0, w0)
	for _, word := range [...]func(string, int) int{o200kWordStar, o200kWordPlus} {
		if pre {
			if e := word(s, i+w0); e > 0 {
				return e
			}
		}
		if e := word(s, i); e > 0 {
			return e
		}
	}
	if c0&cNumber != 0 {
		return digits3(s, i)
	}
	if e := punct(s, i, "\r\n/"); e > 0 {
		return e
	}
	return spaces(s, i, c0, w0)
}

func splitCL100K(s string, i int) int {
	if e := contraction(s, i); e > 0 {
		return e
	}
	c0, w0 := classAt(s, i)
	if prefixable(c0, w0) {
		if e := run(s, i+w0, cLetter); e > i+w0 {
			return e
		}
	}
	if c0&cLetter != 0 {
		return run(s, i, cLetter)
	}
	if c0&cNumber != 0 {
		return digits3(s, i)
	}
	if e := punct(s, i, "\r\n"); e > 0 {
		return e
	}
	return spaces(s, i, c0, w0)
}

// digits3 matches \p{N}{1,3} at i, where there is a number.
func digits3(s string, i int) int {
	for n := 0; n < 3; n++ {
		c, w := classAt(s, i)
		if w == 0 || c&cNumber == 0 {
			break
		}
		i += w
	}
	return i
}

// punct matches " ?[^\s\p{L}\p{N}]+[tail]*" at i, or returns -1.
func punct(s string, i int, tail string) int {
	try := func(j int) int {
		e := j
		for {
			c, w := classAt(s, e)
			if w == 0 || c&(cSpace|cLetter|cNumber) != 0 {
				break
			}
			e += w
		}
		if e == j {
			return -1
		}
		for e < len(s) && containsByte(tail, s[e]) {
			e++
		}
		return e
	}
	if s[i] == ' ' {
		if e := try(i + 1); e > 0 {
			return e
		}
	}
	return try(i)
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

// spaces matches \s*[\r\n]+ | \s+(?!\S) | \s+ at i.
func spaces(s string, i int, c0 uint8, w0 int) int {
	e := run(s, i, cSpace)
	if e > i {
		// \s*[\r\n]+ backtracks to the last newline of the run.
		for j := e; j > i; {
			r, w := utf8.DecodeLastRuneInString(s[i:j])
			j -= w
			if r == '\r' || r == '\n' {
				return j + w
			}
		}
		if e == len(s) {
			return e
		}
		// \s+(?!\S) leaves the last space to the word after it.
		_, w := utf8.DecodeLastRuneInString(s[i:e])
		if e-w > i {
			return e - w
		}
		return e
	}
	// Nothing above matches (cannot happen for valid text): one character.
	return i + max(w0, 1)
}
