package clock

import (
	"testing"
	"time"
)

func TestFakeFiresInOrderWhenDue(t *testing.T) {
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	late, early := f.After(2*time.Minute), f.After(time.Minute)
	now := f.After(0)
	select {
	case got := <-now:
		if !got.Equal(start) {
			t.Errorf("After(0) fired at %v", got)
		}
	default:
		t.Fatal("After(0) did not fire at once")
	}
	f.BlockUntil(2)
	f.Advance(59 * time.Second)
	select {
	case <-early:
		t.Fatal("fired before its time")
	default:
	}
	f.Advance(time.Second)
	if got := <-early; !got.Equal(start.Add(time.Minute)) {
		t.Errorf("early fired at %v", got)
	}
	if f.Waiters() != 1 {
		t.Errorf("waiters = %d, want 1", f.Waiters())
	}
	f.Advance(time.Hour)
	if got := <-late; !got.Equal(start.Add(time.Hour + time.Minute)) {
		t.Errorf("late fired at %v (the clock's time when it was advanced)", got)
	}
	if !f.Now().Equal(start.Add(time.Hour + time.Minute)) {
		t.Errorf("now = %v", f.Now())
	}
}
