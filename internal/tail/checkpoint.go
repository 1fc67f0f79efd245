package tail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mailscope/mailscope/internal/atomicfile"
)

// checkpointVersion is bumped when the file format changes incompatibly.
const checkpointVersion = 1

// Bounds of a checkpoint file: it is input like any other, and one that
// breaks them is treated as corrupt.
const (
	maxCheckpointBytes   = 16 << 20
	maxCheckpointEntries = 100_000
	maxFingerprintBytes  = 64 << 10
)

// checkpointFile is the on-disk checkpoint: where each followed file was
// delivered up to.
type checkpointFile struct {
	Version int       `json:"version"`
	SavedAt time.Time `json:"saved_at,omitzero"`
	// Patterns are the Config.Paths of the run that saved it: a file found
	// at start under one of them but absent from Files appeared while the
	// agent was down, so it is read from its beginning, not per StartAt.
	Patterns []string          `json:"patterns"`
	Files    []checkpointEntry `json:"files"`
}

// checkpointEntry is one file's position.
type checkpointEntry struct {
	Path        string `json:"path"`
	Dev         uint64 `json:"dev"`
	Ino         uint64 `json:"ino"`
	Fingerprint []byte `json:"fingerprint"` // the file's first bytes, base64
	Offset      int64  `json:"offset"`      // lines before it were delivered
	AfterFlush  bool   `json:"after_flush,omitempty"`
	Discarding  bool   `json:"discarding,omitempty"`
}

// checkpointState is the follower's view of its checkpoint file.
type checkpointState struct {
	path     string // "" when checkpoints are off
	have     bool   // a checkpoint was loaded at start
	patterns []string
	paths    map[string]bool
	// resume holds loaded positions not yet matched to an open file, by
	// identity; also positions of files closed on a stale NFS handle.
	resume   map[FileID]checkpointEntry
	lastSave time.Time
	last     []byte // the last saved content without SavedAt, to skip no-op saves
}

// loadCheckpoint reads the checkpoint file, if checkpoints are on. A file
// that cannot be parsed is moved aside and the run starts as a first start
// (StartAt applies): loudly, because lines may be skipped or repeated.
func (fl *Follower) loadCheckpoint() {
	fl.ckpt.lastSave = fl.clock.Now()
	if fl.cfg.StateDir == "" {
		return
	}
	fl.ckpt.path = CheckpointPath(fl.cfg)
	if err := os.MkdirAll(fl.cfg.StateDir, 0o750); err != nil {
		fl.log.Warn("cannot create state directory, checkpoints will fail", "state_dir", fl.cfg.StateDir, "err", err)
	}
	fl.migrateCheckpoint()
	data, err := readCheckpointFile(fl.ckpt.path)
	if errors.Is(err, fs.ErrNotExist) {
		fl.log.Info("no checkpoint, first start", "checkpoint", fl.ckpt.path, "start_at", startAtName(fl.cfg.StartAt))
		return
	}
	if err != nil {
		fl.log.Warn("cannot read checkpoint, starting as on a first start", "checkpoint", fl.ckpt.path, "err", err)
		return
	}
	var cf checkpointFile
	if err := json.Unmarshal(data, &cf); err != nil || cf.validate() != nil {
		if err == nil {
			err = cf.validate()
		}
		aside := fl.ckpt.path + ".corrupt"
		rerr := os.Rename(fl.ckpt.path, aside)
		fl.log.Warn("checkpoint is corrupt, moved aside; starting as on a first start, lines may be skipped or read twice",
			"checkpoint", fl.ckpt.path, "moved_to", aside, "err", err, "rename_err", rerr)
		return
	}
	fl.ckpt.have = true
	fl.ckpt.patterns = cf.Patterns
	fl.ckpt.paths = make(map[string]bool, len(cf.Files))
	for _, e := range cf.Files {
		fl.ckpt.resume[FileID{Dev: e.Dev, Ino: e.Ino}] = e
		fl.ckpt.paths[e.Path] = true
	}
	fl.log.Info("loaded checkpoint", "checkpoint", fl.ckpt.path, "files", len(cf.Files), "saved_at", cf.SavedAt)
}

