package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt/modeltest"
	"github.com/causeway-rca/causeway/store"
	"github.com/causeway-rca/causeway/store/storetest"
)

const exampleBundle = "../../eval/incidents/aibrix-wasm-disk-full"

// run runs the program with env on top of a fresh test database and returns
// stdout, stderr and the error.
func run(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	if _, ok := env["DATABASE_URL"]; !ok {
		env["DATABASE_URL"] = storetest.NewDatabase(t)
	}
	var stdout, stderr bytes.Buffer
	m := NewMain()
	m.Stdout, m.Stderr, m.Terminal = &stdout, &stderr, false
	m.Getenv = func(k string) string { return env[k] }
	err := m.Run(context.Background(), args)
	m.Close()
	return stdout.String(), stderr.String(), err
}

type jsonOutput struct {
	Incident      causeway.Incident      `json:"incident"`
	Investigation causeway.Investigation `json:"investigation"`
	Answer        *causeway.Answer       `json:"answer"`
	Verdict       *causeway.Verdict      `json:"verdict"`
	Usage         causeway.Usage         `json:"usage"`
	SourceErrors  []string               `json:"source_errors"`
}

func decode(t *testing.T, stdout string) jsonOutput {
	t.Helper()
	var out jsonOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("--json output is not one JSON object: %v\n%s", err, stdout)
	}
	return out
}

func TestInvestigateExampleWithBuiltin(t *testing.T) {
	stdout, stderr, err := run(t, map[string]string{}, "investigate", "--bundle", exampleBundle, "--json")
	if err != nil {
		t.Fatalf("investigate: %v\n%s", err, stderr)
	}
	out := decode(t, stdout)
	if out.Investigation.Status != causeway.StatusDone || out.Answer == nil || out.Verdict == nil {
		t.Fatalf("investigation %s, answer %v, verdict %v", out.Investigation.Status, out.Answer, out.Verdict)
	}
	if out.Verdict.Total == 0 || out.Verdict.Verified != out.Verdict.Total {
		t.Errorf("%d of %d citations verified, want all: %+v", out.Verdict.Verified, out.Verdict.Total, out.Verdict.Citations)
	}
	var citesDisk bool
	for _, cv := range out.Verdict.Citations {
		citesDisk = citesDisk || strings.Contains(cv.Line, "no space left on device")
	}
	if !citesDisk {
		t.Errorf("the answer does not cite the 'no space left on device' line; root cause: %s", out.Answer.RootCause)
	}
	if !strings.Contains(strings.ToLower(out.Answer.RootCause), "disk") {
		t.Errorf("root cause %q does not name the full disk", out.Answer.RootCause)
	}
	if out.Usage.ContextTokens == 0 || out.Usage.ContextTokens > 1_000_000 {
		t.Errorf("context tokens = %d", out.Usage.ContextTokens)
	}
	if !strings.Contains(stderr, "import: ") || !strings.Contains(stderr, "0 failed") {
		t.Errorf("no import summary on stderr:\n%s", stderr)
	}
}

func TestInvestigateWithOpenAICompatibleEndpoint(t *testing.T) {
	srv := modeltest.New(t, modeltest.WithModels("rca-large"))
	srv.Handle(func(req modeltest.Request) modeltest.Reply {
		var disk, fake string
		for _, l := range req.EvidenceLines() {
			if strings.Contains(l, "no space left on device") {
				disk = strings.Fields(l)[0]
			}
		}
		fake = "L999999"
		ans := causeway.Answer{
			RootCause: "The node's disk is full, so the Wasm cache directory could not be created.",
			Claims: []causeway.Claim{
				{Text: "mkdir failed for lack of space", Citations: []causeway.Citation{{ID: disk, Quote: "no space left on device"}}},
				{Text: "invented", Citations: []causeway.Citation{{ID: fake, Quote: "anything"}}},
				{Text: "misquoted", Citations: []causeway.Citation{{ID: disk, Quote: "disk is fine"}}},
			},
			Confidence: 0.9,
		}
		b, _ := json.Marshal(ans)
		return modeltest.Reply{Content: string(b)}
	})
	env := map[string]string{"CAUSEWAY_MODEL_BASE_URL": srv.BaseURL(), "CAUSEWAY_MODEL": "rca-large", "CAUSEWAY_MODEL_API_KEY": "k"}
	stdout, stderr, err := run(t, env, "investigate", "--bundle", exampleBundle, "--budget", "200000", "--json")
	if err != nil {
		t.Fatalf("investigate: %v\n%s", err, stderr)
	}
	reqs := srv.Requests()
	if len(reqs) == 0 {
		t.Fatal("the endpoint was never asked")
	}
	req := reqs[0]
	if req.Model != "rca-large" {
		t.Errorf("asked model %q, want rca-large", req.Model)
	}
	if len(req.Messages) < 2 || req.Messages[0].Role != "system" {
		t.Errorf("messages do not start with the system instructions: %+v", req.Messages)
	}
	if last := req.Messages[len(req.Messages)-1]; !strings.Contains(last.Content, "routing-strategy") {
		t.Errorf("the question is not the last message: %.200s", last.Content)
	}
	if !req.Contains("no space left on device") || !req.Contains("wasm cache is not initialized") {
		t.Error("the decisive lines were not in the context sent")
	}
	out := decode(t, stdout)
	v := out.Verdict
	if v == nil || v.Total != 3 || v.Verified != 1 || v.UnknownID != 1 || v.QuoteMismatch != 1 {
		t.Fatalf("verdict = %+v, want 3 citations: 1 verified, 1 unknown_id, 1 quote_mismatch", v)
	}
	if out.Investigation.Model != "rca-large" || out.Usage.PromptTokens == 0 {
		t.Errorf("investigation model %q, usage %+v", out.Investigation.Model, out.Usage)
	}
	if out.Usage.ContextTokens > 200_000 {
		t.Errorf("packed %d tokens into a 200000 budget", out.Usage.ContextTokens)
	}
}

