package files

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/causeway-rca/causeway"
)

const testSpec = `id: t
title: test
window: {start: 2025-08-21T03:00:00Z, end: 2025-08-21T04:00:00Z}
`

// writeBundle creates a bundle from path → content in a temporary
// directory.
func writeBundle(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func numberedLines(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "2025-08-21T03:%02d:%02d.%03dZ INFO request %d served in %dms\n", i/60%60, i%60, i%1000, i, i%97)
	}
	return b.Bytes()
}

func fileReport(t *testing.T, rep *Report, name string) FileReport {
	t.Helper()
	for _, f := range rep.Files {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("report has no file %s", name)
	return FileReport{}
}

// TestImportBadInput: a bundle with a truncated gzip, a 5 MB line, invalid
// UTF-8, NUL bytes and a malformed JSON file imports everything good and
// names each bad file with its reason.
func TestImportBadInput(t *testing.T) {
	full := numberedLines(20000)
	gz := gzipped(t, full)
	huge := "2025-08-21T03:00:01Z ERROR " + strings.Repeat("x", 5<<20)
	dir := writeBundle(t, map[string][]byte{
		"incident.yaml":         []byte(testSpec),
		"logs/good.log":         []byte("2025-08-21T03:00:00Z INFO one\n2025-08-21T03:00:01Z INFO two\n"),
		"logs/truncated.log.gz": gz[:len(gz)*6/10],
		"logs/huge.log":         []byte("2025-08-21T03:00:00Z INFO before\n" + huge + "\n2025-08-21T03:00:02Z INFO after\n"),
		"logs/latin1.log":       []byte("2025-08-21T03:00:00Z WARN caf\xe9 au lait\n2025-08-21T03:00:01Z INFO nul\x00byte\n"),
		"events/bad.json":       []byte("{\n  \"kind\": \"List\",\n  \"items\": [{\"kind\": \"Event\",]\n}\n"),
	})
	sink, rep := importBundle(t, dir, Options{})

	good := fileReport(t, rep, "logs/good.log")
	if good.Lines != 2 || good.Err != "" || len(good.Warnings) != 0 {
		t.Errorf("good.log: %+v, want 2 lines and no problem", good)
	}

	trunc := fileReport(t, rep, "logs/truncated.log.gz")
	if trunc.Lines == 0 || trunc.Lines >= 20000 {
		t.Errorf("truncated.log.gz: %d lines, want some but not all of 20000", trunc.Lines)
	}
	if !strings.Contains(trunc.Err, "unexpected EOF (truncated gzip?)") {
		t.Errorf("truncated.log.gz error = %q, want it to say unexpected EOF (truncated gzip?)", trunc.Err)
	}
	want := strings.Split(string(full), "\n")
	got := sink.lines["logs/truncated.log.gz"]
	for i, l := range got[:len(got)-1] { // the last line may be cut mid-way
		if w := strings.TrimPrefix(want[i], want[i][:25]); l.Text != w {
			t.Fatalf("truncated.log.gz line %d = %q, want %q", i, l.Text, w)
		}
	}
	if src := sink.sources["logs/truncated.log.gz"]; src.Error != trunc.Err || src.Lines != trunc.Lines {
		t.Errorf("sink source = %+v, want Error %q and Lines %d", src, trunc.Err, trunc.Lines)
	}

	hugeRep := fileReport(t, rep, "logs/huge.log")
	hugeLines := sink.lines["logs/huge.log"]
	if hugeRep.Lines != 3 || len(hugeLines) != 3 {
		t.Fatalf("huge.log: %d lines, want 3", len(hugeLines))
	}
	if hugeLines[0].Text != "INFO before" || hugeLines[2].Text != "INFO after" {
		t.Errorf("lines around the 5 MB line = %q, %q", hugeLines[0].Text, hugeLines[2].Text)
	}
	mid := hugeLines[1]
	dropped := len(huge) - DefaultMaxLineBytes
	if wantEnd := fmt.Sprintf("…[truncated %d bytes]", dropped); !strings.HasSuffix(mid.Text, wantEnd) {
		t.Errorf("5 MB line ends %q, want marker %q", mid.Text[len(mid.Text)-40:], wantEnd)
	}
	if !strings.HasPrefix(mid.Text, "ERROR xxx") || len(mid.Text) > DefaultMaxLineBytes+40 || mid.Attrs["level"] != "error" {
		t.Errorf("5 MB line kept as %d bytes starting %q, level %q", len(mid.Text), mid.Text[:12], mid.Attrs["level"])
	}
	if mid.Time.Second() != 1 {
		t.Errorf("5 MB line time = %v, want its own stamp", mid.Time)
	}
	if len(hugeRep.Warnings) != 1 || !strings.Contains(hugeRep.Warnings[0], "longer than 65536 bytes truncated") {
		t.Errorf("huge.log warnings = %q", hugeRep.Warnings)
	}

	latin := fileReport(t, rep, "logs/latin1.log")
	latinLines := sink.lines["logs/latin1.log"]
	if len(latinLines) != 2 || latinLines[0].Text != "WARN caf\uFFFD au lait" || latinLines[1].Text != "INFO nulbyte" {
		t.Errorf("latin1.log lines = %+v", latinLines)
	}
	if len(latin.Warnings) != 2 || !strings.Contains(latin.Warnings[0], "invalid UTF-8") || !strings.Contains(latin.Warnings[1], "NUL") {
		t.Errorf("latin1.log warnings = %q, want invalid UTF-8 and NUL", latin.Warnings)
	}

	bad := fileReport(t, rep, "events/bad.json")
	if bad.Lines != 0 || !strings.Contains(bad.Err, "malformed JSON at line 3, column") {
		t.Errorf("events/bad.json: %+v, want a malformed JSON error with its position", bad)
	}

	if rep.Failed != 2 {
		t.Errorf("report counts %d failed files, want 2", rep.Failed)
	}
	problems := strings.Join(rep.Problems(), "\n")
	for _, want := range []string{
		"logs/truncated.log.gz: unexpected EOF (truncated gzip?)",
		"events/bad.json: malformed JSON at line 3",
		"logs/huge.log: 1 line longer than 65536 bytes truncated",
		"logs/latin1.log: 1 line with invalid UTF-8",
	} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems lack %q:\n%s", want, problems)
		}
	}
	for name, lines := range sink.lines {
		for _, l := range lines {
			if !utf8.ValidString(l.Text) || strings.IndexByte(l.Text, 0) >= 0 {
				t.Errorf("%s line %d is not storable text: %q", name, l.Seq, l.Text)
			}
		}
	}
}

