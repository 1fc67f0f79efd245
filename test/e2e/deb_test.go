package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestDebianPackage builds the .deb as make release does, installs it with
// dpkg -i, and runs the installed binary exactly as the installed systemd
// unit would (there is no systemd here): its User, Group and
// SupplementaryGroups, NoNewPrivileges and empty capability sets through
// setpriv, its UMask, and ProtectSystem=strict with the StateDirectory
// writable through a private mount namespace in which every other mount
// is read-only. Against a private Postfix whose log is root:adm 0640 (as
// Debian's rsyslog writes mail.log), the mta and queue collectors must be
// up. The same run without the postdrop group shows why the unit needs it
// (NoNewPrivileges cancels postqueue's setgid postdrop). Then dpkg -r must
// leave only the conffile and the state, and dpkg -P nothing.
//
// It changes the machine (a package, a system user), so it runs as root
// on CI's throwaway machine, or where MAILSCOPE_E2E_DPKG=1 says so.
func TestDebianPackage(t *testing.T) {
	if os.Getenv("MAILSCOPE_E2E_DPKG") != "1" && !harness.InCI() {
		t.Skip("installs a package system-wide: runs in CI, or with MAILSCOPE_E2E_DPKG=1 (as root)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("dpkg -i needs root")
	}
	dpkg := harness.RequireBinary(t, "dpkg", "dpkg")
	setpriv := harness.RequireBinary(t, "setpriv", "util-linux")
	unshare := harness.RequireBinary(t, "unshare", "util-linux")
	postqueue := harness.RequireBinary(t, "postqueue", "postfix")
	if exec.Command(dpkg, "-s", "mailscope").Run() == nil {
		t.Fatal("a mailscope package is already installed; this test would replace it")
	}

	dist := harness.Dir(t)
	build := exec.Command("./scripts/release.sh")
	build.Dir = harness.ModuleRoot(t)
	build.Env = append(os.Environ(), "DIST="+dist, "ARCHES="+runtime.GOARCH, "DEB_ONLY=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release.sh (the .deb): %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dist, "mailscope_*_"+runtime.GOARCH+".deb"))
	if len(debs) != 1 {
		t.Fatalf("want one .deb in %s, got %v", dist, debs)
	}

	pf := harness.StartPostfix(t, harness.PostfixOptions{
		Listeners: []harness.PostfixListener{{Name: "smtp", Options: []string{"syslog_name=postfix"}}},
	})
	// One line in the log, and the log as Debian's rsyslog keeps it.
	harness.Run(t, harness.RequireBinary(t, "smtp-source", "postfix"), "-m", "1", "-f", "sender@mx.test", "-t", "user@mx.test", pf.Addr("smtp"))
	testwait.For(t, 30*time.Second, "the Postfix log", func() error {
		_, err := os.Stat(pf.Log)
		return err
	})
	harness.Run(t, "chown", "root:adm", pf.Log)
	harness.Run(t, "chmod", "0640", pf.Log)

	t.Cleanup(func() {
		if exec.Command(dpkg, "-s", "mailscope").Run() == nil {
			_ = exec.Command(dpkg, "--purge", "mailscope").Run()
		}
	})
	harness.Run(t, dpkg, "-i", debs[0])
	files := strings.Fields(harness.Run(t, dpkg, "-L", "mailscope"))

	groups := strings.Fields(harness.Run(t, "id", "-nG", "mailscope"))
	for _, g := range []string{"mailscope", "adm", "systemd-journal", "postdrop"} {
		if !slices.Contains(groups, g) {
			t.Errorf("user mailscope is not in group %s: %v", g, groups)
		}
	}
	for path, want := range map[string]string{
		"/etc/mailscope":                                   "750 root mailscope",
		"/etc/mailscope/mailscope.yml":                     "640 root mailscope",
		"/var/lib/mailscope":                               "750 mailscope mailscope",
		"/usr/bin/mailscope":                               "755 root root",
		"/usr/share/man/man1/mailscope.1.gz":               "644 root root",
		"/usr/share/bash-completion/completions/mailscope": "644 root root",
		"/usr/share/zsh/vendor-completions/_mailscope":     "644 root root",
	} {
		if got := strings.TrimSpace(harness.Run(t, "stat", "-c", "%a %U %G", path)); got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	if v := harness.Run(t, "/usr/bin/mailscope", "--version"); !strings.Contains(v, "mailscope, version ") {
		t.Errorf("mailscope --version: %s", v)
	}

	// The admin's config for this host's Postfix: the conffile, edited.
	harness.WriteFile(t, "/etc/mailscope/mailscope.yml", fmt.Sprintf(`state_dir: /var/lib/mailscope
mta:
  kind: postfix
  sources:
    - name: maillog
      file: {paths: [%s], start_at: beginning, poll_interval: 100ms}
queue:
  interval: 1s
  timeout: 1s
  postqueue: %s
  config_dir: %s
`, pf.Log, postqueue, pf.ConfigDir))
	harness.Run(t, "chmod", "0640", "/etc/mailscope/mailscope.yml")
	harness.Run(t, "chgrp", "mailscope", "/etc/mailscope/mailscope.yml")

	unit := readUnit(t, "/lib/systemd/system/mailscope.service")
	startAsUnit := func(name string, supplementary []string) (*harness.Process, string) {
		addr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
		cmd := exec.Command(unshare, unitSandbox(t, unit, setpriv, supplementary, "--web.listen-address="+addr)...)
		p := harness.Start(t, name, cmd)
		harness.WaitPort(t, addr, 30*time.Second)
		return p, "http://" + addr + "/metrics"
	}
	up := func(url, collector string) string {
		body, err := harness.Fetch(url)
		if err != nil {
			return err.Error()
		}
		m := regexp.MustCompile(`(?m)^mailscope_collector_up\{collector="` + collector + `"\} (\d)$`).FindStringSubmatch(body)
		if m == nil {
			return "absent"
		}
		return m[1]
	}

	// The unit's groups without postdrop (as the unit had them before):
	// postqueue cannot reach showq.
	without := slices.DeleteFunc(slices.Clone(unit["SupplementaryGroups"]), func(g string) bool { return g == "postdrop" })
	control, url := startAsUnit("mailscope-without-postdrop", without)
	testwait.For(t, 30*time.Second, "the queue collector down without postdrop", func() error {
		if got := up(url, "queue"); got != "0" {
			return fmt.Errorf("queue up = %s, want 0", got)
		}
		return nil
	})
	if !strings.Contains(control.Output(), "Permission denied") {
		t.Errorf("without postdrop, the log does not say why the queue failed:\n%s", control.Output())
	}
	control.Stop(t)

	agent, url := startAsUnit("mailscope-as-unit", unit["SupplementaryGroups"])
	testwait.For(t, 30*time.Second, "the mta and queue collectors up", func() error {
		for _, c := range []string{"mta", "queue"} {
			if got := up(url, c); got != "1" {
				return fmt.Errorf("%s up = %s, want 1", c, got)
			}
		}
		return nil
	})
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", agent.Cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NoNewPrivs:\t1", "CapBnd:\t0000000000000000", "CapEff:\t0000000000000000"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("the agent's /proc status lacks %q:\n%s", want, status)
		}
	}
	uid := strings.TrimSpace(harness.Run(t, "id", "-u", "mailscope"))
	if !regexp.MustCompile(`(?m)^Uid:\t` + uid + `\t`).Match(status) {
		t.Errorf("the agent does not run as mailscope (uid %s):\n%s", uid, status)
	}
	testwait.For(t, 30*time.Second, "a checkpoint in the state directory", func() error {
		out, _ := exec.Command("find", "/var/lib/mailscope", "-type", "f").Output()
		if len(strings.TrimSpace(string(out))) == 0 {
			return fmt.Errorf("no file under /var/lib/mailscope")
		}
		return nil
	})
	agent.Stop(t)

	// remove: only the conffile and the state stay.
	harness.Run(t, dpkg, "-r", "mailscope")
	if st := harness.Run(t, "dpkg-query", "-W", "-f=${db:Status-Abbrev}", "mailscope"); strings.TrimSpace(st) != "rc" {
		t.Errorf("after dpkg -r the status is %q, want rc (removed, config-files)", st)
	}
	kept := map[string]bool{"/etc/mailscope": true, "/etc/mailscope/mailscope.yml": true, "/var/lib/mailscope": true}
	for _, f := range files {
		_, err := os.Lstat(f)
		exists := err == nil
		switch {
		case kept[f] && !exists:
			t.Errorf("dpkg -r removed %s (the conffile and the state stay until purge)", f)
		case !kept[f] && exists && (!isDir(f) || strings.Contains(f, "mailscope")):
			t.Errorf("dpkg -r left %s", f)
		}
	}
	harness.Run(t, dpkg, "--purge", "mailscope")
	for _, f := range []string{"/etc/mailscope", "/var/lib/mailscope"} {
		if _, err := os.Lstat(f); err == nil {
			t.Errorf("dpkg --purge left %s", f)
		}
	}
	if exec.Command(dpkg, "-s", "mailscope").Run() == nil {
		t.Error("mailscope is still known to dpkg after --purge")
	}
	// Nor does systemd's record of the unit (the enable symlink, the mask
	// set on remove, deb-systemd-helper's state) survive the purge.
	var systemdDirs []string
	for _, d := range []string{"/etc/systemd", "/var/lib/systemd"} {
		if isDir(d) {
			systemdDirs = append(systemdDirs, d)
		}
	}
	if left := strings.TrimSpace(harness.Run(t, "find", append(systemdDirs, "-name", "*mailscope*")...)); len(systemdDirs) > 0 && left != "" {
		t.Errorf("dpkg --purge left systemd state:\n%s", left)
	}
}

// readUnit reads a systemd unit's Service settings (a repeated key
// accumulates its words).
func readUnit(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	settings := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if section == "[Service]" && ok && !strings.HasPrefix(line, "#") {
			settings[k] = append(settings[k], strings.Fields(v)...)
		}
	}
	return settings
}

