package chunking

import (
	"maps"
	"strings"
	"sync"
	"testing"
)

func TestRedactSecrets(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"nothing secret", "GET /healthz 200 token_count=5 tokens=12", "GET /healthz 200 token_count=5 tokens=12"},
		{"password assignment", "connecting with password=hunter22 to db", "connecting with password=<secret:1> to db"},
		{"json secret", `{"user":"bob","api_key":"sk-live-1234567890abcdef"}`, `{"user":"bob","api_key":"<secret:1>"}`},
		{"bearer", "Authorization: Bearer abcdef123456.xyz", "Authorization: Bearer <secret:1>"},
		{"url credentials", "dial postgres://app:s3cr3t@db:5432/app failed", "dial postgres://app:<secret:1>@db:5432/app failed"},
		{"aws key", "using key AKIAIOSFODNN7EXAMPLE for s3", "using key <secret:1> for s3"},
		{"jwt", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U seen", "token <secret:1> seen"},
		{"slack token", "posting with xoxb-1234567890-abcdefghij", "posting with <secret:1>"},
		{"openai key", "client init sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t", "client init <secret:1>"},
		{"private key", "-----BEGIN RSA PRIVATE KEY-----MIIEow...-----END RSA PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----<secret:1>-----END RSA PRIVATE KEY-----"},
		{"high-entropy token", "session established sess=Zx8Qp2Lm9Rt4Vw7Ny1Kb6Hd3Jf5Gs0Ac", "session established sess=<secret:1>"},
		{"same secret twice", "login password=hunter22 retry password=hunter22 other password=letmein9",
			"login password=<secret:1> retry password=<secret:1> other password=<secret:2>"},
		{"already redacted", "password=<secret:4> and password=[REDACTED]", "password=<secret:4> and password=[REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fired := DefaultRedactor().Redact(tt.text)
			if got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.text, got, tt.want)
			}
			if (got != tt.text) != (len(fired) > 0) {
				t.Errorf("rules fired %v for a change %v", fired, got != tt.text)
			}
		})
	}
}

// TestRedactKeepsIdentifiers: the long ids an investigation correlates on
// are not secrets.
func TestRedactKeepsIdentifiers(t *testing.T) {
	for _, text := range []string{
		"image sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 pulled",
		"trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
		"request 123e4567-e89b-12d3-a456-426614174000 done",
		"pod envoy-aibrix-system-aibrix-eg-903790dc-7c8dd7d4b9-64w68 Ready",
		"at org.springframework.beans.factory.support.AbstractAutowireCapableBeanFactory.createBean",
		"GET /api/v1/namespaces/aibrix-system/pods/aibrix-gateway-plugins-5b7d9c8f6-lq8zr 200",
		"container 3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e exited",
	} {
		if got, fired := DefaultRedactor().Redact(text); got != text {
			t.Errorf("Redact(%q) = %q (rules %v); an identifier is not a secret", text, got, fired)
		}
	}
}

func TestRedactStatelessKeepsOldPlaceholder(t *testing.T) {
	got, fired := Redact("connecting with password=hunter22 to db")
	if got != "connecting with password=[REDACTED] to db" || len(fired) != 1 || fired[0] != RuleAssignment {
		t.Errorf("Redact = %q, %v", got, fired)
	}
}

func TestRedactorNumbersAcrossLinesAndCounts(t *testing.T) {
	r := DefaultRedactor()
	lines := []string{
		"gateway: Authorization: Bearer tok3n-Abc123456789",
		"plugin: forwarding Authorization: Bearer tok3n-Abc123456789 upstream",
		"db: postgres://app:s3cr3t@db:5432/app",
		"worker: retry postgres://app:s3cr3t@db:5432/app",
	}
	var out []string
	var wg sync.WaitGroup
	out = make([]string, len(lines))
	for i, l := range lines {
		wg.Add(1)
		go func() { defer wg.Done(); out[i], _ = r.Redact(l) }()
	}
	wg.Wait()
	token := placeholderIn(t, out[0])
	if placeholderIn(t, out[1]) != token {
		t.Errorf("the same bearer token got different placeholders: %q, %q", out[0], out[1])
	}
	if pw := placeholderIn(t, out[2]); pw == token || placeholderIn(t, out[3]) != pw {
		t.Errorf("placeholders do not tell secrets apart: %q", out)
	}
	want := map[string]int{RuleBearer: 2, RuleURLPassword: 2}
	if got := r.Counts(); !maps.Equal(got, want) || r.Secrets() != 2 {
		t.Errorf("counts = %v, %d secrets; want %v, 2", got, r.Secrets(), want)
	}
	if s := r.Summary(); s != "4 secrets redacted (authorization header 2, url credentials 2)" {
		t.Errorf("summary = %q", s)
	}
}

