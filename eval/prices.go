package eval

import (
	"bytes"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/causeway-rca/causeway"
)

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	Input  float64 `yaml:"input" json:"input"`
	Output float64 `yaml:"output" json:"output"`
	// CachedInput is the price of prompt tokens served from the provider's
	// cache; zero means the same as Input.
	CachedInput float64 `yaml:"cached_input" json:"cached_input,omitempty"`
}

// Prices maps model names to their prices. The builtin model is free.
type Prices map[string]Price

// ReadPrices reads a price file: YAML (or JSON) mapping each model name to
// {input, output, cached_input} in dollars per million tokens.
//
//	gpt-4.1: {input: 2.00, cached_input: 0.50, output: 8.00}
func ReadPrices(name string) (Prices, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, &causeway.Error{Code: causeway.EINVALID, Message: "read prices", Err: err}
	}
	var p Prices
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, &causeway.Error{Code: causeway.EINVALID, Message: "prices " + name, Err: err}
	}
	for model, price := range p {
		if price.Input < 0 || price.Output < 0 || price.CachedInput < 0 {
			return nil, causeway.Errorf(causeway.EINVALID, "prices %s: %s has a negative price", name, model)
		}
	}
	return p, nil
}

// ParsePrice reads "MODEL=INPUT/OUTPUT[/CACHED]" (dollars per million
// tokens), the form of the --price flag.
func ParsePrice(s string) (string, Price, error) {
	model, spec, ok := strings.Cut(s, "=")
	parts := strings.Split(spec, "/")
	if !ok || model == "" || len(parts) < 2 || len(parts) > 3 {
		return "", Price{}, causeway.Errorf(causeway.EINVALID, "price %q: want MODEL=INPUT/OUTPUT[/CACHED] in dollars per million tokens", s)
	}
	var v [3]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f < 0 {
			return "", Price{}, causeway.Errorf(causeway.EINVALID, "price %q: %q is not a price", s, p)
		}
		v[i] = f
	}
	return model, Price{Input: v[0], Output: v[1], CachedInput: v[2]}, nil
}

// Cost returns what usage cost on model, and whether the model has a price
// (builtin is free; a model without a price costs 0 and reports false).
func (p Prices) Cost(model string, u causeway.Usage) (float64, bool) {
	if model == "builtin" {
		return 0, true
	}
	price, ok := p[model]
	if !ok {
		return 0, false
	}
	cached := price.CachedInput
	if cached == 0 {
		cached = price.Input
	}
	fresh := max(u.PromptTokens-u.CachedTokens, 0)
	return (float64(fresh)*price.Input + float64(u.CachedTokens)*cached + float64(u.CompletionTokens)*price.Output) / 1e6, true
}
