package agent

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecondAgentOnOneStateDirIsRefused: two agents on one state_dir
// would load and overwrite each other's checkpoints, so the second is
// refused with an error naming the lock file and the first agent's pid;
// once the first stops, the directory is free again.
func TestSecondAgentOnOneStateDirIsRefused(t *testing.T) {
	first := startAgent(t, "testtick:\n  interval: 1m\n")
	stateDir := first.a.Config().StateDir
	file := filepath.Join(t.TempDir(), "second.yml")
	writeConfig(t, file, "state_dir: "+stateDir+"\ntesttick:\n  interval: 1m\n")
	second, err := New(Options{ConfigFile: file, Clock: first.clk, Version: "test", DetectPostfix: noPostfix})
	if err != nil {
		t.Fatal(err)
	}
	err = second.LockStateDir()
	if !errors.Is(err, ErrStateDirInUse) {
		t.Fatalf("second agent on %s: err = %v, want ErrStateDirInUse", stateDir, err)
	}
	for _, want := range []string{filepath.Join(stateDir, lockFileName), "pid ", "its own state_dir"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := second.Run(context.Background()); !errors.Is(err, ErrStateDirInUse) {
		t.Errorf("Run of the second agent: %v, want ErrStateDirInUse", err)
	}

	first.stop()
	if err := second.LockStateDir(); err != nil {
		t.Errorf("after the first agent stopped: %v", err)
	}
	second.lock.release()
}

// TestReloadKeepsStateDir: a reload that moves state_dir is refused, since
// the running collectors and the lock stay on the old one.
func TestReloadKeepsStateDir(t *testing.T) {
	r := startAgent(t, "testtick:\n  interval: 1m\n")
	writeConfig(t, r.file, "state_dir: "+filepath.Join(t.TempDir(), "elsewhere")+"\ntesttick:\n  interval: 1m\n")
	if err := r.a.Reload(); err == nil || !strings.Contains(err.Error(), "restart the agent") {
		t.Errorf("reload moving state_dir: %v", err)
	}
}
