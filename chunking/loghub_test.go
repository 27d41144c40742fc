package chunking

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// loghubDir is where the Loghub-2k benchmark files are: CAUSEWAY_LOGHUB, or
// the shared copy next to the checkout.
func loghubDir() string {
	if d := os.Getenv("CAUSEWAY_LOGHUB"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "loghub2k")
}

// publishedDrain is Drain's grouping accuracy on Loghub-2k as published by
// logpai (logparser/Drain/README.md), with settings tuned per dataset.
var publishedDrain = map[string]float64{
	"HDFS": 0.9975, "Hadoop": 0.9475, "Spark": 0.92, "Zookeeper": 0.9665, "BGL": 0.9625, "HPC": 0.887,
	"Thunderbird": 0.955, "Windows": 0.997, "Linux": 0.69, "Android": 0.911, "HealthApp": 0.78, "Apache": 1.0,
	"Proxifier": 0.5265, "OpenSSH": 0.7875, "OpenStack": 0.7325, "Mac": 0.7865,
}

type loghubLine struct{ content, event string }

// readLoghub reads a dataset's structured file: each line's content (the
// message after the header that logparser strips with a per-dataset
// format) and its true event id.
func readLoghub(path string) ([]loghubLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.LazyQuotes = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	content, event := slices.Index(head, "Content"), slices.Index(head, "EventId")
	if content < 0 || event < 0 {
		return nil, fmt.Errorf("read %s: no Content or EventId column in %v", path, head)
	}
	var lines []loghubLine
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return lines, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		lines = append(lines, loghubLine{content: rec[content], event: rec[event]})
	}
}

// groupingAccuracy is the share of lines whose template groups exactly the
// lines that share their true event: logparser's GA.
func groupingAccuracy(truth, got []string) float64 {
	byGot := map[string][]int{}
	trueSize := map[string]int{}
	for i := range got {
		byGot[got[i]] = append(byGot[got[i]], i)
		trueSize[truth[i]]++
	}
	correct := 0
	for _, idx := range byGot {
		ev := truth[idx[0]]
		same := true
		for _, i := range idx {
			same = same && truth[i] == ev
		}
		if same && trueSize[ev] == len(idx) {
			correct += len(idx)
		}
	}
	return float64(correct) / float64(len(got))
}

type loghubResult struct {
	dataset   string
	lines     int
	templates int
	ga        float64
}

// loghubAccuracy runs a fresh Drain over every dataset, grouping by the
// template text each line ends up with, as Causeway stores it.
func loghubAccuracy(tb testing.TB, newDrain func() *Drain) []loghubResult {
	tb.Helper()
	dir := loghubDir()
	paths, err := filepath.Glob(filepath.Join(dir, "*", "*_2k.log_structured.csv"))
	if err != nil || len(paths) == 0 {
		if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
			tb.Skipf("no Loghub-2k files in %s (set CAUSEWAY_LOGHUB)", dir)
		}
		tb.Fatalf("no Loghub-2k files in %s: %v", dir, err)
	}
	slices.Sort(paths)
	var results []loghubResult
	for _, p := range paths {
		lines, err := readLoghub(p)
		if err != nil {
			tb.Fatal(err)
		}
		d := newDrain()
		clusters := make([]*Cluster, len(lines))
		truth := make([]string, len(lines))
		for i, l := range lines {
			clusters[i] = d.Add(l.content)
			truth[i] = l.event
		}
		got := make([]string, len(lines))
		distinct := map[string]bool{}
		for i, c := range clusters {
			got[i] = c.Template()
			distinct[got[i]] = true
		}
		name := strings.TrimSuffix(filepath.Base(p), "_2k.log_structured.csv")
		results = append(results, loghubResult{dataset: name, lines: len(lines), templates: len(distinct), ga: groupingAccuracy(truth, got)})
	}
	return results
}

func loghubTable(results []loghubResult) string {
	var b strings.Builder
	b.WriteString("| Dataset | lines | templates | Causeway GA | published Drain GA |\n|---|---:|---:|---:|---:|\n")
	var sum, pub float64
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %d | %d | %.4f | %.4f |\n", r.dataset, r.lines, r.templates, r.ga, publishedDrain[r.dataset])
		sum += r.ga
		pub += publishedDrain[r.dataset]
	}
	n := float64(len(results))
	fmt.Fprintf(&b, "| **mean** | | | **%.4f** | **%.4f** |\n", sum/n, pub/n)
	return b.String()
}

// TestLoghubGroupingAccuracy keeps Drain's grouping accuracy on Loghub-2k
// from regressing: the mean and each dataset stay above floors set a
// little under the figures measured when the defaults were chosen.
func TestLoghubGroupingAccuracy(t *testing.T) {
	// Measured with the defaults: mean 0.8566 (published Drain, tuned per
	// dataset: 0.8654). Each floor is two points under its measure.
	floors := map[string]float64{
		"Android": 0.89, "Apache": 0.98, "BGL": 0.95, "HDFS": 0.97, "HPC": 0.88, "Hadoop": 0.94, "HealthApp": 0.98,
		"Linux": 0.67, "Mac": 0.74, "OpenSSH": 0.97, "OpenStack": 0.86, "Proxifier": 0.04, "Spark": 0.90,
		"Thunderbird": 0.94, "Windows": 0.67, "Zookeeper": 0.96,
	}
	results := loghubAccuracy(t, NewDrain)
	sum := 0.0
	for _, r := range results {
		sum += r.ga
		if floor, ok := floors[r.dataset]; ok && r.ga < floor {
			t.Errorf("%s: grouping accuracy %.4f, below its floor %.2f", r.dataset, r.ga, floor)
		}
	}
	if mean := sum / float64(len(results)); mean < 0.85 {
		t.Errorf("mean grouping accuracy %.4f, below its floor 0.85", mean)
	}
	if t.Failed() {
		t.Log("\n" + loghubTable(results))
	}
}

// BenchmarkLoghub prints the grouping accuracy table for docs/benchmarks.md
// and measures Drain's speed over the sixteen datasets.
func BenchmarkLoghub(b *testing.B) {
	var results []loghubResult
	for i := 0; i < b.N; i++ {
		results = loghubAccuracy(b, NewDrain)
	}
	lines := 0
	sum := 0.0
	for _, r := range results {
		lines += r.lines
		sum += r.ga
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(sum/float64(len(results)), "mean-GA")
	loghubPrinted.Do(func() { fmt.Print("\nLoghub-2k grouping accuracy (GA):\n\n" + loghubTable(results) + "\n") })
}

var loghubPrinted sync.Once
