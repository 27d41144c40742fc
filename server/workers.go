package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/store"
)

// WorkerConfig tunes the workers that run investigations from the queue.
type WorkerConfig struct {
	// Concurrency is how many investigations run at once here; default 4.
	// A negative value runs none: the server only serves the API.
	Concurrency int
	// Lease is how long a job stays a worker's without renewal (renewed
	// every third of it); a dead worker's job is claimed again after it.
	// Default 30 s.
	Lease time.Duration
	// JobTimeout bounds one investigation; default 15 min.
	JobTimeout time.Duration
	// MaxAttempts is how many workers may die on a job before it is
	// failed; default 3.
	MaxAttempts int
	// Poll is how often idle workers look for jobs when no notification
	// wakes them; default 2 s.
	Poll time.Duration
	// ID names this server's workers in the database; default host, pid
	// and a random suffix.
	ID string
	// Collectors pull inline scopes' live sources.
	Collectors investigate.Collectors
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 15 * time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.Poll <= 0 {
		c.Poll = 2 * time.Second
	}
	if c.ID == "" {
		c.ID = workerID()
	}
	return c
}

// errCanceledByRequest is the recorded cause of a job canceled through the
// API.
var errCanceledByRequest = errors.New("canceled by request")

// pool runs jobs from the queue with bounded concurrency.
type pool struct {
	db      *store.DB
	svc     *investigate.Service
	logger  *slog.Logger
	cfg     WorkerConfig
	metrics *metrics

	wakeCh chan struct{}
	// stopping is closed when workers must take no more jobs; hard ends
	// the jobs still running (cause investigate.ErrInterrupted).
	stopping  chan struct{}
	stopOnce  sync.Once
	hard      context.Context
	interrupt context.CancelCauseFunc
	wg        sync.WaitGroup

	mu      sync.Mutex
	running map[int64]context.CancelCauseFunc
}

func newPool(db *store.DB, svc *investigate.Service, logger *slog.Logger, cfg WorkerConfig, m *metrics) *pool {
	hard, interrupt := context.WithCancelCause(context.Background())
	return &pool{db: db, svc: svc, logger: logger, cfg: cfg, metrics: m, wakeCh: make(chan struct{}, 1),
		stopping: make(chan struct{}), hard: hard, interrupt: interrupt, running: map[int64]context.CancelCauseFunc{}}
}

func (p *pool) start() {
	if p.cfg.Concurrency < 0 {
		return
	}
	for range p.cfg.Concurrency {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.work()
		}()
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.reap()
	}()
}

// stop takes no more jobs, lets running ones finish until ctx ends, then
// interrupts the rest, which go back to the queue.
func (p *pool) stop(ctx context.Context) error {
	p.stopOnce.Do(func() { close(p.stopping) })
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		p.interrupt(investigate.ErrInterrupted)
		return nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	n := len(p.running)
	p.mu.Unlock()
	p.logger.Info("stopping: handing running investigations back to the queue", "investigations", n)
	p.interrupt(investigate.ErrInterrupted)
	<-done
	return nil
}

// wake tells an idle worker that a job may be waiting.
func (p *pool) wake() {
	select {
	case p.wakeCh <- struct{}{}:
	default:
	}
}

// cancelLocal stops job id now if it runs here.
func (p *pool) cancelLocal(id int64) {
	p.mu.Lock()
	cancel := p.running[id]
	p.mu.Unlock()
	if cancel != nil {
		cancel(errCanceledByRequest)
	}
}

func (p *pool) work() {
	for {
		select {
		case <-p.stopping:
			return
		default:
		}
		job, err := p.db.Claim(p.hard, p.cfg.ID, p.cfg.Lease, p.cfg.MaxAttempts)
		if err != nil {
			p.logger.Warn("claim investigation", "error", err)
		}
		if job != nil {
			p.run(job)
			continue
		}
		select {
		case <-p.stopping:
			return
		case <-p.wakeCh:
		case <-time.After(p.cfg.Poll):
		}
	}
}

// reap fails the jobs whose workers died on them MaxAttempts times, so that
// they do not stay "running" forever.
func (p *pool) reap() {
	t := time.NewTicker(p.cfg.Lease)
	defer t.Stop()
	for {
		select {
		case <-p.stopping:
			return
		case <-t.C:
		}
		jobs, err := p.db.Exhausted(p.hard, p.cfg.MaxAttempts)
		if err != nil {
			p.logger.Warn("look for exhausted investigations", "error", err)
			continue
		}
		for _, j := range jobs {
			msg := fmt.Sprintf("gave up after %d attempts: each time the worker running it stopped answering (the last was %s)",
				j.Attempts, j.Worker)
			if err := p.db.FailJob(p.hard, j.Investigation.ID, j.Worker, msg); err == nil {
				p.metrics.jobsFinished.WithLabelValues(causeway.StatusFailed).Inc()
			}
		}
	}
}

