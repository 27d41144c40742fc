package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/causeway-rca/causeway"
)

// ErrLeaseLost is returned by a worker's write to a job it no longer holds:
// its lease ran out and another worker claimed the job, or the job ended.
var ErrLeaseLost = errors.New("job lease lost")

// Notification channels: ChannelEvents carries an investigation id whenever
// one of its events is appended; ChannelJobs carries "queued" when a job is
// enqueued and "cancel:<id>" when a running one is asked to stop.
const (
	ChannelEvents = "causeway_events"
	ChannelJobs   = "causeway_jobs"
)

// runningStatuses are the statuses of a job that a worker holds.
const runningStatuses = `('collecting','packing','asking','verifying')`

// Job is an investigation as the queue sees it.
type Job struct {
	Investigation *causeway.Investigation
	// Scope is the inline scope to collect before packing, as the client
	// sent it; nil when the investigation only reads its incident.
	Scope           json.RawMessage
	IdempotencyKey  string
	Attempts        int
	Worker          string
	LeaseUntil      *time.Time
	CancelRequested bool
	StartedAt       *time.Time
	FinishedAt      *time.Time
}

// Terminal reports whether the job has ended: done, failed or canceled.
func (j *Job) Terminal() bool { return Terminal(j.Investigation.Status) }

// Terminal reports whether an investigation status is final.
func Terminal(status string) bool {
	return status == causeway.StatusDone || status == causeway.StatusFailed || status == causeway.StatusCanceled
}

const jobCols = investigationCols + `, scope, coalesce(idempotency_key, ''), attempts, worker, lease_until,
	cancel_requested, started_at, finished_at`

func scanJob(row pgx.Row) (*Job, error) {
	var j Job
	var inv causeway.Investigation
	var answer, verdict, usage, timings []byte
	if err := row.Scan(&inv.ID, &inv.IncidentID, &inv.Question, &inv.Budget, &inv.Model, &inv.PromptVersion, &inv.Status,
		&inv.ContextHash, &answer, &verdict, &usage, &timings, &inv.Error, &inv.RawReply, &inv.CreatedAt, &inv.UpdatedAt,
		&j.Scope, &j.IdempotencyKey, &j.Attempts, &j.Worker, &j.LeaseUntil, &j.CancelRequested, &j.StartedAt, &j.FinishedAt); err != nil {
		return nil, err
	}
	if err := decodeInvestigationJSON(&inv, answer, verdict, usage, timings); err != nil {
		return nil, err
	}
	j.Investigation = &inv
	return &j, nil
}

func decodeInvestigationJSON(inv *causeway.Investigation, answer, verdict, usage, timings []byte) error {
	for _, f := range []struct {
		raw []byte
		dst any
	}{{usage, &inv.Usage}, {timings, &inv.Timings}} {
		if err := json.Unmarshal(f.raw, f.dst); err != nil {
			return fmt.Errorf("investigation %d: %w", inv.ID, err)
		}
	}
	if answer != nil {
		inv.Answer = new(causeway.Answer)
		if err := json.Unmarshal(answer, inv.Answer); err != nil {
			return fmt.Errorf("investigation %d answer: %w", inv.ID, err)
		}
	}
	if verdict != nil {
		inv.Verdict = new(causeway.Verdict)
		if err := json.Unmarshal(verdict, inv.Verdict); err != nil {
			return fmt.Errorf("investigation %d verdict: %w", inv.ID, err)
		}
	}
	return nil
}

// NewJob is an investigation to enqueue.
type NewJob struct {
	// Investigation names the incident (unless Incident is set), question,
	// budget and model; its ID, status and times are set by Enqueue.
	Investigation *causeway.Investigation
	// Incident, when set, is created in the same transaction and
	// investigated: an inline scope's incident.
	Incident *causeway.Incident
	Scope    json.RawMessage
	// IdempotencyKey, when set, makes Enqueue return the job first enqueued
	// with it instead of a new one; RequestHash tells whether the request
	// is the same, and a different one is an ECONFLICT error.
	IdempotencyKey string
	RequestHash    string
}