func placeholderIn(t *testing.T, s string) string {
	t.Helper()
	i := strings.Index(s, "<secret:")
	if i < 0 {
		t.Fatalf("no placeholder in %q", s)
	}
	return s[i : i+strings.IndexByte(s[i:], '>')+1]
}

func TestRedactConfig(t *testing.T) {
	cfg, err := ParseRedactConfig([]byte(`
emails: true
disable: ["high-entropy token"]
rules:
  - {name: employee id, pattern: 'EMP-(?P<secret>[0-9]{6})', hints: [EMP-]}
`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRedactor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := "alice@example.com paged for EMP-123456 sess=Zx8Qp2Lm9Rt4Vw7Ny1Kb6Hd3Jf5Gs0Ac"
	got, fired := r.Redact(text)
	want := "<secret:1> paged for EMP-<secret:2> sess=Zx8Qp2Lm9Rt4Vw7Ny1Kb6Hd3Jf5Gs0Ac"
	if got != want {
		t.Errorf("configured Redact = %q, want %q (rules %v)", got, want, fired)
	}
	if got, _ := DefaultRedactor().Redact("alice@example.com"); got != "alice@example.com" {
		t.Errorf("emails are redacted without being asked for: %q", got)
	}

	for _, bad := range []string{
		"disable: [no such rule]",
		"rules: [{name: x, pattern: '('}]",
		"rules: [{name: x, pattern: 'a*'}]",
		"rules: [{pattern: 'abc'}]",
		"emial: true",
	} {
		if _, err := ParseRedactConfig([]byte(bad)); err == nil {
			t.Errorf("config %q accepted", bad)
		}
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("password=hunter22 Bearer abcdefghijk postgres://a:b@c/d")
	f.Add("AKIAIOSFODNN7EXAMPLE eyJabcdefghij.klmnopqrstu.vwxyz012345")
	f.Add("key=Zx8Qp2Lm9Rt4Vw7Ny1Kb6Hd3Jf5Gs0Ac alice@example.com")
	f.Fuzz(func(t *testing.T, s string) {
		r, _ := NewRedactor(RedactConfig{Emails: true})
		once, _ := r.Redact(s)
		twice, _ := r.Redact(once)
		if once != twice {
			t.Errorf("redaction is not idempotent: %q -> %q -> %q", s, once, twice)
		}
		if strings.Contains(once, "hunter22") && strings.Contains(s, "password=hunter22") {
			t.Errorf("secret survived: %q", once)
		}
	})
}

// BenchmarkRedact is the cost per line of redaction at ingest, for a line
// without secrets (the common case) and one with two.
func BenchmarkRedact(b *testing.B) {
	for _, bc := range []struct{ name, line string }{
		{"clean", `2025-08-21T03:49:15.867Z ERROR gateway-api Failed to create Wasm cache directory {"runner": "gateway-api", "error": "mkdir /var/lib/eg/wasm: no space left on device"} pod=envoy-aibrix-system-aibrix-eg-903790dc-7c8dd7d4b9-64w68`},
		{"secrets", `2025-08-21T03:49:15.867Z INFO db connect postgres://app:s3cr3t@db:5432/app with Authorization: Bearer tok3n-Abc123456789`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := DefaultRedactor()
			for b.Loop() {
				r.Redact(bc.line)
			}
		})
	}
}
