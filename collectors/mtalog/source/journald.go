package source

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
// --follow`, resuming at a saved cursor.
type JournaldSource struct {
	name string
	cfg  JournaldConfig
	opts Options
	c    *counters
	// machineIDFile names the local machine (/etc/machine-id): the system
	// journal is read for this machine only.
	machineIDFile string
	// suppressed counts the lines journald's rate limit dropped, from its
	// "Suppressed N messages from UNIT" entries about the units read.
	suppressed      atomic.Int64
	warnedRateLimit bool

	mu      sync.Mutex // cursor, since and savedAt, between reader and saver
	cursor  string     // the last entry handed on; the next run starts there
	saved   string
	savedAt time.Time
	// since is where the next run starts when there is no cursor: the
	// time of a cursor journalctl refused.
	since time.Time
	// resumeFrom is the refused cursor while since is used: its entry, if
	// journalctl still shows it first, is not handed on again.
	resumeFrom string
	loaded     bool
}

// NewJournald returns a journald source for a valid config (see
// JournaldConfig.Validate); it starts nothing until Run.
func NewJournald(name string, c JournaldConfig, o Options) *JournaldSource {
	if c.Journalctl == "" {
		c.Journalctl = DefaultJournalctl
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = 10 * time.Second
	}
	return &JournaldSource{name: name, cfg: c, opts: o.withDefaults(), c: newCounters(journaldReasons...), machineIDFile: "/etc/machine-id"}
}

// Name implements Source.
func (s *JournaldSource) Name() string { return s.name }

// Snapshot implements Source.
func (s *JournaldSource) Snapshot() Snapshot {
	snap := s.c.snapshot()
	snap.Dropped = map[string]int64{DroppedRateLimit: s.suppressed.Load()}
	return snap
}

// cursorPath is the saved cursor's file, keyed by what the source reads
// (its journal directory, units and identifiers), not by its name, so a
// source reading another Postfix instance's entries never resumes from
// this one's cursor.
func (s *JournaldSource) cursorPath() string {
	key := strings.Join([]string{s.cfg.Directory, sortedJoin(s.cfg.Units), sortedJoin(s.cfg.Identifiers)}, "\x01")
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(s.opts.StateDir, "journald-"+hex.EncodeToString(sum[:8])+".cursor")
}

// legacyCursorPath is where versions before cursorPath kept the cursor: by
// the source's name.
func (s *JournaldSource) legacyCursorPath() string {
	return filepath.Join(s.opts.StateDir, "journald-"+s.name+".cursor")
}

// errCursorRefused ends a run whose cursor journalctl could not seek to;
// the next run starts at once from the cursor's time or per start_at.
var errCursorRefused = errors.New("journalctl refused the cursor")

func sortedJoin(list []string) string {
	l := slices.Clone(list)
	slices.Sort(l)
	return strings.Join(slices.Compact(l), "\x00")
}

// migrateCursor moves a cursor an older version saved under the source's
// name to cursorPath, so an upgrade resumes where it stopped. The old file
// does not say what it followed; a journal cursor is a position in the
// whole journal, so resuming from it reads nothing twice whatever the
// filters.
func (s *JournaldSource) migrateCursor() {
	path, legacy := s.cursorPath(), s.legacyCursorPath()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return
	}
	if _, err := os.Stat(legacy); err != nil {
		return
	}
	if err := os.Rename(legacy, path); err != nil {
		s.opts.Logger.Warn("Cannot migrate the journal cursor to its new name; starting per start_at", "source", s.name, "legacy_cursor", legacy, "err", err)
		return
	}
	s.opts.Logger.Info("Migrated the journal cursor to its name keyed by what the source reads", "source", s.name, "legacy_cursor", legacy, "cursor", path)
}