// CheckpointPath is the checkpoint file of a follower with cfg: keyed by
// what it follows (its sorted Paths), not by its Name, so a follower of
// other files (a second Postfix instance's log) never loads this one's
// positions. Changing Paths starts a new checkpoint, as a newly configured
// path does (StartAt).
func CheckpointPath(cfg Config) string {
	ps := slices.Clone(cfg.Paths)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	sum := sha256.Sum256([]byte(strings.Join(ps, "\x00")))
	return filepath.Join(cfg.StateDir, "tail-"+hex.EncodeToString(sum[:8])+".json")
}

// legacyCheckpointPath is where versions before the checkpoint was keyed
// by its paths kept it: by the follower's Name.
func legacyCheckpointPath(cfg Config) string {
	return filepath.Join(cfg.StateDir, "tail-"+cfg.Name+".json")
}

// migrateCheckpoint adopts a checkpoint saved under the follower's Name by
// an older version, when it was saved for the same paths, so an upgrade
// neither re-reads nor skips. One saved for other paths belongs to another
// follower (or an older config): it is left where it is, unused.
func (fl *Follower) migrateCheckpoint() {
	legacy := legacyCheckpointPath(fl.cfg)
	if _, err := os.Stat(fl.ckpt.path); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	data, err := readCheckpointFile(legacy)
	if err != nil {
		return
	}
	var cf checkpointFile
	if err := json.Unmarshal(data, &cf); err != nil || cf.Version != checkpointVersion {
		return // the loader reports it when it is ours; it is not
	}
	if !samePaths(cf.Patterns, fl.cfg.Paths) {
		fl.log.Info("ignoring a checkpoint saved under this name for other paths",
			"legacy_checkpoint", legacy, "its_paths", strings.Join(cf.Patterns, ","), "paths", strings.Join(fl.cfg.Paths, ","))
		return
	}
	if err := os.Rename(legacy, fl.ckpt.path); err != nil {
		fl.log.Warn("cannot migrate the checkpoint to its new name, starting as on a first start", "legacy_checkpoint", legacy, "checkpoint", fl.ckpt.path, "err", err)
		return
	}
	fl.log.Info("migrated the checkpoint to its name keyed by the followed paths", "legacy_checkpoint", legacy, "checkpoint", fl.ckpt.path)
}

// samePaths reports whether a and b name the same set of paths.
func samePaths(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// readCheckpointFile reads a checkpoint, refusing anything but a regular
// file of at most maxCheckpointBytes.
func readCheckpointFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > maxCheckpointBytes {
		// Read it as corrupt: moved aside, a first start.
		return []byte("not a regular checkpoint file of at most 16 MiB"), nil
	}
	return io.ReadAll(io.LimitReader(f, maxCheckpointBytes))
}

// validate checks every field of a loaded checkpoint, as any input is
// checked: a negative offset would stall its file for good (every read
// fails), an empty path or a zero inode matches nothing sensible.
func (cf *checkpointFile) validate() error {
	var errs []error
	if cf.Version != checkpointVersion {
		errs = append(errs, fmt.Errorf("unknown version %d", cf.Version))
	}
	if len(cf.Files) > maxCheckpointEntries {
		errs = append(errs, fmt.Errorf("%d files, more than %d", len(cf.Files), maxCheckpointEntries))
	}
	for i, p := range cf.Patterns {
		if _, err := filepath.Match(p, ""); p == "" || err != nil {
			errs = append(errs, fmt.Errorf("patterns[%d] %q is not a path pattern", i, p))
		}
	}
	seen := make(map[FileID]bool, len(cf.Files))
	for i, e := range cf.Files {
		switch {
		case e.Path == "" || !filepath.IsAbs(e.Path) || strings.ContainsRune(e.Path, 0):
			errs = append(errs, fmt.Errorf("files[%d]: path %q is not an absolute path", i, e.Path))
		case e.Offset < 0:
			errs = append(errs, fmt.Errorf("files[%d]: negative offset %d", i, e.Offset))
		case e.Ino == 0:
			errs = append(errs, fmt.Errorf("files[%d]: inode 0", i))
		case len(e.Fingerprint) > maxFingerprintBytes:
			errs = append(errs, fmt.Errorf("files[%d]: fingerprint of %d bytes, more than %d", i, len(e.Fingerprint), maxFingerprintBytes))
		case seen[FileID{Dev: e.Dev, Ino: e.Ino}]:
			errs = append(errs, fmt.Errorf("files[%d]: file %d:%d listed twice", i, e.Dev, e.Ino))
		}
		seen[FileID{Dev: e.Dev, Ino: e.Ino}] = true
		if len(errs) >= 10 {
			break // enough to say why
		}
	}
	return errors.Join(errs...)
}