// run executes one claimed job: it renews the lease while the job runs,
// stops it on a cancel request, a timeout or shutdown, streams its events
// and model tokens, and records what happened.
func (p *pool) run(job *store.Job) {
	id := job.Investigation.ID
	log := p.logger.With("investigation", id, "attempt", job.Attempts)
	ctx, cancel := context.WithCancelCause(p.hard)
	defer cancel(nil)
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, p.cfg.JobTimeout,
		fmt.Errorf("timed out after %s (the server's job timeout)", p.cfg.JobTimeout))
	defer cancelTimeout()
	p.mu.Lock()
	p.running[id] = cancel
	p.mu.Unlock()
	p.metrics.jobsRunning.Inc()
	defer func() {
		p.mu.Lock()
		delete(p.running, id)
		p.mu.Unlock()
		p.metrics.jobsRunning.Dec()
	}()
	if job.CancelRequested {
		cancel(errCanceledByRequest)
	}

	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		p.renew(ctx, id, cancel)
	}()

	// Events are written with their own context, so that the last of
	// them (the reason it stopped) is still stored after ctx ends.
	evCtx := context.WithoutCancel(ctx)
	event := func(typ string, data any) {
		if _, err := p.db.AppendEvent(evCtx, id, typ, data); err != nil {
			log.Warn("store investigation event", "type", typ, "error", err)
		}
	}
	tokens := newTokenBuffer(func(text string) { event(store.EventToken, map[string]string{"text": text}) })
	log.Info("investigation started", "worker", p.cfg.ID)
	out, err := p.svc.Execute(ctx, job, investigate.JobOptions{
		Collectors: p.cfg.Collectors,
		Stream:     tokens.add,
		Event: func(typ string, data any) {
			tokens.flush() // the reply so far comes before what follows it
			event(typ, data)
		},
	})
	tokens.flush()
	cancel(nil)
	<-renewed

	cause := context.Cause(ctx)
	if errors.Is(cause, investigate.ErrInterrupted) {
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer rcancel()
		if rerr := p.db.RequeueJob(rctx, id, p.cfg.ID); rerr == nil {
			log.Info("investigation handed back to the queue")
			p.metrics.jobsFinished.WithLabelValues("requeued").Inc()
		} else if !errors.Is(rerr, store.ErrLeaseLost) {
			log.Warn("hand investigation back to the queue", "error", rerr)
		}
		return
	}
	if out != nil && out.Investigation != nil {
		inv := out.Investigation
		p.metrics.jobsFinished.WithLabelValues(inv.Status).Inc()
		p.metrics.countTokens(inv.Model, inv.Usage)
		if out.Pack != nil {
			p.metrics.packSeconds.Observe(float64(inv.Timings.PackMS) / 1000)
		}
		log.Info("investigation ended", "status", inv.Status, "total_ms", inv.Timings.TotalMS, "error", inv.Error)
		return
	}
	if err != nil {
		p.metrics.jobsFinished.WithLabelValues(causeway.StatusFailed).Inc()
		log.Warn("investigation failed", "error", err)
	}
}

// renew keeps the lease until ctx ends. A lost lease (another worker took
// the job) interrupts the job without recording anything; a cancel request
// cancels it.
func (p *pool) renew(ctx context.Context, id int64, cancel context.CancelCauseFunc) {
	t := time.NewTicker(p.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		canceled, err := p.db.Renew(ctx, id, p.cfg.ID, p.cfg.Lease)
		switch {
		case errors.Is(err, store.ErrLeaseLost):
			cancel(fmt.Errorf("%w: the lease was lost", investigate.ErrInterrupted))
			return
		case err != nil:
			if ctx.Err() == nil {
				p.logger.Warn("renew investigation lease", "investigation", id, "error", err)
			}
		case canceled:
			cancel(errCanceledByRequest)
		}
	}
}

// tokenBuffer gathers model tokens into events of about a line or a tenth
// of a second, so that a stream costs tens of rows, not thousands.
type tokenBuffer struct {
	mu    sync.Mutex
	buf   strings.Builder
	timer *time.Timer
	emit  func(string)
}

const (
	tokenFlushBytes = 512
	tokenFlushEvery = 100 * time.Millisecond
)

func newTokenBuffer(emit func(string)) *tokenBuffer { return &tokenBuffer{emit: emit} }

func (t *tokenBuffer) add(delta string) {
	t.mu.Lock()
	t.buf.WriteString(delta)
	full := t.buf.Len() >= tokenFlushBytes
	if !full && t.timer == nil {
		t.timer = time.AfterFunc(tokenFlushEvery, t.flush)
	}
	t.mu.Unlock()
	if full {
		t.flush()
	}
}

func (t *tokenBuffer) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	if t.buf.Len() == 0 {
		return
	}
	// Emitting under the lock keeps the pieces in order.
	t.emit(t.buf.String())
	t.buf.Reset()
}
