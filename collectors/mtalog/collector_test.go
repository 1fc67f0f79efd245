package mtalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/testwait"
)

// seqSink records the sequence numbers of "seq N" lines.
type seqSink struct {
	mu   sync.Mutex
	seqs []int
}

func (s *seqSink) HandleBatch(b *source.Batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range b.Lines {
		var n int
		if i := strings.Index(string(l.Text), "seq "); i >= 0 {
			fmt.Sscanf(string(l.Text[i+4:]), "%d", &n)
		}
		s.seqs = append(s.seqs, n)
	}
}

func (s *seqSink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seqs)
}

func (s *seqSink) wait(t *testing.T, n int) {
	t.Helper()
	testwait.For(t, 20*time.Second, fmt.Sprintf("%d lines", n), func() error {
		if got := s.len(); got < n {
			return fmt.Errorf("only %d of %d lines arrived", got, n)
		}
		return nil
	})
}

func settings(t *testing.T, reg prometheus.Registerer, stateDir string, clk clock.Clock) collectors.Settings {
	return collectors.Settings{Logger: slog.New(slog.DiscardHandler), Registerer: reg, StateDir: stateDir, Clock: clk}
}

func line(i int) string {
	return fmt.Sprintf("Nov 26 05:31:%02d mx postfix/smtpd[1]: seq %d\n", i%60, i)
}

// TestCollectorRestartMidStream stops the collector gracefully while a
// writer is appending, starts a new one on the same state directory while
// the writer goes on, and checks that every line arrives exactly once, in
// order, across the restart and a rename rotation after it. (A rotation
// while the agent is down loses the lines after the checkpoint: a known
// loss case, see internal/tail and TestCollectorRestartWithRotationWhileDown.)
func TestCollectorRestartMidStream(t *testing.T) {
	dir := t.TempDir()
	path, sink, start := followedLog(t, dir)
	const n = 3000
	writerDone := make(chan struct{})
	written := make(chan int, n)
	restarted := make(chan struct{})
	stop := start()
	go func() {
		defer close(writerDone)
		w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Error(err)
			return
		}
		for i := 1; i <= n; i++ {
			if i == 2500 { // rename rotation, as logrotate create does
				<-restarted
				w.Close()
				if err := os.Rename(path, path+".1"); err != nil {
					t.Error(err)
					return
				}
				if w, err = os.Create(path); err != nil {
					t.Error(err)
					return
				}
			}
			if _, err := w.WriteString(line(i)); err != nil {
				t.Error(err)
			}
			written <- i
		}
		w.Close()
	}()
	sink.wait(t, 500)
	stop() // mid-stream: the writer goes on
	// Let the writer get ahead while we are down.
	testwait.Until(20*time.Second, func() bool { return len(written) >= 1500 || chanClosed(writerDone) })
	stop = start()
	close(restarted)
	<-writerDone
	sink.wait(t, n)
	stop()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for i, s := range sink.seqs {
		if s != i+1 {
			t.Fatalf("line %d is seq %d: lost or repeated lines around the restart (%d lines in all)", i+1, s, len(sink.seqs))
		}
	}
	if len(sink.seqs) != n {
		t.Fatalf("%d lines, want %d", len(sink.seqs), n)
	}
}

