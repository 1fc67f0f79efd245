package main

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Traffic columns.
const (
	trafficReceived = iota
	trafficDelivered
	trafficDeferred
	trafficBounced
	trafficExpired
	trafficRejected
	numTraffic
)

// trafficSteps are the bucket widths traffic can have, each a multiple of
// the one before, so buckets merge exactly into coarser ones.
var trafficSteps = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 24 * time.Hour}

// trafficBuckets counts events per bucket of wall-clock time in one zone.
// It starts at the finest step and moves to a coarser one when a long log
// would make too many buckets.
type trafficBuckets struct {
	loc     *time.Location
	step    int // index in trafficSteps
	buckets map[int64]*[numTraffic]int64
}

func newTrafficBuckets(loc *time.Location) trafficBuckets {
	return trafficBuckets{loc: loc, buckets: map[int64]*[numTraffic]int64{}}
}

// key is the bucket's start in the zone's wall clock, as seconds since the
// epoch of that wall clock (so days start at local midnight).
func (tb *trafficBuckets) key(t time.Time, step time.Duration) int64 {
	_, off := t.In(tb.loc).Zone()
	wall := t.Unix() + int64(off)
	s := int64(step / time.Second)
	return wall - ((wall%s)+s)%s
}

func (tb *trafficBuckets) add(t time.Time, col int) {
	if t.IsZero() {
		return
	}
	k := tb.key(t, trafficSteps[tb.step])
	b := tb.buckets[k]
	if b == nil {
		if len(tb.buckets) >= detailMaxBuckets && tb.step < len(trafficSteps)-1 {
			tb.coarsen(tb.step + 1)
			tb.add(t, col)
			return
		}
		b = new([numTraffic]int64)
		tb.buckets[k] = b
	}
	b[col]++
}

// coarsen merges the buckets into those of trafficSteps[step].
func (tb *trafficBuckets) coarsen(step int) {
	s := int64(trafficSteps[step] / time.Second)
	merged := make(map[int64]*[numTraffic]int64, len(tb.buckets))
	for k, b := range tb.buckets {
		nk := k - ((k%s)+s)%s
		m := merged[nk]
		if m == nil {
			m = new([numTraffic]int64)
			merged[nk] = m
		}
		for i := range b {
			m[i] += b[i]
		}
	}
	tb.step, tb.buckets = step, merged
}

// trafficRow is one interval of the traffic table.
type trafficRow struct {
	Start     string `json:"start"`
	Received  int64  `json:"received"`
	Delivered int64  `json:"delivered"`
	Deferred  int64  `json:"deferred"`
	Bounced   int64  `json:"bounced"`
	Expired   int64  `json:"expired"`
	Rejected  int64  `json:"rejected"`
}

// maxTrafficRows is how many rows an automatic interval aims at.
const maxTrafficRows = 48

// rows returns every interval from the first to the last bucket (empty
// ones included), at want or, when want is zero, the finest step that
// gives at most maxTrafficRows rows; and the interval used. A want finer
// than the kept buckets is raised to their step.
func (tb *trafficBuckets) rows(want time.Duration) ([]trafficRow, time.Duration) {
	if len(tb.buckets) == 0 {
		return nil, 0
	}
	keys := slices.Sorted(maps.Keys(tb.buckets))
	first, last := keys[0], keys[len(keys)-1]
	step := want
	if step < trafficSteps[tb.step] {
		step = trafficSteps[tb.step]
	}
	if want == 0 {
		for _, s := range trafficSteps[tb.step:] {
			step = s
			if (last-first)/int64(s/time.Second) < maxTrafficRows {
				break
			}
		}
	}
	s := int64(step / time.Second)
	first -= ((first % s) + s) % s
	var out []trafficRow
	byStart := map[int64]int{}
	for k := first; k <= last; k += s {
		byStart[k] = len(out)
		// The key is wall-clock seconds: print it as UTC to get the wall
		// clock back, with the zone's name appended.
		out = append(out, trafficRow{Start: time.Unix(k, 0).UTC().Format("2006-01-02 15:04")})
		if len(out) > 100_000 {
			break
		}
	}
	for _, k := range keys {
		i, ok := byStart[k-((k%s)+s)%s]
		if !ok {
			continue
		}
		b := tb.buckets[k]
		r := &out[i]
		r.Received += b[trafficReceived]
		r.Delivered += b[trafficDelivered]
		r.Deferred += b[trafficDeferred]
		r.Bounced += b[trafficBounced]
		r.Expired += b[trafficExpired]
		r.Rejected += b[trafficRejected]
	}
	return out, step
}

// intervalName prints a step as the report shows it ("15m", "1h", "1d").
func intervalName(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}
