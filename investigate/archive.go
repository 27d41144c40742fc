package investigate

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/collectors/files"
)

// ArchiveLimits bound what an uploaded archive may unpack to, whatever its
// headers claim: an archive is untrusted input (zip bombs, "../" paths).
type ArchiveLimits struct {
	MaxBytes int64 // bytes unpacked, over all files; default 4 GiB
	MaxFiles int   // default 10,000
}

func (l ArchiveLimits) withDefaults() ArchiveLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 4 << 30
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = 10_000
	}
	return l
}

// ExtractArchive unpacks a .tar.gz, .tar or .zip archive (recognized by its
// first bytes, not its name) from r into dir. Only regular files and
// folders are unpacked; links and devices are skipped. An entry that would
// land outside dir, or an archive beyond the limits, is an EINVALID error.
func ExtractArchive(r io.Reader, dir string, lim ArchiveLimits) error {
	lim = lim.withDefaults()
	br := bufio.NewReaderSize(r, 1024)
	head, _ := br.Peek(512)
	x := &extractor{dir: dir, lim: lim}
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return causeway.Errorf(causeway.EINVALID, "archive: %v", err)
		}
		defer zr.Close()
		inner := bufio.NewReaderSize(zr, 1024)
		if h, _ := inner.Peek(262); !isTar(h) {
			return causeway.Errorf(causeway.EINVALID, "archive is gzip but not a gzipped tar (.tar.gz)")
		}
		return x.tar(inner)
	case isTar(head):
		return x.tar(br)
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return x.zip(br)
	}
	return causeway.Errorf(causeway.EINVALID, "the upload is not a .tar.gz, .tar or .zip archive")
}

func isTar(h []byte) bool { return len(h) >= 262 && string(h[257:262]) == "ustar" }

type extractor struct {
	dir     string
	lim     ArchiveLimits
	written int64
	files   int
}

func (x *extractor) tar(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return causeway.Errorf(causeway.EINVALID, "archive: %v", err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if _, err := x.target(h.Name); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := x.file(h.Name, tr); err != nil {
				return err
			}
		}
	}
}

func (x *extractor) zip(r io.Reader) error {
	// zip keeps its index at the end, so the upload is spooled to disk.
	spool, err := os.CreateTemp("", "causeway-upload-*.zip")
	if err != nil {
		return fmt.Errorf("spool upload: %w", err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	size, err := io.Copy(spool, r)
	if err != nil {
		return fmt.Errorf("spool upload: %w", err)
	}
	zr, err := zip.NewReader(spool, size)
	if err != nil {
		return causeway.Errorf(causeway.EINVALID, "archive: %v", err)
	}
	for _, f := range zr.File {
		switch {
		case f.FileInfo().IsDir():
			if _, err := x.target(f.Name); err != nil {
				return err
			}
		case f.FileInfo().Mode().IsRegular():
			rc, err := f.Open()
			if err != nil {
				return causeway.Errorf(causeway.EINVALID, "archive entry %q: %v", f.Name, err)
			}
			err = x.file(f.Name, rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// target is where entry name lands under dir; it must stay under dir.
func (x *extractor) target(name string) (string, error) {
	slash := strings.ReplaceAll(name, `\`, "/")
	if hasDotDot(slash) || path.IsAbs(slash) {
		return "", causeway.Errorf(causeway.EINVALID, "archive entry %q points outside the bundle", name)
	}
	rel := strings.TrimPrefix(path.Clean("/"+slash), "/")
	p := filepath.Join(x.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(p, 0o755); err != nil {
		return "", fmt.Errorf("unpack %s: %w", rel, err)
	}
	return p, nil
}

func hasDotDot(name string) bool {
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return true
		}
	}
	return false
}

func (x *extractor) file(name string, r io.Reader) error {
	x.files++
	if x.files > x.lim.MaxFiles {
		return causeway.Errorf(causeway.EINVALID, "archive holds more than %d files", x.lim.MaxFiles)
	}
	slash := strings.ReplaceAll(name, `\`, "/")
	if hasDotDot(slash) || path.IsAbs(slash) {
		return causeway.Errorf(causeway.EINVALID, "archive entry %q points outside the bundle", name)
	}
	p, err := x.target(path.Dir(slash))
	if err != nil {
		return err
	}
	base := path.Base(slash)
	if base == "." || base == "/" || base == ".." {
		return causeway.Errorf(causeway.EINVALID, "archive entry %q has no file name", name)
	}
	f, err := os.OpenFile(filepath.Join(p, base), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("unpack %s: %w", name, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, x.lim.MaxBytes-x.written+1))
	x.written += n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if x.written > x.lim.MaxBytes {
		return causeway.Errorf(causeway.EINVALID, "archive unpacks to more than %d bytes", x.lim.MaxBytes)
	}
	if err != nil {
		return causeway.Errorf(causeway.EINVALID, "archive entry %q: %v", name, err)
	}
	return nil
}

// BundleRoot finds the bundle in an unpacked archive: dir itself when it
// holds incident.yaml or an evidence folder, else its one top folder (as
// `tar czf b.tar.gz mybundle/` makes).
func BundleRoot(dir string) string {
	for range 2 {
		if isBundle(dir) {
			return dir
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return dir
		}
		var only string
		n := 0
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") || e.Name() == "__MACOSX" {
				continue
			}
			n++
			if e.IsDir() {
				only = e.Name()
			}
		}
		if n != 1 || only == "" {
			return dir
		}
		dir = filepath.Join(dir, only)
	}
	return dir
}

func isBundle(dir string) bool {
	for _, name := range []string{files.SpecFile, "logs", "events", "objects", "metrics", "chat", "tickets", "docs"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}
