package chunking

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Redacted replaces a secret in evidence when Redact, which keeps no
// state, is used; a Redactor numbers secrets instead (<secret:3>).
const Redacted = "[REDACTED]"

// RedactRule finds one kind of secret.
type RedactRule struct {
	Name string
	// Hints are lower-case substrings of which at least one must occur for
	// the (slower) expression to run; none means it always runs.
	Hints []string
	// Pattern finds the secret: its group named "secret", or the whole
	// match when it has none, is what gets replaced.
	Pattern *regexp.Regexp
	// Check, when set, must accept a match for it to be replaced.
	Check func(secret string) bool
	// find, for a built-in rule, replaces Pattern with a faster scan that
	// returns the secrets' spans.
	find func(text string) [][]int
}

// The names of the built-in rules, for RedactConfig.Disable and the counts.
const (
	RulePrivateKey  = "private key"
	RuleBearer      = "authorization header"
	RuleAssignment  = "credential assignment"
	RuleURLPassword = "url credentials"
	RuleAWSKey      = "aws access key"
	RuleJWT         = "jwt"
	RuleVendorToken = "vendor token"
	RuleHighEntropy = "high-entropy token"
	RuleEmail       = "email"
)

// defaultRules are the kinds of secret that log lines leak, most specific
// first, so that a bearer JWT is counted as an authorization header once.
var defaultRules = []RedactRule{
	{Name: RulePrivateKey, Hints: []string{"private key"},
		Pattern: regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----(?P<secret>[\s\S]*?)(-----END [A-Z ]*PRIVATE KEY-----|$)`)},
	{Name: RuleBearer, Hints: []string{"bearer", "basic", "authorization"},
		Pattern: regexp.MustCompile(`(?i)\b(?:bearer|basic)\s+(?P<secret>[A-Za-z0-9._~+/=-]{8,})`)},
	{Name: RuleAssignment, Hints: []string{"pass", "pwd", "secret", "token", "key", "auth", "credential"},
		Pattern: regexp.MustCompile(`(?i)(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?token|credentials?)["']?\s*[:=]\s*["']?(?P<secret>[^\s"',;&}{]{4,})`)},
	{Name: RuleURLPassword, Hints: []string{"://"},
		Pattern: regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:(?P<secret>[^/\s@]+)@`)},
	{Name: RuleAWSKey, Hints: []string{"akia", "asia"},
		Pattern: regexp.MustCompile(`\b(?P<secret>(?:AKIA|ASIA)[0-9A-Z]{16})\b`)},
	{Name: RuleJWT, Hints: []string{"eyj"},
		Pattern: regexp.MustCompile(`\b(?P<secret>eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})`)},
	{Name: RuleVendorToken, Hints: []string{"xox", "ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_", "sk-", "sk_live_", "rk_live_", "aiza", "glpat-"},
		Pattern: regexp.MustCompile(`\b(?P<secret>xox[abprs]-[A-Za-z0-9-]{10,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|[sr]k_live_[A-Za-z0-9]{20,}|AIza[0-9A-Za-z_-]{35}|glpat-[0-9A-Za-z_-]{20,})`)},
	// Every line is scanned for these, so a byte loop finds the candidate
	// runs rather than an expression.
	{Name: RuleHighEntropy, find: tokenRuns, Check: highEntropy},
}

// minTokenRun is the shortest run of token characters taken for a
// possible random token.
const minTokenRun = 32

