package memory

import (
	"strings"
	"testing"
)

func TestSections(t *testing.T) {
	md := "Preamble line.\n# Envoy Gateway runbook\n\n## Disk pressure\n\n### Check\n\ndf -h /\n\n```sh\n# not a heading\ncrictl rmi --prune\n```\n\n## Empty\n## Leader election\n\nLost leases restart the controller.\n"
	got := Sections("docs/envoy-gateway-runbook.md", md)
	want := []Section{
		{"envoy-gateway-runbook", "Preamble line."},
		{"Envoy Gateway runbook › Disk pressure › Check", "df -h /\n\n```sh\n# not a heading\ncrictl rmi --prune\n```"},
		{"Envoy Gateway runbook › Leader election", "Lost leases restart the controller."},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d sections %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("section %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	long := "# T\n\n## Big\n\n" + strings.Repeat("a line of text that goes on\n", 200)
	parts := Sections("x.md", long)
	if len(parts) < 2 || parts[1].Title != "T › Big (part 2)" {
		t.Fatalf("a long section is not split with its title kept: %d parts", len(parts))
	}
	for _, p := range parts {
		if len(p.Body) > maxSection {
			t.Errorf("part %q has %d bytes, over %d", p.Title, len(p.Body), maxSection)
		}
	}
}

func TestTokens(t *testing.T) {
	got := strings.Join(Tokens("ResponseEntity expired at 2025-11-04T08:00:00Z; max_connections=8 pod-7c9f6d8b5"), " ")
	for _, w := range []string{"responseentit", "respons", "entit", "expir", "maxconnection", "max", "connection", "pod"} {
		if !strings.Contains(" "+got+" ", " "+w+" ") {
			t.Errorf("tokens %q lack %q", got, w)
		}
	}
	for _, w := range []string{"2025", "7c9f6d8b5", "08"} {
		if strings.Contains(" "+got+" ", " "+w+" ") {
			t.Errorf("tokens %q keep the id or number %q", got, w)
		}
	}
	a, _ := Local{}.Embed(t.Context(), []string{"disk full on node"})
	b, _ := Local{}.Embed(t.Context(), []string{"disk full on node"})
	for i := range a[0] {
		if a[0][i] != b[0][i] {
			t.Fatal("the local embedder is not deterministic")
		}
	}
}
