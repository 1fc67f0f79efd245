package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// eximCorpus is a real Exim 4.96 main log with a rich log_selector
// (bench/exim-corpus.sh).
const eximCorpus = "../../collectors/mtalog/exim/testdata/exim-rich.log"

// TestReplayExim replays the Exim corpus as Exim writes it to its file
// and as syslog delivers it (program exim4, one line split into "[i/n]"
// pieces): --mta=exim and --mta=auto count the same, and the counts are
// bench/exim-crosscheck.sh's awk count (docs/collectors/exim.md).
func TestReplayExim(t *testing.T) {
	raw, err := os.ReadFile(eximCorpus)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "mainlog")
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	// The syslog form: "Dec  6 07:59:25 mx exim4[7]: " before the line
	// without its own stamp; the longest line in two pieces.
	var sb strings.Builder
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	longest := 0
	for i, l := range lines {
		if len(l) > len(lines[longest]) {
			longest = i
		}
	}
	for i, l := range lines {
		head := fmt.Sprintf("Dec  6 %s mx exim4[7]: ", l[11:19])
		msg := l[strings.IndexByte(l[11:], ' ')+12:]
		if i == longest {
			fmt.Fprintf(&sb, "%s[1/2] %s\n%s[2/2] %s\n", head, msg[:len(msg)/2], head, msg[len(msg)/2:])
			continue
		}
		sb.WriteString(head + msg + "\n")
	}
	syslog := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(syslog, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"received": 150, "sent": 111, "deferred": 583, "failed": 69, "rejected": 35, "unparsed": 0}
	for _, args := range [][]string{{"--mta=exim", file}, {file}, {"--mta=exim", syslog}, {syslog}} {
		code, out, stderr := runReplay(t, append([]string{"--format=json"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var c struct {
			Received, Rejected, Unparsed, Lines int64
			Deliveries                          map[string]int64
		}
		if err := json.Unmarshal([]byte(out), &c); err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{"received": c.Received, "sent": c.Deliveries["sent"], "deferred": c.Deliveries["deferred"],
			"failed": c.Deliveries["bounced"] + c.Deliveries["expired"], "rejected": c.Rejected, "unparsed": c.Unparsed}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%v: %v, want %v", args, got, want)
		}
	}
}

// TestReplaySummaryNamesEximRejects: the summary's reject row names
// Exim's reject sources for an Exim log (chosen or detected), and never
// Postfix's smtpd, postscreen or header_checks.
func TestReplaySummaryNamesEximRejects(t *testing.T) {
	for _, args := range [][]string{{"--mta=exim", eximCorpus}, {eximCorpus}} {
		code, out, stderr := runReplay(t, append([]string{"--format=summary"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		if !strings.Contains(out, "          35  rejected (ACLs at connect, HELO, MAIL, RCPT and DATA") {
			t.Errorf("%v: no Exim reject row:\n%s", args, out)
		}
		for _, postfix := range []string{"postscreen", "header_checks"} {
			if strings.Contains(out, postfix) {
				t.Errorf("%v: the Exim summary names %s:\n%s", args, postfix, out)
			}
		}
	}
}
