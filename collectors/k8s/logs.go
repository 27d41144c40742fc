package k8s

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/collectors/files"
)

// Why reading a log stopped early; errStopped ends the parse at the
// window's end, which is not a problem.
var (
	errStopped   = errors.New("past the window")
	errLineLimit = errors.New("line limit reached")
)

// container is one container instance whose log is read.
type container struct {
	pod      *corev1.Pod
	name     string
	previous bool
}

// logs reads the log of every container of the scope's pods that ran in
// the window, and of its previous instance when it restarted in or after
// the window's start: the crash before a restart is what explains it.
func (r *run) logs(ctx context.Context, s Scope) error {
	for i := range r.pods[s] {
		pod := &r.pods[s][i]
		for _, cs := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
			if ran(cs.State, r.from, r.to) {
				if err := r.log(ctx, container{pod: pod, name: cs.Name}); err != nil {
					return err
				}
			}
			if cs.LastTerminationState.Terminated != nil && ran(cs.LastTerminationState, r.from, r.to) {
				if err := r.log(ctx, container{pod: pod, name: cs.Name, previous: true}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// ran reports whether a container instance in state st can have logged
// in [from, to]. A waiting container has no instance of its own (a crash
// loop's last one is its previous).
func ran(st corev1.ContainerState, from, to time.Time) bool {
	switch {
	case st.Running != nil:
		return !st.Running.StartedAt.After(to)
	case st.Terminated != nil:
		t := st.Terminated
		return (t.FinishedAt.IsZero() || !t.FinishedAt.Time.Before(from)) && !t.StartedAt.After(to)
	}
	return false
}

// log reads one container instance's log from the window's start, with
// kubelet timestamps, and stops at the window's end or a bound.
func (r *run) log(ctx context.Context, c container) error {
	name := "k8s/" + c.pod.Namespace + "/logs/" + c.pod.Name + "/" + c.name + ".log"
	if c.previous {
		name = "k8s/" + c.pod.Namespace + "/logs/" + c.pod.Name + "/" + c.name + ".previous.log"
	}
	src := &causeway.Source{Name: name, Kind: causeway.KindPodLog, Labels: map[string]string{
		"namespace": c.pod.Namespace, "pod": c.pod.Name, "container": c.name, "node": c.pod.Spec.NodeName}}
	if src.Labels["node"] == "" {
		delete(src.Labels, "node")
	}
	if r.logBytes >= r.c.cfg.MaxTotalLogBytes {
		return r.fail(ctx, src, fmt.Errorf("not read: the collection's log limit of %d bytes was reached", r.c.cfg.MaxTotalLogBytes))
	}
	if err := r.ctx.Err(); err != nil {
		return r.fail(ctx, src, r.fetchErr(err))
	}
	maxBytes := min(r.c.cfg.MaxLogBytes, r.c.cfg.MaxTotalLogBytes-r.logBytes)
	// The server cuts at a byte count, mid-line; asking for a little more
	// than the bound lets the reader keep whole lines and see the cut.
	serverLimit := maxBytes + files.DefaultMaxLineBytes
	opts := &corev1.PodLogOptions{Container: c.name, Previous: c.previous, Timestamps: true, LimitBytes: &serverLimit}
	if !r.from.IsZero() {
		opts.SinceTime = &metav1.Time{Time: r.from}
	}
	stream, err := r.c.client.CoreV1().Pods(c.pod.Namespace).GetLogs(c.pod.Name, opts).Stream(r.ctx)
	if err != nil {
		return r.fail(ctx, src, fmt.Errorf("get log: %w", r.fetchErr(err)))
	}
	defer stream.Close()

	in := &wholeLines{r: bufio.NewReaderSize(stream, 64<<10), max: maxBytes}
	var lines []causeway.Line
	var last time.Time
	_, perr := files.Parse(r.ctx, *src, in, r.opts, func(l causeway.Line) error {
		if !l.Time.IsZero() && !l.TimeInferred && l.Time.After(r.to) {
			return errStopped
		}
		if len(lines) >= r.c.cfg.MaxLogLines {
			return errLineLimit
		}
		if !l.Time.IsZero() {
			last = l.Time
		}
		lines = append(lines, l)
		return nil
	})
	r.logBytes += in.n
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	src.Lines = int64(len(lines))
	switch {
	case errors.Is(perr, errStopped):
	case errors.Is(perr, errLineLimit):
		src.Error = fmt.Sprintf("line limit %d reached at %s; later lines not collected", r.c.cfg.MaxLogLines, stamp(last))
	case perr != nil:
		src.Error = "read log: " + r.fetchErr(perr).Error()
	case in.cut:
		src.Error = fmt.Sprintf("byte limit %d reached at %s; later lines not collected", maxBytes, stamp(last))
	}
	return r.write(ctx, src, lines)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "the start"
	}
	return t.UTC().Format(time.RFC3339)
}

// wholeLines reads whole lines from r until max bytes, and reports a cut
// instead of handing on the part of a line the bound would split.
type wholeLines struct {
	r   *bufio.Reader
	max int64
	n   int64
	cut bool
	buf []byte
}

func (w *wholeLines) Read(p []byte) (int, error) {
	if len(w.buf) == 0 {
		if w.cut {
			return 0, io.EOF
		}
		line, err := w.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			err = nil // a long line is handed on in pieces; the parser joins them
		}
		if len(line) > 0 {
			if w.n+int64(len(line)) > w.max {
				w.cut = true
				return 0, io.EOF
			}
			w.n += int64(len(line))
			w.buf = line
		} else if err != nil {
			return 0, err
		}
	}
	n := copy(p, w.buf)
	w.buf = w.buf[n:]
	return n, nil
}