// TestImportNothingGood: when no file yields a line, Import fails with
// EINVALID naming every bad file.
func TestImportNothingGood(t *testing.T) {
	gz := gzipped(t, numberedLines(100))
	tests := []struct {
		name  string
		files map[string][]byte
		want  []string
	}{
		{
			name: "all files bad",
			files: map[string][]byte{
				"incident.yaml":    []byte(testSpec),
				"logs/cut.log.gz":  gz[:12],
				"events/bad.json":  []byte(`{"kind": "List", "items": [`),
				"objects/bad.json": []byte("Name: web\nNamespace: default\n"),
			},
			want: []string{"logs/cut.log.gz: unexpected EOF (truncated gzip?)", "events/bad.json: malformed JSON", "objects/bad.json: malformed JSON at line 1, column 1"},
		},
		{
			name:  "no evidence files",
			files: map[string][]byte{"incident.yaml": []byte(testSpec)},
			want:  []string{"has no evidence files under logs/, events/"},
		},
		{
			name:  "listed file missing",
			files: map[string][]byte{"incident.yaml": []byte(testSpec + "sources:\n  - {path: logs/gone.log, kind: log}\n")},
			want:  []string{"logs/gone.log: listed in incident.yaml but not found"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeBundle(t, tt.files)
			rep, err := Import(context.Background(), dir, newMemSink(), Options{})
			if causeway.ErrorCode(err) != causeway.EINVALID {
				t.Fatalf("Import error = %v, want code %s", err, causeway.EINVALID)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if rep == nil || rep.Lines != 0 {
				t.Errorf("report = %+v, want one with no lines", rep)
			}
		})
	}
}

// TestImportEmptyButSound: files that hold no evidence (an empty events
// list) are not an error.
func TestImportEmptyButSound(t *testing.T) {
	dir := writeBundle(t, map[string][]byte{
		"incident.yaml":      []byte(testSpec),
		"events/events.json": []byte(`{"apiVersion": "v1", "items": [], "kind": "List"}`),
	})
	_, rep := importBundle(t, dir, Options{})
	if rep.Lines != 0 || rep.Failed != 0 {
		t.Errorf("report = %+v", rep)
	}
}

// TestImportBatches: lines reach the sink in batches of at most
// BatchLines with Seq counting from 0, and the last call of a source
// carries its final count even when it has no lines left.
func TestImportBatches(t *testing.T) {
	dir := writeBundle(t, map[string][]byte{
		"logs/a.log": numberedLines(4500),
		"logs/b.log": numberedLines(4000),
	})
	sink, rep := importBundle(t, dir, Options{})
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "incident.yaml: not found") {
		t.Errorf("report warnings = %q, want a missing incident.yaml noted", rep.Warnings)
	}
	var calls []string
	for _, c := range sink.calls {
		calls = append(calls, fmt.Sprintf("%s:%d", c.source, c.lines))
	}
	want := []string{"logs/a.log:2000", "logs/a.log:2000", "logs/a.log:500", "logs/b.log:2000", "logs/b.log:2000", "logs/b.log:0"}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("WriteLines calls = %v, want %v", calls, want)
	}
	if last := sink.calls[len(sink.calls)-1].final; last.Lines != 4000 || last.Kind != causeway.KindLog {
		t.Errorf("last call's source = %+v, want 4000 lines of kind log", last)
	}
	for name, lines := range sink.lines {
		for i, l := range lines {
			if l.Seq != int64(i) || l.Source != name {
				t.Fatalf("%s line %d has Seq %d, Source %q", name, i, l.Seq, l.Source)
			}
		}
	}
}

