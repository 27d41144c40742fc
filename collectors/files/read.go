package files

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// countingReader counts the bytes a parser consumed, after decompression.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// input is a source's byte stream, decompressed when it is gzip.
type input struct {
	br     *bufio.Reader
	gzip   bool
	counts *countingReader
}

// openInput sniffs gzip by its magic bytes rather than by the file name, so
// a compressed file named .log and an uncompressed one named .gz both read.
func openInput(r io.Reader) (*input, error) {
	in := &input{counts: &countingReader{r: r}}
	in.br = bufio.NewReaderSize(in.counts, 64<<10)
	magic, _ := in.br.Peek(2)
	if len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return in, nil
	}
	// gzip.Reader reads concatenated members, which is what `cat a.gz
	// b.gz` and log rotation produce.
	zr, err := gzip.NewReader(in.br)
	if err != nil {
		return nil, readError(err, true)
	}
	in.gzip = true
	in.counts = &countingReader{r: zr}
	in.br = bufio.NewReaderSize(in.counts, 64<<10)
	return in, nil
}

// readAll reads a whole structured file. On a read error it returns what
// was read with the error, so that callers can say where it broke.
func (in *input) readAll() ([]byte, error) {
	data, err := io.ReadAll(in.br)
	if err != nil {
		return data, readError(err, in.gzip)
	}
	return data, nil
}

// readError turns decompression failures into reasons an operator can act
// on; the original error stays in the chain.
func readError(err error, gz bool) error {
	var corrupt flate.CorruptInputError
	switch {
	case gz && errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w (truncated gzip?)", err)
	case errors.Is(err, gzip.ErrChecksum):
		return fmt.Errorf("%w (corrupt or truncated gzip?)", err)
	case errors.Is(err, gzip.ErrHeader):
		return fmt.Errorf("%w (not a gzip file?)", err)
	case errors.As(err, &corrupt):
		return fmt.Errorf("corrupt gzip data: %w", err)
	}
	return err
}

// lineReader yields a file's lines cleaned for storage: end-of-line
// removed, NUL bytes dropped (Postgres text rejects them), invalid UTF-8
// replaced with U+FFFD, and lines over max bytes truncated with a visible
// marker. It never holds more than max bytes of one line, however long the
// line is.
type lineReader struct {
	in  *input
	max int
	buf []byte // the raw line, at most max+1 bytes of it
	out []byte // the cleaned line when it differs from buf
	err error  // a read error to return after the line it cut short
	num int64  // line number of the last line returned, from 1

	truncated, invalid, nuls int64
	firstTruncated           int64
	longest                  int64
	firstInvalid, firstNUL   int64
}

func newLineReader(in *input, max int) *lineReader {
	return &lineReader{in: in, max: max}
}

// next returns the next line, valid until the following call. At the end
// it returns io.EOF; a read error is returned after the lines before it.
func (lr *lineReader) next() ([]byte, error) {
	if lr.err != nil {
		return nil, lr.err
	}
	lr.buf = lr.buf[:0]
	var total int64
	hasNL := false
	for {
		chunk, err := lr.in.br.ReadSlice('\n')
		total += int64(len(chunk))
		if room := lr.max + 1 - len(lr.buf); room > 0 {
			// One byte over max keeps the '\n' of a line exactly max long.
			lr.buf = append(lr.buf, chunk[:min(len(chunk), room)]...)
		}
		if err == nil {
			hasNL = true
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			lr.err = io.EOF
		} else {
			lr.err = readError(err, lr.in.gzip)
		}
		if total == 0 {
			return nil, lr.err
		}
		break
	}
	lr.num++
	size := total
	if hasNL {
		size--
	}
	raw := lr.buf[:min(int64(len(lr.buf)), size)]
	cut := size > int64(len(raw))
	if !cut && len(raw) > 0 && raw[len(raw)-1] == '\r' {
		raw = raw[:len(raw)-1]
		size--
	}
	if !cut && len(raw) <= lr.max && bytes.IndexByte(raw, 0) < 0 && utf8.Valid(raw) {
		return raw, nil // the common case: nothing to repair
	}
	line, used, invalid, nul := fitClean(lr.out, raw, lr.max, cut)
	if nul {
		lr.nuls++
		if lr.firstNUL == 0 {
			lr.firstNUL = lr.num
		}
	}
	if invalid {
		lr.invalid++
		if lr.firstInvalid == 0 {
			lr.firstInvalid = lr.num
		}
	}
	if int64(used) < size {
		line = append(line, truncMarker(size-int64(used))...)
		lr.truncated++
		if lr.firstTruncated == 0 {
			lr.firstTruncated = lr.num
		}
		lr.longest = max(lr.longest, size)
	}
	lr.out = line[:0]
	return line, nil
}

