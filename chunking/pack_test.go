package chunking

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
)

// memLines is an incident in memory, served as the store serves it: by
// source name, then seq.
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

// add appends a source's lines, numbering them after the lines so far.
func (m *memLines) add(name string, kind causeway.SourceKind, lines ...causeway.Line) {
	m.srcs = append(m.srcs, &causeway.Source{ID: int64(len(m.srcs) + 1), Name: name, Kind: kind, Lines: int64(len(lines))})
	for i, l := range lines {
		l.Num = int64(len(m.lines) + 1)
		l.Source, l.SourceID, l.Seq = name, int64(len(m.srcs)), int64(i)
		if l.Kind == "" {
			l.Kind = causeway.LineLog
		}
		m.lines = append(m.lines, l)
	}
}

func (m *memLines) byNum(num int64) (causeway.Line, bool) {
	if num < 1 || int(num) > len(m.lines) {
		return causeway.Line{}, false
	}
	return m.lines[num-1], true
}

var t0 = time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// noisyIncident has n healthy access-log lines and one decisive error in
// another source.
func noisyIncident(n int) *memLines {
	m := &memLines{}
	var access []causeway.Line
	for i := 0; i < n; i++ {
		access = append(access, causeway.Line{Time: at(time.Duration(i) * time.Second),
			Text: fmt.Sprintf("GET /v1/models 200 %dms upstream=10.0.0.%d", i%97, i%13)})
	}
	m.add("logs/access.log", causeway.KindLog, access...)
	m.add("logs/controller.log", causeway.KindLog,
		causeway.Line{Time: at(600 * time.Second), Text: "INFO reconciled gateway"},
		causeway.Line{Time: at(601 * time.Second), Text: "ERROR failed to create cache directory: mkdir /var/lib/cache: no space left on device"},
		causeway.Line{Time: at(602 * time.Second), Text: "INFO reconciled gateway"})
	return m
}

// richIncident has every kind of evidence the packer treats apart: chat
// and a ticket, unsorted events, a log whose error is followed by a stack
// trace without times and named in chat by its request id, a log of one
// repeated line, a metric series sample by sample with a spike and a
// summary, and a describe snapshot without any time.
func richIncident() *memLines {
	m := &memLines{}
	m.add("chat/incident/2025-08-21.json", causeway.KindSlack,
		causeway.Line{Kind: causeway.LineChat, Time: at(10 * time.Minute), Text: "@ana: checkout is slow since 03:20, anyone?"},
		causeway.Line{Kind: causeway.LineChat, Time: at(41*time.Minute + 30*time.Second), Text: "@bo: request 9f86d081 failed with `upstream reset` on orders"},
		causeway.Line{Kind: causeway.LineChat, Time: at(50 * time.Minute), Text: "@ana: could it be the payments deploy?"})
	m.add("events/events.json", causeway.KindEvents,
		causeway.Line{Kind: causeway.LineEvent, Time: at(30 * time.Minute), Text: "Normal Scheduled pod/orders-1: assigned", Attrs: map[string]string{"type": "Normal"}},
		causeway.Line{Kind: causeway.LineEvent, Time: at(5 * time.Minute), Text: "Normal Pulled pod/orders-1: image pulled", Attrs: map[string]string{"type": "Normal"}},
		causeway.Line{Kind: causeway.LineEvent, Time: at(40 * time.Minute), Text: "Warning BackOff pod/orders-1: Back-off restarting failed container",
			Attrs: map[string]string{"type": "Warning", "reason": "BackOff"}})
	var app []causeway.Line
	for i := 0; i < 1500; i++ {
		d := time.Duration(i) * 2 * time.Second
		app = append(app, causeway.Line{Time: at(d), Text: fmt.Sprintf("INFO orders: created order %d for customer c%d", 1000+i, i%50)})
		if i == 1230 {
			app = append(app,
				causeway.Line{Time: at(d + time.Second), Text: "ERROR orders: request 9f86d081 upstream reset before headers: connection termination", Attrs: map[string]string{"level": "error"}},
				causeway.Line{Text: "  at orders.client.Call(client.go:88)"},
				causeway.Line{Text: "  at orders.handler.Checkout(handler.go:120)"})
		}
		if i%100 == 7 {
			app = append(app, causeway.Line{Time: at(d + time.Second), Text: fmt.Sprintf("INFO orders: request %08x upstream ok in %dms", i*7919, i%90)})
		}
	}
	m.add("logs/app.log", causeway.KindLog, app...)
	var noise []causeway.Line
	for i := 0; i < 2000; i++ {
		noise = append(noise, causeway.Line{Time: at(time.Duration(i)*3*time.Second + 500*time.Millisecond), Text: fmt.Sprintf("GET /healthz 200 %dms", i%7)})
	}
	m.add("logs/noise.log", causeway.KindLog, noise...)
	series := []causeway.Line{{Kind: causeway.LineMetric, Time: at(0), Attrs: map[string]string{"stat": "summary"},
		Text: "histogram_quantile(0.99, latency): 240 samples 03:00:00–03:59:45 min=0.1 median=0.12 max=4.8 at 03:20:00 last=0.13"}}
	for i := 0; i < 240; i++ {
		v := 0.12 + float64(i%3)/100
		if i == 80 {
			v = 4.8
		}
		series = append(series, causeway.Line{Kind: causeway.LineMetric, Time: at(time.Duration(i) * 15 * time.Second), Attrs: map[string]string{"stat": "value"},
			Text: fmt.Sprintf("histogram_quantile(0.99, latency): %g at %s", v, at(time.Duration(i)*15*time.Second).Format(time.RFC3339))})
	}
	m.add("metrics/latency.json", causeway.KindPrometheus, series...)
	var describe []causeway.Line
	for _, text := range []string{"Name: orders-1", "Namespace: shop", "Status: Running", "Containers:", "  orders:",
		"    State: Running", "    Last State: Terminated", "      Reason: OOMKilled", "      Exit Code: 137", "    Restart Count: 4", "Events: <none>"} {
		describe = append(describe, causeway.Line{Text: text})
	}
	m.add("objects/describe.txt", causeway.KindLog, describe...)
	m.add("tickets/OPS-1.json", causeway.KindJira,
		causeway.Line{Kind: causeway.LineComment, Time: at(55 * time.Minute), Text: "OPS-1: checkout errors on orders since 03:41"},
		causeway.Line{Kind: causeway.LineComment, Time: at(58 * time.Minute), Text: "Looks like upstream reset before headers, not the deploy"})
	return m
}

