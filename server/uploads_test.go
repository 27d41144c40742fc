package server_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/server"
)

type uploadResult struct {
	Files []struct {
		Name, Kind, Error string
		Lines             int64
	}
	Lines int64
}

func TestUploads(t *testing.T) {
	e := newEnv(t, nil, withConfig(func(c *server.Config) { c.MaxUploadBytes = 1 << 20 }))
	var inc struct{ causeway.Incident }
	e.call("POST", "/v1/incidents", `{"title": "checkout 502s", "window_start": "2025-08-21T03:00:00Z", "window_end": "2025-08-21T05:00:00Z"}`, 201, &inc)
	base := fmt.Sprintf("/v1/incidents/%d", inc.ID)

	// One raw file, named by ?name=.
	log := "2025-08-21T03:49:15Z ERROR upstream connect error\n2025-08-21T03:49:16Z INFO retry\n"
	resp, body := e.request("POST", base+"/files?name=logs/gateway.log", strings.NewReader(log), "Content-Type", "text/plain")
	var got uploadResult
	decodeInto(t, body, &got)
	if resp.StatusCode != 200 || got.Lines != 2 || got.Files[0].Kind != "log" {
		t.Fatalf("raw upload: %d %s", resp.StatusCode, body)
	}

	// Several files in one multipart request, named by their form fields.
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	events, _ := os.ReadFile(filepath.Join(exampleBundle, "events", "events.json"))
	fw, _ := mw.CreateFormFile("events/events.json", "events.json")
	fw.Write(events)
	fw, _ = mw.CreateFormFile("file", "app.log")
	fw.Write([]byte("2025-08-21T03:50:00Z panic: out of memory\n"))
	mw.Close()
	resp, body = e.request("POST", base+"/files", &mp, "Content-Type", mw.FormDataContentType())
	got = uploadResult{}
	decodeInto(t, body, &got)
	if resp.StatusCode != 200 || len(got.Files) != 2 || got.Files[0].Kind != "k8s-events" || got.Files[1].Name != "app.log" || got.Lines < 2 {
		t.Fatalf("multipart upload: %d %s", resp.StatusCode, body)
	}

	// A zip bundle into the same incident.
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("mybundle/logs/proxy.log")
	w.Write([]byte("2025-08-21T03:49:00Z no space left on device\n"))
	zw.Close()
	zipped := zb.Bytes()
	resp, body = e.request("POST", base+"/bundle", bytes.NewReader(zipped), "Content-Type", "application/zip")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"logs/proxy.log"`) {
		t.Fatalf("zip bundle: %d %s", resp.StatusCode, body)
	}

	var v struct {
		Sources []causeway.Source
		Lines   int64
	}
	e.call("GET", base, "", 200, &v)
	if len(v.Sources) != 4 || v.Lines < 5 {
		t.Errorf("incident has %d sources, %d lines after the uploads", len(v.Sources), v.Lines)
	}

	tests := []struct {
		name, path, ctype string
		body              []byte
		status            int
		detail            string
	}{
		{"escaping archive", base + "/bundle", "application/gzip", tarGzEntries(t, map[string]string{"../../etc/cron.d/x": "boom"}), 400, "outside the bundle"},
		{"absolute archive path", base + "/bundle", "application/gzip", tarGzEntries(t, map[string]string{"/etc/passwd": "boom"}), 400, "outside the bundle"},
		{"not an archive", base + "/bundle", "application/octet-stream", []byte("hello"), 400, ".tar.gz"},
		{"archive bomb", base + "/bundle", "application/gzip", tarGzEntries(t, map[string]string{"logs/a.log": strings.Repeat("a\n", 3<<20)}), 400, "more than"},
		{"too large", base + "/files?name=logs/big.log", "text/plain", bytes.Repeat([]byte("x\n"), 1<<20), 413, "at most"},
		{"file name escapes", base + "/files?name=../x.log", "text/plain", []byte("x"), 400, "clean relative path"},
		{"no file name", base + "/files", "text/plain", []byte("x"), 400, "needs a name"},
		{"unknown kind", base + "/files?name=a.log&kind=splunk", "text/plain", []byte("x"), 400, "splunk"},
		{"unparseable file", base + "/files?name=events/bad.json", "application/json", []byte("{not json"), 400, "nothing could be read"},
		{"no incident.yaml", "/v1/incidents/import", "application/zip", zipped, 400, "incident.yaml"},
		{"unknown incident", "/v1/incidents/999/files?name=a.log", "text/plain", []byte("x"), 404, "incident 999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.request("POST", tt.path, bytes.NewReader(tt.body), "Content-Type", tt.ctype)
			var ae apiError
			decodeInto(t, body, &ae)
			if resp.StatusCode != tt.status || !strings.Contains(ae.Detail, tt.detail) || strings.Contains(ae.Detail, os.TempDir()) {
				t.Errorf("%d %+v, want %d with %q", resp.StatusCode, ae, tt.status, tt.detail)
			}
		})
	}
	if _, err := os.Stat("/etc/cron.d/x"); err == nil {
		t.Fatal("an archive wrote outside its directory")
	}
}

func tarGzEntries(t *testing.T, entries map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, data := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}
