package chunking

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
)

func TestLineSignals(t *testing.T) {
	tests := []struct {
		name    string
		line    causeway.Line
		signals []string // the signals the score must name, in any order
	}{
		{"healthy log line", causeway.Line{Kind: causeway.LineLog, Text: "GET /healthz 200 in 3ms"}, nil},
		{"error words and level", causeway.Line{Kind: causeway.LineLog, Text: `failed to create wasm cache: mkdir /var/lib/eg/wasm: no space left on device`,
			Attrs: map[string]string{"level": "error"}}, []string{SignalSeverity}},
		{"a status code in a word is not one", causeway.Line{Kind: causeway.LineLog, Text: "port 15030 open"}, nil},
		{"warning event", causeway.Line{Kind: causeway.LineEvent, Text: "Warning BackOff pod/web-1: Back-off restarting failed container",
			Attrs: map[string]string{"type": "Warning", "reason": "BackOff"}}, []string{SignalWarning, SignalSeverity}},
		{"accepted false", causeway.Line{Kind: causeway.LineCondition, Text: "EnvoyExtensionPolicy aibrix-system/p Accepted=False reason=Invalid",
			Attrs: map[string]string{"condition": "Accepted", "status": "False", "reason": "Invalid"}}, []string{SignalCondition, SignalState}},
		{"disk pressure true", causeway.Line{Kind: causeway.LineCondition, Text: "Node kind-control-plane DiskPressure=True reason=KubeletHasDiskPressure",
			Attrs: map[string]string{"condition": "DiskPressure", "status": "True"}}, []string{SignalCondition, SignalSeverity}},
		{"ready true is fine", causeway.Line{Kind: causeway.LineCondition, Text: "Pod default/web Ready=True",
			Attrs: map[string]string{"condition": "Ready", "status": "True"}}, []string{SignalState}},
		{"oom killed", causeway.Line{Kind: causeway.LineStatus, Text: "Pod monitoring/ksm container ksm last terminated reason=OOMKilled exitCode=137",
			Attrs: map[string]string{"state": "last-terminated", "reason": "OOMKilled", "exit_code": "137"}}, []string{SignalTermination, SignalSeverity}},
		{"crash loop", causeway.Line{Kind: causeway.LineStatus, Text: "Pod default/web container app waiting reason=CrashLoopBackOff",
			Attrs: map[string]string{"state": "waiting", "reason": "CrashLoopBackOff"}}, []string{SignalTermination}},
		{"a new version starting", causeway.Line{Kind: causeway.LineLog, Text: "Starting CheckoutApplication v1.9.0 using Java 17"},
			[]string{SignalChange}},
		{"a rollout event", causeway.Line{Kind: causeway.LineEvent, Text: "Normal ScalingReplicaSet deployment/web: Scaled up replica set web-7d9 to 3",
			Attrs: map[string]string{"type": "Normal", "reason": "ScalingReplicaSet"}}, []string{SignalChange}},
		{"metric spike", causeway.Line{Kind: causeway.LineMetric, Text: "rate(errors[1m]): spike to 42 at 03:50:00 (median 0)",
			Attrs: map[string]string{"stat": "spike"}}, []string{SignalMetric, SignalState}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := LineSignals(&tt.line)
			var got []string
			sum := 0.0
			for _, r := range s.Reasons {
				got = append(got, r.Signal)
				sum += r.Weight
			}
			for _, want := range tt.signals {
				if !slices.Contains(got, want) {
					t.Errorf("score %s lacks %s", s, want)
				}
			}
			if len(tt.signals) == 0 && s.Value != 0 {
				t.Errorf("a line that says nothing scored %s", s)
			}
			if math.Abs(sum-s.Value) > 1e-9 {
				t.Errorf("reasons add up to %v, the score is %v", sum, s.Value)
			}
		})
	}
	worse := LineSignals(&causeway.Line{Kind: causeway.LineCondition, Attrs: map[string]string{"condition": "Accepted", "status": "False"}})
	fine := LineSignals(&causeway.Line{Kind: causeway.LineCondition, Attrs: map[string]string{"condition": "Accepted", "status": "True"}})
	if worse.Value <= fine.Value {
		t.Errorf("Accepted=False scores %v, Accepted=True %v", worse.Value, fine.Value)
	}
}