// unitSandbox is the unshare command line that runs the unit's ExecStart
// as systemd would, as far as that can be done without systemd:
// ProtectSystem=strict (every mount read-only in a private mount
// namespace, but the ReadWritePaths and StateDirectory), UMask, then
// setpriv for User, Group, SupplementaryGroups, NoNewPrivileges and the
// empty CapabilityBoundingSet and AmbientCapabilities. Not emulated:
// PrivateTmp, PrivateDevices, ProtectHome, the seccomp and address-family
// filters.
func unitSandbox(t *testing.T, unit map[string][]string, setpriv string, supplementary []string, extraArgs ...string) []string {
	t.Helper()
	for k, want := range map[string]string{"NoNewPrivileges": "yes", "ProtectSystem": "strict", "User": "mailscope", "Group": "mailscope", "StateDirectory": "mailscope", "StateDirectoryMode": "0750", "UMask": "0077"} {
		if got := strings.Join(unit[k], " "); got != want {
			t.Fatalf("the unit's %s is %q; this test emulates %q", k, got, want)
		}
	}
	if len(unit["CapabilityBoundingSet"]) != 0 || len(unit["AmbientCapabilities"]) != 0 {
		t.Fatalf("the unit's capabilities changed: %v %v", unit["CapabilityBoundingSet"], unit["AmbientCapabilities"])
	}
	var writable []string
	for _, w := range append([]string{"/var/lib/" + unit["StateDirectory"][0]}, unit["ReadWritePaths"]...) {
		if !slices.Contains(writable, w) {
			writable = append(writable, w)
		}
	}
	state := "/var/lib/" + unit["StateDirectory"][0]
	script := `set -e
# StateDirectory: systemd creates it and, if its owner differs, chowns it
# recursively to the service's user (state left by a run as root).
mkdir -p ` + state + `
chown -R ` + unit["User"][0] + ":" + unit["Group"][0] + " " + state + `
chmod ` + strings.Join(unit["StateDirectoryMode"], "") + " " + state + `
for w in ` + strings.Join(writable, " ") + `; do mount --bind "$w" "$w"; done
awk '{print $5}' /proc/self/mountinfo | sort -u | while read -r m; do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
  for w in ` + strings.Join(writable, " ") + `; do [ "$m" = "$w" ] && continue 2; done
  mount -o remount,bind,ro "$m" 2>/dev/null || true
done
if touch /etc/.mailscope-rw-test 2>/dev/null; then echo "ProtectSystem emulation failed: /etc is writable" >&2; exit 1; fi
umask ` + unit["UMask"][0] + `
exec "$@"`
	exec := unit["ExecStart"]
	args := []string{"--mount", "--propagation", "private", "--", "sh", "-c", script, "sh",
		setpriv, "--reuid=" + unit["User"][0], "--regid=" + unit["Group"][0], "--groups=" + strings.Join(supplementary, ","),
		"--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"}
	args = append(args, exec...)
	return append(args, extraArgs...)
}

// isDir says whether path is a directory or a symbolic link to one (/lib
// on a merged-/usr system).
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
