package chunking

import (
	"context"
	"strings"

	"github.com/causeway-rca/causeway"
)

// Annotator is a causeway.LineSink that redacts secrets from each line and
// fills in its template and token count (Tokenizer.LineTokens) before
// passing the lines on: evidence is stored redacted, so no secret reaches a
// model or the UI, and the packer reads counts instead of recounting.
type Annotator struct {
	Next      causeway.LineSink
	Tokenizer *Tokenizer
}

var _ causeway.LineSink = (*Annotator)(nil)

// Annotate wraps next.
func Annotate(next causeway.LineSink, tok *Tokenizer) *Annotator {
	return &Annotator{Next: next, Tokenizer: tok}
}

// WriteLines annotates lines in place and writes them to the next sink.
func (a *Annotator) WriteLines(ctx context.Context, src *causeway.Source, lines []causeway.Line) error {
	for i := range lines {
		l := &lines[i]
		if text, fired := Redact(l.Text); len(fired) > 0 {
			l.Text = text
			if l.Attrs == nil {
				l.Attrs = map[string]string{}
			}
			l.Attrs["redacted"] = strings.Join(fired, ",")
		}
		if l.Template == "" {
			l.Template = Template(l.Text)
		}
		if l.Tokens == 0 {
			l.Tokens = a.Tokenizer.LineTokens(l.Text)
		}
	}
	return a.Next.WriteLines(ctx, src, lines)
}