// Enqueue stores a queued investigation (and its inline incident) and wakes
// the workers. With an IdempotencyKey already used for the same request it
// returns that job and created false; nothing new is stored then.
func (db *DB) Enqueue(ctx context.Context, nj *NewJob) (job *Job, created bool, err error) {
	inv := nj.Investigation
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if nj.Incident != nil {
			if err := createIncident(ctx, tx, nj.Incident); err != nil {
				return err
			}
			inv.IncidentID = nj.Incident.ID
		}
		var scope any
		if len(nj.Scope) > 0 {
			scope = nj.Scope
		}
		var id int64
		err := tx.QueryRow(ctx, `
			INSERT INTO investigations (incident_id, question, budget_tokens, model, status, scope, idempotency_key, request_hash)
			VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7)
			ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
			inv.IncidentID, cleanText(inv.Question), inv.Budget, inv.Model, scope, nullString(nj.IdempotencyKey), nj.RequestHash,
		).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return errReplay
		}
		if isForeignKeyViolation(err) {
			return causeway.Errorf(causeway.ENOTFOUND, "incident %d", inv.IncidentID)
		}
		if err != nil {
			return fmt.Errorf("enqueue investigation of incident %d: %w", inv.IncidentID, err)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, 'queued')`, ChannelJobs); err != nil {
			return fmt.Errorf("enqueue investigation %d: %w", id, err)
		}
		job, err = scanJob(tx.QueryRow(ctx, `SELECT `+jobCols+` FROM investigations WHERE id = $1`, id))
		return err
	})
	if errors.Is(err, errReplay) {
		job, err = scanJob(db.pool.QueryRow(ctx, `SELECT `+jobCols+` FROM investigations WHERE idempotency_key = $1`, nj.IdempotencyKey))
		if err != nil {
			return nil, false, fmt.Errorf("replay idempotency key: %w", err)
		}
		if job.requestHash(ctx, db) != nj.RequestHash {
			return nil, false, causeway.Errorf(causeway.ECONFLICT,
				"Idempotency-Key was already used for a different request (investigation %d)", job.Investigation.ID)
		}
		return job, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	*inv = *job.Investigation
	return job, true, nil
}

var errReplay = errors.New("idempotency key replayed")

func (j *Job) requestHash(ctx context.Context, db *DB) string {
	var h string
	_ = db.pool.QueryRow(ctx, `SELECT request_hash FROM investigations WHERE id = $1`, j.Investigation.ID).Scan(&h)
	return h
}

