package files

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/causeway-rca/causeway"
)

// parseDoc reads a markdown page: one line per non-empty line, without a
// time, each with the heading it sits under, so that a runbook step cited
// alone still says which procedure it belongs to.
func parseDoc(o *out, in *input) error {
	lr := newLineReader(in, o.opts.MaxLineBytes)
	defer func() { o.warnings = append(o.warnings, lr.warnings()...) }()
	heading, fence := "", ""
	for {
		raw, err := lr.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if blank(raw) {
			continue
		}
		trimmed := bytes.TrimLeft(raw, " ")
		switch {
		case fence != "":
			if bytes.HasPrefix(trimmed, []byte(fence)) {
				fence = ""
			}
		case bytes.HasPrefix(trimmed, []byte("```")) || bytes.HasPrefix(trimmed, []byte("~~~")):
			fence = string(trimmed[:3])
		case trimmed[0] == '#':
			// Inside a fence a '#' starts a shell comment, not a heading.
			level := len(trimmed) - len(bytes.TrimLeft(trimmed, "#"))
			if rest := trimmed[level:]; level <= 6 && (len(rest) == 0 || rest[0] == ' ') {
				heading = strings.TrimSpace(strings.TrimRight(string(rest), "# "))
			}
		}
		l := causeway.Line{Kind: causeway.LineDoc, Text: strings.TrimRight(string(raw), " \t")}
		l.Attrs = o.attrs(1)
		l.Attrs["heading"] = heading
		if heading == "" {
			delete(l.Attrs, "heading")
			if len(l.Attrs) == 0 {
				l.Attrs = nil
			}
		}
		if err := o.add(l); err != nil {
			return err
		}
	}
}
