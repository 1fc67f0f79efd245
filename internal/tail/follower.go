package tail

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// tailWindow is how far back from a file's end StartAt End looks for the
// last newline, so a first start begins at a line boundary.
const tailWindow = 64 << 10

// Follower follows the files named by Config.Paths and hands their lines to
// a Handler. Create it with New and run it with Run; a Follower runs once.
type Follower struct {
	cfg     Config
	handler Handler
	log     *slog.Logger
	clock   Clock
	stats   Stats

	files   map[FileID]*trackedFile
	paths   map[string]*pathState
	seen    map[FileID]bool
	pathBuf []string
	order   []*trackedFile
	batch   []Line
	scratch []byte
	polls   int

	ckpt checkpointState

	notify chan struct{}
	// open opens a path for reading; tests replace it to simulate errors
	// that root cannot provoke with chmod.
	open func(string) (*os.File, error)
	// crash makes Run return without its final read and checkpoint, as
	// if the process had been killed; for tests.
	crash   bool
	started atomic.Bool
}

// pathState is what the follower knows about one path across polls.
type pathState struct {
	literal     bool   // named in Config.Paths, not found by a glob
	id          FileID // the file the path named at its last successful stat
	hadFile     bool   // id is set
	gone        bool   // the file id was closed after leaving the path
	goneDeleted bool   // and it had been deleted
	missing     bool   // the last stat found nothing
	failing     bool   // the last stat or open failed for another reason
	err         string
	backoff     time.Duration
	nextTry     time.Time
}

// New returns a Follower for cfg that delivers lines to handler. It checks
// cfg but touches no file until Run.
func New(cfg Config, handler Handler) (*Follower, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tail config: %w", err)
	}
	if handler == nil {
		return nil, errors.New("tail: nil handler")
	}
	cfg = cfg.withDefaults()
	return &Follower{
		cfg:     cfg,
		handler: handler,
		log:     cfg.Logger,
		clock:   cfg.Clock,
		files:   make(map[FileID]*trackedFile),
		paths:   make(map[string]*pathState),
		seen:    make(map[FileID]bool),
		scratch: make([]byte, max(cfg.FingerprintBytes, tailWindow)),
		ckpt:    checkpointState{resume: make(map[FileID]checkpointEntry)},
		notify:  make(chan struct{}, 1),
		open:    os.Open,
	}, nil
}

// Stats returns the follower's self-statistics; the pointer stays valid and
// its counters keep counting for the follower's life.
func (fl *Follower) Stats() *Stats { return &fl.stats }

// Run follows the files until ctx ends. Then it reads what is left, delivers
// the partial lines of rotated files, saves a checkpoint and returns. It
// does not give up on files it cannot open: it retries them with backoff
// and reports them through Stats. It returns an error only if it was run
// twice or the final checkpoint could not be saved.
func (fl *Follower) Run(ctx context.Context) error {
	if !fl.started.CompareAndSwap(false, true) {
		return errors.New("tail: follower already run")
	}
	fl.loadCheckpoint()

	waker := fl.cfg.Waker
	if waker == nil {
		tw := &timerWaker{d: fl.cfg.PollInterval}
		defer tw.stop()
		waker = tw
	}
	var nt *notifier
	if !fl.cfg.DisableFSNotify {
		var err error
		if nt, err = startNotifier(fl.log, fl.notify); err != nil {
			fl.log.Warn("file change notifications unavailable, polling only",
				"err", err, "poll_interval_seconds", fl.cfg.PollInterval.Seconds())
		} else {
			defer nt.close()
		}
	}

	for {
		now := fl.clock.Now()
		more := fl.poll(now, nt)
		fl.maybeCheckpoint(now)
		if more {
			select {
			case <-ctx.Done():
				return fl.shutdown(nt)
			default:
				continue
			}
		}
		select {
		case <-ctx.Done():
			return fl.shutdown(nt)
		case <-waker.Wake():
		case <-fl.notify:
		}
	}
}

