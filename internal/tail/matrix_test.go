package tail

import (
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// matrixCase is one row of the failure matrix in
// the project's tailing reference (shared/reference/tailing.md): file operations interleaved with
// numbered writes and polls. check asserts every number arrives exactly
// once and in order per file, except the documented losses the case lists.
type matrixCase struct {
	name string
	cfg  Config
	// run performs the operations and returns the numbers it expects lost
	// (documented loss cases only).
	run func(t *testing.T, h *harness) (lost []int)
	// after checks statistics and unnumbered lines.
	after func(t *testing.T, h *harness, st *Stats)
}

const testRotateWait = 5 * time.Second

func TestFailureMatrix(t *testing.T) {
	for _, tc := range matrixCases() {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg.Paths == nil {
				cfg.Paths = []string{"app.log"}
			}
			cfg.RotateWait = testRotateWait
			h := newHarness(t, cfg)
			lost := tc.run(t, h)
			st := h.fl.Stats()
			h.stop()
			lines := h.delivered()
			checkSeq(t, lines, h.seq, lost)
			if got := st.Lines.Load(); got != int64(len(lines)) {
				t.Errorf("Stats.Lines = %d, delivered %d", got, len(lines))
			}
			if tc.after != nil {
				tc.after(t, h, st)
			}
		})
	}
}

func wantRotations(t *testing.T, st *Stats, rename, truncate, recreate int64) {
	t.Helper()
	if g := st.Rotations(RotationRename); g != rename {
		t.Errorf("rename rotations = %d, want %d", g, rename)
	}
	if g := st.Rotations(RotationTruncate); g != truncate {
		t.Errorf("truncate rotations = %d, want %d", g, truncate)
	}
	if g := st.Rotations(RotationRecreate); g != recreate {
		t.Errorf("recreate rotations = %d, want %d", g, recreate)
	}
}

