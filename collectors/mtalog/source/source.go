package source

import (
	"context"
	"sync/atomic"
	"time"
)

// Source is one place an MTA's log lines come from: followed files,
// journald or a syslog listener.
type Source interface {
	// Name is the configured name, the `source` label of its metrics.
	Name() string
	// Run reads lines and hands them to sink until ctx ends, then returns
	// nil. It returns an error only when it cannot go on (a listener that
	// cannot bind); the caller may call Run again, and the source resumes
	// (files from their checkpoints, journald from its cursor). Sink calls
	// come from one goroutine at a time.
	Run(ctx context.Context, sink Sink) error
	// Snapshot returns the source's self-statistics, cumulative over every
	// Run. It is cheap and safe to call from any goroutine, at scrape time.
	Snapshot() Snapshot
}

// Snapshot is a source's self-statistics at one moment.
type Snapshot struct {
	// Lines and Bytes count what was handed to the sink (bytes of the
	// lines as read, with their terminators for files).
	Lines, Bytes int64
	// OversizeLines counts lines or messages longer than the source's
	// bound, truncated or skipped per its config.
	OversizeLines int64
	// LastLineTime is the timestamp of the last line handed on that had
	// one; zero before.
	LastLineTime time.Time
	// Rotations counts file rotations by kind (rename, truncate,
	// recreate); nil for sources without files.
	Rotations map[string]int64
	// ReadErrors counts errors by reason; every reason the source can
	// report is present, at zero until it happens.
	ReadErrors map[string]int64
	// Files are the followed files' positions; nil for sources without
	// files.
	Files []FileSnapshot
	// Dropped counts lines lost before the source could read them, by
	// reason, as the log's producer reported them; nil for sources that
	// cannot know. Journald: DroppedRateLimit.
	Dropped map[string]int64
	// Failing says, for each path that cannot be followed now (not a
	// regular file, unreadable), which and why: "PATH: REASON".
	Failing []string
}

// DroppedRateLimit is the Dropped reason of lines journald's rate limit
// discarded (its "Suppressed N messages from UNIT" entries).
const DroppedRateLimit = "rate_limit"

// FileSnapshot is one followed file's read position.
type FileSnapshot struct {
	Path string
	// Offset is how far the file was read; Size-Offset is the lag.
	Offset, Size int64
}

// counters are the atomics a streaming source keeps for its Snapshot.
type counters struct {
	lines, bytes, oversize atomic.Int64
	lastLine               atomic.Int64 // unix nanoseconds, 0 for none
	errs                   []atomic.Int64
	reasons                []string
}

func newCounters(reasons ...string) *counters {
	return &counters{reasons: reasons, errs: make([]atomic.Int64, len(reasons))}
}

// addError counts an error of reasons[i].
func (c *counters) addError(i int) { c.errs[i].Add(1) }

// delivered counts a batch handed to the sink.
func (c *counters) delivered(b *Batch, bytes int64) {
	c.lines.Add(int64(len(b.Lines)))
	c.bytes.Add(bytes)
	for i := len(b.Lines) - 1; i >= 0; i-- {
		if t := b.Lines[i].Time; !t.IsZero() {
			c.lastLine.Store(t.UnixNano())
			break
		}
	}
}

func (c *counters) snapshot() Snapshot {
	s := Snapshot{
		Lines:         c.lines.Load(),
		Bytes:         c.bytes.Load(),
		OversizeLines: c.oversize.Load(),
		ReadErrors:    make(map[string]int64, len(c.reasons)),
	}
	if ns := c.lastLine.Load(); ns != 0 {
		s.LastLineTime = time.Unix(0, ns)
	}
	for i, r := range c.reasons {
		s.ReadErrors[r] = c.errs[i].Load()
	}
	return s
}

// FailureReasons are the read error reasons that mean a source is failing
// at its job (it cannot read, or cannot save its position), rather than
// meeting bad input: the collector reports a period with any of them as a
// failed run.
var FailureReasons = []string{"io", "permission", "state", "not_regular"}

// Failures counts a snapshot's read errors of the FailureReasons.
func Failures(s Snapshot) int64 {
	var n int64
	for _, r := range FailureReasons {
		n += s.ReadErrors[r]
	}
	return n
}
