package testwait

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// failureRecorder is a testing.TB whose Fatalf records the failure instead
// of ending the test, so a test can watch For fail. Any other method goes
// to the real test.
type failureRecorder struct {
	testing.TB
	fatals []string
}

func (f *failureRecorder) Helper() {}

func (f *failureRecorder) Fatalf(format string, args ...any) {
	f.fatals = append(f.fatals, fmt.Sprintf(format, args...))
}

// fakeClock moves only when the poll loop sleeps, and records each pause.
type fakeClock struct {
	now    time.Time
	pauses []time.Duration
}

func (f *fakeClock) clock() clock {
	return clock{
		now:   func() time.Time { return f.now },
		sleep: func(d time.Duration) { f.pauses = append(f.pauses, d); f.now = f.now.Add(d) },
	}
}

func TestForReturnsAsSoonAsTheCheckPasses(t *testing.T) {
	rec := &failureRecorder{TB: t}
	calls := 0
	For(rec, time.Minute, "the third call", func() error {
		calls++
		if calls < 3 {
			return fmt.Errorf("call %d", calls)
		}
		return nil
	})
	if len(rec.fatals) > 0 {
		t.Fatalf("For failed: %q", rec.fatals)
	}
	if calls != 3 {
		t.Fatalf("check ran %d times, want 3", calls)
	}
}

func TestForFailsTheTestOnTimeout(t *testing.T) {
	rec := &failureRecorder{TB: t}
	calls := 0
	start := time.Now()
	For(rec, 30*time.Millisecond, "the lines to arrive", func() error {
		calls++
		return fmt.Errorf("only %d of 5 lines", calls)
	})
	if len(rec.fatals) != 1 {
		t.Fatalf("%d failures, want 1: %q", len(rec.fatals), rec.fatals)
	}
	msg := rec.fatals[0]
	want := fmt.Sprintf("waited 30ms (%d checks) for the lines to arrive: last check: only %d of 5 lines", calls, calls)
	if msg != want {
		t.Errorf("failure %q, want %q", msg, want)
	}
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Errorf("gave up after %s, before the 30ms timeout", waited)
	}
	// 1+2+4+8+16 ms of pauses leave less than 16 ms: at most 7 checks.
	if calls < 2 || calls > 7 {
		t.Errorf("%d checks in 30ms, want 2 to 7 (pauses of 1, 2, 4, 8, 16 ms, then what is left)", calls)
	}
}

func TestUntilReportsWithoutFailing(t *testing.T) {
	if Until(20*time.Millisecond, func() bool { return false }) {
		t.Error("Until reported a condition that never held")
	}
	n := 0
	if !Until(time.Minute, func() bool { n++; return n == 4 }) {
		t.Error("Until missed a condition that held at the fourth check")
	}
	if n != 4 {
		t.Errorf("cond ran %d times, want 4", n)
	}
}

// TestPollBacksOffAndStopsAtTheDeadline steps a fake clock: the pauses
// double from 1 ms to the 100 ms cap, the last one ends exactly at the
// deadline, and one more check runs there.
func TestPollBacksOffAndStopsAtTheDeadline(t *testing.T) {
	fc := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	start := fc.now
	checks, err := fc.clock().poll(500*time.Millisecond, func() error { return errors.New("no") })
	ms := time.Millisecond
	want := []time.Duration{1 * ms, 2 * ms, 4 * ms, 8 * ms, 16 * ms, 32 * ms, 64 * ms, 100 * ms, 100 * ms, 100 * ms, 73 * ms}
	if !slices.Equal(fc.pauses, want) {
		t.Errorf("pauses %v, want %v", fc.pauses, want)
	}
	if got := fc.now.Sub(start); got != 500*ms {
		t.Errorf("slept %s in all, want exactly the 500ms timeout", got)
	}
	if checks != len(want)+1 {
		t.Errorf("%d checks, want %d (one before each pause and one at the deadline)", checks, len(want)+1)
	}
	if err == nil || !strings.Contains(err.Error(), "no") {
		t.Errorf("err %v, want the last check's error", err)
	}
}

func TestPollDoesNotSleepWhenTheCheckPasses(t *testing.T) {
	fc := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	checks, err := fc.clock().poll(time.Minute, func() error { return nil })
	if err != nil || checks != 1 || len(fc.pauses) != 0 {
		t.Errorf("checks %d, err %v, pauses %v; want one check, no error, no pause", checks, err, fc.pauses)
	}
}

// A check slower than the timeout still runs once, and its error is the
// one reported.
func TestPollWithASlowCheck(t *testing.T) {
	fc := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	checks, err := fc.clock().poll(time.Second, func() error {
		fc.now = fc.now.Add(2 * time.Second)
		return errors.New("slow and wrong")
	})
	if checks != 1 || len(fc.pauses) != 0 || err == nil || !strings.Contains(err.Error(), "slow and wrong") {
		t.Errorf("checks %d, pauses %v, err %v; want one check, no pause, its error", checks, fc.pauses, err)
	}
}
