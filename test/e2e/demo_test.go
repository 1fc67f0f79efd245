package e2e

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestDemoScript runs `make demo`'s script as a user would: every link it
// prints must answer (on Debian's Prometheus the alerts page is under
// /classic/), and two Ctrl-C in a row (SIGINT to its process group, as a
// terminal sends it) must still stop everything and remove its directory.
func TestDemoScript(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the demo runs a private Postfix instance: needs root")
	}
	for bin, pkg := range map[string]string{"postfix": "postfix", "rbldnsd": "rbldnsd", "prometheus": "prometheus", "prometheus-alertmanager": "prometheus-alertmanager", "smtp-sink": "postfix"} {
		harness.RequireBinary(t, bin, pkg)
	}
	cmd := exec.Command("bash", filepath.Join(harness.ModuleRoot(t), "scripts", "demo.sh"))
	cmd.Env = append(os.Environ(), "DEMO_MINUTES=5")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
	})

	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
		close(lines)
		done <- cmd.Wait()
	}()
	var printed []string
	links := map[string]string{}
	dir := ""
	linkRE := regexp.MustCompile(`^\s+(.+?)\s{2,}(http://127\.0\.0\.1:\S+)$`)
	deadline := time.After(4 * time.Minute) // includes building mailscope
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo ended before it was ready:\n%s", strings.Join(printed, "\n"))
			}
			printed = append(printed, l)
			if m := linkRE.FindStringSubmatch(l); m != nil {
				links[m[1]] = m[2]
			}
			if d, ok := strings.CutPrefix(l, "Logs are in "); ok {
				dir = strings.TrimSuffix(d, ". Press Ctrl-C to stop.")
				break wait
			}
		case <-deadline:
			t.Fatalf("demo not ready after 4 minutes:\n%s", strings.Join(printed, "\n"))
		}
	}
	if len(links) < 5 || dir == "" {
		t.Fatalf("links %v, directory %q from:\n%s", links, dir, strings.Join(printed, "\n"))
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for name, url := range links {
		resp, err := client.Get(url)
		if err != nil {
			t.Errorf("%s (%s): %v", name, url, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s (%s): status %d", name, url, resp.StatusCode)
		}
	}

	// Two Ctrl-C, the second as soon as the script says it is stopping
	// (an impatient user), while it still has daemons to stop.
	_ = syscall.Kill(-pgid, syscall.SIGINT)
	stopping := time.After(30 * time.Second)
second:
	for {
		select {
		case l, ok := <-lines:
			if !ok || strings.HasPrefix(l, "==> stopping the demo") {
				break second
			}
		case <-stopping:
			t.Fatal("the demo did not say it was stopping")
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGINT)
	go func() {
		for range lines { // drain: the script must not block on its output
		}
	}()
	select {
	case <-done:
		stopped = true
	case <-time.After(90 * time.Second):
		t.Fatal("demo did not stop within 90s of two Ctrl-C")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("demo left %s behind after two Ctrl-C (stat: %v)", dir, err)
		_ = exec.Command("postfix", "-c", filepath.Join(dir, "etc"), "stop").Run()
		_ = os.RemoveAll(dir)
	}
}
