package chunking

import (
	"regexp"
	"strings"
)

// Redacted replaces a secret in evidence.
const Redacted = "[REDACTED]"

// secretRule finds one kind of secret. hints are lower-case substrings of
// which at least one must occur for the (slower) expression to run; the
// expression's group named "secret" is what gets replaced.
type secretRule struct {
	name  string
	hints []string
	re    *regexp.Regexp
}

// secretRules are the kinds of secret that log lines leak. Evidence is
// stored redacted, so no secret reaches a model, the UI or the database.
var secretRules = []secretRule{
	{"private key", []string{"private key"},
		regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----(?P<secret>[\s\S]*?)(-----END [A-Z ]*PRIVATE KEY-----|$)`)},
	{"authorization header", []string{"bearer", "basic", "authorization"},
		regexp.MustCompile(`(?i)\b(?:bearer|basic)\s+(?P<secret>[A-Za-z0-9._~+/=-]{8,})`)},
	{"credential assignment", []string{"pass", "pwd", "secret", "token", "key", "auth", "credential"},
		regexp.MustCompile(`(?i)(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?token|credentials?)["']?\s*[:=]\s*["']?(?P<secret>[^\s"',;&}{]{4,})`)},
	{"url credentials", []string{"://"},
		regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:(?P<secret>[^/\s@]+)@`)},
	{"aws access key", []string{"akia", "asia"},
		regexp.MustCompile(`\b(?P<secret>(?:AKIA|ASIA)[0-9A-Z]{16})\b`)},
	{"jwt", []string{"eyj"},
		regexp.MustCompile(`\b(?P<secret>eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})`)},
	{"slack or github token", []string{"xox", "ghp_", "gho_", "ghs_", "ghu_", "github_pat_"},
		regexp.MustCompile(`\b(?P<secret>xox[abprs]-[A-Za-z0-9-]{10,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})`)},
}

// Redact returns text with every secret it finds replaced by Redacted, and
// the names of the rules that fired.
func Redact(text string) (string, []string) {
	var lower string
	var fired []string
	for _, r := range secretRules {
		if lower == "" {
			lower = strings.ToLower(text)
		}
		if !containsAny(lower, r.hints) {
			continue
		}
		idx := r.re.SubexpIndex("secret")
		locs := r.re.FindAllStringSubmatchIndex(text, -1)
		if len(locs) == 0 {
			continue
		}
		var b strings.Builder
		prev := 0
		for _, loc := range locs {
			start, end := loc[2*idx], loc[2*idx+1]
			if start < 0 || text[start:end] == Redacted {
				continue
			}
			b.WriteString(text[prev:start])
			b.WriteString(Redacted)
			prev = end
		}
		if prev == 0 {
			continue
		}
		b.WriteString(text[prev:])
		text = b.String()
		lower = ""
		fired = append(fired, r.name)
	}
	return text, fired
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
