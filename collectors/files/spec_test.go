package files

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
)

func TestReadSpec(t *testing.T) {
	tests := []struct {
		name string
		yaml string // "" means no file
		want string // substring of the error; "" means success
	}{
		{name: "missing file", want: "no such file"},
		{name: "empty file", yaml: "\n", want: "file is empty"},
		{name: "bad yaml", yaml: "id: x\nwindow: {start: [\n", want: "yaml"},
		{name: "window not RFC3339", yaml: "id: x\nwindow: {start: 2025-08-21 03:00, end: 2025-08-21T04:00:00Z}\n",
			want: `window.start "2025-08-21 03:00" is not an RFC3339 time`},
		{name: "window missing", yaml: "id: x\n", want: "window is missing"},
		{name: "window end missing", yaml: "id: x\nwindow: {start: 2025-08-21T03:00:00Z}\n", want: "window.end is missing"},
		{name: "end before start", yaml: "id: x\nwindow: {start: 2025-08-21T04:00:00Z, end: 2025-08-21T03:00:00Z}\n",
			want: "window ends (2025-08-21T03:00:00Z) before it starts (2025-08-21T04:00:00Z)"},
		{name: "unknown kind", yaml: testSpec + "sources:\n  - {path: logs/a.log, kind: syslog}\n",
			want: `sources[0] (logs/a.log): unknown kind "syslog"`},
		{name: "path outside bundle", yaml: testSpec + "sources:\n  - {path: ../../etc/passwd, kind: log}\n",
			want: `path "../../etc/passwd" is not inside the bundle`},
		{name: "path listed twice", yaml: testSpec + "sources:\n  - {path: logs/a.log}\n  - {path: ./logs/a.log}\n",
			want: "listed twice"},
		{name: "complete", yaml: `id: aibrix-wasm-disk-full
title: "503 for routing-strategy requests"
window: {start: "2025-08-21T03:00:00+02:00", end: 2025-08-21T04:00:00Z}
question: Why?
sources:
  - path: logs/envoy-gateway.log.gz
    kind: k8s-pod-log
    labels: {namespace: envoy-gateway-system, pod: envoy-gateway-x, container: envoy-gateway, node: kind}
  - path: metrics/disk.json
    kind: prometheus
    query: 'node_filesystem_avail_bytes{mountpoint="/"}'
  - path: objects/df.txt
noise: {seed: 7, tokens: 850000, profile: cronjob}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.yaml != "" {
				if err := os.WriteFile(filepath.Join(dir, SpecFile), []byte(tt.yaml), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			spec, err := ReadSpec(dir)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("ReadSpec error = %v, want it to contain %q", err, tt.want)
				}
				if causeway.ErrorCode(err) != causeway.EINVALID {
					t.Errorf("error code = %q, want %q", causeway.ErrorCode(err), causeway.EINVALID)
				}
				if tt.yaml == "" && !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("missing file error %v does not match fs.ErrNotExist", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !spec.Window.Start.Equal(time.Date(2025, 8, 21, 1, 0, 0, 0, time.UTC)) || spec.Window.End.Hour() != 4 {
				t.Errorf("window = %+v", spec.Window)
			}
			if len(spec.Sources) != 3 || spec.Sources[0].Labels["pod"] != "envoy-gateway-x" ||
				spec.Sources[1].Query != `node_filesystem_avail_bytes{mountpoint="/"}` || spec.Sources[2].Kind != "" {
				t.Errorf("sources = %+v", spec.Sources)
			}
			if spec.Noise == nil || *spec.Noise != (NoiseSpec{Seed: 7, Tokens: 850000, Profile: "cronjob"}) {
				t.Errorf("noise = %+v", spec.Noise)
			}
		})
	}
}
