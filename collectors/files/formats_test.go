package files

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
)

var t0 = time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC)

// matrix builds a query_range response of one series sampled every 15 s
// from t0, with value(i) for sample i ("" leaves the sample out).
func matrix(n int, value func(i int) string) string {
	var values []string
	for i := range n {
		if v := value(i); v != "" {
			values = append(values, fmt.Sprintf(`[%d,"%s"]`, t0.Unix()+int64(i*15), v))
		}
	}
	return `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"envoy_cluster_upstream_rq_5xx","pod":"envoy-0"},"values":[` +
		strings.Join(values, ",") + `]}]}}`
}

// TestMetricsNotable: a series' spike, step and gap come out as lines at
// the right times next to a summary, and flat series say nothing more.
func TestMetricsNotable(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string // "HH:MM:SS text-substring" per line
	}{
		{"spike", matrix(240, func(i int) string {
			if i == 188 { // 03:47:00
				return "15"
			}
			return fmt.Sprint(0.2 + float64(i%3)*0.01)
		}), []string{
			"03:00:00 envoy_cluster_upstream_rq_5xx{pod=\"envoy-0\"}: 240 samples 03:00:00–03:59:45 min=0.2 median=0.21 max=15 at 03:47:00 last=0.2",
			"03:47:00 spike to 15 at 03:47:00 (median 0.21)",
		}},
		{"step", matrix(240, func(i int) string {
			if i >= 120 {
				return "10"
			}
			return "0"
		}), []string{
			"03:00:00 240 samples",
			"03:30:00 level shift at 03:30:00: mean 0 before, 10 after",
		}},
		{"sustained rise", matrix(240, func(i int) string {
			if i >= 200 {
				return "0.35"
			}
			return "0"
		}), []string{
			"03:00:00 240 samples",
			"03:50:00 above median 0 from 03:50:00 to 03:59:45 (40 samples), peak 0.35 at 03:50:00, through the last sample",
		}},
		{"gap and NaN", matrix(240, func(i int) string {
			switch {
			case i >= 100 && i < 140:
				return ""
			case i == 10:
				return "NaN"
			case i == 11:
				return "+Inf"
			}
			return "1"
		}), []string{
			"03:00:00 200 samples 03:00:00–03:59:45 min=1 median=1 max=1 at 03:00:00 last=1 NaN=1 +Inf=1",
			"03:24:45 no samples from 03:24:45 to 03:35:00 (10m15s)",
		}},
		{"flat", matrix(240, func(int) string { return "0" }), []string{"03:00:00 240 samples"}},
		{"instant vector", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"envoy"},"value":[1755745200,"0"]}]}}`,
			[]string{`03:00:00 up{job="envoy"}: 0 at 2025-08-21T03:00:00Z`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := parseAll(t, causeway.Source{Name: "metrics/x.json", Kind: causeway.KindPrometheus}, tt.input, Options{})
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(tt.want), texts(lines))
			}
			for i, w := range tt.want {
				clock, sub, _ := strings.Cut(w, " ")
				if got := lines[i].Time.Format("15:04:05"); got != clock || !strings.Contains(lines[i].Text, sub) || lines[i].Kind != causeway.LineMetric {
					t.Errorf("line %d = %s %q, want %s and %q", i, got, lines[i].Text, clock, sub)
				}
			}
		})
	}
}

func TestMetricsQueryAndCap(t *testing.T) {
	// Many separate spikes: the cap keeps the largest, in time order.
	input := matrix(240, func(i int) string {
		if i%20 == 10 {
			return fmt.Sprint(100 + i)
		}
		return "1"
	})
	src := causeway.Source{Name: "metrics/x.json", Kind: causeway.KindPrometheus, Query: "sum(rate(envoy_cluster_upstream_rq_5xx[1m]))"}
	lines := parseAll(t, src, input, Options{})
	if len(lines) != 1+MaxNotable {
		t.Fatalf("got %d lines, want summary + %d:\n%s", len(lines), MaxNotable, texts(lines))
	}
	if !strings.HasPrefix(lines[0].Text, `sum(rate(envoy_cluster_upstream_rq_5xx[1m])){pod="envoy-0"}: `) {
		t.Errorf("summary does not start with the query: %q", lines[0].Text)
	}
	for i, l := range lines[1:] {
		if want := fmt.Sprint("spike to ", 100+10+20*(7+i)); !strings.Contains(l.Text, want) {
			t.Errorf("notable line %d = %q, want %q (largest spikes, in time order)", i, l.Text, want)
		}
	}
}

func TestStructuredErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   causeway.Source
		input string
		want  string
	}{
		{"prometheus error status", causeway.Source{Name: "metrics/q.json", Kind: causeway.KindPrometheus},
			`{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected end of input"}`,
			"prometheus returned an error (bad_data): 1:5: parse error"},
		{"malformed events", causeway.Source{Name: "events/e.json", Kind: causeway.KindEvents},
			"{\"kind\": \"List\",\n \"items\": [}", "malformed JSON at line 2, column 12 (offset 29)"},
		{"describe text named .json", causeway.Source{Name: "objects/pod.json", Kind: causeway.KindObjects},
			"Name:         web-0\nNamespace:    default\n", "malformed JSON at line 1, column 1"},
		{"slack API error", causeway.Source{Name: "chat/ops/2025-08-21.json", Kind: causeway.KindSlack},
			`{"ok": false, "error": "channel_not_found"}`, "slack API error: channel_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(context.Background(), tt.src, strings.NewReader(tt.input), Options{}, func(causeway.Line) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestObjectsText: kubectl describe output saved under objects/ is read as
// status lines, not rejected.
func TestObjectsText(t *testing.T) {
	input := "Name:         mock-app-5d8f7c9b4-8hfxk\n" +
		"    State:          Waiting\n" +
		"      Reason:       CrashLoopBackOff\n" +
		"    Last State:     Terminated\n" +
		"      Reason:       OOMKilled\n"
	var lines []causeway.Line
	stats, err := Parse(context.Background(), causeway.Source{Name: "objects/describe-pod.txt", Kind: causeway.KindObjects},
		strings.NewReader(input), Options{}, func(l causeway.Line) error { lines = append(lines, l); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 5 || lines[4].Text != "      Reason:       OOMKilled" || lines[4].Kind != causeway.LineStatus {
		t.Errorf("lines:\n%s", texts(lines))
	}
	if len(stats.Warnings) != 1 || !strings.Contains(stats.Warnings[0], "not JSON") {
		t.Errorf("warnings = %q", stats.Warnings)
	}
}

// TestObjectsSingleAndRobust: a single object (not a List) reads, and an
// odd field of a custom resource costs that field only.
func TestObjectsSingleAndRobust(t *testing.T) {
	input := `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"ns","creationTimestamp":"2025-08-21T03:00:00Z"},
	"status":{"replicas":"three","phase":"Degraded","conditions":[{"type":"Ready","status":"False","reason":"Broken","message":"line one\nline two","lastTransitionTime":"2025-08-21T03:10:00Z"}]}}`
	lines := parseAll(t, causeway.Source{Name: "objects/w.json", Kind: causeway.KindObjects}, input, Options{})
	want := []string{
		"Widget ns/w Ready=False reason=Broken: line one line two",
		"Widget ns/w phase=Degraded",
		"Widget ns/w replicas current=0 updated=0 ready=0 available=0",
	}
	if got := texts(lines); got != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if !lines[1].TimeInferred || !lines[1].Time.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("phase line time = %v inferred=%v, want the object's latest time, inferred", lines[1].Time, lines[1].TimeInferred)
	}
}

func TestSlackText(t *testing.T) {
	users := map[string]string{"U1": "Alice Ng"}
	tests := []struct{ in, want string }{
		{"<@U1> look", "@Alice Ng look"},
		{"<@U2|bob> look", "@bob look"},
		{"<@U3>", "@U3"},
		{"see <#C1|ops> and <!here>", "see #ops and @here"},
		{"<!subteam^S1|@sre> paged", "@sre paged"},
		{"<https://grafana.example.com/d/x|dashboard> and <https://example.com>", "dashboard (https://grafana.example.com/d/x) and https://example.com"},
		{"<mailto:a@example.com|a@example.com>", "a@example.com"},
		{"5 &lt; 6 &amp;&amp; 7 &gt; 2", "5 < 6 && 7 > 2"},
		{"unclosed <@U1", "unclosed <@U1"},
	}
	for _, tt := range tests {
		if got := slackText(tt.in, users); got != tt.want {
			t.Errorf("slackText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestJiraADF: a v3 issue with Atlassian Document Format bodies reads like
// a v2 one.
func TestJiraADF(t *testing.T) {
	adf := func(paras ...string) string {
		var content []string
		for _, p := range paras {
			content = append(content, fmt.Sprintf(`{"type":"paragraph","content":[{"type":"text","text":%q}]}`, p))
		}
		return `{"type":"doc","version":1,"content":[` + strings.Join(content, ",") + `]}`
	}
	input := `{"key":"OPS-7","fields":{"summary":"502s","created":"2025-08-21T03:00:00.000+0000","status":{"name":"Open"},
	"description":` + adf("first", "second") + `,
	"comment":{"comments":[{"author":{"displayName":"Mei Chen"},"created":"2025-08-21T04:10:00.000+0000","body":` + adf("grace period is 15s") + `}]}}}`
	lines := parseAll(t, causeway.Source{Name: "tickets/OPS-7.json", Kind: causeway.KindJira}, input, Options{})
	want := "OPS-7 502s (status Open)\nOPS-7 description: first\nOPS-7 description: second\nOPS-7 comment by Mei Chen: grace period is 15s"
	if got := texts(lines); got != want {
		t.Errorf("lines:\n%s\nwant:\n%s", got, want)
	}
	if c := lines[3]; !c.Time.Equal(t0.Add(70*time.Minute)) || c.Attrs["author"] != "Mei Chen" || c.Attrs["ticket"] != "OPS-7" {
		t.Errorf("comment line = %+v", c)
	}
}

func TestEventsShapes(t *testing.T) {
	core := `{"kind":"Event","metadata":{"name":"e","namespace":"default","creationTimestamp":"2025-08-21T03:00:00Z"},
	"involvedObject":{"kind":"Pod","name":"web-1","namespace":"default"},"reason":"Killing","message":"Stopping container app","type":"Normal",
	"firstTimestamp":null,"lastTimestamp":null,"eventTime":"2025-08-21T03:05:00.123456Z","reportingComponent":"kubelet"}`
	tests := []struct{ name, input, text, time string }{
		{"single object with eventTime", core, "Normal Killing pod/web-1 (ns default): Stopping container app", "03:05:00.123456"},
		{"bare array", "[" + core + "]", "Normal Killing pod/web-1 (ns default): Stopping container app", "03:05:00.123456"},
		{"only creation time", `{"kind":"EventList","items":[{"metadata":{"namespace":"kube-system","creationTimestamp":"2025-08-21T03:07:00Z"},
			"involvedObject":{"kind":"Node","name":"n1"},"reason":"NodeNotReady","message":"Node n1 status is now: NodeNotReady","type":"Normal","count":1}]}`,
			"Normal NodeNotReady node/n1: Node n1 status is now: NodeNotReady", "03:07:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := parseAll(t, causeway.Source{Name: "events/e.json", Kind: causeway.KindEvents}, tt.input, Options{})
			if len(lines) != 1 || lines[0].Text != tt.text || lines[0].Time.Format("15:04:05.999999") != tt.time {
				t.Errorf("lines:\n%s", texts(lines))
			}
		})
	}
}

// TestEventsBadItem: one malformed item costs that item, with a warning.
func TestEventsBadItem(t *testing.T) {
	input := `{"kind":"List","items":[{"kind":"Event","count":"many"},{"kind":"Event","reason":"Pulled","type":"Normal",
	"involvedObject":{"kind":"Pod","name":"p","namespace":"n"},"lastTimestamp":"2025-08-21T03:00:00Z"}]}`
	var lines []causeway.Line
	stats, err := Parse(context.Background(), causeway.Source{Name: "events/e.json", Kind: causeway.KindEvents},
		strings.NewReader(input), Options{}, func(l causeway.Line) error { lines = append(lines, l); return nil })
	if err != nil || len(lines) != 1 || len(stats.Warnings) != 1 || !strings.Contains(stats.Warnings[0], "1 malformed event skipped (first: event 0:") {
		t.Errorf("err %v, lines %d, warnings %q", err, len(lines), stats.Warnings)
	}
}

func texts(lines []causeway.Line) string {
	var s []string
	for _, l := range lines {
		s = append(s, l.Text)
	}
	return strings.Join(s, "\n")
}

// TestJSONTime: the time members of JSON logs in every unit.
func TestJSONTime(t *testing.T) {
	want := time.Date(2025, 8, 21, 3, 49, 15, 867000000, time.UTC)
	for _, raw := range []string{
		`"2025-08-21T03:49:15.867Z"`, `"2025-08-21T05:49:15.867+02:00"`, `"2025-08-21 03:49:15,867"`,
		`1755748155.867`, `1755748155867`, `1755748155867000`, `1755748155867000000`, `"1755748155.867"`, `1.755748155867e9`,
	} {
		got, ok := jsonTime(json.RawMessage(raw))
		if !ok || got.Sub(want).Abs() > time.Microsecond {
			t.Errorf("jsonTime(%s) = %v, %v; want %v", raw, got, ok, want)
		}
	}
	for _, raw := range []string{`35`, `"yesterday"`, `null`, `true`, `-1755748155`, `"2025-08-21"`} {
		if got, ok := jsonTime(json.RawMessage(raw)); ok {
			t.Errorf("jsonTime(%s) = %v, want no time", raw, got)
		}
	}
}