// Job returns the investigation with the given id as a job.
func (db *DB) Job(ctx context.Context, id int64) (*Job, error) {
	j, err := scanJob(db.pool.QueryRow(ctx, `SELECT `+jobCols+` FROM investigations WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "investigation %d", id)
	}
	return j, nil
}

// Claim takes a job for worker with a lease of the given length: first one
// whose worker's lease ran out (and that has had fewer than maxAttempts),
// else the oldest queued one. It returns nil when there is none.
// Concurrent claims skip each other's rows (FOR UPDATE SKIP LOCKED), so
// each job goes to one worker.
func (db *DB) Claim(ctx context.Context, worker string, lease time.Duration, maxAttempts int) (*Job, error) {
	// Two statements, each served by its own partial index; one with an
	// OR would walk every finished job in id order.
	for _, pick := range []string{
		`SELECT id FROM investigations WHERE status IN ` + runningStatuses + ` AND lease_until < now() AND attempts < $3
		 ORDER BY lease_until FOR UPDATE SKIP LOCKED LIMIT 1`,
		`SELECT id FROM investigations WHERE status = 'queued' AND NOT cancel_requested AND $3 > 0
		 ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1`,
	} {
		j, err := scanJob(db.pool.QueryRow(ctx, `
			UPDATE investigations SET
				status = CASE WHEN scope IS NULL THEN 'packing' ELSE 'collecting' END,
				worker = $1, lease_until = now() + make_interval(secs => $2), attempts = attempts + 1,
				started_at = coalesce(started_at, now()), updated_at = now()
			WHERE id = (`+pick+`)
			RETURNING `+jobCols, worker, lease.Seconds(), maxAttempts))
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("claim job for %s: %w", worker, err)
		}
		return j, nil
	}
	return nil, nil
}

// Renew extends worker's lease on job id and reports whether the job was
// asked to stop. ErrLeaseLost means the worker no longer holds it.
func (db *DB) Renew(ctx context.Context, id int64, worker string, lease time.Duration) (cancelRequested bool, err error) {
	err = db.pool.QueryRow(ctx, `
		UPDATE investigations SET lease_until = now() + make_interval(secs => $3)
		WHERE id = $1 AND worker = $2 AND status IN `+runningStatuses+`
		RETURNING cancel_requested`, id, worker, lease.Seconds()).Scan(&cancelRequested)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("renew lease of investigation %d: %w", id, ErrLeaseLost)
	}
	if err != nil {
		return false, fmt.Errorf("renew lease of investigation %d: %w", id, err)
	}
	return cancelRequested, nil
}

// BeginJob records what worker is about to run for job inv.ID (question,
// budget, model as resolved, status) and sets inv's times.
func (db *DB) BeginJob(ctx context.Context, inv *causeway.Investigation, worker string) error {
	err := db.pool.QueryRow(ctx, `
		UPDATE investigations SET question = $3, budget_tokens = $4, model = $5, status = $6, updated_at = now()
		WHERE id = $1 AND worker = $2 AND status IN `+runningStatuses+`
		RETURNING created_at, updated_at`,
		inv.ID, worker, cleanText(inv.Question), inv.Budget, inv.Model, inv.Status).Scan(&inv.CreatedAt, &inv.UpdatedAt)
	return leaseErr(err, "begin investigation %d", inv.ID)
}

// SetJobStatus moves job id, held by worker, to a running status.
func (db *DB) SetJobStatus(ctx context.Context, id int64, worker, status string) error {
	var one int
	err := db.pool.QueryRow(ctx, `
		UPDATE investigations SET status = $3, updated_at = now()
		WHERE id = $1 AND worker = $2 AND status IN `+runningStatuses+` RETURNING 1`, id, worker, status).Scan(&one)
	return leaseErr(err, "set status of investigation %d", id)
}

// FinishJob stores what job inv.ID produced, as FinishInvestigation does,
// releases worker's lease and appends the investigation's "end" event, in
// one transaction, so that a stream never waits for an end that will not
// come.
func (db *DB) FinishJob(ctx context.Context, inv *causeway.Investigation, worker string, contextLines []int64) error {
	answer, err := jsonOrNil(inv.Answer)
	if err != nil {
		return err
	}
	verdict, err := jsonOrNil(inv.Verdict)
	if err != nil {
		return err
	}
	usage, _ := json.Marshal(inv.Usage)
	timings, _ := json.Marshal(inv.Timings)
	if contextLines == nil {
		contextLines = []int64{}
	}
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			UPDATE investigations SET status = $3, prompt_version = $4, context_hash = $5, context_lines = $6,
				answer = $7, verdict = $8, usage = $9, timings = $10, error = $11, raw_reply = $12,
				lease_until = NULL, finished_at = now(), updated_at = now()
			WHERE id = $1 AND worker = $2 AND status IN `+runningStatuses+`
			RETURNING updated_at`,
			inv.ID, worker, inv.Status, inv.PromptVersion, inv.ContextHash, contextLines, answer, verdict, usage, timings,
			cleanText(inv.Error), cleanText(inv.RawReply)).Scan(&inv.UpdatedAt)
		if err := leaseErr(err, "finish investigation %d", inv.ID); err != nil {
			return err
		}
		_, err = appendEvent(ctx, tx, inv.ID, EventEnd, endData(inv))
		return err
	})
}

