package prompt

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
// Prices change too often to be compiled in: they come from a file or flags.
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

// ParsePrice reads "INPUT/OUTPUT[/CACHED]" in dollars per million tokens,
// the form of CAUSEWAY_MODEL_PRICE.
func ParsePrice(spec string) (Price, error) {
	parts := strings.Split(strings.TrimSpace(spec), "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Price{}, causeway.Errorf(causeway.EINVALID, "price %q: want INPUT/OUTPUT[/CACHED] in dollars per million tokens", spec)
	}
	var v [3]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f < 0 {
			return Price{}, causeway.Errorf(causeway.EINVALID, "price %q: %q is not a price", spec, p)
		}
		v[i] = f
	}
	return Price{Input: v[0], Output: v[1], CachedInput: v[2]}, nil
}

// ParseModelPrice reads "MODEL=INPUT/OUTPUT[/CACHED]", the form of a
// --price flag.
func ParseModelPrice(s string) (string, Price, error) {
	model, spec, ok := strings.Cut(s, "=")
	if n := len(strings.Split(spec, "/")); !ok || strings.TrimSpace(model) == "" || n < 2 || n > 3 {
		return "", Price{}, causeway.Errorf(causeway.EINVALID, "price %q: want MODEL=INPUT/OUTPUT[/CACHED] in dollars per million tokens", s)
	}
	p, err := ParsePrice(spec)
	if err != nil {
		return "", Price{}, err
	}
	return strings.TrimSpace(model), p, nil
}

// Cost returns what usage cost on model, and whether the model has a price
// (builtin is free; a model without a price costs 0 and reports false).
// Cached prompt tokens are charged at CachedInput, the rest at Input.
func (p Prices) Cost(model string, u causeway.Usage) (float64, bool) {
	if model == "builtin" {
		return 0, true
	}
	price, ok := p[model]
	if !ok {
		return 0, false
	}
	return price.Cost(u), true
}

// Cost returns what usage cost at this price.
func (price Price) Cost(u causeway.Usage) float64 {
	cached := price.CachedInput
	if cached == 0 {
		cached = price.Input
	}
	fresh := max(u.PromptTokens-u.CachedTokens, 0)
	return (float64(fresh)*price.Input + float64(u.CachedTokens)*cached + float64(u.CompletionTokens)*price.Output) / 1e6
}
