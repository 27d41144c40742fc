package chunking

import (
	"strings"
	"unicode/utf8"
)

// Wildcard stands for a masked variable in a template.
const Wildcard = "<*>"

// Mask returns text with its variable parts (numbers, hex ids, UUIDs, IPs,
// pod hashes, durations) replaced by Wildcard, so that lines that differ
// only in those parts look alike. It is the masking step of Drain. A token
// is what lies between separators (spaces, quotes, brackets, '=', ',',
// '/'...); it is variable when it holds a digit and looks like a value
// rather than a name (see isVariable). Variables joined by ',', '/', ';',
// '|' or '@' alone ("10.0.0.1,10.0.0.2", "2016/9/27") become one.
func Mask(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	i := 0
	for i < len(text) {
		j := i
		for j < len(text) && !isSep(text[j]) {
			j++
		}
		if j == i {
			b.WriteByte(text[i])
			i++
			continue
		}
		tok := text[i:j]
		if !isVariable(tok) {
			b.WriteString(tok)
			i = j
			continue
		}
		b.WriteString(Wildcard)
		i = j
		for i < len(text) && isJoiner(text[i]) {
			k := i + 1
			for k < len(text) && !isSep(text[k]) {
				k++
			}
			if k == i+1 || !isVariable(text[i+1:k]) {
				break
			}
			i = k
		}
	}
	return b.String()
}

func isSep(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ';', '=', '"', '\'', '(', ')', '[', ']', '{', '}', '<', '>', '/', '|', '@':
		return true
	}
	return false
}

func isJoiner(c byte) bool { return c == ',' || c == '/' || c == ';' || c == '|' || c == '@' }

// isVariable reports whether a token looks like a value rather than a
// word: it holds a digit and starts with one ("3ms", "10.0.0.12:5432",
// "0x80004005"), or joins parts with '.', ':', '-', '_' or '+' ("v1.2.8",
// "web-5d8f7c9b4-x2x9z", "blk_-695"), or is a third or more digits ("u0",
// "x509"); or it is a long hex string. A name with a digit in it ("SOCKS5",
// "ipv4", "eth0") stays, because it names a thing rather than a value.
func isVariable(tok string) bool {
	if tok == Wildcard {
		return false
	}
	digits, hex, joined := 0, 0, false
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; {
		case c >= '0' && c <= '9':
			digits++
			hex++
		case c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
			hex++
		case c == '.' || c == ':' || c == '-' || c == '_' || c == '+':
			joined = joined || i > 0
		}
	}
	if digits == 0 {
		return hex >= 16 && hex == utf8.RuneCountInString(tok) // a hex hash without digits is rare but possible
	}
	first := tok[0]
	return first >= '0' && first <= '9' || joined || 10*digits >= 3*len(tok) || hex == len(tok) && len(tok) >= 8
}

// Drain groups lines into templates as they arrive, after He et al., "Drain:
// An Online Log Parsing Approach with Fixed Depth Tree" (ICWS 2017): a line
// is masked and split into words; a tree keyed by the number of words and
// then by the first words leads to a short list of templates; the line
// joins the most similar one when enough of its words agree, and the
// template's differing words become wildcards; otherwise it starts a new
// template. One Drain serves one source, whose lines it must see in order.
//
// Two rules are Causeway's own. A word that says something went wrong
// (error, failed, refused...) is never turned into a wildcard, so "connect
// failed" and "connect succeeded" stay apart however alike they are. And a
// line whose masked text was seen before joins the same template without a
// search, which makes repeated lines, most of a log, cost one map lookup.
//
// A Drain is not safe for concurrent use.
type Drain struct {
	// Depth is the depth of the tree: the word-count level, Depth-2 levels
	// of leading words, and the leaves. DefaultDrainDepth when zero.
	Depth int
	// Similarity is the share of a template's words that a line must match
	// to join it. DefaultDrainSimilarity when zero.
	Similarity float64
	// MaxChildren bounds a tree node's children; further words share a
	// wildcard child. DefaultDrainChildren when zero.
	MaxChildren int

	root     map[int]*drainNode
	clusters []*Cluster
	seen     map[string]*Cluster
}

// The defaults, chosen on the Loghub-2k benchmark for all its systems at
// once rather than per system (see docs/benchmarks.md).
const (
	DefaultDrainDepth      = 4
	DefaultDrainSimilarity = 0.7
	DefaultDrainChildren   = 100
	maxSeen                = 1 << 17 // masked texts remembered before the memo starts afresh
)

// Cluster is one template of a Drain: its words, with Wildcard where lines
// differ.
type Cluster struct {
	// ID numbers the clusters of a Drain from 1 in order of creation.
	ID int
	// Version counts the changes of the template; lines given an older
	// version's template need the current one (see Annotator.Flush).
	Version int
	// Count is the number of lines that joined the cluster.
	Count int64

	words []string
	text  string
}

// Template returns the cluster's template text: its words joined by
// single spaces.
func (c *Cluster) Template() string { return c.text }

type drainNode struct {
	children map[string]*drainNode
	clusters []*Cluster
}

// NewDrain returns a Drain with the default settings.
func NewDrain() *Drain { return &Drain{} }

