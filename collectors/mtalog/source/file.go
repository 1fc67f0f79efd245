package source

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/tail"
)

// maxFilePaths bounds the `path` label of the offset and size gauges per
// source: a glob that suddenly matches thousands of files must not make as
// many series.
const maxFilePaths = 64

// FileConfig is a `file:` source: log files followed with internal/tail.
// Zero values take internal/tail's defaults.
type FileConfig struct {
	// Paths are absolute file paths or globs. A glob must not match the
	// rotated names (mail.log.1, mail.log.2.gz): a copied file would be
	// read again.
	Paths []string `yaml:"paths"`
	// StartAt is where a first start begins in a file that already
	// exists: "end" (default: history is not replayed into counters) or
	// "beginning".
	StartAt string `yaml:"start_at"`
	// RotateWait is how long a rotated file is still read, for a writer
	// that reopens late (default 5s).
	RotateWait time.Duration `yaml:"rotate_wait"`
	// PollInterval is the safety-net poll period (default 250ms); change
	// notifications usually wake the follower sooner.
	PollInterval time.Duration `yaml:"poll_interval"`
	// CheckpointInterval is how often read positions are saved (default
	// 10s); a crash re-reads at most this much.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// MaxLineBytes bounds a line (default 64 KiB).
	MaxLineBytes int `yaml:"max_line_bytes"`
	// LongLines is "truncate" (default) or "skip".
	LongLines string `yaml:"long_lines"`
	// PollingOnly turns change notifications off, for network filesystems
	// where they see nothing.
	PollingOnly bool `yaml:"polling_only"`
}

// Validate returns every problem, with key paths relative to the `file:`
// section.
func (c *FileConfig) Validate() error {
	var ps config.Problems
	if len(c.Paths) == 0 {
		ps.Add("paths", "at least one path is required")
	}
	for i, p := range c.Paths {
		key := fmt.Sprintf("paths[%d]", i)
		switch {
		case p == "":
			ps.Add(key, "empty path")
		case !filepath.IsAbs(p):
			ps.Addf(key, "%q is not an absolute path", p)
		default:
			if _, err := filepath.Match(p, ""); err != nil {
				ps.Addf(key, "%q is not a valid glob: %v", p, err)
			}
		}
	}
	switch c.StartAt {
	case "", "end", "beginning":
	default:
		ps.Addf("start_at", "must be end or beginning, got %q", c.StartAt)
	}
	switch c.LongLines {
	case "", "truncate", "skip":
	default:
		ps.Addf("long_lines", "must be truncate or skip, got %q", c.LongLines)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"rotate_wait", c.RotateWait}, {"poll_interval", c.PollInterval}, {"checkpoint_interval", c.CheckpointInterval}} {
		if d.v < 0 {
			ps.Addf(d.key, "must not be negative, got %s", d.v)
		}
	}
	if c.MaxLineBytes < 0 {
		ps.Addf("max_line_bytes", "must not be negative, got %d", c.MaxLineBytes)
	}
	return ps.Err()
}

// Options are what every source gets from the collector.
type Options struct {
	Logger *slog.Logger
	// StateDir holds checkpoints and cursors; created on first use. Empty
	// keeps no state (every start is a first start).
	StateDir string
	Clock    clock.Clock
	// Location is the zone of RFC 3164 timestamps, which carry none; nil
	// is the local zone.
	Location *time.Location
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	return o
}

// FileSource follows log files through internal/tail, with checkpoints in
// the state directory.
type FileSource struct {
	name  string
	cfg   tail.Config
	opts  Options
	waker tail.Waker // tests step polls by hand

	lastLine atomic.Int64

	mu   sync.Mutex
	cur  *tail.Follower
	base fileTotals // of the followers of earlier Runs
}

// fileTotals are counters of followers that finished, so a restarted
// source's counters keep counting up.
type fileTotals struct {
	lines, bytes, oversize int64
	rotations              [3]int64
	errs                   [5]int64
	checkpointErrs         int64
}

func (t *fileTotals) add(st *tail.Stats) {
	t.lines += st.Lines.Load()
	t.bytes += st.Bytes.Load()
	t.oversize += st.OversizeLines.Load()
	for i, k := range tail.RotationKinds() {
		t.rotations[i] += st.Rotations(k)
	}
	for i, r := range tail.ErrorReasons() {
		t.errs[i] += st.ReadErrors(r)
	}
	t.checkpointErrs += st.CheckpointErrors.Load()
}

