package eval

import "github.com/causeway-rca/causeway/prompt"

// Price is what a model costs, in US dollars per million tokens.
type Price = prompt.Price

// Prices maps model names to their prices. The builtin model is free.
type Prices = prompt.Prices

// ReadPrices reads a price file; see prompt.ReadPrices.
func ReadPrices(name string) (Prices, error) { return prompt.ReadPrices(name) }

// ParsePrice reads "MODEL=INPUT/OUTPUT[/CACHED]" (dollars per million
// tokens), the form of the --price flag.
func ParsePrice(s string) (string, Price, error) { return prompt.ParseModelPrice(s) }
