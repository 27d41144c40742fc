package memory

import (
	"path"
	"strconv"
	"strings"
)

// Section is one heading's part of a markdown document, as embedded and
// shown: Title is the document's title and the heading path ("Envoy
// Gateway runbook › Disk pressure › Check"), so that a section found alone
// still says where it belongs.
type Section struct {
	Title string
	Body  string
}

// maxSection bounds a section's body in bytes; a longer one is split at
// paragraphs into parts that keep its title, so that one vector does not
// average a whole chapter.
const maxSection = 2000

// Sections splits a markdown document into its sections by heading
// (outside code fences). The document's title is its first level-1 heading,
// or name without extension. Text before the first heading is a section of
// its own; headings without text are folded into their subsections' titles.
func Sections(name, markdown string) []Section {
	docTitle := strings.TrimSuffix(path.Base(name), path.Ext(name))
	var heads []string // heading path below the document title
	levels := []int{}
	var out []Section
	var body strings.Builder
	titled := false
	flush := func() {
		text := strings.TrimSpace(body.String())
		body.Reset()
		if text == "" {
			return
		}
		title := strings.Join(append([]string{docTitle}, heads...), " › ")
		for i, part := range splitParagraphs(text, maxSection) {
			t := title
			if i > 0 {
				t += " (part " + strconv.Itoa(i+1) + ")"
			}
			out = append(out, Section{Title: t, Body: part})
		}
	}
	fence := ""
	for _, line := range strings.Split(markdown, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case fence != "":
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
		case strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~"):
			fence = trimmed[:3]
		case strings.HasPrefix(trimmed, "#"):
			level := len(trimmed) - len(strings.TrimLeft(trimmed, "#"))
			rest := trimmed[level:]
			if level > 6 || (rest != "" && rest[0] != ' ') {
				break
			}
			heading := strings.TrimSpace(strings.TrimRight(rest, "# "))
			flush()
			if level == 1 && !titled && len(heads) == 0 {
				titled, docTitle = true, heading
				continue
			}
			for len(levels) > 0 && levels[len(levels)-1] >= level {
				levels, heads = levels[:len(levels)-1], heads[:len(heads)-1]
			}
			levels, heads = append(levels, level), append(heads, heading)
			continue
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	flush()
	return out
}

// splitParagraphs cuts text into parts of at most max bytes at blank
// lines (or, for a longer paragraph, at line ends).
func splitParagraphs(text string, max int) []string {
	if len(text) <= max {
		return []string{text}
	}
	var parts []string
	var cur strings.Builder
	for _, para := range strings.SplitAfter(text, "\n") {
		if cur.Len() > 0 && cur.Len()+len(para) > max {
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
		cur.WriteString(para)
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		parts = append(parts, s)
	}
	return parts
}
