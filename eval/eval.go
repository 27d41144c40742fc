// Package eval replays recorded incidents through Causeway's whole pipeline
// and scores the answers, so that a change to the packer, the prompts or the
// model is measured on the same cases rather than guessed at.
//
// A case is an incident bundle (docs/bundle-format.md) with an
// expected.yaml: the root cause in words, the keywords a right answer must
// use, the evidence lines it rests on, and control questions with the
// keywords of their right answers. Runner imports each bundle into a fresh
// incident, investigates it with every model at every budget, asks the
// control questions over the same incident, and scores each answer; Report
// holds the scores per case and their means per model and budget, and
// renders them as JSON or markdown. Validate names every problem of a
// bundle before it is run.
package eval

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/collectors/files"
)

// ExpectedFile is the name of a bundle's answer key.
const ExpectedFile = "expected.yaml"

// Expected is a bundle's expected.yaml: what a right answer says and rests
// on.
type Expected struct {
	// RootCause is the root cause in words, for people and judges.
	RootCause string `yaml:"root_cause"`
	// RootCauseKeywords are groups of alternatives; a root cause hits when
	// every group has a term in the answer's root cause and summary.
	RootCauseKeywords [][]string `yaml:"root_cause_keywords"`
	// Evidence names the lines a right answer rests on.
	Evidence []Evidence `yaml:"evidence"`
	// Control are further questions about the same incident, usually
	// about a decoy, with the keywords of a right answer.
	Control []Control `yaml:"control"`
}

// Evidence names one evidence line: the line of Source whose text holds
// Contains, which must match exactly one line of it.
type Evidence struct {
	Source   string `yaml:"source" json:"source"`
	Contains string `yaml:"contains" json:"contains"`
}

func (e Evidence) String() string { return fmt.Sprintf("%s: %q", e.Source, e.Contains) }

// Control is a control question and the keyword groups of its right
// answer.
type Control struct {
	Question       string     `yaml:"question"`
	AnswerKeywords [][]string `yaml:"answer_keywords"`
}

// ReadExpected reads and checks dir/expected.yaml. Errors are
// *causeway.Error with code EINVALID; a missing file also matches
// fs.ErrNotExist.
func ReadExpected(dir string) (*Expected, error) {
	name := filepath.Join(dir, ExpectedFile)
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, &causeway.Error{Code: causeway.EINVALID, Message: "read answer key", Err: err}
	}
	exp, problems := parseExpected(data)
	if len(problems) > 0 {
		return nil, causeway.Errorf(causeway.EINVALID, "%s: %s", name, strings.Join(problems, "; "))
	}
	return exp, nil
}

// parseExpected decodes an answer key and lists everything wrong with it.
func parseExpected(data []byte) (*Expected, []string) {
	var exp Expected
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&exp); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []string{"file is empty"}
		}
		return nil, []string{err.Error()}
	}
	var problems []string
	if strings.TrimSpace(exp.RootCause) == "" {
		problems = append(problems, "root_cause is missing")
	}
	if len(exp.RootCauseKeywords) == 0 {
		problems = append(problems, "root_cause_keywords is missing (want a list of groups: [[any, of], [these]])")
	}
	problems = append(problems, checkGroups("root_cause_keywords", exp.RootCauseKeywords)...)
	if len(exp.Evidence) == 0 {
		problems = append(problems, "evidence is missing (want [{source, contains}])")
	}
	for i, ev := range exp.Evidence {
		if ev.Source == "" {
			problems = append(problems, fmt.Sprintf("evidence[%d]: source is missing", i))
		}
		if ev.Contains == "" {
			problems = append(problems, fmt.Sprintf("evidence[%d]: contains is missing", i))
		}
	}
	for i, c := range exp.Control {
		if strings.TrimSpace(c.Question) == "" {
			problems = append(problems, fmt.Sprintf("control[%d]: question is missing", i))
		}
		if len(c.AnswerKeywords) == 0 {
			problems = append(problems, fmt.Sprintf("control[%d]: answer_keywords is missing", i))
		}
		problems = append(problems, checkGroups(fmt.Sprintf("control[%d].answer_keywords", i), c.AnswerKeywords)...)
	}
	return &exp, problems
}

func checkGroups(field string, groups [][]string) []string {
	var problems []string
	for i, g := range groups {
		if len(g) == 0 {
			problems = append(problems, fmt.Sprintf("%s[%d] is empty", field, i))
		}
		for _, k := range g {
			if strings.TrimSpace(k) == "" {
				problems = append(problems, fmt.Sprintf("%s[%d] has an empty term", field, i))
			}
		}
	}
	return problems
}

// Case is one bundle of an eval set.
type Case struct {
	// ID is the bundle's id from incident.yaml, else its directory name.
	ID       string
	Dir      string
	Spec     *files.Spec
	Expected *Expected
}

// LoadCases reads the bundles of set: every directory under it that holds
// an incident.yaml, or set itself when it is a bundle. ids, when given,
// select cases by ID; an unknown one is an error that lists the known.
// Cases come in ID order.
func LoadCases(set string, ids ...string) ([]Case, error) {
	dirs, err := bundleDirs(set)
	if err != nil {
		return nil, err
	}
	var cases []Case
	for _, dir := range dirs {
		spec, err := files.ReadSpec(dir)
		if err != nil {
			return nil, err
		}
		exp, err := ReadExpected(dir)
		if err != nil {
			return nil, err
		}
		id := spec.ID
		if id == "" {
			id = filepath.Base(dir)
		}
		cases = append(cases, Case{ID: id, Dir: dir, Spec: spec, Expected: exp})
	}
	slices.SortFunc(cases, func(a, b Case) int { return strings.Compare(a.ID, b.ID) })
	for i := 1; i < len(cases); i++ {
		if cases[i].ID == cases[i-1].ID {
			return nil, causeway.Errorf(causeway.EINVALID, "bundles %s and %s have the same id %q", cases[i-1].Dir, cases[i].Dir, cases[i].ID)
		}
	}
	if len(ids) == 0 {
		return cases, nil
	}
	var chosen []Case
	for _, id := range ids {
		i := slices.IndexFunc(cases, func(c Case) bool { return c.ID == id })
		if i < 0 {
			known := make([]string, len(cases))
			for j, c := range cases {
				known[j] = c.ID
			}
			return nil, causeway.Errorf(causeway.ENOTFOUND, "no case %q in %s (have %s)", id, set, strings.Join(known, ", "))
		}
		chosen = append(chosen, cases[i])
	}
	return chosen, nil
}

// bundleDirs lists set itself when it is a bundle, else its subdirectories
// that are, in name order.
func bundleDirs(set string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(set, files.SpecFile)); err == nil {
		return []string{set}, nil
	}
	entries, err := os.ReadDir(set)
	if err != nil {
		return nil, &causeway.Error{Code: causeway.EINVALID, Message: "read eval set", Err: err}
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(set, e.Name())
		if _, err := os.Stat(filepath.Join(dir, files.SpecFile)); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		dirs = append(dirs, dir)
	}
	if len(dirs) == 0 {
		return nil, causeway.Errorf(causeway.EINVALID, "%s holds no bundle (a directory with %s)", set, files.SpecFile)
	}
	return dirs, nil
}
