package tail

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// notifier turns change events in the followed directories into wakeups.
// It only says "something changed": every wakeup runs a full poll, which
// re-checks every path and file, so lost, coalesced or overflowed events
// cost latency, never lines. Directories are watched rather than files so
// that creations and renames of the followed names are seen too.
type notifier struct {
	w    *fsnotify.Watcher
	log  *slog.Logger
	dirs map[string]bool
	wg   sync.WaitGroup
}

// startNotifier starts watching nothing yet; watch adds directories. It
// fails where fsnotify has no backend, and the follower then polls only.
func startNotifier(log *slog.Logger, wake chan<- struct{}) (*notifier, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("fsnotify: %w", err)
	}
	n := &notifier{w: w, log: log, dirs: make(map[string]bool)}
	n.wg.Go(func() {
		signal := func() {
			select {
			case wake <- struct{}{}:
			default: // a wakeup is already pending
			}
		}
		// Both channels are drained until fsnotify closes them on Close,
		// so its reader never blocks on us.
		events, errs := w.Events, w.Errors
		for events != nil || errs != nil {
			select {
			case _, ok := <-events:
				if !ok {
					events = nil
					continue
				}
				signal()
			case err, ok := <-errs:
				if !ok {
					errs = nil
					continue
				}
				// An overflow means events were dropped: a poll rescans
				// everything, so it is a wakeup like any other.
				if !errors.Is(err, fsnotify.ErrEventOverflow) {
					log.Debug("file change notification error", "err", err)
				}
				signal()
			}
		}
	})
	return n, nil
}

// watch adds dir to the watch list. A directory that cannot be watched yet
// (it does not exist) is tried again on the next poll.
func (n *notifier) watch(dir string) {
	if n == nil || n.dirs[dir] {
		return
	}
	if err := n.w.Add(dir); err != nil {
		n.log.Debug("cannot watch directory, relying on polling", "dir", dir, "err", err)
		return
	}
	n.dirs[dir] = true
}

func (n *notifier) close() {
	if err := n.w.Close(); err != nil {
		n.log.Debug("closing file change notifications", "err", err)
	}
	n.wg.Wait()
}
