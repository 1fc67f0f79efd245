package tail

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
)

// TestLogrotateIntegration rotates a file that a writer appends to at a high
// rate with the real logrotate binary, many times, in create and
// copytruncate modes, while a Follower (real clock, inotify) reads it.
// create: every line exactly once. copytruncate: no duplicates, and the
// lines lost in the copy-to-truncate window are measured and reported.
func TestLogrotateIntegration(t *testing.T) {
	bin, err := exec.LookPath("logrotate")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("logrotate is not installed but CI=true: install the Debian package logrotate")
		}
		t.Skip("logrotate is not installed (Debian package logrotate); skipping the rotation integration test")
	}
	for _, tc := range []struct {
		mode    string
		polling bool
	}{
		{"create", false},
		{"copytruncate", false},
		{"create", true},
		{"copytruncate", true},
	} {
		name := tc.mode + "/inotify"
		if tc.polling {
			name = tc.mode + "/polling"
		}
		t.Run(name, func(t *testing.T) { runLogrotate(t, bin, tc.mode, tc.polling) })
	}
}

const (
	logrotateRuns  = 25
	linesPerTick   = 20 // one write(2) per line, as syslog does
	writerInterval = time.Millisecond
)

func runLogrotate(t *testing.T, bin, mode string, polling bool) {
	// Polling sees a generation only if it stays under the path for a
	// poll: rotate much less often than that (the documented loss of a
	// generation rotated away between two polls is not what this measures).
	pollEvery, rotateEvery := 50*time.Millisecond, 40*time.Millisecond
	if polling {
		pollEvery, rotateEvery = 10*time.Millisecond, 100*time.Millisecond
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	conf := filepath.Join(dir, "logrotate.conf")
	state := filepath.Join(dir, "logrotate.state")
	body := fmt.Sprintf("%s {\n  rotate 1000\n  %s\n  missingok\n  nocompress\n}\n", logPath, mode)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var lines []got
	fl, err := New(Config{
		Paths:           []string{logPath},
		StartAt:         Beginning,
		PollInterval:    pollEvery,
		RotateWait:      2 * time.Second,
		DisableFSNotify: polling,
		Logger:          newTestLogger(discard{}),
	}, func(batch []Line) {
		mu.Lock()
		for _, l := range batch {
			lines = append(lines, got{path: l.Path, file: l.File, text: string(l.Bytes), flags: l.Flags})
		}
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- fl.Run(ctx) }()
	defer func() {
		cancel()
		<-runErr
	}()

	// The writer appends numbered lines; on a signal it reopens the path,
	// a little later, as a daemon does after logrotate's postrotate HUP.
	reopen := make(chan struct{}, 1)
	stop := make(chan struct{})
	written := make(chan int)
	go func() {
		seq := 0
		tick := time.NewTicker(writerInterval)
		defer tick.Stop()
		pendingReopen := -1
		for {
			select {
			case <-stop:
				w.Close()
				written <- seq
				return
			case <-reopen:
				pendingReopen = linesPerTick * 3 // late writes to the renamed file first
			case <-tick.C:
			}
			for range linesPerTick {
				seq++
				fmt.Fprintf(w, "seq %06d %s\n", seq, strings.Repeat("r", seq%41))
				if pendingReopen > 0 {
					pendingReopen--
				} else if pendingReopen == 0 {
					pendingReopen = -1
					w.Close()
					if w, err = os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
						panic(err)
					}
				}
			}
		}
	}()

	pause := time.NewTicker(rotateEvery)
	for range logrotateRuns {
		<-pause.C
		out, err := exec.Command(bin, "-f", "-s", state, conf).CombinedOutput()
		if err != nil {
			t.Fatalf("logrotate: %v\n%s", err, out)
		}
		if mode == "create" {
			reopen <- struct{}{}
		}
	}
	<-pause.C
	pause.Stop()
	close(stop)
	last := <-written

	// Wait (bounded) for the follower to reach the last line, then stop it
	// gracefully; the final read drains everything still open.
	// Not reaching it is no failure here: copytruncate may lose it, and
	// the checks below tell the loss cases apart.
	testwait.Until(20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(lines) > 0 && seqOf(lines[len(lines)-1].text) == last
	})
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	runErr <- nil // for the deferred cleanup

	mu.Lock()
	defer mu.Unlock()
	st := fl.Stats()
	t.Logf("%s: %d lines written, %d delivered, %d logrotate runs; rotations rename=%d truncate=%d recreate=%d",
		mode, last, len(lines), logrotateRuns, st.Rotations(RotationRename), st.Rotations(RotationTruncate), st.Rotations(RotationRecreate))
	if st.CopyRecoveries.Load() > 0 {
		t.Logf("%s: %d truncations had their unread tail read from logrotate's copy", mode, st.CopyRecoveries.Load())
	}
	if mode == "create" {
		checkSeq(t, lines, last, nil)
		// Every line is the contract (checkSeq above). The rotation count
		// is a cross-check with a little slack: on a loaded machine the
		// writer may not have reopened before the next logrotate run, so a
		// generation that never held a line can be renamed away unseen
		// (one fewer), and a reopen racing a rename can be counted once
		// more; a follower that misses rotations wholesale still fails.
		if n := st.Rotations(RotationRename); n < logrotateRuns-2 || n > logrotateRuns+1 {
			t.Errorf("rename rotations = %d, want %d (-2/+1)", n, logrotateRuns)
		}
		return
	}
	reportCopytruncateLoss(t, dir, lines, last)
}

// reportCopytruncateLoss asserts no line was delivered twice and reports
// the lost lines: those still found in a rotated copy (written after the
// follower's last read, before the truncation) and those in no file at all
// (written between logrotate's copy and its truncate).
func reportCopytruncateLoss(t *testing.T, dir string, lines []got, last int) {
	count := make(map[int]int)
	for _, l := range lines {
		count[seqOf(l.text)]++
	}
	inCopies := make(map[int]bool)
	copies, _ := filepath.Glob(filepath.Join(dir, "app.log.*"))
	for _, c := range copies {
		data, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		for l := range bytes.Lines(data) {
			inCopies[seqOf(string(l))] = true
		}
	}
	var dups, lostInCopy, lostEverywhere []int
	for n := 1; n <= last; n++ {
		switch {
		case count[n] > 1:
			dups = append(dups, n)
		case count[n] == 1:
		case inCopies[n]:
			lostInCopy = append(lostInCopy, n)
		default:
			lostEverywhere = append(lostEverywhere, n)
		}
	}
	t.Logf("copytruncate: %d of %d lines lost (%.3f%%): %d only in a rotated copy (written after the follower's last read "+
		"before the truncation), %d in no file at all (written between logrotate's copy and its truncate)",
		len(lostInCopy)+len(lostEverywhere), last, 100*float64(len(lostInCopy)+len(lostEverywhere))/float64(last),
		len(lostInCopy), len(lostEverywhere))
	if len(dups) > 0 {
		t.Errorf("copytruncate: %d lines delivered more than once: %v", len(dups), dups[:min(len(dups), 20)])
	}
	fragments := 0
	for _, l := range lines {
		if l.flags&Unterminated != 0 {
			fragments++
		}
	}
	t.Logf("copytruncate: %d partial lines delivered unterminated because the file was truncated under them", fragments)
}
