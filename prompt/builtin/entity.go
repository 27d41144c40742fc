package builtin

import (
	"regexp"
	"strings"

	"github.com/causeway-rca/causeway"
)

// entity is what a line is about, as far as its attributes and text tell:
// the pod and the workload it belongs to, or an object, a node or at least
// the source.
type entity struct {
	namespace string
	pod       string
	workload  string // the pod's name without the hashes Kubernetes appends
	node      string
	object    string // kind/name of a non-pod object, when known
}

// key groups the lines of one failure: replicas of one workload fail alike
// and are one candidate, not five.
func (e entity) key(source string) string {
	switch {
	case e.workload != "":
		return "workload/" + e.namespace + "/" + e.workload
	case e.object != "":
		return "object/" + e.namespace + "/" + e.object
	case e.node != "":
		return "node/" + e.node
	}
	return "source/" + source
}

// entityOf reads a line's entity from its attributes, or for a row of a
// kubectl table (which names its pod in the first columns) from its text.
func entityOf(l *causeway.Line, namespaces map[string]bool) entity {
	a := l.Attrs
	e := entity{namespace: a["namespace"], node: a["node"]}
	pod := a["pod"]
	if pod == "" {
		pod = rowSubject(l.Text, namespaces)
	}
	if pod != "" {
		e.pod = pod
		e.workload = workloadOf(pod)
		return e
	}
	if name := a["name"]; name != "" {
		e.object = strings.ToLower(a["kind"]) + "/" + name
	}
	return e
}

var (
	objectRefRE = regexp.MustCompile(`\b[Pp]od/([a-z0-9][a-z0-9.-]*[a-z0-9])`)
	// podFieldRE finds a pod named by a field of a structured line:
	// "pod":"api-7d9f-x2x9k" in JSON, pod="shop/api-7d9f-x2x9k" in logfmt.
	podFieldRE = regexp.MustCompile(`\bpod"?\s*[:=]\s*"?(?:[a-z0-9-]+/)?([a-z0-9][a-z0-9.-]*[a-z0-9])`)
	k8sNameRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)
)

// rowSubject finds the pod a kubectl table row or a lineage line is about:
// "payment-processing-worker-747ccfb9db-4wrhh   0/1   CrashLoopBackOff ..."
// (optionally after its namespace) or "├── Pod/product-data-scraper-2s4j2".
func rowSubject(text string, namespaces map[string]bool) string {
	if strings.Contains(text, "od/") {
		if m := objectRefRE.FindStringSubmatch(text); m != nil {
			return m[1]
		}
	}
	if strings.Contains(text, "pod\"") || strings.Contains(text, "pod=") {
		if m := podFieldRE.FindStringSubmatch(text); m != nil && strings.Contains(m[1], "-") {
			return m[1]
		}
	}
	// A table row: at least four columns separated by runs of spaces, the
	// ready count ("0/1") among them.
	if !strings.Contains(text, "  ") || !strings.Contains(text, "/") {
		return ""
	}
	fields := strings.Fields(text)
	if len(fields) < 4 {
		return ""
	}
	first := fields[0]
	if namespaces[first] && len(fields) > 4 {
		first = fields[1]
	}
	if !k8sNameRE.MatchString(first) || !strings.Contains(first, "-") || !isReadyCount(fields) {
		return ""
	}
	return first
}

func isReadyCount(fields []string) bool {
	for _, f := range fields[1:min(len(fields), 4)] {
		if i := strings.IndexByte(f, '/'); i > 0 && i < len(f)-1 && isDigits(f[:i]) && isDigits(f[i+1:]) {
			return true
		}
	}
	return false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// workloadOf strips what Kubernetes appends to a workload's name to name
// its pods: the random suffix and the ReplicaSet's template hash (both
// from an alphabet without vowels: "web-7d9f8b6c5-x2x9z" is "web"), or a
// StatefulSet's ordinal ("rabbitmq-0").
func workloadOf(pod string) string {
	name := pod
	for range 2 {
		i := strings.LastIndexByte(name, '-')
		if i <= 0 {
			break
		}
		seg := name[i+1:]
		if !isGeneratedSegment(seg) && !isPodSuffixAfterHash(name[:i], seg) {
			break
		}
		name = name[:i]
	}
	if name == pod {
		if i := strings.LastIndexByte(name, '-'); i > 0 && isDigits(name[i+1:]) {
			name = name[:i]
		}
	}
	return name
}

// isPodSuffixAfterHash reports whether seg is a pod's five-character
// suffix after a ReplicaSet's template hash, even with characters
// Kubernetes' own generator leaves out: pod names from other tools and
// hand-written examples vary, and the hash before it is telling enough.
func isPodSuffixAfterHash(rest, seg string) bool {
	if len(seg) != 5 {
		return false
	}
	for i := 0; i < len(seg); i++ {
		if !('a' <= seg[i] && seg[i] <= 'z' || '0' <= seg[i] && seg[i] <= '9') {
			return false
		}
	}
	j := strings.LastIndexByte(rest, '-')
	return j > 0 && len(rest)-j-1 >= 8 && isGeneratedSegment(rest[j+1:])
}

// isGeneratedSegment reports whether s looks like Kubernetes' random
// strings: 5 to 10 characters of "bcdfghjklmnpqrstvwxz2456789".
func isGeneratedSegment(s string) bool {
	if len(s) < 5 || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", rune(s[i])) {
			return false
		}
	}
	return true
}

// names lists every name a line's entity goes by, lower case, for matching
// the words of a question and the mentions of other lines.
func (e entity) names() []string {
	var out []string
	for _, s := range []string{e.pod, e.workload, e.node, e.object} {
		if s != "" {
			out = append(out, strings.ToLower(s))
		}
	}
	return out
}

// component names what a hit's line is about in prose: its pod, from its
// attributes or (for a kubectl table row) its text, else its object, node
// or source.
func (ev *evidence) component(h hit) string {
	if h.line.Attrs["pod"] == "" && h.idx < len(ev.ents) {
		if e := ev.ents[h.idx]; e.pod != "" && ev.pack.Lines[h.idx].Num == h.line.Num {
			if e.namespace != "" {
				return "pod " + e.namespace + "/" + e.pod
			}
			return "pod " + e.pod
		}
	}
	return component(h.line)
}

// where names the component a hit's line comes from, with its source.
func (ev *evidence) where(h hit) string {
	c := ev.component(h)
	if c == h.line.Source {
		return c
	}
	return c + " (" + h.line.Source + ")"
}

// component names what a line is about in prose from its attributes: its
// pod when known, else its object, node or source.
func component(l *causeway.Line) string {
	if pod := l.Attrs["pod"]; pod != "" {
		if ns := l.Attrs["namespace"]; ns != "" {
			return "pod " + ns + "/" + pod
		}
		return "pod " + pod
	}
	if name := l.Attrs["name"]; name != "" {
		kind := l.Attrs["kind"]
		if kind == "" {
			kind = "object"
		}
		if ns := l.Attrs["namespace"]; ns != "" {
			return kind + " " + ns + "/" + name
		}
		return kind + " " + name
	}
	if n := l.Attrs["node"]; n != "" {
		return "node " + n
	}
	return l.Source
}
