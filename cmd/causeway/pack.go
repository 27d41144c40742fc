package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/causeway-rca/causeway/chunking"
)

func (m *Main) pack(ctx context.Context, args []string) error {
	fs := m.newFlagSet("pack", `causeway pack --bundle DIR [--budget N] [--stats]

Imports the bundle into a scratch incident, packs it into the budget and
prints the evidence exactly as a model would see it, or with --stats the
tokens per source and in total. The scratch incident is removed afterwards.`)
	bundle := fs.String("bundle", "", "incident bundle directory (required)")
	budget := fs.Int("budget", chunking.DefaultBudget, "token budget of the prompt")
	stats := fs.Bool("stats", false, "print tokens per source instead of the evidence")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if *bundle == "" || fs.NArg() > 0 {
		return exitError{code: 2, msg: "pack needs --bundle DIR and no other arguments"}
	}
	svc, err := m.service(ctx)
	if err != nil {
		return err
	}
	inc, _, err := m.importBundle(ctx, svc, *bundle, "")
	if inc != nil {
		defer func() {
			if derr := svc.DB.DeleteIncident(context.WithoutCancel(ctx), inc.ID); derr != nil {
				fmt.Fprintf(m.Stderr, "pack: remove scratch incident %d: %v\n", inc.ID, derr)
			}
		}()
	}
	if err != nil {
		return err
	}
	start := m.Now()
	packer := chunking.NewPacker(svc.Tokenizer)
	pack, err := packer.Pack(ctx, inc, svc.DB, *budget)
	if err != nil {
		return err
	}
	m.newProgress().done("pack: %d of %d lines, %d tokens of %d evidence budget (%d total) in %s",
		len(pack.Lines), pack.Total, pack.Tokens, packer.EvidenceBudget(*budget), *budget, m.Now().Sub(start).Round(1e6))
	if !*stats {
		_, err := fmt.Fprint(m.Stdout, pack.Evidence())
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "source\tkind\tlines kept\tlines\ttokens\t")
	for _, s := range pack.Sources {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t\n", s.Name, s.Kind, s.Lines, s.Total, s.Tokens)
	}
	fmt.Fprintf(tw, "total\t\t%d\t%d\t%d\t\n", len(pack.Lines), pack.Total, pack.Tokens)
	fmt.Fprintf(tw, "budget\t\t\t\t%d\t\n", *budget)
	return tw.Flush()
}
