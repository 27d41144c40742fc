package files

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/causeway-rca/causeway"
)

type jiraUser struct {
	DisplayName string `json:"displayName"`
	Name        string `json:"name"`
	AccountID   string `json:"accountId"`
}

func (u *jiraUser) String() string {
	if u == nil {
		return ""
	}
	return firstNonEmpty(u.DisplayName, u.Name, u.AccountID)
}

type jiraNamed struct {
	Name string `json:"name"`
}

func (n *jiraNamed) String() string {
	if n == nil {
		return ""
	}
	return n.Name
}

// jiraIssue is a Jira REST issue (v2, or v3 with Atlassian Document
// Format bodies).
type jiraIssue struct {
	Key    string `json:"key"`
	Fields struct {
		Summary        string          `json:"summary"`
		Description    json.RawMessage `json:"description"`
		Created        apiTime         `json:"created"`
		ResolutionDate apiTime         `json:"resolutiondate"`
		Status         *jiraNamed      `json:"status"`
		IssueType      *jiraNamed      `json:"issuetype"`
		Priority       *jiraNamed      `json:"priority"`
		Resolution     *jiraNamed      `json:"resolution"`
		Reporter       *jiraUser       `json:"reporter"`
		Creator        *jiraUser       `json:"creator"`
		Comment        *struct {
			Comments []json.RawMessage `json:"comments"`
		} `json:"comment"`
	} `json:"fields"`
}

type jiraComment struct {
	Author  *jiraUser       `json:"author"`
	Body    json.RawMessage `json:"body"`
	Created apiTime         `json:"created"`
}

// parseJira reads an issue (or a search result's issues). Lines: the
// summary with status at creation; the description, one line per
// paragraph; every comment, one line per paragraph, each prefixed with
// "KEY comment by Name:" so that a line read alone still says who said it;
// the resolution at its date.
func parseJira(o *out, data []byte) error {
	var search struct {
		Issues []json.RawMessage `json:"issues"`
	}
	if err := json.Unmarshal(data, &search); err != nil {
		return err
	}
	raws := search.Issues
	if raws == nil {
		raws = []json.RawMessage{data}
	}
	return decodeItems(o, raws, "issue", func(_ int, is *jiraIssue) error {
		return issueLines(o, is)
	})
}

func issueLines(o *out, is *jiraIssue) error {
	f := &is.Fields
	reporter := firstNonEmpty(f.Reporter.String(), f.Creator.String())
	line := func(kind causeway.LineKind, author, text string, t apiTime) error {
		attrs := o.attrs(2)
		attrs["ticket"] = is.Key
		attrs["author"] = author
		return o.addText(causeway.Line{Kind: kind, Time: t.Time, Text: text, Attrs: attrs})
	}
	var facts []string
	for _, fact := range [...]struct{ label, value string }{
		{"status ", f.Status.String()}, {"", f.IssueType.String()},
		{"priority ", f.Priority.String()}, {"reported by ", reporter},
	} {
		if fact.value != "" {
			facts = append(facts, fact.label+fact.value)
		}
	}
	head := is.Key + " " + f.Summary
	if len(facts) > 0 {
		head += " (" + strings.Join(facts, ", ") + ")"
	}
	if err := line(causeway.LineComment, reporter, head, f.Created); err != nil {
		return err
	}
	for _, p := range paragraphs(f.Description) {
		if err := line(causeway.LineComment, reporter, is.Key+" description: "+p, f.Created); err != nil {
			return err
		}
	}
	if f.Comment != nil {
		err := decodeItems(o, f.Comment.Comments, "comment", func(_ int, c *jiraComment) error {
			author := firstNonEmpty(c.Author.String(), "unknown")
			for _, p := range paragraphs(c.Body) {
				if err := line(causeway.LineComment, author, is.Key+" comment by "+author+": "+p, c.Created); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if !f.ResolutionDate.IsZero() {
		text := is.Key + " resolved"
		if r := f.Resolution.String(); r != "" {
			text += " as " + r
		}
		return line(causeway.LineComment, "", text, f.ResolutionDate)
	}
	return nil
}

var blankLines = regexp.MustCompile(`\n[ \t\r]*\n`)

// paragraphs splits a body into paragraphs: a v2 wiki-markup string at
// blank lines, a v3 document at its blocks.
func paragraphs(raw json.RawMessage) []string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var parts []string
	if s, ok := jsonString(raw); ok {
		parts = blankLines.Split(strings.ReplaceAll(s, "\r\n", "\n"), -1)
	} else {
		var doc adfNode
		if json.Unmarshal(raw, &doc) != nil {
			return nil
		}
		parts = doc.blocks(nil)
	}
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// adfNode is a node of an Atlassian Document Format document.
type adfNode struct {
	Type    string    `json:"type"`
	Text    string    `json:"text"`
	Content []adfNode `json:"content"`
	Attrs   struct {
		Text      string `json:"text"`
		ShortName string `json:"shortName"`
		URL       string `json:"url"`
	} `json:"attrs"`
}

// blocks appends the text of each paragraph-like block under n.
func (n *adfNode) blocks(out []string) []string {
	switch n.Type {
	case "paragraph", "heading", "codeBlock":
		var b strings.Builder
		n.inline(&b)
		return append(out, b.String())
	}
	for i := range n.Content {
		out = n.Content[i].blocks(out)
	}
	return out
}

func (n *adfNode) inline(b *strings.Builder) {
	switch n.Type {
	case "text":
		b.WriteString(n.Text)
	case "hardBreak":
		b.WriteByte(' ')
	case "mention":
		b.WriteString(n.Attrs.Text)
	case "emoji":
		b.WriteString(n.Attrs.ShortName)
	case "inlineCard":
		b.WriteString(n.Attrs.URL)
	}
	for i := range n.Content {
		n.Content[i].inline(b)
	}
}