// shutdown reads what the files hold now, drops the rotated ones (with
// their partial lines), keeps the partial lines of live files out of the
// checkpoint so the next run reads them whole, and saves the checkpoint.
func (fl *Follower) shutdown(nt *notifier) error {
	if fl.crash {
		for _, tf := range fl.files {
			tf.f.Close()
		}
		return nil
	}
	now := fl.clock.Now()
	for fl.poll(now, nt) {
	}
	err := fl.saveCheckpoint(now)
	for _, tf := range fl.sortedFiles() {
		fl.closeFile(tf, !tf.live)
	}
	return err
}

// poll runs one cycle: find the paths, match them to open files, notice
// rotations, read every open file, and drop rotated files whose grace
// period ended. It reports whether a file has more to read at once.
func (fl *Follower) poll(now time.Time, nt *notifier) (more bool) {
	clear(fl.seen)
	paths := fl.expand()
	for _, p := range paths {
		fl.checkPath(p, now, nt)
	}
	for id, tf := range fl.files {
		switch {
		case fl.seen[id]:
			tf.live = true
		case tf.live:
			tf.live = false
			tf.orphanedAt = now
			fl.log.Debug("file left its path, draining it",
				"path", tf.path, "file", id.String(), "rotate_wait_seconds", fl.cfg.RotateWait.Seconds())
		}
	}
	// Rotated files first: their lines were written before the new file's.
	for _, tf := range fl.sortedFiles() {
		fileMore := fl.readFile(tf, now)
		more = more || fileMore
		if fl.files[tf.id] != tf {
			continue // closed on a read error
		}
		if !tf.live && !fileMore && now.Sub(tf.orphanedAt) >= fl.cfg.RotateWait {
			fl.log.Debug("done draining rotated file", "path", tf.path, "file", tf.id.String(), "offset", tf.sp.off)
			fl.closeFile(tf, true)
		}
	}
	fl.polls++
	if fl.polls == 1 {
		fl.reportUnmatchedCheckpoints()
	}
	fl.forgetPaths(paths)
	fl.publish()
	return more
}

// sortedFiles lists the open files, rotated ones first (oldest rotation
// first), then live ones by path, so reads happen in a stable order.
func (fl *Follower) sortedFiles() []*trackedFile {
	fl.order = fl.order[:0]
	for _, tf := range fl.files {
		fl.order = append(fl.order, tf)
	}
	slices.SortFunc(fl.order, func(a, b *trackedFile) int {
		if a.live != b.live {
			if !a.live {
				return -1
			}
			return 1
		}
		if !a.live {
			if c := a.orphanedAt.Compare(b.orphanedAt); c != 0 {
				return c
			}
		}
		if c := strings.Compare(a.path, b.path); c != 0 {
			return c
		}
		return strings.Compare(a.id.String(), b.id.String())
	})
	return fl.order
}

// expand returns the paths the configuration names now, sorted.
func (fl *Follower) expand() []string {
	fl.pathBuf = fl.pathBuf[:0]
	for _, pat := range fl.cfg.Paths {
		if !hasMeta(pat) {
			fl.pathBuf = append(fl.pathBuf, pat)
			continue
		}
		matches, _ := filepath.Glob(pat) // the pattern was validated
		fl.pathBuf = append(fl.pathBuf, matches...)
	}
	slices.Sort(fl.pathBuf)
	fl.pathBuf = slices.Compact(fl.pathBuf)
	return fl.pathBuf
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// checkPath stats one path, opens the file it names if that file is new,
// and records rotations.
func (fl *Follower) checkPath(p string, now time.Time, nt *notifier) {
	ps := fl.paths[p]
	if ps == nil {
		ps = &pathState{literal: slices.Contains(fl.cfg.Paths, p)}
		fl.paths[p] = ps
	}
	if nt != nil {
		nt.watch(filepath.Dir(p))
	}
	keep := func() {
		// A path we cannot look at now does not mean its file rotated.
		if tf := fl.files[ps.id]; tf != nil && ps.hadFile && !ps.gone {
			fl.seen[ps.id] = true
		}
	}
	if ps.failing {
		if now.Before(ps.nextTry) {
			keep()
			return
		}
		fl.stats.OpenRetries.Add(1)
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		if !ps.missing {
			ps.missing = true
			fl.stats.readErrors[ReasonNotFound].Add(1)
			if ps.hadFile {
				fl.log.Debug("file gone from its path", "path", p)
			} else if ps.literal {
				fl.log.Warn("file does not exist, waiting for it", "path", p)
			}
		}
		ps.failing, ps.err = false, ""
		return
	}
	if err != nil {
		fl.pathFailed(ps, p, err, now)
		keep()
		return
	}
	ps.missing = false
	if !fi.Mode().IsRegular() {
		if !ps.failing || ps.err != errNotRegular.Error() {
			fl.stats.readErrors[ReasonNotRegular].Add(1)
			fl.log.Warn("path is not a regular file, ignoring it", "path", p, "mode", fi.Mode().String())
		}
		// Failing: listed in Stats.Files with why, until it is a file.
		ps.failing, ps.err = true, errNotRegular.Error()
		return
	}
	id, _, _ := fileIdentity(fi)
	tf := fl.files[id]
	if tf == nil {
		if tf, err = fl.openFile(p, now); err != nil {
			fl.pathFailed(ps, p, err, now)
			keep()
			return
		}
		id = tf.id
		if nt != nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				nt.watch(filepath.Dir(real))
			}
		}
	}
	if ps.failing {
		fl.log.Info("file readable again", "path", p)
	}
	ps.failing, ps.err, ps.backoff = false, "", 0
	if ps.hadFile && (ps.id != id || ps.gone) {
		fl.rotated(p, ps)
	}
	ps.id, ps.hadFile, ps.gone = id, true, false
	tf.path = p
	fl.seen[id] = true
}