func pack(t *testing.T, m *memLines, question string, budget int) (*causeway.Pack, []Signal) {
	t.Helper()
	p := NewPacker(MustTokenizer(""))
	pk, signals, err := p.PackFor(context.Background(), &causeway.Incident{ID: 1}, m, Request{Question: question, Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	return pk, signals
}

func TestPackKeepsEverythingThatFits(t *testing.T) {
	p := NewPacker(MustTokenizer(""))
	pk, err := p.Pack(context.Background(), &causeway.Incident{ID: 1}, noisyIncident(50), 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(pk.Lines) != 53 || pk.Dropped != 0 {
		t.Fatalf("packed %d lines (dropped %d), want all 53", len(pk.Lines), pk.Dropped)
	}
	for _, l := range pk.Lines {
		if l.Fold != nil {
			t.Errorf("%s is folded though every line is shown", l.ID())
		}
	}
	if got := p.Tokenizer.Count(pk.Evidence()); got != pk.Tokens {
		t.Errorf("pack says %d tokens, its render counts %d", pk.Tokens, got)
	}
	ev := pk.Evidence()
	if !strings.HasPrefix(ev, pk.Digest+"## source logs/access.log (log, 50 lines)\nL1 2025-08-21T03:00:00.000Z logs/access.log GET") {
		t.Errorf("render starts %q", ev[:200])
	}
	if !strings.Contains(pk.Digest, "L52 ") {
		t.Errorf("the digest does not name the error line L52:\n%s", pk.Digest)
	}
}

func TestPackUnderBudgetKeepsTheDecisiveLine(t *testing.T) {
	for _, budget := range []int{2_000, 8_000, 40_000} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			pk, _ := pack(t, noisyIncident(5000), "", budget)
			var found bool
			for _, l := range pk.Lines {
				found = found || strings.Contains(l.Text, "no space left on device")
			}
			if !found {
				t.Error("the decisive line was dropped")
			}
			if pk.Dropped == 0 {
				t.Error("nothing was dropped from 5000 lines at a small budget")
			}
			if !strings.Contains(pk.Evidence(), "of 5000 lines)") {
				t.Error("source header does not say how much of the source was kept")
			}
		})
	}
}

