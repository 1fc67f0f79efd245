package postconf

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoExim means neither exim4 (Debian's name) nor exim is installed.
var ErrNoExim = errors.New("exim not found: no Exim on this host")

// DetectExim asks the host's Exim where it logs and spools, with `exim
// -bP log_file_path spool_directory` (Debian's binary is exim4), for a
// zero-config start on an Exim host. The facts it fills are MTA ("exim"),
// LogFile and LogVia, and QueueDirectory (the spool directory).
func DetectExim(ctx context.Context) (*Facts, error) {
	bin := ""
	for _, name := range []string{"exim4", "exim"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
			if p := filepath.Join(dir, name); fileExists(p) {
				bin = p
				break
			}
		}
		if bin != "" {
			break
		}
	}
	if bin == "" {
		return nil, ErrNoExim
	}
	cmd := exec.CommandContext(ctx, bin, "-bP", "log_file_path", "spool_directory")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s -bP: %w: %s", bin, err, strings.TrimSpace(stderr.String()))
	}
	f := parseExim(out)
	f.findEximLog(fileExists)
	return f, nil
}

// parseExim reads exim -bP's "name = value" lines.
func parseExim(out []byte) *Facts {
	f := &Facts{MTA: "exim"}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), "=")
		value = strings.TrimSpace(value)
		switch strings.TrimSpace(name) {
		case "log_file_path":
			f.eximLogPath = value
		case "spool_directory":
			f.QueueDirectory = value
		}
	}
	return f
}

// findEximLog works out the main log from log_file_path: its first item
// with "%s" names the file ("main" for %s, and "reject" and "panic" for
// the other two logs); an empty value is Exim's
// default, "log/%slog" in the spool directory; "syslog" alone sends the
// lines to syslog's mail files. A datestamped path (%D, %M) changes name
// every day and is not proposed.
func (f *Facts) findEximLog(exists func(string) bool) {
	items := splitEximList(f.eximLogPath)
	if len(items) == 0 && f.QueueDirectory != "" {
		items = []string{filepath.Join(f.QueueDirectory, "log", "%slog")}
	}
	viaSyslog := false
	for _, it := range items {
		switch {
		case it == "syslog":
			viaSyslog = true
		case strings.Contains(it, "%D") || strings.Contains(it, "%M"):
		case strings.Contains(it, "%s"):
			f.LogFile, f.LogVia = strings.Replace(it, "%s", "main", 1), "log_file_path"
			f.EximRejectLog = strings.Replace(it, "%s", "reject", 1)
			f.EximPanicLog = strings.Replace(it, "%s", "panic", 1)
			return
		}
	}
	if viaSyslog {
		for _, p := range syslogFiles {
			if exists(p) {
				f.LogFile, f.LogVia = p, "syslog"
				return
			}
		}
	}
}

// splitEximList splits an Exim colon-separated list ("syslog :
// /var/log/exim/%slog"), dropping empty items.
func splitEximList(v string) []string {
	var out []string
	for _, it := range strings.Split(v, ":") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}
