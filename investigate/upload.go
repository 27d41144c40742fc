package investigate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/collectors/files"
)

// uploadKinds are the kinds implied by a bundle's evidence folders, for an
// uploaded file named like "logs/app.log".
var uploadKinds = map[string]causeway.SourceKind{
	"logs": causeway.KindLog, "events": causeway.KindEvents, "objects": causeway.KindObjects,
	"metrics": causeway.KindPrometheus, "chat": causeway.KindSlack, "tickets": causeway.KindJira, "docs": causeway.KindDoc,
	"mesh": causeway.KindMeshAdmin,
}

// MaxSourceName bounds an uploaded source's name.
const MaxSourceName = 200

// UploadSource checks an uploaded file's source name (a slash path such as
// "logs/app.log") and settles its kind: the one given, else the one its
// top folder implies, else log.
func UploadSource(name string, kind causeway.SourceKind) (causeway.Source, error) {
	name = strings.TrimSpace(name)
	clean := path.Clean(name)
	switch {
	case name == "":
		return causeway.Source{}, causeway.Errorf(causeway.EINVALID, "an uploaded file needs a name, such as logs/app.log")
	case len(name) > MaxSourceName:
		return causeway.Source{}, causeway.Errorf(causeway.EINVALID, "file name has %d bytes; at most %d", len(name), MaxSourceName)
	case path.IsAbs(name) || hasDotDot(name) || clean != name || strings.ContainsAny(name, "\\\x00\n\r"):
		return causeway.Source{}, causeway.Errorf(causeway.EINVALID, "file name %q must be a clean relative path such as logs/app.log", name)
	}
	if kind == "" {
		top, _, _ := strings.Cut(name, "/")
		kind = uploadKinds[top]
	}
	if kind == "" {
		kind = causeway.KindLog
	}
	if !kind.Valid() {
		return causeway.Source{}, causeway.Errorf(causeway.EINVALID, "kind %q is not a source kind", kind)
	}
	return causeway.Source{Name: name, Kind: kind}, nil
}

// ImportFile reads one uploaded file of src's kind into the incident, with
// the same parsers as a bundle. Like a bundle file, a file that breaks off
// keeps the lines before the break and reports why in the FileReport; the
// error is the store's or ctx's, or EINVALID when nothing could be read.
func (s *Service) ImportFile(ctx context.Context, inc *causeway.Incident, src causeway.Source, r io.Reader) (*files.FileReport, error) {
	src.IncidentID = inc.ID
	ann := s.annotator()
	sink := &incidentSink{id: inc.ID, next: ann}
	defer func() {
		if err := ann.Flush(context.WithoutCancel(ctx)); err != nil {
			s.Logger.Warn("store templates", "incident", inc.ID, "error", err)
		}
	}()
	opts := files.Options{Logger: s.Logger}
	if !inc.WindowStart.IsZero() {
		opts.Year = inc.WindowStart.Year()
	}
	const batchLines = 2000
	batch := make([]causeway.Line, 0, batchLines)
	var sinkErr error
	stats, err := files.Parse(ctx, src, r, opts, func(l causeway.Line) error {
		batch = append(batch, l)
		if len(batch) >= batchLines {
			sinkErr = sink.WriteLines(ctx, &src, batch)
			batch = batch[:0]
			return sinkErr
		}
		return nil
	})
	rep := &files.FileReport{Name: src.Name, Kind: src.Kind, Lines: stats.Lines, Bytes: stats.Bytes, Warnings: stats.Warnings}
	if sinkErr != nil {
		return rep, fmt.Errorf("upload %s: %w", src.Name, sinkErr)
	}
	if cerr := ctx.Err(); cerr != nil {
		return rep, cerr
	}
	if err != nil {
		rep.Err = err.Error()
	}
	// The last write carries the source's final count and error, even
	// without lines, so that a failed file is still listed with its reason.
	src.Lines, src.Error = rep.Lines, rep.Err
	if err := sink.WriteLines(ctx, &src, batch); err != nil {
		return rep, fmt.Errorf("upload %s: %w", src.Name, err)
	}
	if rep.Lines == 0 && rep.Err != "" {
		return rep, causeway.Errorf(causeway.EINVALID, "nothing could be read from %s: %s", src.Name, rep.Err)
	}
	return rep, nil
}

// UploadOptions tune ImportArchive.
type UploadOptions struct {
	// Key names an incident created from the archive (see ImportOptions).
	Key    string
	Limits ArchiveLimits
}

// ImportArchive unpacks an incident bundle archive (.tar.gz, .tar, .zip)
// and imports it: into inc, or, when inc is nil, into a new incident made
// from the bundle's incident.yaml. An incident without a window takes the
// bundle's. Error messages name files as the archive does, never the
// server's temporary paths.
func (s *Service) ImportArchive(ctx context.Context, inc *causeway.Incident, r io.Reader, opts UploadOptions) (*causeway.Incident, *files.Report, error) {
	tmp, err := os.MkdirTemp("", "causeway-bundle-*")
	if err != nil {
		return nil, nil, fmt.Errorf("unpack upload: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := ExtractArchive(r, tmp, opts.Limits); err != nil {
		return nil, nil, err
	}
	root := BundleRoot(tmp)
	hide := func(err error) error { return hidePath(err, root) }
	spec, specErr := files.ReadSpec(root)
	if inc == nil {
		if errors.Is(specErr, fs.ErrNotExist) {
			return nil, nil, causeway.Errorf(causeway.EINVALID,
				"the archive has no %s at its top or in its one top folder; create the incident first and upload the files to it", files.SpecFile)
		}
		if specErr != nil {
			return nil, nil, &causeway.Error{Code: causeway.EINVALID, Message: "read " + files.SpecFile, Err: hide(specErr)}
		}
		inc, rep, err := s.ImportBundle(ctx, root, ImportOptions{Key: opts.Key})
		return inc, rep, hide(err)
	}
	if specErr == nil && inc.WindowStart.IsZero() && inc.WindowEnd.IsZero() && !spec.Window.Start.IsZero() {
		inc.WindowStart, inc.WindowEnd = spec.Window.Start, spec.Window.End
		if inc.Question == "" {
			inc.Question = spec.Question
		}
		if err := s.DB.UpdateIncident(ctx, inc); err != nil {
			return inc, nil, err
		}
	}
	ann := s.annotator()
	sink := &incidentSink{id: inc.ID, next: ann}
	rep, err := files.Import(ctx, root, sink, files.Options{Logger: s.Logger})
	if ferr := ann.Flush(context.WithoutCancel(ctx)); ferr != nil && err == nil {
		err = ferr
	}
	return inc, rep, hide(err)
}

// hidePath rewrites an error's message so that it does not show the
// server's temporary directory, keeping its code.
func hidePath(err error, root string) error {
	if err == nil || !strings.Contains(err.Error(), root) {
		return err
	}
	msg := strings.ReplaceAll(strings.ReplaceAll(err.Error(), root+string(os.PathSeparator), ""), root, "the archive")
	return &causeway.Error{Code: causeway.ErrorCode(err), Message: msg}
}
