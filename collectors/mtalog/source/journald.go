package source

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mailscope/mailscope/internal/atomicfile"
	"github.com/mailscope/mailscope/internal/config"
)

// Journald source defaults and bounds.
const (
	DefaultJournalctl = "journalctl"
	// journaldBatchLines bounds the entries handed on in one batch.
	journaldBatchLines = 256
	// maxJournalEntryBytes bounds one JSON entry; a longer one is skipped
	// and counted as oversize.
	maxJournalEntryBytes = 1 << 20
	journaldMinBackoff   = time.Second
	journaldMaxBackoff   = 30 * time.Second
	// journaldHealthyRun is how long journalctl must have run for a
	// failure to be a new one, resetting the backoff.
	journaldHealthyRun = time.Minute
)

// Read error reasons of the journald source.
const (
	reasonExec   = iota // journalctl could not be started
	reasonExited        // journalctl ended while it should follow
	reasonJSON          // an entry that is not JSON or lacks its cursor
	reasonCursor        // journalctl rejected the saved cursor
	reasonState         // the cursor could not be saved
)

var journaldReasons = []string{"exec", "exited", "json", "cursor", "state"}

// JournaldConfig is a `journald:` source, read through journalctl as a
// child process (no cgo, no libsystemd).
type JournaldConfig struct {
	// Units are systemd units whose entries are read
	// (_SYSTEMD_UNIT=postfix@-.service).
	Units []string `yaml:"units,omitempty"`
	// Identifiers are syslog identifiers whose entries are read
	// (SYSLOG_IDENTIFIER=postfix/smtpd). An entry matching any unit or any
	// identifier is read.
	Identifiers []string `yaml:"identifiers,omitempty"`
	// StartAt is where a first start (no saved cursor) begins: "end"
	// (default) or "beginning" (every matching entry the journal holds).
	StartAt string `yaml:"start_at,omitempty"`
	// Directory reads the journal files of a directory instead of the
	// system journal (journalctl --directory).
	Directory string `yaml:"directory,omitempty"`
	// Journalctl is the command to run (default "journalctl" on PATH).
	Journalctl string `yaml:"journalctl,omitempty"`
	// CheckpointInterval is how often the cursor is saved while running
	// (default 10s); it is also saved when the source stops. A crash
	// re-reads at most this much.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval,omitempty"`
}

// Validate returns every problem, with key paths relative to `journald:`.
func (c *JournaldConfig) Validate() error {
	var ps config.Problems
	if len(c.Units) == 0 && len(c.Identifiers) == 0 {
		ps.Add("", "needs units or identifiers: reading the whole journal would count every other program's lines as unparsed")
	}
	for i, u := range c.Units {
		if u == "" || strings.ContainsAny(u, "= \n") {
			ps.Addf(fmt.Sprintf("units[%d]", i), "%q is not a unit name", u)
		}
	}
	for i, id := range c.Identifiers {
		if id == "" || strings.ContainsAny(id, "\n") {
			ps.Addf(fmt.Sprintf("identifiers[%d]", i), "%q is not a syslog identifier", id)
		}
	}
	switch c.StartAt {
	case "", "end", "beginning":
	default:
		ps.Addf("start_at", "must be end or beginning, got %q", c.StartAt)
	}
	if c.Directory != "" && !filepath.IsAbs(c.Directory) {
		ps.Addf("directory", "%q is not an absolute path", c.Directory)
	}
	if c.CheckpointInterval < 0 {
		ps.Addf("checkpoint_interval", "must not be negative, got %s", c.CheckpointInterval)
	}
	return ps.Err()
}

// JournaldSource follows journal entries through `journalctl --output=json
// --follow`, resuming after a saved cursor.
type JournaldSource struct {
	name string
	cfg  JournaldConfig
	opts Options
	c    *counters

	mu      sync.Mutex // cursor and savedAt, between reader and saver
	cursor  string
	saved   string
	savedAt time.Time
	loaded  bool
}

