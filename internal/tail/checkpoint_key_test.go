package tail

import (
	"os"
	"testing"
)

// TestCheckpointKeyedByPaths: a follower of another file with the same
// Name and StateDir (a second Postfix instance's agent with the default
// state_dir and source name) neither loads nor overwrites this one's
// checkpoint, so this one resumes exactly where it stopped.
func TestCheckpointKeyedByPaths(t *testing.T) {
	cfg := stateCfg(t)
	cfg.StartAt = Beginning
	a := newHarness(t, cfg)
	w := a.create("app.log")
	a.writeN(w, 2)
	a.start()
	a.step()
	a.stop()

	other := stateCfg(t)
	other.StateDir, other.StartAt = cfg.StateDir, Beginning
	other.Paths = []string{"other.log"}
	b := newHarness(t, other)
	b.writeN(b.create("other.log"), 3)
	b.start()
	b.step()
	b.stop()
	checkSeq(t, b.delivered(), b.seq, nil)
	if CheckpointPath(a.cfg) == CheckpointPath(b.cfg) {
		t.Fatalf("followers of different files share %s", CheckpointPath(a.cfg))
	}

	a.writeN(w, 1) // while down
	a.start()
	a.step()
	a.stop()
	checkSeq(t, a.delivered(), a.seq, nil) // 1..3 once each: resumed, not re-read
}

// TestLegacyCheckpointMigrated: a checkpoint an older version saved as
// tail-<Name>.json is adopted when it was for the same paths (an upgrade
// neither re-reads nor skips), and left alone when it was for others.
func TestLegacyCheckpointMigrated(t *testing.T) {
	h := newHarness(t, stateCfg(t))
	w := h.create("app.log")
	h.start()
	h.writeN(w, 3)
	h.step()
	h.stop()
	legacy := legacyCheckpointPath(h.cfg)
	h.must(os.Rename(CheckpointPath(h.cfg), legacy)) // as the old version left it

	h.writeN(w, 2) // while down
	h.start()
	h.step()
	h.stop()
	checkSeq(t, h.delivered(), h.seq, nil)
	if _, err := os.Stat(legacy); !os.IsNotExist(err) {
		t.Errorf("legacy checkpoint still there after migration: %v", err)
	}
	if _, err := os.Stat(CheckpointPath(h.cfg)); err != nil {
		t.Errorf("migrated checkpoint: %v", err)
	}

	// A legacy checkpoint of other paths under the same name is not used.
	other := stateCfg(t)
	other.StateDir, other.Paths = h.cfg.StateDir, []string{"other.log"}
	o := newHarness(t, other)
	h.must(os.Rename(CheckpointPath(h.cfg), legacyCheckpointPath(o.cfg)))
	o.start()
	o.stop()
	if _, err := os.Stat(legacyCheckpointPath(o.cfg)); err != nil {
		t.Errorf("another follower's legacy checkpoint was taken: %v", err)
	}
}
