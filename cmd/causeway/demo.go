package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// demo loads every bundle under the examples directory as an incident keyed
// by the bundle's directory name; loading again adds nothing.
func (m *Main) demo(ctx context.Context, args []string) error {
	fs := m.newFlagSet("demo", `causeway demo [--dir DIR]

Loads the example incident bundles into the database (idempotent).`)
	dir := fs.String("dir", "eval/incidents", "directory of incident bundles")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	entries, err := os.ReadDir(*dir)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	var bundles []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(*dir, e.Name(), "incident.yaml")); e.IsDir() && err == nil {
			bundles = append(bundles, e.Name())
		}
	}
	sort.Strings(bundles)
	if len(bundles) == 0 {
		return fmt.Errorf("demo: no incident bundles (directories with incident.yaml) in %s", *dir)
	}
	svc, err := m.service(ctx)
	if err != nil {
		return err
	}
	for _, name := range bundles {
		inc, _, err := m.importBundle(ctx, svc, filepath.Join(*dir, name), name)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "demo: incident %d %q (%s)\n", inc.ID, inc.Title, name)
	}
	return nil
}
