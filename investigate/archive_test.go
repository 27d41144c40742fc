package investigate_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/investigate"
)

func TestExtractArchive(t *testing.T) {
	tgz := func(entries ...string) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		for i := 0; i+1 < len(entries); i += 2 {
			tw.WriteHeader(&tar.Header{Name: entries[i], Mode: 0o644, Size: int64(len(entries[i+1])), Typeflag: tar.TypeReg})
			tw.Write([]byte(entries[i+1]))
		}
		tw.WriteHeader(&tar.Header{Name: "b/link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink})
		tw.Close()
		zw.Close()
		return buf.Bytes()
	}
	zipped := func(entries ...string) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for i := 0; i+1 < len(entries); i += 2 {
			w, _ := zw.Create(entries[i])
			w.Write([]byte(entries[i+1]))
		}
		zw.Close()
		return buf.Bytes()
	}
	tests := []struct {
		name    string
		data    []byte
		lim     investigate.ArchiveLimits
		err     string
		want    string // a file that must exist under the bundle root, relative
		wantTop bool   // the root is the archive's one top folder
	}{
		{"tar.gz with a top folder", tgz("b/incident.yaml", "id: x", "b/logs/a.log", "hello"), investigate.ArchiveLimits{}, "", "logs/a.log", true},
		{"zip without a top folder", zipped("logs/a.log", "hello", "events/e.json", "{}"), investigate.ArchiveLimits{}, "", "logs/a.log", false},
		{"dot-dot", tgz("../evil", "x"), investigate.ArchiveLimits{}, "outside the bundle", "", false},
		{"nested dot-dot", zipped("logs/../../evil", "x"), investigate.ArchiveLimits{}, "outside the bundle", "", false},
		{"absolute", tgz("/tmp/evil", "x"), investigate.ArchiveLimits{}, "outside the bundle", "", false},
		{"too many bytes", tgz("logs/a.log", strings.Repeat("a", 5000)), investigate.ArchiveLimits{MaxBytes: 4096}, "more than 4096 bytes", "", false},
		{"too many files", zipped("a", "1", "b", "2", "c", "3"), investigate.ArchiveLimits{MaxFiles: 2}, "more than 2 files", "", false},
		{"not an archive", []byte("just text"), investigate.ArchiveLimits{}, ".tar.gz, .tar or .zip", "", false},
		{"gzip of text", func() []byte {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write([]byte("plain text, not tar"))
			zw.Close()
			return b.Bytes()
		}(), investigate.ArchiveLimits{}, "not a gzipped tar", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			err := investigate.ExtractArchive(bytes.NewReader(tt.data), dir, tt.lim)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || causeway.ErrorCode(err) != causeway.EINVALID {
					t.Fatalf("error %v, want EINVALID with %q", err, tt.err)
				}
				if _, serr := os.Stat(filepath.Join(filepath.Dir(dir), "evil")); serr == nil {
					t.Fatal("an entry was written outside the directory")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			root := investigate.BundleRoot(dir)
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(tt.want))); err != nil {
				t.Errorf("bundle root %s lacks %s: %v", root, tt.want, err)
			}
			if (root != dir) != tt.wantTop {
				t.Errorf("bundle root %s of %s", root, dir)
			}
			if _, err := os.Lstat(filepath.Join(root, "link")); err == nil {
				t.Errorf("a symlink was unpacked")
			}
		})
	}
}
