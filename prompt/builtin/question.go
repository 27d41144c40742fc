package builtin

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// query is what a question asks, as far as words tell: the failures and
// entities it names and, for a control question ("was the OOM kill related
// to the 503s?"), the suspect whose part in the incident it asks about.
type query struct {
	text string
	// control marks a question about whether a suspect is related to the
	// symptom; suspect holds the words that name the suspect.
	control bool
	suspect string
	// remedy marks a control question about a fix ("did scaling X fix
	// the 503s?"): the answer is whether the symptom went on after it.
	remedy bool
	// named are the failures the question names outside its suspect: what
	// the question is about ("503", "crash looping", "job failed").
	named []*matcher
	// focus are the entities (pods, workloads, objects) the question names
	// outside its suspect; nsFocus its namespaces.
	focus   []string
	nsFocus []string
	// suspectSigs and suspectFocus name the suspect's failure and entities;
	// suspectTerms are its other words, to find its lines by.
	suspectSigs  []*matcher
	suspectFocus []string
	suspectTerms []string
	// suspectTimes are the clock times the suspect names ("at 07:31"),
	// in minutes of the day: the event asked about happened then.
	suspectTimes []int
	// causal marks a question that asks whether the suspect was the cause
	// ("did X cause", "was X the cause of"), not only related.
	causal bool
	// about is the part of the question that names the symptom; terms and
	// codes are its words and HTTP status codes, found on first use.
	about string
	terms []string
	codes []string
}

var (
	auxRE   = regexp.MustCompile(`^\s*(was|were|did|does|do|is|are|could|can|might|may|has|have|had|would|should)\s+(.*)$`)
	tokenRE = regexp.MustCompile(`[a-z0-9][a-z0-9._/-]*[a-z0-9]|[a-z0-9]`)
	// relations split a control question into its suspect and its symptom.
	relations = []string{" related to ", " related with ", " relevant to ", " responsible for ", " to do with ", " connected to ",
		" linked to ", " involved in ", " behind ", " lead to ", " led to ", " leading to ", " result in ", " resulted in ",
		" contribute to ", " contributed to ", " trigger ", " triggered ", " explain ", " cause of ", " causing ", " caused ", " cause "}
	// rootRelations end a control question that names no symptom: "was the
	// disk the root cause?".
	// remedyRelations ask whether an action ended the symptom.
	remedyRelations = []string{" fix ", " fixed ", " help ", " helped ", " stop ", " stopped ", " resolve ", " resolved ", " solve ", " cure ", " end "}
	rootRelations   = []string{" the root cause", " a root cause", " the cause", " a cause", " the reason", " related", " relevant", " to blame"}
	stopWords       = map[string]bool{
		"what": true, "when": true, "where": true, "which": true, "with": true, "without": true, "that": true, "this": true,
		"from": true, "they": true, "their": true, "there": true, "does": true, "root": true, "cause": true, "causes": true,
		"caused": true, "incident": true, "fail": true, "fails": true, "failed": true, "failing": true, "failure": true,
		"requests": true, "request": true, "error": true, "errors": true, "happen": true, "happened": true, "because": true,
		"while": true, "after": true, "before": true, "about": true, "have": true, "were": true, "been": true, "issue": true,
		"wrong": true, "problem": true, "investigate": true, "alert": true, "subject": true, "namespace": true, "cluster": true,
		"pod": true, "pods": true, "deployment": true, "service": true, "container": true, "node": true, "nodes": true, "job": true,
		"jobs": true, "default": true, "labels": true, "label": true, "name": true, "type": true, "application": true, "app": true,
		"down": true, "healthy": true, "check": true, "going": true, "please": true, "could": true, "would": true, "should": true,
		"related": true, "kubernetes": true, "crash": true, "crashing": true, "looping": true, "pending": true, "restart": true,
		"restarted": true, "logs": true, "status": true, "the": true, "and": true, "why": true, "how": true, "into": true,
		"warning": true, "warnings": true, "high": true, "slow": true, "latency": true, "level": true, "chat": true,
		// Words of metric and file names that are no entity.
		"memory": true, "disk": true, "storage": true, "network": true, "traffic": true, "metrics": true, "usage": true,
		"limit": true, "limits": true, "requests_total": true, "errors_total": true,
	}
)

