package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt/modeltest"
	"github.com/causeway-rca/causeway/store"
	"github.com/causeway-rca/causeway/store/storetest"
)

// syncBuffer is a buffer that a running command writes and a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// startServe runs `causeway serve` in the background until the test ends
// and returns its output once it printed its curl example.
func startServe(t *testing.T, env map[string]string, args ...string) (stdout *syncBuffer, stop func() error) {
	t.Helper()
	stdout = &syncBuffer{}
	m := NewMain()
	m.Stdout, m.Stderr, m.Terminal = stdout, io.Discard, false
	m.Getenv = func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := m.Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
		m.Close()
		done <- err
	}()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { stop() })
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "try: curl") {
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v\n%s", err, stdout.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no curl example:\n%s", stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return stdout, stop
}

var curlRE = regexp.MustCompile(`try: curl -s -H "Authorization: Bearer \$\(cat (\S+)\)" (http://\S+)`)

// TestServePrintsWorkingCurl: on a database without tokens, serve creates
// one, and the curl it prints works; a restart prints one that still works
// and creates no other.
func TestServePrintsWorkingCurl(t *testing.T) {
	env := map[string]string{"DATABASE_URL": storetest.NewDatabase(t), "CAUSEWAY_TOKEN_FILE": filepath.Join(t.TempDir(), "token")}
	for round := range 2 {
		out, stop := startServe(t, env)
		m := curlRE.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("round %d: no curl with a token file in:\n%s", round, out.String())
		}
		secret, err := os.ReadFile(m[1])
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(m[1]); fi.Mode().Perm() != 0o600 {
			t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
		}
		for _, tc := range []struct {
			auth string
			want int
		}{{"Bearer " + strings.TrimSpace(string(secret)), 200}, {"", 401}} {
			req, _ := http.NewRequest("GET", m[2], nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("round %d: GET %s with a token %v: %d, want %d", round, m[2], tc.auth != "", resp.StatusCode, tc.want)
			}
		}
		created := strings.Contains(out.String(), "one was created")
		if created != (round == 0) {
			t.Errorf("round %d: token created %v", round, created)
		}
		if err := stop(); err != nil {
			t.Fatalf("serve: %v", err)
		}
		if !strings.Contains(out.String(), "causeway: stopped") {
			t.Errorf("no stop message:\n%s", out.String())
		}
	}
}

func TestTokenCommand(t *testing.T) {
	env := map[string]string{"DATABASE_URL": storetest.NewDatabase(t)}
	stdout, stderr, err := run(t, env, "token", "create", "--name", "runbook", "--scope", "write")
	if err != nil || !strings.HasPrefix(stdout, store.TokenPrefix) || !strings.Contains(stderr, "shown only now") {
		t.Fatalf("create: %v %q %q", err, stdout, stderr)
	}
	secret := strings.TrimSpace(stdout)
	if stdout, _, err = run(t, env, "token", "list"); err != nil || !strings.Contains(stdout, "runbook") || strings.Contains(stdout, secret) {
		t.Errorf("list: %v\n%s", err, stdout)
	}
	if _, _, err := run(t, env, "token", "create", "--name", "x", "--scope", "root"); causeway.ErrorCode(err) != causeway.EINVALID {
		t.Errorf("scope root: %v", err)
	}
	if stdout, _, err = run(t, env, "token", "revoke", "runbook"); err != nil || !strings.Contains(stdout, "revoked") {
		t.Errorf("revoke: %v %s", err, stdout)
	}
	db := openTestDB(t, env["DATABASE_URL"])
	if _, err := db.TokenByHash(context.Background(), store.HashToken(secret)); causeway.ErrorCode(err) != causeway.ENOTFOUND {
		t.Errorf("revoked token still valid: %v", err)
	}
}

// TestHelperServe is not a test: TestKillWorker runs the test binary with
// CAUSEWAY_HELPER_SERVE set to run `causeway serve` in a process it can
// kill -9.
func TestHelperServe(t *testing.T) {
	args := os.Getenv("CAUSEWAY_HELPER_SERVE")
	if args == "" {
		t.Skip("only run by TestKillWorker")
	}
	m := NewMain()
	m.Stderr = io.Discard
	if err := m.Run(context.Background(), append([]string{"serve"}, strings.Fields(args)...)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// TestKillWorker: a `causeway serve` killed with SIGKILL in the middle of
// an investigation leaves it to be finished by another server once its
// lease runs out.
func TestKillWorker(t *testing.T) {
	url := storetest.NewDatabase(t)
	ms := modeltest.New(t)
	var mu sync.Mutex
	calls := 0
	ms.Handle(func(req modeltest.Request) modeltest.Reply {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			return modeltest.Reply{Content: "{}", Delay: 5 * time.Minute} // the doomed worker waits here
		}
		for _, l := range req.EvidenceLines() {
			if parts := strings.SplitN(l, " ", 4); len(parts) == 4 && strings.Contains(parts[3], "no space left on device") {
				return modeltest.Reply{Content: fmt.Sprintf(`{"root_cause": "disk full", "summary": "disk full",
					"causal_chain": [{"step": 1, "text": "disk full", "citations": [{"id": %q, "quote": "no space left on device"}]}],
					"claims": [], "ruled_out": [], "remediation": [], "open_questions": [], "confidence": 0.9}`, parts[0])}
			}
		}
		return modeltest.Reply{Content: "{}"}
	})
	env := map[string]string{"DATABASE_URL": url, "CAUSEWAY_AUTH": "open", "CAUSEWAY_MODEL_BASE_URL": ms.BaseURL(), "CAUSEWAY_MODEL": "test-model"}
	if _, stderr, err := run(t, env, "demo", "--dir", "../../eval/incidents"); err != nil {
		t.Fatalf("demo: %v %s", err, stderr)
	}
	db := openTestDB(t, url)
	inc, err := db.IncidentByKey(context.Background(), "aibrix-wasm-disk-full")
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServe$")
	cmd.Env = append(os.Environ(), "CAUSEWAY_HELPER_SERVE=--addr 127.0.0.1:0 --workers 1 --lease 1s")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	var base string
	for sc.Scan() {
		if m := regexp.MustCompile(`serving on (http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
			break
		}
	}
	if base == "" {
		t.Fatal("the worker process did not start serving")
	}
	go io.Copy(io.Discard, stdout)
	resp, err := http.Post(base+"/v1/investigations", "application/json", strings.NewReader(fmt.Sprintf(`{"incident_id": %d}`, inc.ID)))
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ ID int64 }
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		asked := calls > 0
		mu.Unlock()
		if asked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker never asked the model")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	job, _ := db.Job(context.Background(), created.ID)
	if job.Investigation.Status != causeway.StatusAsking {
		t.Fatalf("after the kill the job is %s, want asking (held by the dead worker)", job.Investigation.Status)
	}

	startServe(t, env, "--workers", "1", "--lease", "1s")
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if job, _ = db.Job(context.Background(), created.ID); store.Terminal(job.Investigation.Status) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the survivor never finished the job: %s", job.Investigation.Status)
		}
	}
	inv := job.Investigation
	if inv.Status != causeway.StatusDone || job.Attempts != 2 || inv.Verdict == nil || inv.Verdict.Verified != inv.Verdict.Total || inv.Verdict.Total == 0 {
		t.Errorf("job ended %s after %d attempts (%s), verdict %+v", inv.Status, job.Attempts, inv.Error, inv.Verdict)
	}
}

func openTestDB(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}