// Run follows the journal until ctx ends. journalctl is restarted with
// backoff whenever it ends (journald restarted, journalctl killed), at
// the last entry handed on, so nothing is read twice or skipped.
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
		if errors.Is(err, errCursorRefused) {
			continue // logged once; the next run does not use the cursor
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

// follow runs journalctl once and reads it until it ends or ctx ends.
func (s *JournaldSource) follow(ctx context.Context, sink Sink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	args, resumeFrom := s.command()
	cmd := exec.CommandContext(ctx, s.cfg.Journalctl, args...)
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
	entries, readErr := s.read(ctx, out, sink, resumeFrom)
	if readErr != nil {
		cancel() // stop the child: we cannot read it any more
	}
	waitErr := cmd.Wait()
	if ctx.Err() != nil && readErr == nil {
		return nil
	}
	msg := strings.TrimSpace(stderr.String())
	withCursor := slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--cursor=") })
	if entries == 0 && withCursor && strings.Contains(strings.ToLower(msg), "cursor") {
		s.refuseCursor("journalctl cannot seek to the saved cursor", msg)
		return errCursorRefused
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

// refuseCursor drops a cursor that cannot be used (journalctl "Failed to
// seek to cursor", a damaged cursor file), counts and logs it once. The
// next run starts at the cursor's time when it can be read, else per
// start_at: never silently at the end.
func (s *JournaldSource) refuseCursor(why, detail string) {
	s.c.addError(reasonCursor)
	s.mu.Lock()
	bad := s.cursor
	s.cursor = ""
	s.since = parseCursor(bad).realtime
	if now := s.opts.Clock.Now(); s.since.After(now) {
		s.since = time.Time{} // a damaged time in the future would skip everything until then
	}
	s.resumeFrom = bad
	since := s.since
	s.mu.Unlock()
	if len(bad) > 200 {
		bad = bad[:200] + "…"
	}
	if !since.IsZero() {
		s.opts.Logger.Warn(why+"; resuming from the cursor's time: entries of that microsecond may be read twice", "source", s.name, "cursor", fmt.Sprintf("%q", bad), "since", since.UTC().Format(time.RFC3339Nano), "detail", detail)
		return
	}
	s.opts.Logger.Warn(why+" and it holds no time; starting per start_at", "source", s.name, "cursor", fmt.Sprintf("%q", bad), "start_at", cmp.Or(s.cfg.StartAt, "end"), "detail", detail)
}

// read hands on entries until out ends; it returns how many it read. The
// first entry is dropped when it is resumeFrom's (handed on before).
func (s *JournaldSource) read(ctx context.Context, out io.Reader, sink Sink, resumeFrom string) (int, error) {
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
			s.since, s.resumeFrom = time.Time{}, ""
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
				switch perr := e.parse(bytes.TrimSpace(line)); {
				case perr != nil:
					s.c.addError(reasonJSON)
					s.opts.Logger.Debug("Unreadable journal entry", "source", s.name, "err", perr)
				case entries == 1 && resumeFrom != "" && parseCursor(e.cursor).sameEntry(parseCursor(resumeFrom)):
					lastCursor = e.cursor // handed on by the run that saved the cursor
				case e.suppression:
					lastCursor = e.cursor
					s.countSuppressed(&e)
				default:
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

// countSuppressed counts journald's report of lines its rate limit
// dropped; the first report is logged at Warn.
func (s *JournaldSource) countSuppressed(e *journalEntry) {
	s.suppressed.Add(e.dropped)
	level := slog.LevelDebug
	if !s.warnedRateLimit {
		s.warnedRateLimit = true
		level = slog.LevelWarn
	}
	s.opts.Logger.Log(context.Background(), level, "journald's rate limit dropped lines before they reached the journal (see LogRateLimitBurst=)", "source", s.name, "dropped", e.dropped, "unit", string(e.objectUnit))
}

// loadCursor reads the saved cursor, if any. A damaged one (empty, too
// long, not printable) is refused as journalctl refuses a bad cursor.
func (s *JournaldSource) loadCursor() {
	if s.opts.StateDir == "" {
		return
	}
	s.migrateCursor()
	f, err := os.Open(s.cursorPath())
	if err == nil {
		var b []byte
		b, err = io.ReadAll(io.LimitReader(f, maxCursorBytes+1))
		f.Close()
		if err == nil {
			s.mu.Lock()
			s.cursor = strings.TrimSpace(string(b))
			s.saved = s.cursor
			s.mu.Unlock()
			if !cursorArgument(s.cursor) {
				s.refuseCursor("The saved journal cursor is damaged", s.cursorPath())
			}
			return
		}
	}
	if !errors.Is(err, os.ErrNotExist) {
		s.c.addError(reasonState)
		s.opts.Logger.Warn("Cannot read the journal cursor; starting per start_at", "source", s.name, "path", s.cursorPath(), "err", err)
	}
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
