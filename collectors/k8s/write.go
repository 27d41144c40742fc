package k8s

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/collectors/files"
)

// batchLines is how many lines one WriteLines call carries.
const batchLines = 2000

// write stores a source's lines in batches; the last call carries the
// source's Error, and is made even without lines so that a source that
// failed is registered with its reason.
func (r *run) write(ctx context.Context, src *causeway.Source, lines []causeway.Line) error {
	src.IncidentID = r.inc.ID
	for i := range lines {
		lines[i].IncidentID = r.inc.ID
	}
	errMsg := src.Error
	src.Error = ""
	for len(lines) > batchLines {
		if err := r.sink.WriteLines(ctx, src, lines[:batchLines]); err != nil {
			return err
		}
		lines = lines[batchLines:]
	}
	src.Error = errMsg
	return r.sink.WriteLines(ctx, src, lines)
}

// fail registers src with err as its error and no lines.
func (r *run) fail(ctx context.Context, src *causeway.Source, err error) error {
	src.Error = err.Error()
	r.c.cfg.Logger.Warn("kubernetes source failed", "source", src.Name, "error", err)
	return r.write(ctx, src, nil)
}

// parseJSON hands a serialized API response to the bundle parser of
// src.Kind and stores what it gives, with the parser's problems and
// fetchErr (the fetch's own failure or bound) as the source's error.
func (r *run) parseJSON(ctx context.Context, src *causeway.Source, v any, fetchErr error) error {
	data, err := json.Marshal(v)
	if err != nil {
		return r.fail(ctx, src, fmt.Errorf("serialize %s: %w", src.Name, err))
	}
	var lines []causeway.Line
	stats, perr := files.Parse(ctx, *src, bytes.NewReader(data), r.opts, func(l causeway.Line) error {
		lines = append(lines, l)
		return nil
	})
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if len(stats.Warnings) > 0 {
		r.c.cfg.Logger.Debug("kubernetes source repaired", "source", src.Name, "warnings", stats.Warnings)
	}
	src.Lines = int64(len(lines))
	src.Error = errorText(fetchErr, perr)
	return r.write(ctx, src, lines)
}

// errorText renders what went wrong with a source as one line; parser
// warnings (repaired UTF-8, cut lines) are not errors and stay out of it.
func errorText(fetchErr, parseErr error) string {
	if parseErr != nil {
		parseErr = fmt.Errorf("parse: %w", parseErr)
	}
	err := errors.Join(fetchErr, parseErr)
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
