package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/collectors/files"
)

// Problem is one thing wrong with a bundle.
type Problem struct {
	Bundle  string `json:"bundle"`
	File    string `json:"file,omitempty"`
	Message string `json:"message"`
	// Warning marks what the import repaired or skipped without losing
	// the file (a line cut to size, a text file under objects/): worth
	// knowing, but the bundle still works.
	Warning bool `json:"warning,omitempty"`
}

func (p Problem) String() string {
	s := p.Bundle + ": "
	if p.File != "" {
		s += p.File + ": "
	}
	if p.Warning {
		s += "warning: "
	}
	return s + p.Message
}

// Validate checks every bundle of set (or set itself when it is a bundle)
// and names every problem it finds: a missing or malformed incident.yaml
// or expected.yaml (with each bad field: unparseable window times, a window
// that ends before it starts, unknown kinds, a bad noise spec), source
// files that are listed but missing or cannot be read, log lines whose
// time cannot be read, sources with no line inside the window, and
// expected evidence whose substring matches no line or several lines of its
// source (noise filler included, so a collision with filler shows here).
// Its error is for a set that cannot be read at all.
func Validate(ctx context.Context, set string) ([]Problem, error) {
	dirs, err := bundleDirs(set)
	if err != nil {
		return nil, err
	}
	var all []Problem
	for _, dir := range dirs {
		ps, err := ValidateBundle(ctx, dir)
		if err != nil {
			return all, err
		}
		all = append(all, ps...)
	}
	return all, nil
}

// ValidateBundle checks one bundle; see Validate. Its error is the
// context's.
func ValidateBundle(ctx context.Context, dir string) ([]Problem, error) {
	v := &validator{dir: dir}
	spec := v.spec()
	exp := v.expected()
	if spec == nil {
		return v.problems, nil
	}
	if err := v.lines(ctx, spec, exp); err != nil {
		return v.problems, err
	}
	return v.problems, nil
}

type validator struct {
	dir      string
	problems []Problem
}

