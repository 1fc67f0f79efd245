package tail

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
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
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			have := len(lines)
			mu.Unlock()
			if have >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d of %d lines arrived without a poll: notifications not working", have, n)
			}
			time.Sleep(5 * time.Millisecond) // polling a condition, with a deadline
		}
	}
	// Wait until the follower has opened the file (StartAt End), then write.
	for deadline := time.Now().Add(10 * time.Second); len(fl.Stats().Files()) == 0 || fl.Stats().Files()[0].Err != ""; {
		if time.Now().After(deadline) {
			t.Fatal("follower never opened the file")
		}
		time.Sleep(5 * time.Millisecond)
	}
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

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after Run returned:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
