package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/config"
)

func TestFileConfigValidate(t *testing.T) {
	c := FileConfig{Paths: []string{"", "relative.log", "/var/log/[mail.log"}, StartAt: "middle", LongLines: "wrap", RotateWait: -time.Second, MaxLineBytes: -1}
	err := c.Validate()
	ps, ok := err.(config.Problems)
	if !ok {
		t.Fatalf("Validate returned %T %v, want config.Problems", err, err)
	}
	want := []string{
		"paths[0]: empty path",
		`paths[1]: "relative.log" is not an absolute path`,
		`paths[2]: "/var/log/[mail.log" is not a valid glob: syntax error in pattern`,
		`start_at: must be end or beginning, got "middle"`,
		`long_lines: must be truncate or skip, got "wrap"`,
		"rotate_wait: must not be negative, got -1s",
		"max_line_bytes: must not be negative, got -1",
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems:\n%v", len(ps), err)
	}
	for i := range want {
		if ps[i].Error() != want[i] {
			t.Errorf("problem %d: %q, want %q", i, ps[i].Error(), want[i])
		}
	}
	if err := (&FileConfig{Paths: []string{"/var/log/mail.log"}}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestFileSourceResume follows a file, stops, starts again on the same state
// directory, and checks that the lines come once each with their times,
// that counters keep counting across runs, and that the file's position
// is reported.
func TestFileSourceResume(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	write := func(from, to int) {
		for i := from; i <= to; i++ {
			fmt.Fprintf(w, "Nov 26 05:31:%02d mx postfix/smtpd[1]: seq %06d\n", i%60, i)
		}
	}
	write(1, 10)
	src := NewFile("maillog", FileConfig{Paths: []string{path}, StartAt: "beginning", PollInterval: 10 * time.Millisecond},
		Options{StateDir: filepath.Join(dir, "state"), Location: time.UTC})
	sink := &recordSink{}
	run := func() func() { return runSource(t, src, sink) }
	stop := run()
	waitLines(t, sink, 10)
	snap := src.Snapshot()
	if len(snap.Files) != 1 || snap.Files[0].Path != path || snap.Files[0].Offset != snap.Files[0].Size {
		t.Errorf("files %+v, want %s read to its end", snap.Files, path)
	}
	stop()
	write(11, 20) // while stopped
	stop = run()
	waitLines(t, sink, 20)
	write(21, 30)
	waitLines(t, sink, 30)
	stop()

	checkNumbered(t, sink.texts(), 30)
	if !sink.names["maillog"] || len(sink.names) != 1 {
		t.Errorf("batch sources %v, want maillog", sink.names)
	}
	st, _ := os.Stat(path)
	snap = src.Snapshot()
	if snap.Lines != 30 || snap.Bytes != st.Size() {
		t.Errorf("snapshot lines %d bytes %d, want 30 and %d", snap.Lines, snap.Bytes, st.Size())
	}
	if len(snap.Files) != 0 {
		t.Errorf("files %+v after stop, want none", snap.Files)
	}
	year := time.Now().Year()
	if time.Until(time.Date(year, 11, 26, 5, 31, 30, 0, time.UTC)) > 24*time.Hour {
		year--
	}
	if want := time.Date(year, 11, 26, 5, 31, 30, 0, time.UTC); !snap.LastLineTime.Equal(want) {
		t.Errorf("last line time %v, want %v", snap.LastLineTime, want)
	}
	if sink.lines[0].Time.Second() != 1 || sink.lines[0].Time.Location() != time.UTC {
		t.Errorf("first line time %v", sink.lines[0].Time)
	}
	for _, k := range []string{"rename", "truncate", "recreate"} {
		if _, ok := snap.Rotations[k]; !ok {
			t.Errorf("rotation kind %s missing from %v", k, snap.Rotations)
		}
	}
}

// TestFileSourceCountsFailedCheckpointSaves: a checkpoint that cannot be
// saved (the state directory replaced by a file) is counted as a read
// error with reason "state", as journald counts a cursor it cannot save.
func TestFileSourceCountsFailedCheckpointSaves(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(path, []byte("Nov 26 05:31:01 mx postfix/smtpd[1]: seq 000001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	src := NewFile("maillog", FileConfig{Paths: []string{path}, StartAt: "beginning", PollInterval: 10 * time.Millisecond, CheckpointInterval: time.Second},
		Options{StateDir: state, Location: time.UTC})
	sink := &recordSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	waitLines(t, sink, 1)
	if err := os.RemoveAll(state); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "Nov 26 05:31:02 mx postfix/smtpd[1]: seq 000002\n")
	f.Close()
	waitLines(t, sink, 2)
	deadline := time.Now().Add(10 * time.Second)
	for src.Snapshot().ReadErrors["state"] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the failed checkpoint saves were not counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if Failures(src.Snapshot()) == 0 {
		t.Error("a failed checkpoint save is not a failure of the source")
	}
	cancel()
	<-done // the final save fails too; Run says so
}

// TestFileSourceReportsPathsThatAreNotFiles: a followed path replaced by
// a directory or a FIFO is counted (reason "not_regular") and listed as
// failing, not only warned about.
func TestFileSourceReportsPathsThatAreNotFiles(t *testing.T) {
	for name, replace := range map[string]func(string) error{
		"directory": func(p string) error { return os.Mkdir(p, 0o700) },
		"fifo":      func(p string) error { return syscall.Mkfifo(p, 0o600) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "mail.log")
			if err := os.WriteFile(path, []byte("Nov 26 05:31:01 mx postfix/smtpd[1]: seq 000001\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			src := NewFile("maillog", FileConfig{Paths: []string{path}, StartAt: "beginning", PollInterval: 10 * time.Millisecond},
				Options{Location: time.UTC})
			sink := &recordSink{}
			defer runSource(t, src, sink)()
			waitLines(t, sink, 1)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := replace(path); err != nil {
				t.Fatal(err)
			}
			// The counter is added to when the follower sees the path,
			// the failing list when it next publishes its per-file
			// state: wait for both.
			deadline := time.Now().Add(10 * time.Second)
			snap := src.Snapshot()
			for snap.ReadErrors["not_regular"] == 0 || len(snap.Failing) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("the path turned into a %s was not counted and listed: errors %v, failing %q", name, snap.ReadErrors, snap.Failing)
				}
				time.Sleep(10 * time.Millisecond)
				snap = src.Snapshot()
			}
			if len(snap.Failing) != 1 || snap.Failing[0] != path+": not a regular file" || Failures(snap) == 0 {
				t.Errorf("failing %q, failures %d", snap.Failing, Failures(snap))
			}
		})
	}
}
