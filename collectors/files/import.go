package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/causeway-rca/causeway"
)

// folderKinds maps a bundle's evidence folders to the kind their files
// have when incident.yaml does not list them.
var folderKinds = map[string]causeway.SourceKind{
	"logs":    causeway.KindLog,
	"events":  causeway.KindEvents,
	"objects": causeway.KindObjects,
	"metrics": causeway.KindPrometheus,
	"chat":    causeway.KindSlack,
	"tickets": causeway.KindJira,
	"docs":    causeway.KindDoc,
	"mesh":    KindMeshAdmin,
}

// folders lists folderKinds in the order messages name them.
var folders = []string{"logs", "events", "objects", "metrics", "chat", "tickets", "docs", "mesh"}

// slackMeta are the files of a Slack export's top level that describe the
// workspace rather than hold messages.
var slackMeta = map[string]bool{
	"chat/users.json": true, "chat/channels.json": true, "chat/groups.json": true, "chat/dms.json": true,
	"chat/mpims.json": true, "chat/integration_logs.json": true, "chat/canvases.json": true,
}

// ImportProgress says how far an Import has come.
type ImportProgress struct {
	File  string `json:"file"`  // the file being read
	Done  int    `json:"done"`  // files finished
	Files int    `json:"files"` // files in the bundle
	Lines int64  `json:"lines"` // lines written, over all files
	Bytes int64  `json:"bytes"` // bytes parsed, over finished files
}