// rotated counts and logs a path now naming a different file than before.
func (fl *Follower) rotated(p string, ps *pathState) {
	kind := RotationRename
	if old := fl.files[ps.id]; old != nil && !ps.gone {
		if fi, err := old.f.Stat(); err == nil {
			if _, nlink, _ := fileIdentity(fi); nlink == 0 {
				kind = RotationRecreate
			}
		}
	} else if ps.goneDeleted {
		kind = RotationRecreate
	}
	fl.stats.rotations[kind].Add(1)
	fl.log.Info("file rotated", "path", p, "kind", kind.String(), "old_file", ps.id.String())
}

// pathFailed records an error opening or stat-ing p and schedules a retry
// with exponential backoff. It logs at Warn when the error is new.
func (fl *Follower) pathFailed(ps *pathState, p string, err error, now time.Time) {
	reason := classify(err)
	fl.stats.readErrors[reason].Add(1)
	ps.backoff = min(max(2*ps.backoff, fl.cfg.PollInterval), fl.cfg.MaxRetryInterval)
	ps.nextTry = now.Add(ps.backoff)
	msg := err.Error()
	if !ps.failing || ps.err != msg {
		fl.log.Warn("cannot open file, will retry", "path", p, "reason", reason.String(), "err", err,
			"retry_in_seconds", ps.backoff.Seconds())
	} else {
		fl.log.Debug("cannot open file, will retry", "path", p, "reason", reason.String(), "err", err,
			"retry_in_seconds", ps.backoff.Seconds())
	}
	ps.failing, ps.err = true, msg
}

// forgetPaths drops the state of glob matches that are gone and whose file
// is closed, so dated file names do not pile up.
func (fl *Follower) forgetPaths(current []string) {
	for p, ps := range fl.paths {
		if ps.literal || fl.files[ps.id] != nil && !ps.gone {
			continue
		}
		if _, found := slices.BinarySearch(current, p); !found {
			delete(fl.paths, p)
		}
	}
}

// publish copies the per-file state into Stats.
func (fl *Follower) publish() {
	files := make([]FileStatus, 0, len(fl.files)+1)
	for _, tf := range fl.sortedFiles() {
		files = append(files, FileStatus{Path: tf.path, File: tf.id, Offset: tf.sp.off, Size: tf.size, Draining: !tf.live})
	}
	open := len(files)
	for p, ps := range fl.paths {
		switch {
		case ps.failing:
			files = append(files, FileStatus{Path: p, Err: ps.err})
		case ps.missing && (ps.literal || !ps.hadFile):
			files = append(files, FileStatus{Path: p, Err: "not found"})
		}
	}
	slices.SortFunc(files[open:], func(a, b FileStatus) int { return strings.Compare(a.Path, b.Path) })
	fl.stats.setFiles(files)
}
