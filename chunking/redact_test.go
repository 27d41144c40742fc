package chunking

import (
	"strings"
	"testing"
)

func TestRedactSecrets(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"nothing secret", "GET /healthz 200 token_count=5 tokens=12", "GET /healthz 200 token_count=5 tokens=12"},
		{"password assignment", "connecting with password=hunter22 to db", "connecting with password=[REDACTED] to db"},
		{"json secret", `{"user":"bob","api_key":"sk-live-1234567890abcdef"}`, `{"user":"bob","api_key":"[REDACTED]"}`},
		{"bearer", "Authorization: Bearer abcdef123456.xyz", "Authorization: Bearer [REDACTED]"},
		{"url credentials", "dial postgres://app:s3cr3t@db:5432/app failed", "dial postgres://app:[REDACTED]@db:5432/app failed"},
		{"aws key", "using key AKIAIOSFODNN7EXAMPLE for s3", "using key [REDACTED] for s3"},
		{"jwt", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U seen", "token [REDACTED] seen"},
		{"slack token", "posting with xoxb-1234567890-abcdefghij", "posting with [REDACTED]"},
		{"private key", "-----BEGIN RSA PRIVATE KEY-----MIIEow...-----END RSA PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----"},
		{"already redacted", "password=[REDACTED]", "password=[REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := Redact(tt.text)
			if got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.text, got, tt.want)
			}
		})
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("password=hunter22 Bearer abcdefghijk postgres://a:b@c/d")
	f.Add("AKIAIOSFODNN7EXAMPLE eyJabcdefghij.klmnopqrstu.vwxyz012345")
	f.Fuzz(func(t *testing.T, s string) {
		once, _ := Redact(s)
		twice, _ := Redact(once)
		if once != twice {
			t.Errorf("redaction is not idempotent: %q -> %q -> %q", s, once, twice)
		}
		if strings.Contains(once, "hunter22") && strings.Contains(s, "password=hunter22") {
			t.Errorf("secret survived: %q", once)
		}
	})
}
