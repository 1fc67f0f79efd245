package testlog

import (
	"fmt"
	"sync"
	"testing"
)

func TestBufferConcurrentWritesAndCount(t *testing.T) {
	var l Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				fmt.Fprintf(&l, "writer=%d record=%d\n", i, j)
			}
		})
	}
	wg.Wait()
	if got := l.Count("record="); got != 400 {
		t.Errorf("Count(record=) = %d, want 400", got)
	}
	if got := l.Count("writer=3 "); got != 50 {
		t.Errorf("Count(writer=3) = %d, want 50", got)
	}
	if got := l.Count("absent"); got != 0 {
		t.Errorf("Count(absent) = %d, want 0", got)
	}
}