func TestInvestigateReportsGarbageFromTheModel(t *testing.T) {
	srv := modeltest.New(t)
	srv.Handle(func(modeltest.Request) modeltest.Reply {
		return modeltest.Reply{Content: "I think it is DNS, probably."}
	})
	env := map[string]string{"CAUSEWAY_MODEL_BASE_URL": srv.BaseURL(), "CAUSEWAY_MODEL": "m"}
	stdout, _, err := run(t, env, "investigate", "--bundle", exampleBundle, "--budget", "50000", "--json")
	if causeway.ErrorCode(err) != causeway.EMODEL {
		t.Fatalf("a reply without JSON gave %v, want a model error", err)
	}
	out := decode(t, stdout)
	if out.Investigation.Status != causeway.StatusFailed || !strings.Contains(out.Investigation.RawReply, "probably DNS") && !strings.Contains(out.Investigation.RawReply, "DNS, probably") {
		t.Errorf("failed investigation: status %s, raw reply %q", out.Investigation.Status, out.Investigation.RawReply)
	}
}

// badBundle writes a bundle with one good log and one file of each kind of
// bad input.
func badBundle(t *testing.T, withGood bool) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("incident.yaml", []byte("id: bad\ntitle: bad input\nwindow: {start: \"2025-08-21T03:00:00Z\", end: \"2025-08-21T04:00:00Z\"}\nquestion: why?\n"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(zw, "2025-08-21T03:%02d:%02dZ INFO request %d ok\n", i/60%60, i%60, i)
	}
	zw.Close()
	if withGood {
		write("logs/truncated.log.gz", gz.Bytes()[:gz.Len()/2])
	} else {
		write("logs/truncated.log.gz", gz.Bytes()[:12]) // breaks off inside the gzip header
	}
	write("events/broken.json", []byte(`{"kind":"List","items":[{"type":"Warning",`))
	if withGood {
		write("logs/app.log", []byte("2025-08-21T03:10:00Z ERROR disk write failed: no space left on device\n"+
			"2025-08-21T03:10:01Z WARN bad bytes \xff\xfe here\n"+
			"2025-08-21T03:10:02Z INFO huge "+strings.Repeat("x", 5<<20)+"\n"+
			"2025-08-21T03:10:03Z INFO after the huge line\n"))
	}
	return dir
}

func TestInvestigateBadInputImportsWhatIsGood(t *testing.T) {
	stdout, stderr, err := run(t, map[string]string{}, "investigate", "--bundle", badBundle(t, true), "--json")
	if err != nil {
		t.Fatalf("a bundle with some good files failed: %v\n%s", err, stderr)
	}
	for _, want := range []string{"logs/truncated.log.gz", "events/broken.json", "logs/app.log"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not report %s:\n%s", want, stderr)
		}
	}
	out := decode(t, stdout)
	if out.Investigation.Status != causeway.StatusDone {
		t.Fatalf("status %s: %s", out.Investigation.Status, out.Investigation.Error)
	}
	if len(out.SourceErrors) < 2 {
		t.Errorf("the answer reports source errors %v, want the truncated gzip and the broken JSON", out.SourceErrors)
	}
	if !strings.Contains(stdout, "no space left on device") {
		t.Error("the good line was not used")
	}
}