// fitClean copies raw without NUL bytes and with each run of invalid UTF-8
// replaced by U+FFFD (as strings.ToValidUTF8 does), stopping before the
// text would exceed max bytes. cut says raw is the start of a longer line,
// so that a character split at its end is a cut, not bad input. It returns
// the text (appended to dst[:0], which must not overlap raw), how many
// bytes of raw it used, and what it repaired.
func fitClean(dst, raw []byte, max int, cut bool) (out []byte, used int, invalid, nul bool) {
	out = dst[:0]
	i, inBad := 0, false
	for i < len(raw) {
		c := raw[i]
		if c == 0 {
			nul = true
			i++
			continue
		}
		size, bad := 1, false
		if c >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				if cut && !utf8.FullRune(raw[i:]) {
					break
				}
				bad = true
			}
		}
		if bad {
			if !inBad {
				if len(out)+len(replacement) > max {
					break
				}
				out = append(out, replacement...)
			}
			invalid, inBad = true, true
			i++
			continue
		}
		if len(out)+size > max {
			break
		}
		inBad = false
		out = append(out, raw[i:i+size]...)
		i += size
	}
	return out, i, invalid, nul
}

// warnings summarizes what cleaning changed, one warning per kind of
// change, so that a file with a million bad lines reports three warnings.
func (lr *lineReader) warnings() []string {
	var w []string
	if lr.truncated > 0 {
		w = append(w, fmt.Sprintf("%s longer than %d bytes truncated (first at line %d; longest %d bytes)",
			plural(lr.truncated, "line"), lr.max, lr.firstTruncated, lr.longest))
	}
	if lr.invalid > 0 {
		w = append(w, fmt.Sprintf("%s with invalid UTF-8 (first at line %d); bad bytes replaced with U+FFFD",
			plural(lr.invalid, "line"), lr.firstInvalid))
	}
	if lr.nuls > 0 {
		w = append(w, fmt.Sprintf("%s with NUL bytes (first at line %d); NUL bytes removed",
			plural(lr.nuls, "line"), lr.firstNUL))
	}
	return w
}

const replacement = "\uFFFD"

func truncMarker(dropped int64) string {
	return "…[truncated " + strconv.FormatInt(dropped, 10) + " bytes]"
}

// trimPartialRune drops a UTF-8 sequence cut in half by truncation, so that
// truncating never reads as invalid input.
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < utf8.RuneSelf {
			return b
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.FormatInt(n, 10) + " " + what + "s"
}

// cleanText prepares a text field of a structured record: one line (runs of
// whitespace, including newlines, become one space), no NUL, valid UTF-8,
// at most max bytes. It reports whether UTF-8 had to be repaired.
func cleanText(s string, max int) (string, bool) {
	invalid := false
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, replacement)
		invalid = true
	}
	s = oneLine(s)
	if len(s) > max {
		cut := []byte(s[:max])
		cut = trimPartialRune(cut)
		s = string(cut) + truncMarker(int64(len(s)-len(cut)))
	}
	return s, invalid
}

// oneLine collapses whitespace runs to single spaces and drops NUL bytes
// and the blanks at either end. Strings that need none of it are returned
// without copying.
func oneLine(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0 || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' ||
			(c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' ')) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case 0:
			continue
		case ' ', '\n', '\r', '\t', '\v', '\f':
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(c)
	}
	return b.String()
}
