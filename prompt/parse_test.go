package prompt_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt"
)

func TestParseAnswer(t *testing.T) {
	const strict = `{"root_cause":"disk full","summary":"s","causal_chain":[{"step":1,"text":"disk","citations":[{"id":"L14","quote":"no space left on device"}]}],"claims":[],"ruled_out":[],"remediation":["free space"],"open_questions":[],"confidence":0.8}`
	want := &causeway.Answer{
		RootCause: "disk full", Summary: "s",
		CausalChain: []causeway.Step{{Step: 1, Text: "disk", Citations: []causeway.Citation{{ID: "L14", Quote: "no space left on device"}}}},
		Claims:      []causeway.Claim{}, RuledOut: []causeway.RuledOut{},
		Remediation: []string{"free space"}, OpenQuestions: []string{}, Confidence: 0.8,
	}
	tests := []struct {
		name string
		text string
		want *causeway.Answer
	}{
		{"strict", strict, want},
		{"strict with whitespace", "\n  " + strict + "\n", want},
		{"fenced", "Here is the answer:\n```json\n" + strict + "\n```\nHope it helps.", want},
		{"bare fence", "```\n" + strict + "\n```", want},
		{"prose around", "After reviewing the lines {briefly}, my answer is " + strict + " -- let me know.", want},
		{"think block first", "<think>maybe {\"root_cause\": \"dns\"} no</think>\n" + strict, want},
		{"other object first", `{"note":"draft"} then ` + strict, want},
		{"ids and loose types",
			`{"root_cause":"disk full","causal_chain":[{"text":"disk","citations":["[L14]", {"id":"l15","quote":"q"}, {"id": 16, "quote": "n"}]}],"claims":null,"remediation":"free space","confidence":"80%"}`,
			&causeway.Answer{
				RootCause: "disk full",
				CausalChain: []causeway.Step{{Step: 1, Text: "disk", Citations: []causeway.Citation{
					{ID: "L14"}, {ID: "L15", Quote: "q"}, {ID: "16", Quote: "n"},
				}}},
				Claims: []causeway.Claim{}, RuledOut: []causeway.RuledOut{},
				Remediation: []string{"free space"}, OpenQuestions: []string{}, Confidence: 0.8,
			}},
		{"confidence clamped", `{"root_cause":"x","confidence":7}`,
			&causeway.Answer{RootCause: "x", CausalChain: []causeway.Step{}, Claims: []causeway.Claim{}, RuledOut: []causeway.RuledOut{},
				Remediation: []string{}, OpenQuestions: []string{}, Confidence: 0.07}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := prompt.ParseAnswer(tt.text)
			if err != nil {
				t.Fatalf("ParseAnswer: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseAnswerRejects(t *testing.T) {
	tests := []struct{ name, text string }{
		{"garbage", "I think it is probably DNS. It is always DNS."},
		{"empty", ""},
		{"truncated JSON", `{"root_cause":"disk full","causal_chain":[{"step":1,"text":"disk","citations":[{"id":"L1`},
		{"not an answer", `{"error": "rate limited"}`},
		{"wrong types", `{"root_cause": {"text": "x"}, "claims": 3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans, err := prompt.ParseAnswer(tt.text)
			if err == nil {
				t.Fatalf("ParseAnswer accepted %q as %+v", tt.text, ans)
			}
			if code := causeway.ErrorCode(err); code != causeway.EMODEL {
				t.Errorf("error code = %q, want %q", code, causeway.EMODEL)
			}
			var pe *prompt.ParseError
			if !errors.As(err, &pe) || pe.Raw != tt.text {
				t.Errorf("error does not keep the raw reply: %v", err)
			}
		})
	}
}
