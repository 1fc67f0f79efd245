package postconf

import (
	"strings"
	"testing"
)

// TestEximLogFile: the main log from exim -bP's log_file_path, in the
// forms the Exim spec allows ("Where Exim writes its logs").
func TestEximLogFile(t *testing.T) {
	exists := func(p string) bool { return p == "/var/log/mail.log" }
	for _, c := range []struct {
		out, file, via string
	}{
		// Debian's build: LOG_FILE_PATH=/var/log/exim4/%slog.
		{"log_file_path = /var/log/exim4/%slog\nspool_directory = /var/spool/exim4\n", "/var/log/exim4/mainlog", "log_file_path"},
		// Unset: the spool directory's log/.
		{"log_file_path =\nspool_directory = /var/spool/exim\n", "/var/spool/exim/log/mainlog", "log_file_path"},
		{"log_file_path = syslog : /var/log/exim/%slog\nspool_directory = /s\n", "/var/log/exim/mainlog", "log_file_path"},
		{"log_file_path = syslog\nspool_directory = /s\n", "/var/log/mail.log", "syslog"},
		// Datestamped files change name daily: nothing proposed.
		{"log_file_path = /var/log/exim/%slog-%D\nspool_directory = /s\n", "", ""},
	} {
		f := parseExim([]byte(c.out))
		f.findEximLog(exists)
		if f.LogFile != c.file || f.LogVia != c.via || f.MTA != "exim" {
			t.Errorf("%q: file %q via %q mta %q, want %q %q", c.out, f.LogFile, f.LogVia, f.MTA, c.file, c.via)
		}
		// The reject and panic logs are the main log's siblings, and
		// there are none when Exim logs to syslog only.
		wantReject, wantPanic := "", ""
		if c.via == "log_file_path" {
			wantReject = strings.Replace(c.file, "mainlog", "rejectlog", 1)
			wantPanic = strings.Replace(c.file, "mainlog", "paniclog", 1)
		}
		if f.EximRejectLog != wantReject || f.EximPanicLog != wantPanic {
			t.Errorf("%q: reject log %q, panic log %q; want %q and %q", c.out, f.EximRejectLog, f.EximPanicLog, wantReject, wantPanic)
		}
	}
}
