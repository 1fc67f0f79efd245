package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/common/version"
)

// keepVersion restores prometheus/common/version's variables after a test
// that stamps them.
func keepVersion(t *testing.T) {
	saved := []string{version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate}
	t.Cleanup(func() {
		version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate = saved[0], saved[1], saved[2], saved[3], saved[4]
	})
}

func TestStampVersion(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-06T07:05:17Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	for _, c := range []struct {
		name      string
		stamped   [5]string // Version, Revision, Branch, BuildUser, BuildDate from -ldflags
		info      *debug.BuildInfo
		want      [5]string
		wantPrint string
	}{
		{
			name: "go run in a checkout",
			info: &debug.BuildInfo{Main: debug.Module{Path: "github.com/mailscope/mailscope", Version: "(devel)"}, Settings: vcs},
			want: [5]string{"0.1.0-dev", "0123456789abcdef0123456789abcdef01234567-modified", "unknown", "unknown", "20261206-07:05:17"},
		},
		{
			name: "go install of a release",
			info: &debug.BuildInfo{Main: debug.Module{Path: "github.com/mailscope/mailscope", Version: "v0.1.0"}},
			want: [5]string{"0.1.0", "unknown", "unknown", "unknown", "unknown"},
		},
		{
			name: "no build info",
			want: [5]string{"0.1.0-dev", "unknown", "unknown", "unknown", "unknown"},
		},
		{
			name:    "the Makefile stamped everything",
			stamped: [5]string{"0.1.0", "abc1234", "main", "ci@build", "20261206-08:00:00"},
			info:    &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			want:    [5]string{"0.1.0", "abc1234", "main", "ci@build", "20261206-08:00:00"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			keepVersion(t)
			version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate = c.stamped[0], c.stamped[1], c.stamped[2], c.stamped[3], c.stamped[4]
			stampVersion(c.info, c.info != nil)
			got := [5]string{version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate}
			if got != c.want {
				t.Errorf("got %q\nwant %q", got, c.want)
			}
		})
	}
}

// TestVersionFlag: --version prints what node_exporter's does, as the
// version command does.
func TestVersionFlag(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		for _, want := range []string{"mailscope, version ", "(branch: ", "revision: ", "build user:", "build date:", "go version:", "platform:"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%v: no %q in\n%s", args, want, stdout.String())
			}
		}
	}
}

// TestVersionOfRealBuilds builds the binary as go build, go run and go
// install from a checkout do (no -ldflags: the revision and date come from
// the Go build info) and as the Makefile does (-ldflags win). Go stamps VCS
// facts only where .git is a directory (not in a git worktree), so the
// test commits a copy of this tree in a fresh repository, with a known
// commit time.
func TestVersionOfRealBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	src := copyTree(t, filepath.Join("..", ".."))
	runIn := func(env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	commitEnv := []string{"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z", "GIT_AUTHOR_DATE=2026-01-02T03:04:05Z"}
	runIn(nil, git, "init", "-q")
	runIn(nil, git, "add", "-A")
	runIn(commitEnv, git, "commit", "-q", "-m", "copy")
	rev := runIn(nil, git, "rev-parse", "HEAD")
	bin := filepath.Join(t.TempDir(), "mailscope")
	// The machine's go env may say -buildvcs=false; go install and go
	// run from a checkout default to stamping VCS facts.
	build := func(args ...string) string {
		runIn([]string{"GOFLAGS=-buildvcs=true"}, "go", append(append([]string{"build", "-o", bin}, args...), "./cmd/mailscope")...)
		return runIn(nil, bin, "--version")
	}
	plain := build()
	// Untagged: Go names the commit with a pseudo-version.
	for _, want := range []string{"version 0.0.0-20260102030405-" + rev[:12] + " (branch: unknown, revision: " + rev + ")", "build date:       20260102-03:04:05"} {
		if !strings.Contains(plain, want) {
			t.Errorf("a build without -ldflags lacks %q:\n%s", want, plain)
		}
	}
	pkg := "github.com/prometheus/common/version"
	stamped := build("-ldflags", "-X "+pkg+".Version=9.8.7 -X "+pkg+".Revision=feedbee -X "+pkg+".Branch=release-9.8 -X "+pkg+".BuildUser=me@here -X "+pkg+".BuildDate=20261206-08:00:00")
	for _, want := range []string{"version 9.8.7 (branch: release-9.8, revision: feedbee)", "build user:       me@here", "build date:       20261206-08:00:00"} {
		if !strings.Contains(stamped, want) {
			t.Errorf("the stamped build lacks %q:\n%s", want, stamped)
		}
	}
	// A release tag names the version; a changed tree says so.
	runIn(nil, git, "tag", "v0.1.0")
	if err := os.WriteFile(filepath.Join(src, "README.md"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if dirty := build(); !strings.Contains(dirty, "version 0.1.0+dirty (branch: unknown, revision: "+rev+"-modified)") {
		t.Errorf("a build of a changed checkout of v0.1.0 does not say so:\n%s", dirty)
	}
}

// copyTree copies the files git knows or would add (tracked and untracked,
// not ignored) of the repository at root into a fresh directory.
func copyTree(t *testing.T, root string) string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	dst := t.TempDir()
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(root, name))
		if os.IsNotExist(err) {
			continue // deleted, not yet committed
		} else if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
