package files

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/causeway-rca/causeway"
)

var stampSeeds = []string{
	"2025-08-21T03:49:15.867Z ERROR gateway-api Failed to create Wasm cache directory",
	"2025-08-21T03:49:15.867123456+02:00 x",
	"2025-08-21 03:49:15,867 - INFO - x",
	"[2025-08-21 03:49:15,867] WARN x",
	"2025/08/21 03:49:15 x",
	"2025-08-21 03:49:15 +0000 UTC x",
	"2025-08-21T03:49:15-0700",
	"I0821 03:49:15.867123       1 file.go:12] msg",
	"Aug 21 03:49:15 host sshd[1]: x",
	"Aug  1 03:49:15 host x",
	"[Sun Dec 04 04:47:44 2005] [error] x",
	"[Wed Oct 11 14:32:52.123456 2000] [core:error] x",
	`10.0.0.1 - - [21/Aug/2025:03:49:15 +0000] "GET / HTTP/1.1" 200 1`,
	`127.0.0.1 - - [29/May/2025 10:14:26] "GET / HTTP/1.1" 200 -`,
	"2024-02-29T23:59:60Z leap",
	"2025-08-21T03:49:15.Z",
	"2025-08-21T03:49:15+24:00",
}

// FuzzLogTime: the log-line time parser never panics, stays inside the
// line, and agrees with time.Parse on every RFC 3339 stamp it accepts.
func FuzzLogTime(f *testing.F) {
	for _, s := range stampSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		b := []byte(line)
		st, ok := parseStamp(b, 2025)
		if !ok {
			st = stamp{}
		}
		if st.end < 0 || st.end > len(b) || (st.strip && st.end == 0) {
			t.Fatalf("stamp end %d out of line of %d bytes", st.end, len(b))
		}
		text, _, _, _ := splitLogLine(b, 2025)
		if len(text) > len(b) || !bytes.HasSuffix(b, text) {
			t.Fatalf("text %q is not a suffix of %q", text, b)
		}
		tok, _, _ := strings.Cut(line, " ")
		// time.Parse also takes one-digit hours and the like; only the
		// canonical shape is a contract.
		want, err := time.Parse(time.RFC3339Nano, tok)
		if err != nil || !canonicalRFC3339(tok) {
			return
		}
		got, gotOK := parseTimeString(tok)
		if !gotOK || !got.Equal(want) {
			t.Fatalf("parseTimeString(%q) = %v, %v; time.Parse says %v", tok, got, gotOK, want)
		}
	})
}

func canonicalRFC3339(s string) bool {
	if len(s) < 20 {
		return false
	}
	for i := range 19 {
		switch i {
		case 4, 7:
			if s[i] != '-' {
				return false
			}
		case 10:
			if s[i] != 'T' {
				return false
			}
		case 13, 16:
			if s[i] != ':' {
				return false
			}
		default:
			if !isDigit(s[i]) {
				return false
			}
		}
	}
	return true
}