// tokenRuns returns the spans of the runs of base64 and URL-safe token
// characters at least minTokenRun long, with their "=" padding.
func tokenRuns(text string) [][]int {
	var out [][]int
	start := -1
	for i := 0; i <= len(text); i++ {
		if i < len(text) && isTokenByte(text[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= minTokenRun {
			end := i
			for end < len(text) && end-i < 2 && text[end] == '=' {
				end++
			}
			out = append(out, []int{start, end})
		}
		start = -1
	}
	return out
}

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '_' || c == '-'
}

var emailRule = RedactRule{Name: RuleEmail, Hints: []string{"@"},
	Pattern: regexp.MustCompile(`\b(?P<secret>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b`)}

// highEntropy tells a random token (an API key, a session secret, base64
// key material) from the long identifiers that logs are full of and that
// an investigation needs: hex digests, trace and container ids and UUIDs
// (all hex), Kubernetes names (lower case), CamelCase names (no digits).
func highEntropy(s string) bool {
	s = strings.TrimRight(s, "=")
	var upper, lower, digit, hex int
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			upper++
		case c >= 'a' && c <= 'z':
			lower++
		case c >= '0' && c <= '9':
			digit++
		}
		if (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-' {
			hex++
		}
	}
	if len(s) < 32 || upper == 0 || lower == 0 || digit == 0 || hex == len(s) {
		return false
	}
	// A path or a dashed name is made of words; a token is one run.
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == '-' || r == '_' }) {
		if len(part) >= 24 {
			return entropy(part) >= 4.0
		}
	}
	return false
}

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	var freq [256]int
	for i := 0; i < len(s); i++ {
		freq[s[i]]++
	}
	h := 0.0
	for _, f := range freq {
		if f > 0 {
			p := float64(f) / float64(len(s))
			h -= p * math.Log2(p)
		}
	}
	return h
}

// RedactConfig chooses the redaction rules. Its zero value is the default:
// every built-in rule but emails.
type RedactConfig struct {
	// Emails also redacts email addresses (people's names in chat are
	// kept; addresses are personal data some teams may not send out).
	Emails bool `yaml:"emails" json:"emails,omitempty"`
	// Disable names built-in rules to leave out, e.g. "high-entropy token"
	// for evidence full of harmless random ids.
	Disable []string `yaml:"disable" json:"disable,omitempty"`
	// Rules are added after the built-in ones.
	Rules []RuleSpec `yaml:"rules" json:"rules,omitempty"`
}

// RuleSpec is a redaction rule as configured: a name, a regular expression
// (RE2 syntax; its group named "secret", or the whole match, is replaced)
// and optional lower-case hints.
type RuleSpec struct {
	Name    string   `yaml:"name" json:"name"`
	Pattern string   `yaml:"pattern" json:"pattern"`
	Hints   []string `yaml:"hints" json:"hints,omitempty"`
}

// ParseRedactConfig reads a redaction config in YAML (or JSON):
//
//	emails: true
//	disable: ["high-entropy token"]
//	rules:
//	  - {name: employee id, pattern: 'EMP-[0-9]{6}'}
func ParseRedactConfig(data []byte) (RedactConfig, error) {
	var cfg RedactConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("redaction config: %w", err)
	}
	_, err := cfg.rules()
	return cfg, err
}

func (cfg RedactConfig) rules() ([]RedactRule, error) {
	var rules []RedactRule
	known := map[string]bool{RuleEmail: true}
	for _, r := range defaultRules {
		known[r.Name] = true
		if !slices.Contains(cfg.Disable, r.Name) {
			rules = append(rules, r)
		}
	}
	for _, name := range cfg.Disable {
		if !known[name] {
			return nil, fmt.Errorf("redaction config: no built-in rule %q to disable", name)
		}
	}
	if cfg.Emails && !slices.Contains(cfg.Disable, RuleEmail) {
		rules = append(rules, emailRule)
	}
	for i, spec := range cfg.Rules {
		if spec.Name == "" || spec.Pattern == "" {
			return nil, fmt.Errorf("redaction config: rule %d needs a name and a pattern", i+1)
		}
		re, err := regexp.Compile(spec.Pattern)
		if err != nil {
			return nil, fmt.Errorf("redaction config: rule %q: %w", spec.Name, err)
		}
		if re.MatchString("") {
			return nil, fmt.Errorf("redaction config: rule %q matches empty text", spec.Name)
		}
		hints := make([]string, len(spec.Hints))
		for j, h := range spec.Hints {
			hints[j] = strings.ToLower(h)
		}
		rules = append(rules, RedactRule{Name: spec.Name, Pattern: re, Hints: hints})
	}
	return rules, nil
}

// Redactor replaces secrets with numbered placeholders, "<secret:3>": the
// same secret gets the same number every time, so that a token seen in two
// components still correlates after redaction. Use one Redactor per
// incident (numbers are the incident's); it is safe for concurrent use,
// and a nil *Redactor redacts with the default rules and no numbering.
// It keeps a hash of each secret, never the secret.
type Redactor struct {
	rules []RedactRule

	mu     sync.Mutex
	ids    map[[sha256.Size]byte]int
	counts map[string]int
}

