package server

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/store"
)

// timelineView is GET /v1/incidents/{id}/timeline: the incident's evidence
// over its window, aggregated per source and bucket.
type timelineView struct {
	IncidentID    int64              `json:"incident_id"`
	From          time.Time          `json:"from,omitzero"` // absent when no line has a time
	To            time.Time          `json:"to,omitzero"`
	BucketSeconds int64              `json:"bucket_seconds"`
	Buckets       int                `json:"buckets"`
	Sources       []timelineSource   `json:"sources"`
	Markers       []timelineMarker   `json:"markers"`
	MarkersLeft   int64              `json:"markers_left_out"`
	Series        []timelineSeries   `json:"series"`
	Cited         []timelineCitation `json:"cited"`
	Untimed       int64              `json:"untimed_lines"`
	Outside       int64              `json:"outside_lines"`
}

type timelineSource struct {
	ID    int64               `json:"id"`
	Name  string              `json:"name"`
	Kind  causeway.SourceKind `json:"kind"`
	Lines int64               `json:"lines"`
	Error string              `json:"error,omitempty"`
	// Buckets are [index, lines, errors, warnings] for each bucket with
	// lines: arrays, not objects, since a long window has thousands.
	Buckets [][4]int64 `json:"buckets"`
}

type timelineMarker struct {
	Kind   string    `json:"kind"`
	Time   time.Time `json:"time"`
	Source string    `json:"source"`
	Line   string    `json:"line"`
	Text   string    `json:"text"`
}

// timelineSeries is a metric series as its summary lines describe it: the
// points are a sketch (baseline, spikes, level shifts, gaps) drawn from
// the numbers in those lines, which is what the model saw of it, not the
// raw samples, which are not kept.
type timelineSeries struct {
	Source string          `json:"source"`
	Name   string          `json:"name"`
	Lines  []string        `json:"lines"`
	Points []timelinePoint `json:"points"`
}

// timelinePoint is a sketch point; a nil value breaks the line (a gap).
type timelinePoint struct {
	Time  time.Time `json:"time"`
	Value *float64  `json:"value"`
}

type timelineCitation struct {
	Line   string    `json:"line"`
	Source string    `json:"source"`
	Time   time.Time `json:"time,omitzero"`
	Status string    `json:"status"`
}

// maxBuckets bounds a timeline's width in buckets: about a screen's
// pixels, so that a month-long window stays as light as an hour.
const maxBuckets = 720

// bucketSizes are the bucket widths a timeline picks from: the finest
// that keeps the window within maxBuckets.
var bucketSizes = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

func bucketFor(window time.Duration) time.Duration {
	for _, b := range bucketSizes {
		if window <= b*maxBuckets {
			return b
		}
	}
	return time.Duration(math.Ceil(float64(window)/float64(maxBuckets)/float64(24*time.Hour))) * 24 * time.Hour
}