// FuzzJSONLine: the JSON line scanner accepts exactly the JSON objects
// and finds the members encoding/json finds.
func FuzzJSONLine(f *testing.F) {
	for _, s := range []string{
		`{"level":"info","time":"2025-08-21T03:00:05.001Z","msg":"x"}`,
		`{"ts":1755747420.5,"lvl":"error","nested":{"time":"no"},"arr":[1,{"ts":2}]}`,
		`{"t\u0073":"2025-08-21T03:00:05Z","level":30}`,
		`{"time":1,"time":2}`,
		`{"@timestamp":"2025-08-21T03:00:05Z","log.level":"warn"}`,
		`{"start_time":"2025-08-21T03:23:19.513Z","response_code":503}`,
		` { "severity" : "WARNING" , "timestamp" : "x\"y" } `,
		`{"level":"error","msg":"cut off`,
		`[1,2]`, `"str"`, `{}`, `{"a":}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		b := []byte(line)
		got, ok := scanJSONLine(b)
		var m map[string]json.RawMessage
		isObject := json.Unmarshal(b, &m) == nil && m != nil
		if ok != isObject {
			t.Fatalf("scanJSONLine ok=%v, encoding/json object=%v for %q", ok, isObject, line)
		}
		if !ok {
			return
		}
		var wantTime, wantLevel []byte
		for _, k := range timeKeys {
			if v, ok := m[k]; ok {
				wantTime = v
				break
			}
		}
		for _, k := range levelKeys {
			if v, ok := m[k]; ok {
				wantLevel = v
				break
			}
		}
		if !bytes.Equal(got.time, wantTime) || !bytes.Equal(got.level, wantLevel) {
			t.Fatalf("scanJSONLine(%q) time %q level %q; encoding/json: %q %q", line, got.time, got.level, wantTime, wantLevel)
		}
		jsonTime(got.time)
		jsonLevel(got.level)
	})
}

var parseKinds = []causeway.SourceKind{
	causeway.KindLog, causeway.KindEvents, causeway.KindObjects, causeway.KindPrometheus,
	causeway.KindSlack, causeway.KindJira, causeway.KindDoc,
}

// FuzzFormats: every format reader, fed anything, emits storable lines in
// order and never panics.
func FuzzFormats(f *testing.F) {
	seeds := map[causeway.SourceKind][]string{
		causeway.KindLog: append(stampSeeds, "{\"ts\":1755747420.5}\nplain\x00\xff\n"),
		causeway.KindEvents: {`{"kind":"List","items":[{"kind":"Event","involvedObject":{"kind":"Pod","name":"p","namespace":"n"},"reason":"BackOff","message":"m","type":"Warning","count":12,"lastTimestamp":"2025-08-21T03:52:10Z"}]}`,
			`[{"apiVersion":"events.k8s.io/v1","regarding":{"kind":"Node","name":"n"},"note":"x","series":{"count":3,"lastObservedTime":"2025-08-21T03:52:10.000001Z"}}]`},
		causeway.KindObjects: {`{"kind":"EnvoyExtensionPolicy","metadata":{"name":"p","namespace":"a"},"status":{"ancestors":[{"ancestorRef":{"name":"g"},"conditions":[{"type":"Accepted","status":"False","reason":"Invalid","message":"Wasm: wasm cache is not initialized.","lastTransitionTime":"2025-08-21T03:49:16Z"}]}]}}`,
			`{"kind":"List","items":[{"kind":"Pod","metadata":{"name":"p"},"status":{"containerStatuses":[{"name":"c","restartCount":3,"lastState":{"terminated":{"reason":"OOMKilled","exitCode":137,"finishedAt":"2025-08-21T03:47:01Z"}},"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}]}`,
			"Filesystem Size Used Avail Use% Mounted on\n/dev/sda1 59G 59G 0 100% /\n"},
		causeway.KindPrometheus: {matrix(40, func(i int) string {
			return []string{"1", "NaN", "+Inf", "-Inf", "0", "1e300", ""}[i%7]
		}), `{"status":"error","errorType":"bad_data","error":"x"}`},
		causeway.KindSlack: {`[{"type":"message","user":"U1","text":"<@U1> hi <#C1|ops> <http://x|y> &amp;","ts":"1755746600.118829"},{"subtype":"bot_message","attachments":[{"fallback":"f"}],"ts":"x"}]`},
		causeway.KindJira:  {`{"key":"OPS-1","fields":{"summary":"s","description":"a\n\nb","created":"2025-08-21T04:10:00.000+0000","comment":{"comments":[{"author":{"displayName":"A"},"body":"x","created":"2025-08-21T04:10:00.000+0000"}]}}}`},
		causeway.KindDoc:   {"# Title\n\n```\n# comment\n```\n## Step\ntext\n"},
	}
	for i, kind := range parseKinds {
		for _, s := range seeds[kind] {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		kind := parseKinds[int(k)%len(parseKinds)]
		name := "x/fuzz.json"
		if kind == causeway.KindObjects && k&0x80 != 0 {
			name = "objects/fuzz.txt"
		}
		const maxBytes = 256
		seq := int64(0)
		stats, _ := Parse(context.Background(), causeway.Source{Name: name, Kind: kind}, bytes.NewReader(data),
			Options{MaxLineBytes: maxBytes, Year: 2025}, func(l causeway.Line) error {
				if l.Seq != seq || l.Source != name {
					t.Fatalf("line Seq %d Source %q, want %d %q", l.Seq, l.Source, seq, name)
				}
				seq++
				if !utf8.ValidString(l.Text) || strings.IndexByte(l.Text, 0) >= 0 {
					t.Fatalf("line text not storable: %q", l.Text)
				}
				if len(l.Text) > maxBytes+64 && !strings.Contains(l.Text, "…[truncated ") {
					t.Fatalf("line of %d bytes over the %d limit: %q", len(l.Text), maxBytes, l.Text)
				}
				for k, v := range l.Attrs {
					if !utf8.ValidString(k+v) || strings.IndexByte(v, 0) >= 0 {
						t.Fatalf("attr %q=%q not storable", k, v)
					}
				}
				return nil
			})
		if stats.Lines != seq {
			t.Fatalf("stats say %d lines, emitted %d", stats.Lines, seq)
		}
	})
}
