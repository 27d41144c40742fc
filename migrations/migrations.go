// Package migrations holds Causeway's SQL schema as embedded goose
// migrations, applied by `causeway migrate` and at `causeway serve` start.
package migrations

import "embed"

// FS holds the migration files, named NNNNN_description.sql.
//
//go:embed *.sql
var FS embed.FS