// NewFile returns a file source for a valid config (see
// FileConfig.Validate); it touches no file until Run.
func NewFile(name string, c FileConfig, o Options) *FileSource {
	o = o.withDefaults()
	tc := tail.Config{
		Paths:              c.Paths,
		RotateWait:         c.RotateWait,
		PollInterval:       c.PollInterval,
		CheckpointInterval: c.CheckpointInterval,
		MaxLineBytes:       c.MaxLineBytes,
		DisableFSNotify:    c.PollingOnly,
		StateDir:           o.StateDir,
		Name:               "file-" + name,
		Logger:             o.Logger,
		Clock:              o.Clock,
	}
	if c.StartAt == "beginning" {
		tc.StartAt = tail.Beginning
	}
	if c.LongLines == "skip" {
		tc.LongLines = tail.SkipLong
	}
	return &FileSource{name: name, cfg: tc, opts: o}
}

// Name implements Source.
func (s *FileSource) Name() string { return s.name }

// Run follows the files until ctx ends, then saves the checkpoint.
func (s *FileSource) Run(ctx context.Context, sink Sink) error {
	if s.opts.StateDir != "" {
		if err := os.MkdirAll(s.opts.StateDir, 0o750); err != nil {
			return fmt.Errorf("file source %s: state directory: %w", s.name, err)
		}
	}
	cfg := s.cfg
	cfg.Waker = s.waker
	fl, err := tail.New(cfg, s.handler(sink))
	if err != nil {
		return fmt.Errorf("file source %s: %w", s.name, err)
	}
	s.mu.Lock()
	s.cur = fl
	s.mu.Unlock()
	err = fl.Run(ctx)
	s.mu.Lock()
	s.base.add(fl.Stats())
	s.cur = nil
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("file source %s: %w", s.name, err)
	}
	return nil
}

// handler turns the follower's lines into a Batch without copying their
// bytes: Line.Text points into the follower's buffer for the sink call.
func (s *FileSource) handler(sink Sink) tail.Handler {
	batch := &Batch{Source: s.name}
	lc := NewLiveClock(s.opts.Location)
	return func(lines []tail.Line) {
		lc.SetNow(s.opts.Clock.Now())
		batch.Lines = batch.Lines[:0]
		var last time.Time
		for _, l := range lines {
			t := lc.LineTime(l.Bytes)
			if !t.IsZero() {
				last = t
			}
			batch.Lines = append(batch.Lines, Line{Time: t, Text: l.Bytes})
		}
		sink.HandleBatch(batch)
		if !last.IsZero() {
			s.lastLine.Store(last.UnixNano())
		}
	}
}

// Snapshot implements Source. The offset and size gauges cover the files
// the configured paths name now (not rotated files being drained), at most
// maxFilePaths of them.
func (s *FileSource) Snapshot() Snapshot {
	s.mu.Lock()
	t := s.base
	cur := s.cur
	if cur != nil {
		t.add(cur.Stats())
	}
	s.mu.Unlock()
	snap := Snapshot{
		Lines:         t.lines,
		Bytes:         t.bytes,
		OversizeLines: t.oversize,
		Rotations:     make(map[string]int64, 3),
		ReadErrors:    make(map[string]int64, 6),
		Files:         []FileSnapshot{},
	}
	if ns := s.lastLine.Load(); ns != 0 {
		snap.LastLineTime = time.Unix(0, ns)
	}
	for i, k := range tail.RotationKinds() {
		snap.Rotations[k.String()] = t.rotations[i]
	}
	for i, r := range tail.ErrorReasons() {
		snap.ReadErrors[r.String()] = t.errs[i]
	}
	// Checkpoints that could not be saved, named as journald names a
	// cursor it could not save.
	snap.ReadErrors["state"] = t.checkpointErrs
	if cur != nil {
		for _, f := range cur.Stats().Files() {
			if f.Err != "" && f.Err != "not found" && len(snap.Failing) < maxFilePaths {
				snap.Failing = append(snap.Failing, f.Path+": "+f.Err)
			}
			if f.Draining || f.Err != "" || f.File.IsZero() {
				continue
			}
			snap.Files = append(snap.Files, FileSnapshot{Path: f.Path, Offset: f.Offset, Size: f.Size})
		}
		sort.Slice(snap.Files, func(i, j int) bool { return snap.Files[i].Path < snap.Files[j].Path })
		if len(snap.Files) > maxFilePaths {
			snap.Files = snap.Files[:maxFilePaths]
		}
	}
	return snap
}