func (d *Drain) settings() (depth int, sim float64, children int) {
	depth, sim, children = d.Depth, d.Similarity, d.MaxChildren
	if depth < 3 {
		depth = DefaultDrainDepth
	}
	if sim <= 0 {
		sim = DefaultDrainSimilarity
	}
	if children <= 0 {
		children = DefaultDrainChildren
	}
	return depth, sim, children
}

// Clusters returns the clusters in order of creation.
func (d *Drain) Clusters() []*Cluster { return d.clusters }

// Add files a line under its template and returns the cluster, whose
// template may have changed (its Version then grew).
func (d *Drain) Add(text string) *Cluster {
	return d.AddMasked(Mask(text))
}

// AddMasked is Add for text that Mask has already been applied to, so that
// callers can mask in parallel and keep only the tree walk in order.
func (d *Drain) AddMasked(masked string) *Cluster {
	if c, ok := d.seen[masked]; ok {
		c.Count++
		return c
	}
	if d.root == nil {
		d.root = make(map[int]*drainNode)
		d.seen = make(map[string]*Cluster)
	}
	words := strings.Fields(masked)
	leaf := d.leaf(words)
	_, sim, _ := d.settings()
	c := bestMatch(leaf.clusters, words, sim)
	if c == nil {
		c = &Cluster{ID: len(d.clusters) + 1, words: words, text: strings.Join(words, " ")}
		d.clusters = append(d.clusters, c)
		leaf.clusters = append(leaf.clusters, c)
	} else if merge(c, words) {
		c.Version++
		c.text = strings.Join(c.words, " ")
	}
	c.Count++
	if len(d.seen) >= maxSeen {
		clear(d.seen)
	}
	d.seen[masked] = c
	return c
}

// leaf walks (and grows) the tree to the leaf for words.
func (d *Drain) leaf(words []string) *drainNode {
	depth, _, maxChildren := d.settings()
	n := d.root[len(words)]
	if n == nil {
		n = &drainNode{}
		d.root[len(words)] = n
	}
	for i := 0; i < depth-2 && i < len(words); i++ {
		key := words[i]
		if hasDigit(key) {
			key = Wildcard
		}
		if n.children == nil {
			n.children = make(map[string]*drainNode)
		}
		next := n.children[key]
		if next == nil {
			if len(n.children) >= maxChildren-1 && key != Wildcard {
				key = Wildcard
				next = n.children[key]
			}
			if next == nil {
				next = &drainNode{}
				n.children[key] = next
			}
		}
		n = next
	}
	return n
}

// bestMatch returns the cluster most similar to words if it is similar
// enough: the share of positions where the template has the same word (a
// wildcard where the line has a masked value counts as the same), ties
// going to the template with more wildcards and then to the older one.
// Unlike Drain3's include_params, a wildcard against a plain word does not
// count, so a template that has turned to wildcards stops absorbing lines.
func bestMatch(clusters []*Cluster, words []string, threshold float64) *Cluster {
	var best *Cluster
	bestSim, bestParams := -1.0, -1
	for _, c := range clusters {
		same, params, ok := similarity(c.words, words)
		if !ok {
			continue
		}
		sim := 1.0
		if len(words) > 0 {
			sim = float64(same) / float64(len(words))
		}
		if sim > bestSim || sim == bestSim && params > bestParams {
			best, bestSim, bestParams = c, sim, params
		}
	}
	if best == nil || bestSim < threshold {
		return nil
	}
	return best
}

// similarity counts the positions where template and words agree and those
// where the template has a wildcard; ok is false when they differ in a word
// that must not become a wildcard.
func similarity(template, words []string) (same, params int, ok bool) {
	for i, t := range template {
		switch w := words[i]; {
		case t == Wildcard && w != Wildcard:
			params++
		case t == w:
			same++
		case isFailureWord(t) || isFailureWord(w):
			return 0, 0, false
		}
	}
	return same, params, true
}

// merge turns the template's words that differ from words into wildcards
// and reports whether anything changed.
func merge(c *Cluster, words []string) bool {
	changed := false
	for i, t := range c.words {
		if t != Wildcard && t != words[i] {
			if !changed {
				c.words = append([]string(nil), c.words...) // the old slice may be shared by callers
			}
			c.words[i] = Wildcard
			changed = true
		}
	}
	return changed
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			return true
		}
	}
	return false
}

// failureStems are the word stems that keep templates apart. They are the
// outcome words of log lines; see failureWords in signals.go for the
// phrases that score.
var failureStems = []string{"error", "fail", "fatal", "panic", "refused", "denied", "timeout", "timed", "killed",
	"unhealthy", "unavailable", "invalid", "exception", "warn", "crit", "abort", "reject", "oom", "evict", "unable", "cannot"}

// isFailureWord reports whether a word (case aside, punctuation around it
// ignored) starts with a failure stem.
func isFailureWord(w string) bool {
	w = strings.TrimLeft(w, `"'([{<:*-`)
	if len(w) < 3 {
		return false
	}
	for _, stem := range failureStems {
		if len(w) >= len(stem) && strings.EqualFold(w[:len(stem)], stem) {
			return true
		}
	}
	return false
}
