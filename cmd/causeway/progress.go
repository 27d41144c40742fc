package main

import (
	"fmt"
	"io"
	"time"

	"github.com/causeway-rca/causeway/collectors/files"
)

// progress shows a long task's progress on a terminal, redrawing one line
// at most a few times a second; elsewhere it stays quiet until the summary.
type progress struct {
	w        io.Writer
	terminal bool
	last     time.Time
	now      func() time.Time
	drawn    bool
}

func (m *Main) newProgress() *progress {
	return &progress{w: m.Stderr, terminal: m.Terminal, now: m.Now}
}

func (p *progress) importing(ip files.ImportProgress) {
	if !p.terminal || p.now().Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = p.now()
	p.drawn = true
	fmt.Fprintf(p.w, "\r\x1b[Kimport %d/%d files, %d lines: %s", ip.Done, ip.Files, ip.Lines, ip.File)
}

// status shows the stage an investigation is in.
func (p *progress) status(st string) {
	if !p.terminal {
		return
	}
	p.drawn = true
	fmt.Fprintf(p.w, "\r\x1b[K%s...", st)
}

// done clears the progress line and prints the one-line summary.
func (p *progress) done(format string, args ...any) {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}
