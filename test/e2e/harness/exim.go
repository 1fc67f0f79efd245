package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// EximOptions describe a private Exim.
type EximOptions struct {
	// Routes are manualroute routes: a domain and the loopback host:port
	// of its SMTP server (each gets a router and a transport of its own).
	Routes []EximRoute
	// RelayFrom are the client addresses that may relay (default
	// 127.0.0.1); others are refused with "relay not permitted".
	RelayFrom string
	// Retry is the retry rule for every address (default F,1m,5s).
	Retry string
	// PanicDomain, when set, is routed to a transport whose hosts option
	// fails to expand: every delivery attempt is deferred and written to
	// Exim's panic log, as a real configuration error is.
	PanicDomain string
	// RejectLogOnlyDomain, when set, is refused at RCPT by an ACL with
	// log_reject_target = reject: the reject is in the reject log only.
	RejectLogOnlyDomain string
	// RejectSubject, a plain word when set, refuses after DATA a message
	// whose Subject contains it: the reject log gets the message's headers.
	RejectSubject string
}

// EximRoute sends a domain's mail to a host and port.
type EximRoute struct {
	Domain, Host string
	Port         int
}

// Exim is a running private Exim.
type Exim struct {
	Dir string
	// Port is the SMTP listener on 127.0.0.1.
	Port int
	// MainLog, RejectLog and PanicLog are Exim's log files (the panic
	// log exists only after the first panic); Spool its spool directory.
	MainLog, RejectLog, PanicLog, Spool string
}

var (
	eximOnce sync.Once
	eximRoot string
	eximErr  error
)

// EximRoot returns the directory Debian's Exim packages are unpacked in
// (usr/sbin/exim4 and its libraries below it), fetching and unpacking
// them on first use; it skips the test (fails it in CI) when they cannot
// be had.
func EximRoot(t testing.TB) string {
	t.Helper()
	return eximBinary(t)
}

