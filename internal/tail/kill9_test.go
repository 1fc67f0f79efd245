package tail

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKill9RereadsAtMostOneInterval runs a follower in a child process (this
// test binary, re-executed), SIGKILLs it mid-stream, resumes from its
// checkpoint in this process, and asserts that nothing is lost and that the
// only lines read twice are ones the child delivered after its last
// checkpoint save.
func TestKill9RereadsAtMostOneInterval(t *testing.T) {
	if os.Getenv("TAIL_KILL9_CHILD") != "" {
		kill9Child()
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	h := newHarness(t, Config{StartAt: Beginning})
	logPath, stateDir := h.path("app.log"), t.TempDir()
	h.cfg.Paths = []string{logPath}
	h.cfg.StateDir, h.cfg.Name = stateDir, "kill9"
	w := h.create("app.log")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKill9RereadsAtMostOneInterval$")
	cmd.Env = append(os.Environ(), "TAIL_KILL9_CHILD=1", "TAIL_KILL9_LOG="+logPath, "TAIL_KILL9_STATE="+stateDir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// The child prints "L <n>" per delivered line and "S" before the first
	// batch after each checkpoint save.
	var (
		mu        sync.Mutex
		child     []int
		lastSave  = -1 // index into child of the first line after the last save
		saves     int
		readDone  = make(chan struct{})
		killReady = make(chan struct{})
	)
	go func() {
		defer close(readDone)
		r := bufio.NewReader(out)
		signalled := false
		for {
			s, err := r.ReadString('\n')
			if err != nil {
				return // EOF after the kill; a torn last line is dropped
			}
			mu.Lock()
			switch {
			case s == "S\n":
				saves++
				lastSave = len(child)
			case strings.HasPrefix(s, "L "):
				n, _ := strconv.Atoi(strings.TrimSpace(s[2:]))
				child = append(child, n)
			}
			if !signalled && saves >= 3 && len(child) >= 2000 {
				signalled = true
				close(killReady)
			}
			mu.Unlock()
		}
	}()

	// Write steadily until the child has delivered enough and saved a few
	// checkpoints, then kill it in the middle of the stream.
	seq := 0
	writeBatch := func() {
		var b strings.Builder
		for range 50 {
			seq++
			fmt.Fprintf(&b, "seq %06d %s\n", seq, strings.Repeat("k", seq%29))
		}
		h.write(w, b.String())
	}
	pace := time.NewTicker(time.Millisecond)
	defer pace.Stop()
write:
	for {
		select {
		case <-killReady:
			break write
		case <-ctx.Done():
			t.Fatal("child delivered too little before the deadline")
		case <-pace.C:
			writeBatch()
		}
	}
	writeBatch() // in flight at the kill
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-readDone
	_ = cmd.Wait()
	writeBatch() // while down
	h.seq = seq

	h.start()
	h.step()
	h.stop()

	mu.Lock()
	defer mu.Unlock()
	if lastSave < 0 {
		t.Fatal("child never reported a checkpoint save")
	}
	mayRepeat := make(map[int]bool)
	for _, n := range child[lastSave:] {
		mayRepeat[n] = true
	}
	inChild := make(map[int]bool)
	for _, n := range child {
		inChild[n] = true
	}
	got := make(map[int]int)
	for _, n := range child {
		got[n]++
	}
	repeated := 0
	for _, l := range h.delivered() {
		n := seqOf(l.text)
		got[n]++
		if inChild[n] {
			repeated++
			if !mayRepeat[n] {
				t.Errorf("line %d re-read although delivered before the last checkpoint", n)
			}
		}
	}
	for n := 1; n <= seq; n++ {
		if got[n] == 0 {
			t.Errorf("line %d lost", n)
		}
	}
	t.Logf("child delivered %d lines and saved %d checkpoints; after its last reported save it delivered %d; the restart re-read %d",
		len(child), saves, len(child)-lastSave, repeated)
}

// kill9Child follows TAIL_KILL9_LOG until it is killed.
func kill9Child() {
	out := bufio.NewWriter(os.Stdout)
	var fl *Follower
	var saves int64
	fl, err := New(Config{
		Paths:              []string{os.Getenv("TAIL_KILL9_LOG")},
		StartAt:            Beginning,
		StateDir:           os.Getenv("TAIL_KILL9_STATE"),
		Name:               "kill9",
		PollInterval:       5 * time.Millisecond,
		CheckpointInterval: 30 * time.Millisecond,
	}, func(batch []Line) {
		// Saves happen on this goroutine between batches, so a save seen
		// here precedes every line of this batch.
		if s := fl.Stats().CheckpointSaves.Load(); s != saves {
			saves = s
			out.WriteString("S\n")
		}
		for _, l := range batch {
			fmt.Fprintf(out, "L %d\n", seqOf(string(l.Bytes)))
		}
		out.Flush()
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	_ = fl.Run(ctx)
}
