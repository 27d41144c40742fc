package chunking

import (
	"math"
	"strings"

	"github.com/causeway-rca/causeway"
)

// failureWords are phrases that mark a line as telling of a failure, with
// their weight. They are generic: no incident's own strings belong here.
var failureWords = []struct {
	phrase string
	weight float64
}{
	{"no space left on device", 6}, {"disk full", 5}, {"diskpressure", 4}, {"oomkilled", 5}, {"out of memory", 4},
	{"panic", 4}, {"fatal", 4}, {"crashloopbackoff", 4}, {"back-off", 2}, {"exit code", 2}, {"exitcode", 2},
	{"x509", 4}, {"certificate", 2}, {"expired", 3}, {"connection refused", 3}, {"connection reset", 3},
	{"upstream connect error", 4}, {"no healthy upstream", 4}, {"timeout", 2}, {"timed out", 2},
	{"deadline exceeded", 3}, {"too many connections", 4}, {"pool exhausted", 4}, {"evict", 3},
	{"failed", 2}, {"failure", 2}, {"error", 2}, {"exception", 2}, {"denied", 2}, {"invalid", 2},
	{"unhealthy", 2}, {"refused", 2}, {"killed", 3}, {"sigterm", 2}, {"lost leadership", 4},
	{"leader election lost", 4}, {"no such host", 3}, {"nxdomain", 3}, {"500", 1}, {"502", 2}, {"503", 2}, {"504", 2},
	{"warn", 1}, {"=false", 2}, {"100%", 2},
}

// Score rates how much a line may tell about an incident, for the packer's
// choice when not everything fits: failure words, the line's level and kind,
// and the rarity of its template (templateCount lines share it).
func Score(l *causeway.Line, templateCount int) float64 {
	lower := strings.ToLower(l.Text)
	s := 0.0
	for _, w := range failureWords {
		if strings.Contains(lower, w.phrase) {
			s += w.weight
		}
	}
	switch strings.ToLower(l.Attrs["level"]) {
	case "error", "err", "e", "fatal", "f", "critical", "crit":
		s += 3
	case "warn", "warning", "w":
		s += 1.5
	}
	switch l.Kind {
	case causeway.LineCondition, causeway.LineStatus, causeway.LineMetric:
		s += 3
	case causeway.LineChat, causeway.LineComment, causeway.LineEvent:
		s += 2
	case causeway.LineDoc:
		s += 0.5
	}
	if templateCount < 1 {
		templateCount = 1
	}
	// Rare lines tell more than the thousandth health check.
	s += 4 / (1 + math.Log2(float64(templateCount)))
	return s
}
