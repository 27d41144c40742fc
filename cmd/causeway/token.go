package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/causeway-rca/causeway/store"
)

func init() {
	register(command{"token", "create, list and revoke API tokens", (*Main).token})
}

func (m *Main) token(ctx context.Context, args []string) error {
	const doc = `causeway token create --name NAME [--scope read|write|admin]
causeway token list
causeway token revoke NAME|ID

API tokens authorize requests to 'causeway serve'. read may look; write may
also create incidents, upload, investigate and chat; admin may also delete
incidents and manage tokens. Only a hash is stored: the secret is printed
once, at creation.`
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(m.Stderr, doc)
		if len(args) == 0 {
			return exitError{code: 2}
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	fs := m.newFlagSet("token "+sub, doc)
	name := fs.String("name", "", "the token's name (who or what uses it)")
	scope := fs.String("scope", store.ScopeRead, "read, write or admin")
	if err := fs.Parse(rest); err != nil {
		return flagError(err)
	}
	db, err := m.openDB(ctx)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		tok, secret, err := db.CreateToken(ctx, *name, *scope)
		if err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, secret)
		fmt.Fprintf(m.Stderr, "token: created %q (id %d, scope %s); the secret above is shown only now\n", tok.Name, tok.ID, tok.Scope)
		return nil
	case "list":
		toks, err := db.Tokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tPREFIX\tCREATED\tREVOKED")
		for _, t := range toks {
			revoked := "-"
			if t.RevokedAt != nil {
				revoked = t.RevokedAt.UTC().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s…\t%s\t%s\n", t.ID, t.Name, t.Scope, t.Prefix, t.CreatedAt.UTC().Format("2006-01-02 15:04"), revoked)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return exitError{code: 2, msg: "token revoke: name the token (its name or id)"}
		}
		tok, err := db.RevokeToken(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "token: revoked %q (id %d)\n", tok.Name, tok.ID)
		return nil
	}
	return exitError{code: 2, msg: fmt.Sprintf("token: unknown subcommand %q (create, list, revoke)", sub)}
}