func TestMatcherFindsPhrasesWhereWordsStart(t *testing.T) {
	m := newMatcher([]matchPattern{{text: "no healthy upstream"}, {text: "503", wholeWord: true}, {text: "error"}, {text: "routing-strategy", wholeWord: true}})
	tests := []struct {
		text string
		want []int32
	}{
		{`"response_code_details":"no_healthy_upstream"`, []int32{0}},
		{"status 503 from upstream", []int32{1}},
		{"port 15030 and 5030", nil},
		{"Errors: 3, terror: none", []int32{2}},
		{"header Routing_Strategy: random", []int32{3}},
		{"routing-strategyx", nil},
	}
	for _, tt := range tests {
		var got []int32
		m.scan(tt.text, func(p int32, _, _ int) { got = append(got, p) })
		if !slices.Equal(got, tt.want) {
			t.Errorf("scan(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestTermsOfChatAndQuestion(t *testing.T) {
	var ts termSet
	ts.add("Why do requests with a routing-strategy header fail with 503 no healthy upstream?", -1, time.Time{}, 2, false)
	ts.add("back. every request now gets 503 `no healthy upstream` (route_name original_route, response_flags UH) since ~03:49", 0,
		time.Date(2025, 8, 21, 3, 58, 44, 0, time.UTC), 1, false)
	has := func(text string) *term {
		key, _ := fold(text)
		if i, ok := ts.index[key]; ok {
			return &ts.terms[i]
		}
		return nil
	}
	for _, want := range []string{"routing-strategy", "503", "no healthy upstream", "original_route", "UH", "healthy upstream"} {
		if has(want) == nil {
			t.Errorf("no term %q among %v", want, ts.terms)
		}
	}
	for _, not := range []string{"with", "since", "the", "why"} {
		if has(not) != nil {
			t.Errorf("%q became a term", not)
		}
	}
	if tm := has("503"); tm == nil || !tm.question || !slices.Equal(tm.msgs, []int32{0}) {
		t.Errorf("503 should come from the question and message 0: %+v", tm)
	}
	if tm := has("UH"); tm == nil || tm.question {
		t.Errorf("UH should come from chat only: %+v", tm)
	}
	if tm := has("03:49"); tm == nil || !tm.clock {
		t.Errorf("03:49 should be a clock term: %+v", tm)
	}
	if want := time.Date(2025, 8, 21, 3, 49, 0, 0, time.UTC).UnixNano(); len(ts.instants) != 1 || ts.instants[0].t != want {
		t.Errorf("instants %+v, want one at 03:49 that day", ts.instants)
	}
}

func TestNamedTimesAreDated(t *testing.T) {
	msg := time.Date(2025, 9, 11, 9, 40, 0, 0, time.UTC)
	tests := []struct {
		text string
		want time.Time
	}{
		{"Burst of 7 at 12:41:34 UTC", time.Date(2025, 9, 10, 12, 41, 34, 0, time.UTC)}, // later than the message: the day before
		{"image-resizer got OOM killed yesterday 08:22", time.Date(2025, 9, 11, 8, 22, 0, 0, time.UTC)},
		{"Recurred at 2025-09-12 18:37:31 UTC", time.Date(2025, 9, 12, 18, 37, 31, 0, time.UTC)},
		{"around 08:00 UTC on 2025-11-04", time.Date(2025, 11, 4, 8, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		var ts termSet
		ts.add(tt.text, 0, msg, 1, false)
		if len(ts.instants) != 1 || ts.instants[0].t != tt.want.UnixNano() {
			t.Errorf("%q: instants %v, want %s", tt.text, ts.instants, tt.want)
		}
	}
	var ts termSet
	ts.add("p99 is 300 ms, 3:1 ratio, version 1:2.3", -1, time.Time{}, 2, false)
	if len(ts.instants) != 0 {
		t.Errorf("a question without a date named instants %v", ts.instants)
	}
	m := newMatcher([]matchPattern{{text: "08:00", digits: true}})
	n := 0
	for _, text := range []string{"notAfter=Nov  4 08:00:00 2025 GMT", `"2025-11-04T08:00:00Z"`, "at 108:00", "08:001"} {
		m.scan(text, func(int32, int, int) { n++ })
	}
	if n != 2 {
		t.Errorf("08:00 found %d times, want 2", n)
	}
}
