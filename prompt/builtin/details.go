package builtin

import (
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// fact is one detail found behind a failure: its label and the line that
// shows it.
type fact struct {
	label string
	hit   hit
}

// maxFacts bounds the details an answer names for one failure.
const maxFacts = 3

// details finds the facts the signature's Details describe in the lines
// inScope accepts, other than the failure's own line: the first line of
// each label, in pack order.
func (ev *evidence) details(m *matcher, lead hit, inScope func(hit) bool) []fact {
	lines := ev.pack.Lines
	var out []fact
	labels := map[string]bool{}
	for _, d := range m.details {
		if labels[d.Label] || len(out) >= maxFacts {
			continue
		}
		re, need := d.re, d.need
		if d.keyLine != "" {
			if lead.key == "" {
				continue
			}
			key := strings.ToLower(lead.key)
			var err error
			if re, err = regexp.Compile(regexp.QuoteMeta(key) + d.keyLine); err != nil {
				continue
			}
			need = []string{key}
		}
		var best *fact
		bestSecs := 0.0
		for i := range lines {
			l := &lines[i]
			if lead.line != nil && i == lead.idx || isConversation(l, ev.kinds[l.Source]) || !containsAnyFold(l.Text, need) {
				continue
			}
			lower := asciiLower(l.Text)
			loc := re.FindStringSubmatchIndex(lower)
			if loc == nil {
				continue
			}
			h := hit{line: l, idx: i, m: m, start: loc[0], end: loc[1], at: l.Time}
			if !d.Anywhere && !inScope(h) || d.skip != nil && d.skip.MatchString(lower[loc[0]:loc[1]]) || d.after != nil && !ev.under(i, d.after) ||
				d.context != nil && !d.context.MatchString(lower) {
				continue
			}
			if !d.Longest {
				best = &fact{label: d.Label, hit: h}
				break
			}
			if secs := durationOf(re, lower, loc); best == nil || secs > bestSecs {
				best, bestSecs = &fact{label: d.Label, hit: h}, secs
			}
		}
		if best != nil {
			labels[d.Label] = true
			out = append(out, *best)
		}
	}
	return out
}

// under reports whether line i of the pack sits under a header that after
// matches: the nearest line above it, in the same source, that ends in a
// colon (kubectl describe's "Limits:", "Capacity:").
func (ev *evidence) under(i int, after *regexp.Regexp) bool {
	lines := ev.pack.Lines
	for j := i - 1; j >= 0 && j >= i-8 && lines[j].Source == lines[i].Source; j-- {
		t := strings.TrimSpace(lines[j].Text)
		if strings.HasSuffix(t, ":") {
			return after.MatchString(asciiLower(lines[j].Text))
		}
	}
	return false
}

// scopeOf accepts the lines about the same failing thing as c: its
// workload's pods, its own source, and what the question is about.
func (d *decision) scopeOf(c *candidate) func(hit) bool {
	return func(h hit) bool {
		e := d.ev.ents[h.idx]
		switch {
		case e.workload != "" && c.workloads[e.workload]:
			return true
		case e.object != "" && c.workloads[e.object[strings.LastIndexByte(e.object, '/')+1:]]:
			// The workload's own object: its Deployment or Job.
			return true
		case c.sources[h.line.Source]:
			return true
		case d.focused && c.focus && d.inFocus(h):
			return true
		}
		return false
	}
}

// typo is a name that is probably a misspelling of one that exists.
type typo struct {
	name, want string
	where      *hit // a line that shows want exists; nil for a well-known command
}

// commonCommands are executables that images commonly carry: a command
// that is not found and one letter away from one of them is a typo.
var commonCommands = []string{"sh", "bash", "ash", "zsh", "wget", "curl", "python", "python3", "pip", "node", "npm", "java",
	"nginx", "cat", "echo", "ls", "sleep", "env", "printf", "grep", "sed", "awk", "tar", "gzip", "cp", "mv", "rm", "mkdir",
	"chmod", "chown", "kubectl", "helm", "git", "ssh", "nc", "ping", "dig", "nslookup", "apk", "yum", "redis-server",
	"redis-cli", "psql", "mysql", "postgres", "uvicorn", "gunicorn", "dotnet", "ruby", "perl", "make", "tail", "head",
	"timeout", "envoy", "pilot-agent", "jq", "openssl", "stress"}

// typoOf looks for what a failure's missing name was probably meant to be:
// a common command for a command that is not found, or a name in the
// evidence one or two letters away for an object that is not found.
func (ev *evidence) typoOf(c *candidate) (typo, bool) {
	key := c.lead.key
	if key == "" {
		key = c.best.key
	}
	if len(key) < 2 {
		return typo{}, false
	}
	if c.sig.Name == "exec_failed" {
		base := path.Base(key)
		for _, cmd := range commonCommands {
			if cmd != base && len(base) >= 3 && editDistance(base, cmd, 1) <= 1 {
				return typo{name: base, want: cmd}, true
			}
		}
		return typo{}, false
	}
	if len(key) < 5 {
		return typo{}, false
	}
	lines := ev.pack.Lines
	lowerKey := strings.ToLower(key)
	limit := 1
	if len(key) >= 10 {
		limit = 2
	}
	for i := range lines {
		l := &lines[i]
		if isConversation(l, ev.kinds[l.Source]) {
			continue
		}
		text := l.Text
		for start := 0; start < len(text); {
			for start < len(text) && !isNameByte(text[start]) {
				start++
			}
			end := start
			for end < len(text) && isNameByte(text[end]) {
				end++
			}
			tok := text[start:end]
			if n := len(tok); n >= 5 && n >= len(key)-limit && n <= len(key)+limit {
				lower := strings.ToLower(tok)
				if lower != lowerKey && editDistance(lower, lowerKey, limit) <= limit {
					return typo{name: key, want: tok, where: &hit{line: l, idx: i, m: c.sig, start: start, end: end}}, true
				}
			}
			start = end
		}
	}
	return typo{}, false
}

// containsAnyFold reports whether s contains one of the lower-case subs,
// ignoring ASCII case, or subs is empty.
func containsAnyFold(s string, subs []string) bool {
	if len(subs) == 0 {
		return true
	}
	for _, sub := range subs {
		for i := 0; i+len(sub) <= len(s); i++ {
			j := 0
			for j < len(sub) && lowerByte(s[i+j]) == sub[j] {
				j++
			}
			if j == len(sub) {
				return true
			}
		}
	}
	return false
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isNameByte(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_'
}

// editDistance is the Levenshtein distance of a and b, or limit+1 as soon
// as it is known to exceed limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// owner is the configuration object behind a failure: the DestinationRule
// that set a cluster's connection-pool limits, the Telemetry resource a
// metric label comes from.
type owner struct {
	name string // "DestinationRule payments/payments-api"
	// where is the line that shows the object's last change before the
	// failure, or else a line that names it.
	where   hit
	changed bool
}

// changeWords mark a line that reports an object being changed.
var changeWords = []string{"configured", "created", "updated", "patched", "applied", "modified", "replaced"}

// ownerOf finds the object of one of the signature's Owners kinds that
// sets what the candidate is about: named after the service of the Envoy
// cluster the failure names, or, for a line of an object dump, the object
// the line belongs to. before bounds the change to look for.
func (ev *evidence) ownerOf(c *candidate, before time.Time) (owner, bool) {
	m := c.sig
	if len(m.owners) == 0 {
		return owner{}, false
	}
	key := c.lead.key
	for _, h := range c.hits {
		if key == "" {
			key = h.key
		}
	}
	if key == "" {
		return ev.enclosingObject(c.lead, m)
	}
	name, ns := serviceOf(key)
	if name == "" {
		return owner{}, false
	}
	var found *owner
	lines := ev.pack.Lines
	for i := range lines {
		l := &lines[i]
		if isConversation(l, ev.kinds[l.Source]) {
			continue
		}
		kind, start, end, ok := namesObject(l, m, name, ns)
		if !ok {
			continue
		}
		h := hit{line: l, idx: i, m: m, start: start, end: end, at: l.Time}
		changed := containsAnyFold(l.Text, changeWords) && !l.Time.IsZero() && (before.IsZero() || l.Time.Before(before))
		if found == nil || changed && (!found.changed || l.Time.After(found.where.at)) {
			obj := kind + " " + name
			if ns != "" {
				obj = kind + " " + ns + "/" + name
			}
			found = &owner{name: obj, where: h, changed: changed}
		}
	}
	if found == nil {
		return owner{}, false
	}
	return *found, true
}

// serviceOf reads the service (and namespace) an Envoy cluster name or a
// host name is about: "outbound|8080||payments-api.payments.svc.cluster.local"
// is payments-api in payments.
func serviceOf(key string) (name, ns string) {
	host := key
	if parts := strings.Split(key, "|"); len(parts) == 4 {
		host = parts[3]
	}
	if strings.ContainsAny(host, "/ ") {
		return "", ""
	}
	labels := strings.Split(strings.ToLower(host), ".")
	if len(labels) >= 2 && labels[0] != "" {
		return labels[0], labels[1]
	}
	return labels[0], ""
}

// namesObject reports whether a line names the object name (in namespace
// ns) of one of the signature's owner kinds: by its attributes, or in the
// text as "Kind ns/name", "Kind/ns/name", "kind.group/name" (kubectl and
// Argo CD) or "Kind:ns/name"; and the span that names it.
func namesObject(l *causeway.Line, m *matcher, name, ns string) (kind string, start, end int, ok bool) {
	lowerName := strings.ToLower(name)
	attrKind := strings.ToLower(l.Attrs["kind"])
	for i, o := range m.owners {
		kind = m.Owners[i]
		if attrKind == o && strings.EqualFold(l.Attrs["name"], name) && (ns == "" || l.Attrs["namespace"] == "" || l.Attrs["namespace"] == ns) {
			if j := strings.Index(strings.ToLower(l.Text), lowerName); j >= 0 {
				return kind, j, j + len(name), true
			}
			return kind, 0, len(l.Text), true
		}
		if !containsAnyFold(l.Text, []string{o}) || !containsAnyFold(l.Text, []string{lowerName}) {
			continue
		}
		lower := asciiLower(l.Text)
		for _, form := range []string{o + " " + ns + "/" + name, o + "/" + ns + "/" + name, o + ":" + ns + "/" + name, o + "."} {
			j := strings.Index(lower, strings.ToLower(form))
			if j < 0 {
				continue
			}
			if form == o+"." {
				// kind.group/name, as Argo CD writes a resource.
				rest := lower[j+len(form):]
				k := strings.IndexByte(rest, '/')
				if k < 0 || strings.ContainsAny(rest[:k], " \t\"") || !strings.HasPrefix(rest[k+1:], lowerName) || len(rest) > k+1+len(lowerName) && isNameByte(rest[k+1+len(lowerName)]) {
					continue
				}
				return kind, j, j + len(form) + k + 1 + len(lowerName), true
			}
			return kind, j, j + len(form), true
		}
	}
	return "", 0, 0, false
}

var (
	yamlKindRE = regexp.MustCompile(`^\s*(?:-\s*)?"?kind"?\s*:\s*"?([A-Za-z]+)"?,?\s*$`)
	yamlNameRE = regexp.MustCompile(`^\s*"?(name|namespace)"?\s*:\s*"?([a-z0-9][a-z0-9.-]*)"?,?\s*$`)
)

// enclosingObject finds the object of an owner kind whose dump (YAML or
// JSON, one field a line) holds the hit's line: the nearest "kind:" above
// it in the same source, and the name and namespace between the two.
func (ev *evidence) enclosingObject(h hit, m *matcher) (owner, bool) {
	lines := ev.pack.Lines
	var name, ns string
	for i := h.idx - 1; i >= 0 && i >= h.idx-60 && lines[i].Source == h.line.Source; i-- {
		text := lines[i].Text
		if sm := yamlNameRE.FindStringSubmatch(text); sm != nil {
			// The nearest name above the line is the object's, unless
			// it belongs to a nested item; metadata comes first in a
			// dump, so the one closest to "kind:" wins.
			if sm[1] == "name" {
				name = sm[2]
			} else {
				ns = sm[2]
			}
			continue
		}
		sm := yamlKindRE.FindStringSubmatch(text)
		if sm == nil {
			continue
		}
		for j, o := range m.owners {
			if strings.ToLower(sm[1]) != o || name == "" {
				continue
			}
			obj := m.Owners[j] + " " + name
			if ns != "" {
				obj = m.Owners[j] + " " + ns + "/" + name
			}
			k := strings.Index(text, sm[1])
			return owner{name: obj, where: hit{line: &lines[i], idx: i, m: m, start: k, end: k + len(sm[1]), at: lines[i].Time}}, true
		}
		return owner{}, false
	}
	return owner{}, false
}
