package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/causeway-rca/causeway/memory"
)

func init() {
	register(command{"docs", "add runbooks and knowledge-base pages (markdown) to memory", (*Main).docs})
}

// memory returns the memory of the database in the configured embedder's
// space: an OpenAI-compatible endpoint when CAUSEWAY_EMBEDDING_MODEL is
// set, else the local embedder.
func (m *Main) memory(ctx context.Context) (*memory.Memory, error) {
	db, err := m.openDB(ctx)
	if err != nil {
		return nil, err
	}
	var emb memory.Embedder = memory.Local{}
	if model := m.Getenv("CAUSEWAY_EMBEDDING_MODEL"); model != "" {
		dim, err := strconv.Atoi(m.Getenv("CAUSEWAY_EMBEDDING_DIM"))
		if err != nil {
			return nil, fmt.Errorf("CAUSEWAY_EMBEDDING_DIM must be the embedding model's dimension: %w", err)
		}
		emb, err = memory.NewOpenAI(memory.OpenAIConfig{
			BaseURL: m.env("CAUSEWAY_EMBEDDING_BASE_URL", m.Getenv("CAUSEWAY_MODEL_BASE_URL")),
			APIKey:  m.env("CAUSEWAY_EMBEDDING_API_KEY", m.Getenv("CAUSEWAY_MODEL_API_KEY")),
			Model:   model, Dim: dim, RequestDim: m.Getenv("CAUSEWAY_EMBEDDING_REQUEST_DIM") != "",
		})
		if err != nil {
			return nil, err
		}
	}
	mem := memory.New(db, emb)
	mem.Logger = m.logger()
	return mem, nil
}

// docs adds markdown files (or every .md under a directory) to memory.
func (m *Main) docs(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(m.Stderr, "usage: causeway docs add PATH...")
		return exitError{code: 2}
	}
	fs := m.newFlagSet("docs add", `causeway docs add PATH...

Adds markdown runbooks and knowledge-base pages to memory, section by
section (by heading, titles kept). A directory adds every .md file under
it. Adding a file again replaces its sections.`)
	if err := fs.Parse(args[1:]); err != nil {
		return flagError(err)
	}
	var files []string
	for _, p := range fs.Args() {
		err := filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (path == p || filepath.Ext(path) == ".md") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("docs add: %w", err)
		}
	}
	if len(files) == 0 {
		return exitError{code: 2, msg: "docs add: no markdown files given"}
	}
	mem, err := m.memory(ctx)
	if err != nil {
		return err
	}
	start := m.Now()
	var sections, embedded int
	var removed int64
	for i, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("docs add: %w", err)
		}
		res, err := mem.AddDoc(ctx, filepath.ToSlash(path), string(raw), 0)
		if err != nil {
			return err
		}
		sections, embedded, removed = sections+res.Sections, embedded+res.Embedded, removed+res.Removed
		if m.Terminal {
			fmt.Fprintf(m.Stderr, "\rdocs: %d/%d files, %d sections", i+1, len(files), sections)
		}
	}
	if m.Terminal {
		fmt.Fprintln(m.Stderr)
	}
	fmt.Fprintf(m.Stdout, "docs: %d files, %d sections (%d embedded with %s, %d removed) in %s\n",
		len(files), sections, embedded, mem.Embedder.Name(), removed, m.Now().Sub(start).Round(time.Millisecond))
	return nil
}
