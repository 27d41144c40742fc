package files

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
)

// TestSplitLogLine: each log-line format yields its time and level, and
// keeps or strips its stamp as the format is read.
func TestSplitLogLine(t *testing.T) {
	tests := []struct {
		name, line string
		time       string // RFC3339Nano; "" for none
		text       string // "" means the whole line
		level      string
	}{
		{"RFC3339Nano zap", "2025-08-21T03:49:15.867Z\tERROR\tgateway-api\tFailed to create Wasm cache directory",
			"2025-08-21T03:49:15.867Z", "ERROR\tgateway-api\tFailed to create Wasm cache directory", "error"},
		{"RFC3339 with offset", "2025-08-21T05:49:15+02:00 WARN disk at 97%", "2025-08-21T03:49:15Z", "WARN disk at 97%", "warn"},
		{"log4j comma", "2025-08-21 03:49:15,867 ERROR [main] c.e.Gateway - upstream reset", "2025-08-21T03:49:15.867Z",
			"ERROR [main] c.e.Gateway - upstream reset", "error"},
		{"python", "2025-08-21 03:49:15,867 - vllm.engine - INFO - started", "2025-08-21T03:49:15.867Z", "- vllm.engine - INFO - started", "info"},
		{"datetime dot", "2025-08-21 03:49:15.867 DEBUG pool size 4", "2025-08-21T03:49:15.867Z", "DEBUG pool size 4", "debug"},
		{"bracketed kafka", "[2025-08-21 03:49:15,867] WARN [Producer clientId=p1] retrying", "2025-08-21T03:49:15.867Z",
			"WARN [Producer clientId=p1] retrying", "warn"},
		{"go log", "2025/08/21 03:49:15 http: TLS handshake error from 10.0.0.7:5123: EOF", "2025-08-21T03:49:15Z",
			"http: TLS handshake error from 10.0.0.7:5123: EOF", ""},
		{"go time.String", "2025-08-21 03:49:15.5 +0000 UTC starting", "2025-08-21T03:49:15.5Z", "starting", ""},
		{"level after zone", "2025-08-21 03:49:15 +0000 INFO ok", "2025-08-21T03:49:15Z", "INFO ok", "info"},
		{"kubectl --timestamps over RFC3339", "2025-08-21T03:49:15.867123456Z 2025-08-21T03:49:15.867Z ERROR gateway-api boom",
			"2025-08-21T03:49:15.867123456Z", "2025-08-21T03:49:15.867Z ERROR gateway-api boom", "error"},
		{"kubectl --timestamps over JSON", `2025-08-21T03:49:15.867123456Z {"level":"warn","msg":"slow"}`,
			"2025-08-21T03:49:15.867123456Z", `{"level":"warn","msg":"slow"}`, "warn"},
		{"klog info", `I0821 03:49:15.867123       1 controller.go:212] "Reconciling"`, "2025-08-21T03:49:15.867123Z", "", "info"},
		{"klog error", `E0821 03:49:15.000001    311 eviction_manager.go:366] "must evict"`, "2025-08-21T03:49:15.000001Z", "", "error"},
		{"klog fatal", "F0821 03:49:15.867123       1 main.go:40] cannot start", "2025-08-21T03:49:15.867123Z", "", "fatal"},
		{"nginx combined", `10.0.0.1 - - [21/Aug/2025:03:49:15 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.7.1"`, "2025-08-21T03:49:15Z", "", ""},
		{"apache combined with user and zone", `2001:db8::1 - alice [21/Aug/2025:05:49:15 +0200] "POST /v1 HTTP/2.0" 503 19`, "2025-08-21T03:49:15Z", "", ""},
		{"syslog", "Aug 21 03:49:15 kind-control-plane kernel: EXT4-fs warning (device sda1): ext4_dx_add_entry: Directory index full!",
			"2025-08-21T03:49:15Z", "", ""},
		{"syslog padded day", "Aug  1 03:49:15 host CRON[12]: (root) CMD (true)", "2025-08-01T03:49:15Z", "", ""},
		{"apache error", "[Thu Aug 21 03:49:15 2025] [error] [client 10.0.0.1] File does not exist: /var/www/favicon.ico",
			"2025-08-21T03:49:15Z", "", "error"},
		{"JSON ts seconds", `{"ts":1755748155.867,"level":"error","msg":"x"}`, "2025-08-21T03:49:15.867Z", "", "error"},
		{"JSON time millis pino", `{"level":50,"time":1755748155867,"msg":"db timeout"}`, "2025-08-21T03:49:15.867Z", "", "error"},
		{"JSON timestamp nanos", `{"timestamp":1755748155867000001,"severity":"WARNING"}`, "2025-08-21T03:49:15.867000001Z", "", "warn"},
		{"JSON @timestamp string", `{"@timestamp":"2025-08-21T03:49:15.867Z","log.level":"info","message":"ok"}`, "2025-08-21T03:49:15.867Z", "", "info"},
		{"JSON envoy start_time", `{"start_time":"2025-08-21T03:49:15.867Z","response_code":503,"response_flags":"UH"}`, "2025-08-21T03:49:15.867Z", "", ""},
		{"JSON without time", `{"runner": "gateway-api", "error": "mkdir /var/lib/eg/wasm: no space left on device"}`, "", "", ""},
		{"JSON with duration in time", `{"time":35,"msg":"took"}`, "", "", ""},
		{"bad JSON is a plain line", `{"level":"error","msg":"cut off`, "", "", ""},
		{"logfmt", `time="2025-08-21T03:49:15Z" level=error msg="failed"`, "", "", "error"},
		{"stack frame", "\tat com.example.Gateway.route(Gateway.java:88)", "", "", ""},
		{"lower-case word is not a level", "connection error while dialing", "", "", ""},
		{"first word any case", "Warning: deprecated field", "", "", "warn"},
		{"bracketed level", "[error] upstream timed out", "", "", "error"},
		{"not a date", "2025-13-45T99:99:99Z nonsense", "", "", ""},
		{"stamp glued to a word", "2025-08-21T03:49:15Zebra", "", "", ""},
		{"only a stamp", "2025-08-21T03:49:15Z", "2025-08-21T03:49:15Z", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, got, level, _ := splitLogLine([]byte(tt.line), 2025)
			var gotTime string
			if !got.IsZero() {
				gotTime = got.UTC().Format(time.RFC3339Nano)
			}
			wantText := tt.text
			if wantText == "" {
				wantText = tt.line
			}
			if gotTime != tt.time || string(text) != wantText || level != tt.level {
				t.Errorf("splitLogLine(%q)\n got time %q text %q level %q\nwant time %q text %q level %q",
					tt.line, gotTime, text, level, tt.time, wantText, tt.level)
			}
		})
	}
}