func startAtName(s StartAt) string {
	if s == Beginning {
		return "beginning"
	}
	return "end"
}

// startOffset decides where a newly opened file is read from. The policy:
//  1. a checkpoint entry with the file's identity (or, after a reboot that
//     renumbered the device, its path and inode), whose fingerprint still
//     matches and whose offset is not past the file's size: resume there;
//     if it does not match, the file was replaced or truncated while the
//     agent was down: warn, read from 0;
//  2. a file opened after the first poll appeared while running: read from 0;
//  3. at the first poll, a path that had a checkpoint entry for another
//     file (the file was replaced while the agent was down), or a path
//     matched by the checkpoint's patterns but not in it (the file appeared
//     while the agent was down): read from 0. Whether the old file's unread
//     tail is lost is known only after the whole first poll, which may find
//     it under a rotated name the patterns match; reportUnmatchedCheckpoints
//     says so then;
//  4. otherwise (first start, or a newly configured path): StartAt.
func (fl *Follower) startOffset(tf *trackedFile, size int64) (off int64, afterFlush bool) {
	e, ok := fl.ckpt.resume[tf.id]
	if !ok && fl.polls == 0 {
		e, ok = fl.renumbered(tf)
	}
	if ok {
		delete(fl.ckpt.resume, FileID{Dev: e.Dev, Ino: e.Ino})
		why := fl.checkpointMismatch(tf, e, size)
		if why == "" {
			tf.sp.discarding = e.Discarding
			return e.Offset, e.AfterFlush
		}
		fl.stats.CheckpointMismatches.Add(1)
		fl.log.Warn("checkpoint does not match the file, reading it from the beginning",
			"path", tf.path, "file", tf.id.String(), "checkpoint_path", e.Path,
			"checkpoint_offset", e.Offset, "size", size, "mismatch", why)
		return 0, false
	}
	if fl.polls > 0 {
		return 0, false
	}
	if fl.ckpt.paths[tf.path] || fl.ckpt.covers(tf.path) {
		fl.log.Info("file appeared while the agent was down, reading it from the beginning", "path", tf.path, "file", tf.id.String())
		return 0, false
	}
	if fl.cfg.StartAt == Beginning {
		return 0, false
	}
	return fl.alignedEnd(tf, size), false
}

// renumbered finds the entry of a file whose device number changed across a
// reboot (LVM, some virtual disks): same path, same inode, and a full-length
// fingerprint to make the match safe. Without this, such a file would look
// replaced and be read again from its beginning.
func (fl *Follower) renumbered(tf *trackedFile) (checkpointEntry, bool) {
	for _, e := range fl.ckpt.resume {
		if e.Path == tf.path && e.Ino == tf.id.Ino && e.Dev != tf.id.Dev && len(e.Fingerprint) == fl.cfg.FingerprintBytes {
			fl.log.Info("device number of checkpointed file changed, matching it by inode and fingerprint",
				"path", tf.path, "file", tf.id.String(), "checkpoint_dev", e.Dev)
			return e, true
		}
	}
	return checkpointEntry{}, false
}

// checkpointMismatch says why entry e does not describe tf, or "".
func (fl *Follower) checkpointMismatch(tf *trackedFile, e checkpointEntry, size int64) string {
	if e.Offset < 0 {
		return "offset" // validate refuses it; never read at a negative offset
	}
	if size < e.Offset {
		return "size"
	}
	if len(e.Fingerprint) > 0 {
		head, err := fl.readHead(tf.f, len(e.Fingerprint))
		if err != nil || !bytes.Equal(head, e.Fingerprint) {
			return "fingerprint"
		}
	}
	return ""
}

