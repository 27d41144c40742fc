package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/eval"
)

func init() {
	register(command{"eval", "replay incident bundles through the pipeline and score the answers", (*Main).eval})
}

// defaultEvalSet is where the incident bundles live in the repository.
const defaultEvalSet = "eval/incidents"

// stringList is a flag that may be given several times.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// budgetList is a repeatable token budget flag: 128000, 128_000, 128,000,
// 128k or 1m.
type budgetList []int

func (l *budgetList) String() string {
	parts := make([]string, len(*l))
	for i, b := range *l {
		parts[i] = strconv.Itoa(b)
	}
	return strings.Join(parts, ",")
}

func (l *budgetList) Set(s string) error {
	n, err := parseTokens(s)
	if err != nil {
		return err
	}
	*l = append(*l, n)
	return nil
}

func parseTokens(s string) (int, error) {
	t := strings.ToLower(strings.NewReplacer("_", "", ",", "").Replace(strings.TrimSpace(s)))
	mult := 1
	switch {
	case strings.HasSuffix(t, "k"):
		mult, t = 1000, strings.TrimSuffix(t, "k")
	case strings.HasSuffix(t, "m"):
		mult, t = 1_000_000, strings.TrimSuffix(t, "m")
	}
	n, err := strconv.Atoi(t)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("budget %q is not a positive number of tokens (like 128000 or 128k)", s)
	}
	return n * mult, nil
}

func (m *Main) eval(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "diff":
			return m.evalDiff(args[1:])
		case "validate":
			return m.evalValidate(ctx, args[1:])
		}
	}
	fs := m.newFlagSet("eval", `causeway eval [--set DIR] [--case ID ...] [--model M ...] [--budget N ...] [--json FILE] [--markdown FILE] [--judge M] [--memory]
causeway eval diff A.json B.json
causeway eval validate DIR

Imports each bundle of the set into a fresh incident of DATABASE_URL, runs the
pipeline (pack, prompt, model, verify) for every model at every budget, asks
each control question over the same incident, and scores the answers: root
cause hit, expected evidence packed and cited, citations verified, control
questions answered right, tokens, time and cost. Without --json or --markdown
the markdown report goes to stdout. Prices come from --prices FILE or
CAUSEWAY_PRICES (YAML: model: {input, output, cached_input} in dollars per
million tokens) and --price MODEL=IN/OUT[/CACHED].

With --memory the set runs twice: with memory off, then on in case order,
each root cause hit confirmed as POST /v1/investigations/{id}/feedback does,
so later cases can recall earlier ones; the report is what memory changed.`)
	set := fs.String("set", defaultEvalSet, "directory of bundles, or one bundle")
	var cases, models, prices stringList
	var budgets budgetList
	fs.Var(&cases, "case", "run only this case id (repeatable)")
	fs.Var(&models, "model", "builtin, or a model name at CAUSEWAY_MODEL_BASE_URL (repeatable; default builtin)")
	fs.Var(&budgets, "budget", "token budget (repeatable; default 1,000,000)")
	jsonOut := fs.String("json", "", "write the JSON report to FILE (- for stdout)")
	mdOut := fs.String("markdown", "", "write the markdown report to FILE (- for stdout)")
	judge := fs.String("judge", "", "a model that judges each root cause against the expected one")
	priceFile := fs.String("prices", "", "price file (default CAUSEWAY_PRICES)")
	fs.Var(&prices, "price", "MODEL=INPUT/OUTPUT[/CACHED] in dollars per million tokens (repeatable)")
	keep := fs.Bool("keep", false, "keep the eval incidents in the database (deleted once scored by default)")
	withMemory := fs.Bool("memory", false, "run the set with memory off, then on in case order confirming each hit, and report the difference")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		return exitError{code: 2, msg: fmt.Sprintf("eval: unexpected argument %q (subcommands: diff, validate)", fs.Arg(0))}
	}
	table, err := m.prices(*priceFile, prices)
	if err != nil {
		return err
	}
	list, err := eval.LoadCases(*set, cases...)
	if err != nil {
		return err
	}
	svc, err := m.service(ctx)
	if err != nil {
		return err
	}
	if len(models) == 0 {
		models = stringList{"builtin"}
	}
	if len(budgets) == 0 {
		budgets = budgetList{chunking.DefaultBudget}
	}
	p := m.newProgress()
	r := &eval.Runner{Service: svc, Models: models, Budgets: budgets, Judge: *judge, Prices: table, Keep: *keep,
		Now: m.Now, Logger: m.logger(), Progress: func(ev eval.Progress) { m.evalProgress(p, ev) }}
	if *withMemory {
		return m.evalMemory(ctx, r, *set, list, *jsonOut, *mdOut, p)
	}
	rep, runErr := r.Run(ctx, *set, list)
	if rep == nil {
		return runErr
	}
	if *jsonOut == "" && *mdOut == "" {
		*mdOut = "-"
	}
	if err := m.writeReport(*jsonOut, rep.WriteJSON); err != nil {
		return err
	}
	if err := m.writeReport(*mdOut, rep.WriteMarkdown); err != nil {
		return err
	}
	p.done("%s", evalSummary(rep))
	return runErr
}

// evalMemory runs the set with memory off and then on, and writes the
// comparison.
func (m *Main) evalMemory(ctx context.Context, r *eval.Runner, set string, list []eval.Case, jsonOut, mdOut string, p *progress) error {
	progress := r.Progress
	r.Progress = func(ev eval.Progress) {
		pass := "memory off"
		if ev.Memory {
			pass = "memory on"
		}
		ev.Case = pass + ": " + ev.Case
		progress(ev)
	}
	rep, runErr := r.RunMemory(ctx, set, list)
	if rep == nil {
		return runErr
	}
	if jsonOut == "" && mdOut == "" {
		mdOut = "-"
	}
	if err := m.writeReport(jsonOut, rep.WriteJSON); err != nil {
		return err
	}
	if err := m.writeReport(mdOut, rep.WriteMarkdown); err != nil {
		return err
	}
	p.done("%s", rep.Summary())
	return runErr
}

