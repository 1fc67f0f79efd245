// Package harness starts and stops real services (mailscope itself,
// Prometheus, Alertmanager, Postfix, Dovecot, DNS servers) for end-to-end
// tests: each on loopback, on a port the kernel picked, in a private
// directory, stopped by PID in a cleanup that runs even when the test fails.
// Waits are polls with deadlines (internal/testwait), never bare sleeps.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
)

// InCI reports whether the tests run in CI (CI=true), where a missing
// service is a failure, not a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireBinary returns the path of an installed program. Outside CI a
// missing program skips the test with the package that provides it; in CI
// it fails, because the test command must have installed it.
func RequireBinary(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/usr/lib/postfix/sbin"} {
			if _, serr := os.Stat(filepath.Join(dir, name)); serr == nil {
				return filepath.Join(dir, name)
			}
		}
		msg := fmt.Sprintf("%s not installed (Debian package %s; scripts/test.sh installs it)", name, debianPackage)
		if InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if claimPort(port) {
			return port
		}
	}
	t.Fatal("no free port not handed out before in 100 tries")
	return 0
}

// handedOut holds the ports FreePort and FreePortOn returned in this test
// process: a port is closed again before the service that is to listen on
// it starts, so the kernel may offer it again to the next call (two
// listeners of one Dovecot got the same port that way).
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// claimPort records port as handed out; false when it was before.
func claimPort(port int) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports[port] {
		return false
	}
	handedOut.ports[port] = true
	return true
}

// FreeUDPPort returns a loopback port free for both UDP and TCP, for DNS
// servers.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	for range 50 {
		p := FreePort(t)
		c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			c.Close()
			return p
		}
	}
	t.Fatal("no free UDP+TCP port found in 50 tries")
	return 0
}

// Dir returns a private directory that other users can enter and read
// (servers that drop privileges, such as rbldnsd, need that); it is removed
// after the test.
func Dir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// WriteFile writes a file with mode 0644, creating its directory.
func WriteFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Mailscope builds the mailscope binary once per test process and returns
// its path.
func Mailscope(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mailscope-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "mailscope")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/mailscope")
		cmd.Dir = ModuleRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Main runs a test binary's tests, then the suite checks on what they
// left behind (when the run was the whole suite), and then removes the
// mailscope binary Mailscope built, so no temp directory outlives the run.
// It returns the exit code: a failed test or check fails the run. Call it
// from TestMain: os.Exit(harness.Main(m, checks...)).
func Main(m *testing.M, checks ...SuiteCheck) int {
	code := m.Run()
	if len(checks) > 0 {
		code = max(code, runSuiteChecks(os.Stdout, wholeSuite(), SuiteResults{Root: moduleRoot(), Scraped: Scraped()}, checks))
	}
	if buildPath != "" {
		_ = os.RemoveAll(filepath.Dir(buildPath))
	}
	return code
}

// ModuleRoot is the repository root (where go.mod is).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	return moduleRoot()
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Process is a started server.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	Log  string // where its stdout and stderr go
	done chan struct{}
	err  error
}

// Start runs cmd in its own process group with output to a log file in the
// test's directory, and stops it (SIGTERM, then SIGKILL after 10 s) when the
// test ends. If the test failed, the log's tail is printed.
func Start(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Process{Name: name, Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop(t)
		if t.Failed() {
			t.Logf("--- last lines of %s log (%s):\n%s", name, logPath, tail(logPath, 40))
		}
	})
	return p
}

// Stop ends the process group: SIGTERM, then SIGKILL after 10 s.
func (p *Process) Stop(t testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Logf("%s did not stop on SIGTERM within 10s; killing it", p.Name)
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error { return p.Cmd.Process.Signal(sig) }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the process to exit and returns its error.
func (p *Process) Wait(timeout time.Duration) (error, bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(timeout):
		return nil, false
	}
}

// Output is what the process has logged so far.
func (p *Process) Output() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitHTTP waits until url answers with status want.
func WaitHTTP(t testing.TB, client *http.Client, url string, want int, timeout time.Duration) {
	t.Helper()
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	testwait.For(t, timeout, url+" to answer", func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != want {
			return fmt.Errorf("status %d, want %d", resp.StatusCode, want)
		}
		return nil
	})
}

// WaitPort waits until a TCP port accepts connections.
func WaitPort(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	testwait.For(t, timeout, addr+" to accept connections", func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// Run runs a short command and fails the test if it fails, returning its
// combined output.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) || ctx.Err() != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
		}
		t.Fatalf("%s: %v", name, err)
	}
	return out.String()
}
