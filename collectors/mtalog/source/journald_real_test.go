package source

import (
	"fmt"
	"github.com/mailscope/mailscope/internal/testlog"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// These tests write real journal files with systemd-journal-remote into a
// directory of their own and read them with the real journalctl
// (--directory=), the way the source reads the system journal: journalctl's
// own rules (what --follow implies, how a cursor is sought) are under test,
// not a recording of the arguments mailscope passes.

// journalT0 dates the test entries an hour ago, one millisecond apart.
var journalT0 = time.Now().Add(-time.Hour).Truncate(time.Second)

// numbered returns Postfix entries "seq from" to "seq to".
func numbered(from, to int) []harness.JournalEntry {
	var es []harness.JournalEntry
	for i := from; i <= to; i++ {
		es = append(es, harness.PostfixJournalEntry(journalT0.Add(time.Duration(i)*time.Millisecond), "postfix/smtpd", 100+i%7, fmt.Sprintf("seq %d", i)))
	}
	return es
}

// journalRig is a journal directory, its writer and a state directory.
type journalRig struct {
	t      *testing.T
	w      *harness.JournalWriter
	state  string
	logs   *testlog.Buffer
	config JournaldConfig
}

func newJournalRig(t *testing.T, startAt string) *journalRig {
	dir := filepath.Join(t.TempDir(), "journal")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &journalRig{
		t: t, w: harness.NewJournalWriter(t, dir), state: filepath.Join(t.TempDir(), "state"), logs: &testlog.Buffer{},
		config: JournaldConfig{Units: []string{"postfix@-.service"}, StartAt: startAt, Directory: dir},
	}
}

// cursorFile is where the rig's sources save their cursor.
func (r *journalRig) cursorFile() string {
	return NewJournald("journal", r.config, Options{StateDir: r.state}).cursorPath()
}

// start runs a new source (as a new agent process would) on the rig.
func (r *journalRig) start() (*JournaldSource, *recordSink, func()) {
	r.t.Helper()
	logger := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src := NewJournald("journal", r.config, Options{StateDir: r.state, Clock: clock.Real{}, Location: time.UTC, Logger: logger})
	sink := &recordSink{}
	return src, sink, runSource(r.t, src, sink)
}

// firstRun writes entries 1 to n into file, runs a source (start_at per
// the rig) until it has read them, stops it and returns what it read.
func (r *journalRig) firstRun(file string, n int) []string {
	r.t.Helper()
	r.w.Write(r.t, file, numbered(1, n))
	_, sink, stop := r.start()
	waitLines(r.t, sink, n)
	stop()
	return sink.texts()
}

// startAtEnd starts a source with start_at: end and returns once it
// follows: it writes marker entries until one arrives, so what is written
// next is after the start, then a last marker; once that one arrived
// (journalctl keeps the order) the markers are dropped from the sink.
func (r *journalRig) startAtEnd(file string) (*JournaldSource, *recordSink, func()) {
	r.t.Helper()
	src, sink, stop := r.start()
	marker := func(text string) {
		r.w.Write(r.t, file, []harness.JournalEntry{harness.PostfixJournalEntry(time.Now(), "postfix/master", 1, text)})
	}
	markers := 0
	testwait.For(r.t, 20*time.Second, "a marker to arrive", func() error {
		if sink.count() > 0 {
			return nil
		}
		marker(fmt.Sprintf("marker %d", markers))
		markers++
		return fmt.Errorf("none of %d markers arrived: the source does not follow\n%s", markers, r.logs.String())
	})
	marker("last marker")
	testwait.For(r.t, 20*time.Second, "the last marker to arrive", func() error {
		if texts := strings.Join(sink.texts(), "\n"); !strings.HasSuffix(texts, "last marker") {
			return fmt.Errorf("read so far:\n%s", texts)
		}
		return nil
	})
	sink.mu.Lock()
	sink.lines = nil
	sink.mu.Unlock()
	return src, sink, stop
}

// TestJournaldRealStartAt: a first start with start_at: beginning reads
// every matching entry the journal holds, across two files, in time order;
// with start_at: end it reads none of them and every entry written after.
func TestJournaldRealStartAt(t *testing.T) {
	t.Run("beginning", func(t *testing.T) {
		r := newJournalRig(t, "beginning")
		r.w.Write(t, "a.journal", numbered(1, 300))
		r.w.Write(t, "b.journal", numbered(301, 500))
		r.w.Write(t, "a.journal", []harness.JournalEntry{{Time: journalT0, Fields: [][2]string{{"_SYSTEMD_UNIT", "cron.service"}, {"MESSAGE", "not postfix"}}}})
		_, sink, stop := r.start()
		waitLines(t, sink, 500)
		stop()
		checkNumbered(t, sink.texts(), 500)
	})
	t.Run("end", func(t *testing.T) {
		r := newJournalRig(t, "end")
		r.w.Write(t, "a.journal", numbered(-300, -1))
		_, sink, stop := r.startAtEnd("a.journal")
		r.w.Write(t, "a.journal", numbered(1, 200))
		waitLines(t, sink, 200)
		stop()
		checkNumbered(t, sink.texts(), 200)
	})
}

// TestJournaldRealRestart is issue 18's scenario, scaled down: entries
// before the first start, while running, while the agent is down (a
// graceful stop) and after the restart, each read exactly once. Before the
// fix the restart read only 10 entries written while down (--follow
// without --no-tail is --lines=10), and the rest only when the journal
// changed again.
func TestJournaldRealRestart(t *testing.T) {
	r := newJournalRig(t, "beginning")
	r.w.Write(t, "system.journal", numbered(1, 1000))
	src, sink, stop := r.start()
	waitLines(t, sink, 1000)
	r.w.Write(t, "system.journal", numbered(1001, 1500))
	waitLines(t, sink, 1500)
	stop()
	if src.Snapshot().Lines != 1500 {
		t.Fatalf("first run: %d lines", src.Snapshot().Lines)
	}
	r.w.Write(t, "system.journal", numbered(1501, 2000)) // while down
	src2, sink2, stop2 := r.start()
	// Every entry written while down arrives before anything new is
	// written: the old journalctl arguments gave 10 of them, and the rest
	// only once the journal changed again.
	waitLines(t, sink2, 500)
	r.w.Write(t, "system.journal", numbered(2001, 2100)) // after the restart
	waitLines(t, sink2, 600)
	stop2()
	all := append(sink.texts(), sink2.texts()...)
	checkNumbered(t, all, 2100)
	if n := src2.Snapshot().ReadErrors["cursor"]; n != 0 {
		t.Errorf("cursor errors %d", n)
	}
}

// TestJournaldRealReboot: the entries written while the agent is down
// span a reboot (a second _BOOT_ID). journalctl --follow alone reads the
// latest boot only; the source must read the rest of the first boot too,
// and keep following when yet another boot's entries arrive.
func TestJournaldRealReboot(t *testing.T) {
	r := newJournalRig(t, "beginning")
	first := r.firstRun("system.journal", 100)
	r.w.Write(t, "system.journal", numbered(101, 200)) // before the shutdown
	r.w.NewBoot("fedcba9876543210fedcba9876543210")
	r.w.Write(t, "system.journal", numbered(201, 300)) // after the reboot
	_, sink2, stop2 := r.start()
	waitLines(t, sink2, 200)
	r.w.NewBoot("00112233445566778899aabbccddeeff")
	r.w.Write(t, "system.journal", numbered(301, 350))
	waitLines(t, sink2, 250)
	stop2()
	checkNumbered(t, append(first, sink2.texts()...), 350)
}

// TestJournaldRealVacuumedCursor: the file holding the saved cursor's
// entry is deleted while the agent is down (journalctl --vacuum-*,
// rotation); the cursor is still well-formed, journalctl seeks by its
// times, and every entry of the remaining file is read once. journalctl 252
// with --after-cursor loses the first of them.
func TestJournaldRealVacuumedCursor(t *testing.T) {
	r := newJournalRig(t, "beginning")
	first := r.firstRun("system@old.journal", 200)
	r.w.Write(t, "system.journal", numbered(201, 500))
	if err := os.Remove(filepath.Join(r.w.Dir, "system@old.journal")); err != nil {
		t.Fatal(err)
	}
	src2, sink2, stop2 := r.start()
	waitLines(t, sink2, 300)
	r.w.Write(t, "system.journal", numbered(501, 510))
	waitLines(t, sink2, 310)
	stop2()
	checkNumbered(t, append(first, sink2.texts()...), 510)
	if n := src2.Snapshot().ReadErrors["cursor"]; n != 0 {
		t.Errorf("cursor errors %d: a vacuumed cursor is sought, not refused", n)
	}
}

// TestJournaldRealFilesAdded: the directory gains journal files while the
// source follows it (journal-remote splitting per host, journald rotating);
// entries of the new files and of the old ones interleave by time.
func TestJournaldRealFilesAdded(t *testing.T) {
	r := newJournalRig(t, "end")
	_, sink, stop := r.startAtEnd("a.journal")
	r.w.Write(t, "b.journal", numbered(1, 100))
	waitLines(t, sink, 100)
	r.w.Write(t, "c.journal", numbered(101, 200))
	r.w.Write(t, "a.journal", numbered(201, 300))
	waitLines(t, sink, 300)
	stop()
	checkNumbered(t, sink.texts(), 300)
}

// TestJournaldRealDamagedCursor: a cursor journalctl refuses ("Failed to
// seek to cursor: Invalid argument") or a cursor file that is no cursor
// at all is counted, logged once, and the source resumes from the
// cursor's time (t=) when it holds one, else per start_at; it never stalls
// and never silently starts at the end.
func TestJournaldRealDamagedCursor(t *testing.T) {
	// entry 100's time as a cursor's t= (hex microseconds).
	t100 := fmt.Sprintf("%x", journalT0.Add(100*time.Millisecond).UnixMicro())
	for _, tc := range []struct {
		name, cursor, startAt string
		from                  int // the first entry read again, 0 for none
	}{
		// journalctl cannot parse the seqnum ID: resume from t=.
		{"bad field, time readable", "s=zz;i=64;b=0123456789abcdef0123456789abcdef;m=186a0;t=" + t100 + ";x=1", "end", 100},
		{"no time, start_at beginning", "s=zz;i=64", "beginning", 1},
		{"no time, start_at end", "s=zz;i=64", "end", 0},
		{"binary junk", "\x00\x01garbage\xff", "beginning", 1},
		{"empty file", "", "beginning", 1},
		{"time in the future", "s=zz;t=" + fmt.Sprintf("%x", time.Now().Add(48*time.Hour).UnixMicro()), "beginning", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newJournalRig(t, tc.startAt)
			r.w.Write(t, "system.journal", numbered(1, 300))
			if err := os.MkdirAll(r.state, 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(r.cursorFile(), []byte(tc.cursor+"\n"), 0o640); err != nil {
				t.Fatal(err)
			}
			var src *JournaldSource
			var sink *recordSink
			var stop func()
			if tc.from == 0 {
				src, sink, stop = r.startAtEnd("system.journal")
			} else {
				src, sink, stop = r.start()
				waitLines(t, sink, 300-tc.from+1)
			}
			r.w.Write(t, "system.journal", numbered(301, 320))
			want := 20
			if tc.from > 0 {
				want += 300 - tc.from + 1
			}
			waitLines(t, sink, want)
			stop()
			texts := sink.texts()
			if tc.from > 1 {
				// Entries before the cursor's time were handed on by the
				// run that saved it; pretend they are here to check order
				// and uniqueness of the rest.
				for i := tc.from - 1; i >= 1; i-- {
					texts = append([]string{fmt.Sprintf("seq %d", i)}, texts...)
				}
			}
			if tc.from == 0 {
				for i := 300; i >= 1; i-- {
					texts = append([]string{fmt.Sprintf("seq %d", i)}, texts...)
				}
			}
			checkNumbered(t, texts, 320)
			if n := src.Snapshot().ReadErrors["cursor"]; n != 1 {
				t.Errorf("cursor errors %d, want 1", n)
			}
			if n := r.logs.Count("cursor"); n != 1 || r.logs.Count("level=WARN") != 1 {
				t.Errorf("%d log records about the cursor, want 1:\n%s", n, r.logs.String())
			}
			if b, _ := os.ReadFile(r.cursorFile()); !strings.HasPrefix(string(b), "s=") || strings.Contains(string(b), "zz") {
				t.Errorf("saved cursor %q, want a new one", b)
			}
		})
	}
}

// TestJournaldRealEntries: the rendering of entries as journald stores
// them: a message with a byte that is not UTF-8 (journalctl prints an
// array of bytes), a multi-line message, a field logged twice, _PID when
// SYSLOG_PID is missing; and journald's rate-limit reports counted for
// the source's units only, not handed on as lines (another program's entry
// that looks like one is a line).
func TestJournaldRealEntries(t *testing.T) {
	r := newJournalRig(t, "beginning")
	at := func(i int) time.Time { return journalT0.Add(time.Duration(i) * time.Millisecond) }
	unit := [2]string{"_SYSTEMD_UNIT", "postfix@-.service"}
	suppressed := func(i int, n, from string) harness.JournalEntry {
		return harness.JournalEntry{Time: at(i), Fields: [][2]string{
			{"_SYSTEMD_UNIT", "systemd-journald.service"}, {"_TRANSPORT", "driver"}, {"SYSLOG_IDENTIFIER", "systemd-journald"},
			{"MESSAGE_ID", "a596d6fe7bfa4994828e72309e95d61e"}, {"MESSAGE", "Suppressed " + n + " messages from " + from},
			{"N_DROPPED", n}, {"OBJECT_SYSTEMD_UNIT", from}, {"OBJECT_PID", "4242"},
		}}
	}
	r.w.Write(t, "system.journal", []harness.JournalEntry{
		{Time: at(1), Fields: [][2]string{{"_HOSTNAME", "mx"}, unit, {"SYSLOG_IDENTIFIER", "postfix/smtpd"}, {"SYSLOG_PID", "123"}, {"MESSAGE", "connect seq 1"}}},
		{Time: at(2), Fields: [][2]string{{"_HOSTNAME", "mx"}, unit, {"SYSLOG_IDENTIFIER", "postfix/qmgr"}, {"_PID", "9"}, {"MESSAGE", "seq 2\xff"}}},
		suppressed(3, "1234", "postfix@-.service"),
		suppressed(4, "77", "cron.service"),
		{Time: at(5), Fields: [][2]string{{"_HOSTNAME", "mx"}, unit, {"SYSLOG_IDENTIFIER", "postfix/x"}, {"SYSLOG_IDENTIFIER", "postfix/smtpd"}, {"SYSLOG_PID", "123"}, {"MESSAGE", "seq 3\nsecond line\n"}}},
		suppressed(6, "6", "postfix@-.service"),
		// Not journald's: a program's own entry with that MESSAGE_ID is a line.
		{Time: at(7), Fields: [][2]string{{"_HOSTNAME", "mx"}, unit, {"_TRANSPORT", "journal"}, {"SYSLOG_IDENTIFIER", "postfix/smtpd"}, {"_PID", "5"},
			{"MESSAGE_ID", "a596d6fe7bfa4994828e72309e95d61e"}, {"MESSAGE", "Suppressed 5 messages from postfix@-.service"}, {"N_DROPPED", "5"}}},
	})
	src, sink, stop := r.start()
	waitLines(t, sink, 4)
	r.w.Write(t, "system.journal", numbered(8, 8))
	waitLines(t, sink, 5)
	stop()
	stamp := func(i int) string { return at(i).UTC().Format("2006-01-02T15:04:05.000000Z07:00") }
	want := []string{
		stamp(1) + " mx postfix/smtpd[123]: connect seq 1",
		stamp(2) + " mx postfix/qmgr[9]: seq 2\xff",
		stamp(5) + " mx postfix/smtpd[123]: seq 3 second line",
		stamp(7) + " mx postfix/smtpd[5]: Suppressed 5 messages from postfix@-.service",
		stamp(8) + " mx postfix/smtpd[101]: seq 8",
	}
	got := sink.texts()
	// journalctl prints a field's several values in the file's order, not
	// the order they were logged: either identifier is right.
	if len(got) == 5 {
		got[2] = strings.Replace(got[2], "postfix/x[", "postfix/smtpd[", 1)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%q\nwant:\n%q", got, want)
	}
	s := src.Snapshot()
	if s.Dropped[DroppedRateLimit] != 1240 || s.Lines != 5 {
		t.Errorf("dropped %v, lines %d; want 1240 dropped (journald's reports about postfix@-.service only), 5 lines", s.Dropped, s.Lines)
	}
	if n := r.logs.Count("rate limit"); n != 2 || r.logs.Count("level=WARN") != 1 {
		t.Errorf("rate-limit log records: %d (want one Warn, then Debug):\n%s", n, r.logs.String())
	}
}

// TestJournaldRealMachineMatches checks the filters the source gives
// journalctl for the system journal (no directory:, where --merge would
// also read other machines' journals) with the real journalctl, on files
// holding this machine's entries and another's: units OR identifiers OR
// journald's rate-limit reports about the units, each of this machine.
func TestJournaldRealMachineMatches(t *testing.T) {
	r := newJournalRig(t, "end")
	const ours, theirs = "3d1219c7c4c5404aaa1f6d2a48adfda4", "99999999999999999999999999999999"
	var es []harness.JournalEntry
	for _, m := range []string{ours, theirs} {
		for _, fields := range [][][2]string{
			{{"_SYSTEMD_UNIT", "postfix@-.service"}, {"MESSAGE", "unit"}},
			{{"_SYSTEMD_UNIT", "cron.service"}, {"SYSLOG_IDENTIFIER", "postfix/smtpd"}, {"MESSAGE", "identifier"}},
			{{"_SYSTEMD_UNIT", "systemd-journald.service"}, {"_TRANSPORT", "driver"}, {"MESSAGE_ID", journaldDroppedID}, {"OBJECT_SYSTEMD_UNIT", "postfix@-.service"}, {"MESSAGE", "suppressed"}},
			{{"_SYSTEMD_UNIT", "systemd-journald.service"}, {"_TRANSPORT", "driver"}, {"MESSAGE_ID", journaldDroppedID}, {"OBJECT_SYSTEMD_UNIT", "cron.service"}, {"MESSAGE", "other unit suppressed"}},
			{{"_SYSTEMD_UNIT", "cron.service"}, {"SYSLOG_IDENTIFIER", "CRON"}, {"MESSAGE", "neither"}},
		} {
			es = append(es, harness.JournalEntry{Time: journalT0.Add(time.Duration(len(es)) * time.Millisecond), Fields: append(fields, [2]string{"_MACHINE_ID", m})})
		}
	}
	r.w.Write(t, "system.journal", es)
	src := NewJournald("journal", JournaldConfig{Units: []string{"postfix@-.service"}, Identifiers: []string{"postfix/smtpd"}}, Options{})
	src.machineIDFile = filepath.Join(t.TempDir(), "machine-id")
	if err := os.WriteFile(src.machineIDFile, []byte(ours+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--directory=" + r.w.Dir, "--merge", "--no-pager", "--output=cat"}, src.matches()...)
	out, err := exec.Command("journalctl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("journalctl %q: %v\n%s", args, err, out)
	}
	if got, want := strings.Fields(string(out)), []string{"unit", "identifier", "suppressed"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("journalctl %q selected %q, want %q", args, got, want)
	}
}
