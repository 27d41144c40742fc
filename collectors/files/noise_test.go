package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
)

// noiseBundle is a small bundle with one source of each log style, an
// events file, a metrics file and a chat day, and noise that asks for
// tokens in total.
func noiseBundle(t *testing.T, seed int64, tokens int, profile string) string {
	t.Helper()
	spec := fmt.Sprintf(`id: noisy
title: noisy
window: {start: 2025-08-21T03:00:00Z, end: 2025-08-21T05:00:00Z}
sources:
  - {path: logs/json.log, kind: k8s-pod-log, labels: {namespace: shop, pod: api-1}}
  - {path: logs/klog.log, kind: k8s-pod-log, labels: {namespace: kube-system, pod: ctrl-1}}
  - {path: events/events.json, kind: k8s-events}
noise: {seed: %d, tokens: %d, profile: %s}
`, seed, tokens, profile)
	return writeBundle(t, map[string][]byte{
		"incident.yaml": []byte(spec),
		"logs/json.log": []byte(`{"ts":"2025-08-21T03:10:00.000Z","level":"info","msg":"server started","port":8080}
{"ts":"2025-08-21T03:20:00.000Z","level":"info","msg":"order placed","order":"A-1001","took_ms":12}
{"ts":"2025-08-21T04:30:00.000Z","level":"error","msg":"payment gateway refused connection","order":"A-1002"}
{"ts":"2025-08-21T04:31:00.000Z","level":"info","msg":"order placed","order":"A-1003","took_ms":17}
`),
		"logs/klog.log": []byte(`I0821 03:05:00.000000       1 leader.go:12] "became leader" lease="kube-system/ctrl"
I0821 03:40:00.000000       1 sync.go:88] "synced" objects=12
E0821 04:40:00.000000       1 sync.go:99] "sync failed" err="etcd timeout"
`),
		"logs/plain.log": []byte(`2025-08-21T03:01:00.123Z INFO  starting worker pool size=4
2025-08-21T03:30:00.456Z INFO  worker ready id=2
2025-08-21T04:50:00.789Z ERROR disk quota reached on /data
`),
		"logs/logfmt.log": []byte(`2025-08-21T03:02:00Z level=info component=cache msg="warmed" entries=10
2025-08-21T03:32:00Z level=info component=cache msg="warmed" entries=12
`),
		"logs/syslog.log": []byte(`Aug 21 03:03:00 node-7 kubelet[812]: Started pod sandbox
Aug 21 03:33:00 node-7 containerd[400]: image pulled
`),
		"logs/access.log": []byte(`10.0.0.1 - - [21/Aug/2025:03:04:00 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/8.0"
10.0.0.2 - - [21/Aug/2025:03:34:00 +0000] "GET /cart HTTP/1.1" 200 900 "-" "curl/8.0"
`),
		"events/events.json":            []byte(`{"kind":"EventList","items":[{"metadata":{"name":"e1","namespace":"shop"},"involvedObject":{"kind":"Pod","name":"api-1","namespace":"shop"},"reason":"BackOff","message":"Back-off restarting failed container","type":"Warning","lastTimestamp":"2025-08-21T04:35:00Z","source":{"component":"kubelet","host":"node-7"}}]}`),
		"metrics/rate.json":             []byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"api"},"values":[[1755745200,"1"],[1755745260,"2"],[1755745320,"1"]]}]}}`),
		"chat/incident/2025-08-21.json": []byte(`[{"type":"message","user":"U1","text":"payments look broken","ts":"1755747000.000100"}]`),
	})
}

func importNoisy(t *testing.T, dir string) (*memSink, *Report) {
	t.Helper()
	sink := newMemSink()
	rep, err := Import(context.Background(), dir, sink, Options{})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return sink, rep
}

// renderAll is every line of every source, as bytes, in source order.
func renderAll(sink *memSink, rep *Report) []byte {
	var b bytes.Buffer
	for _, f := range rep.Files {
		for _, l := range sink.lines[f.Name] {
			fmt.Fprintf(&b, "%s %d %s %s %v\n", f.Name, l.Seq, l.Time.Format(time.RFC3339Nano), l.Text, l.Attrs)
		}
	}
	return b.Bytes()
}

// TestNoiseDeterministic: the same seed gives the same lines, byte for
// byte; another seed gives other lines.
func TestNoiseDeterministic(t *testing.T) {
	a := renderAll(importNoisy(t, noiseBundle(t, 7, 60_000, "web")))
	b := renderAll(importNoisy(t, noiseBundle(t, 7, 60_000, "web")))
	c := renderAll(importNoisy(t, noiseBundle(t, 8, 60_000, "web")))
	if !bytes.Equal(a, b) {
		t.Errorf("two imports with seed 7 differ")
	}
	if bytes.Equal(a, c) {
		t.Errorf("seeds 7 and 8 gave the same lines")
	}
}

// TestNoiseTokenTarget: the bundle ends up within 10% of the tokens asked
// for, by the estimate the expansion uses, for every profile. (The eval
// package checks the same against exact o200k counts.)
func TestNoiseTokenTarget(t *testing.T) {
	for _, profile := range NoiseProfiles() {
		for _, target := range []int{30_000, 250_000} {
			t.Run(fmt.Sprintf("%s/%d", profile, target), func(t *testing.T) {
				sink, rep := importNoisy(t, noiseBundle(t, 3, target, profile))
				var est float64
				var filler int64
				for _, f := range rep.Files {
					filler += f.Filler
					for _, l := range sink.lines[f.Name] {
						est += renderedTokens(&l)
					}
				}
				if filler == 0 {
					t.Fatal("no filler was added")
				}
				if ratio := est / float64(target); ratio < 0.9 || ratio > 1.1 {
					t.Errorf("bundle has about %.0f tokens, want %d ± 10%%", est, target)
				}
			})
		}
	}
}

// TestNoiseKeepsRealLines: every real line is still there, in its order,
// with its time and text; lines are numbered anew and in time order where
// they have times; only logs and events get filler.
func TestNoiseKeepsRealLines(t *testing.T) {
	dir := noiseBundle(t, 1, 80_000, "default")
	plainSink, plainRep := importNoisy(t, withoutNoise(t, dir))
	sink, rep := importNoisy(t, dir)
	for i, f := range rep.Files {
		t.Run(f.Name, func(t *testing.T) {
			real := plainSink.lines[f.Name]
			got := sink.lines[f.Name]
			if f.Lines != int64(len(got)) || f.Lines != plainRep.Files[i].Lines+f.Filler {
				t.Errorf("report: %d lines with %d filler; sink has %d; without noise %d", f.Lines, f.Filler, len(got), plainRep.Files[i].Lines)
			}
			wantFiller := f.Kind == causeway.KindPodLog || f.Kind == causeway.KindLog || f.Kind == causeway.KindEvents
			if (f.Filler > 0) != wantFiller {
				t.Errorf("%s source got %d filler lines", f.Kind, f.Filler)
			}
			k := 0
			for j, l := range got {
				if l.Seq != int64(j) {
					t.Fatalf("line %d has seq %d", j, l.Seq)
				}
				if j > 0 && f.Kind != causeway.KindEvents && l.Time.Before(got[j-1].Time) {
					t.Errorf("line %d (%s) is before line %d (%s)", j, l.Time, j-1, got[j-1].Time)
				}
				if k < len(real) && l.Text == real[k].Text && l.Time.Equal(real[k].Time) {
					k++
				}
			}
			if k != len(real) {
				t.Errorf("found %d of %d real lines in order; first missing: %q", k, len(real), real[k].Text)
			}
		})
	}
}

// withoutNoise copies a bundle's spec without its noise line.
func withoutNoise(t *testing.T, dir string) string {
	t.Helper()
	files := map[string][]byte{}
	for _, name := range []string{"incident.yaml", "logs/json.log", "logs/klog.log", "logs/plain.log", "logs/logfmt.log",
		"logs/syslog.log", "logs/access.log", "events/events.json", "metrics/rate.json", "chat/incident/2025-08-21.json"} {
		data := readFile(t, dir+"/"+name)
		if name == "incident.yaml" {
			data = data[:bytes.Index(data, []byte("noise:"))]
		}
		files[name] = data
	}
	return writeBundle(t, files)
}

// TestNoiseStyles: filler reads like its source: the same JSON keys, klog
// headers, logfmt keys, syslog host, access log layout and plain stamp and
// level layout; each line's time is read back and lies in the window.
func TestNoiseStyles(t *testing.T) {
	sink, rep := importNoisy(t, noiseBundle(t, 5, 120_000, "mesh"))
	start, end := time.Date(2025, 8, 21, 3, 0, 0, 0, time.UTC), time.Date(2025, 8, 21, 5, 0, 0, 0, time.UTC)
	tests := []struct {
		source string
		ok     func(text string) bool
	}{
		{"logs/json.log", func(s string) bool {
			return strings.HasPrefix(s, `{"ts":"2025-08-21T0`) && strings.Contains(s, `","level":"`) && strings.Contains(s, `","msg":"`) &&
				strings.Contains(s, `"order":"A-`) && strings.Contains(s, `"took_ms":`)
		}},
		{"logs/klog.log", func(s string) bool {
			return (s[0] == 'I' || s[0] == 'W') && strings.HasPrefix(s[1:], "0821 0") && strings.Contains(s, "       1 ") && strings.Contains(s, `.go:`)
		}},
		{"logs/logfmt.log", func(s string) bool {
			return strings.HasPrefix(s, "level=") && strings.Contains(s, " component=cache msg=")
		}},
		{"logs/syslog.log", func(s string) bool {
			return strings.HasPrefix(s, "Aug 21 0") && (strings.Contains(s, " node-7 kubelet[812]: ") || strings.Contains(s, " node-7 containerd[400]: "))
		}},
		{"logs/access.log", func(s string) bool {
			return strings.Contains(s, ` - - [21/Aug/2025:0`) && strings.Contains(s, ` HTTP/1.1" `)
		}},
		{"logs/plain.log", func(s string) bool { return strings.HasPrefix(s, "INFO  ") || strings.HasPrefix(s, "WARN  ") }},
		{"events/events.json", func(s string) bool { return strings.HasPrefix(s, "Normal ") }},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			f := fileReport(t, rep, tt.source)
			if f.Filler == 0 {
				t.Fatal("no filler")
			}
			real := 0
			for _, l := range sink.lines[tt.source] {
				if l.Time.Before(start) || l.Time.After(end) || l.TimeInferred {
					t.Errorf("line at %s (inferred %v) outside the window: %s", l.Time, l.TimeInferred, l.Text)
				}
				if !tt.ok(l.Text) {
					real++
					if real > 4 {
						t.Errorf("filler not in the source's style: %s", l.Text)
					}
				}
			}
		})
	}
}