// prices reads the price table from a file (the flag, else
// CAUSEWAY_PRICES) and the --price flags, which win.
func (m *Main) prices(file string, flags []string) (eval.Prices, error) {
	if file == "" {
		file = m.Getenv("CAUSEWAY_PRICES")
	}
	table := eval.Prices{}
	if file != "" {
		var err error
		if table, err = eval.ReadPrices(file); err != nil {
			return nil, err
		}
	}
	for _, f := range flags {
		model, price, err := eval.ParsePrice(f)
		if err != nil {
			return nil, exitError{code: 2, msg: err.Error()}
		}
		table[model] = price
	}
	return table, nil
}

func (m *Main) writeReport(name string, write func(io.Writer) error) error {
	switch name {
	case "":
		return nil
	case "-":
		return write(m.Stdout)
	}
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// evalProgress redraws the progress line on a terminal and prints each
// scored run on its own line everywhere, so that a CI log shows them.
func (m *Main) evalProgress(p *progress, ev eval.Progress) {
	prefix := fmt.Sprintf("[%d/%d] %s", ev.Index, ev.Of, ev.Case)
	switch {
	case ev.Stage == eval.StageScored && ev.Result != nil:
		p.done("%s %s", prefix, resultLine(ev.Result))
	case ev.Import != nil:
		if p.terminal && p.now().Sub(p.last) >= 200*time.Millisecond {
			p.last, p.drawn = p.now(), true
			fmt.Fprintf(p.w, "\r\x1b[K%s: import %d/%d files, %d lines", prefix, ev.Import.Done, ev.Import.Files, ev.Import.Lines)
		}
	case p.terminal:
		p.drawn = true
		what := ev.Stage
		if ev.Model != "" {
			what = fmt.Sprintf("%s %s@%d", ev.Stage, ev.Model, ev.Budget)
		}
		fmt.Fprintf(p.w, "\r\x1b[K%s: %s...", prefix, what)
	}
}

// resultLine is one scored run in a line.
func resultLine(r *eval.Result) string {
	hit := "miss"
	if r.RootCauseHit {
		hit = "hit"
	}
	s := fmt.Sprintf("%s@%d: root cause %s, evidence packed %.0f%% cited %.0f%%, citations %d/%d verified",
		r.Model, r.Budget, hit, 100*r.EvidenceRecallPacked, 100*r.EvidenceRecallCited, r.CitationsVerified, r.CitationsTotal)
	if r.ControlCorrect != nil {
		s += fmt.Sprintf(", control %.0f%%", 100**r.ControlCorrect)
	}
	s += fmt.Sprintf(", %d tokens packed, %s", r.PackTokens, time.Duration(r.WallMS)*time.Millisecond)
	if r.Error != "" {
		s += "; error: " + r.Error
	}
	return s
}

// evalSummary is the one-line summary of a run.
func evalSummary(rep *eval.Report) string {
	var hits, errs, total, verified, controlRight, controls int
	var packed float64
	for _, c := range rep.Cases {
		if c.RootCauseHit {
			hits++
		}
		if c.Error != "" {
			errs++
		}
		packed += c.EvidenceRecallPacked
		total += c.CitationsTotal
		verified += c.CitationsVerified
		for _, cr := range c.Control {
			controls++
			if cr.Correct {
				controlRight++
			}
		}
	}
	n := len(rep.Cases)
	if n == 0 {
		return "eval: nothing was run"
	}
	return fmt.Sprintf("eval: %d runs in %s: root cause %d/%d, evidence packed %.0f%%, citations %d/%d verified, control %d/%d, %d errors",
		n, time.Duration(rep.WallMS)*time.Millisecond, hits, n, 100*packed/float64(n), verified, total, controlRight, controls, errs)
}

func (m *Main) evalDiff(args []string) error {
	fs := m.newFlagSet("eval diff", "causeway eval diff A.json B.json\n\nShows what got better or worse from report A to report B, per case and metric.")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() != 2 {
		return exitError{code: 2, msg: "eval diff needs two JSON reports: A.json B.json"}
	}
	a, err := eval.ReadReport(fs.Arg(0))
	if err != nil {
		return err
	}
	b, err := eval.ReadReport(fs.Arg(1))
	if err != nil {
		return err
	}
	c := eval.Diff(a, b)
	if err := c.WriteText(m.Stdout); err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "eval diff: %d changes for the worse, %d results compared\n", c.Worse(), len(b.Cases)-len(c.OnlyB))
	return nil
}

func (m *Main) evalValidate(ctx context.Context, args []string) error {
	fs := m.newFlagSet("eval validate", "causeway eval validate DIR\n\nChecks a bundle, or every bundle of a set, and names every problem.")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() != 1 {
		return exitError{code: 2, msg: "eval validate needs one directory: a bundle or a set of bundles"}
	}
	start := m.Now()
	problems, err := eval.Validate(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	var errs, warns int
	for _, p := range problems {
		fmt.Fprintln(m.Stdout, p.String())
		if p.Warning {
			warns++
		} else {
			errs++
		}
	}
	fmt.Fprintf(m.Stderr, "eval validate: %s: %s, %s in %s\n", fs.Arg(0), plural(errs, "problem"), plural(warns, "warning"), m.Now().Sub(start).Round(time.Millisecond))
	if errs > 0 {
		return exitError{code: 1}
	}
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
