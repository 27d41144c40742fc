package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/causeway-rca/causeway"
)

// Memory item kinds.
const (
	MemoryDoc      = "doc"      // a runbook or knowledge-base section
	MemoryIncident = "incident" // a confirmed past root cause
)

// MemoryItem is one thing Causeway remembers: a runbook section or a
// confirmed past incident, as the text that is embedded and shown.
type MemoryItem struct {
	ID              int64     `json:"id"`
	Kind            string    `json:"kind"`
	Key             string    `json:"key"` // stable identity: "doc:<source>#<n>", "investigation:<id>"
	Title           string    `json:"title"`
	Body            string    `json:"body"`
	Source          string    `json:"source,omitempty"`
	Hash            string    `json:"-"`
	IncidentID      int64     `json:"incident_id,omitempty"`
	InvestigationID int64     `json:"investigation_id,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
}

// MemoryHit is an item found by a similarity search, with its cosine
// similarity to the query (1 is the same direction).
type MemoryHit struct {
	MemoryItem
	Score float64 `json:"score"`
}

// MemoryQuery is a similarity search in one embedder's space.
type MemoryQuery struct {
	Embedder string
	Vector   []float32
	Kinds    []string // empty for every kind
	// ExcludeIncident leaves out the items of that incident: its own docs
	// are already evidence, and it is not similar to itself.
	ExcludeIncident int64
	Limit           int
	MinScore        float64
}

var embedderNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,99}$`)

// checkEmbedder rejects names that could not be written as an SQL literal
// safely: the partial index's predicate must be a literal for the planner
// to match it, so the name is spliced into the statement.
func checkEmbedder(name string, dim int) error {
	if !embedderNameRE.MatchString(name) {
		return causeway.Errorf(causeway.EINVALID, "embedder name %q: letters, digits and ._:/@+- only, up to 100", name)
	}
	if dim <= 0 || dim > 16000 {
		return causeway.Errorf(causeway.EINVALID, "embedder %s: dimension %d out of range 1..16000", name, dim)
	}
	return nil
}

// memoryIndexName is the HNSW index of one (embedder, dim): a hash keeps
// it within Postgres's 63-byte names whatever the embedder is called.
func memoryIndexName(embedder string, dim int) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d", embedder, dim)
	return fmt.Sprintf("memory_vectors_hnsw_%016x", h.Sum64())
}

// vectorExpr and vectorPredicate are the indexed expression and the
// partial index's predicate of one (embedder, dim); searches repeat them
// verbatim so that the planner matches the index.
func vectorExpr(dim int) string { return "(embedding::vector(" + strconv.Itoa(dim) + "))" }

func vectorPredicate(embedder string, dim int) string {
	return "embedder = '" + embedder + "' AND dim = " + strconv.Itoa(dim)
}

