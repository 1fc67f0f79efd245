package tail

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func stateCfg(t *testing.T) Config {
	return Config{Paths: []string{"app.log"}, StateDir: t.TempDir(), Name: "maillog", CheckpointInterval: 10 * time.Second}
}

func TestGracefulRestartMidStream(t *testing.T) {
	h := newHarness(t, stateCfg(t))
	w := h.create("app.log")
	h.writeN(w, 3) // before the first start: skipped (StartAt End)
	h.start()
	h.writeN(w, 5)
	h.step()
	h.write(w, "seq 000009 par") // partial line at shutdown
	h.seq = 9
	h.stop()

	h.write(w, "tial\n")
	h.writeN(w, 4) // while down
	h.start()
	h.writeN(w, 2)
	h.step()
	h.stop()
	checkSeq(t, h.delivered(), h.seq, seqRange(1, 3))
	for _, l := range h.delivered() {
		if seqOf(l.text) == 9 && (l.text != "seq 000009 partial" || l.flags != 0) {
			t.Errorf("line split across the restart: %+v", l)
		}
	}
}

func TestRestartAfterRenameWithinPattern(t *testing.T) {
	// The rotated name is followed too (glob), so a rotation while down
	// loses nothing: the old file is found by identity under its new name.
	cfg := stateCfg(t)
	cfg.Paths = []string{"app.log*"}
	h := newHarness(t, cfg)
	w := h.create("app.log")
	h.start()
	h.writeN(w, 4)
	h.step()
	h.stop()
	h.writeN(w, 2)
	h.must(os.Rename(h.path("app.log"), h.path("app.log.1")))
	h.writeN(h.create("app.log"), 3)
	h.start()
	h.step()
	h.stop()
	checkSeq(t, h.delivered(), h.seq, nil)
}

func TestRestartAfterRotationWhileDown(t *testing.T) {
	// Documented loss: lines written to a file after the last checkpoint
	// are lost when it is rotated out of the followed paths while the agent
	// is down. The new file is read from its beginning, loudly.
	h := newHarness(t, stateCfg(t))
	w := h.create("app.log")
	h.start()
	h.writeN(w, 4)
	h.step()
	h.stop()
	h.writeN(w, 2) // 5, 6: lost
	h.must(os.Rename(h.path("app.log"), h.path("app.log.1")))
	h.writeN(h.create("app.log"), 3)
	h.start()
	if n := h.fl.Stats().CheckpointMismatches.Load(); n != 1 {
		t.Errorf("checkpoint mismatches = %d, want 1", n)
	}
	h.stop()
	checkSeq(t, h.delivered(), h.seq, []int{5, 6})
}

func TestRestartAfterTruncationWhileDown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		newLines int
	}{
		{"smaller_than_offset", 1},
		{"regrown_past_offset", 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, stateCfg(t))
			w := h.create("app.log")
			h.start()
			h.writeN(w, 5)
			h.step()
			h.stop()
			h.must(os.Truncate(h.path("app.log"), 0))
			h.writeN(w, tc.newLines)
			h.start()
			if n := h.fl.Stats().CheckpointMismatches.Load(); n != 1 {
				t.Errorf("checkpoint mismatches = %d, want 1", n)
			}
			h.stop()
			checkSeq(t, h.delivered(), h.seq, nil)
		})
	}
}

func TestNewFileWhileDownReadFromBeginning(t *testing.T) {
	// The path was followed but absent at shutdown: a file that appears
	// while the agent is down is read whole, not per StartAt.
	h := newHarness(t, stateCfg(t))
	h.start()
	h.stop()
	h.writeN(h.create("app.log"), 3)
	h.start()
	h.stop()
	checkSeq(t, h.delivered(), h.seq, nil)
}

// TestCrashRereadsAtMostOneInterval drops the follower without its final
// read and checkpoint, as kill -9 would, and asserts the restart re-reads
// exactly the lines delivered after the last checkpoint, which is at most
// one checkpoint interval of polls.
func TestCrashRereadsAtMostOneInterval(t *testing.T) {
	const pollEvery = 2 * time.Second
	const linesPerPoll = 3
	cfg := stateCfg(t)
	h := newHarness(t, cfg)
	w := h.create("app.log")
	h.start()
	saves := h.fl.Stats().CheckpointSaves.Load()
	sinceSave := 0
	for range 17 {
		h.writeN(w, linesPerPoll)
		h.clock.Advance(pollEvery)
		h.step()
		sinceSave += linesPerPoll
		if s := h.fl.Stats().CheckpointSaves.Load(); s != saves {
			saves, sinceSave = s, 0
		}
	}
	if saves == 0 {
		t.Fatal("no checkpoint saved while running")
	}
	before := len(h.delivered())
	h.crash()
	h.writeN(w, 2)
	h.start()
	h.stop()

	lines := h.delivered()
	reread := lines[before:]
	seen := make(map[int]bool)
	dups := 0
	for _, l := range lines[:before] {
		seen[seqOf(l.text)] = true
	}
	for _, l := range reread {
		if seen[seqOf(l.text)] {
			dups++
		}
	}
	bound := int(cfg.CheckpointInterval/pollEvery+1) * linesPerPoll
	t.Logf("crash re-read %d lines; delivered since last checkpoint %d; bound %d", dups, sinceSave, bound)
	if dups != sinceSave {
		t.Errorf("re-read %d lines, want exactly the %d delivered since the last checkpoint", dups, sinceSave)
	}
	if dups > bound {
		t.Errorf("re-read %d lines, more than one checkpoint interval (%d)", dups, bound)
	}
	// Nothing lost: every number is there at least once.
	all := make(map[int]bool)
	for _, l := range lines {
		all[seqOf(l.text)] = true
	}
	for n := 1; n <= h.seq; n++ {
		if !all[n] {
			t.Errorf("line %d lost", n)
		}
	}
}

