package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/chunking"
	"github.com/causeway-rca/causeway/collectors/files"
	"github.com/causeway-rca/causeway/investigate"
)

// importBundle imports dir into a fresh incident (or the one named key),
// reporting progress, problems and a one-line summary on stderr.
func (m *Main) importBundle(ctx context.Context, svc *investigate.Service, dir, key string) (*causeway.Incident, *files.Report, error) {
	p := m.newProgress()
	start := m.Now()
	inc, rep, err := svc.ImportBundle(ctx, dir, investigate.ImportOptions{Key: key, Progress: p.importing})
	if rep != nil {
		for _, problem := range rep.Problems() {
			p.done("import: %s", problem)
		}
		p.done("import: %s: %d lines from %d files (%d failed, %s) in %s", dir, rep.Lines, len(rep.Files), rep.Failed,
			byteSize(rep.Bytes), m.Now().Sub(start).Round(1e6))
	}
	return inc, rep, err
}

type investigateOutput struct {
	Incident      *causeway.Incident      `json:"incident"`
	Investigation *causeway.Investigation `json:"investigation"`
	Answer        *causeway.Answer        `json:"answer"`
	Verdict       *causeway.Verdict       `json:"verdict"`
	Usage         causeway.Usage          `json:"usage"`
	Timings       causeway.Timings        `json:"timings"`
	Pack          *causeway.Pack          `json:"pack,omitempty"`
	Import        *files.Report           `json:"import,omitempty"`
	SourceErrors  []string                `json:"source_errors"`
}

func (m *Main) investigate(ctx context.Context, args []string) error {
	fs := m.newFlagSet("investigate", `causeway investigate --bundle DIR [--question Q] [--budget N] [--model builtin|NAME] [--json]

Imports the bundle into a fresh incident, packs its evidence into the budget,
asks the model, verifies every citation and prints the answer with each
citation's verdict.`)
	bundle := fs.String("bundle", "", "incident bundle directory (required)")
	question := fs.String("question", "", "question to ask (default: the bundle's)")
	budget := fs.Int("budget", 0, "token budget of the prompt (default: the model's context, at most 1,000,000)")
	model := fs.String("model", "", "builtin, or a model name at CAUSEWAY_MODEL_BASE_URL (default: CAUSEWAY_MODEL, else builtin)")
	asJSON := fs.Bool("json", false, "print the answer, verdict and usage as one JSON object")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if *bundle == "" || fs.NArg() > 0 {
		return exitError{code: 2, msg: "investigate needs --bundle DIR and no other arguments"}
	}
	svc, err := m.service(ctx)
	if err != nil {
		return err
	}
	models, err := m.models()
	if err != nil {
		return err
	}
	if *budget == 0 {
		*budget = min(chunking.DefaultBudget, orDefault(models.ContextTokens(*model), chunking.DefaultBudget))
	}
	inc, rep, err := m.importBundle(ctx, svc, *bundle, "")
	if err != nil {
		return err
	}
	p := m.newProgress()
	start := m.Now()
	out, err := svc.Run(ctx, inc, investigate.Request{Question: *question, Budget: *budget, Model: *model, Status: p.status})
	if out == nil {
		return err
	}
	inv := out.Investigation
	p.done("investigate: incident %d, investigation %d: %s in %s (%d evidence tokens of %d budget, model %s)",
		inc.ID, inv.ID, inv.Status, m.Now().Sub(start).Round(1e6), inv.Usage.ContextTokens, inv.Budget, inv.Model)
	res := investigateOutput{Incident: inc, Investigation: inv, Answer: inv.Answer, Verdict: inv.Verdict, Usage: inv.Usage,
		Timings: inv.Timings, Pack: out.Pack, Import: rep, SourceErrors: investigate.SourceErrors(out.Sources)}
	if res.SourceErrors == nil {
		res.SourceErrors = []string{}
	}
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		if eerr := enc.Encode(res); eerr != nil {
			return eerr
		}
	} else {
		printAnswer(m.Stdout, &res)
	}
	if err != nil {
		if inv.RawReply != "" && !*asJSON {
			fmt.Fprintf(m.Stderr, "raw reply (%d bytes) kept with investigation %d\n", len(inv.RawReply), inv.ID)
		}
		return err
	}
	return nil
}

