package files

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// MaxNotable caps the change lines one metric series yields next to its
// summary: enough for a spike, a step and a gap, few enough that a
// thousand series do not drown the logs.
const MaxNotable = 5

// promResponse is a Prometheus HTTP API response.
type promResponse struct {
	Status    string   `json:"status"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Warnings  []string `json:"warnings"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

type promSeries struct {
	Metric     map[string]string   `json:"metric"`
	Values     [][]json.RawMessage `json:"values"`
	Value      []json.RawMessage   `json:"value"`
	Histograms []json.RawMessage   `json:"histograms"`
}

type sample struct {
	t time.Time
	v float64
}

// parseMetrics reads a /api/v1/query_range (or /api/v1/query) response.
// Each series becomes a summary line at its first sample and up to
// MaxNotable lines for its spikes, dips, level shifts and gaps, each at
// its own time, rather than one line per sample: a day of 15 s samples is
// 5760 numbers nobody cites one by one.
func parseMetrics(o *out, data []byte) error {
	var resp promResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return err
	}
	for _, w := range resp.Warnings {
		o.warnf("prometheus warning: %s", w)
	}
	if resp.Status == "error" {
		return fmt.Errorf("prometheus returned an error (%s): %s", firstNonEmpty(resp.ErrorType, "unknown"), resp.Error)
	}
	if resp.Status != "success" {
		return fmt.Errorf("not a Prometheus API response (status %q, want success)", resp.Status)
	}
	switch resp.Data.ResultType {
	case "matrix", "vector":
		var series []json.RawMessage
		if err := json.Unmarshal(resp.Data.Result, &series); err != nil {
			return err
		}
		return decodeItems(o, series, "series", func(_ int, s *promSeries) error {
			return seriesLines(o, s)
		})
	case "scalar", "string":
		var pair []json.RawMessage
		if err := json.Unmarshal(resp.Data.Result, &pair); err != nil {
			return err
		}
		return seriesLines(o, &promSeries{Value: pair})
	}
	return fmt.Errorf("unknown Prometheus result type %q", resp.Data.ResultType)
}

func parseSample(pair []json.RawMessage) (sample, bool) {
	if len(pair) != 2 {
		return sample{}, false
	}
	t, ok := parseEpoch(string(pair[0]))
	if !ok {
		return sample{}, false
	}
	s, ok := jsonString(pair[1])
	if !ok {
		return sample{}, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return sample{}, false
	}
	return sample{t: t, v: v}, true
}

// seriesName renders a series as PromQL does: the query (or metric name)
// and its labels in sorted order.
func seriesName(query string, metric map[string]string) string {
	name := query
	if name == "" {
		name = metric["__name__"]
	}
	keys := make([]string, 0, len(metric))
	for k := range metric {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return firstNonEmpty(name, "{}")
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(name + "{")
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + strconv.Quote(metric[k]))
	}
	b.WriteByte('}')
	return b.String()
}

func seriesLines(o *out, s *promSeries) error {
	name := seriesName(o.src.Query, s.Metric)
	attrs := func(stat string) map[string]string {
		a := o.attrs(4)
		for _, k := range [...]string{"namespace", "pod", "container", "node", "instance", "job"} {
			if v := s.Metric[k]; v != "" {
				a[k] = v
			}
		}
		a["metric"] = firstNonEmpty(s.Metric["__name__"], o.src.Query)
		a["stat"] = stat
		return a
	}
	if s.Values == nil && s.Value != nil {
		smp, ok := parseSample(s.Value)
		if !ok {
			o.warnf("series %s: unreadable sample", name)
			return nil
		}
		return o.addText(causeway.Line{Kind: causeway.LineMetric, Time: smp.t, Attrs: attrs("value"),
			Text: name + ": " + fmtNum(smp.v) + " at " + smp.t.Format(time.RFC3339)})
	}
	samples := make([]sample, 0, len(s.Values))
	bad := 0
	for _, pair := range s.Values {
		if smp, ok := parseSample(pair); ok {
			samples = append(samples, smp)
		} else {
			bad++
		}
	}
	if bad > 0 {
		o.warnf("series %s: %s unreadable", name, plural(int64(bad), "sample"))
	}
	if len(samples) == 0 {
		if len(s.Histograms) > 0 {
			o.warnf("series %s: %s not summarized", name, plural(int64(len(s.Histograms)), "native histogram sample"))
		}
		return nil
	}
	sum := summarize(samples)
	if err := o.addText(causeway.Line{Kind: causeway.LineMetric, Time: samples[0].t, Attrs: attrs("summary"),
		Text: name + ": " + sum.text()}); err != nil {
		return err
	}
	for _, n := range notable(samples, sum) {
		if err := o.addText(causeway.Line{Kind: causeway.LineMetric, Time: n.t, Attrs: attrs(n.stat),
			Text: name + ": " + n.text}); err != nil {
			return err
		}
	}
	return nil
}