// TestNoiseIsHealthy: filler says nothing that looks like a failure, and
// its warnings stay rare; a JSON source's ids are never reused.
func TestNoiseIsHealthy(t *testing.T) {
	for _, profile := range NoiseProfiles() {
		t.Run(profile, func(t *testing.T) {
			dir := noiseBundle(t, 11, 150_000, profile)
			plain, _ := importNoisy(t, withoutNoise(t, dir))
			sink, rep := importNoisy(t, dir)
			var warns, lines int
			for _, f := range rep.Files {
				real := map[string]bool{}
				for _, l := range plain.lines[f.Name] {
					real[l.Text] = true
				}
				for _, l := range sink.lines[f.Name] {
					if real[l.Text] {
						continue
					}
					lines++
					if l.Attrs["level"] == "warn" {
						warns++
						if !strings.Contains(l.Text, "deprecated") && !strings.Contains(l.Text, "SameSite") {
							t.Errorf("warning is not clearly unrelated: %s", l.Text)
						}
						continue
					}
					if hasFailureWord([]byte(l.Text)) || badStatus([]byte(l.Text)) || l.Attrs["level"] == "error" {
						t.Errorf("filler looks like a failure: %s", l.Text)
					}
					for _, id := range []string{"A-1001", "A-1002", "A-1003"} {
						if strings.Contains(l.Text, id) {
							t.Errorf("filler reuses the real id %s: %s", id, l.Text)
						}
					}
				}
			}
			if warns*100 > lines {
				t.Errorf("%d of %d filler lines are warnings, want at most 1%%", warns, lines)
			}
		})
	}
}