// NewJournald returns a journald source; it starts nothing until Run.
func NewJournald(name string, c JournaldConfig, o Options) (*JournaldSource, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("journald source %s: %w", name, err)
	}
	if c.Journalctl == "" {
		c.Journalctl = DefaultJournalctl
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = 10 * time.Second
	}
	return &JournaldSource{name: name, cfg: c, opts: o.withDefaults(), c: newCounters(journaldReasons...)}, nil
}

// Name implements Source.
func (s *JournaldSource) Name() string { return s.name }

// Snapshot implements Source.
func (s *JournaldSource) Snapshot() Snapshot { return s.c.snapshot() }

func (s *JournaldSource) cursorPath() string {
	return filepath.Join(s.opts.StateDir, "journald-"+s.name+".cursor")
}

// Run follows the journal until ctx ends. journalctl is restarted with
// backoff whenever it ends (journald restarted, journalctl killed), from
// the last cursor handed on, so nothing is read twice or skipped.
func (s *JournaldSource) Run(ctx context.Context, sink Sink) error {
	if !s.loaded {
		s.loadCursor()
		s.loaded = true
	}
	backoff := journaldMinBackoff
	for {
		start := s.opts.Clock.Now()
		err := s.follow(ctx, sink)
		s.saveCursor()
		if ctx.Err() != nil {
			return nil
		}
		if s.opts.Clock.Now().Sub(start) >= journaldHealthyRun {
			backoff = journaldMinBackoff
		}
		s.opts.Logger.Warn("journalctl ended; restarting it", "source", s.name, "err", err, "retry_in_seconds", backoff.Seconds())
		select {
		case <-ctx.Done():
			return nil
		case <-s.opts.Clock.After(backoff):
		}
		backoff = min(2*backoff, journaldMaxBackoff)
	}
}

// Args returns journalctl's arguments for the current cursor; exported
// through the test of the fake journalctl, which checks them.
func (s *JournaldSource) args() []string {
	args := []string{"--output=json", "--follow", "--all", "--no-pager"}
	s.mu.Lock()
	cursor := s.cursor
	s.mu.Unlock()
	switch {
	case cursor != "":
		args = append(args, "--after-cursor="+cursor)
	case s.cfg.StartAt == "beginning":
		args = append(args, "--no-tail")
	default:
		args = append(args, "--lines=0")
	}
	if s.cfg.Directory != "" {
		args = append(args, "--directory="+s.cfg.Directory)
	}
	// Matches of one field are ORed by journalctl, different fields are
	// ANDed, and "+" ORs groups: units OR identifiers.
	for _, u := range s.cfg.Units {
		args = append(args, "_SYSTEMD_UNIT="+u)
	}
	if len(s.cfg.Units) > 0 && len(s.cfg.Identifiers) > 0 {
		args = append(args, "+")
	}
	for _, id := range s.cfg.Identifiers {
		args = append(args, "SYSLOG_IDENTIFIER="+id)
	}
	return args
}

// follow runs journalctl once and reads it until it ends or ctx ends.
func (s *JournaldSource) follow(ctx context.Context, sink Sink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.cfg.Journalctl, s.args()...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("journalctl: %w", err)
	}
	if err := cmd.Start(); err != nil {
		s.c.addError(reasonExec)
		return fmt.Errorf("start %s: %w", s.cfg.Journalctl, err)
	}
	entries, readErr := s.read(ctx, out, sink)
	if readErr != nil {
		cancel() // stop the child: we cannot read it any more
	}
	waitErr := cmd.Wait()
	if ctx.Err() != nil && readErr == nil {
		return nil
	}
	msg := strings.TrimSpace(stderr.String())
	if entries == 0 && strings.Contains(strings.ToLower(msg), "cursor") {
		// The saved cursor belongs to a journal that is gone (reinstalled
		// machine, vacuumed files). Start over per start_at, loudly.
		s.c.addError(reasonCursor)
		s.mu.Lock()
		old := s.cursor
		s.cursor = ""
		s.mu.Unlock()
		s.opts.Logger.Warn("journalctl rejected the saved cursor; starting again per start_at", "source", s.name, "cursor", old, "start_at", s.cfg.StartAt, "stderr", msg)
		return fmt.Errorf("journalctl rejected cursor: %s", msg)
	}
	s.c.addError(reasonExited)
	switch {
	case readErr != nil:
		return readErr
	case waitErr != nil:
		return fmt.Errorf("journalctl: %w: %s", waitErr, msg)
	}
	return fmt.Errorf("journalctl exited: %s", msg)
}

