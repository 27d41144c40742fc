package server

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/store"
)

type openAPIDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]schema `json:"schemas"`
	} `json:"components"`
}

type schema struct {
	Properties map[string]json.RawMessage `json:"properties"`
	AllOf      []struct {
		Ref        string                     `json:"$ref"`
		Properties map[string]json.RawMessage `json:"properties"`
	} `json:"allOf"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesRouter: every route the router serves is documented,
// with its method, and nothing is documented that it does not serve.
func TestOpenAPIMatchesRouter(t *testing.T) {
	doc := loadOpenAPI(t)
	s := New(nil, nil, nil, Config{NoUI: true}) // the API's routes, not the UI's pages
	routed := map[string]bool{}
	err := chi.Walk(s.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[strings.ToLower(method)+" "+strings.TrimSuffix(route, "/")] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				documented[method+" "+path] = true
			}
		}
	}
	for r := range routed {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for d := range documented {
		if !routed[d] {
			t.Errorf("openapi.json documents %s, which the router does not serve", d)
		}
	}
	if len(routed) < 20 {
		t.Errorf("only %d routes walked", len(routed))
	}
	// Path parameters are declared as used.
	param := regexp.MustCompile(`\{([a-z]+)\}`)
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			for _, m := range param.FindAllStringSubmatch(path, -1) {
				if !strings.Contains(string(raw), `"name": "`+m[1]+`"`) {
					t.Errorf("%s %s does not declare path parameter %s", method, path, m[1])
				}
			}
		}
	}
}

// TestOpenAPIMatchesTypes: the documented request bodies have exactly the
// fields the handlers decode (strictly), and the documented responses
// exactly the fields they encode.
func TestOpenAPIMatchesTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	types := map[string]any{
		"InvestigationRequest": investigationRequest{},
		"Scope":                investigate.Scope{},
		"ScopeSource":          investigate.ScopeSource{},
		"Window":               investigate.Window{},
		"IncidentRequest":      incidentRequest{},
		"IncidentPatch":        incidentPatch{},
		"ChatRequest":          chatRequest{},
		"TokenRequest":         tokenRequest{},
		"Investigation":        investigationView{},
		"Incident":             causeway.Incident{},
		"IncidentView":         incidentView{},
		"Source":               causeway.Source{},
		"Line":                 causeway.Line{},
		"Answer":               causeway.Answer{},
		"Step":                 causeway.Step{},
		"Claim":                causeway.Claim{},
		"RuledOut":             causeway.RuledOut{},
		"Citation":             causeway.Citation{},
		"Verdict":              causeway.Verdict{},
		"CitationVerdict":      causeway.CitationVerdict{},
		"Usage":                causeway.Usage{},
		"Timings":              causeway.Timings{},
		"ChatMessage":          store.ChatMessage{},
		"Token":                store.Token{},
		"Error":                errorBody{},
		"Timeline":             timelineView{},
		"TimelineSource":       timelineSource{},
		"TimelineMarker":       timelineMarker{},
		"TimelineSeries":       timelineSeries{},
		"TimelineCitation":     timelineCitation{},
		"Pack":                 packView{},
		"PackSource":           causeway.PackSource{},
		"FoldedLine":           foldedLine{},
		"PackSignal":           packSignal{},
	}
	for name, v := range types {
		sc, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s is missing", name)
			continue
		}
		var documented []string
		for p := range sc.Properties {
			documented = append(documented, p)
		}
		for _, part := range sc.AllOf {
			if part.Ref != "" {
				for p := range doc.Components.Schemas[strings.TrimPrefix(part.Ref, "#/components/schemas/")].Properties {
					documented = append(documented, p)
				}
			}
			for p := range part.Properties {
				documented = append(documented, p)
			}
		}
		sort.Strings(documented)
		got := jsonFields(reflect.TypeOf(v))
		if !slices.Equal(documented, got) {
			t.Errorf("schema %s has %v; the Go type has %v", name, documented, got)
		}
	}
}

// jsonFields lists the JSON names encoding/json uses for a struct,
// embedded structs included.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			out = append(out, jsonFields(ft)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