// summary describes a series as a whole.
type summary struct {
	n, nan, posInf, negInf int
	first, last            sample
	min, max               sample
	median, mad            float64
	finite                 []sample
}

func summarize(samples []sample) summary {
	s := summary{n: len(samples), first: samples[0], last: samples[len(samples)-1]}
	for _, x := range samples {
		switch {
		case math.IsNaN(x.v):
			s.nan++
		case math.IsInf(x.v, 1):
			s.posInf++
		case math.IsInf(x.v, -1):
			s.negInf++
		default:
			if len(s.finite) == 0 || x.v < s.min.v {
				s.min = x
			}
			if len(s.finite) == 0 || x.v > s.max.v {
				s.max = x
			}
			s.finite = append(s.finite, x)
		}
	}
	if len(s.finite) > 0 {
		vals := make([]float64, len(s.finite))
		for i, x := range s.finite {
			vals[i] = x.v
		}
		s.median = median(vals)
		for i := range vals {
			vals[i] = math.Abs(vals[i] - s.median)
		}
		s.mad = median(vals)
	}
	return s
}

// median sorts vals in place.
func median(vals []float64) float64 {
	slices.Sort(vals)
	n := len(vals)
	if n%2 == 1 {
		return vals[n/2]
	}
	return (vals[n/2-1] + vals[n/2]) / 2
}

func (s summary) text() string {
	ref := s.first.t
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s–%s", plural(int64(s.n), "sample"), clockAt(s.first.t, ref), clockAt(s.last.t, ref))
	if len(s.finite) == 0 {
		b.WriteString(" no finite values")
	} else {
		fmt.Fprintf(&b, " min=%s median=%s max=%s at %s last=%s",
			fmtNum(s.min.v), fmtNum(s.median), fmtNum(s.max.v), clockAt(s.max.t, ref), fmtNum(s.last.v))
	}
	for _, c := range [...]struct {
		n    int
		what string
	}{{s.nan, "NaN"}, {s.posInf, "+Inf"}, {s.negInf, "-Inf"}} {
		if c.n > 0 {
			fmt.Fprintf(&b, " %s=%d", c.what, c.n)
		}
	}
	return b.String()
}

// change is one notable moment of a series.
type change struct {
	t     time.Time
	stat  string // spike, dip, step, gap
	text  string
	score float64
}

// The thresholds of notable: a sample departs from the median by more than
// madK robust standard deviations (MAD × 1.4826) and by more than minRel of
// the median; a step moves the mean by more than stepK pooled standard
// deviations; a gap lasts more than gapK typical sample intervals.
const (
	madK   = 5
	minRel = 0.1
	stepK  = 3
	gapK   = 3
)

// notable finds a series' spikes and dips (runs of samples far from the
// median), its largest level shift and its gaps, and keeps the MaxNotable
// most telling in time order.
func notable(samples []sample, s summary) []change {
	ref := samples[0].t
	var found []change
	found = append(found, episodes(s, ref)...)
	if st, ok := step(s.finite, ref); ok && !nearEpisode(st.t, found) {
		found = append(found, st)
	}
	found = append(found, gaps(samples, ref)...)
	slices.SortStableFunc(found, func(a, b change) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return a.t.Compare(b.t)
	})
	found = found[:min(len(found), MaxNotable)]
	slices.SortStableFunc(found, func(a, b change) int { return a.t.Compare(b.t) })
	return found
}

func nearEpisode(t time.Time, found []change) bool {
	for _, c := range found {
		if d := c.t.Sub(t); d >= -time.Minute && d <= time.Minute {
			return true
		}
	}
	return false
}