// parseQuestion reads a question against the names the evidence knows.
func (ev *evidence) parseQuestion(question string) *query {
	q := &query{text: question}
	lower := strings.ToLower(strings.TrimSpace(question))
	about := lower
	if m := auxRE.FindStringSubmatch(lower); m != nil {
		rest := " " + strings.TrimRight(m[2], "?!. ") + " "
		suspect, symptom, rel, ok := splitRelation(rest)
		if s, sym, remedy := splitRemedy(rest); remedy {
			suspect, symptom, ok = s, sym, true
			q.remedy = true
		}
		if ok {
			q.control = true
			q.causal = !q.remedy && (strings.Contains(rel, "cause") || strings.Contains(rel, "reason") || strings.Contains(rel, "blame") ||
				strings.Contains(rel, "responsible") || strings.Contains(rel, "behind"))
			q.suspect = strings.TrimSpace(suspect)
			about = symptom
			s := " " + q.suspect + " "
			q.suspectSigs = ev.a.table.named(s)
			q.suspectFocus, _ = ev.focusWords(s)
			words := contentWords(s)
			q.suspectTerms = words
			for _, t := range words {
				q.suspectTerms = append(q.suspectTerms, termAliases[t]...)
			}
			q.suspectTimes = clockTimes(s)
		}
	}
	q.about = about
	q.named = ev.a.table.named(about)
	q.focus, q.nsFocus = ev.focusWords(about)
	// A namespace's name is often an ordinary word ("shop" in "/shop"):
	// it counts only when the question says it is a namespace.
	if !strings.Contains(about, "namespace") && !strings.Contains(about, "ns ") && !strings.Contains(about, "ns=") {
		q.nsFocus = nil
	}
	return q
}

// splitRelation cuts "the OOM kill related to the 503s" into its suspect
// and its symptom.
func splitRelation(s string) (suspect, symptom, relation string, ok bool) {
	best := -1
	var rel string
	for _, r := range relations {
		if i := strings.Index(s, r); i > 0 && (best < 0 || i < best) {
			best, rel = i, r
		}
	}
	if best > 0 {
		// "the cause of" after "was X": the question is about causing.
		if j := strings.Index(s, " the cause"); j > 0 && j < best {
			return s[:j], s[best+len(rel)-1:], "cause", true
		}
		return s[:best], s[best+len(rel)-1:], rel, true
	}
	for _, r := range rootRelations {
		if i := strings.Index(s, r); i > 0 {
			return s[:i], "", r, true
		}
	}
	return "", "", "", false
}

// termAliases are the words objects go by for what people call them: a
// question about mTLS is about PeerAuthentication objects.
var termAliases = map[string][]string{
	"mtls":       {"peerauthentication"},
	"hpa":        {"horizontalpodautoscaler"},
	"autoscaler": {"horizontalpodautoscaler"},
}

var clockRE = regexp.MustCompile(`\b([01]?\d|2[0-3]):([0-5]\d)\b`)

// clockTimes reads the clock times ("07:31") a text names, as minutes of
// the day.
func clockTimes(s string) []int {
	var out []int
	for _, m := range clockRE.FindAllStringSubmatch(s, -1) {
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		out = append(out, h*60+mi)
	}
	return out
}

// nearClock reports whether t is within slack of one of the clock times
// (minutes of the day, UTC), on any day.
func nearClock(t time.Time, times []int, slack int) bool {
	if t.IsZero() {
		return false
	}
	u := t.UTC()
	m := u.Hour()*60 + u.Minute()
	for _, c := range times {
		d := m - c
		if d < 0 {
			d = -d
		}
		if d > 12*60 {
			d = 24*60 - d
		}
		if d <= slack {
			return true
		}
	}
	return false
}

// splitRemedy cuts "scaling payments-api fix the 503s" into the action
// and the symptom it was meant to end.
func splitRemedy(s string) (action, symptom string, ok bool) {
	best := -1
	var rel string
	for _, r := range remedyRelations {
		if i := strings.Index(s, r); i > 0 && (best < 0 || i < best) {
			best, rel = i, r
		}
	}
	if best < 0 {
		return "", "", false
	}
	return s[:best], s[best+len(rel)-1:], true
}

// named returns the signatures whose phrases or aliases the text contains,
// in table order. Short aliases ("oom", "503") must stand as words.
func (t *table) named(text string) []*matcher {
	var out []*matcher
	for _, m := range t.matchers {
		if m.Category == Hint && m.Name == "resource_spike" {
			continue
		}
		if namesAny(text, m.phrases) || namesAny(text, m.aliases) {
			out = append(out, m)
		}
	}
	return out
}

