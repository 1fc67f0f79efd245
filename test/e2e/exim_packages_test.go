package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestEximPackagesUnpack: Debian's Exim packages download and unpack
// beside the installed Postfix (harness.EximRoot), and the unpacked
// binary loads with its libraries. scripts/test.sh runs this test alone before the others,
// in the host's network namespace, because apt-get needs the Debian
// mirror; the rest of the suite then runs with loopback only and finds
// the unpacked tree in place.
func TestEximPackagesUnpack(t *testing.T) {
	root := harness.EximRoot(t)
	// The unpacked libraries by path; StartExim gives them through a
	// loader cache in its own mount namespace instead.
	cmd := exec.Command(filepath.Join(root, "usr/sbin/exim4"), "-bV")
	cmd.Env = append(cmd.Environ(), "LD_LIBRARY_PATH="+filepath.Join(root, "usr/lib/x86_64-linux-gnu")+":"+filepath.Join(root, "usr/lib"))
	out, err := cmd.CombinedOutput()
	// Without the Debian-exim user of StartExim's private /etc, Exim
	// stops at its user lookup: that it says so itself shows the binary
	// and every library it links loaded.
	if !strings.Contains(string(out), "Exim version 4.") && !strings.HasPrefix(string(out), "exim: ") {
		t.Fatalf("%s -bV did not run: %v\n%s", cmd.Path, err, out)
	}
}
