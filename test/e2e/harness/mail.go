package harness

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
)

// PostfixListener is one smtpd listener, by default on 127.0.0.1 at a
// free port.
type PostfixListener struct {
	// Name keys the port in Postfix.Ports ("submission", "smtp").
	Name string
	// Host is the loopback address to listen on (default 127.0.0.1).
	// Linux routes all of 127/8 to lo, so several listeners can share a
	// port on 127.0.0.2, 127.0.0.3, ... as distinct hosts do. master binds
	// such an address without it being in inet_interfaces, which must
	// stay 127.0.0.1: Postfix requires those to be interface addresses
	// (lo has only 127.0.0.1) and otherwise exits 1 without a word.
	Host string
	// Port is the port (default: a free one).
	Port int
	// Options are master.cf -o settings ("smtpd_tls_security_level=encrypt").
	// syslog_name=postfix/NAME is added unless given.
	Options []string
}

// PostfixOptions describe a private Postfix instance.
type PostfixOptions struct {
	// Hostname is myhostname (default mx.test).
	Hostname  string
	Listeners []PostfixListener
	// MainCF is appended to the generated main.cf (transports, SASL,
	// relay domains, restrictions).
	MainCF string
	// CertPEM and KeyPEM, when set, become smtpd_tls_chain_files.
	CertPEM, KeyPEM []byte
}

// Postfix is a running private Postfix.
type Postfix struct {
	// Dir holds everything: etc (the config directory, for postfix -c
	// and postconf -c), queue, data and mail.log.
	Dir, ConfigDir string
	// Log is the maillog_file.
	Log string
	// Ports are the listeners' ports by name.
	Ports map[string]int
	hosts map[string]string
}

// Addr is host:port of a listener.
func (p *Postfix) Addr(name string) string {
	host := p.hosts[name]
	if host == "" {
		host = "127.0.0.1"
	}
	return fmt.Sprintf("%s:%d", host, p.Ports[name])
}