// TestCollectorRestartWithRotationWhileDown is the restart test with the
// rotation while the collector is down: the writer appends through the
// stop, rename-rotates the file (logrotate create) before the restart and
// keeps appending to the new file while the collector starts again. The
// lines written to the old file after the final checkpoint are a documented
// loss (the rotated name is outside the paths), so a wait for all lines
// could never end; every line of the new file must arrive, once, in order,
// right after the lines delivered before the stop.
func TestCollectorRestartWithRotationWhileDown(t *testing.T) {
	dir := t.TempDir()
	path, sink, start := followedLog(t, dir)
	const (
		n        = 3000
		pause    = 1000 // the writer waits here until the collector is down
		rotateAt = 2500 // first line of the new file
		resumeAt = 2600 // the writer waits here until the collector runs again
	)
	stopped, restarted, rotated := make(chan struct{}), make(chan struct{}), make(chan struct{})
	writerDone := make(chan struct{})
	stop := start()
	go func() {
		defer close(writerDone)
		w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer func() { w.Close() }()
		for i := 1; i <= n; i++ {
			switch i {
			case pause:
				<-stopped
			case rotateAt:
				w.Close()
				if err := os.Rename(path, path+".1"); err != nil {
					t.Error(err)
					return
				}
				if w, err = os.Create(path); err != nil {
					t.Error(err)
					return
				}
			case resumeAt:
				close(rotated)
				<-restarted
			}
			if _, err := w.WriteString(line(i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	sink.wait(t, 500)
	stop() // mid-stream: the writer is at most at line pause-1
	close(stopped)
	delivered := sink.len()
	<-rotated
	stop = start()
	close(restarted)
	<-writerDone
	want := delivered + n - rotateAt + 1
	sink.wait(t, want)
	stop() // its final read would deliver anything still due
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for i, s := range sink.seqs {
		w := i + 1
		if i >= delivered {
			w = rotateAt + i - delivered
		}
		if s != w {
			t.Fatalf("line %d is seq %d, want %d: %d delivered before the stop, then the new file from seq %d (%d lines in all)",
				i+1, s, w, delivered, rotateAt, len(sink.seqs))
		}
	}
	if len(sink.seqs) != want {
		t.Fatalf("%d lines, want %d: lines %d..%d are the documented loss", len(sink.seqs), want, delivered+1, rotateAt-1)
	}
}

func chanClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestSourceMetrics(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	var text string
	for i := 1; i <= 3; i++ {
		text += line(i)
	}
	text += strings.Repeat("x", 200) + "\n" // oversize: truncated and counted
	if err := os.WriteFile(path, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Kind: "postfix", Timezone: "UTC", Sources: []SourceConfig{
		{Name: "maillog", File: &source.FileConfig{Paths: []string{path}, StartAt: "beginning", PollInterval: 10 * time.Millisecond, MaxLineBytes: 100}},
		{Name: "relay", Syslog: &source.SyslogConfig{UDP: "127.0.0.1:0"}},
	}}
	reg := prometheus.NewRegistry()
	sink := &seqSink{}
	c, err := newCollector(cfg, settings(t, reg, filepath.Join(dir, "state"), clock.Real{}), sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	sink.wait(t, 4)

	year := time.Now().Year()
	if time.Until(time.Date(year, 11, 26, 5, 31, 3, 0, time.UTC)) > 24*time.Hour {
		year--
	}
	last := time.Date(year, 11, 26, 5, 31, 3, 0, time.UTC).Unix()
	size := len(text)
	want := fmt.Sprintf(`
# HELP mailscope_mta_log_bytes_total Log bytes read by a source (files: with line terminators; syslog: frames; journald: JSON entries).
# TYPE mailscope_mta_log_bytes_total counter
mailscope_mta_log_bytes_total{mta="postfix",source="maillog"} %d
mailscope_mta_log_bytes_total{mta="postfix",source="relay"} 0
# HELP mailscope_mta_log_file_size_bytes Size of a followed log file at the follower's last poll.
# TYPE mailscope_mta_log_file_size_bytes gauge
mailscope_mta_log_file_size_bytes{mta="postfix",path="%[2]s",source="maillog"} %[1]d
# HELP mailscope_mta_log_last_line_timestamp_seconds Timestamp written in the last log line a source handed on (absent before the first).
# TYPE mailscope_mta_log_last_line_timestamp_seconds gauge
mailscope_mta_log_last_line_timestamp_seconds{mta="postfix",source="maillog"} %[3]d
# HELP mailscope_mta_log_lines_total Log lines read by a source and handed to the parser.
# TYPE mailscope_mta_log_lines_total counter
mailscope_mta_log_lines_total{mta="postfix",source="maillog"} 4
mailscope_mta_log_lines_total{mta="postfix",source="relay"} 0
# HELP mailscope_mta_log_offset_bytes Read position in a followed log file; file size minus offset is the lag.
# TYPE mailscope_mta_log_offset_bytes gauge
mailscope_mta_log_offset_bytes{mta="postfix",path="%[2]s",source="maillog"} %[1]d
# HELP mailscope_mta_log_oversize_lines_total Lines or messages longer than the source's bound, truncated or skipped.
# TYPE mailscope_mta_log_oversize_lines_total counter
mailscope_mta_log_oversize_lines_total{mta="postfix",source="maillog"} 1
mailscope_mta_log_oversize_lines_total{mta="postfix",source="relay"} 0
# HELP mailscope_mta_log_read_errors_total Errors reading a source, by reason.
# TYPE mailscope_mta_log_read_errors_total counter
mailscope_mta_log_read_errors_total{mta="postfix",reason="framing",source="relay"} 0
mailscope_mta_log_read_errors_total{mta="postfix",reason="io",source="maillog"} 0
mailscope_mta_log_read_errors_total{mta="postfix",reason="not_regular",source="maillog"} 0
mailscope_mta_log_read_errors_total{mta="postfix",reason="io",source="relay"} 0
mailscope_mta_log_read_errors_total{mta="postfix",reason="malformed",source="relay"} 0
mailscope_mta_log_read_errors_total{mta="postfix",reason="not_found",source="maillog"} 0
mailscope_mta_log_read_errors_total{mta="postfix",reason="permission",source="maillog"} 0
mailscope_mta_log_read_errors_total{mta="postfix",reason="stale",source="maillog"} 0
mailscope_mta_log_read_errors_total{mta="postfix",reason="state",source="maillog"} 0
mailscope_mta_log_read_errors_total{mta="postfix",reason="too_many_connections",source="relay"} 0
mailscope_mta_log_read_errors_total{mta="postfix",reason="too_many_from_address",source="relay"} 0
# HELP mailscope_mta_log_rotations_total Rotations of followed log files, by kind (rename, truncate, recreate).
# TYPE mailscope_mta_log_rotations_total counter
mailscope_mta_log_rotations_total{kind="recreate",mta="postfix",source="maillog"} 0
mailscope_mta_log_rotations_total{kind="rename",mta="postfix",source="maillog"} 0
mailscope_mta_log_rotations_total{kind="truncate",mta="postfix",source="maillog"} 0
`, size, path, last)
	// The offset reaches the size at the poll after the read; wait for it.
	testwait.For(t, 10*time.Second, "the source metrics", func() error {
		return testutil.GatherAndCompare(reg, strings.NewReader(want))
	})
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// flakySource fails its first runs, then runs until its context ends.
type flakySource struct {
	mu    sync.Mutex
	runs  int
	fails int
}

func (f *flakySource) Name() string { return "flaky" }

func (f *flakySource) Snapshot() source.Snapshot {
	return source.Snapshot{ReadErrors: map[string]int64{}}
}

func (f *flakySource) Run(ctx context.Context, _ source.Sink) error {
	f.mu.Lock()
	f.runs++
	fail := f.runs <= f.fails
	f.mu.Unlock()
	if fail {
		return errors.New("cannot bind")
	}
	<-ctx.Done()
	return nil
}

// TestFailedSourceRestartsWithBackoff steps a fake clock through a source's
// restarts: 1s, then 2s, and reports each failure.
func TestFailedSourceRestartsWithBackoff(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	flaky := &flakySource{fails: 2}
	var mu sync.Mutex
	var reports []collectors.RunResult
	s := settings(t, prometheus.NewRegistry(), t.TempDir(), clk)
	s.Report = func(r collectors.RunResult) { mu.Lock(); reports = append(reports, r); mu.Unlock() }
	c := &Collector{cfg: NewConfig(), s: s, sources: []source.Source{flaky}, serial: &serialSink{sink: &seqSink{}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	runs := func() int { flaky.mu.Lock(); defer flaky.mu.Unlock(); return flaky.runs }
	clk.BlockUntil(2) // the report timer and the first backoff
	if runs() != 1 {
		t.Fatalf("%d runs before any backoff", runs())
	}
	clk.Advance(999 * time.Millisecond)
	if runs() != 1 {
		t.Fatal("restarted before its backoff")
	}
	clk.Advance(time.Millisecond)
	clk.BlockUntil(2) // the second backoff, 2s
	if runs() != 2 {
		t.Fatalf("%d runs after the first backoff, want 2", runs())
	}
	clk.Advance(1999 * time.Millisecond)
	if runs() != 2 {
		t.Fatal("restarted before its doubled backoff")
	}
	clk.Advance(time.Millisecond)
	testwait.For(t, 10*time.Second, "the third run", func() error {
		if n := runs(); n != 3 {
			return fmt.Errorf("%d runs, want 3", n)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 2 || reports[0].Err == nil || !strings.Contains(reports[0].Err.Error(), "cannot bind") || reports[0].Summary != "flaky: 0 lines" {
		t.Fatalf("reports %+v, want the two failures", reports)
	}
}

// followedLog makes an empty mail.log in dir and returns it, the sink its
// lines reach, and start: it runs an mta collector following the file
// (state in dir/state), waits until the file is open and returns stop.
func followedLog(t *testing.T, dir string) (path string, sink *seqSink, start func() (stop func())) {
	t.Helper()
	path = filepath.Join(dir, "mail.log")
	if err := os.WriteFile(path, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Kind: "postfix", Sources: []SourceConfig{{Name: "maillog", File: &source.FileConfig{Paths: []string{path}, PollInterval: 10 * time.Millisecond, RotateWait: time.Hour}}}}
	sink = &seqSink{}
	start = func() (stop func()) {
		c, err := newCollector(cfg, settings(t, prometheus.NewRegistry(), filepath.Join(dir, "state"), clock.Real{}), sink)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		// The first start begins at the end: wait until the file is open.
		testwait.For(t, 10*time.Second, "the file to be opened", func() error {
			if len(c.Sources()[0].Snapshot().Files) == 0 {
				return errors.New("no file open")
			}
			return nil
		})
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	}
	return path, sink, start
}

// erringSource runs until its context ends, with read errors a test sets.
type erringSource struct {
	mu      sync.Mutex
	errs    map[string]int64
	failing []string
}

func (e *erringSource) Name() string { return "maillog" }

func (e *erringSource) Snapshot() source.Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return source.Snapshot{ReadErrors: maps.Clone(e.errs), Failing: slices.Clone(e.failing)}
}

func (e *erringSource) Run(ctx context.Context, _ source.Sink) error {
	<-ctx.Done()
	return nil
}

func (e *erringSource) set(reason string, n int64) {
	e.mu.Lock()
	e.errs[reason] = n
	e.mu.Unlock()
}

// TestFailingSourceIsAFailedRun: a source that keeps failing to read (a
// file it cannot read, a checkpoint it cannot save) without stopping makes
// the period a failed run, so mailscope_collector_up drops to 0; bad input
// (malformed syslog) does not.
func TestFailingSourceIsAFailedRun(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	src := &erringSource{errs: map[string]int64{"io": 0, "state": 0, "malformed": 0}}
	var mu sync.Mutex
	var reports []collectors.RunResult
	s := settings(t, prometheus.NewRegistry(), t.TempDir(), clk)
	s.Report = func(r collectors.RunResult) { mu.Lock(); reports = append(reports, r); mu.Unlock() }
	c := &Collector{cfg: NewConfig(), s: s, sources: []source.Source{src}, serial: &serialSink{sink: &seqSink{}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	last := func(n int) collectors.RunResult {
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			got := len(reports)
			var r collectors.RunResult
			if got >= n {
				r = reports[n-1]
			}
			mu.Unlock()
			if got >= n {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d reports, want %d", got, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	clk.BlockUntil(1) // the report loop has its baseline
	src.set("io", 4)
	src.set("state", 1)
	clk.Advance(time.Minute)
	if r := last(1); r.Err == nil || !strings.Contains(r.Err.Error(), "source maillog: 5 read errors") {
		t.Errorf("a period with read errors: %+v", r)
	}
	clk.BlockUntil(1)
	src.set("malformed", 7)
	clk.Advance(time.Minute)
	if r := last(2); r.Err != nil {
		t.Errorf("a period without new failures (bad input only): %v", r.Err)
	}
	// A path that stays unusable (a directory now) fails every period.
	clk.BlockUntil(1)
	src.mu.Lock()
	src.failing = []string{"/var/log/mail.log: not a regular file"}
	src.mu.Unlock()
	clk.Advance(time.Minute)
	if r := last(3); r.Err == nil || !strings.Contains(r.Err.Error(), "source maillog: /var/log/mail.log: not a regular file") {
		t.Errorf("a period with a failing path: %+v", r)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
