package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/causeway-rca/causeway/investigate"
)

func TestScopeSourcesBecomeCollectorFlags(t *testing.T) {
	tests := []struct {
		src  investigate.ScopeSource
		want string
	}{
		{investigate.ScopeSource{Type: "k8s", Namespaces: []string{"aibrix-system", "envoy-gateway-system"}}, "--namespace aibrix-system --namespace envoy-gateway-system"},
		{investigate.ScopeSource{Type: "prometheus", Queries: []string{`rate(x[5m])`}}, "--query q1=rate(x[5m])"},
		{investigate.ScopeSource{Type: "loki", Selector: `{namespace="a"}`}, `--query {namespace="a"}`},
		{investigate.ScopeSource{Type: "slack", Channels: []string{"#incident"}}, "--channel #incident"},
		{investigate.ScopeSource{Type: "jira", Issues: []string{"AIB-142"}, JQL: "project = AIB"}, "--issue AIB-142 --jql project = AIB"},
	}
	for _, tt := range tests {
		if got := strings.Join(scopeArgs(tt.src), " "); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.src.Type, got, tt.want)
		}
	}
}

func TestEveryScopeSourceTypeHasACollector(t *testing.T) {
	m := NewMain()
	m.Getenv = func(string) string { return "" }
	cs := m.scopeCollectors()
	for _, typ := range investigate.SourceTypes {
		if _, ok := cs[typ]; !ok {
			t.Errorf("scope source type %s has no collector", typ)
		}
	}
	// A collector that lacks its configuration says so instead of running.
	_, err := cs["prometheus"](investigate.ScopeSource{Type: "prometheus"})
	if err == nil || !strings.Contains(err.Error(), "PROMETHEUS_URL") && !strings.Contains(strings.ToLower(err.Error()), "url") {
		t.Errorf("prometheus without a URL: %v", err)
	}
	if !slices.Contains(investigate.SourceTypes, "k8s") {
		t.Error("k8s is not a scope source type")
	}
}