func namesAny(text string, words []string) bool {
	for _, w := range words {
		if len(w) > 4 {
			if strings.Contains(text, w) {
				return true
			}
			continue
		}
		for i := 0; ; {
			j := strings.Index(text[i:], w)
			if j < 0 {
				break
			}
			j += i
			end := j + len(w)
			// "503s" and "OOMs" are still the word.
			if end < len(text) && text[end] == 's' {
				end++
			}
			if (j == 0 || !isAlnum(text[j-1])) && (end == len(text) || !isLetter(text[end])) {
				return true
			}
			i = j + 1
		}
	}
	return false
}

func isAlnum(c byte) bool { return isLetter(c) || '0' <= c && c <= '9' }

// focusWords returns the words of text that name an entity of the evidence
// (a pod, a workload, an object, a node, a source's subject) and, apart,
// those that name a namespace.
func (ev *evidence) focusWords(text string) (entities, namespaces []string) {
	seen := map[string]bool{}
	for _, tok := range tokenRE.FindAllString(text, -1) {
		for _, w := range strings.Split(tok, "/") {
			w = strings.Trim(w, ".-_")
			if len(w) < 4 || stopWords[w] || seen[w] || isDigits(w) {
				continue
			}
			seen[w] = true
			switch {
			case ev.namesEntity(w):
				entities = append(entities, w)
			case ev.namespaces[w]:
				namespaces = append(namespaces, w)
			}
		}
	}
	return entities, namespaces
}

// namesEntity reports whether w is the name of something in the evidence:
// an entity, the start of a pod's name, or the subject of a source (the
// "redis" of "kubectl_describe-pod-redis-...log").
func (ev *evidence) namesEntity(w string) bool {
	if ev.names[w] {
		return true
	}
	for n := range ev.names {
		if strings.HasPrefix(n, w+"-") {
			return true
		}
	}
	for _, s := range ev.pack.Sources {
		if s.Kind == causeway.KindSlack || s.Kind == causeway.KindJira || s.Kind == causeway.KindDoc {
			continue
		}
		if containsName(strings.ToLower(s.Name), w) {
			return true
		}
	}
	return false
}

// containsName reports whether s contains name delimited by anything but
// letters and digits: "redis" in "describe-pod-redis-74f.log", not in
// "redisson".
func containsName(s, name string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], name)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(name)
		if (j == 0 || !isAlnum(s[j-1])) && (end == len(s) || !isAlnum(s[end])) {
			return true
		}
		i = j + 1
	}
}

// contentWords lists the words of text that may find its lines: neither
// stop words nor too short.
func contentWords(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, tok := range tokenRE.FindAllString(text, -1) {
		tok = strings.Trim(tok, ".-_/")
		if len(tok) < 4 || stopWords[tok] || seen[tok] || isDigits(tok) {
			continue
		}
		seen[tok] = true
		out = append(out, tok)
	}
	return out
}

// mentions reports whether a line is about one of the named entities: by
// its attributes, its source's name, or its text for names long enough not
// to be ordinary words.
func (ev *evidence) mentions(h hit, names []string) bool {
	if len(names) == 0 {
		return false
	}
	e := ev.ents[h.idx]
	src := strings.ToLower(h.line.Source)
	var lower string
	for _, n := range names {
		for _, v := range append(e.names(), strings.ToLower(h.line.Attrs["container"])) {
			if v != "" && (v == n || strings.HasPrefix(v, n+"-")) {
				return true
			}
		}
		if containsName(src, n) {
			return true
		}
		// What the line is about, when an attribute names it: the Envoy
		// cluster of an access log line names the service it calls.
		if h.key != "" && containsName(strings.ToLower(h.key), n) {
			return true
		}
		if len(n) >= 6 {
			if lower == "" {
				lower = ev.lowered(h.idx)
			}
			if containsName(lower, n) {
				return true
			}
		}
	}
	return false
}

// mentionsAny reports whether any of the candidate's lines is about one of
// the named entities.
func (ev *evidence) mentionsAny(c *candidate, names []string) bool {
	if len(names) == 0 {
		return false
	}
	for _, h := range c.hits {
		if ev.mentions(h, names) {
			return true
		}
	}
	return false
}

// inNamespaces reports whether the candidate is in one of the namespaces.
func inNamespaces(c *candidate, nss []string) bool {
	for _, ns := range nss {
		if c.namespaces[ns] {
			return true
		}
	}
	return false
}