// covers reports whether one of the checkpoint's patterns names p.
func (c *checkpointState) covers(p string) bool {
	for _, pat := range c.patterns {
		if pat == p {
			return true
		}
		if ok, _ := filepath.Match(pat, p); ok {
			return true
		}
	}
	return false
}

// alignedEnd returns the offset just after the last newline in the last
// tailWindow bytes, so StartAt End does not start inside a line. Without a
// newline there, it is the end of the file, or 0 if the whole file fits in
// the window (one unfinished first line).
func (fl *Follower) alignedEnd(tf *trackedFile, size int64) int64 {
	from := max(0, size-tailWindow)
	buf := fl.scratch[:size-from]
	n, err := tf.f.ReadAt(buf, from)
	if err != nil && n < len(buf) {
		return size
	}
	if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
		return from + int64(i) + 1
	}
	if from == 0 {
		return 0
	}
	return size
}

// reportUnmatchedCheckpoints warns, after the first poll, about checkpoint
// entries whose file was not found: rotated out of the followed paths or
// deleted while the agent was down. A file found under a rotated name that
// the paths match is no loss, so this waits for the whole first poll.
func (fl *Follower) reportUnmatchedCheckpoints() {
	for id, e := range fl.ckpt.resume {
		if ps := fl.paths[e.Path]; ps != nil && ps.hadFile && ps.id != id {
			fl.stats.CheckpointMismatches.Add(1)
			fl.log.Warn("file was replaced while the agent was down, the new file is read from its beginning; "+
				"lines written to the old file after the last checkpoint are lost",
				"path", e.Path, "file", ps.id.String(), "old_file", id.String(), "checkpoint_offset", e.Offset)
			continue
		}
		fl.log.Warn("checkpointed file not found under the followed paths; lines written to it after the last checkpoint are not read",
			"path", e.Path, "file", id.String(), "checkpoint_offset", e.Offset)
	}
}

// entryFor returns tf's checkpoint entry.
func (fl *Follower) entryFor(tf *trackedFile) checkpointEntry {
	return checkpointEntry{
		Path: tf.path, Dev: tf.id.Dev, Ino: tf.id.Ino,
		Fingerprint: slices.Clone(tf.fp),
		Offset:      tf.sp.off,
		AfterFlush:  tf.sp.swallowNL,
		Discarding:  tf.sp.discarding,
	}
}

// maybeCheckpoint saves the checkpoint when CheckpointInterval has passed.
func (fl *Follower) maybeCheckpoint(now time.Time) {
	if fl.ckpt.path == "" || now.Sub(fl.ckpt.lastSave) < fl.cfg.CheckpointInterval {
		return
	}
	if err := fl.saveCheckpoint(now); err != nil {
		fl.log.Warn("cannot save checkpoint", "checkpoint", fl.ckpt.path, "err", err)
	}
}

// saveCheckpoint writes the positions of the live files (rotated files are
// not resumable by path) plus loaded positions of paths that are failing
// now, so a file we could not open yet keeps its place.
func (fl *Follower) saveCheckpoint(now time.Time) error {
	if fl.ckpt.path == "" {
		return nil
	}
	fl.ckpt.lastSave = now
	cf := checkpointFile{Version: checkpointVersion, Patterns: fl.cfg.Paths, Files: []checkpointEntry{}}
	for _, tf := range fl.sortedFiles() {
		if tf.live {
			cf.Files = append(cf.Files, fl.entryFor(tf))
		}
	}
	for _, e := range fl.ckpt.resume {
		if ps := fl.paths[e.Path]; ps != nil && ps.failing {
			cf.Files = append(cf.Files, e)
		}
	}
	body, err := json.Marshal(cf)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if bytes.Equal(body, fl.ckpt.last) {
		return nil
	}
	cf.SavedAt = now.UTC()
	data, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if err := atomicfile.Write(fl.ckpt.path, data); err != nil {
		fl.stats.CheckpointErrors.Add(1)
		return fmt.Errorf("checkpoint: %w", err)
	}
	fl.ckpt.last = body
	fl.stats.CheckpointSaves.Add(1)
	return nil
}
