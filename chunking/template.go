package chunking

import (
	"strings"
	"unicode/utf8"
)

// Wildcard stands for a masked variable in a template.
const Wildcard = "<*>"

// Template returns the line's template: the text with its variable parts
// (numbers, hex ids, UUIDs, IPs, pod hashes, durations, quoted values)
// masked, so that lines that differ only in those parts share it. This is
// the masking step of Drain; the similarity tree is built on top of it.
func Template(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	i := 0
	for i < len(text) {
		// A token is a run of characters that are not separators.
		j := i
		for j < len(text) && !isSep(text[j]) {
			j++
		}
		if j > i {
			tok := text[i:j]
			if isVariable(tok) {
				b.WriteString(Wildcard)
			} else {
				b.WriteString(tok)
			}
			i = j
			continue
		}
		b.WriteByte(text[i])
		i++
	}
	return b.String()
}

func isSep(c byte) bool {
	switch c {
	case ' ', '\t', ',', ';', '=', '"', '\'', '(', ')', '[', ']', '{', '}', '<', '>', '/', '|', '@':
		return true
	}
	return false
}

// isVariable reports whether a token looks like a value rather than a word:
// it holds a digit (numbers, versions, ids, durations, IPs, pod hashes such
// as web-5d8f7c9b4-x2x9z) or is a long hex string.
func isVariable(tok string) bool {
	digits, hex := 0, 0
	for _, r := range tok {
		switch {
		case r >= '0' && r <= '9':
			digits++
			hex++
		case r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F':
			hex++
		}
	}
	if digits > 0 {
		return true
	}
	n := utf8.RuneCountInString(tok)
	return n >= 16 && hex == n // a hex hash without digits is rare but possible
}