// episodes groups consecutive far-from-median samples on one side, allowing
// two ordinary samples inside a run so that a flapping spike is one line.
func episodes(s summary, ref time.Time) []change {
	xs := s.finite
	thr := max(madK*1.4826*s.mad, minRel*math.Abs(s.median))
	side := func(v float64) int {
		switch d := v - s.median; {
		case d > thr:
			return 1
		case -d > thr:
			return -1
		}
		return 0
	}
	var out []change
	for i := 0; i < len(xs); {
		dir := side(xs[i].v)
		if dir == 0 {
			i++
			continue
		}
		start, end, peak, count := i, i, xs[i], 0
		for j, quiet := i, 0; j < len(xs) && quiet <= 2; j++ {
			switch side(xs[j].v) {
			case dir:
				end, quiet = j, 0
				count++
				if math.Abs(xs[j].v-s.median) > math.Abs(peak.v-s.median) {
					peak = xs[j]
				}
			case 0:
				quiet++
			default:
				quiet = 3
			}
		}
		i = end + 1
		scale := max(thr, 1e-12)
		c := change{t: xs[start].t, score: math.Abs(peak.v-s.median) / scale}
		word, extreme := "spike to", "peak"
		c.stat = "spike"
		if dir < 0 {
			word, extreme, c.stat = "dip to", "low", "dip"
		}
		if count == 1 {
			c.text = fmt.Sprintf("%s %s at %s (median %s)", word, fmtNum(peak.v), clockAt(peak.t, ref), fmtNum(s.median))
		} else {
			where := "above"
			if dir < 0 {
				where = "below"
			}
			c.text = fmt.Sprintf("%s median %s from %s to %s (%d samples), %s %s at %s",
				where, fmtNum(s.median), clockAt(xs[start].t, ref), clockAt(xs[end].t, ref), count,
				extreme, fmtNum(peak.v), clockAt(peak.t, ref))
			if end == len(xs)-1 {
				c.text += ", through the last sample"
			}
		}
		out = append(out, c)
	}
	return out
}

// step finds the split of a series into two parts whose means differ most
// against the spread within them, and reports it when it is a clear shift:
// a step the median rule misses when it cuts the series in half.
func step(xs []sample, ref time.Time) (change, bool) {
	n := len(xs)
	if n < 8 {
		return change{}, false
	}
	sum, sq := make([]float64, n+1), make([]float64, n+1)
	for i, x := range xs {
		sum[i+1] = sum[i] + x.v
		sq[i+1] = sq[i] + x.v*x.v
	}
	best, bestAt := 0.0, -1
	var bestL, bestR float64
	for i := 3; i <= n-3; i++ {
		nl, nr := float64(i), float64(n-i)
		ml, mr := sum[i]/nl, (sum[n]-sum[i])/nr
		vl := max(sq[i]/nl-ml*ml, 0)
		vr := max((sq[n]-sq[i])/nr-mr*mr, 0)
		sd := math.Sqrt((nl*vl + nr*vr) / float64(n))
		diff := math.Abs(mr - ml)
		if diff <= stepK*sd || diff <= minRel*max(math.Abs(ml), math.Abs(mr)) {
			continue
		}
		score := diff / max(sd, 1e-12*max(math.Abs(ml), math.Abs(mr), 1))
		if score > best {
			best, bestAt, bestL, bestR = score, i, ml, mr
		}
	}
	if bestAt < 0 {
		return change{}, false
	}
	return change{t: xs[bestAt].t, stat: "step", score: math.Min(best, 1e6),
		text: fmt.Sprintf("level shift at %s: mean %s before, %s after",
			clockAt(xs[bestAt].t, ref), fmtNum(bestL), fmtNum(bestR))}, true
}

// gaps finds stretches without samples, where a target was down or a pod
// gone, measured against the series' typical interval.
func gaps(xs []sample, ref time.Time) []change {
	if len(xs) < 4 {
		return nil
	}
	steps := make([]time.Duration, len(xs)-1)
	for i := 1; i < len(xs); i++ {
		steps[i-1] = xs[i].t.Sub(xs[i-1].t)
	}
	typical := slices.Clone(steps)
	slices.Sort(typical)
	interval := typical[len(typical)/2]
	if interval <= 0 {
		return nil
	}
	var out []change
	for i, d := range steps {
		if d > gapK*interval {
			out = append(out, change{t: xs[i].t, stat: "gap", score: float64(d / interval),
				text: fmt.Sprintf("no samples from %s to %s (%s)", clockAt(xs[i].t, ref), clockAt(xs[i+1].t, ref), d)})
		}
	}
	return out
}

// clockAt renders t as a clock time when it falls on ref's day (the line's
// own time gives the date) and with its date otherwise.
func clockAt(t, ref time.Time) string {
	t, ref = t.UTC(), ref.UTC()
	if t.YearDay() == ref.YearDay() && t.Year() == ref.Year() {
		return t.Format("15:04:05")
	}
	return t.Format("Jan 2 15:04:05")
}

// fmtNum renders a sample value short but exact enough to cite: integers
// as integers, others with four significant digits.
func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 1000 && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
