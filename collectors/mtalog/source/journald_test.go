package source

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
)

// fakeJournalctl writes a journalctl stand-in into dir. It exists only for
// what a real journal cannot produce here: journalctl dying mid-stream and
// output that is not JSON. Everything journalctl decides itself (where a
// cursor, a time or start_at starts, what --follow implies, vacuumed
// files, several files) is tested against real journal files in
// journald_real_test.go. Its n-th run records its arguments in args.n,
// prints out.n (recorded JSON entries) and err.n (to stderr), then follows (sleeps until killed) if stay.n exists or
// exits 1 as journalctl does when journald goes away.
func fakeJournalctl(t *testing.T, dir string) string {
	t.Helper()
	script := fmt.Sprintf(`#!/bin/sh
d=%q
n=$(cat "$d/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$d/count"
printf '%%s\n' "$@" > "$d/args.$n"
cat "$d/out.$n" 2>/dev/null
cat "$d/err.$n" >&2 2>/dev/null
if [ -f "$d/stay.$n" ]; then exec sleep 600; fi
exit 1
`, dir)
	path := filepath.Join(dir, "journalctl")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func entry(cursor string, usec int64, fields string) string {
	return fmt.Sprintf(`{"__CURSOR":%q,"__REALTIME_TIMESTAMP":"%d","_HOSTNAME":"mx",%s}`, cursor, usec, fields)
}

func writeRun(t *testing.T, dir string, n int, out, stderr string, stay bool) {
	t.Helper()
	files := map[string]string{fmt.Sprintf("out.%d", n): out, fmt.Sprintf("err.%d", n): stderr}
	if stay {
		files[fmt.Sprintf("stay.%d", n)] = ""
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func argsOf(t *testing.T, dir string, n int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("args.%d", n)))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// TestJournaldFakeJournalctl drives the journald source through a recorded
// journalctl that prints an entry that is not JSON and then dies
// mid-stream: the bad entry is counted, the source restarts journalctl at
// the last entry handed on (which journalctl --cursor shows again, and
// which is not handed on twice), and saves the cursor when it stops. The
// arguments are checked too, for the system journal (no directory:),
// which needs journald to be read for real (TestJournaldReal).
func TestJournaldFakeJournalctl(t *testing.T) {
	dir := t.TempDir()
	bin := fakeJournalctl(t, dir)
	state := filepath.Join(dir, "state")
	clk := clock.NewFake(time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC))
	cfg := JournaldConfig{Units: []string{"postfix@-.service"}, Identifiers: []string{"postfix/smtpd", "postfix/qmgr"}, Journalctl: bin}
	const t0 = int64(1795671081123456) // 2026-11-26T05:31:21.123456Z
	c3 := "s=5eed;i=3;b=b007;m=3;t=6612740ec8262;x=3"

	writeRun(t, dir, 1, strings.Join([]string{
		entry("s=5eed;i=1", t0, `"SYSLOG_IDENTIFIER":"postfix/smtpd","SYSLOG_PID":"123","MESSAGE":"connect from a seq 1"`),
		entry("s=5eed;i=2", t0+1, `"SYSLOG_IDENTIFIER":"postfix/qmgr","_PID":"9","MESSAGE":"seq 2"`),
		`{"not a journal entry`,
		entry(c3, t0+2, `"SYSLOG_IDENTIFIER":"postfix/smtpd","SYSLOG_PID":"123","MESSAGE":"seq 3"`),
	}, "\n")+"\n", "journald went away\n", false)
	writeRun(t, dir, 2, strings.Join([]string{
		entry(c3, t0+2, `"SYSLOG_IDENTIFIER":"postfix/smtpd","SYSLOG_PID":"123","MESSAGE":"seq 3"`),
		entry("s=5eed;i=4", t0+3, `"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":"seq 4"`),
	}, "\n")+"\n", "", true)

	src := NewJournald("journal", cfg, Options{StateDir: state, Clock: clk, Location: time.UTC})
	src.machineIDFile = filepath.Join(dir, "machine-id")
	if err := os.WriteFile(src.machineIDFile, []byte("3d1219c7c4c5404aaa1f6d2a48adfda4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sink := &recordSink{}
	stop := runSource(t, src, sink)
	clk.BlockUntil(1) // the restart backoff after run 1 died
	waitLines(t, sink, 3)
	clk.Advance(time.Second)
	waitLines(t, sink, 4)
	stop()
	want := []string{
		"2026-11-26T05:31:21.123456Z mx postfix/smtpd[123]: connect from a seq 1",
		"2026-11-26T05:31:21.123457Z mx postfix/qmgr[9]: seq 2",
		"2026-11-26T05:31:21.123458Z mx postfix/smtpd[123]: seq 3",
		"2026-11-26T05:31:21.123459Z mx postfix/smtpd: seq 4",
	}
	if got := sink.texts(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%q\nwant:\n%q", got, want)
	}
	machine := " _MACHINE_ID=3d1219c7c4c5404aaa1f6d2a48adfda4"
	matches := "_SYSTEMD_UNIT=postfix@-.service" + machine + " + SYSLOG_IDENTIFIER=postfix/smtpd SYSLOG_IDENTIFIER=postfix/qmgr" + machine +
		" + MESSAGE_ID=a596d6fe7bfa4994828e72309e95d61e _TRANSPORT=driver OBJECT_SYSTEMD_UNIT=postfix@-.service" + machine
	if got, w := argsOf(t, dir, 1), "--output=json --follow --merge --all --no-pager --lines=0 "+matches; got != w {
		t.Errorf("first run args\n%q, want\n%q", got, w)
	}
	if got, w := argsOf(t, dir, 2), "--output=json --follow --merge --all --no-pager --cursor="+c3+" --no-tail "+matches; got != w {
		t.Errorf("restart args\n%q, want\n%q", got, w)
	}
	if b, _ := os.ReadFile(src.cursorPath()); string(b) != "s=5eed;i=4\n" {
		t.Errorf("saved cursor %q, want s=5eed;i=4", b)
	}
	s := src.Snapshot()
	if s.Lines != 4 || s.ReadErrors["json"] != 1 || s.ReadErrors["exited"] != 1 || !s.LastLineTime.Equal(time.UnixMicro(t0+3)) {
		t.Errorf("snapshot %+v", s)
	}
}

func TestJournaldConfigValidate(t *testing.T) {
	c := JournaldConfig{Units: []string{"", "a=b"}, StartAt: "now", Directory: "rel", CheckpointInterval: -1}
	err := c.Validate()
	want := `needs units or identifiers`
	if err == nil || strings.Contains(err.Error(), want) {
		t.Fatalf("units given but: %v", err)
	}
	for _, w := range []string{`units[0]: "" is not a unit name`, `units[1]: "a=b" is not a unit name`, `start_at: must be end or beginning, got "now"`, `directory: "rel" is not an absolute path`, "checkpoint_interval: must not be negative"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	if err := (&JournaldConfig{}).Validate(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("empty config: %v", err)
	}
}

// TestJournaldReal reads entries written with systemd-cat through the real
// journalctl from the system journal (no directory:), where the machine
// runs journald; journal files in a directory of the test's own are read
// everywhere (journald_real_test.go).
func TestJournaldReal(t *testing.T) {
	if _, err := exec.LookPath("journalctl"); err != nil {
		t.Skip("no journalctl on this machine (no systemd): the journald source is covered by the TestJournaldReal* tests on journal files")
	}
	cat, err := exec.LookPath("systemd-cat")
	if err != nil {
		t.Skip("no systemd-cat to write test entries")
	}
	if _, err := os.Stat("/run/systemd/journal/socket"); err != nil {
		t.Skip("journald is not running here (no /run/systemd/journal/socket)")
	}
	if out, err := exec.Command("journalctl", "--output=json", "--lines=1", "--no-pager").CombinedOutput(); err != nil {
		t.Skipf("journalctl does not work here: %v: %s", err, out)
	}
	ident := fmt.Sprintf("mailscope-test-%d", time.Now().UnixNano())
	const n = 20
	var text strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&text, "seq %d\n", i)
	}
	cmd := exec.Command(cat, "-t", ident)
	cmd.Stdin = strings.NewReader(text.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-cat: %v: %s", err, out)
	}
	src := NewJournald("journal", JournaldConfig{Identifiers: []string{ident}, StartAt: "beginning"}, Options{StateDir: t.TempDir(), Clock: clock.Real{}})
	sink := &recordSink{}
	stop := runSource(t, src, sink)
	waitLines(t, sink, n)
	stop()
	checkNumbered(t, sink.texts(), n)
}

// TestJournaldCursorKeyedByWhatItReads: a source with the same name that
// reads other units (a second Postfix instance) does not resume from this
// one's cursor, and a cursor an older version saved under the source's
// name is adopted on upgrade.
func TestJournaldCursorKeyedByWhatItReads(t *testing.T) {
	state := t.TempDir()
	if err := os.WriteFile(filepath.Join(state, "journald-journal.cursor"), []byte("s=5eed;i=9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := NewJournald("journal", JournaldConfig{Units: []string{"postfix@-.service"}}, Options{StateDir: state})
	first.loadCursor()
	if first.cursor != "s=5eed;i=9" {
		t.Errorf("upgrade: cursor %q, want the legacy s=5eed;i=9", first.cursor)
	}
	second := NewJournald("journal", JournaldConfig{Units: []string{"postfix@postfix-out.service"}}, Options{StateDir: state})
	second.loadCursor()
	if second.cursor != "" {
		t.Errorf("a source of other units resumed from cursor %q", second.cursor)
	}
	if first.cursorPath() == second.cursorPath() {
		t.Errorf("sources of different units share %s", first.cursorPath())
	}
}
