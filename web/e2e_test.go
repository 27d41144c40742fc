package web_test

import (
	"archive/tar"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/causeway-rca/causeway/store/storetest"
)

var update = flag.Bool("update", false, "save the browser test's screenshots to testdata/screenshots")

// TestBrowser runs the browser suite (web/e2e, node's test runner driving
// Debian's chromium with playwright-core) against a real `causeway serve`
// built from this tree, over a fresh database with the example incidents
// loaded. scripts/setup-browser installs what it needs; a machine without
// it fails here rather than skipping, so that CI cannot pass by not
// looking.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser suite takes a minute; run without -short")
	}
	for _, need := range []string{"/usr/bin/chromium", "e2e/node_modules/playwright-core"} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("%s is missing: run scripts/setup-browser", need)
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is missing: run scripts/setup-browser")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "causeway")
	build := exec.Command("go", "build", "-o", bin, "../cmd/causeway")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build causeway: %v\n%s", err, out)
	}
	env := append(os.Environ(), "DATABASE_URL="+storetest.NewDatabase(t), "HOME="+tmp, "XDG_CONFIG_HOME="+tmp,
		"CAUSEWAY_TOKEN_FILE="+filepath.Join(tmp, "token"), "CAUSEWAY_API_TOKENS=", "CAUSEWAY_AUTH=tokens",
		"CAUSEWAY_MODEL_BASE_URL=", "CAUSEWAY_MODEL=")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("causeway %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("migrate")
	run("demo", "--dir", "../eval/incidents")
	token := strings.TrimSpace(strings.SplitN(run("token", "create", "--name", "e2e", "--scope", "admin"), "\n", 2)[0])
	if !strings.HasPrefix(token, "cw_") {
		t.Fatalf("token create printed %q, not a token", token)
	}
	base := serve(t, bin, env)

	bundle := filepath.Join(tmp, "xss-bundle.tar.gz")
	if err := tarGz(bundle, "testdata", "xss-bundle"); err != nil {
		t.Fatal(err)
	}
	shots := filepath.Join(tmp, "screenshots")
	if *update {
		shots = filepath.Join("testdata", "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	profile := filepath.Join(tmp, "chromium-profile")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "--test-concurrency=1", "e2e/")
	cmd.Env = append(os.Environ(), "BASE_URL="+base, "TOKEN="+token, "XSS_BUNDLE="+bundle, "SCREENSHOT_DIR="+shots,
		"PROFILE_DIR="+profile, "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	t.Logf("browser suite:\n%s", out)
	if err != nil {
		t.Fatalf("browser suite failed: %v", err)
	}
	for _, scheme := range []string{"light", "dark"} {
		p := filepath.Join(shots, "incident-"+scheme+".png")
		if st, err := os.Stat(p); err != nil || st.Size() < 10_000 {
			t.Errorf("screenshot %s missing or empty: %v", p, err)
			continue
		}
		if *update {
			if err := compactPNG(p); err != nil {
				t.Error(err)
			}
		}
	}
}

// compactPNG rewrites a screenshot with a palette of its 256 most
// frequent colours: a page is mostly flat colour and antialiased text, so
// it reads the same at a third of the size, which keeps the repository
// small.
func compactPNG(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("compact %s: %w", path, err)
	}
	b := img.Bounds()
	count := map[color.RGBA]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			count[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	colors := slices.SortedFunc(maps.Keys(count), func(a, b color.RGBA) int {
		if d := count[b] - count[a]; d != 0 {
			return d
		}
		return cmp.Compare(uint32(a.R)<<16|uint32(a.G)<<8|uint32(a.B), uint32(b.R)<<16|uint32(b.G)<<8|uint32(b.B))
	})
	pal := make(color.Palette, 0, 256)
	for _, c := range colors[:min(len(colors), 256)] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(b, pal)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Set(x, y, img.At(x, y))
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, out); err != nil {
		return fmt.Errorf("compact %s: %w", path, err)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// serve starts `causeway serve` on a free port and returns its URL once it
// is ready; it is stopped with SIGTERM when the test ends.
func serve(t *testing.T, bin string, env []string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--addr", addr, "--shutdown-timeout", "5s")
	cmd.Env = env
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("causeway serve:\n%s", log.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("causeway serve did not get ready at %s: %v", base, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncBuffer collects a process's output from the goroutines that copy
// its stdout and stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tarGz writes dir (under root) to a gzipped tar, as a person would pack a
// bundle to upload.
func tarGz(dst, root, dir string) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		_, err = io.Copy(tw, bytes.NewReader(b))
		return err
	})
	if err != nil {
		return fmt.Errorf("pack %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}
