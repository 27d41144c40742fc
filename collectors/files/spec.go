package files

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/causeway-rca/causeway"
)

// SpecFile is the name of a bundle's description file.
const SpecFile = "incident.yaml"

// Spec is a bundle's incident.yaml: what the incident is, when it happened,
// what to ask, and how to read each source.
type Spec struct {
	ID       string       `yaml:"id"`
	Title    string       `yaml:"title"`
	Window   Window       `yaml:"window"`
	Question string       `yaml:"question"`
	Sources  []SourceSpec `yaml:"sources"`
	// Noise asks for deterministic filler; it is parsed here and expanded
	// elsewhere.
	Noise *NoiseSpec `yaml:"noise"`
}

// Window is an incident's time window.
type Window struct {
	Start time.Time
	End   time.Time
}

// SourceSpec describes one file of a bundle.
type SourceSpec struct {
	// Path is relative to the bundle, in slash form: "logs/gateway.log.gz".
	Path string `yaml:"path"`
	// Kind may be empty, in which case it is inferred from the folder.
	Kind   causeway.SourceKind `yaml:"kind"`
	Labels map[string]string   `yaml:"labels"`
	// Query is the PromQL behind a metrics file.
	Query string `yaml:"query"`
}

// NoiseSpec asks for deterministic filler that expands a bundle to Tokens.
type NoiseSpec struct {
	Seed    int64  `yaml:"seed"`
	Tokens  int    `yaml:"tokens"`
	Profile string `yaml:"profile"`
}

// Source returns the spec of the source at path p (slash form) and whether
// the spec lists it.
func (s *Spec) Source(p string) (SourceSpec, bool) {
	for _, src := range s.Sources {
		if src.Path == p {
			return src, true
		}
	}
	return SourceSpec{}, false
}

// UnmarshalYAML reads window times as strings so that a time that is not
// RFC3339 is reported as such rather than as whatever YAML made of it.
func (w *Window) UnmarshalYAML(n *yaml.Node) error {
	var raw struct {
		Start string `yaml:"start"`
		End   string `yaml:"end"`
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	var err error
	if w.Start, err = parseWindowTime("start", raw.Start); err != nil {
		return err
	}
	if w.End, err = parseWindowTime("end", raw.End); err != nil {
		return err
	}
	return nil
}

func parseWindowTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("window.%s is missing", field)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("window.%s %q is not an RFC3339 time (like 2025-08-21T03:00:00Z)", field, s)
	}
	return t.UTC(), nil
}

// ReadSpec reads and checks dir/incident.yaml. Every error is a
// *causeway.Error with code EINVALID; a missing file also matches
// fs.ErrNotExist.
func ReadSpec(dir string) (*Spec, error) {
	name := filepath.Join(dir, SpecFile)
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, &causeway.Error{Code: causeway.EINVALID, Message: "read bundle spec", Err: err}
	}
	spec, err := parseSpec(data)
	if err != nil {
		return nil, &causeway.Error{Code: causeway.EINVALID, Message: "bundle spec " + name, Err: err}
	}
	return spec, nil
}

func parseSpec(data []byte) (*Spec, error) {
	var spec Spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&spec); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("file is empty")
		}
		return nil, err
	}
	if spec.Window.Start.IsZero() {
		return nil, errors.New("window is missing (window: {start: RFC3339, end: RFC3339})")
	}
	if spec.Window.End.Before(spec.Window.Start) {
		return nil, fmt.Errorf("window ends (%s) before it starts (%s)",
			spec.Window.End.Format(time.RFC3339), spec.Window.Start.Format(time.RFC3339))
	}
	seen := make(map[string]bool, len(spec.Sources))
	for i := range spec.Sources {
		src := &spec.Sources[i]
		if src.Path == "" {
			return nil, fmt.Errorf("sources[%d]: path is missing", i)
		}
		clean := path.Clean(filepath.ToSlash(src.Path))
		// Bundles arrive by upload too, so a path must not leave the bundle.
		if !filepath.IsLocal(filepath.FromSlash(clean)) {
			return nil, fmt.Errorf("sources[%d]: path %q is not inside the bundle", i, src.Path)
		}
		src.Path = clean
		if seen[clean] {
			return nil, fmt.Errorf("sources[%d]: path %q is listed twice", i, src.Path)
		}
		seen[clean] = true
		if src.Kind != "" && !src.Kind.Valid() {
			return nil, fmt.Errorf("sources[%d] (%s): unknown kind %q (want one of %s)", i, src.Path, src.Kind, kindList)
		}
	}
	if spec.Noise != nil && spec.Noise.Tokens < 0 {
		return nil, fmt.Errorf("noise.tokens %d is negative", spec.Noise.Tokens)
	}
	return &spec, nil
}

var kindList = strings.Join([]string{
	string(causeway.KindPodLog), string(causeway.KindEvents), string(causeway.KindObjects),
	string(causeway.KindPrometheus), string(causeway.KindSlack), string(causeway.KindJira),
	string(causeway.KindLog), string(causeway.KindDoc), string(KindMeshAdmin),
}, ", ")
