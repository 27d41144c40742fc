package prompt_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/prompt"
)

func TestPricesCost(t *testing.T) {
	p := prompt.Prices{"gpt-x": {Input: 2, Output: 8, CachedInput: 0.5}, "flat": {Input: 1, Output: 1}}
	u := causeway.Usage{PromptTokens: 1_000_000, CachedTokens: 500_000, CompletionTokens: 100_000}
	tests := []struct {
		model  string
		cost   float64
		priced bool
	}{
		{"gpt-x", 0.5*2 + 0.5*0.5 + 0.1*8, true},
		{"flat", 1 + 0.1, true}, // cached input costs what input does
		{"builtin", 0, true},
		{"unknown", 0, false},
	}
	for _, tt := range tests {
		cost, priced := p.Cost(tt.model, u)
		if cost-tt.cost > 1e-9 || tt.cost-cost > 1e-9 || priced != tt.priced {
			t.Errorf("Cost(%s) = %v, %v; want %v, %v", tt.model, cost, priced, tt.cost, tt.priced)
		}
	}
}

func TestParsePrices(t *testing.T) {
	if p, err := prompt.ParsePrice("2.5/10/1.25"); err != nil || p != (prompt.Price{Input: 2.5, Output: 10, CachedInput: 1.25}) {
		t.Errorf("ParsePrice = %+v, %v", p, err)
	}
	if m, p, err := prompt.ParseModelPrice("gpt-4.1=2/8"); err != nil || m != "gpt-4.1" || p.Output != 8 {
		t.Errorf("ParseModelPrice = %q %+v %v", m, p, err)
	}
	for _, bad := range []string{"2", "a/b", "-1/2", "1/2/3/4"} {
		if _, err := prompt.ParsePrice(bad); causeway.ErrorCode(err) != causeway.EINVALID {
			t.Errorf("ParsePrice(%q) = %v, want EINVALID", bad, err)
		}
	}

	dir := t.TempDir()
	good := filepath.Join(dir, "prices.yaml")
	os.WriteFile(good, []byte("gpt-4.1: {input: 2.00, cached_input: 0.50, output: 8.00}\nlocal: {input: 0, output: 0}\n"), 0o644)
	p, err := prompt.ReadPrices(good)
	if err != nil || p["gpt-4.1"].CachedInput != 0.5 || len(p) != 2 {
		t.Errorf("ReadPrices = %+v, %v", p, err)
	}
	for i, text := range []string{"gpt: {input: -1, output: 2}", "gpt: {inptu: 1}"} {
		f := filepath.Join(dir, "bad"+string(rune('0'+i))+".yaml")
		os.WriteFile(f, []byte(text), 0o644)
		if _, err := prompt.ReadPrices(f); causeway.ErrorCode(err) != causeway.EINVALID {
			t.Errorf("ReadPrices(%q) = %v, want EINVALID", text, err)
		}
	}
}

func TestParseModelPriceSaysTheForm(t *testing.T) {
	for _, bad := range []string{"gpt-x=cheap", "=1/2", "gpt-x"} {
		if _, _, err := prompt.ParseModelPrice(bad); err == nil || !strings.Contains(err.Error(), "MODEL=INPUT/OUTPUT") {
			t.Errorf("ParseModelPrice(%q) = %v, want it to name the form", bad, err)
		}
	}
}
