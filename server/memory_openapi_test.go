package server

import (
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/memory"
	"github.com/causeway-rca/causeway/store"
)

// TestOpenAPIMemoryTypes: the memory endpoints' documented bodies have
// exactly the fields of the types they decode and encode.
func TestOpenAPIMemoryTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, v := range map[string]any{
		"DocRequest":      docRequest{},
		"DocResult":       memory.DocResult{},
		"FeedbackRequest": feedbackRequest{},
		"Feedback":        store.Feedback{},
		"Prior":           investigate.Prior{},
		"Similar":         similarView{},
	} {
		sc, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s is missing", name)
			continue
		}
		var documented []string
		for p := range sc.Properties {
			documented = append(documented, p)
		}
		sort.Strings(documented)
		if got := jsonFields(reflect.TypeOf(v)); !slices.Equal(documented, got) {
			t.Errorf("schema %s has %v; the Go type has %v", name, documented, got)
		}
	}
}