// TestParseLogInheritsTime: lines without a time keep their place and take
// the previous line's time, flagged; before any time they have none.
func TestParseLogInheritsTime(t *testing.T) {
	input := "Starting server\n" +
		"2025-08-21T03:41:06.998Z ERROR unhandled exception\n" +
		"java.lang.IllegalStateException: pool closed\n" +
		"\tat com.example.Pool.get(Pool.java:42)\n" +
		"\n" +
		"2025-08-21T03:41:07Z INFO recovered\n"
	lines := parseAll(t, causeway.Source{Name: "logs/app.log", Kind: causeway.KindLog}, input, Options{})
	type row struct {
		time     string
		inferred bool
		text     string
	}
	want := []row{
		{"", false, "Starting server"},
		{"03:41:06.998", false, "ERROR unhandled exception"},
		{"03:41:06.998", true, "java.lang.IllegalStateException: pool closed"},
		{"03:41:06.998", true, "\tat com.example.Pool.get(Pool.java:42)"},
		{"03:41:07", false, "INFO recovered"},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		got := row{"", l.TimeInferred, l.Text}
		if !l.Time.IsZero() {
			got.time = l.Time.Format("15:04:05.999")
		}
		if got != want[i] || l.Seq != int64(i) {
			t.Errorf("line %d = %+v (seq %d), want %+v", i, got, l.Seq, want[i])
		}
	}
}

// TestParseYear: klog and syslog stamps take Options.Year.
func TestParseYear(t *testing.T) {
	lines := parseAll(t, causeway.Source{Name: "logs/k.log", Kind: causeway.KindLog},
		"I0229 12:00:00.000000 1 x.go:1] leap day\n", Options{Year: 2024})
	if got := lines[0].Time; !got.Equal(time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("time = %v, want 2024-02-29", got)
	}
}

// TestParseMaxLineBytes: a long line is cut at a rune boundary, never in
// the middle of a character.
func TestParseMaxLineBytes(t *testing.T) {
	line := strings.Repeat("é", 100) // 200 bytes
	lines := parseAll(t, causeway.Source{Name: "logs/a.log", Kind: causeway.KindLog}, line+"\nnext\n", Options{MaxLineBytes: 51})
	want := strings.Repeat("é", 25) + "…[truncated 150 bytes]"
	if lines[0].Text != want || lines[1].Text != "next" {
		t.Errorf("lines = %q, %q; want %q, next", lines[0].Text, lines[1].Text, want)
	}
}

func parseAll(t *testing.T, src causeway.Source, input string, opts Options) []causeway.Line {
	t.Helper()
	var lines []causeway.Line
	_, err := Parse(context.Background(), src, strings.NewReader(input), opts, func(l causeway.Line) error {
		lines = append(lines, l)
		return nil
	})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return lines
}
