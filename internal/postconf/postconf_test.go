package postconf

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	out := []byte(`mail_version = 3.7.11
maillog_file =
queue_directory = /var/spool/postfix
myhostname = mx1.example.com
mydomain = example.com
syslog_name = postfix
mydestination = mx1.example.com, localhost.example.com, localhost, example.com
virtual_mailbox_domains = hash:/etc/postfix/vdomains, example.org $mydomain Example.NET.
multi_instance_directories = /etc/postfix-out
`)
	f := parse(out)
	want := &Facts{
		Version: "3.7.11", QueueDirectory: "/var/spool/postfix", MyHostname: "mx1.example.com",
		MyDomain: "example.com", SyslogName: "postfix",
		Domains:   []string{"mx1.example.com", "example.com", "example.org", "example.net"}, // localhost.* and tables left out
		Instances: []string{"/etc/postfix-out"},
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("got  %+v\nwant %+v", f, want)
	}
}

func TestFindLog(t *testing.T) {
	f := &Facts{LogFile: "/var/log/postfix.log"}
	f.findLog(func(string) bool { return false })
	if f.LogFile != "/var/log/postfix.log" || f.LogVia != "maillog_file" {
		t.Errorf("maillog_file: %+v", f)
	}
	f = &Facts{LogFile: "/dev/stdout"}
	f.findLog(func(p string) bool { return p == "/var/log/maillog" })
	if f.LogFile != "/var/log/maillog" || f.LogVia != "syslog" {
		t.Errorf("syslog: %+v", f)
	}
	f = &Facts{}
	f.findLog(func(string) bool { return false })
	if f.LogFile != "" || f.LogVia != "" {
		t.Errorf("nothing: %+v", f)
	}
}

// TestDetectRealPostfix asks the real postconf about a private instance's
// configuration directory.
func TestDetectRealPostfix(t *testing.T) {
	if _, err := exec.LookPath("postconf"); err != nil {
		if _, serr := os.Stat("/usr/sbin/postconf"); serr != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("postconf not installed (Debian package postfix; scripts/test.sh installs it)")
			}
			t.Skip("postconf not installed (Debian package postfix)")
		}
	}
	dir := t.TempDir()
	mainCF := "maillog_file = " + filepath.Join(dir, "mail.log") + "\n" +
		"queue_directory = " + filepath.Join(dir, "queue") + "\n" +
		"myhostname = mx1.example.test\nmydomain = example.test\n" +
		"mydestination = $myhostname, example.test, localhost\n" +
		"syslog_name = postfix-out\ncompatibility_level = 3.6\n"
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte(mainCF), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "master.cf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Detect(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if f.ConfigDir != dir || f.LogFile != filepath.Join(dir, "mail.log") || f.LogVia != "maillog_file" ||
		f.QueueDirectory != filepath.Join(dir, "queue") || f.SyslogName != "postfix-out" || f.Version == "" {
		t.Errorf("facts: %+v", f)
	}
	// $myhostname is expanded by postconf -x.
	if !reflect.DeepEqual(f.Domains, []string{"mx1.example.test", "example.test"}) {
		t.Errorf("domains: %v", f.Domains)
	}
}

func TestDetectWithoutPostfix(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := os.Stat("/usr/sbin/postconf"); err == nil {
		t.Skip("postconf is at a fixed path on this machine")
	}
	if _, err := Detect(context.Background(), ""); !errors.Is(err, ErrNoPostfix) {
		t.Errorf("got %v, want ErrNoPostfix", err)
	}
}
