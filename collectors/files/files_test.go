package files

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// memSink is a LineSink that keeps everything in memory and, like the
// store, skips a line whose (source, Seq) it already has.
type memSink struct {
	sources map[string]*causeway.Source
	lines   map[string][]causeway.Line
	calls   []sinkCall
	fail    error // returned from every call when set
}

type sinkCall struct {
	source string
	lines  int
	final  causeway.Source
}

func newMemSink() *memSink {
	return &memSink{sources: map[string]*causeway.Source{}, lines: map[string][]causeway.Line{}}
}

func (s *memSink) WriteLines(ctx context.Context, src *causeway.Source, lines []causeway.Line) error {
	if s.fail != nil {
		return s.fail
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	stored, ok := s.sources[src.Name]
	if !ok {
		stored = &causeway.Source{ID: int64(len(s.sources) + 1)}
		s.sources[src.Name] = stored
	}
	id := stored.ID
	*stored = *src
	stored.ID = id
	src.ID = id
	s.calls = append(s.calls, sinkCall{source: src.Name, lines: len(lines), final: *src})
	have := int64(len(s.lines[src.Name]))
	for _, l := range lines {
		if l.Seq < have {
			continue
		}
		l.SourceID = id
		s.lines[src.Name] = append(s.lines[src.Name], l)
		have++
	}
	return nil
}

// goldenLine is a line as the golden files show it: what a user sees.
type goldenLine struct {
	Seq          int64             `json:"seq"`
	Time         string            `json:"time,omitempty"`
	TimeInferred bool              `json:"inferred,omitempty"`
	Kind         causeway.LineKind `json:"kind"`
	Text         string            `json:"text"`
	Attrs        map[string]string `json:"attrs,omitempty"`
}

func renderLines(lines []causeway.Line) []byte {
	var buf bytes.Buffer
	for _, l := range lines {
		g := goldenLine{Seq: l.Seq, TimeInferred: l.TimeInferred, Kind: l.Kind, Text: l.Text, Attrs: l.Attrs}
		if !l.Time.IsZero() {
			g.Time = l.Time.UTC().Format(time.RFC3339Nano)
		}
		b, err := json.Marshal(g)
		if err != nil {
			panic(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// checkGolden compares got with testdata/golden/<name>, or rewrites it
// under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", filepath.FromSlash(name))
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its golden file (run go test -update and review the diff):\n%s", name, firstDiff(want, got))
	}
}

func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d\nwant: %s\n got: %s", i+1, a, b)
		}
	}
	return ""
}

func importBundle(t *testing.T, dir string, opts Options) (*memSink, *Report) {
	t.Helper()
	sink := newMemSink()
	rep, err := Import(context.Background(), dir, sink, opts)
	if err != nil {
		t.Fatalf("Import(%s): %v", dir, err)
	}
	return sink, rep
}

// TestImportGolden imports a realistic bundle holding every format and
// compares each source's lines, and the report, with golden files.
func TestImportGolden(t *testing.T) {
	sink, rep := importBundle(t, filepath.Join("testdata", "bundle"), Options{})
	names := make([]string, 0, len(rep.Files))
	for _, f := range rep.Files {
		names = append(names, f.Name)
	}
	if !slices.IsSorted(names) {
		t.Errorf("files imported out of path order: %v", names)
	}
	for _, f := range rep.Files {
		t.Run(f.Name, func(t *testing.T) {
			lines := sink.lines[f.Name]
			if int64(len(lines)) != f.Lines {
				t.Errorf("report says %d lines, sink got %d", f.Lines, len(lines))
			}
			checkGolden(t, f.Name+".golden", renderLines(lines))
		})
	}
	report, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "report.json", append(report, '\n'))
}
