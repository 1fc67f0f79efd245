package source

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
)

// runSource runs src into sink until stop, which ends the run and fails
// the test if Run returned an error.
func runSource(t *testing.T, src interface {
	Run(context.Context, Sink) error
}, sink Sink) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// recordSink keeps copies of every line it gets.
type recordSink struct {
	mu    sync.Mutex
	lines []Line
	names map[string]bool
}

func (r *recordSink) HandleBatch(b *Batch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names == nil {
		r.names = map[string]bool{}
	}
	r.names[b.Source] = true
	for _, l := range b.Lines {
		r.lines = append(r.lines, Line{Time: l.Time, Text: append([]byte(nil), l.Text...), StampLen: l.StampLen})
	}
}

func (r *recordSink) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.lines))
	for i, l := range r.lines {
		out[i] = string(l.Text)
	}
	return out
}

func (r *recordSink) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lines)
}

// waitLines polls (with a deadline) until the sink holds n lines.
func waitLines(t *testing.T, r *recordSink, n int) {
	t.Helper()
	testwait.For(t, 20*time.Second, fmt.Sprintf("%d lines", n), func() error {
		if got := r.count(); got < n {
			return fmt.Errorf("only %d of %d lines arrived:\n%s", got, n, strings.Join(r.texts(), "\n"))
		}
		return nil
	})
}

// checkNumbered asserts that texts hold "seq N" for N = 1..n, each once, in
// order.
func checkNumbered(t *testing.T, texts []string, n int) {
	t.Helper()
	seen := make(map[int]int)
	last := 0
	for _, s := range texts {
		i := strings.Index(s, "seq ")
		if i < 0 {
			t.Fatalf("line without a sequence number: %q", s)
		}
		var k int
		for _, c := range s[i+4:] {
			if c < '0' || c > '9' {
				break
			}
			k = k*10 + int(c-'0')
		}
		seen[k]++
		if k < last {
			t.Errorf("seq %d after %d: out of order", k, last)
		}
		last = k
	}
	var missing, dup []int
	for k := 1; k <= n; k++ {
		switch seen[k] {
		case 0:
			missing = append(missing, k)
		case 1:
		default:
			dup = append(dup, k)
		}
	}
	if len(missing) > 0 || len(dup) > 0 || len(seen) != n {
		t.Fatalf("of %d lines: missing %v, duplicated %v, %d distinct", n, missing, dup, len(seen))
	}
}
