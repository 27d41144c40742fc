package server

import (
	"testing"
	"time"

	"github.com/causeway-rca/causeway/store"
)

// TestSketchSeries reads the metric lines as the files collector writes
// them and draws each series' shape from them.
func TestSketchSeries(t *testing.T) {
	t0 := time.Date(2025, 8, 21, 2, 30, 0, 0, time.UTC)
	at := func(clock string) time.Time {
		tt, _ := atClock(clock, t0)
		return tt
	}
	type pt struct {
		at    string
		value float64 // -1: a break
	}
	tests := []struct {
		name  string
		lines []store.MetricLine
		want  []pt
	}{
		{
			name: "level shift",
			lines: []store.MetricLine{
				{Num: 1, Time: t0, Stat: "summary", Text: `avail{device="/dev/sda1"}: 241 samples 02:30:00–04:30:00 min=0 median=0 max=1494648422 at 02:31:00 last=0`},
				{Num: 2, Time: at("03:07:30"), Stat: "step", Text: `avail{device="/dev/sda1"}: level shift at 03:07:30: mean 1000 before, 10 after`},
			},
			want: []pt{{"02:30:00", 1000}, {"02:31:00", 1494648422}, {"03:07:29", 1000}, {"03:07:30", 10}, {"04:30:00", 0}},
		},
		{
			name: "spike episode and gap",
			lines: []store.MetricLine{
				{Num: 1, Time: t0, Stat: "summary", Text: `rate{code="5"}: 200 samples 02:30:00–04:30:00 min=0 median=0 max=0.5 at 03:58:00 last=0.1`},
				{Num: 2, Time: at("03:49:30"), Stat: "spike", Text: `rate{code="5"}: above median 0 from 03:49:30 to 04:10:00 (82 samples), peak 0.5 at 03:58:00, through the last sample`},
				{Num: 3, Time: at("03:00:00"), Stat: "gap", Text: `rate{code="5"}: no samples from 03:00:00 to 03:10:00 (10m0s)`},
			},
			want: []pt{{"02:30:00", 0}, {"03:00:01", -1}, {"03:49:30", 0}, {"03:58:00", 0.5}, {"04:10:00", 0}, {"04:30:00", 0.1}},
		},
		{
			name: "single spike, a day later",
			lines: []store.MetricLine{
				{Num: 1, Time: t0, Stat: "summary", Text: `q: 10 samples 02:30:00–Aug 22 02:30:00 min=1 median=2 max=9 at Aug 22 01:00:00 last=2`},
				{Num: 2, Time: t0, Stat: "spike", Text: `q: spike to 9 at Aug 22 01:00:00 (median 2)`},
			},
			want: []pt{{"02:30:00", 2}, {"Aug 22 01:00:00", 9}, {"Aug 22 02:30:00", 2}},
		},
		{
			name:  "instant value",
			lines: []store.MetricLine{{Num: 7, Time: t0, Stat: "value", Text: `up{job="x"}: 1 at 2025-08-21T02:30:00Z`}},
			want:  []pt{{"02:30:00", 1}},
		},
		{
			name:  "unreadable summary",
			lines: []store.MetricLine{{Num: 1, Time: t0, Stat: "summary", Text: `something else entirely`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sketchSeries(tt.lines)
			if len(tt.want) == 0 {
				if len(got) != 0 {
					t.Fatalf("sketched %+v from lines it cannot read", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d series, want 1", len(got))
			}
			pts := got[0].Points
			if len(pts) != len(tt.want) {
				t.Fatalf("%d points %+v, want %d", len(pts), pts, len(tt.want))
			}
			for i, w := range tt.want {
				p := pts[i]
				if !p.Time.Equal(at(w.at)) {
					t.Errorf("point %d at %s, want %s", i, p.Time.Format(time.RFC3339), w.at)
				}
				switch {
				case w.value == -1 && p.Value != nil:
					t.Errorf("point %d is %v, want a break", i, *p.Value)
				case w.value != -1 && (p.Value == nil || *p.Value != w.value):
					t.Errorf("point %d is %v, want %v", i, p.Value, w.value)
				}
			}
			if len(got[0].Lines) != len(tt.lines) {
				t.Errorf("sketched from %v, want every line", got[0].Lines)
			}
		})
	}
}