// EnsureMemoryIndex creates the HNSW index (cosine distance) of one
// embedder's vectors when it does not exist yet.
func (db *DB) EnsureMemoryIndex(ctx context.Context, embedder string, dim int) error {
	if err := checkEmbedder(embedder, dim); err != nil {
		return err
	}
	if dim > 2000 {
		// HNSW indexes vectors of up to 2,000 dimensions; larger ones are
		// searched exactly.
		return nil
	}
	_, err := db.pool.Exec(ctx, fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON memory_vectors USING hnsw (%s vector_cosine_ops) WHERE %s`,
		memoryIndexName(embedder, dim), vectorExpr(dim), vectorPredicate(embedder, dim)))
	if err != nil {
		return fmt.Errorf("create memory index for embedder %s (%d dimensions): %w", embedder, dim, err)
	}
	return nil
}

// vectorConn acquires a connection that encodes pgvector types in binary.
// Registration is per connection and the pool's connect hook is not this
// file's, so it is done on first use of each connection.
func (db *DB) vectorConn(ctx context.Context) (*pgxpool.Conn, error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire connection: %w", err)
	}
	if _, ok := conn.Conn().TypeMap().TypeForName("vector"); !ok {
		if err := pgxvec.RegisterTypes(ctx, conn.Conn()); err != nil {
			conn.Release()
			return nil, fmt.Errorf("register pgvector types: %w", err)
		}
	}
	return conn, nil
}

const memoryItemCols = `id, kind, key, title, body, source, hash, coalesce(incident_id, 0), coalesce(investigation_id, 0), created_at`

func scanMemoryItem(row pgx.Row, extra ...any) (*MemoryItem, error) {
	var it MemoryItem
	dst := append([]any{&it.ID, &it.Kind, &it.Key, &it.Title, &it.Body, &it.Source, &it.Hash, &it.IncidentID, &it.InvestigationID, &it.CreatedAt}, extra...)
	if err := row.Scan(dst...); err != nil {
		return nil, err
	}
	return &it, nil
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// PutMemoryItem stores it by Key, replacing the item of that key, and sets
// its ID. When its hash changed, its vectors are dropped, so that it is
// embedded again.
func (db *DB) PutMemoryItem(ctx context.Context, it *MemoryItem) error {
	if it.Kind != MemoryDoc && it.Kind != MemoryIncident {
		return causeway.Errorf(causeway.EINVALID, "memory item kind %q: want doc or incident", it.Kind)
	}
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var old string
		err := tx.QueryRow(ctx, `SELECT hash FROM memory_items WHERE key = $1`, it.Key).Scan(&old)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("put memory item %s: %w", it.Key, err)
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO memory_items (kind, key, title, body, source, hash, incident_id, investigation_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, title = EXCLUDED.title, body = EXCLUDED.body,
				source = EXCLUDED.source, hash = EXCLUDED.hash, incident_id = EXCLUDED.incident_id,
				investigation_id = EXCLUDED.investigation_id, updated_at = now()
			RETURNING id, created_at`,
			it.Kind, it.Key, cleanText(it.Title), cleanText(it.Body), cleanText(it.Source), it.Hash,
			nullID(it.IncidentID), nullID(it.InvestigationID)).Scan(&it.ID, &it.CreatedAt)
		if err != nil {
			return fmt.Errorf("put memory item %s: %w", it.Key, err)
		}
		if old != "" && old != it.Hash {
			if _, err := tx.Exec(ctx, `DELETE FROM memory_vectors WHERE item_id = $1`, it.ID); err != nil {
				return fmt.Errorf("drop stale vectors of memory item %s: %w", it.Key, err)
			}
		}
		return nil
	})
}

// DeleteMemoryItems deletes the items of a kind and source whose keys are
// not in keep (a document's sections that it no longer has), and returns
// how many went.
func (db *DB) DeleteMemoryItems(ctx context.Context, kind, source string, keep []string) (int64, error) {
	if keep == nil {
		keep = []string{}
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM memory_items WHERE kind = $1 AND source = $2 AND NOT key = ANY($3)`, kind, source, keep)
	if err != nil {
		return 0, fmt.Errorf("delete %s memory items of %s: %w", kind, source, err)
	}
	return tag.RowsAffected(), nil
}

// DeleteMemoryItem deletes the item of a key; deleting one that does not
// exist is not an error.
func (db *DB) DeleteMemoryItem(ctx context.Context, key string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM memory_items WHERE key = $1`, key); err != nil {
		return fmt.Errorf("delete memory item %s: %w", key, err)
	}
	return nil
}

// MemoryItems returns the items with the given ids (those that exist).
func (db *DB) MemoryItems(ctx context.Context, ids []int64) ([]*MemoryItem, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+memoryItemCols+` FROM memory_items WHERE id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("read memory items: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*MemoryItem, error) { return scanMemoryItem(r) })
	if err != nil {
		return nil, fmt.Errorf("read memory items: %w", err)
	}
	return items, nil
}

// MemoryItemsToEmbed returns up to limit items that have no vector of the
// embedder's, or one of an older version of the item, oldest first.
func (db *DB) MemoryItemsToEmbed(ctx context.Context, embedder string, limit int) ([]*MemoryItem, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+memoryItemCols+` FROM memory_items i
		WHERE NOT EXISTS (SELECT 1 FROM memory_vectors v WHERE v.item_id = i.id AND v.embedder = $1 AND v.hash = i.hash)
		ORDER BY id LIMIT $2`, embedder, limit)
	if err != nil {
		return nil, fmt.Errorf("list memory items to embed with %s: %w", embedder, err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*MemoryItem, error) { return scanMemoryItem(r) })
	if err != nil {
		return nil, fmt.Errorf("list memory items to embed with %s: %w", embedder, err)
	}
	return items, nil
}

// MemoryCounts returns how many items there are, and how many of them have
// a current vector of the embedder's.
func (db *DB) MemoryCounts(ctx context.Context, embedder string) (items, embedded int64, err error) {
	err = db.pool.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE EXISTS (
			SELECT 1 FROM memory_vectors v WHERE v.item_id = i.id AND v.embedder = $1 AND v.hash = i.hash))
		FROM memory_items i`, embedder).Scan(&items, &embedded)
	if err != nil {
		return 0, 0, fmt.Errorf("count memory items: %w", err)
	}
	return items, embedded, nil
}

