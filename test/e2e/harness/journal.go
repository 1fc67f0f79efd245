package harness

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// JournalEntry is one journal entry to write: its wall-clock time and its
// fields in order (a field may repeat; a value may hold any bytes).
type JournalEntry struct {
	Time   time.Time
	Fields [][2]string
}

// PostfixJournalEntry is an entry as journald stores a line Postfix logs
// through syslog(3) under systemd's postfix@-.service.
func PostfixJournalEntry(t time.Time, ident string, pid int, message string) JournalEntry {
	return JournalEntry{Time: t, Fields: [][2]string{
		{"_HOSTNAME", "mx"},
		{"_TRANSPORT", "syslog"},
		{"_SYSTEMD_UNIT", "postfix@-.service"},
		{"SYSLOG_IDENTIFIER", ident},
		{"SYSLOG_PID", strconv.Itoa(pid)},
		{"_PID", strconv.Itoa(pid)},
		{"MESSAGE", message},
	}}
}

// JournalWriter writes real journal files into a directory with
// systemd-journal-remote (Debian package systemd-journal-remote), which
// turns journal export format into journal files as journald writes them;
// tests then read them with the real journalctl --directory.
type JournalWriter struct {
	Dir  string
	bin  string
	Boot string // _BOOT_ID of the entries written next
	mono uint64 // __MONOTONIC_TIMESTAMP of the last entry, microseconds
}

// NewJournalWriter returns a writer into dir. Outside CI it skips the test
// when systemd-journal-remote or journalctl is missing; in CI it fails.
func NewJournalWriter(t testing.TB, dir string) *JournalWriter {
	t.Helper()
	RequireBinary(t, "journalctl", "systemd")
	bin := ""
	for _, p := range []string{"/usr/lib/systemd/systemd-journal-remote", "/lib/systemd/systemd-journal-remote"} {
		if _, err := os.Stat(p); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		msg := "systemd-journal-remote not installed (Debian package systemd-journal-remote; scripts/test.sh installs it)"
		if InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return &JournalWriter{Dir: dir, bin: bin, Boot: "0123456789abcdef0123456789abcdef"}
}

// Write appends entries to the journal file dir/name (created when
// missing; the name must end in .journal), the way journald appends.
func (w *JournalWriter) Write(t testing.TB, name string, entries []JournalEntry) {
	t.Helper()
	var export bytes.Buffer
	for _, e := range entries {
		w.mono += 1000
		fmt.Fprintf(&export, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n", e.Time.UnixMicro(), w.mono, w.Boot)
		for _, f := range e.Fields {
			if strings.ContainsAny(f[1], "\n") {
				// The export format's binary form: name, newline, 64-bit
				// little-endian length, the bytes.
				export.WriteString(f[0] + "\n")
				_ = binary.Write(&export, binary.LittleEndian, uint64(len(f[1])))
				export.WriteString(f[1] + "\n")
				continue
			}
			export.WriteString(f[0] + "=" + f[1] + "\n")
		}
		export.WriteByte('\n')
	}
	cmd := exec.Command(w.bin, "--output="+filepath.Join(w.Dir, name), "-")
	cmd.Stdin = &export
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote writing %d entries to %s: %v\n%s", len(entries), name, err, out)
	}
}

// NewBoot starts a new boot: the entries written next carry another
// _BOOT_ID and monotonic times from zero, as after a reboot.
func (w *JournalWriter) NewBoot(id string) {
	w.Boot = id
	w.mono = 0
}
