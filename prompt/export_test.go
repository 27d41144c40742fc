package prompt

import "github.com/causeway-rca/causeway"

// Test hooks into unexported parts.

// RepairMessage is the user message of the repair round after first.
func RepairMessage(first *Result) string { return render("repair.tmpl", newRepairData(first)) }

// BuildReduce is buildReduce.
func BuildReduce(full *causeway.Pack, digest string, windows []*Window, question string) []causeway.Message {
	return buildReduce(full, digest, windows, question)
}
