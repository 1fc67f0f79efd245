package correlate

import (
	"testing"
	"time"
)

// TestLogTimeHelpersMatchTheTimePackage: since gives what Sub gives, and
// wallDeadline.maybeAfter what After gives (or true, for a deadline with
// a monotonic reading), for every pair of times around a second's
// and a nanosecond's boundaries, in other zones, centuries apart (where
// Sub saturates) and with monotonic clock readings.
func TestLogTimeHelpersMatchTheTimePackage(t *testing.T) {
	zone := time.FixedZone("X", -7*3600)
	now := time.Now()
	times := []time.Time{
		{}, t0, t0.Add(1), t0.Add(-1), t0.Add(time.Second), t0.Add(time.Second - 1), t0.Add(-time.Second + 1),
		t0.In(zone), t0.Add(999_999_999).In(zone), t0.AddDate(270, 0, 0), t0.AddDate(-270, 0, 0), t0.AddDate(300, 0, 0),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		now, now.Add(time.Hour), now.Add(-1), now.Round(0), now.Round(0).Add(1), now.AddDate(400, 0, 0),
	}
	if !hasMonotonic(now) || hasMonotonic(now.Round(0)) || hasMonotonic(t0) {
		t.Fatal("hasMonotonic does not tell a clock reading from a plain time")
	}
	for _, a := range times {
		d := newWallDeadline(a)
		for _, b := range times {
			if got, want := since(a, b), b.Sub(a); got != want {
				t.Errorf("since(%v, %v) = %v, Sub says %v", a, b, got, want)
			}
			if got, want := d.maybeAfter(b), b.After(a); got != want && !(got && hasMonotonic(a)) {
				t.Errorf("deadline %v: maybeAfter(%v) = %v, After says %v", a, b, got, want)
			}
		}
	}
}