// TestImportDeterministic: the same bundle gives the same lines, so a
// re-import (skipped by the store on (source, Seq)) adds nothing.
func TestImportDeterministic(t *testing.T) {
	dir := filepath.Join("testdata", "bundle")
	first, _ := importBundle(t, dir, Options{})
	second, _ := importBundle(t, dir, Options{})
	if !reflect.DeepEqual(first.lines, second.lines) {
		t.Error("two imports of the same bundle gave different lines")
	}
	before := len(first.lines["logs/envoy-gateway.log"])
	if _, err := Import(context.Background(), dir, first, Options{}); err != nil {
		t.Fatal(err)
	}
	if after := len(first.lines["logs/envoy-gateway.log"]); after != before {
		t.Errorf("re-import into the same sink grew a source from %d to %d lines", before, after)
	}
}

// TestImportSpecLabels: labels of listed sources become line attributes,
// and unlisted files take their folder's kind.
func TestImportSpecLabels(t *testing.T) {
	sink, rep := importBundle(t, filepath.Join("testdata", "bundle"), Options{})
	l := sink.lines["logs/envoy-gateway.log"][0]
	wantAttrs := map[string]string{"namespace": "envoy-gateway-system", "pod": "envoy-gateway-7f9c8d6b5-x2k4p",
		"container": "envoy-gateway", "node": "kind-control-plane", "level": "info"}
	if !reflect.DeepEqual(l.Attrs, wantAttrs) {
		t.Errorf("attrs = %v, want %v", l.Attrs, wantAttrs)
	}
	kinds := map[string]causeway.SourceKind{
		"logs/envoy-gateway.log":               causeway.KindPodLog,
		"logs/kind-node-syslog.log":            causeway.KindLog,
		"events/events.json":                   causeway.KindEvents,
		"objects/pods.json":                    causeway.KindObjects,
		"metrics/node-disk-usage.json":         causeway.KindPrometheus,
		"chat/incident-aibrix/2025-08-21.json": causeway.KindSlack,
		"tickets/OPS-1423.json":                causeway.KindJira,
		"docs/envoy-gateway-runbook.md":        causeway.KindDoc,
	}
	for name, kind := range kinds {
		if got := fileReport(t, rep, name).Kind; got != kind {
			t.Errorf("%s imported as %s, want %s", name, got, kind)
		}
	}
	if _, ok := sink.sources["chat/users.json"]; ok {
		t.Error("chat/users.json was imported as a source")
	}
	if rep.Spec == nil || rep.Spec.ID != "files-golden-aibrix" {
		t.Errorf("report spec = %+v", rep.Spec)
	}
}

// TestImportStops: an error of the sink or a canceled context stops the
// import and is returned, not buried in the report.
func TestImportStops(t *testing.T) {
	dir := filepath.Join("testdata", "bundle")
	boom := errors.New("copy failed: connection reset")
	sink := newMemSink()
	sink.fail = boom
	if _, err := Import(context.Background(), dir, sink, Options{}); !errors.Is(err, boom) {
		t.Errorf("Import with a failing sink = %v, want %v", err, boom)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Import(ctx, dir, newMemSink(), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Import with a canceled context = %v, want context.Canceled", err)
	}
}

// TestImportProgress: progress reaches every file and the final count.
func TestImportProgress(t *testing.T) {
	var last ImportProgress
	calls := 0
	_, rep := importBundle(t, filepath.Join("testdata", "bundle"), Options{Progress: func(p ImportProgress) {
		if p.Lines < last.Lines || p.Done < last.Done {
			t.Errorf("progress went back: %+v after %+v", p, last)
		}
		last = p
		calls++
	}})
	if last.Done != len(rep.Files) || last.Files != len(rep.Files) || last.Lines != rep.Lines {
		t.Errorf("final progress = %+v, want %d files and %d lines", last, len(rep.Files), rep.Lines)
	}
	if calls < len(rep.Files) {
		t.Errorf("progress called %d times for %d files", calls, len(rep.Files))
	}
}
