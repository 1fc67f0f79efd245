// Package testwait waits, in tests, for a state that another goroutine or
// process brings about: a line delivered, a port open, a counter in a
// scrape. It polls a check, first after a millisecond and then backing off
// to at most 100 ms, never sleeping past the timeout, and on timeout fails
// the test naming what it waited for and why the last check said no.
//
// Tests use it instead of sleeping a guessed time or writing their own
// deadline loop, so every wait in the module is bounded the same way and
// fails with the same kind of message.
package testwait

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// The pauses between checks: short at first, because most waits end within
// a few milliseconds, doubling to a cap, because a check may be costly (a
// scrape, a query to Prometheus).
const (
	firstPause = time.Millisecond
	maxPause   = 100 * time.Millisecond
)

// For polls check until it returns nil. If check still returns an error
// when timeout has passed, For fails t (Fatalf) with what and that error:
// "waited 10s (42 checks) for the file to be opened: no file yet". what
// names the awaited state; the error says how far from it the last check
// was. Call For from the test's goroutine, as t.Fatalf requires.
func For(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	if checks, err := realClock.poll(timeout, check); err != nil {
		t.Fatalf("waited %s (%d checks) for %s: %v", timeout, checks, what, err)
	}
}

// Until polls cond until it returns true or timeout passes, and reports
// whether it held. It is for waits whose timeout is not a failure in
// itself, where the assertions after the wait say what went wrong.
func Until(timeout time.Duration, cond func() bool) bool {
	_, err := realClock.poll(timeout, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
	return err == nil
}

var errNotYet = errors.New("condition not met")

// clock is the time the poll loop reads and spends; the tests replace it
// to see each pause.
type clock struct {
	now   func() time.Time
	sleep func(time.Duration)
}

var realClock = clock{now: time.Now, sleep: time.Sleep}

// poll runs check until it returns nil or timeout has passed, and returns
// how many checks ran and the last error. There is always a check at the
// deadline itself, and no pause runs past it.
func (c clock) poll(timeout time.Duration, check func() error) (checks int, err error) {
	deadline := c.now().Add(timeout)
	pause := firstPause
	for {
		checks++
		if err = check(); err == nil {
			return checks, nil
		}
		left := deadline.Sub(c.now())
		if left <= 0 {
			return checks, fmt.Errorf("last check: %w", err)
		}
		c.sleep(min(pause, left))
		pause = min(2*pause, maxPause)
	}
}