func matrixCases() []matrixCase {
	return []matrixCase{
		{
			name: "rename_create",
			run: func(t *testing.T, h *harness) []int {
				old := h.create("app.log")
				h.start()
				h.writeN(old, 5)
				h.step()
				h.must(os.Rename(h.path("app.log"), h.path("app.log.1")))
				h.writeN(old, 3) // the daemon has not reopened yet
				h.step()
				cur := h.create("app.log")
				h.writeN(cur, 4)
				h.writeN(old, 2) // still late
				h.step()
				h.clock.Advance(testRotateWait - time.Second)
				h.writeN(old, 2) // late, but inside rotate_wait
				h.writeN(cur, 2)
				h.step()
				h.clock.Advance(2 * time.Second)
				h.step() // rotate_wait over: old file drained and closed
				h.writeN(cur, 3)
				h.step()
				return nil
			},
			after: func(t *testing.T, h *harness, st *Stats) { wantRotations(t, st, 1, 0, 0) },
		},
		{
			name: "rename_then_new_file_before_poll",
			run: func(t *testing.T, h *harness) []int {
				old := h.create("app.log")
				h.start()
				h.writeN(old, 5)
				h.step()
				h.writeN(old, 3) // unread when the rename happens
				h.must(os.Rename(h.path("app.log"), h.path("app.log.1")))
				cur := h.create("app.log")
				h.writeN(cur, 3)
				h.writeN(old, 1)
				h.step()
				h.clock.Advance(testRotateWait)
				h.step()
				return nil
			},
			after: func(t *testing.T, h *harness, st *Stats) { wantRotations(t, st, 1, 0, 0) },
		},
		{
			name: "copytruncate",
			run: func(t *testing.T, h *harness) []int {
				w := h.create("app.log")
				h.start()
				h.writeN(w, 10)
				h.step()
				copyFile(t, h.path("app.log"), h.path("app.log.1"))
				h.must(os.Truncate(h.path("app.log"), 0))
				h.writeN(w, 3) // O_APPEND: continues at 0
				h.step()
				h.writeN(w, 2)
				h.step()
				return nil
			},
			after: func(t *testing.T, h *harness, st *Stats) { wantRotations(t, st, 0, 1, 0) },
		},
		{
			name: "copytruncate_regrown_past_offset",
			run: func(t *testing.T, h *harness) []int {
				w := h.create("app.log")
				h.start()
				h.writeN(w, 3)
				h.step()
				h.must(os.Truncate(h.path("app.log"), 0))
				h.writeN(w, 30) // far past the old offset before the next poll
				h.step()
				return nil
			},
			after: func(t *testing.T, h *harness, st *Stats) { wantRotations(t, st, 0, 1, 0) },
		},
		{
			// Lines written after the last read and before the truncation
			// are only in the rotated copy: found by fingerprint, read.
			name: "copytruncate_unread_tail_from_copy",
			run: func(t *testing.T, h *harness) []int {
				w := h.create("app.log")
				h.start()
				h.writeN(w, 5)
				h.step()
				h.write(w, "seq 000006 a\nseq 000007 half")
				copyFile(t, h.path("app.log"), h.path("app.log.1"))
				h.must(os.Truncate(h.path("app.log"), 0))
				h.seq = 7
				h.writeN(w, 3)
				h.step()
				return nil
			},
			after: func(t *testing.T, h *harness, st *Stats) {
				if n := st.CopyRecoveries.Load(); n != 1 {
					t.Errorf("copy recoveries = %d, want 1", n)
				}
				for _, l := range h.delivered() {
					if seqOf(l.text) == 7 && (l.text != "seq 000007 half" || l.flags != Unterminated) {
						t.Errorf("line 7 = %+v, want the copy's unterminated last line", l)
					}
				}
			},
		},
		{
			// Documented loss: without a copy (or when a generation is
			// truncated twice between polls) the unread tail is gone.
			name: "truncate_without_copy_loss",
			run: func(t *testing.T, h *harness) []int {
				w := h.create("app.log")
				h.start()
				h.writeN(w, 5)
				h.step()
				h.writeN(w, 2)
				h.must(os.Truncate(h.path("app.log"), 0))
				h.writeN(w, 3)
				h.step()
				return []int{6, 7}
			},
		},
		{
			name: "copytruncate_twice_between_polls",
			run: func(t *testing.T, h *harness) []int {
				w := h.create("app.log")
				h.start()
				h.writeN(w, 5)
				h.step()
				h.writeN(w, 2) // 6, 7: in the first copy, recovered
				copyFile(t, h.path("app.log"), h.path("app.log.1"))
				h.must(os.Truncate(h.path("app.log"), 0))
				h.writeN(w, 2) // 8, 9: in the second copy, whose prefix we never saw
				copyFile(t, h.path("app.log"), h.path("app.log.2"))
				h.must(os.Truncate(h.path("app.log"), 0))
				h.writeN(w, 2)
				h.step()
				return []int{8, 9}
			},
		},
		{
			name: "copytruncate_nul_hole",
			run: func(t *testing.T, h *harness) []int {
				// A writer without O_APPEND keeps its offset across the
				// truncation and leaves a hole of NULs before its next line.
				f, err := os.OpenFile(h.path("app.log"), os.O_WRONLY|os.O_CREATE, 0o644)
				h.must(err)
				t.Cleanup(func() { f.Close() })
				h.start()
				h.writeN(f, 5)
				h.step()
				h.must(os.Truncate(h.path("app.log"), 0))
				h.step() // sees the empty file
				h.writeN(f, 3)
				h.step()
				h.must(os.Truncate(h.path("app.log"), 0))
				h.writeN(f, 2) // hole and new lines before the next poll
				h.step()
				return nil
			},
			after: func(t *testing.T, h *harness, st *Stats) {
				if n := st.NULBytes.Load(); n == 0 {
					t.Error("no NUL bytes counted")
				}
				if o := otherLines(h.delivered()); len(o) != 0 {
					t.Errorf("unexpected lines %+v", o)
				}
				wantRotations(t, st, 0, 2, 0)
			},
		},
		{
			name: "delete_recreate",
			run: func(t *testing.T, h *harness) []int {
				old := h.create("app.log")
				h.start()
				h.writeN(old, 5)
				h.step()
				h.must(os.Remove(h.path("app.log")))
				h.writeN(old, 2) // to the deleted file
				h.step()
				cur := h.create("app.log")
				h.writeN(cur, 3)
				h.writeN(old, 1)
				h.step()
				h.clock.Advance(testRotateWait)
				h.step()
				h.writeN(cur, 2)
				h.step()
				return nil
			},
			after: func(t *testing.T, h *harness, st *Stats) { wantRotations(t, st, 0, 0, 1) },
		},
		{
			name: "delete_recreate_after_rotate_wait",
			run: func(t *testing.T, h *harness) []int {
				old := h.create("app.log")
				h.start()
				h.writeN(old, 5)
				h.step()
				h.must(os.Remove(h.path("app.log")))
				old.Close()
				h.step()
				h.clock.Advance(testRotateWait)
				h.step() // old closed; its inode may be reused now
				cur := h.create("app.log")
				h.writeN(cur, 3)
				h.step()
				return nil
			},
			after: func(t *testing.T, h *harness, st *Stats) { wantRotations(t, st, 0, 0, 1) },
		},
		{
			name: "symlink_retarget",
			run: func(t *testing.T, h *harness) []int {
				a := h.create("a.log")
				h.must(os.Symlink(h.path("a.log"), h.path("app.log")))
				h.start()
				h.writeN(a, 5)
				h.step()
				b := h.create("b.log")
				h.writeN(b, 3)
				// Retarget atomically, as ln -sfn does.
				h.must(os.Symlink(h.path("b.log"), h.path("app.log.tmp")))
				h.must(os.Rename(h.path("app.log.tmp"), h.path("app.log")))
				h.writeN(a, 2)
				h.step()
				h.clock.Advance(testRotateWait)
				h.writeN(b, 2)
				h.step()
				return nil
			},
			after: func(t *testing.T, h *harness, st *Stats) { wantRotations(t, st, 1, 0, 0) },
		},
		{
			name: "absent_at_start",
			run: func(t *testing.T, h *harness) []int {
				h.start()
				h.step()
				h.step()
				st := h.fl.Stats()
				if n := st.ReadErrors(ReasonNotFound); n != 1 {
					t.Errorf("not_found errors = %d, want 1 (once per disappearance)", n)
				}
				if fs := st.Files(); len(fs) != 1 || fs[0].Err == "" {
					t.Errorf("Files() = %+v, want the missing path with an error", fs)
				}
				w := h.create("app.log")
				h.writeN(w, 5)
				h.step()
				return nil
			},
		},
		{
			name: "permission_denied",
			run: func(t *testing.T, h *harness) []int {
				var allow atomic.Bool
				h.open = func(p string) (*os.File, error) {
					if !allow.Load() {
						return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
					}
					return os.Open(p)
				}
				w := h.create("app.log")
				h.writeN(w, 2)
				h.start()
				h.writeN(w, 2)
				for range 5 {
					h.clock.Advance(time.Minute) // past any backoff
					h.step()
				}
				st := h.fl.Stats()
				if st.ReadErrors(ReasonPermission) < 2 || st.OpenRetries.Load() < 1 {
					t.Errorf("permission errors = %d, retries = %d", st.ReadErrors(ReasonPermission), st.OpenRetries.Load())
				}
				allow.Store(true)
				h.clock.Advance(time.Minute)
				h.step()
				h.writeN(w, 2)
				h.step()
				// Opened after the first poll: read from its beginning.
				return nil
			},
		},
		{
			name: "partial_line",
			cfg:  Config{PartialLineTimeout: 10 * time.Second},
			run: func(t *testing.T, h *harness) []int {
				w := h.create("app.log")
				h.start()
				h.write(w, "seq 000001 a\nseq 00")
				h.seq = 2
				h.step()
				h.write(w, "0002 b\n")
				h.step()
				// A writer that stalls: held, then flushed once.
				h.write(w, "seq 000003 c")
				h.seq = 3
				h.step()
				h.clock.Advance(5 * time.Second)
				h.step()
				if n := len(h.delivered()); n != 2 {
					t.Errorf("partial line delivered before the timeout: %d lines", n)
				}
				h.clock.Advance(6 * time.Second)
				h.step()
				h.write(w, "\r\n") // the flushed line's own terminator
				h.writeN(w, 2)
				h.step()
				return nil
			},
			after: func(t *testing.T, h *harness, st *Stats) {
				lines := h.delivered()
				for _, l := range lines {
					wantFlags := LineFlags(0)
					if seqOf(l.text) == 3 {
						wantFlags = Unterminated
					}
					if l.flags != wantFlags {
						t.Errorf("line %q flags %b, want %b", l.text, l.flags, wantFlags)
					}
				}
				if len(lines) != 5 || st.PartialFlushes.Load() != 1 {
					t.Errorf("lines %+v, partial flushes %d", lines, st.PartialFlushes.Load())
				}
			},
		},
		{
			name: "long_line_truncated",
			cfg:  Config{MaxLineBytes: 100},
			run: func(t *testing.T, h *harness) []int {
				w := h.create("app.log")
				h.start()
				h.writeN(w, 2)
				h.write(w, strings.Repeat("L", 5000)+"\n")
				h.writeN(w, 2)
				h.step()
				h.write(w, strings.Repeat("M", 150)) // grows across polls
				h.step()
				h.write(w, strings.Repeat("M", 10000))
				h.step()
				h.write(w, "MMM\n")
				h.writeN(w, 2)
				h.step()
				return nil
			},
			after: func(t *testing.T, h *harness, st *Stats) {
				o := otherLines(h.delivered())
				if len(o) != 2 || o[0].text != strings.Repeat("L", 100) || o[1].text != strings.Repeat("M", 100) ||
					o[0].flags != Truncated || o[1].flags != Truncated {
					t.Errorf("oversize lines = %+v", o)
				}
				if n := st.OversizeLines.Load(); n != 2 {
					t.Errorf("oversize = %d, want 2", n)
				}
			},
		},
		{
			name: "long_line_skipped",
			cfg:  Config{MaxLineBytes: 100, LongLines: SkipLong},
			run: func(t *testing.T, h *harness) []int {
				w := h.create("app.log")
				h.start()
				h.writeN(w, 2)
				h.write(w, strings.Repeat("L", 5000)+"\n")
				h.writeN(w, 2)
				h.step()
				return nil
			},
			after: func(t *testing.T, h *harness, st *Stats) {
				if o := otherLines(h.delivered()); len(o) != 0 || st.OversizeLines.Load() != 1 {
					t.Errorf("lines %+v, oversize %d", o, st.OversizeLines.Load())
				}
			},
		},
		{
			name: "crlf_and_invalid_utf8",
			run: func(t *testing.T, h *harness) []int {
				w := h.create("app.log")
				h.start()
				h.write(w, "seq 000001 dos\r\n\xff\xfe\xc3(\x00ok\r\nseq 000002 \xe2\x82\r\n")
				h.seq = 2
				h.step()
				return nil
			},
			after: func(t *testing.T, h *harness, st *Stats) {
				lines := h.delivered()
				want := []string{"seq 000001 dos", "\xff\xfe\xc3(ok", "seq 000002 \xe2\x82"}
				if len(lines) != len(want) {
					t.Fatalf("lines %+v", lines)
				}
				for i, l := range lines {
					if l.text != want[i] {
						t.Errorf("line %d = %q, want %q", i, l.text, want[i])
					}
				}
			},
		},
		{
			name: "glob_several_files",
			cfg:  Config{Paths: []string{"*.log"}},
			run: func(t *testing.T, h *harness) []int {
				a, b := h.create("a.log"), h.create("b.log")
				h.start()
				h.writeN(a, 3)
				h.writeN(b, 3)
				h.step()
				c := h.create("c.log") // appears while running: from its start
				h.writeN(c, 2)
				h.writeN(a, 1)
				h.step()
				return nil
			},
			after: func(t *testing.T, h *harness, st *Stats) {
				if fs := st.Files(); len(fs) != 3 {
					t.Errorf("Files() = %+v", fs)
				}
			},
		},
		{
			name: "start_at_end",
			run: func(t *testing.T, h *harness) []int {
				w := h.create("app.log")
				h.writeN(w, 5)
				h.write(w, "seq 000006 half") // the writer is mid-line at start
				h.seq = 6
				h.start()
				h.write(w, " done\n")
				h.writeN(w, 2)
				h.step()
				return seqRange(1, 5)
			},
		},
		{
			name: "start_at_beginning",
			cfg:  Config{StartAt: Beginning},
			run: func(t *testing.T, h *harness) []int {
				w := h.create("app.log")
				h.writeN(w, 5)
				h.start()
				h.writeN(w, 2)
				h.step()
				return nil
			},
		},
		{
			// Documented loss: a generation created and rotated away
			// between two polls is never opened.
			name: "two_rotations_between_polls",
			run: func(t *testing.T, h *harness) []int {
				g1 := h.create("app.log")
				h.start()
				h.writeN(g1, 3)
				h.step()
				h.must(os.Rename(h.path("app.log"), h.path("app.log.1")))
				g2 := h.create("app.log")
				h.writeN(g2, 2) // lines 4, 5
				h.must(os.Rename(h.path("app.log"), h.path("app.log.2")))
				g3 := h.create("app.log")
				h.writeN(g3, 2)
				h.writeN(g1, 1)
				h.step()
				return []int{4, 5}
			},
		},
	}
}

// copyFile copies src to dst as logrotate copytruncate does.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPermissionDeniedRealChmod(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: chmod does not deny root; TestFailureMatrix/permission_denied covers this with an injected open error")
	}
	h := newHarness(t, Config{Paths: []string{"app.log"}})
	w := h.create("app.log")
	h.must(os.Chmod(h.path("app.log"), 0))
	h.start()
	h.writeN(w, 3)
	h.clock.Advance(time.Minute)
	h.step()
	if h.fl.Stats().ReadErrors(ReasonPermission) == 0 {
		t.Error("no permission error counted")
	}
	h.must(os.Chmod(h.path("app.log"), 0o644))
	h.clock.Advance(time.Minute)
	h.step()
	h.stop()
	checkSeq(t, h.delivered(), h.seq, nil)
}

func TestConfigValidate(t *testing.T) {
	err := Config{Paths: []string{"", "a[", "ok"}, StateDir: "/x", RotateWait: -1, Name: "a/b"}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"paths[0]", "paths[1]", "rotate_wait", "name"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if err := (Config{Paths: []string{"/var/log/mail.log"}}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	if _, err := New(Config{Paths: []string{"x"}}, nil); err == nil {
		t.Error("nil handler accepted")
	}
}