// PutEmbeddings stores the embedder's vectors of items, as of each item's
// hash, replacing the embedder's older ones.
func (db *DB) PutEmbeddings(ctx context.Context, embedder string, dim int, items []*MemoryItem, vecs [][]float32) error {
	if err := checkEmbedder(embedder, dim); err != nil {
		return err
	}
	if len(items) != len(vecs) {
		return fmt.Errorf("put embeddings: %d items but %d vectors", len(items), len(vecs))
	}
	conn, err := db.vectorConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var b pgx.Batch
	for i, it := range items {
		if len(vecs[i]) != dim {
			return fmt.Errorf("put embeddings: vector of item %d has %d dimensions, embedder %s has %d", it.ID, len(vecs[i]), embedder, dim)
		}
		b.Queue(`
			INSERT INTO memory_vectors (item_id, embedder, dim, hash, embedding) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (item_id, embedder) DO UPDATE SET dim = EXCLUDED.dim, hash = EXCLUDED.hash,
				embedding = EXCLUDED.embedding, created_at = now()`,
			it.ID, embedder, dim, it.Hash, pgvector.NewVector(vecs[i]))
	}
	if err := conn.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("put %d embeddings of %s: %w", len(items), embedder, err)
	}
	return nil
}

// DropEmbeddings deletes every vector not of the embedder (dim), once the
// memory has been re-embedded with it, and returns how many went.
func (db *DB) DropEmbeddings(ctx context.Context, keepEmbedder string, keepDim int) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM memory_vectors WHERE NOT (embedder = $1 AND dim = $2)`, keepEmbedder, keepDim)
	if err != nil {
		return 0, fmt.Errorf("drop embeddings of other embedders than %s: %w", keepEmbedder, err)
	}
	return tag.RowsAffected(), nil
}

// memorySearchSQL is the similarity search of one (embedder, dim). The
// inner query is the index scan (ORDER BY distance LIMIT, with the index's
// predicate as literals); filters on the items apply to its candidates.
func memorySearchSQL(embedder string, dim int) string {
	return `
		SELECT i.id, i.kind, i.key, i.title, i.body, i.source, i.hash, coalesce(i.incident_id, 0),
			coalesce(i.investigation_id, 0), i.created_at, 1 - c.distance FROM (
			SELECT item_id, ` + vectorExpr(dim) + ` <=> $1 AS distance FROM memory_vectors
			WHERE ` + vectorPredicate(embedder, dim) + `
			ORDER BY ` + vectorExpr(dim) + ` <=> $1 LIMIT $2
		) c JOIN memory_items i ON i.id = c.item_id
		JOIN memory_vectors v ON v.item_id = i.id AND v.embedder = '` + embedder + `' AND v.hash = i.hash
		WHERE (cardinality($3::text[]) = 0 OR i.kind = ANY($3)) AND ($4::bigint IS NULL OR i.incident_id IS DISTINCT FROM $4)
		ORDER BY c.distance, i.id LIMIT $5`
}

// SearchMemory returns the items most similar to the query vector, most
// similar first. Only vectors of the query's embedder are compared, and
// only current ones (an item changed since it was embedded waits for its
// new vector).
func (db *DB) SearchMemory(ctx context.Context, q MemoryQuery) ([]MemoryHit, error) {
	dim := len(q.Vector)
	if err := checkEmbedder(q.Embedder, dim); err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		q.Limit = 5
	}
	if q.Kinds == nil {
		q.Kinds = []string{}
	}
	conn, err := db.vectorConn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	// Candidates are over-fetched so that the filters after the index scan
	// still leave Limit hits; ef_search must be at least that many for
	// HNSW to return them.
	candidates := max(q.Limit*8, 40)
	var hits []MemoryHit
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('hnsw.ef_search', $1, true)`, strconv.Itoa(max(candidates, 40))); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, memorySearchSQL(q.Embedder, dim), pgvector.NewVector(q.Vector), candidates, q.Kinds, nullID(q.ExcludeIncident), q.Limit)
		if err != nil {
			return err
		}
		hits, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (MemoryHit, error) {
			var h MemoryHit
			it, err := scanMemoryItem(r, &h.Score)
			if err != nil {
				return h, err
			}
			h.MemoryItem = *it
			return h, nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("search memory with %s: %w", q.Embedder, err)
	}
	kept := hits[:0]
	for _, h := range hits {
		if h.Score >= q.MinScore {
			kept = append(kept, h)
		}
	}
	return kept, nil
}