func (v *validator) add(file, format string, args ...any) {
	v.problems = append(v.problems, Problem{Bundle: v.dir, File: file, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) warn(file, format string, args ...any) {
	v.problems = append(v.problems, Problem{Bundle: v.dir, File: file, Message: fmt.Sprintf(format, args...), Warning: true})
}

// rawSpec is incident.yaml with its times as text, so that each bad field
// is named rather than only the first.
type rawSpec struct {
	ID       string `yaml:"id"`
	Title    string `yaml:"title"`
	Question string `yaml:"question"`
	Window   struct {
		Start string `yaml:"start"`
		End   string `yaml:"end"`
	} `yaml:"window"`
	Sources []struct {
		Path   string            `yaml:"path"`
		Kind   string            `yaml:"kind"`
		Labels map[string]string `yaml:"labels"`
		Query  string            `yaml:"query"`
	} `yaml:"sources"`
	Noise *files.NoiseSpec `yaml:"noise"`
}

// spec checks incident.yaml field by field and returns it parsed, or nil
// when it cannot be used.
func (v *validator) spec() *files.Spec {
	file := files.SpecFile
	data, err := os.ReadFile(filepath.Join(v.dir, file))
	if errors.Is(err, fs.ErrNotExist) {
		v.add(file, "missing (every bundle needs one: id, title, window, question, sources)")
		return nil
	}
	if err != nil {
		v.add(file, "%v", err)
		return nil
	}
	var raw rawSpec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		v.add(file, "%v", err)
		return nil
	}
	if raw.ID == "" {
		v.add(file, "id is missing")
	}
	if raw.Title == "" {
		v.add(file, "title is missing")
	}
	if raw.Question == "" {
		v.add(file, "question is missing")
	}
	start := v.time(file, "window.start", raw.Window.Start)
	end := v.time(file, "window.end", raw.Window.End)
	if !start.IsZero() && !end.IsZero() && !end.After(start) {
		v.add(file, "window end %s is not after its start %s", raw.Window.End, raw.Window.Start)
	}
	seen := map[string]bool{}
	for i, s := range raw.Sources {
		switch {
		case s.Path == "":
			v.add(file, "sources[%d]: path is missing", i)
			continue
		case !filepath.IsLocal(filepath.FromSlash(path.Clean(s.Path))):
			v.add(file, "sources[%d]: path %q is not inside the bundle", i, s.Path)
			continue
		case seen[s.Path]:
			v.add(file, "sources[%d]: path %q is listed twice", i, s.Path)
		}
		seen[s.Path] = true
		if s.Kind != "" && !causeway.SourceKind(s.Kind).Valid() {
			v.add(file, "sources[%d] (%s): unknown kind %q", i, s.Path, s.Kind)
		}
		if _, err := os.Stat(filepath.Join(v.dir, filepath.FromSlash(s.Path))); err != nil {
			v.add(s.Path, "listed in %s but missing", file)
		}
		if causeway.SourceKind(s.Kind) == causeway.KindPrometheus && s.Query == "" {
			v.add(file, "sources[%d] (%s): prometheus source has no query (its PromQL)", i, s.Path)
		}
	}
	noiseErr := files.CheckNoise(raw.Noise)
	if noiseErr != nil {
		v.add(file, "%v", noiseErr)
	}
	before := len(v.problems)
	spec, err := files.ReadSpec(v.dir)
	if err != nil {
		if before == 0 {
			v.add(file, "%v", err)
		}
		return nil
	}
	if noiseErr != nil {
		return nil // the import would stop at it
	}
	return spec
}

func (v *validator) time(file, field, s string) time.Time {
	if s == "" {
		v.add(file, "%s is missing", field)
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		v.add(file, "%s %q is not an RFC3339 time (like 2025-08-21T03:00:00Z)", field, s)
		return time.Time{}
	}
	return t
}

// expected checks expected.yaml and returns it parsed, or nil.
func (v *validator) expected() *Expected {
	data, err := os.ReadFile(filepath.Join(v.dir, ExpectedFile))
	if errors.Is(err, fs.ErrNotExist) {
		v.add(ExpectedFile, "missing (root_cause, root_cause_keywords, evidence, control)")
		return nil
	}
	if err != nil {
		v.add(ExpectedFile, "%v", err)
		return nil
	}
	exp, problems := parseExpected(data)
	for _, p := range problems {
		v.add(ExpectedFile, "%s", p)
	}
	if exp != nil {
		for i, c := range exp.Control {
			// An answer that only restates the root cause says nothing
			// about the control question; keywords it would match cannot
			// tell a right answer from that.
			if hit, _ := MatchKeywords(exp.RootCause, c.AnswerKeywords); hit && len(c.AnswerKeywords) > 0 {
				v.warn(ExpectedFile, "control[%d]: answer_keywords %s already match the expected root_cause (%s), so an answer that only restates the root cause counts as right",
					i, groups(c.AnswerKeywords), matchedTerms(exp.RootCause, c.AnswerKeywords))
			}
		}
	}
	return exp
}

// matchedTerms names the terms of groups that text holds.
func matchedTerms(text string, gs [][]string) string {
	var terms []string
	for _, g := range gs {
		for _, t := range g {
			if ContainsTerm(text, t) {
				terms = append(terms, fmt.Sprintf("%q", t))
			}
		}
	}
	return strings.Join(terms, ", ")
}

// sourceCheck follows one source's lines for the time checks.
type sourceCheck struct {
	kind            causeway.SourceKind
	lines, inWindow int64
	noTime          int64
	// badStamp counts lines without a time that start with a digit: a
	// stamp the parser does not know, rather than a continuation line.
	badStamp     int64
	firstBad     int64
	firstBadText string
}

// checkSink receives the bundle's lines as the store would, redacted, and
// runs the checks without keeping them.
type checkSink struct {
	spec     *files.Spec
	resolver *Resolver
	bySource map[string][]int // evidence indexes by source
	exp      *Expected
	sources  map[string]*sourceCheck
	outside  map[int]time.Time // evidence lines outside the window, by index
}

func (s *checkSink) WriteLines(_ context.Context, src *causeway.Source, lines []causeway.Line) error {
	sc := s.sources[src.Name]
	if sc == nil {
		sc = &sourceCheck{kind: src.Kind}
		s.sources[src.Name] = sc
	}
	w := s.spec.Window
	for i := range lines {
		l := &lines[i]
		if text, fired := chunking.Redact(l.Text); len(fired) > 0 {
			l.Text = text
		}
		sc.lines++
		noTime := l.Time.IsZero() || l.TimeInferred
		if noTime {
			sc.noTime++
			if len(l.Text) > 0 && l.Text[0] >= '0' && l.Text[0] <= '9' {
				if sc.badStamp == 0 {
					sc.firstBad, sc.firstBadText = l.Seq+1, l.Text
				}
				sc.badStamp++
			}
		}
		// A condition dated before the window is in force during it, and
		// the packer keeps it (store.LineFilter.InForce).
		inForce := l.Kind == causeway.LineCondition && !l.Time.After(w.End)
		if l.Time.IsZero() || inForce || !l.Time.Before(w.Start) && !l.Time.After(w.End) {
			sc.inWindow++
		}
		for _, k := range s.bySource[src.Name] {
			if !l.Time.IsZero() && strings.Contains(l.Text, s.exp.Evidence[k].Contains) && (l.Time.Before(w.Start) || l.Time.After(w.End)) {
				s.outside[k] = l.Time
			}
		}
		_ = s.resolver.Add(*l)
	}
	return nil
}

// lines imports the bundle into memory, noise included, and checks its
// lines and the expected evidence against them.
func (v *validator) lines(ctx context.Context, spec *files.Spec, exp *Expected) error {
	var ev []Evidence
	if exp != nil {
		ev = exp.Evidence
	} else {
		exp = &Expected{}
	}
	sink := &checkSink{spec: spec, resolver: NewResolver(ev), exp: exp, bySource: map[string][]int{},
		sources: map[string]*sourceCheck{}, outside: map[int]time.Time{}}
	for i, e := range ev {
		sink.bySource[e.Source] = append(sink.bySource[e.Source], i)
	}
	rep, err := files.Import(ctx, v.dir, sink, files.Options{BatchLines: 10000})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if rep != nil {
		for _, f := range rep.Files {
			if f.Err != "" {
				v.add(f.Name, "cannot be read to its end: %s", f.Err)
			}
			for _, w := range f.Warnings {
				v.warn(f.Name, "%s", w)
			}
		}
		for _, w := range rep.Warnings {
			v.warn("", "%s", w)
		}
	}
	if err != nil {
		v.add("", "import: %v", err)
		return nil
	}
	for _, f := range rep.Files {
		sc := sink.sources[f.Name]
		if sc == nil || sc.lines == 0 {
			continue
		}
		// A plain "log" source may be timeless (df output); a pod's log
		// and events may not.
		isLog := sc.kind == causeway.KindLog || sc.kind == causeway.KindPodLog
		switch {
		case sc.kind == causeway.KindPodLog && sc.noTime == sc.lines:
			v.add(f.Name, "no line has a time Causeway can read (RFC3339, klog, syslog, access log or JSON ts/time/timestamp)")
		case sc.kind == causeway.KindEvents && sc.noTime == sc.lines:
			v.add(f.Name, "no event has a time Causeway can read")
		case isLog && sc.badStamp > 0:
			what := fmt.Sprintf("%d lines start", sc.badStamp)
			if sc.badStamp == 1 {
				what = "1 line starts"
			}
			v.add(f.Name, "%s like a time Causeway cannot read (first: line %d: %.80q)", what, sc.firstBad, sc.firstBadText)
		}
		if sc.inWindow == 0 && sc.noTime < sc.lines {
			// Object conditions often changed long before the incident;
			// a log or a metric wholly outside the window is a bad window.
			report := v.add
			if sc.kind == causeway.KindObjects {
				report = v.warn
			}
			report(f.Name, "none of its %d lines is inside the window %s – %s, so none is packed", sc.lines,
				spec.Window.Start.Format(time.RFC3339), spec.Window.End.Format(time.RFC3339))
		}
	}
	for i, r := range sink.resolver.Resolutions() {
		if msg := r.Problem(); msg != "" {
			v.add(ExpectedFile, "%s", msg)
			continue
		}
		if t, ok := sink.outside[i]; ok {
			v.add(ExpectedFile, "evidence %s: its line is at %s, outside the window, so it is never packed", r.Evidence, t.Format(time.RFC3339))
		}
	}
	return nil
}