// StartPostfix runs a private Postfix as real-services.md describes: a
// config directory of its own with chroot off, logging to a file in the
// test directory (there is no /dev/log), listening only on loopback, no
// DNS. It is stopped when the test ends; its log tail is printed on
// failure.
func StartPostfix(t testing.TB, o PostfixOptions) *Postfix {
	t.Helper()
	postfix := RequireBinary(t, "postfix", "postfix")
	postconf := RequireBinary(t, "postconf", "postfix")
	if o.Hostname == "" {
		o.Hostname = "mx.test"
	}
	dir := Dir(t)
	p := &Postfix{Dir: dir, ConfigDir: filepath.Join(dir, "etc"), Log: filepath.Join(dir, "mail.log"), Ports: map[string]int{}, hosts: map[string]string{}}
	master, err := os.ReadFile("/usr/share/postfix/master.cf.dist")
	if err != nil {
		t.Fatal(err)
	}
	WriteFile(t, filepath.Join(p.ConfigDir, "master.cf"), string(master))
	main := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
maillog_file = %[2]s
maillog_file_prefixes = %[1]s
myhostname = %[3]s
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
smtp_dns_support_level = disabled
alias_maps =
alias_database =
`, dir, p.Log, o.Hostname)
	if len(o.CertPEM) > 0 {
		WriteFile(t, filepath.Join(dir, "tls.crt"), string(o.CertPEM))
		WriteFile(t, filepath.Join(dir, "tls.key"), string(o.KeyPEM))
		main += fmt.Sprintf("smtpd_tls_chain_files = %[1]s/tls.key, %[1]s/tls.crt\nsmtpd_tls_security_level = may\n", dir)
	}
	WriteFile(t, filepath.Join(p.ConfigDir, "main.cf"), main+o.MainCF+"\n")
	for _, d := range []string{"queue", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	Run(t, postconf, "-c", p.ConfigDir, "-MX", "smtp/inet")
	for _, l := range o.Listeners {
		port, host := l.Port, l.Host
		if port == 0 {
			port = FreePort(t)
		}
		if host == "" {
			host = "127.0.0.1"
		}
		p.Ports[l.Name], p.hosts[l.Name] = port, host
		opts := l.Options
		if !hasPrefix(opts, "syslog_name=") {
			opts = append([]string{"syslog_name=postfix/" + l.Name}, opts...)
		}
		entry := fmt.Sprintf("%[1]s:%[2]d/inet=%[1]s:%[2]d inet n - n - - smtpd", host, port)
		for _, opt := range opts {
			entry += " -o " + opt
		}
		Run(t, postconf, "-c", p.ConfigDir, "-M", entry)
	}
	Run(t, postconf, "-c", p.ConfigDir, "-F", "*/*/chroot = n")
	mf, err := os.ReadFile(filepath.Join(p.ConfigDir, "master.cf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mf), "\npostlog") {
		WriteFile(t, filepath.Join(p.ConfigDir, "master.cf"), string(mf)+"postlog   unix-dgram n  -       n       -       1       postlogd\n")
	}
	// The daemons run as the postfix user: they must reach the test
	// directory (t.TempDir's parent is 0700) and own data_directory.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	Run(t, "chown", "-R", "postfix", filepath.Join(dir, "data"))
	// set-permissions complains about files of the system instance; the
	// private queue only needs the directories it creates.
	_ = exec.Command(postfix, "-c", p.ConfigDir, "set-permissions").Run()
	if out, err := exec.Command(postfix, "-c", p.ConfigDir, "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(p.Log)
		t.Fatalf("postfix start: %v\n%s\n%s", err, out, log)
	}
	t.Cleanup(func() {
		_ = exec.Command(postfix, "-c", p.ConfigDir, "stop").Run()
		testwait.Until(10*time.Second, func() bool { return exec.Command(postfix, "-c", p.ConfigDir, "status").Run() != nil })
		if t.Failed() {
			t.Logf("--- last lines of the Postfix log (%s):\n%s", p.Log, tail(p.Log, 40))
		}
	})
	for name := range p.Ports {
		WaitPort(t, p.Addr(name), 30*time.Second)
	}
	return p
}

func hasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// DovecotUser is a mailbox on the test Dovecot.
type DovecotUser struct {
	Name, Password string
	// Sieve, when set, is the user's active Sieve script (applied on LMTP
	// delivery), such as `require "fileinto"; fileinto "Junk";`.
	Sieve string
}

// DovecotOptions describe a private Dovecot instance.
type DovecotOptions struct {
	// Hostname is what LMTP writes in its Received header (default
	// imap.test).
	Hostname string
	Users    []DovecotUser
	// CertPEM and KeyPEM enable STARTTLS on IMAP; with them, plaintext
	// authentication is refused before TLS.
	CertPEM, KeyPEM []byte
	// OAuth2IntrospectionURL, when set, adds the XOAUTH2 and OAUTHBEARER
	// mechanisms, whose tokens Dovecot's oauth2 passdb checks by POSTing
	// them to this RFC 7662 introspection endpoint (a loopback URL): an
	// answer {"active":true,"username":USER} logs USER in.
	OAuth2IntrospectionURL string
}

// Dovecot is a running private Dovecot with IMAP, LMTP and an auth
// listener for Postfix's SASL.
type Dovecot struct {
	Dir string
	// IMAPAddr, LMTPAddr and AuthAddr are 127.0.0.1:port.
	IMAPAddr, LMTPAddr, AuthAddr string
	Log                          string
}

// StartDovecot runs a private Dovecot (IMAP with STARTTLS, LMTP with
// Pigeonhole Sieve, special-use Junk and Trash folders, users from a
// passwd-file without system accounts) on free loopback ports.
func StartDovecot(t testing.TB, o DovecotOptions) *Dovecot {
	t.Helper()
	bin := RequireBinary(t, "dovecot", "dovecot-imapd")
	if _, err := os.Stat("/usr/lib/dovecot/lmtp"); err != nil {
		RequireBinary(t, "dovecot-lmtp-missing", "dovecot-lmtpd")
	}
	if _, err := os.Stat("/usr/lib/dovecot/modules/lib90_sieve_plugin.so"); err != nil {
		RequireBinary(t, "dovecot-sieve-missing", "dovecot-sieve")
	}
	if o.Hostname == "" {
		o.Hostname = "imap.test"
	}
	dir := Dir(t)
	// Dovecot's auth process runs as the dovecot user: it must reach the
	// test directory (t.TempDir's parent is 0700).
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	d := &Dovecot{Dir: dir, Log: filepath.Join(dir, "dovecot.log")}
	pIMAP, pLMTP, pAuth := FreePort(t), FreePort(t), FreePort(t)
	d.IMAPAddr, d.LMTPAddr, d.AuthAddr = fmt.Sprintf("127.0.0.1:%d", pIMAP), fmt.Sprintf("127.0.0.1:%d", pLMTP), fmt.Sprintf("127.0.0.1:%d", pAuth)
	var users strings.Builder
	for _, u := range o.Users {
		fmt.Fprintf(&users, "%s:{PLAIN}%s::::::\n", u.Name, u.Password)
		home := filepath.Join(dir, "home", u.Name)
		if err := os.MkdirAll(home, 0o755); err != nil {
			t.Fatal(err)
		}
		if u.Sieve != "" {
			WriteFile(t, filepath.Join(home, ".dovecot.sieve"), u.Sieve+"\n")
		}
	}
	WriteFile(t, filepath.Join(dir, "users"), users.String())
	ssl := "ssl = no\n"
	if len(o.CertPEM) > 0 {
		WriteFile(t, filepath.Join(dir, "tls.crt"), string(o.CertPEM))
		WriteFile(t, filepath.Join(dir, "tls.key"), string(o.KeyPEM))
		ssl = fmt.Sprintf("ssl = required\nssl_cert = <%[1]s/tls.crt\nssl_key = <%[1]s/tls.key\nssl_dh = </usr/share/dovecot/dh.pem\n", dir)
	}
	mechanisms, oauth2 := "plain login", ""
	if o.OAuth2IntrospectionURL != "" {
		mechanisms += " xoauth2 oauthbearer"
		WriteFile(t, filepath.Join(dir, "oauth2.conf.ext"), fmt.Sprintf("introspection_mode = post\nintrospection_url = %s\nusername_attribute = username\nactive_attribute = active\nactive_value = true\n", o.OAuth2IntrospectionURL))
		// The oauth2 passdb answers the token mechanisms only; the
		// passwd-file one (first) fails them without a password, and
		// Dovecot goes on to the next passdb.
		oauth2 = fmt.Sprintf("passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = %s/oauth2.conf.ext\n}\n", dir)
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[2]s
info_log_path = %[2]s
listen = 127.0.0.1
hostname = %[3]s
protocols = imap lmtp
%[4]sauth_mechanisms = %[8]s
first_valid_uid = 1
mail_location = maildir:%[1]s/home/%%u/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
%[9]s
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=%[1]s/home/%%u
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Junk {
    special_use = \Junk
    auto = subscribe
  }
  mailbox Trash {
    special_use = \Trash
    auto = subscribe
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[5]d
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %[6]d
  }
}
service auth {
  inet_listener {
    address = 127.0.0.1
    port = %[7]d
  }
}
protocol lmtp {
  mail_plugins = sieve
  postmaster_address = postmaster@%[3]s
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
  # addheader: lets a test stamp headers a receiver's filters would add
  # (Authentication-Results).
  sieve_extensions = +editheader
}
`, dir, d.Log, o.Hostname, ssl, pIMAP, pLMTP, pAuth, mechanisms, oauth2)
	cfg := WriteFile(t, filepath.Join(dir, "dovecot.conf"), conf)
	Run(t, "chown", "-R", "nobody:nogroup", filepath.Join(dir, "home"))
	p := Start(t, "dovecot", exec.Command(bin, "-F", "-c", cfg))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- last lines of the Dovecot log (%s):\n%s", d.Log, tail(d.Log, 40))
		}
	})
	for _, a := range []string{d.IMAPAddr, d.LMTPAddr, d.AuthAddr} {
		testwait.For(t, 30*time.Second, "dovecot listening on "+a, func() error {
			if p.Exited() {
				return fmt.Errorf("dovecot exited: %s", p.Output())
			}
			return dialOK(a)
		})
	}
	return d
}

func dialOK(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// FreePortOn returns a TCP port that was free a moment ago on every one of
// hosts (loopback addresses), for listeners that must share a port the way
// several MX hosts all listen on 25.
func FreePortOn(t testing.TB, hosts ...string) int {
	t.Helper()
	for range 50 {
		first, err := net.Listen("tcp", net.JoinHostPort(hosts[0], "0"))
		if err != nil {
			t.Fatalf("free port on %s: %v", hosts[0], err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		free := true
		for _, h := range hosts[1:] {
			l, err := net.Listen("tcp", net.JoinHostPort(h, fmt.Sprint(port)))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		first.Close()
		if free && claimPort(port) {
			return port
		}
	}
	t.Fatalf("no port free on all of %v in 50 tries", hosts)
	return 0
}
