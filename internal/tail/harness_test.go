package tail

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock the test advances by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// stepWaker lets a test run the follower one poll at a time, like mtail's
// test waker: each Wake hands the test a channel, and step closes it and
// waits for the follower to come back for the next one, which it does only
// after finishing the poll. No sleeping, no timing assumptions.
type stepWaker struct {
	ch      chan chan struct{}
	pending chan struct{}
}

func newStepWaker() *stepWaker { return &stepWaker{ch: make(chan chan struct{}, 1)} }

func (w *stepWaker) Wake() <-chan struct{} {
	c := make(chan struct{})
	w.ch <- c
	return c
}

// await waits for the follower to finish a poll. The timeout is a watchdog
// against a hung follower, not a wait for work.
func (w *stepWaker) await(t testing.TB) {
	t.Helper()
	select {
	case w.pending = <-w.ch:
	case <-time.After(20 * time.Second):
		t.Fatal("follower did not finish its poll")
	}
}

func (w *stepWaker) step(t testing.TB) {
	t.Helper()
	if w.pending == nil {
		w.await(t)
	}
	close(w.pending)
	w.await(t)
}

// got is a delivered line, copied out of the batch.
type got struct {
	path  string
	file  FileID
	off   int64
	text  string
	flags LineFlags
}

// harness runs one Follower at a time over a temp dir with a fake clock
// and a step waker, and records what it delivers, across restarts.
type harness struct {
	t     *testing.T
	dir   string
	clock *fakeClock
	cfg   Config
	open  func(string) (*os.File, error)

	waker  *stepWaker
	fl     *Follower
	cancel context.CancelFunc
	done   chan error

	mu      sync.Mutex
	lines   []got
	batches int
	seq     int // last number written by writeN
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), clock: newFakeClock()}
	for i, p := range cfg.Paths {
		if !strings.HasPrefix(p, "/") {
			cfg.Paths[i] = h.path(p)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.Clock = h.clock
	cfg.DisableFSNotify = true
	h.cfg = cfg
	t.Cleanup(func() {
		if h.fl != nil {
			h.stop()
		}
	})
	return h
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func (h *harness) path(name string) string { return h.dir + "/" + name }

// start creates and runs a follower and waits for its first poll.
func (h *harness) start() {
	h.t.Helper()
	cfg := h.cfg
	cfg.Paths = slices.Clone(cfg.Paths)
	h.waker = newStepWaker()
	cfg.Waker = h.waker
	fl, err := New(cfg, h.handle)
	if err != nil {
		h.t.Fatal(err)
	}
	if h.open != nil {
		fl.open = h.open
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.fl, h.cancel, h.done = fl, cancel, make(chan error, 1)
	go func() { h.done <- fl.Run(ctx) }()
	h.waker.await(h.t)
}

func (h *harness) handle(batch []Line) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.batches++
	for _, l := range batch {
		h.lines = append(h.lines, got{path: l.Path, file: l.File, off: l.Offset, text: string(l.Bytes), flags: l.Flags})
	}
}

func (h *harness) step() { h.t.Helper(); h.waker.step(h.t) }

// stop ends the follower gracefully (final read and checkpoint).
func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		h.t.Fatal("follower did not stop")
	}
	h.fl = nil
}

// crash ends the follower as kill -9 would: no final read, no checkpoint.
func (h *harness) crash() {
	h.t.Helper()
	h.fl.crash = true
	h.stop()
}

func (h *harness) delivered() []got {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.lines)
}

// create opens name for appending, creating it, as a logging daemon does.
func (h *harness) create(name string) *os.File {
	h.t.Helper()
	f, err := os.OpenFile(h.path(name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { f.Close() })
	return f
}

// writeN appends n numbered lines to f.
func (h *harness) writeN(f io.Writer, n int) {
	h.t.Helper()
	var b strings.Builder
	for range n {
		h.seq++
		fmt.Fprintf(&b, "seq %06d %s\n", h.seq, strings.Repeat("x", h.seq%37))
	}
	h.write(f, b.String())
}

func (h *harness) write(f io.Writer, s string) {
	h.t.Helper()
	if _, err := io.WriteString(f, s); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) must(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
}

// seqOf parses a numbered line, or returns -1.
func seqOf(text string) int {
	rest, ok := strings.CutPrefix(text, "seq ")
	if !ok || len(rest) < 6 {
		return -1
	}
	n, err := strconv.Atoi(rest[:6])
	if err != nil {
		return -1
	}
	return n
}

// checkSeq asserts the numbered lines delivered are exactly 1..last minus
// lost, each once, in increasing order within each file.
func checkSeq(t *testing.T, lines []got, last int, lost []int) {
	t.Helper()
	count := make(map[int]int)
	prev := make(map[FileID]int)
	for _, l := range lines {
		n := seqOf(l.text)
		if n < 0 {
			continue
		}
		count[n]++
		if p, ok := prev[l.file]; ok && n <= p {
			t.Errorf("file %s (%s): line %d after %d", l.file, l.path, n, p)
		}
		prev[l.file] = n
	}
	isLost := make(map[int]bool)
	for _, n := range lost {
		isLost[n] = true
	}
	var missing, dups, unexpected []int
	for n := 1; n <= last; n++ {
		switch c := count[n]; {
		case isLost[n] && c > 0:
			unexpected = append(unexpected, n)
		case isLost[n]:
		case c == 0:
			missing = append(missing, n)
		case c > 1:
			dups = append(dups, n)
		}
	}
	for n := range count {
		if n > last || n < 1 {
			unexpected = append(unexpected, n)
		}
	}
	if len(missing)+len(dups)+len(unexpected) > 0 {
		t.Errorf("of lines 1..%d: missing %s, duplicated %s, unexpected (documented loss that was read, or never written) %s",
			last, brief(missing), brief(dups), brief(unexpected))
	}
}

// brief prints a list of numbers, shortened when long.
func brief(ns []int) string {
	if len(ns) <= 20 {
		return fmt.Sprint(ns)
	}
	return fmt.Sprintf("%d lines: %v ... %v", len(ns), ns[:10], ns[len(ns)-10:])
}

// otherLines returns the delivered lines that are not numbered.
func otherLines(lines []got) []got {
	var out []got
	for _, l := range lines {
		if seqOf(l.text) < 0 {
			out = append(out, l)
		}
	}
	return out
}

func seqRange(from, to int) []int {
	var out []int
	for n := from; n <= to; n++ {
		out = append(out, n)
	}
	return out
}

// newTestLogger logs text to w at debug level.
func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
