package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// newFlagSet returns a flag set whose -h prints doc and the flags to the
// program's stderr.
func (m *Main) newFlagSet(name, doc string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintln(m.Stderr, doc)
		fmt.Fprintln(m.Stderr, "\nflags:")
		fs.SetOutput(m.Stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// flagError turns a flag parse error into an exit: -h exits 0 after the
// usage was printed, anything else exits 2 with the reason.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return exitError{code: 0}
	}
	return exitError{code: 2, msg: err.Error()}
}