// RequeueJob gives job id back to the queue: worker stops (shutting down)
// before it finished. The attempt does not count against the job.
func (db *DB) RequeueJob(ctx context.Context, id int64, worker string) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `
			UPDATE investigations SET status = 'queued', lease_until = NULL, attempts = greatest(attempts - 1, 0), updated_at = now()
			WHERE id = $1 AND worker = $2 AND status IN `+runningStatuses+` RETURNING 1`, id, worker).Scan(&one)
		if err := leaseErr(err, "requeue investigation %d", id); err != nil {
			return err
		}
		if _, err := appendEvent(ctx, tx, id, EventStatus, map[string]any{"status": causeway.StatusQueued, "requeued": true}); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'queued')`, ChannelJobs)
		return err
	})
}

// FailJob ends job id as failed with msg, whoever holds it; for jobs that
// cannot run at all (their incident is gone) and jobs given up on.
func (db *DB) FailJob(ctx context.Context, id int64, worker, msg string) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		inv, err := scanInvestigation(tx.QueryRow(ctx, `
			UPDATE investigations SET status = 'failed', error = $3, lease_until = NULL, finished_at = now(), updated_at = now()
			WHERE id = $1 AND worker = $2 AND status IN `+runningStatuses+`
			RETURNING `+investigationCols, id, worker, cleanText(msg)))
		if err := leaseErr(err, "fail investigation %d", id); err != nil {
			return err
		}
		_, err = appendEvent(ctx, tx, id, EventEnd, endData(inv))
		return err
	})
}

// Cancel stops investigation id: a queued one is canceled at once; a running
// one is marked, and its worker stops it at its next lease renewal or on
// the notification sent now. An investigation that has ended is an
// ECONFLICT error. It returns the job as it is after the request.
func (db *DB) Cancel(ctx context.Context, id int64) (*Job, error) {
	var job *Job
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		j, err := scanJob(tx.QueryRow(ctx, `SELECT `+jobCols+` FROM investigations WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return notFound(err, "investigation %d", id)
		}
		job = j
		inv := j.Investigation
		switch {
		case j.Terminal():
			return causeway.Errorf(causeway.ECONFLICT, "investigation %d has already ended (%s)", id, inv.Status)
		case inv.Status == causeway.StatusQueued:
			inv.Status, inv.Error = causeway.StatusCanceled, "canceled by request before it started"
			if _, err := tx.Exec(ctx, `
				UPDATE investigations SET status = 'canceled', error = $2, cancel_requested = true, finished_at = now(), updated_at = now()
				WHERE id = $1`, id, inv.Error); err != nil {
				return fmt.Errorf("cancel investigation %d: %w", id, err)
			}
			_, err = appendEvent(ctx, tx, id, EventEnd, endData(inv))
			return err
		default:
			j.CancelRequested = true
			if _, err := tx.Exec(ctx, `UPDATE investigations SET cancel_requested = true, updated_at = now() WHERE id = $1`, id); err != nil {
				return fmt.Errorf("cancel investigation %d: %w", id, err)
			}
			_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, ChannelJobs, fmt.Sprintf("cancel:%d", id))
			return err
		}
	})
	if err != nil {
		return nil, err
	}
	return job, nil
}

// Exhausted returns the running jobs whose lease ran out after maxAttempts
// attempts: their workers died each time, and no one will claim them again.
func (db *DB) Exhausted(ctx context.Context, maxAttempts int) ([]*Job, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+jobCols+` FROM investigations
		WHERE status IN `+runningStatuses+` AND lease_until < now() AND attempts >= $1 ORDER BY id LIMIT 100`, maxAttempts)
	if err != nil {
		return nil, fmt.Errorf("list exhausted jobs: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Job, error) { return scanJob(r) })
	if err != nil {
		return nil, fmt.Errorf("list exhausted jobs: %w", err)
	}
	return jobs, nil
}

// StatusCounts counts investigations by status, every status present.
func (db *DB) StatusCounts(ctx context.Context) (map[string]int64, error) {
	counts := map[string]int64{}
	for _, s := range []string{causeway.StatusQueued, causeway.StatusCollecting, causeway.StatusPacking, causeway.StatusAsking,
		causeway.StatusVerifying, causeway.StatusDone, causeway.StatusFailed, causeway.StatusCanceled} {
		counts[s] = 0
	}
	rows, err := db.pool.Query(ctx, `SELECT status, count(*) FROM investigations GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count investigations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count investigations: %w", err)
		}
		counts[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count investigations: %w", err)
	}
	return counts, nil
}

func leaseErr(err error, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf(fmt.Sprintf(format, args...)+": %w", ErrLeaseLost)
	}
	if err != nil {
		return fmt.Errorf(fmt.Sprintf(format, args...)+": %w", err)
	}
	return nil
}
