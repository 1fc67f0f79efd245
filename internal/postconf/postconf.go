// Package postconf reads what mailscope needs to know about a Postfix
// instance from `postconf`, so a zero-config start on a Postfix host knows
// where the log is, which domains are local and where the queue lives.
package postconf

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Facts is what one Postfix instance tells about itself, or (MTA
// "exim", DetectExim) what the host's Exim does.
type Facts struct {
	// MTA is "exim" for facts from DetectExim, "" (Postfix) otherwise.
	MTA string
	// ConfigDir is the instance's configuration directory (postconf -c).
	ConfigDir string
	// LogFile is where the instance's log lines land: maillog_file when it
	// is set, else the first of the usual syslog files that exists; empty
	// when the log goes only to journald or nowhere we can see.
	LogFile string
	// LogVia says how LogFile was found: "maillog_file", "syslog" or "".
	LogVia string
	// EximRejectLog and EximPanicLog are Exim's reject and panic logs
	// when its log_file_path names files (LogFile is then its main log);
	// empty for Postfix and for an Exim logging to syslog only, which
	// writes their entries to syslog once, with the main log's.
	EximRejectLog, EximPanicLog string
	QueueDirectory              string
	MyHostname                  string
	MyDomain                    string
	SyslogName                  string
	// Domains are the domains the instance receives mail for
	// (mydestination and virtual_mailbox_domains, lookup tables left out).
	Domains []string
	// Instances are the extra instances' config directories
	// (multi_instance_directories).
	Instances []string
	Version   string
	// eximLogPath is Exim's log_file_path, for findEximLog.
	eximLogPath string
}

// params are asked for in one postconf run.
var params = []string{
	"mail_version", "maillog_file", "queue_directory", "myhostname", "mydomain",
	"syslog_name", "mydestination", "virtual_mailbox_domains", "multi_instance_directories",
}

// syslogFiles are where Debian (mail.log) and Red Hat (maillog) syslog
// configurations write mail facility lines.
var syslogFiles = []string{"/var/log/mail.log", "/var/log/maillog"}

// ErrNoPostfix means postconf is not installed on this host.
var ErrNoPostfix = errors.New("postconf not found: no Postfix on this host")

// Detect runs `postconf -x` (expanded values) for the instance in configDir
// ("" for the default instance). It returns ErrNoPostfix when postconf is not
// on the PATH.
func Detect(ctx context.Context, configDir string) (*Facts, error) {
	bin, err := exec.LookPath("postconf")
	if err != nil {
		for _, p := range []string{"/usr/sbin/postconf", "/usr/local/sbin/postconf"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
				break
			}
		}
		if err != nil {
			return nil, ErrNoPostfix
		}
	}
	args := []string{"-x"}
	if configDir != "" {
		args = append(args, "-c", configDir)
	}
	args = append(args, params...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("postconf: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	f := parse(out)
	f.ConfigDir = configDir
	if f.ConfigDir == "" {
		f.ConfigDir = "/etc/postfix"
	}
	f.findLog(fileExists)
	return f, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// parse reads "name = value" lines.
func parse(out []byte) *Facts {
	f := &Facts{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " = ")
		if !ok {
			name, value = strings.TrimSuffix(sc.Text(), " ="), ""
		}
		value = strings.TrimSpace(value)
		switch strings.TrimSpace(name) {
		case "mail_version":
			f.Version = value
		case "maillog_file":
			f.LogFile = value
		case "queue_directory":
			f.QueueDirectory = value
		case "myhostname":
			f.MyHostname = value
		case "mydomain":
			f.MyDomain = value
		case "syslog_name":
			f.SyslogName = value
		case "mydestination", "virtual_mailbox_domains":
			f.Domains = appendDomains(f.Domains, value)
		case "multi_instance_directories":
			f.Instances = splitList(value)
		}
	}
	return f
}

func (f *Facts) findLog(exists func(string) bool) {
	if f.LogFile != "" && f.LogFile != "/dev/stdout" {
		f.LogVia = "maillog_file"
		return
	}
	f.LogFile = ""
	for _, p := range syslogFiles {
		if exists(p) {
			f.LogFile, f.LogVia = p, "syslog"
			return
		}
	}
}

// splitList splits a Postfix list (commas and/or white space).
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// appendDomains keeps plain domain names, leaving out lookup tables
// (hash:/etc/...), "localhost" forms and $parameter references.
func appendDomains(into []string, v string) []string {
	for _, d := range splitList(v) {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if strings.ContainsAny(d, ":/$") || d == "localhost" || strings.HasPrefix(d, "localhost.") || !strings.Contains(d, ".") {
			continue
		}
		dup := false
		for _, e := range into {
			dup = dup || e == d
		}
		if !dup {
			into = append(into, d)
		}
	}
	return into
}
