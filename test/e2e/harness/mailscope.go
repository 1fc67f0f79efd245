package harness

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Agent is a running mailscope binary.
type Agent struct {
	Addr       string // host:port
	Dir        string // its private directory (config, state)
	ConfigFile string
	Proc       *Process
}

// AgentOptions start mailscope.
type AgentOptions struct {
	// Config is the YAML config; empty starts with no --config.file.
	Config string
	// WebConfig is an exporter-toolkit web config (TLS, basic auth).
	WebConfig string
	Args      []string
	Env       []string
}

// Rewrite replaces the agent's config file with text. Text without a
// state_dir gets the agent's own state directory (agents on one state_dir
// refuse to start, the default one may be in use on this machine, and a
// reload cannot move it).
func (a *Agent) Rewrite(t testing.TB, text string) {
	t.Helper()
	if !strings.Contains(text, "state_dir:") {
		text = "state_dir: " + filepath.Join(a.Dir, "state") + "\n" + text
	}
	WriteFile(t, a.ConfigFile, text)
}

// StartAgent builds and starts mailscope on a free loopback port and waits
// until the port accepts connections.
func StartAgent(t testing.TB, o AgentOptions) *Agent {
	t.Helper()
	bin := Mailscope(t)
	dir := Dir(t)
	a := &Agent{Addr: fmt.Sprintf("127.0.0.1:%d", FreePort(t)), Dir: dir}
	args := []string{"--web.listen-address=" + a.Addr, "--log.level=debug"}
	if o.Config != "" {
		a.ConfigFile = filepath.Join(dir, "mailscope.yml")
		a.Rewrite(t, o.Config)
		args = append(args, "--config.file="+a.ConfigFile)
	}
	if o.WebConfig != "" {
		args = append(args, "--web.config.file="+WriteFile(t, filepath.Join(dir, "web.yml"), o.WebConfig))
	}
	args = append(args, o.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cmd.Environ(), o.Env...)
	a.Proc = Start(t, "mailscope", cmd)
	WaitPort(t, a.Addr, 30*time.Second)
	return a
}