// checkPack asserts what every pack must be, whatever its budget.
func checkPack(t *testing.T, m *memLines, pk *causeway.Pack, budget int) {
	t.Helper()
	p := NewPacker(MustTokenizer(""))
	tok := p.Tokenizer
	if limit := p.EvidenceBudget(budget); pk.Tokens > limit {
		t.Errorf("budget %d: %d tokens exceed the evidence budget %d", budget, pk.Tokens, limit)
	}
	if got := tok.Count(pk.Evidence()); got != pk.Tokens {
		t.Errorf("budget %d: pack says %d tokens, its render counts %d", budget, pk.Tokens, got)
	}
	sum := tok.Count(pk.Digest)
	for _, s := range pk.Sources {
		sum += s.Tokens + tok.Count(causeway.SourceHeader(s))
	}
	if sum != pk.Tokens {
		t.Errorf("budget %d: sources, headers and digest add up to %d tokens, the pack to %d", budget, sum, pk.Tokens)
	}
	seen := map[int64]bool{}
	shown := map[string]int{} // lines shown per source and template
	for i, l := range pk.Lines {
		stored, ok := m.byNum(l.Num)
		if !ok || stored.Text != l.Text || stored.Source != l.Source {
			t.Fatalf("budget %d: %s is not the incident's line: %q", budget, l.ID(), l.Text)
		}
		if seen[l.Num] {
			t.Fatalf("budget %d: %s packed twice", budget, l.ID())
		}
		seen[l.Num] = true
		shown[l.Source+"\x00"+Mask(l.Text)]++
		if i > 0 && pk.Lines[i-1].Source == l.Source && !l.Time.IsZero() && l.Time.Before(pk.Lines[i-1].Time) {
			t.Fatalf("budget %d: %s at %s comes after %s at %s", budget, l.ID(), l.Time, pk.Lines[i-1].ID(), pk.Lines[i-1].Time)
		}
	}
	for _, l := range pk.Lines {
		if f := l.Fold; f != nil && (int64(shown[l.Source+"\x00"+Mask(l.Text)]) >= f.Count || f.Last.Before(f.First)) {
			t.Errorf("budget %d: %s folds %+v with %d of its lines shown", budget, l.ID(), *f, shown[l.Source+"\x00"+Mask(l.Text)])
		}
	}
}

// TestPackNeverExceedsTheBudget packs the same incident at random budgets
// and checks that each pack fits, counts exactly, keeps time order within
// each source and shows only the incident's own lines.
func TestPackNeverExceedsTheBudget(t *testing.T) {
	m := richIncident()
	r := rand.New(rand.NewPCG(7, 7))
	budgets := []int{1, 4, 50, 200, 1_000}
	for i := 0; i < 40; i++ {
		budgets = append(budgets, 1+r.IntN(60_000))
	}
	for _, budget := range budgets {
		pk, _ := pack(t, m, "why do orders fail?", budget)
		checkPack(t, m, pk, budget)
	}
}

func TestPackIsDeterministic(t *testing.T) {
	m := richIncident()
	for _, budget := range []int{3_000, 12_000, 200_000} {
		var first string
		for _, workers := range []int{1, 3, 1} {
			p := NewPacker(MustTokenizer(""))
			p.Workers = workers
			pk, _, err := p.PackFor(context.Background(), &causeway.Incident{ID: 1}, m, Request{Question: "why do orders fail?", Budget: budget})
			if err != nil {
				t.Fatal(err)
			}
			if ev := pk.Evidence(); first == "" {
				first = ev
			} else if ev != first {
				t.Fatalf("budget %d, %d workers: a different pack:\n%s", budget, workers, diffLines(first, ev))
			}
		}
	}
}

func TestFoldedRepresentativeIsCitable(t *testing.T) {
	m := richIncident()
	pk, _ := pack(t, m, "why do orders fail?", 12_000)
	var folded []causeway.Line
	for _, l := range pk.Lines {
		if l.Source == "logs/noise.log" {
			folded = append(folded, l)
		}
	}
	if len(folded) == 0 {
		t.Fatal("no line stands for logs/noise.log")
	}
	rep := folded[0]
	for _, l := range folded {
		if l.Fold != nil {
			rep = l
		}
	}
	want := causeway.Fold{Count: 2000, First: at(500 * time.Millisecond), Last: at(1999*3*time.Second + 500*time.Millisecond)}
	if rep.Fold == nil || *rep.Fold != want {
		t.Fatalf("the representative of 2000 health checks folds %+v, want %+v", rep.Fold, want)
	}
	stored, _ := m.byNum(rep.Num)
	if stored.Text != rep.Text || !strings.HasPrefix(stored.Text, "GET /healthz 200") {
		t.Errorf("%s is not a health check line of the incident: %q", rep.ID(), stored.Text)
	}
	line := rep.ID() + " " + rep.Time.Format(causeway.LineTimeLayout) + " logs/noise.log " + rep.Text +
		" ×2000 between 2025-08-21T03:00:00.500Z and 2025-08-21T04:39:57.500Z\n"
	if !strings.Contains(pk.Evidence(), line) {
		t.Errorf("the evidence lacks the folded line %q", line)
	}
}

