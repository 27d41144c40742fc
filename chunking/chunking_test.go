package chunking

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
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

func TestTemplateMasksVariables(t *testing.T) {
	tests := []struct{ text, want string }{
		{"GET /healthz 200 3ms", "GET /healthz <*> <*>"},
		{"pod web-5d8f7c9b4-x2x9z restarted 3 times", "pod <*> restarted <*> times"},
		{"connect to 10.0.0.12:5432 failed", "connect to <*> failed"},
		{"request 4000a69d-3db6-404c-8892-4f8023e008f0 done", "request <*> done"},
		{`{"runner": "gateway-api", "error": "mkdir /var/lib/eg/wasm: no space left on device"}`, `{"runner": "gateway-api", "error": "mkdir /var/lib/eg/wasm: no space left on device"}`},
	}
	for _, tt := range tests {
		if got := Template(tt.text); got != tt.want {
			t.Errorf("Template(%q)\n got %q\nwant %q", tt.text, got, tt.want)
		}
	}
	if Template("GET /a 200 3ms") != Template("GET /a 503 120ms") {
		t.Error("lines differing only in numbers got different templates")
	}
}

type memLines struct {
	srcs  []*causeway.Source
	lines []causeway.Line
}

func (m *memLines) ScanWindow(_ context.Context, _ *causeway.Incident, fn func(causeway.Line) error) error {
	for _, l := range m.lines {
		if err := fn(l); err != nil {
			return err
		}
	}
	return nil
}

func (m *memLines) Sources(context.Context, int64) ([]*causeway.Source, error) { return m.srcs, nil }

// noisyIncident has n healthy access-log lines and one decisive error in
// another source.
func noisyIncident(n int) *memLines {
	t0 := time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC)
	m := &memLines{srcs: []*causeway.Source{
		{Name: "logs/access.log", Kind: causeway.KindLog, Lines: int64(n)},
		{Name: "logs/controller.log", Kind: causeway.KindLog, Lines: 3},
	}}
	num := int64(0)
	for i := 0; i < n; i++ {
		num++
		m.lines = append(m.lines, causeway.Line{Num: num, Source: "logs/access.log", Seq: int64(i), Kind: causeway.LineLog,
			Time: t0.Add(time.Duration(i) * time.Second), Text: fmt.Sprintf("GET /v1/models 200 %dms upstream=10.0.0.%d", i%97, i%13)})
	}
	for i, text := range []string{"INFO reconciled gateway", "ERROR failed to create cache directory: mkdir /var/lib/cache: no space left on device", "INFO reconciled gateway"} {
		num++
		m.lines = append(m.lines, causeway.Line{Num: num, Source: "logs/controller.log", Seq: int64(i), Kind: causeway.LineLog,
			Time: t0.Add(time.Duration(600+i) * time.Second), Text: text})
	}
	return m
}

func TestPackKeepsEverythingThatFits(t *testing.T) {
	p := NewPacker(MustTokenizer(""))
	pack, err := p.Pack(context.Background(), &causeway.Incident{ID: 1}, noisyIncident(50), 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(pack.Lines) != 53 || pack.Dropped != 0 {
		t.Fatalf("packed %d lines (dropped %d), want all 53", len(pack.Lines), pack.Dropped)
	}
	if got := p.Tokenizer.Count(pack.Evidence()); got != pack.Tokens {
		t.Errorf("pack says %d tokens, its render counts %d", pack.Tokens, got)
	}
	ev := pack.Evidence()
	if !strings.HasPrefix(ev, "## source logs/access.log (log, 50 lines)\nL1 2025-08-21T03:00:00.000Z logs/access.log GET") {
		t.Errorf("render starts %q", ev[:120])
	}
}

func TestPackUnderBudgetKeepsTheDecisiveLine(t *testing.T) {
	for _, budget := range []int{2_000, 8_000, 40_000} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			p := NewPacker(MustTokenizer(""))
			pack, err := p.Pack(context.Background(), &causeway.Incident{ID: 1}, noisyIncident(5000), budget)
			if err != nil {
				t.Fatal(err)
			}
			if pack.Tokens > p.EvidenceBudget(budget) {
				t.Errorf("pack of %d tokens exceeds the evidence budget %d", pack.Tokens, p.EvidenceBudget(budget))
			}
			if got := p.Tokenizer.Count(pack.Evidence()); got != pack.Tokens {
				t.Errorf("pack says %d tokens, its render counts %d", pack.Tokens, got)
			}
			var found bool
			for i, l := range pack.Lines {
				found = found || strings.Contains(l.Text, "no space left on device")
				if i > 0 && l.Source == pack.Lines[i-1].Source && l.Seq < pack.Lines[i-1].Seq {
					t.Fatalf("lines out of order at %s", l.ID())
				}
			}
			if !found {
				t.Error("the decisive line was dropped")
			}
			if pack.Dropped == 0 {
				t.Error("nothing was dropped from 5000 lines at a small budget")
			}
			if !strings.Contains(pack.Evidence(), "of 5000 lines)") {
				t.Error("source header does not say how much of the source was kept")
			}
		})
	}
}

func TestCountIsExactForLongTextAndFastForHugeWords(t *testing.T) {
	tok := MustTokenizer("")
	var b strings.Builder
	for i := 0; b.Len() < 200_000; i++ {
		fmt.Fprintf(&b, "2025-08-21T03:%02d:%02dZ ERROR  pod web-%d: connection reset by peer (attempt %d) ünïcode 日本語\n", i%60, i%60, i, i)
	}
	s := b.String()
	if got, want := tok.Count(s), len(tok.enc.EncodeOrdinary(s)); got != want {
		t.Errorf("segmented count %d, whole-text count %d", got, want)
	}
	if n := tok.Count(strings.Repeat("\x80", 5000)); n == 0 {
		t.Error("invalid UTF-8 counts no tokens")
	}
	huge := strings.Repeat("x", 64<<10)
	if n := tok.Count(huge); n < 64<<10/16 || n > 64<<10 {
		t.Errorf("a 64 KiB word counts %d tokens", n)
	}
}

func TestPackTokensAreExactForAwkwardLines(t *testing.T) {
	m := noisyIncident(10)
	for i, text := range []string{"", "  leading and trailing  ", "tab\tseparated\t", "日本語のログ", `{"json":true}`, "ends with newline-ish \r", "200 OK"} {
		l := causeway.Line{Num: int64(100 + i), Source: "logs/controller.log", Seq: int64(10 + i), Kind: causeway.LineLog, Text: text}
		if i%2 == 0 {
			l.Time = time.Date(2025, 8, 21, 3, 0, i, 0, time.UTC)
		}
		m.lines = append(m.lines, l)
	}
	p := NewPacker(MustTokenizer(""))
	pack, err := p.Pack(context.Background(), &causeway.Incident{ID: 1}, m, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Tokenizer.Count(pack.Evidence()); got != pack.Tokens {
		t.Errorf("pack says %d tokens, its render counts %d", pack.Tokens, got)
	}
}