// eximBinary unpacks Debian's Exim packages once per test process:
// installing them would remove Postfix (both provide
// mail-transport-agent), so they are fetched with apt-get download and
// unpacked with dpkg -x (real-services.md, "Exim").
func eximBinary(t testing.TB) string {
	t.Helper()
	eximOnce.Do(func() {
		root := filepath.Join(os.TempDir(), "mailscope-e2e-exim")
		if _, err := os.Stat(filepath.Join(root, "usr/sbin/exim4")); err == nil {
			eximRoot = root
			return
		}
		dl, err := os.MkdirTemp("", "mailscope-e2e-eximdl-")
		if err != nil {
			eximErr = err
			return
		}
		defer os.RemoveAll(dl)
		cmd := exec.Command("apt-get", "download", "exim4-base", "exim4-config", "exim4-daemon-heavy", "libmariadb3", "libidn12", "libspf2-2")
		cmd.Dir = dl
		if out, err := cmd.CombinedOutput(); err != nil {
			eximErr = fmt.Errorf("apt-get download: %v\n%s", err, out)
			return
		}
		debs, _ := filepath.Glob(filepath.Join(dl, "*.deb"))
		for _, d := range debs {
			if out, err := exec.Command("dpkg", "-x", d, root).CombinedOutput(); err != nil {
				eximErr = fmt.Errorf("dpkg -x %s: %v\n%s", d, err, out)
				return
			}
		}
		eximRoot = root
	})
	if eximErr != nil {
		msg := fmt.Sprintf("Exim 4 for the test: %v", eximErr)
		if InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return eximRoot
}

// StartExim runs Debian's Exim 4 as real-services.md describes: the
// unpacked binary as root with its own configuration (-C), in a private
// mount namespace whose /etc is a copy with a Debian-exim user, a loader
// cache that finds the unpacked libraries and the configuration in
// trusted_configs; listening on 127.0.0.1 only, routing by manualroute,
// a queue run every 2 s. It is stopped when the test ends.
func StartExim(t testing.TB, o EximOptions) *Exim {
	t.Helper()
	if os.Geteuid() != 0 {
		msg := "Exim's -C keeps root only for root: run the e2e tests as root"
		if InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	unshare := RequireBinary(t, "unshare", "util-linux")
	RequireBinary(t, "apt-get", "apt")
	root := eximBinary(t)
	if o.RelayFrom == "" {
		o.RelayFrom = "127.0.0.1"
	}
	if o.Retry == "" {
		o.Retry = "F,1m,5s"
	}
	// Not under t.TempDir: Exim writes its log as Debian-exim, who must
	// be able to enter every directory above it.
	dir, err := os.MkdirTemp("", "mailscope-e2e-exim-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := &Exim{Dir: dir, Port: FreePort(t), MainLog: filepath.Join(dir, "log", "mainlog"), RejectLog: filepath.Join(dir, "log", "rejectlog"),
		PanicLog: filepath.Join(dir, "log", "paniclog"), Spool: filepath.Join(dir, "spool")}
	etc := filepath.Join(dir, "etc")
	Run(t, "cp", "-a", "/etc/.", etc+"/")
	appendTo(t, filepath.Join(etc, "passwd"), "Debian-exim:x:1901:1901:Exim:/nonexistent:/usr/sbin/nologin\n")
	appendTo(t, filepath.Join(etc, "group"), "Debian-exim:x:1901:\n")
	ldconf := WriteFile(t, filepath.Join(dir, "ld.so.conf"), fmt.Sprintf("%s/usr/lib/x86_64-linux-gnu\n%s/usr/lib\n/usr/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n", root, root))
	Run(t, "ldconfig", "-C", filepath.Join(etc, "ld.so.cache"), "-f", ldconf)
	conf := filepath.Join(dir, "exim.conf")
	WriteFile(t, filepath.Join(etc, "exim4", "trusted_configs"), conf+"\n")
	for _, d := range []string{"log", "spool"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(filepath.Join(dir, d), 1901, 1901); err != nil {
			t.Fatal(err)
		}
	}
	var routers, transports, rcptACL, dataACL string
	if o.PanicDomain != "" {
		routers += fmt.Sprintf("panicky:\n  driver = accept\n  domains = %s\n  transport = tpanic\n  no_more\n", o.PanicDomain)
		transports += "tpanic:\n  driver = smtp\n  hosts = ${bogus_operator:x}\n"
	}
	if o.RejectLogOnlyDomain != "" {
		rcptACL = fmt.Sprintf("  deny domains = %s\n       log_reject_target = reject\n       message = refused into the reject log only\n", o.RejectLogOnlyDomain)
	}
	if o.RejectSubject != "" {
		dataACL = fmt.Sprintf("  deny condition = ${if match{$h_subject:}{%s}}\n       message = subject refused\n", o.RejectSubject)
	}
	for i, r := range o.Routes {
		routers += fmt.Sprintf("route%d:\n  driver = manualroute\n  domains = %s\n  transport = t%d\n  route_list = * %s\n  self = send\n  no_more\n", i, r.Domain, i, r.Host)
		transports += fmt.Sprintf("t%d:\n  driver = smtp\n  port = %d\n", i, r.Port)
	}
	WriteFile(t, conf, fmt.Sprintf(`exim_path = %[1]s/usr/sbin/exim4
primary_hostname = mx.test
qualify_domain = mx.test
spool_directory = %[2]s/spool
log_file_path = %[2]s/log/%%slog
daemon_smtp_ports = %[3]d
local_interfaces = 127.0.0.1
log_selector = +millisec +pid +queue_time +deliver_time +smtp_connection
hostlist relay_from_hosts = %[4]s
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data
host_lookup =
tls_advertise_hosts =
keep_environment =
never_users =

begin acl
acl_rcpt:
%[8]s  accept hosts = +relay_from_hosts
  deny message = relay not permitted
acl_data:
%[9]s  accept

begin routers
%[5]s
begin transports
%[6]s
begin retry
*  *  %[7]s
`, root, dir, e.Port, o.RelayFrom, routers, transports, o.Retry, rcptACL, dataACL))
	Start(t, "exim", exec.Command(unshare, "-m", "sh", "-c",
		fmt.Sprintf("mount --bind %s /etc && exec %s/usr/sbin/exim4 -C %s -bdf -q2s", etc, root, conf)))
	WaitPort(t, fmt.Sprintf("127.0.0.1:%d", e.Port), 30*time.Second)
	return e
}

func appendTo(t testing.TB, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}