// getTimeline aggregates an incident's lines over its window (or, without
// one, the span of its lines) for the UI's timeline; ?investigation_id=N
// adds the lines that investigation's answer cites.
func (s *Server) getTimeline(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var invID int64
	if v := r.URL.Query().Get("investigation_id"); v != "" {
		if invID, err = strconv.ParseInt(v, 10, 64); err != nil || invID <= 0 {
			s.fail(w, r, causeway.Errorf(causeway.EINVALID, "investigation_id %q is not a positive number", v))
			return
		}
	}
	inc, err := s.DB.Incident(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	from, to := inc.WindowStart, inc.WindowEnd
	if from.IsZero() || !to.After(from) {
		if from, to, err = s.DB.LineSpan(ctx, id); err != nil {
			s.fail(w, r, err)
			return
		}
		// The last line must fall inside the half-open window.
		to = to.Add(time.Second)
	}
	v := &timelineView{IncidentID: id, Sources: []timelineSource{}, Markers: []timelineMarker{}, Series: []timelineSeries{}, Cited: []timelineCitation{}}
	if invID != 0 {
		if v.Cited, err = s.citedLines(r, id, invID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if from.IsZero() {
		writeJSON(w, http.StatusOK, v)
		return
	}
	bucket := bucketFor(to.Sub(from))
	tl, err := s.timeline(r, id, store.TimelineQuery{From: from, To: to, Bucket: bucket})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.From, v.To, v.BucketSeconds = tl.From, tl.To, int64(bucket/time.Second)
	v.Buckets = int((to.Sub(from) + bucket - 1) / bucket)
	v.MarkersLeft, v.Untimed, v.Outside = tl.MarkersLeftOut, tl.Untimed, tl.Outside
	names := map[int64]string{}
	for _, src := range tl.Sources {
		names[src.ID] = src.Name
		ts := timelineSource{ID: src.ID, Name: src.Name, Kind: src.Kind, Lines: src.Lines, Error: src.Error, Buckets: make([][4]int64, 0, len(src.Buckets))}
		for _, b := range src.Buckets {
			ts.Buckets = append(ts.Buckets, [4]int64{int64(b.Index), b.Lines, b.Errors, b.Warnings})
		}
		v.Sources = append(v.Sources, ts)
	}
	for _, m := range tl.Markers {
		v.Markers = append(v.Markers, timelineMarker{Kind: m.Kind, Time: m.Time, Source: names[m.SourceID], Line: causeway.LineID(m.Num), Text: m.Text})
	}
	for _, sr := range sketchSeries(tl.Metrics) {
		sr.Source = names[sr.sourceID]
		v.Series = append(v.Series, sr.timelineSeries)
	}
	writeJSON(w, http.StatusOK, v)
}

// timelineCache keeps the last few timelines: aggregating a million lines
// takes a second, and a page is opened again and again while nothing is
// imported. An import changes the sources' line counts, and with them the
// key.
type timelineCache struct {
	mu      sync.Mutex
	entries []cachedTimeline // most recently used last
}

type cachedTimeline struct {
	key string
	tl  *store.Timeline
}

const timelineCacheSize = 8

func (s *Server) timeline(r *http.Request, id int64, q store.TimelineQuery) (*store.Timeline, error) {
	srcs, err := s.DB.Sources(r.Context(), id)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %s %s", id, q.From.Format(time.RFC3339Nano), q.To.Format(time.RFC3339Nano), q.Bucket)
	for _, src := range srcs {
		fmt.Fprintf(&b, " %d:%d:%d", src.ID, src.Lines, len(src.Error))
	}
	key := b.String()
	c := &s.timelines
	c.mu.Lock()
	for i, e := range c.entries {
		if e.key == key {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			c.mu.Unlock()
			return e.tl, nil
		}
	}
	c.mu.Unlock()
	tl, err := s.DB.Timeline(r.Context(), id, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.entries = append(c.entries, cachedTimeline{key: key, tl: tl})
	if len(c.entries) > timelineCacheSize {
		c.entries = c.entries[len(c.entries)-timelineCacheSize:]
	}
	c.mu.Unlock()
	return tl, nil
}

// citedLines places the lines an investigation's answer cites: each once,
// with its best verdict.
func (s *Server) citedLines(r *http.Request, incidentID, invID int64) ([]timelineCitation, error) {
	inv, err := s.DB.Investigation(r.Context(), invID)
	if err != nil {
		return nil, err
	}
	if inv.IncidentID != incidentID {
		return nil, causeway.Errorf(causeway.EINVALID, "investigation %d is not of incident %d", invID, incidentID)
	}
	out := []timelineCitation{}
	if inv.Verdict == nil {
		return out, nil
	}
	status := map[int64]string{}
	var nums []int64
	for _, cv := range inv.Verdict.Citations {
		n, ok := causeway.ParseLineID(cv.ID)
		if !ok {
			continue
		}
		if old, seen := status[n]; !seen {
			nums = append(nums, n)
			status[n] = cv.Status
		} else if old != causeway.CitationVerified {
			status[n] = cv.Status
		}
	}
	lines, err := s.DB.LinesByNum(r.Context(), incidentID, nums)
	if err != nil {
		return nil, err
	}
	for _, n := range nums {
		if l, ok := lines[n]; ok {
			out = append(out, timelineCitation{Line: causeway.LineID(n), Source: l.Source, Time: l.Time, Status: status[n]})
		}
	}
	return out, nil
}

type sketch struct {
	timelineSeries
	sourceID int64
}

// The metric lines' texts, as the files collector writes them: a summary
// per series and its notable moments, clocks relative to the series' first
// sample ("15:04:05", or "Jan 2 15:04:05" on another day).
const clockRE = `((?:[A-Z][a-z]{2} \d{1,2} )?\d{2}:\d{2}:\d{2})`
const numRE = `([-+0-9.eE]+|NaN|[-+]?Inf)`

var (
	summaryRE = regexp.MustCompile(`^(.*): (\d+) samples? ` + clockRE + `–` + clockRE +
		`(?: min=` + numRE + ` median=` + numRE + ` max=` + numRE + ` at ` + clockRE + ` last=` + numRE + `)?`)
	singleRE  = regexp.MustCompile(`^(.*): (?:spike|dip) to ` + numRE + ` at ` + clockRE + ` \(median`)
	episodeRE = regexp.MustCompile(`^(.*): (?:above|below) median ` + numRE + ` from ` + clockRE + ` to ` + clockRE +
		` \(\d+ samples\), (?:peak|low) ` + numRE + ` at ` + clockRE)
	stepRE  = regexp.MustCompile(`^(.*): level shift at ` + clockRE + `: mean ` + numRE + ` before, ` + numRE + ` after`)
	gapRE   = regexp.MustCompile(`^(.*): no samples from ` + clockRE + ` to ` + clockRE)
	valueRE = regexp.MustCompile(`^(.*): ` + numRE + ` at (\d{4}-\d\d-\d\dT\S+)$`)
)

// atClock reads a clock relative to ref's day.
func atClock(clock string, ref time.Time) (time.Time, bool) {
	ref = ref.UTC()
	if t, err := time.Parse("15:04:05", clock); err == nil {
		return time.Date(ref.Year(), ref.Month(), ref.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC), true
	}
	if t, err := time.Parse("Jan 2 15:04:05", clock); err == nil {
		return time.Date(ref.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC), true
	}
	return time.Time{}, false
}

func num(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
}

// sketchSeries draws each series whose summary line it can read: a
// baseline at the median (or the means before and after a level shift),
// each spike or dip to its peak, the maximum, the last value, and breaks
// at gaps. Series whose lines it cannot read are left out; their lines
// are still markers' and lanes' business.
func sketchSeries(lines []store.MetricLine) []sketch {
	type key struct {
		source int64
		name   string
	}
	type series struct {
		sketch
		summary                 bool
		start, end, maxAt, step time.Time
		median, max, last       float64
		haveValues              bool
		before, after           float64
		extra                   []timelinePoint
		gaps                    [][2]time.Time
	}
	byKey := map[key]*series{}
	var order []key
	get := func(src int64, name string) *series {
		k := key{src, name}
		if sr, ok := byKey[k]; ok {
			return sr
		}
		sr := &series{sketch: sketch{sourceID: src, timelineSeries: timelineSeries{Name: name}}}
		byKey[k] = sr
		order = append(order, k)
		return sr
	}
	// Summaries first: they give the reference time of the clocks in
	// their series' other lines.
	for _, l := range lines {
		m := summaryRE.FindStringSubmatch(l.Text)
		if m == nil {
			continue
		}
		sr := get(l.SourceID, m[1])
		end, ok := atClock(m[4], l.Time)
		if !ok {
			continue
		}
		sr.summary, sr.start, sr.end = true, l.Time, end
		sr.Lines = append(sr.Lines, causeway.LineID(l.Num))
		if m[5] != "" {
			var ok1, ok2, ok3, ok4 bool
			sr.median, ok1 = num(m[6])
			sr.max, ok2 = num(m[7])
			sr.maxAt, ok3 = atClock(m[8], l.Time)
			sr.last, ok4 = num(m[9])
			sr.haveValues = ok1 && ok2 && ok3 && ok4
		}
	}
	notables := []*regexp.Regexp{singleRE, episodeRE, stepRE, gapRE, valueRE}
	for _, l := range lines {
		var m []string
		var which *regexp.Regexp
		for _, re := range notables {
			if m = re.FindStringSubmatch(l.Text); m != nil {
				which = re
				break
			}
		}
		if m == nil {
			continue
		}
		sr := byKey[key{l.SourceID, m[1]}]
		if sr == nil && which == valueRE {
			sr = get(l.SourceID, m[1])
		}
		if sr == nil {
			continue
		}
		ref := sr.start
		sr.Lines = append(sr.Lines, causeway.LineID(l.Num))
		switch which {
		case valueRE:
			if v, ok := num(m[2]); ok {
				sr.extra = append(sr.extra, timelinePoint{Time: l.Time, Value: &v})
			}
		case singleRE:
			p, ok1 := num(m[2])
			tp, ok2 := atClock(m[3], ref)
			if ok1 && ok2 {
				sr.extra = append(sr.extra, timelinePoint{Time: tp, Value: &p})
			}
		case episodeRE: // from, to, peak at
			t1, ok1 := atClock(m[3], ref)
			t2, ok2 := atClock(m[4], ref)
			p, ok3 := num(m[5])
			tp, ok4 := atClock(m[6], ref)
			if ok1 && ok2 && ok3 && ok4 {
				sr.extra = append(sr.extra, timelinePoint{Time: t1}, timelinePoint{Time: tp, Value: &p}, timelinePoint{Time: t2})
			}
		case stepRE:
			t, ok := atClock(m[2], ref)
			b, ok1 := num(m[3])
			a, ok2 := num(m[4])
			if ok && ok1 && ok2 {
				sr.step, sr.before, sr.after = t, b, a
			}
		case gapRE:
			t1, ok1 := atClock(m[2], ref)
			t2, ok2 := atClock(m[3], ref)
			if ok1 && ok2 {
				sr.gaps = append(sr.gaps, [2]time.Time{t1, t2})
			}
		}
	}
	var out []sketch
	for _, k := range order {
		sr := byKey[k]
		base := func(t time.Time) float64 {
			if !sr.step.IsZero() {
				if t.Before(sr.step) {
					return sr.before
				}
				return sr.after
			}
			return sr.median
		}
		var pts []timelinePoint
		at := func(t time.Time, v float64) { pts = append(pts, timelinePoint{Time: t, Value: &v}) }
		switch {
		case sr.summary && sr.haveValues:
			at(sr.start, base(sr.start))
			if !sr.step.IsZero() {
				at(sr.step.Add(-time.Second), sr.before)
				at(sr.step, sr.after)
			}
			for _, p := range sr.extra {
				if p.Value == nil {
					at(p.Time, base(p.Time)) // an episode's ends sit on the baseline
				} else {
					pts = append(pts, p)
				}
			}
			at(sr.maxAt, sr.max)
			at(sr.end, sr.last)
		case !sr.summary:
			pts = sr.extra
		}
		if len(pts) == 0 {
			continue
		}
		slices.SortStableFunc(pts, func(a, b timelinePoint) int { return a.Time.Compare(b.Time) })
		pts = slices.CompactFunc(pts, func(a, b timelinePoint) bool { return a.Time.Equal(b.Time) })
		for _, g := range sr.gaps {
			// A break just after the gap starts, so the line stops there.
			i, _ := slices.BinarySearchFunc(pts, g[0], func(p timelinePoint, t time.Time) int { return p.Time.Compare(t) })
			pts = slices.Insert(pts, min(i+1, len(pts)), timelinePoint{Time: g[0].Add(time.Second)})
		}
		slices.SortStableFunc(pts, func(a, b timelinePoint) int { return a.Time.Compare(b.Time) })
		sr.Points = pts
		out = append(out, sr.sketch)
	}
	slices.SortStableFunc(out, func(a, b sketch) int { return cmp.Compare(a.sourceID, b.sourceID) })
	return out
}