// FileReport is what importing one file gave.
type FileReport struct {
	Name  string              `json:"name"`
	Kind  causeway.SourceKind `json:"kind"`
	Lines int64               `json:"lines"`
	Bytes int64               `json:"bytes"`
	// Filler counts the lines of Lines that noise expansion added.
	Filler   int64    `json:"filler_lines,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Err says why the file could not be read to its end; the lines read
	// before that are imported.
	Err string `json:"error,omitempty"`
}

// Report is what importing a bundle gave, file by file.
type Report struct {
	// Spec is the bundle's incident.yaml, nil when it has none.
	Spec     *Spec        `json:"-"`
	Files    []FileReport `json:"files"`
	Lines    int64        `json:"lines"`
	Bytes    int64        `json:"bytes"`
	Failed   int          `json:"failed"` // files with an Err
	Warnings []string     `json:"warnings,omitempty"`
}

// Problems lists every warning and error as "path: reason", errors first.
func (r *Report) Problems() []string {
	var errs, warns []string
	for _, f := range r.Files {
		if f.Err != "" {
			errs = append(errs, f.Name+": "+f.Err)
		}
		for _, w := range f.Warnings {
			warns = append(warns, f.Name+": "+w)
		}
	}
	return append(append(errs, r.Warnings...), warns...)
}

// bundleFile is one file to import and how to read it.
type bundleFile struct {
	path string // slash form, relative to the bundle
	spec SourceSpec
}

// Import reads every evidence file of the bundle in dir (the incident
// bundle format: incident.yaml, logs/, events/, objects/, metrics/, chat/,
// tickets/, docs/, mesh/) in path order and writes its lines to sink, at most
// Options.BatchLines per call. Files listed in incident.yaml take their
// kind, labels and query from it; others take the kind of their folder.
// Each source's last WriteLines call carries its final Lines and Error,
// and is made even when it has no lines, so that a source that failed is
// still registered with its reason.
//
// Bad input loses nothing that is good: a file that breaks off keeps the
// lines before the break, a malformed file is skipped, and the Report
// names each with its reason. Import fails with a *causeway.Error of code
// EINVALID, naming every bad file, only when nothing at all could be
// imported; it returns the Report then too. An error of the sink or of ctx
// stops the import and is returned wrapped.
func Import(ctx context.Context, dir string, sink causeway.LineSink, opts Options) (*Report, error) {
	rep := &Report{}
	spec, err := ReadSpec(dir)
	switch {
	case err == nil:
		rep.Spec = spec
	case errors.Is(err, fs.ErrNotExist):
		spec = &Spec{}
		rep.Warnings = append(rep.Warnings, SpecFile+": not found; every file's kind is inferred from its folder")
	default:
		return nil, err
	}
	if opts.Year == 0 && !spec.Window.Start.IsZero() {
		opts.Year = spec.Window.Start.Year()
	}
	opts = opts.withDefaults()
	if opts.Users == nil {
		opts.Users = readSlackUsers(dir, rep)
	}
	list, err := bundleFiles(dir, spec)
	if err != nil {
		return nil, &causeway.Error{Code: causeway.EINVALID, Message: "list bundle " + dir, Err: err}
	}
	noise, err := planNoise(ctx, dir, spec, list, opts)
	if err != nil {
		return nil, err
	}
	for i, f := range list {
		fr, err := importFile(ctx, dir, f, noise.source(f.path), sink, opts, func(lines int64) {
			if opts.Progress != nil {
				opts.Progress(ImportProgress{File: f.path, Done: i, Files: len(list), Lines: rep.Lines + lines, Bytes: rep.Bytes})
			}
		})
		rep.Files = append(rep.Files, fr)
		rep.Lines += fr.Lines
		rep.Bytes += fr.Bytes
		if fr.Err != "" {
			rep.Failed++
			opts.Logger.Warn("bundle file not fully read", "dir", dir, "file", fr.Name, "lines", fr.Lines, "error", fr.Err)
		}
		if err != nil {
			return rep, fmt.Errorf("import bundle %s: %w", dir, err)
		}
		opts.Logger.Debug("bundle file imported", "dir", dir, "file", fr.Name, "kind", fr.Kind,
			"lines", fr.Lines, "bytes", fr.Bytes, "warnings", len(fr.Warnings))
		if opts.Progress != nil {
			opts.Progress(ImportProgress{File: f.path, Done: i + 1, Files: len(list), Lines: rep.Lines, Bytes: rep.Bytes})
		}
	}
	if rep.Lines > 0 || (rep.Failed == 0 && len(rep.Files) > 0) {
		return rep, nil
	}
	if len(rep.Files) == 0 {
		return rep, causeway.Errorf(causeway.EINVALID, "bundle %s has no evidence files under %s/",
			dir, strings.Join(folders, "/, "))
	}
	var bad []string
	for _, f := range rep.Files {
		if f.Err != "" {
			bad = append(bad, f.Name+": "+f.Err)
		}
	}
	return rep, causeway.Errorf(causeway.EINVALID, "nothing could be imported from bundle %s: %s", dir, strings.Join(bad, "; "))
}

// bundleFiles lists the files to import in path order: every file under
// the evidence folders and every file incident.yaml lists, wherever it is.
func bundleFiles(dir string, spec *Spec) ([]bundleFile, error) {
	seen := make(map[string]bool)
	var list []bundleFile
	for _, folder := range folders {
		root := filepath.Join(dir, folder)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && p == root {
					return nil
				}
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && p != root {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			src, listed := spec.Source(rel)
			if slackMeta[rel] && !listed {
				return nil
			}
			seen[rel] = true
			list = append(list, bundleFile{path: rel, spec: src})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, src := range spec.Sources {
		if !seen[src.Path] {
			list = append(list, bundleFile{path: src.Path, spec: src})
		}
	}
	slices.SortFunc(list, func(a, b bundleFile) int { return strings.Compare(a.path, b.path) })
	return list, nil
}

// kindOf returns the kind a file is read as: as listed, else by folder.
func kindOf(f bundleFile) (causeway.SourceKind, error) {
	if f.spec.Kind != "" {
		return f.spec.Kind, nil
	}
	top, _, _ := strings.Cut(f.path, "/")
	if k, ok := folderKinds[top]; ok {
		return k, nil
	}
	return "", fmt.Errorf("no kind in %s and folder %q does not imply one (want one of %s/)",
		SpecFile, top, strings.Join(folders, "/, "))
}

// importFile reads one file into sink, merged with its noise filler when
// it has some. Its error is the sink's or ctx's; the file's own problems go
// in the FileReport.
func importFile(ctx context.Context, dir string, f bundleFile, noise *noiseSource, sink causeway.LineSink, opts Options, progress func(lines int64)) (FileReport, error) {
	kind, kindErr := kindOf(f)
	src := causeway.Source{Name: f.path, Kind: kind, Labels: f.spec.Labels, Query: f.spec.Query}
	fr := FileReport{Name: f.path, Kind: kind}
	var written int64
	batch := make([]causeway.Line, 0, opts.BatchLines)
	flush := func() error {
		if err := sink.WriteLines(ctx, &src, batch); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		written += int64(len(batch))
		batch = make([]causeway.Line, 0, opts.BatchLines)
		progress(written)
		return nil
	}

	var sinkErr error
	switch file, err := os.Open(filepath.Join(dir, filepath.FromSlash(f.path))); {
	case kindErr != nil:
		if err == nil {
			file.Close()
		}
		fr.Err = kindErr.Error()
	case errors.Is(err, fs.ErrNotExist):
		fr.Err = "listed in " + SpecFile + " but not found"
	case err != nil:
		fr.Err = err.Error()
	default:
		emit := func(l causeway.Line) error {
			batch = append(batch, l)
			if len(batch) >= opts.BatchLines {
				sinkErr = flush()
				return sinkErr
			}
			return nil
		}
		var m *merger
		if noise != nil {
			m = noise.merge(src, emit)
			emit = m.write
		}
		stats, err := Parse(ctx, src, file, opts, emit)
		file.Close()
		if m != nil && sinkErr == nil && ctx.Err() == nil {
			sinkErr = m.finish()
			stats.Lines, fr.Filler = m.seq, m.filler
		}
		fr.Lines, fr.Bytes, fr.Warnings = stats.Lines, stats.Bytes, stats.Warnings
		if sinkErr != nil {
			return fr, sinkErr
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fr, ctxErr
		}
		if err != nil {
			fr.Err = err.Error()
		}
	}
	src.Lines, src.Error = fr.Lines, fr.Err
	return fr, flush()
}

// readSlackUsers reads chat/users.json when the bundle has one; a bad one
// costs only the names.
func readSlackUsers(dir string, rep *Report) map[string]string {
	p := path.Join("chat", "users.json")
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			rep.Warnings = append(rep.Warnings, p+": "+err.Error())
		}
		return nil
	}
	users, err := ParseSlackUsers(data)
	if err != nil {
		rep.Warnings = append(rep.Warnings, p+": "+err.Error()+"; user ids stay unresolved")
	}
	return users
}