func TestCheckpointFileAtomicAndReadable(t *testing.T) {
	cfg := stateCfg(t)
	h := newHarness(t, cfg)
	w := h.create("app.log")
	h.start()
	h.writeN(w, 3)
	h.step()
	h.stop()
	path := CheckpointPath(h.cfg)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cf checkpointFile
	if err := json.Unmarshal(data, &cf); err != nil {
		t.Fatalf("checkpoint is not JSON: %v\n%s", err, data)
	}
	fi, _ := os.Stat(h.path("app.log"))
	if len(cf.Files) != 1 || cf.Files[0].Offset != fi.Size() || cf.Files[0].Path != h.path("app.log") {
		t.Errorf("checkpoint %+v, file size %d", cf, fi.Size())
	}
	entries, _ := os.ReadDir(cfg.StateDir)
	if len(entries) != 1 {
		t.Errorf("state dir holds %v, want only the checkpoint (no temp files)", entries)
	}
}

func TestCorruptCheckpointMovedAside(t *testing.T) {
	cfg := stateCfg(t)
	var logs strings.Builder
	cfg.Logger = newTestLogger(&logs)
	h := newHarness(t, cfg)
	path := CheckpointPath(h.cfg)
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := h.create("app.log")
	h.writeN(w, 2)
	h.start() // as a first start: StartAt End
	h.writeN(w, 2)
	h.step()
	h.stop()
	checkSeq(t, h.delivered(), h.seq, []int{1, 2})
	if _, err := os.Stat(path + ".corrupt"); err != nil {
		t.Errorf("corrupt checkpoint not moved aside: %v", err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "corrupt") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}
}

func TestCheckpointSaveErrorCounted(t *testing.T) {
	cfg := stateCfg(t)
	h := newHarness(t, cfg)
	w := h.create("app.log")
	h.start()
	// Make the state dir unusable: replace it with a file.
	h.must(os.RemoveAll(cfg.StateDir))
	h.must(os.WriteFile(cfg.StateDir, nil, 0o600))
	h.writeN(w, 1)
	h.clock.Advance(time.Minute)
	h.step()
	if h.fl.Stats().CheckpointErrors.Load() == 0 {
		t.Error("checkpoint error not counted")
	}
	h.cancel()
	if err := <-h.done; err == nil {
		t.Error("Run returned nil although the final checkpoint failed")
	}
	h.fl = nil
}

// TestCheckpointFieldsAreValidated: a checkpoint whose entry has a
// negative offset (or any other impossible field) is refused like a
// corrupt one, instead of stalling its file on "negative offset" reads for
// good.
func TestCheckpointFieldsAreValidated(t *testing.T) {
	for name, edit := range map[string]func(e *checkpointEntry){
		"negative offset": func(e *checkpointEntry) { e.Offset = -5 },
		"relative path":   func(e *checkpointEntry) { e.Path = "app.log" },
		"inode 0":         func(e *checkpointEntry) { e.Ino = 0 },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := stateCfg(t)
			h := newHarness(t, cfg)
			w := h.create("app.log")
			h.start()
			h.writeN(w, 3)
			h.step()
			h.stop()
			path := CheckpointPath(h.cfg)
			data, err := os.ReadFile(path)
			h.must(err)
			var cf checkpointFile
			h.must(json.Unmarshal(data, &cf))
			if len(cf.Files) != 1 {
				t.Fatalf("checkpoint %+v", cf)
			}
			edit(&cf.Files[0])
			data, _ = json.Marshal(cf)
			h.must(os.WriteFile(path, data, 0o600))

			h.start()
			h.writeN(w, 2)
			h.step()
			st := h.fl.Stats()
			ioErrs := st.ReadErrors(ReasonIO)
			h.stop()
			if ioErrs != 0 {
				t.Errorf("%d read errors after loading the checkpoint", ioErrs)
			}
			checkSeq(t, h.delivered(), h.seq, nil)
			if _, err := os.Stat(path + ".corrupt"); err != nil {
				t.Errorf("invalid checkpoint not moved aside: %v", err)
			}
		})
	}
}