func TestMetricSummariesCiteTheRightTimes(t *testing.T) {
	m := richIncident()
	pk, signals := pack(t, m, "why is checkout slow?", 6_000)
	var spike, baseline, summary *causeway.Line
	for i := range pk.Lines {
		l := &pk.Lines[i]
		if l.Source != "metrics/latency.json" {
			continue
		}
		switch {
		case l.Attrs["stat"] == "summary":
			summary = l
		case strings.Contains(l.Text, ": 4.8 at "):
			spike = l
		case l.Time.Equal(t0) && l.Attrs["stat"] == "value":
			baseline = l
		}
	}
	if summary == nil || baseline == nil || spike == nil {
		t.Fatalf("metric lines kept: summary %v, baseline %v, peak %v", summary != nil, baseline != nil, spike != nil)
	}
	if want := at(80 * 15 * time.Second); !spike.Time.Equal(want) || !strings.Contains(spike.Text, want.Format(time.RFC3339)) {
		t.Errorf("the peak is cited at %s (%q), want %s", spike.Time, spike.Text, want)
	}
	if len(pk.Lines) > 0 && len(signals) == 0 {
		t.Error("no signals at all")
	}
}

func TestChatTicketsAndSmallSourcesKeptWhole(t *testing.T) {
	m := richIncident()
	pk, _ := pack(t, m, "why do orders fail?", 8_000)
	count := map[string]int{}
	for _, l := range pk.Lines {
		count[l.Source]++
	}
	for _, src := range []string{"chat/incident/2025-08-21.json", "tickets/OPS-1.json", "objects/describe.txt"} {
		want := 0
		for _, l := range m.lines {
			if l.Source == src {
				want++
			}
		}
		if count[src] != want {
			t.Errorf("%s: %d of %d lines packed", src, count[src], want)
		}
	}
	// A source without times keeps its own order.
	var describe []string
	for _, l := range pk.Lines {
		if l.Source == "objects/describe.txt" {
			describe = append(describe, l.Text)
			if !strings.Contains(l.Format(), " - objects/describe.txt ") {
				t.Errorf("a line without a time renders as %q", l.Format())
			}
		}
	}
	if describe[0] != "Name: orders-1" || describe[7] != "      Reason: OOMKilled" {
		t.Errorf("describe lines out of order: %q", describe)
	}
}

// TestHighSignalLinesComeWithTheirNeighbours checks that the error named in
// chat is kept with the stack trace after it (lines without times, which
// stay right after it) and the line before it, and that its signals say
// why.
func TestHighSignalLinesComeWithTheirNeighbours(t *testing.T) {
	m := richIncident()
	pk, signals := pack(t, m, "why do orders fail?", 6_000)
	i := slices.IndexFunc(pk.Lines, func(l causeway.Line) bool { return strings.Contains(l.Text, "upstream reset before headers") })
	if i < 1 || i+2 >= len(pk.Lines) {
		t.Fatalf("the error is not packed with its neighbours (index %d of %d)", i, len(pk.Lines))
	}
	if got := pk.Lines[i+1].Text + "|" + pk.Lines[i+2].Text; got != "  at orders.client.Call(client.go:88)|  at orders.handler.Checkout(handler.go:120)" {
		t.Errorf("after the error: %q", got)
	}
	if prev := pk.Lines[i-1]; prev.Source != "logs/app.log" || prev.Seq != pk.Lines[i].Seq-1 {
		t.Errorf("before the error: %s seq %d", prev.Source, prev.Seq)
	}
	var sig *Signal
	for k := range signals {
		if signals[k].Num == pk.Lines[i].Num {
			sig = &signals[k]
		}
	}
	if sig == nil {
		t.Fatalf("the error is not among the signals %v", signals)
	}
	sum := 0.0
	var names []string
	for _, r := range sig.Reasons {
		sum += r.Weight
		names = append(names, r.Signal)
	}
	if d := sum - sig.Value; d > 1e-3 || d < -1e-3 {
		t.Errorf("reasons add up to %.3f, the score is %.3f", sum, sig.Value)
	}
	for _, want := range []string{SignalSeverity, SignalMention, SignalBeforeChat, SignalRare} {
		if !slices.Contains(names, want) {
			t.Errorf("the error's score %s lacks %s", sig.Score, want)
		}
	}
	if !strings.Contains(pk.Digest, sig.ID()+" ") {
		t.Errorf("the digest does not name %s:\n%s", sig.ID(), pk.Digest)
	}
	if pk.Lines[i].Attrs["signal"] == "" {
		t.Error("the packed error line does not carry its score")
	}
}

func TestPackTokensAreExactForAwkwardLines(t *testing.T) {
	m := noisyIncident(10)
	var odd []causeway.Line
	for i, text := range []string{"", "  leading and trailing  ", "tab\tseparated\t", "日本語のログ", `{"json":true}`, "ends with newline-ish \r", "200 OK"} {
		l := causeway.Line{Text: text}
		if i%2 == 0 {
			l.Time = at(time.Duration(i) * time.Second)
		}
		odd = append(odd, l)
	}
	m.add("logs/odd.log", causeway.KindLog, odd...)
	for _, budget := range []int{100_000, 400} {
		pk, _ := pack(t, m, "", budget)
		checkPack(t, m, pk, budget)
	}
}
