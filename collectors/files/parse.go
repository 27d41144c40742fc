package files

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/causeway-rca/causeway"
)

// DefaultMaxLineBytes bounds one evidence line's text.
const DefaultMaxLineBytes = 64 << 10

// Options tune how files are read. The zero value is ready to use.
type Options struct {
	// Logger receives debug records per file; nil discards them.
	Logger *slog.Logger
	// MaxLineBytes bounds a line's text (default 64 KiB); longer lines are
	// kept truncated with a marker.
	MaxLineBytes int
	// Year completes timestamps that carry none (klog, syslog). Zero means
	// the year the spec window starts in (Import) or the current year.
	Year int
	// Users maps Slack user ids to names, for message authors and
	// mentions. Import fills it from chat/users.json when it is empty.
	Users map[string]string
	// Progress, when set, is called by Import after each batch and file.
	Progress func(ImportProgress)
	// BatchLines is how many lines Import hands the sink per call (default
	// 2000).
	BatchLines int
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.Year == 0 {
		o.Year = time.Now().Year()
	}
	if o.BatchLines <= 0 {
		o.BatchLines = 2000
	}
	return o
}

// FileStats says what reading one source produced.
type FileStats struct {
	Lines int64 `json:"lines"`
	// Bytes counts the bytes parsed, after decompression.
	Bytes int64 `json:"bytes"`
	// Warnings name what was repaired or skipped without losing the file.
	Warnings []string `json:"warnings,omitempty"`
}

// Parse reads one source in the format of src.Kind from r (gzip is
// recognized by its magic bytes) and calls emit with each line in order,
// Seq counting from 0, Source set to src.Name and src.Labels merged under
// the line's own attributes. It is the one place each format is parsed, for
// bundles, uploads and collectors alike.
//
// An error means the source could not be read to its end; the lines
// emitted before it are good and stay emitted. An error from emit stops
// Parse and is returned as is.
func Parse(ctx context.Context, src causeway.Source, r io.Reader, opts Options, emit func(causeway.Line) error) (FileStats, error) {
	opts = opts.withDefaults()
	o := &out{ctx: ctx, src: &src, emit: emit, opts: opts}
	in, err := openInput(r)
	if err != nil {
		return o.stats(nil), err
	}
	switch src.Kind {
	case causeway.KindLog, causeway.KindPodLog:
		err = parseLog(o, in, causeway.LineLog)
	case causeway.KindEvents:
		err = parseStructured(o, in, causeway.LineEvent, parseEvents)
	case causeway.KindObjects:
		err = parseStructured(o, in, causeway.LineStatus, parseObjects)
	case causeway.KindPrometheus:
		err = parseStructured(o, in, causeway.LineMetric, parseMetrics)
	case causeway.KindSlack:
		err = parseStructured(o, in, causeway.LineChat, parseSlack)
	case causeway.KindJira:
		err = parseStructured(o, in, causeway.LineComment, parseJira)
	case causeway.KindDoc:
		err = parseDoc(o, in)
	case KindMeshAdmin:
		err = parseMeshAdmin(o, in)
	default:
		err = fmt.Errorf("unknown source kind %q", src.Kind)
	}
	return o.stats(in), err
}

// out collects one source's lines on their way to emit.
type out struct {
	ctx      context.Context
	src      *causeway.Source
	emit     func(causeway.Line) error
	opts     Options
	seq      int64
	warnings []string
	// invalid counts structured texts whose UTF-8 had to be repaired.
	invalid int64
}

func (o *out) stats(in *input) FileStats {
	s := FileStats{Lines: o.seq, Warnings: o.warnings}
	if in != nil {
		s.Bytes = in.counts.n
	}
	if o.invalid > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s with invalid UTF-8; bad bytes replaced with U+FFFD", plural(o.invalid, "text")))
	}
	return s
}

func (o *out) warnf(format string, args ...any) {
	o.warnings = append(o.warnings, fmt.Sprintf(format, args...))
}

// attrs returns a map holding the source's labels with room for n more
// attributes, or nil when there is nothing to hold. Line attributes are
// set on it afterwards and so win over labels of the same name: the
// event's own namespace is more precise than the file's.
func (o *out) attrs(n int) map[string]string {
	if len(o.src.Labels) == 0 && n == 0 {
		return nil
	}
	m := make(map[string]string, len(o.src.Labels)+n)
	maps.Copy(m, o.src.Labels)
	return m
}

// add emits a line whose text is already storable (from lineReader).
func (o *out) add(l causeway.Line) error {
	l.Source = o.src.Name
	l.Seq = o.seq
	if l.Time.IsZero() {
		l.TimeInferred = false
	}
	if o.seq&1023 == 0 {
		if err := o.ctx.Err(); err != nil {
			return err
		}
	}
	if err := o.emit(l); err != nil {
		return err
	}
	o.seq++
	return nil
}

// addText emits a line built from a structured record, making its text and
// attributes storable first.
func (o *out) addText(l causeway.Line) error {
	var bad bool
	l.Text, bad = cleanText(l.Text, o.opts.MaxLineBytes)
	if bad {
		o.invalid++
	}
	if l.Text == "" {
		return nil
	}
	for k, v := range l.Attrs {
		if c, _ := cleanText(v, o.opts.MaxLineBytes); c != v {
			l.Attrs[k] = c
		}
		if v == "" {
			delete(l.Attrs, k)
		}
	}
	return o.add(l)
}

// parseStructured reads a whole JSON file and hands it to decode. A file
// that is not JSON at all, such as `kubectl describe` output saved under
// objects/, is read as plain lines of kind textKind, unless its name says
// it is JSON: then it is malformed and reported so.
func parseStructured(o *out, in *input, textKind causeway.LineKind, decode func(o *out, data []byte) error) error {
	data, err := in.readAll()
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		o.warnf("file is empty")
		return nil
	}
	if !jsonName(o.src.Name) && !json.Valid(data) {
		o.warnf("not JSON; read as plain text lines")
		text, _ := openInput(bytes.NewReader(data))
		return parseLog(o, text, textKind)
	}
	if !utf8.Valid(data) {
		o.warnf("invalid UTF-8 in the file; bad bytes replaced with U+FFFD")
	}
	if err := decode(o, data); err != nil {
		return jsonError(data, err)
	}
	return nil
}

// jsonName reports whether a file's name says it holds JSON.
func jsonName(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(path.Base(name)), ".gz")
	return strings.HasSuffix(name, ".json")
}

// jsonError says where in data a JSON error is, by line and column, which
// is what an operator opens the file at.
func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var off int64
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	default:
		return err
	}
	line, col := position(data, off)
	return fmt.Errorf("malformed JSON at line %d, column %d (offset %d): %w", line, col, off, err)
}

func position(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col == 0 {
		col = 1
	}
	return line, col
}

// decodeItems decodes a JSON array (or a Kubernetes List) element by
// element, so that one malformed item is a warning instead of the loss of
// the whole file.
func decodeItems[T any](o *out, raws []json.RawMessage, what string, each func(i int, item *T) error) error {
	bad := 0
	var first error
	for i, raw := range raws {
		var item T
		if err := json.Unmarshal(raw, &item); err != nil {
			bad++
			if first == nil {
				first = fmt.Errorf("%s %d: %w", what, i, err)
			}
			continue
		}
		if err := each(i, &item); err != nil {
			return err
		}
	}
	if bad > 0 {
		o.warnf("%s skipped (first: %v)", plural(int64(bad), "malformed "+what), first)
	}
	return nil
}
