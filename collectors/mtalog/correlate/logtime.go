package correlate

import (
	"math"
	"time"
)

// The correlator compares and subtracts log times on nearly every line
// (expiry) and for every message (its queue time). time.Time's own
// methods handle monotonic clock readings and overflow on every call:
// After costs about 20 instructions and a call, Sub about 130 (it checks
// for overflow by adding the result back). Log times are wall-clock
// times, parsed from the log; only one clamped by LimitTime (a reading of
// the agent's clock) can carry a monotonic reading. The helpers here take
// a short path on plain integers where it gives exactly what the time
// package would, and call it otherwise.

// hasMonotonic reports whether t carries a monotonic clock reading:
// Round(0) strips it, which changes t's internal encoding.
func hasMonotonic(t time.Time) bool { return t != t.Round(0) }

// wallDeadline is a time kept for a cheap test of whether a log time is
// past it (see maybeAfter).
type wallDeadline struct {
	t    time.Time
	sec  int64 // t.Unix(), or math.MinInt64 when t has a monotonic reading
	nsec int   // t.Nanosecond()
}

func newWallDeadline(t time.Time) wallDeadline {
	d := wallDeadline{t: t, sec: t.Unix(), nsec: t.Nanosecond()}
	if hasMonotonic(t) {
		// time.Time.After compares monotonic readings when both times
		// have one: leave the answer to it.
		d.sec = math.MinInt64
	}
	return d
}

// maybeAfter reports whether now may be after the deadline: false only
// when now.After(d.t) is false. Without a monotonic reading in d.t, After
// compares wall times, seconds then nanoseconds, and so does this;
// small enough to be inlined.
func (d *wallDeadline) maybeAfter(now time.Time) bool {
	s := now.Unix()
	return s > d.sec || s == d.sec && now.Nanosecond() > d.nsec
}

// since returns last.Sub(first), without Sub's overflow check where no
// overflow is possible: the seconds apart fit 33 bits (272 years; a
// Duration holds 292), and at most one of the times has a monotonic
// reading (so Sub subtracts wall times, as here).
func since(first, last time.Time) time.Duration {
	if s := last.Unix() - first.Unix(); -1<<33 < s && s < 1<<33 && !(hasMonotonic(first) && hasMonotonic(last)) {
		return time.Duration(s)*time.Second + time.Duration(last.Nanosecond()-first.Nanosecond())
	}
	return last.Sub(first)
}

// QueueTime is how long the log saw the message: LastSeen.Sub(FirstSeen).
func (m *Message) QueueTime() time.Duration { return since(m.FirstSeen, m.LastSeen) }
