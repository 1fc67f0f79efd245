package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFileName is the file in state_dir an agent holds an exclusive flock
// on while it runs: two agents on one state directory would load and
// overwrite each other's checkpoints, cursors and listing times.
const lockFileName = "mailscope.lock"

// ErrStateDirInUse is returned when another agent holds the state
// directory's lock.
var ErrStateDirInUse = errors.New("state_dir is in use by another mailscope")

// stateLock is a held lock on a state directory.
type stateLock struct {
	dir string
	f   *os.File
}

// lockStateDir takes the lock on dir, creating dir if needed. It returns
// ErrStateDirInUse (wrapped, naming the lock file and the holder's pid)
// when another process holds it. A directory that cannot be created or
// written is not an error here (a zero-config start as an unprivileged
// user has no state to keep): lock is nil then and reason says why.
func lockStateDir(dir string) (lock *stateLock, reason string, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err.Error(), nil
	}
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err.Error(), nil
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := readHolder(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, "", fmt.Errorf("%w (%s is locked by pid %s): give each agent its own state_dir, for example /var/lib/mailscope-<instance> for a second Postfix instance",
				ErrStateDirInUse, path, holder)
		}
		return nil, "", fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &stateLock{dir: dir, f: f}, "", nil
}

// readHolder returns the pid the lock's holder wrote, or "unknown".
func readHolder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	if pid := strings.TrimSpace(string(b[:n])); pid != "" {
		return pid
	}
	return "unknown"
}

// release drops the lock; the file stays (removing it would race with an
// agent that just opened it).
func (l *stateLock) release() {
	if l != nil {
		l.f.Close()
	}
}