func orDefault(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

// printAnswer writes the answer for a person: root cause, chain, claims and
// what was ruled out, each citation with its verdict.
func printAnswer(w io.Writer, r *investigateOutput) {
	a := r.Answer
	if a == nil {
		fmt.Fprintf(w, "No answer: %s\n", r.Investigation.Error)
		return
	}
	verdicts := map[string]causeway.CitationVerdict{}
	if r.Verdict != nil {
		for _, cv := range r.Verdict.Citations {
			verdicts[cv.Where+"|"+cv.ID+"|"+cv.Quote] = cv
		}
	}
	cite := func(where string, cs []causeway.Citation) {
		for _, c := range cs {
			status := "unchecked"
			if cv, ok := verdicts[where+"|"+c.ID+"|"+c.Quote]; ok {
				status = cv.Status
			}
			fmt.Fprintf(w, "      [%s] %s %q\n", status, c.ID, c.Quote)
		}
	}
	fmt.Fprintf(w, "Incident %d: %s\n\n", r.Incident.ID, r.Incident.Title)
	fmt.Fprintf(w, "Root cause: %s\n", a.RootCause)
	if a.Summary != "" {
		fmt.Fprintf(w, "\n%s\n", a.Summary)
	}
	fmt.Fprintf(w, "Confidence: %.2f\n", a.Confidence)
	if len(a.CausalChain) > 0 {
		fmt.Fprintln(w, "\nCausal chain:")
		for i, s := range a.CausalChain {
			fmt.Fprintf(w, "  %d. %s\n", s.Step, s.Text)
			cite(fmt.Sprintf("causal_chain[%d]", i), s.Citations)
		}
	}
	if len(a.Claims) > 0 {
		fmt.Fprintln(w, "\nClaims:")
		for i, c := range a.Claims {
			fmt.Fprintf(w, "  - %s\n", c.Text)
			cite(fmt.Sprintf("claims[%d]", i), c.Citations)
		}
	}
	if len(a.RuledOut) > 0 {
		fmt.Fprintln(w, "\nRuled out:")
		for i, ro := range a.RuledOut {
			fmt.Fprintf(w, "  - %s: %s\n", ro.Hypothesis, ro.Why)
			cite(fmt.Sprintf("ruled_out[%d]", i), ro.Citations)
		}
	}
	list := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, it := range items {
			fmt.Fprintf(w, "  - %s\n", it)
		}
	}
	list("Remediation", a.Remediation)
	list("Open questions", a.OpenQuestions)
	if v := r.Verdict; v != nil {
		fmt.Fprintf(w, "\nCitations: %d of %d verified (grounded %.0f%%)", v.Verified, v.Total, 100*v.GroundedRatio)
		var bad []string
		for _, k := range []struct {
			n    int
			name string
		}{{v.UnknownID, causeway.CitationUnknownID}, {v.NotInContext, causeway.CitationNotInContext}, {v.QuoteMismatch, causeway.CitationQuoteMismatch}} {
			if k.n > 0 {
				bad = append(bad, fmt.Sprintf("%d %s", k.n, k.name))
			}
		}
		if len(bad) > 0 {
			fmt.Fprintf(w, "; %s", strings.Join(bad, ", "))
		}
		fmt.Fprintln(w)
	}
	if len(r.SourceErrors) > 0 {
		fmt.Fprintln(w, "\nSources with problems:")
		for _, e := range r.SourceErrors {
			fmt.Fprintf(w, "  - %s\n", e)
		}
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
