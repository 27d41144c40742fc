package main

import (
	"strings"
	"testing"

	"github.com/causeway-rca/causeway/store/storetest"
)

func TestDocsAddEmbedsOnce(t *testing.T) {
	env := map[string]string{"DATABASE_URL": storetest.NewDatabase(t)}
	dir := "../../eval/incidents/aibrix-wasm-disk-full/docs"
	first, stderr, err := run(t, env, "docs", "add", dir)
	if err != nil {
		t.Fatalf("docs add: %v\n%s", err, stderr)
	}
	if !strings.Contains(first, "docs: 1 files") || strings.Contains(first, "(0 embedded") {
		t.Errorf("first add: %q, want one file with its sections embedded", first)
	}
	again, _, err := run(t, env, "docs", "add", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(again, "(0 embedded") {
		t.Errorf("adding the same runbook again embedded it again: %q", again)
	}
	if _, _, err := run(t, env, "docs", "add", "no/such/dir"); err == nil {
		t.Error("a missing path was accepted")
	}
	if _, _, err := run(t, env, "docs"); err == nil {
		t.Error("docs without add was accepted")
	}
}