// Feedback verdicts.
const (
	FeedbackCorrect = "correct"
	FeedbackWrong   = "wrong"
)

// Feedback is an engineer's verdict on an investigation's answer.
type Feedback struct {
	InvestigationID int64     `json:"investigation_id"`
	Verdict         string    `json:"verdict"` // correct or wrong
	Note            string    `json:"note,omitempty"`
	Author          string    `json:"author,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// SetFeedback stores (or replaces) the verdict on an investigation.
func (db *DB) SetFeedback(ctx context.Context, f *Feedback) error {
	if f.Verdict != FeedbackCorrect && f.Verdict != FeedbackWrong {
		return causeway.Errorf(causeway.EINVALID, "feedback verdict %q: want correct or wrong", f.Verdict)
	}
	err := db.pool.QueryRow(ctx, `
		INSERT INTO investigation_feedback (investigation_id, verdict, note, author) VALUES ($1, $2, $3, $4)
		ON CONFLICT (investigation_id) DO UPDATE SET verdict = EXCLUDED.verdict, note = EXCLUDED.note,
			author = EXCLUDED.author, updated_at = now()
		RETURNING created_at, updated_at`, f.InvestigationID, f.Verdict, cleanText(f.Note), cleanText(f.Author)).Scan(&f.CreatedAt, &f.UpdatedAt)
	if isForeignKeyViolation(err) {
		return causeway.Errorf(causeway.ENOTFOUND, "investigation %d", f.InvestigationID)
	}
	if err != nil {
		return fmt.Errorf("store feedback on investigation %d: %w", f.InvestigationID, err)
	}
	return nil
}

// InvestigationFeedback returns the verdict on an investigation; ENOTFOUND
// when there is none.
func (db *DB) InvestigationFeedback(ctx context.Context, id int64) (*Feedback, error) {
	f := Feedback{InvestigationID: id}
	err := db.pool.QueryRow(ctx, `SELECT verdict, note, author, created_at, updated_at FROM investigation_feedback WHERE investigation_id = $1`, id).
		Scan(&f.Verdict, &f.Note, &f.Author, &f.CreatedAt, &f.UpdatedAt)
	if err != nil {
		return nil, notFound(err, "feedback on investigation %d", id)
	}
	return &f, nil
}

// SourceLines returns the lines of one source in order: a bundle's
// document, which memory embeds by section.
func (db *DB) SourceLines(ctx context.Context, incidentID, sourceID int64) ([]causeway.Line, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+lineCols+`
		FROM lines l JOIN sources s ON s.id = l.source_id
		WHERE l.incident_id = $1 AND l.source_id = $2
		ORDER BY l.seq`, incidentID, sourceID)
	if err != nil {
		return nil, fmt.Errorf("read lines of source %d: %w", sourceID, err)
	}
	lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (causeway.Line, error) { return scanLine(r) })
	if err != nil {
		return nil, fmt.Errorf("read lines of source %d: %w", sourceID, err)
	}
	return lines, nil
}
