package eval

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt"
)

// Judgement is a judge model's verdict on whether a given root cause is the
// expected one.
type Judgement struct {
	Model  string `json:"model"`
	Match  bool   `json:"match"`
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// Usage is what judging cost; it is not charged to the model judged.
	Usage causeway.Usage `json:"usage"`
}

//go:embed templates/judge.tmpl
var templateFS embed.FS

var judgeTemplates = template.Must(template.ParseFS(templateFS, "templates/judge.tmpl"))

// judgeSchema asks endpoints with structured outputs for the judgement
// itself rather than Causeway's answer schema.
var judgeSchema = []byte(`{"type":"object","additionalProperties":false,"required":["match","reason"],"properties":{"match":{"type":"boolean"},"reason":{"type":"string"}}}`)

// Judge asks model whether given names the same root cause as expected.
// The judge sees no evidence, only the two texts and the question, so that
// its verdict is about the conclusion, not about the evidence. Endpoints
// that force Causeway's answer schema are understood too: the verdict then
// comes as root_cause "match" or "no match".
func Judge(ctx context.Context, model causeway.Model, question, expected, given string) *Judgement {
	j := &Judgement{Model: model.Name()}
	data := struct{ Question, Expected, Given string }{question, expected, given}
	msgs := make([]causeway.Message, 0, 2)
	for _, part := range []struct{ role, name string }{{"system", "system"}, {"user", "user"}} {
		var b strings.Builder
		if err := judgeTemplates.ExecuteTemplate(&b, part.name, data); err != nil {
			j.Error = fmt.Sprintf("render judge prompt: %v", err)
			return j
		}
		msgs = append(msgs, causeway.Message{Role: part.role, Content: b.String()})
	}
	reply, err := model.Ask(ctx, causeway.ModelRequest{Messages: msgs, Question: msgs[1].Content, MaxTokens: 300,
		Schema: judgeSchema, SchemaName: "causeway_judgement"})
	if err != nil {
		j.Error = err.Error()
		return j
	}
	j.Usage = reply.Usage
	j.Match, j.Reason, err = parseVerdict(reply.Text)
	if err != nil {
		j.Error = err.Error()
	}
	return j
}

// parseVerdict reads {"match": bool, "reason": ...}, or an answer whose
// root_cause is "match" or "no match".
func parseVerdict(text string) (bool, string, error) {
	start, end := strings.IndexByte(text, '{'), strings.LastIndexByte(text, '}')
	if start >= 0 && end > start {
		var v struct {
			Match  *bool  `json:"match"`
			Reason string `json:"reason"`
		}
		if json.Unmarshal([]byte(text[start:end+1]), &v) == nil && v.Match != nil {
			return *v.Match, v.Reason, nil
		}
	}
	if a, err := prompt.ParseAnswer(text); err == nil {
		switch strings.Trim(strings.ToLower(strings.TrimSpace(a.RootCause)), ".\"'") {
		case "match", "yes", "true":
			return true, a.Summary, nil
		case "no match", "no", "false", "mismatch":
			return false, a.Summary, nil
		}
	}
	return false, "", causeway.Errorf(causeway.EMODEL, "judge reply has no verdict: %.200q", text)
}
