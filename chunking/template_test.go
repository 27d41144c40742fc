package chunking

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestMaskMasksVariables(t *testing.T) {
	tests := []struct{ text, want string }{
		{"GET /healthz 200 3ms", "GET /healthz <*> <*>"},
		{"pod web-5d8f7c9b4-x2x9z restarted 3 times", "pod <*> restarted <*> times"},
		{"connect to 10.0.0.12:5432 failed", "connect to <*> failed"},
		{"request 4000a69d-3db6-404c-8892-4f8023e008f0 done", "request <*> done"},
		{"retrying 10.0.0.1,10.0.0.2 at 2016/9/27", "retrying <*> at <*>"},
		{"open through SOCKS5 on eth0 with x509 cert v1.2.8", "open through SOCKS5 on eth0 with <*> cert <*>"},
		{"hash deadbeefdeadbeefcafe and 0x80004005", "hash <*> and <*>"},
		{`{"runner": "gateway-api", "error": "mkdir /var/lib/eg/wasm: no space left on device"}`, `{"runner": "gateway-api", "error": "mkdir /var/lib/eg/wasm: no space left on device"}`},
	}
	for _, tt := range tests {
		if got := Mask(tt.text); got != tt.want {
			t.Errorf("Mask(%q)\n got %q\nwant %q", tt.text, got, tt.want)
		}
	}
}

// TestDrainGroupsLines runs Drain over each testdata/drain/*.log and
// compares every line's template, and the templates with their counts, to
// the golden file next to it (go test -run TestDrainGroupsLines -update
// rewrites them).
func TestDrainGroupsLines(t *testing.T) {
	logs, err := filepath.Glob(filepath.Join("testdata", "drain", "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no testdata/drain/*.log: %v", err)
	}
	for _, path := range logs {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			d := NewDrain()
			var lines []string
			var clusters []*Cluster
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				lines = append(lines, sc.Text())
				clusters = append(clusters, d.Add(sc.Text()))
			}
			var b strings.Builder
			b.WriteString("# templates: lines, template\n")
			for _, c := range d.Clusters() {
				fmt.Fprintf(&b, "%4d  %s\n", c.Count, c.Template())
			}
			b.WriteString("\n# lines: template <TAB> line\n")
			for i, c := range clusters {
				fmt.Fprintf(&b, "%s\t%s\n", c.Template(), lines[i])
			}
			golden := strings.TrimSuffix(path, ".log") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("templates differ from %s (run with -update after checking):\n%s", golden, diffLines(string(want), got))
			}
		})
	}
}

// diffLines lists the lines of got that differ from want.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d\n  want %q\n   got %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}

func TestDrainKeepsFailuresApartAndVersionsChanges(t *testing.T) {
	d := NewDrain()
	ok1 := d.Add("connection to db-primary succeeded after retry")
	failed := d.Add("connection to db-primary failed after retry")
	if ok1 == failed {
		t.Errorf("a failure joined the success template %q", ok1.Template())
	}
	a := d.Add("session opened for user alice by the web console")
	v := a.Version
	b := d.Add("session opened for user bob by the web console")
	if a != b || a.Template() != "session opened for user <*> by the web console" {
		t.Fatalf("similar lines got %q and %q", a.Template(), b.Template())
	}
	if a.Version != v+1 {
		t.Errorf("the template changed but its version went from %d to %d", v, a.Version)
	}
	if c := d.Add("session opened for user bob by the web console"); c != a || c.Version != v+1 || c.Count != 3 {
		t.Errorf("a repeated line changed its template: version %d, count %d", c.Version, c.Count)
	}
}
