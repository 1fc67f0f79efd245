package tail

import (
	"errors"
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
)

// RotationKind classifies how a followed file was replaced; its String is
// the label value for mailscope_mta_log_rotations_total{kind}.
type RotationKind int

const (
	// RotationRename: the path now names a new file and the old one still
	// exists under another name (logrotate create, symlink retarget).
	RotationRename RotationKind = iota
	// RotationTruncate: the same file was truncated (copytruncate), seen
	// from its size or from its first bytes changing.
	RotationTruncate
	// RotationRecreate: the old file was deleted and a new one created.
	RotationRecreate
	numRotationKinds
)

func (k RotationKind) String() string {
	switch k {
	case RotationRename:
		return "rename"
	case RotationTruncate:
		return "truncate"
	case RotationRecreate:
		return "recreate"
	}
	return "unknown"
}

// RotationKinds lists every RotationKind, to pre-create metric series.
func RotationKinds() []RotationKind {
	return []RotationKind{RotationRename, RotationTruncate, RotationRecreate}
}

// ErrorReason classifies open and read errors; its String is the label value
// for mailscope_mta_log_read_errors_total{reason}.
type ErrorReason int

const (
	// ReasonNotFound: a plain path does not exist (counted once each time
	// it goes missing, not per retry).
	ReasonNotFound ErrorReason = iota
	// ReasonPermission: open or stat was denied.
	ReasonPermission
	// ReasonStale: a stale NFS handle; the file is reopened.
	ReasonStale
	// ReasonIO: any other error.
	ReasonIO
	// ReasonNotRegular: the path names a directory, FIFO, socket or
	// device (counted once each time it turns into one).
	ReasonNotRegular
	numErrorReasons
)

func (r ErrorReason) String() string {
	switch r {
	case ReasonNotFound:
		return "not_found"
	case ReasonPermission:
		return "permission"
	case ReasonStale:
		return "stale"
	case ReasonIO:
		return "io"
	case ReasonNotRegular:
		return "not_regular"
	}
	return "unknown"
}

// ErrorReasons lists every ErrorReason, to pre-create metric series.
func ErrorReasons() []ErrorReason {
	return []ErrorReason{ReasonNotFound, ReasonPermission, ReasonStale, ReasonIO, ReasonNotRegular}
}

func classify(err error) ErrorReason {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ReasonNotFound
	case errors.Is(err, fs.ErrPermission):
		return ReasonPermission
	case errors.Is(err, syscall.ESTALE):
		return ReasonStale
	}
	return ReasonIO
}

// FileStatus is the state of one followed file or failing path, for
// offset/size gauges and the status page.
type FileStatus struct {
	// Path is the file's current name, or the path that fails.
	Path string
	// File is the file's identity; zero for a path that could not be opened.
	File FileID
	// Offset is the position up to which lines were delivered.
	Offset int64
	// Size is the file's size at the last poll; Size-Offset is the lag.
	Size int64
	// Draining is true for a file that left its path and is read only
	// until RotateWait passes.
	Draining bool
	// Err is the last error for a path that cannot be followed, or "".
	Err string
}

// Stats are a follower's self-statistics. Counters are atomics, safe to read
// from any goroutine (for example from a prometheus.CounterFunc or a custom
// collector at scrape time); this package imports no metrics library.
type Stats struct {
	// Lines counts delivered lines.
	Lines atomic.Int64
	// Bytes counts file bytes consumed (delivered lines with their
	// terminators, skipped NULs and discarded oversize remainders).
	Bytes atomic.Int64
	// OversizeLines counts lines longer than MaxLineBytes.
	OversizeLines atomic.Int64
	// NULBytes counts NUL bytes skipped.
	NULBytes atomic.Int64
	// PartialFlushes counts lines delivered without their '\n'.
	PartialFlushes atomic.Int64
	// OpenRetries counts retries of a path that failed to open.
	OpenRetries atomic.Int64
	// CopyRecoveries counts truncations whose unread tail was read from
	// the rotated copy.
	CopyRecoveries atomic.Int64
	// CheckpointSaves and CheckpointErrors count checkpoint writes.
	CheckpointSaves  atomic.Int64
	CheckpointErrors atomic.Int64
	// CheckpointMismatches counts checkpointed positions found not to match
	// their file at start (file replaced while the agent was down).
	CheckpointMismatches atomic.Int64

	rotations  [numRotationKinds]atomic.Int64
	readErrors [numErrorReasons]atomic.Int64

	mu    sync.Mutex
	files []FileStatus
}

// Rotations returns how many rotations of kind k were seen.
func (s *Stats) Rotations(k RotationKind) int64 {
	if k < 0 || k >= numRotationKinds {
		return 0
	}
	return s.rotations[k].Load()
}

// ReadErrors returns how many open or read errors of reason r happened.
func (s *Stats) ReadErrors(r ErrorReason) int64 {
	if r < 0 || r >= numErrorReasons {
		return 0
	}
	return s.readErrors[r].Load()
}

// Files returns a copy of the per-file state as of the last poll.
func (s *Stats) Files() []FileStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.files)
}

func (s *Stats) setFiles(files []FileStatus) {
	s.mu.Lock()
	s.files = files
	s.mu.Unlock()
}