// read hands on entries until out ends; it returns how many it read.
func (s *JournaldSource) read(ctx context.Context, out io.Reader, sink Sink) (int, error) {
	r := bufio.NewReaderSize(out, 64<<10)
	batch := &Batch{Source: s.name}
	var arena []byte
	var ends []int
	var times []time.Time
	var bytesIn int64
	var lastCursor string
	entries := 0
	var big []byte
	flush := func() {
		if len(ends) > 0 {
			batch.Lines = batch.Lines[:0]
			start := 0
			for i, end := range ends {
				batch.Lines = append(batch.Lines, Line{Time: times[i], Text: arena[start:end]})
				start = end
			}
			sink.HandleBatch(batch)
			s.c.delivered(batch, bytesIn)
			arena, ends, times, bytesIn = arena[:0], ends[:0], times[:0], 0
		}
		if lastCursor != "" {
			s.mu.Lock()
			s.cursor = lastCursor
			s.mu.Unlock()
		}
		if s.opts.Clock.Now().Sub(s.savedAt) >= s.cfg.CheckpointInterval {
			s.saveCursor()
		}
	}
	defer flush()
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			big = append(big[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				if len(big) <= maxJournalEntryBytes {
					big = append(big, line...)
				}
			}
			line = big
		}
		if len(line) > 0 && (err == nil || errors.Is(err, io.EOF)) {
			entries++
			if len(line) > maxJournalEntryBytes {
				s.c.oversize.Add(1)
			} else {
				var e journalEntry
				if perr := e.parse(bytes.TrimSpace(line)); perr != nil {
					s.c.addError(reasonJSON)
					s.opts.Logger.Debug("Unreadable journal entry", "source", s.name, "err", perr)
				} else {
					var t time.Time
					arena, t = e.render(arena, s.opts.Location)
					ends = append(ends, len(arena))
					times = append(times, t)
					bytesIn += int64(len(line))
					lastCursor = e.cursor
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return entries, nil
			}
			return entries, fmt.Errorf("reading journalctl: %w", err)
		}
		if r.Buffered() == 0 || len(ends) >= journaldBatchLines {
			flush()
		}
	}
}

// loadCursor reads the saved cursor, if any.
func (s *JournaldSource) loadCursor() {
	if s.opts.StateDir == "" {
		return
	}
	b, err := os.ReadFile(s.cursorPath())
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.c.addError(reasonState)
			s.opts.Logger.Warn("Cannot read the journal cursor; starting per start_at", "source", s.name, "path", s.cursorPath(), "err", err)
		}
		return
	}
	s.mu.Lock()
	s.cursor = strings.TrimSpace(string(b))
	s.saved = s.cursor
	s.mu.Unlock()
}

// saveCursor writes the cursor atomically (temporary file, fsync, rename,
// fsync of the directory), if it moved since the last save.
func (s *JournaldSource) saveCursor() {
	s.mu.Lock()
	cursor, saved := s.cursor, s.saved
	s.savedAt = s.opts.Clock.Now()
	s.mu.Unlock()
	if s.opts.StateDir == "" || cursor == "" || cursor == saved {
		return
	}
	if err := writeCursor(s.cursorPath(), cursor); err != nil {
		s.c.addError(reasonState)
		s.opts.Logger.Warn("Cannot save the journal cursor: a restart will re-read entries", "source", s.name, "err", err)
		return
	}
	s.mu.Lock()
	s.saved = cursor
	s.mu.Unlock()
}

// writeCursor saves the journal cursor in the state directory, made if
// missing.
func writeCursor(path, cursor string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	return atomicfile.Write(path, []byte(cursor+"\n"))
}

// tailBuffer keeps the last max bytes written to it: journalctl's last
// words on stderr, for the error message.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