// NewRedactor returns a Redactor with the rules cfg chooses.
func NewRedactor(cfg RedactConfig) (*Redactor, error) {
	rules, err := cfg.rules()
	if err != nil {
		return nil, err
	}
	return &Redactor{rules: rules, ids: map[[sha256.Size]byte]int{}, counts: map[string]int{}}, nil
}

// DefaultRedactor returns a Redactor with the default rules.
func DefaultRedactor() *Redactor {
	r, err := NewRedactor(RedactConfig{})
	if err != nil {
		panic(err) // the built-in rules are fixed
	}
	return r
}

// Redact returns text with every secret it finds replaced by Redacted, and
// the names of the rules that fired. It keeps no state; a Redactor numbers
// secrets so that they still correlate.
func Redact(text string) (string, []string) {
	return (*Redactor)(nil).Redact(text)
}

// Redact returns text with every secret replaced by its placeholder, and the
// names of the rules that fired. Placeholders and Redacted are never taken
// for secrets, so redacting twice changes nothing.
func (r *Redactor) Redact(text string) (string, []string) {
	rules := defaultRules
	if r != nil {
		rules = r.rules
	}
	var lower string
	var fired []string
	for i := range rules {
		rule := &rules[i]
		if len(rule.Hints) > 0 {
			if lower == "" {
				lower = strings.ToLower(text)
			}
			if !containsAny(lower, rule.Hints) {
				continue
			}
		}
		var idx int
		var locs [][]int
		if rule.find != nil {
			locs = rule.find(text)
		} else {
			idx = rule.Pattern.SubexpIndex("secret")
			locs = rule.Pattern.FindAllStringSubmatchIndex(text, -1)
		}
		if len(locs) == 0 {
			continue
		}
		protected := placeholders(text)
		var b strings.Builder
		prev := 0
		for _, loc := range locs {
			start, end := loc[0], loc[1]
			if idx > 0 {
				start, end = loc[2*idx], loc[2*idx+1]
			}
			if start < 0 || start == end || start < prev || overlaps(protected, start, end) || (rule.Check != nil && !rule.Check(text[start:end])) {
				continue
			}
			b.WriteString(text[prev:start])
			b.WriteString(r.placeholder(rule.Name, text[start:end]))
			prev = end
		}
		if prev == 0 {
			continue
		}
		b.WriteString(text[prev:])
		text = b.String()
		lower = ""
		fired = append(fired, rule.Name)
	}
	return text, fired
}

var placeholderRE = regexp.MustCompile(`<secret:[0-9]+>|\[REDACTED\]`)

// placeholders returns the spans of the placeholders in text: a rule must
// not take one, or a part of one ("secret:3>..." reads like an
// assignment), for a secret.
func placeholders(text string) [][]int {
	if !strings.Contains(text, "<secret:") && !strings.Contains(text, Redacted) {
		return nil
	}
	return placeholderRE.FindAllStringIndex(text, -1)
}

func overlaps(spans [][]int, start, end int) bool {
	for _, s := range spans {
		if start < s[1] && s[0] < end {
			return true
		}
	}
	return false
}

// placeholder numbers secret and counts it under rule.
func (r *Redactor) placeholder(rule, secret string) string {
	if r == nil {
		return Redacted
	}
	key := sha256.Sum256([]byte(secret))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[rule]++
	n, ok := r.ids[key]
	if !ok {
		n = len(r.ids) + 1
		r.ids[key] = n
	}
	return "<secret:" + strconv.Itoa(n) + ">"
}

// Counts returns how many secrets each rule replaced so far, by rule name.
func (r *Redactor) Counts() map[string]int {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.counts))
	for k, v := range r.counts {
		out[k] = v
	}
	return out
}

// Secrets returns how many distinct secrets were replaced so far.
func (r *Redactor) Secrets() int {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

// Summary renders the counts for a report: "12 secrets redacted (jwt 3,
// url credentials 9)"; "" when none were.
func (r *Redactor) Summary() string {
	counts := r.Counts()
	if len(counts) == 0 {
		return ""
	}
	names := make([]string, 0, len(counts))
	total := 0
	for k, v := range counts {
		names = append(names, k+" "+strconv.Itoa(v))
		total += v
	}
	slices.Sort(names)
	return fmt.Sprintf("%d secrets redacted (%s)", total, strings.Join(names, ", "))
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
