package main

import (
	"fmt"
	"time"

	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// teeSink hands every batch to each sink in turn.
type teeSink []source.Sink

func (t teeSink) HandleBatch(b *source.Batch) {
	for _, s := range t {
		s.HandleBatch(b)
	}
}

// windowSink passes on the lines logged in [since, until) (a zero bound is
// open). A line without a time goes with the line before it, so a
// continuation is never split from its start.
type windowSink struct {
	since, until time.Time
	next         source.Sink
	inside       bool
	out          source.Batch
}

func newWindowSink(since, until time.Time, next source.Sink) *windowSink {
	return &windowSink{since: since, until: until, next: next, inside: since.IsZero()}
}

func (w *windowSink) HandleBatch(b *source.Batch) {
	w.out.Source = b.Source
	w.out.Lines = w.out.Lines[:0]
	for _, l := range b.Lines {
		if !l.Time.IsZero() {
			w.inside = (w.since.IsZero() || !l.Time.Before(w.since)) && (w.until.IsZero() || l.Time.Before(w.until))
		}
		if w.inside {
			w.out.Lines = append(w.out.Lines, l)
		}
	}
	if len(w.out.Lines) > 0 {
		w.next.HandleBatch(&w.out)
	}
}

// parseWindowBound reads a --since/--until value: RFC 3339, or a date and
// time ("2025-11-26 07:00", "2025-11-26") in the replay's zone.
func parseWindowBound(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a time: want RFC 3339 (2025-11-26T07:00:00Z) or a local date and time (2025-11-26 07:00)", s)
}
