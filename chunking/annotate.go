package chunking

import (
	"context"

	"github.com/causeway-rca/causeway"
)

// Annotator is a causeway.LineSink that fills in each line's template and
// token count (Tokenizer.LineTokens) before passing the lines on, so that
// the packer reads them from the store instead of recounting.
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
		if l.Template == "" {
			l.Template = Template(l.Text)
		}
		if l.Tokens == 0 {
			l.Tokens = a.Tokenizer.LineTokens(l.Text)
		}
	}
	return a.Next.WriteLines(ctx, src, lines)
}
