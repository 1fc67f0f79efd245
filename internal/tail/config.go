package tail

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// StartAt says where to begin reading a file that has no checkpoint and was
// already there when the follower started.
type StartAt int

const (
	// End skips what a file already holds (the default): a first start does
	// not replay a log's history into counters.
	End StartAt = iota
	// Beginning reads a file from its first byte.
	Beginning
)

// LongLines says what happens to a line longer than Config.MaxLineBytes.
type LongLines int

const (
	// TruncateLong delivers the first MaxLineBytes bytes, flagged Truncated.
	TruncateLong LongLines = iota
	// SkipLong drops the line; it is still counted as oversize.
	SkipLong
)

// Defaults for the zero values of Config.
const (
	DefaultPollInterval       = 250 * time.Millisecond
	DefaultRotateWait         = 5 * time.Second
	DefaultPartialLineTimeout = 5 * time.Second
	DefaultMaxLineBytes       = 64 << 10
	DefaultFingerprintBytes   = 1024
	DefaultCheckpointInterval = 10 * time.Second
	DefaultMaxRetryInterval   = 30 * time.Second
)

// Config configures a Follower. Zero durations and sizes take the defaults
// above.
type Config struct {
	// Paths are the files to follow: plain paths, or globs in
	// filepath.Match syntax. A glob must not match the rotated names (or
	// compressed files): a rotated copy would look like a new file.
	Paths []string
	// StartAt applies to files without a checkpoint that exist at the first
	// poll. Files that appear later, or whose path was followed before a
	// restart, are always read from their beginning.
	StartAt StartAt
	// PollInterval is the safety-net poll period. With fsnotify working
	// most reads happen sooner, on change events.
	PollInterval time.Duration
	// RotateWait is how long a file that left its path (renamed or deleted)
	// is still read, for writers that keep writing to the old file until
	// they are told to reopen (syslog before its HUP).
	RotateWait time.Duration
	// PartialLineTimeout is how long a line without its '\n' is held when
	// its file stops growing before it is delivered as Unterminated.
	// Negative holds it until the file closes.
	PartialLineTimeout time.Duration
	// MaxLineBytes bounds a line; longer lines are counted and handled per
	// LongLines. Each open file holds a buffer of about twice this.
	MaxLineBytes int
	// LongLines says whether oversize lines are truncated or skipped.
	LongLines LongLines
	// FingerprintBytes is how many leading bytes identify a file's content
	// beside its inode. Files shorter than this are matched by prefix.
	FingerprintBytes int
	// StateDir holds the checkpoint file; empty disables checkpoints.
	StateDir string
	// Name names the follower in logs; the checkpoint file is keyed by
	// Paths (CheckpointPath). A checkpoint an older version saved as
	// tail-<Name>.json for the same Paths is migrated. Required with
	// StateDir.
	Name string
	// CheckpointInterval is how often positions are saved while running;
	// they are also saved on shutdown. A crash re-reads at most the lines
	// delivered in the last interval.
	CheckpointInterval time.Duration
	// MaxRetryInterval caps the backoff for paths that cannot be opened.
	MaxRetryInterval time.Duration
	// DisableFSNotify turns off change notifications: the follower then
	// reads only on each PollInterval (for NFS and other filesystems where
	// change notifications see nothing, and for tests).
	DisableFSNotify bool

	// Logger receives warnings and debug logs; nil discards them.
	Logger *slog.Logger
	// Clock is the time source; nil is the wall clock.
	Clock Clock
	// Waker schedules polls; nil polls every PollInterval.
	Waker Waker
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDur(&c.PollInterval, DefaultPollInterval)
	setDur(&c.RotateWait, DefaultRotateWait)
	setDur(&c.PartialLineTimeout, DefaultPartialLineTimeout)
	setDur(&c.CheckpointInterval, DefaultCheckpointInterval)
	setDur(&c.MaxRetryInterval, DefaultMaxRetryInterval)
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = DefaultMaxLineBytes
	}
	if c.FingerprintBytes == 0 {
		c.FingerprintBytes = DefaultFingerprintBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	return c
}

// Validate returns every problem with c, joined, each naming its field.
func (c Config) Validate() error {
	var errs []error
	if len(c.Paths) == 0 {
		errs = append(errs, errors.New("paths: at least one path is required"))
	}
	for i, p := range c.Paths {
		if p == "" {
			errs = append(errs, fmt.Errorf("paths[%d]: empty path", i))
			continue
		}
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("paths[%d] %q: %w", i, p, err))
		}
	}
	if c.StartAt != End && c.StartAt != Beginning {
		errs = append(errs, fmt.Errorf("start_at: unknown value %d", c.StartAt))
	}
	if c.LongLines != TruncateLong && c.LongLines != SkipLong {
		errs = append(errs, fmt.Errorf("long_lines: unknown value %d", c.LongLines))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"poll_interval", c.PollInterval},
		{"rotate_wait", c.RotateWait},
		{"checkpoint_interval", c.CheckpointInterval},
		{"max_retry_interval", c.MaxRetryInterval},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative, got %s", d.key, d.v))
		}
	}
	if c.MaxLineBytes < 0 {
		errs = append(errs, fmt.Errorf("max_line_bytes: must not be negative, got %d", c.MaxLineBytes))
	}
	if c.FingerprintBytes < 0 {
		errs = append(errs, fmt.Errorf("fingerprint_bytes: must not be negative, got %d", c.FingerprintBytes))
	}
	if c.StateDir != "" && c.Name == "" {
		errs = append(errs, errors.New("name: required when state_dir is set"))
	}
	if c.Name != "" && (filepath.Base(c.Name) != c.Name || c.Name == "." || c.Name == "..") {
		errs = append(errs, fmt.Errorf("name %q: must be a plain file name part", c.Name))
	}
	return errors.Join(errs...)
}