func TestInvestigateNothingImportable(t *testing.T) {
	_, stderr, err := run(t, map[string]string{}, "investigate", "--bundle", badBundle(t, false), "--json")
	if causeway.ErrorCode(err) != causeway.EINVALID {
		t.Fatalf("an all-bad bundle gave %v, want an invalid-input error\n%s", err, stderr)
	}
	if !strings.Contains(err.Error(), "events/broken.json") {
		t.Errorf("error does not name the bad files: %v", err)
	}
}

func TestPackStats(t *testing.T) {
	stdout, stderr, err := run(t, map[string]string{}, "pack", "--bundle", exampleBundle, "--budget", "64000", "--stats")
	if err != nil {
		t.Fatalf("pack: %v\n%s", err, stderr)
	}
	for _, want := range []string{"logs/envoy-gateway.log", "objects/envoyextensionpolicies.json", "total", "budget"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stats lack %q:\n%s", want, stdout)
		}
	}
	var kept, total, tokens int
	for _, line := range strings.Split(stdout, "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "total" {
			fmt.Sscan(f[1], &kept)
			fmt.Sscan(f[2], &total)
			fmt.Sscan(f[3], &tokens)
		}
	}
	if tokens == 0 || tokens > 64000 || kept == 0 || kept >= total {
		t.Errorf("total row: %d of %d lines in %d tokens; want some lines dropped and at most 64000 tokens", kept, total, tokens)
	}
}

func TestDemoLoadsOnce(t *testing.T) {
	env := map[string]string{}
	env["DATABASE_URL"] = storetest.NewDatabase(t)
	first, stderr, err := run(t, env, "demo", "--dir", "../../eval/incidents")
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr)
	}
	second, _, err := run(t, env, "demo", "--dir", "../../eval/incidents")
	if err != nil {
		t.Fatal(err)
	}
	if first != second || !strings.Contains(first, "aibrix-wasm-disk-full") {
		t.Errorf("demo twice:\n%s\nthen\n%s", first, second)
	}
	db, err := store.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inc, err := db.IncidentByKey(context.Background(), "aibrix-wasm-disk-full")
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.LineCount(context.Background(), inc.ID)
	if err != nil || n == 0 {
		t.Fatalf("line count %d, %v", n, err)
	}
	if _, _, err := run(t, env, "demo", "--dir", "../../eval/incidents"); err != nil {
		t.Fatal(err)
	}
	if n2, _ := db.LineCount(context.Background(), inc.ID); n2 != n {
		t.Errorf("loading the examples again changed the line count from %d to %d", n, n2)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"investigate"}, {"investigate", "--budget", "x", "--bundle", "b"}} {
		_, _, err := run(t, map[string]string{"DATABASE_URL": "postgres://unused"}, args...)
		var ee exitError
		if !errorsAs(err, &ee) || ee.code != 2 {
			t.Errorf("%v: %v, want a usage error (exit 2)", args, err)
		}
	}
}

func errorsAs(err error, target *exitError) bool {
	e, ok := err.(exitError)
	if ok {
		*target = e
	}
	return ok
}

func TestRedactionRulesAndCounts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("incident.yaml", "id: secrets\ntitle: secrets\nwindow: {start: \"2025-08-21T03:00:00Z\", end: \"2025-08-21T04:00:00Z\"}\n")
	write("logs/app.log", "2025-08-21T03:10:00Z ERROR login failed for oncall@example.com with password=hunter22\n"+
		"2025-08-21T03:10:01Z ERROR employee EMP-123456 denied: no space left on device\n")
	rules := filepath.Join(dir, "redact.yaml")
	if err := os.WriteFile(rules, []byte("emails: true\nrules:\n  - {name: employee id, pattern: 'EMP-[0-9]{6}'}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := run(t, map[string]string{"CAUSEWAY_REDACT": rules}, "investigate", "--bundle", dir, "--json")
	if err != nil {
		t.Fatalf("investigate: %v\n%s", err, stderr)
	}
	for _, secret := range []string{"hunter22", "oncall@example.com", "EMP-123456"} {
		if strings.Contains(stdout, secret) || strings.Contains(stderr, secret) {
			t.Errorf("%s was not redacted", secret)
		}
	}
	if !strings.Contains(stderr, "3 secrets redacted") {
		t.Errorf("the import summary does not count what was redacted:\n%s", stderr)
	}
	if _, _, err := run(t, map[string]string{"CAUSEWAY_REDACT": filepath.Join(dir, "incident.yaml")}, "investigate", "--bundle", dir); err == nil {
		t.Error("a file that is not redaction rules was accepted")
	}
}
