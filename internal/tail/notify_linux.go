package tail

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// inotifyMask is every change that can mean new lines or a rotation in a
// watched directory.
const inotifyMask = syscall.IN_MODIFY | syscall.IN_ATTRIB | syscall.IN_CLOSE_WRITE |
	syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO |
	syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF

// notifier turns inotify events in the followed directories into wakeups.
// It only says "something changed": every wakeup runs a full poll, which
// re-checks every path and file, so lost, coalesced or overflowed events
// cost latency, never lines. It uses the syscall package directly (the
// events are not parsed, so fsnotify would add nothing but a dependency).
type notifier struct {
	fd   int
	f    *os.File // owns fd; non-blocking, so Close wakes the reader
	log  *slog.Logger
	dirs map[string]bool
	wg   sync.WaitGroup
}

func startNotifier(log *slog.Logger, wake chan<- struct{}) (*notifier, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	n := &notifier{fd: fd, f: os.NewFile(uintptr(fd), "inotify"), log: log, dirs: make(map[string]bool)}
	n.wg.Go(func() {
		buf := make([]byte, 64*(syscall.SizeofInotifyEvent+syscall.NAME_MAX+1))
		for {
			if _, err := n.f.Read(buf); err != nil {
				return // closed
			}
			select {
			case wake <- struct{}{}:
			default: // a wakeup is already pending
			}
		}
	})
	return n, nil
}

// watch adds dir to the watch list. A directory that cannot be watched yet
// (it does not exist) is tried again on the next poll.
func (n *notifier) watch(dir string) {
	if n.dirs[dir] {
		return
	}
	if _, err := syscall.InotifyAddWatch(n.fd, dir, inotifyMask); err != nil {
		n.log.Debug("cannot watch directory, relying on polling", "dir", dir, "err", err)
		return
	}
	n.dirs[dir] = true
}

func (n *notifier) close() {
	n.f.Close()
	n.wg.Wait()
}
