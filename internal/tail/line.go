package tail

import (
	"fmt"
	"time"
)

// FileID is a file's identity on disk: its device and inode numbers. It
// survives renames and is what the follower keys open files and checkpoints
// by; a fingerprint of the first bytes guards against the inode number being
// reused by a new file.
type FileID struct {
	Dev uint64
	Ino uint64
}

// IsZero reports whether id is unset.
func (id FileID) IsZero() bool { return id == FileID{} }

// String formats id as dev:inode for logs.
func (id FileID) String() string { return fmt.Sprintf("%d:%d", id.Dev, id.Ino) }

// LineFlags says how a delivered line differs from a plain complete line.
type LineFlags uint8

const (
	// Truncated marks a line cut to Config.MaxLineBytes; the rest of it was
	// discarded.
	Truncated LineFlags = 1 << iota
	// Unterminated marks a line delivered without its '\n': flushed after
	// Config.PartialLineTimeout, or because its file closed.
	Unterminated
)

// Line is one line of a followed file, without its line terminator.
type Line struct {
	// Path is the name the file was last seen under.
	Path string
	// File is the file's identity.
	File FileID
	// Offset is the file offset of the line's first byte.
	Offset int64
	// Bytes is the line's content, valid only until the Handler returns:
	// the follower reuses the memory. Copy what must outlive the call.
	Bytes []byte
	// Flags marks truncated and unterminated lines.
	Flags LineFlags
}

// Handler receives lines in batches, in file order within each file. It runs
// on the follower's goroutine: while it runs, nothing is read, and its
// return is what makes a line count as delivered for checkpoints. The batch
// slice and every Line.Bytes in it are reused after it returns.
type Handler func(batch []Line)

// Clock tells the follower the time; tests inject a clock they advance by
// hand. The follower measures RotateWait, PartialLineTimeout, retry backoff
// and CheckpointInterval with it.
type Clock interface {
	Now() time.Time
}

// Waker tells the follower when to poll next. Wake is called once before
// each wait and returns a channel that becomes ready (receives or closes)
// when the next poll is due. Tests inject a waker that steps one poll at a
// time; the default fires every Config.PollInterval.
type Waker interface {
	Wake() <-chan struct{}
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// timerWaker fires PollInterval after the first Wake of a round. Wakes from
// fsnotify in between reuse the pending channel, so there is at most one
// timer at a time however often files change.
type timerWaker struct {
	d time.Duration
	t *time.Timer
	c chan struct{}
}

func (w *timerWaker) Wake() <-chan struct{} {
	if w.c != nil {
		select {
		case <-w.c:
		default:
			return w.c
		}
	}
	c := make(chan struct{})
	w.c = c
	w.t = time.AfterFunc(w.d, func() { close(c) })
	return c
}

func (w *timerWaker) stop() {
	if w.t != nil {
		w.t.Stop()
	}
}
