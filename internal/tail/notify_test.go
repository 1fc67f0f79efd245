package tail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
)

// TestInotifyWakesFollower sets a poll interval of an hour, so lines can only
// arrive through change notifications, across a rename rotation; then it
// checks that Run leaves no goroutine behind (goleak is not a dependency of
// this module, so the check counts goroutines).
func TestInotifyWakesFollower(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("this test counts on inotify's per-write events; other fsnotify backends differ")
	}
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []got
	fl, err := New(Config{Paths: []string{path}, PollInterval: time.Hour, RotateWait: time.Hour},
		func(batch []Line) {
			mu.Lock()
			for _, l := range batch {
				lines = append(lines, got{file: l.File, text: string(l.Bytes)})
			}
			mu.Unlock()
		})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fl.Run(ctx) }()

	waitFor := func(n int) {
		t.Helper()
		testwait.For(t, 10*time.Second, fmt.Sprintf("%d lines without a poll", n), func() error {
			mu.Lock()
			have := len(lines)
			mu.Unlock()
			if have < n {
				return fmt.Errorf("only %d of %d lines arrived: notifications not working", have, n)
			}
			return nil
		})
	}
	// Wait until the follower has opened the file (StartAt End), then write.
	testwait.For(t, 10*time.Second, "the follower to open the file", func() error {
		files := fl.Stats().Files()
		if len(files) == 0 {
			return errors.New("no file open")
		}
		if files[0].Err != "" {
			return errors.New(files[0].Err)
		}
		return nil
	})
	w.WriteString("seq 000001 a\nseq 000002 b\n")
	waitFor(2)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w.WriteString("seq 000003 late\n")
	w2, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w2.WriteString("seq 000004 new\n")
	waitFor(4)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.Close()
	w2.Close()
	mu.Lock()
	checkSeq(t, lines, 4, nil)
	mu.Unlock()

	testwait.For(t, 5*time.Second, "Run's goroutines to end", func() error {
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			return fmt.Errorf("goroutines: %d before, %d after Run returned:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
		return nil
	})
}