// TestNoiseSpecErrors: an unknown profile is a spec error that names the
// known ones; a bundle without noise gets no filler.
func TestNoiseSpecErrors(t *testing.T) {
	dir := noiseBundle(t, 1, 1000, "cronjob")
	_, err := Import(context.Background(), dir, newMemSink(), Options{})
	var ce *causeway.Error
	if !errors.As(err, &ce) || ce.Code != causeway.EINVALID || !strings.Contains(err.Error(), `noise.profile "cronjob" is unknown`) ||
		!strings.Contains(err.Error(), "batch, default, mesh, web") {
		t.Errorf("Import with an unknown profile: %v", err)
	}
	for _, n := range []*NoiseSpec{{Tokens: -1, Profile: "web"}, {Profile: "k8s"}} {
		if CheckNoise(n) == nil {
			t.Errorf("CheckNoise(%+v) = nil", *n)
		}
	}
	if err := CheckNoise(&NoiseSpec{Tokens: 10}); err != nil {
		t.Errorf("an empty profile is the default one: %v", err)
	}
	_, rep := importNoisy(t, noiseBundle(t, 1, 10, "web")) // fewer tokens than the bundle has
	for _, f := range rep.Files {
		if f.Filler != 0 {
			t.Errorf("%s got %d filler lines though the bundle is already larger than asked", f.Name, f.Filler)
		}
	}
}

// TestEstimateTokens pins the estimate's rules on small texts.
func TestEstimateTokens(t *testing.T) {
	tests := []struct {
		text string
		want float64
	}{
		{"", 0},
		{"hello world", 2},
		{"downstream_local_address", 3},
		{"1234567", 3},
		{`{"a":"b"}`, 5},
		{"a     b", 3},
	}
	for _, tt := range tests {
		if got := EstimateTokens(tt.text); got != tt.want {
			t.Errorf("EstimateTokens(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

// TestReshape: ids keep their shape and change; addresses keep their
// network.
func TestReshape(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, in := range []string{"34137566-5a0d-4835-878e-bfebcb2e67fd", "10.244.0.30:53869", "10.244.0.30", "req-000123"} {
		out := reshape(r, in)
		if out == in || len(out) < len(in)-4 {
			t.Errorf("reshape(%q) = %q", in, out)
		}
		for i := range min(len(in), len(out)) {
			if !isAlnum(in[i]) && in[i] != out[i] && !strings.Contains(in, ".") {
				t.Errorf("reshape(%q) = %q changed a separator", in, out)
			}
		}
	}
	if out := reshape(r, "10.244.0.30:53869"); !strings.HasPrefix(out, "10.244.0.") {
		t.Errorf("address %q left its network", out)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
