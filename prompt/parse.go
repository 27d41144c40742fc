package prompt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/causeway-rca/causeway"
)

// ParseError is a model reply that holds no answer. Raw keeps the reply as
// received so that it can be stored and shown.
type ParseError struct {
	Raw string
	Err error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("parse answer from %d-byte reply: %v", len(e.Raw), e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// ParseAnswer reads a model's answer from its reply text: strict JSON first,
// then JSON inside a ``` fence, then the first balanced {...} object in the
// text that is an answer. Citations given as bare strings ("L12") are
// accepted with an empty quote, and ids are normalized ("[L12]" → "L12").
// A reply with no answer in it returns a *causeway.Error with code EMODEL
// wrapping a *ParseError that keeps the raw text.
func ParseAnswer(text string) (*causeway.Answer, error) {
	var firstErr error
	for _, candidate := range candidates(text) {
		ans, err := decodeAnswer(candidate)
		if err == nil {
			return ans, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = errors.New("no JSON object in the reply")
	}
	return nil, &causeway.Error{
		Code:    causeway.EMODEL,
		Message: "the model's reply is not a valid answer",
		Err:     &ParseError{Raw: text, Err: firstErr},
	}
}

var (
	fenceRE = regexp.MustCompile("(?s)```[A-Za-z0-9_-]*[ \t]*\r?\n(.*?)```")
	// Reasoning models served through OpenAI-compatible endpoints often
	// think aloud before answering; braces in their thoughts must not be
	// taken for the answer.
	thinkRE = regexp.MustCompile(`(?s)<think>.*?</think>`)
)

// candidates lists the texts that may hold the answer, best first.
func candidates(text string) []string {
	text = strings.TrimSpace(strings.TrimPrefix(text, "\ufeff"))
	out := []string{text}
	stripped := strings.TrimSpace(thinkRE.ReplaceAllString(text, ""))
	if stripped != text {
		out = append(out, stripped)
	}
	for _, m := range fenceRE.FindAllStringSubmatch(stripped, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return append(out, balancedObjects(stripped)...)
}

// balancedObjects returns each top-level {...} span of text, in order,
// matching braces outside JSON strings.
func balancedObjects(text string) []string {
	var out []string
	for start := strings.IndexByte(text, '{'); start >= 0; {
		end := matchBrace(text, start)
		if end < 0 {
			// Unbalanced from here: a later '{' may still open a whole
			// object (the first one may be a stray brace in prose).
			next := strings.IndexByte(text[start+1:], '{')
			if next < 0 {
				break
			}
			start += 1 + next
			continue
		}
		out = append(out, text[start:end+1])
		next := strings.IndexByte(text[end+1:], '{')
		if next < 0 {
			break
		}
		start = end + 1 + next
	}
	return out
}

func matchBrace(text string, start int) int {
	depth, inString, escaped := 0, false, false
	for i := start; i < len(text); i++ {
		c := text[i]
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// wireAnswer is the answer as models actually write it: tolerant of the
// small deviations that do not change its meaning.
type wireAnswer struct {
	RelevantLines []wireCitation `json:"relevant_lines"`
	RootCause     flexString     `json:"root_cause"`
	Summary       flexString     `json:"summary"`
	CausalChain   []wireStep     `json:"causal_chain"`
	Claims        []wireClaim    `json:"claims"`
	RuledOut      []wireRuled    `json:"ruled_out"`
	Remediation   flexStrings    `json:"remediation"`
	OpenQuestions flexStrings    `json:"open_questions"`
	Confidence    flexFloat      `json:"confidence"`
}

type wireStep struct {
	Step      flexFloat      `json:"step"`
	Text      flexString     `json:"text"`
	Citations []wireCitation `json:"citations"`
}

type wireClaim struct {
	Text      flexString     `json:"text"`
	Citations []wireCitation `json:"citations"`
}

type wireRuled struct {
	Hypothesis flexString     `json:"hypothesis"`
	Why        flexString     `json:"why"`
	Citations  []wireCitation `json:"citations"`
}

type wireCitation causeway.Citation

func (c *wireCitation) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = wireCitation{ID: s}
		return nil
	}
	var o struct {
		ID    json.RawMessage `json:"id"`
		Quote flexString      `json:"quote"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("citation is neither an id nor an {id, quote} object: %w", err)
	}
	// Some models write the id as a bare number.
	var id string
	if err := json.Unmarshal(o.ID, &id); err != nil {
		id = string(bytes.TrimSpace(o.ID))
	}
	*c = wireCitation{ID: id, Quote: string(o.Quote)}
	return nil
}

// flexString accepts a string or null.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = flexString(v)
	return nil
}

// flexStrings accepts a list of strings, a single string, or null.
type flexStrings []string

func (s *flexStrings) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		if strings.TrimSpace(one) != "" {
			*s = flexStrings{one}
		}
		return nil
	}
	var many []flexString
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	for _, v := range many {
		*s = append(*s, string(v))
	}
	return nil
}

// flexFloat accepts a number, a numeric string or null.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err == nil {
		*f = flexFloat(v)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return fmt.Errorf("number %q: %w", s, err)
	}
	if pct {
		v /= 100
	}
	*f = flexFloat(v)
	return nil
}

// answerKeys are the fields of which an object must have at least one to
// be taken for an answer rather than some other JSON the model wrote.
var answerKeys = []string{"root_cause", "summary", "causal_chain", "claims"}

func decodeAnswer(text string) (*causeway.Answer, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &keys); err != nil {
		return nil, err
	}
	found := false
	for _, k := range answerKeys {
		if _, ok := keys[k]; ok {
			found = true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("JSON object has none of the answer fields %v", answerKeys)
	}
	var w wireAnswer
	if err := json.Unmarshal([]byte(text), &w); err != nil {
		return nil, err
	}
	return w.answer(), nil
}

func (w *wireAnswer) answer() *causeway.Answer {
	a := &causeway.Answer{
		RootCause:     strings.TrimSpace(string(w.RootCause)),
		Summary:       strings.TrimSpace(string(w.Summary)),
		CausalChain:   []causeway.Step{},
		Claims:        []causeway.Claim{},
		RuledOut:      []causeway.RuledOut{},
		Remediation:   nonNil(w.Remediation),
		OpenQuestions: nonNil(w.OpenQuestions),
		Confidence:    confidence(float64(w.Confidence)),
	}
	if len(w.RelevantLines) > 0 {
		a.RelevantLines = citations(w.RelevantLines)
	}
	for i, s := range w.CausalChain {
		n := int(s.Step)
		if n <= 0 {
			n = i + 1
		}
		a.CausalChain = append(a.CausalChain, causeway.Step{Step: n, Text: string(s.Text), Citations: citations(s.Citations)})
	}
	for _, c := range w.Claims {
		a.Claims = append(a.Claims, causeway.Claim{Text: string(c.Text), Citations: citations(c.Citations)})
	}
	for _, r := range w.RuledOut {
		a.RuledOut = append(a.RuledOut, causeway.RuledOut{Hypothesis: string(r.Hypothesis), Why: string(r.Why), Citations: citations(r.Citations)})
	}
	return a
}

func citations(ws []wireCitation) []causeway.Citation {
	out := make([]causeway.Citation, 0, len(ws))
	for _, w := range ws {
		out = append(out, causeway.Citation{ID: NormalizeID(w.ID), Quote: w.Quote})
	}
	return out
}

// NormalizeID renders a cited line id in its canonical form ("[l12]" →
// "L12"); an id that is not a line id is returned trimmed, to be reported
// as unknown by Verify.
func NormalizeID(id string) string {
	if n, ok := causeway.ParseLineID(id); ok {
		return causeway.LineID(n)
	}
	return strings.TrimSpace(id)
}

// confidence keeps a model's confidence in 0..1, reading 0..100 as percent.
func confidence(v float64) float64 {
	switch {
	case math.IsNaN(v) || v < 0:
		return 0
	case v > 1 && v <= 100:
		return v / 100
	case v > 1:
		return 1
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
